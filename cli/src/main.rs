use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = blendlab_cli::Cli::parse();
    blendlab_server::telemetry::init(&blendlab_cli::environment::log_settings(
        cli.default_log_filter(),
    ));
    blendlab_analytics::collect::set_collection(blendlab_cli::environment::report_collection());
    blendlab_inference::log_llama_to_tracing(blendlab_cli::environment::llama_logs());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(cli.run())
}
