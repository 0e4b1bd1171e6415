use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = blendlab_server::cli::Cli::parse();
    blendlab_server::telemetry::init(cli.default_log_filter());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(cli.run())
}
