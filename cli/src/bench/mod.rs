//! `blendlab bench analytics`: the complete default report on a large Parquet log, against
//! DuckDB computing the same retention and engagement on the same files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, DataDir};
use blendlab_simulator::synthetic::{
    continuation_for, write_parquet, Population, RandomAllocation,
};
use clap::{Args, Subcommand};
pub use profile::peak_rss_kb;

pub mod inference;
pub mod ingest;
mod profile;
pub mod simulate;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time `report` on a Parquet log against DuckDB; `--generate` writes the log first.
    Analytics(AnalyticsBenchArgs),
    /// The five calibration properties of the report's statistics over many simulated experiments.
    Calibration(crate::bench::simulate::CalibrationArgs),
    /// `simulate` throughput into Parquet and into SQLite.
    Simulate(crate::bench::simulate::SimulateBenchArgs),
    /// Serving cost: bare and served decode rates, per-turn latency of a blend against one
    /// model, and throughput under concurrency.
    Inference(crate::bench::inference::InferenceBenchArgs),
    /// `POST /api/v1/events` end to end into a store, and a check that nothing acknowledged is
    /// missing.
    Ingest(crate::bench::ingest::IngestBenchArgs),
}

#[derive(Args)]
pub struct AnalyticsBenchArgs {
    #[arg(long)]
    data: PathBuf,
    /// Write a synthetic 30-day log of `--users` users into `--data` and exit (run the timing
    /// in a fresh process, so that its peak memory is the report's own).
    #[arg(long)]
    generate: bool,
    #[arg(long, default_value_t = 150_000)]
    users: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean user messages per sitting of the generated log (10 gives about 20M messages for
    /// 150,000 users).
    #[arg(long, default_value_t = 10.0)]
    messages_per_sitting: f64,
    /// Skip the DuckDB comparison.
    #[arg(long)]
    no_duckdb: bool,
    /// Also time each stage of the pipeline on its own.
    #[arg(long)]
    profile: bool,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Analytics(args) => {
            tokio::task::spawn_blocking(move || analytics(args)).await?
        }
        BenchCommand::Calibration(args) => crate::bench::simulate::calibration(args).await,
        BenchCommand::Simulate(args) => crate::bench::simulate::simulate(args).await,
        BenchCommand::Ingest(args) => crate::bench::ingest::run(args).await,
        BenchCommand::Inference(args) => crate::bench::inference::run(args).await,
    }
}

fn analytics(args: AnalyticsBenchArgs) -> anyhow::Result<()> {
    let mut spec = Population::chai(args.users, args.seed);
    for arm in &mut spec.arms {
        arm.continuation
            .fill(continuation_for(args.messages_per_sitting));
    }
    if args.generate {
        let started = Instant::now();
        let written = write_parquet(&spec, &RandomAllocation::new(&spec.arms), &args.data)?;
        println!(
            "wrote {} users and {} messages to {} in {:.1} s",
            written.users,
            written.messages,
            args.data.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let as_of = "2026-11-30".parse()?;
    let request = ReportRequest {
        experiment: spec.experiment.clone(),
        as_of,
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    };
    // DuckDB first: a child starts with its parent's peak RSS, which must not be the report's.
    let duckdb = if args.no_duckdb {
        None
    } else {
        Some(duckdb(&args.data, &request)?)
    };
    let started = Instant::now();
    let report = compute_report(&DataDir::scan(&args.data)?, &request)?;
    let json = serde_json::to_string(&report)?;
    let ours = started.elapsed().as_secs_f64();
    let peak_mb = peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    let messages: u64 = report.arms.iter().map(|a| a.guardrails.messages).sum();
    println!(
        "blendlab report: {ours:.2} s, peak RSS {} MB ({} users, {messages} messages, {} bytes of JSON)",
        peak_mb.map_or("?".into(), |m| format!("{m:.0}")),
        report.arms.iter().map(|a| a.users).sum::<u64>(),
        json.len()
    );
    if let Some((seconds, rss_mb)) = duckdb {
        println!("duckdb (same retention and engagement): {seconds:.2} s, peak RSS {rss_mb:.0} MB");
        println!("ratio blendlab / duckdb: {:.2}", ours / seconds);
    }
    if args.profile {
        let frames = DataDir::scan(&args.data)?;
        let horizon = blendlab_analytics::pipeline::Horizon {
            as_of_day: blendlab_analytics::report::day_number(request.as_of),
            window_days: request.window_days,
        };
        for (stage, seconds, peak_kb) in profile::profile(&frames, &request.experiment, horizon)? {
            let peak = peak_kb.map_or("?".to_owned(), |kb| format!("{:.0}", kb as f64 / 1024.0));
            println!("  {stage:<26} {seconds:.2} s, peak RSS {peak} MB (alone)");
        }
    }
    Ok(())
}

fn duckdb(data: &Path, request: &ReportRequest) -> anyhow::Result<(f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../analytics/tests/duckdb_report.py");
    let started = Instant::now();
    let output = Command::new("python3")
        .arg(&script)
        .arg(data)
        .args([
            request.experiment.as_str(),
            &request.as_of.to_string(),
            &request.window_days.to_string(),
        ])
        .env("BLENDLAB_REPORT_RSS", "1")
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        output.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rss_kb: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    Ok((seconds, rss_kb / 1024.0))
}
