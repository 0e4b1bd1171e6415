//! `blendlab export`: the store's log as day-partitioned Parquet (`reporting::export`).

use std::path::PathBuf;

use blendlab_server::reporting::export::export;
use blendlab_store::Store;
use chrono::{NaiveDate, Utc};
use clap::Args;

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, env = "BLENDLAB_DB", default_value = blendlab_store::DEFAULT_DATABASE_URL)]
    db: String,
    /// The warehouse directory (created when missing).
    #[arg(long)]
    out: PathBuf,
    /// The last day to export (default: yesterday, the last complete UTC day).
    #[arg(long)]
    until: Option<NaiveDate>,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.db).await?;
    let today = Utc::now().date_naive();
    let until = args
        .until
        .unwrap_or_else(|| today.pred_opt().unwrap_or(today));
    let summary = export(&store, &args.out, until, today).await?;
    println!(
        "exported {} assignments; {} days written ({} messages, {} events), {} final days already there",
        summary.assignments,
        summary.days_written.len(),
        summary.messages,
        summary.events,
        summary.days_skipped
    );
    Ok(())
}
