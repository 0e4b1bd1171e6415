//! `blendlab bench calibration` and `blendlab bench simulate`: the figures docs/benchmarks.md quotes.

use std::path::PathBuf;
use std::time::Instant;

use blendlab_simulator::calibration::{self, CalibrationCheck, CalibrationConfig, Target};
use clap::{Args, Parser};

use blendlab_simulator::simulate::{run as simulate_run, SimulateArgs};

#[derive(Args)]
pub struct CalibrationArgs {
    /// Simulated experiments per check.
    #[arg(long, default_value_t = CalibrationConfig::full().runs)]
    runs: u32,
    /// Users per A/A experiment (both arms).
    #[arg(long, default_value_t = CalibrationConfig::full().aa_users)]
    aa_users: u64,
    /// Users per simulated micro-randomized trial (the blend-component checks).
    #[arg(long, default_value_t = CalibrationConfig::full().trial_users)]
    trial_users: u64,
    /// Users per uniform-vs-thompson A/A experiment (both arms; whole simulated histories).
    #[arg(long, default_value_t = CalibrationConfig::full().adaptive_aa_users)]
    adaptive_aa_users: u64,
    /// Seconds between the adaptive learning check's snapshots.
    #[arg(long, default_value_t = 60)]
    learning_refresh_s: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

/// Runs the five checks, prints them and fails when one misses its target.
pub async fn calibration(args: CalibrationArgs) -> anyhow::Result<()> {
    let config = CalibrationConfig {
        runs: args.runs,
        aa_users: args.aa_users,
        trial_users: args.trial_users,
        adaptive_aa_users: args.adaptive_aa_users,
        learning_refresh_s: Some(args.learning_refresh_s),
        seed: args.seed,
    };
    let started = Instant::now();
    let checks = tokio::task::spawn_blocking(move || calibration::run(config)).await?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        println!("{}", table(&checks));
        println!("{} runs per check in {seconds:.1} s", args.runs);
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name)
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "calibration failed: {}",
        failed.join(", ")
    );
    Ok(())
}

/// A Markdown table, as pasted into docs/benchmarks.md.
pub fn table(checks: &[CalibrationCheck]) -> String {
    let mut out = String::from("| check | observed | target | result |\n|---|---|---|---|\n");
    for check in checks {
        let target = match check.target {
            Target::Within { low, high } => format!("{:.0}%..{:.0}%", 100.0 * low, 100.0 * high),
            Target::AtMost { bound } => format!("<= {:.0}%", 100.0 * bound),
            Target::AtLeast { bound } => format!(">= {:.0}%", 100.0 * bound),
            Target::AtLeastUpToMonteCarloError { bound } => {
                format!(">= {:.0}% (up to Monte Carlo error)", 100.0 * bound)
            }
            Target::WithinStandardErrors { count } => {
                format!("|mean error| <= {count} Monte Carlo standard errors")
            }
        };
        let context: Vec<String> = check
            .context
            .iter()
            .map(|(name, value)| format!("{name} {value:.4}"))
            .collect();
        out.push_str(&format!(
            "| {}: {}{} | {:.2}% ± {:.2}% | {target} | {} |\n",
            check.name,
            check.what,
            if context.is_empty() {
                String::new()
            } else {
                format!(" ({})", context.join(", "))
            },
            100.0 * check.observed,
            100.0 * check.standard_error,
            if check.passed { "pass" } else { "FAIL" }
        ));
    }
    out
}

#[derive(Args)]
pub struct SimulateBenchArgs {
    /// Enrolled users of each run.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Scratch directory for the Parquet files and the SQLite database.
    #[arg(long, default_value = "target/bench-simulate")]
    scratch: PathBuf,
}

#[derive(Parser)]
struct SimulateCommand {
    #[command(flatten)]
    args: SimulateArgs,
}

/// `blendlab simulate` into Parquet, then into a fresh SQLite file, through the CLI's own path.
pub async fn simulate(args: SimulateBenchArgs) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.scratch);
    std::fs::create_dir_all(&args.scratch)?;
    let users = args.users.to_string();
    let parquet = args.scratch.join("parquet");
    let db = format!("sqlite://{}", args.scratch.join("simulated.db").display());
    for target in [
        ["--out", parquet.to_str().unwrap_or_default()],
        ["--db", db.as_str()],
    ] {
        let command = SimulateCommand::try_parse_from(
            ["simulate", "--users", users.as_str(), "--lift", "blend=0.1"]
                .into_iter()
                .chain(target),
        )?;
        simulate_run(command.args).await?;
    }
    Ok(())
}
