use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = blendlab_cli::Cli::parse();
    blendlab_server::telemetry::init(cli.default_log_filter());
    blendlab_analytics::collect::set_collection(blendlab_cli::environment::report_collection());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(cli.run())
}
