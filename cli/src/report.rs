//! `blendlab report` and `blendlab plan`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use blendlab_analytics::report::{ReportRequest, DEFAULT_WINDOW_DAYS};
use blendlab_analytics::stats::off_policy::CandidatePolicy;
use blendlab_analytics::stats::{sample_size_per_arm, with_variance_reduction, PlanInput};
use blendlab_analytics::{compute_report, compute_report_incremental, DataDir, Report, StateDir};
use chrono::{NaiveDate, Utc};
use clap::Args;

use blendlab_server::reporting::{
    daily,
    source::{report_evaluating, request_for, ReportFormat},
};
use blendlab_store::Store;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "db"])))]
pub struct ReportArgs {
    #[arg(long)]
    experiment: String,
    /// The last UTC day whose messages count (YYYY-MM-DD); may be in the future.
    /// Required, except with `--backfill`, where it defaults to yesterday.
    #[arg(long, required_unless_present = "backfill")]
    as_of: Option<NaiveDate>,
    /// With `--db`: compute and store every missing daily report from the first exposure through
    /// `--as-of` (what `serve` does after each midnight), and print the days filled.
    #[arg(long, requires = "db", conflicts_with = "data")]
    backfill: bool,
    /// A directory in the log schema of docs/architecture.md (read only, never written).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A store URL (`sqlite://PATH` or `postgres://...`); the stored definition gives control, arms and weights.
    #[arg(long)]
    db: Option<String>,
    /// With `--data`: the control arm.
    #[arg(long, default_value = "control")]
    control: String,
    /// With `--data`: days after exposure to follow.
    #[arg(long, default_value_t = DEFAULT_WINDOW_DAYS)]
    window_days: u32,
    /// With `--data`: a definition file whose arms, weights and models the report uses.
    #[arg(long)]
    definition: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "json")]
    format: ReportFormat,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With `--data`: keep each finished day's part of the report here and read it back next
    /// time, so that a daily run reads about three days of messages, not the whole window
    /// (`--db` keeps its parts in the store). The data directory is still only read.
    #[arg(long, requires = "data")]
    state: Option<PathBuf>,
    /// A candidate blend policy to evaluate off-policy on the blended arms' logged turns,
    /// besides `uniform`, `only:MODEL` and `no_repeat` (repeatable): `uniform`,
    /// `weighted:W1,W2,...` (in the arm's model order), `only:MODEL` or `no_repeat`.
    #[arg(long = "evaluate-policy", value_name = "SPEC", value_parser = policy_spec)]
    evaluate_policy: Vec<String>,
}

fn policy_spec(spec: &str) -> Result<String, String> {
    CandidatePolicy::parse(spec)
        .map(|_| spec.trim().to_owned())
        .map_err(|e| e.to_string())
}

pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    if args.backfill {
        return backfill(&args).await;
    }
    let as_of = args.as_of.context("--as-of is required")?;
    let report = match (&args.data, &args.db) {
        (Some(dir), _) => {
            let mut request = ReportRequest {
                experiment: args.experiment.clone(),
                as_of,
                control: args.control.clone(),
                window_days: args.window_days,
                arms: None,
                evaluate_policies: args.evaluate_policy.clone(),
                decision: blendlab_experiments::DecisionRules::default_for(args.window_days),
            };
            if let Some(path) = &args.definition {
                let definition = blendlab_experiments::read_definition(path)?;
                request = ReportRequest {
                    experiment: args.experiment.clone(),
                    evaluate_policies: args.evaluate_policy.clone(),
                    ..request_for(&definition, as_of)?
                };
            }
            let (dir, state) = (dir.clone(), args.state.clone());
            tokio::task::spawn_blocking(move || report_from_data(&dir, &request, state))
                .await
                .context("the report task panicked")??
        }
        (None, Some(url)) => {
            let store = Store::connect(url).await?;
            let today = Utc::now().date_naive();
            report_evaluating(
                &store,
                &args.experiment,
                as_of,
                today,
                &args.evaluate_policy,
            )
            .await?
        }
        (None, None) => unreachable!("clap requires --data or --db"),
    };
    let text = args.format.render(&report)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{text}"),
    }
    Ok(())
}

/// The report over a data directory, in one pass or, with a state directory, incrementally.
fn report_from_data(
    dir: &Path,
    request: &ReportRequest,
    state: Option<PathBuf>,
) -> anyhow::Result<Report> {
    let frames = DataDir::scan(dir)?;
    let Some(state) = state else {
        return Ok(compute_report(&frames, request)?);
    };
    // The data directory's days before yesterday are final (the export's rule).
    let final_through = Utc::now()
        .date_naive()
        .pred_opt()
        .context("yesterday exists")?;
    let (report, run) =
        compute_report_incremental(&frames, request, &StateDir::new(state), final_through)?;
    eprintln!(
        "day parts: {} read from the state directory, {} computed and kept, {} computed (not final)",
        run.days_reused, run.days_kept, run.days_provisional
    );
    Ok(report)
}

async fn backfill(args: &ReportArgs) -> anyhow::Result<()> {
    let url = args.db.as_deref().context("--backfill needs --db")?;
    let store = Store::connect(url).await?;
    let until = match args.as_of {
        Some(day) => day,
        None => Utc::now()
            .date_naive()
            .pred_opt()
            .context("yesterday exists")?,
    };
    let days = daily::backfill(&store, &args.experiment, until).await?;
    println!(
        "{} daily reports stored for {} through {until}",
        days.len(),
        args.experiment
    );
    for day in days {
        println!("  {day}");
    }
    Ok(())
}

#[derive(Args)]
pub struct PlanArgs {
    /// Control's expected rate of the metric, e.g. D7 retention 0.15.
    #[arg(long)]
    baseline: f64,
    /// The smallest relative lift worth detecting: 0.10 for +10%.
    #[arg(long)]
    lift: f64,
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    #[arg(long, default_value_t = 0.8)]
    power: f64,
    /// Arms in the experiment (equal weights).
    #[arg(long, default_value_t = 2)]
    arms: u32,
    /// New users exposed per day, to turn users into days.
    #[arg(long)]
    daily_users: Option<f64>,
    /// The share of variance CUPED removes (the report's `cuped.variance_reduction` of an earlier
    /// experiment, or rho^2 of the pre-exposure covariate): users scale by `1 - it`.
    #[arg(long, default_value_t = 0.0)]
    variance_reduction: f64,
    #[arg(long)]
    json: bool,
}

pub fn plan(args: PlanArgs) -> anyhow::Result<()> {
    let input = PlanInput {
        baseline: args.baseline,
        relative_lift: args.lift,
        alpha: args.alpha,
        power: args.power,
    };
    let unadjusted = sample_size_per_arm(input)
        .context("baseline and baseline x (1 + lift) must lie in (0, 1), lift must not be 0, alpha and power in (0, 1)")?;
    let per_arm = with_variance_reduction(unadjusted, args.variance_reduction)
        .context("--variance-reduction must lie in [0, 1)")?
        .ceil();
    let total = per_arm * args.arms.max(2) as f64;
    let days = args
        .daily_users
        .filter(|d| *d > 0.0)
        .map(|d| (total / d).ceil());
    if args.json {
        let value = serde_json::json!({
            "baseline": args.baseline, "relative_lift": args.lift, "alpha": args.alpha, "power": args.power,
            "variance_reduction": args.variance_reduction,
            "users_per_arm_unadjusted": unadjusted.ceil(),
            "users_per_arm": per_arm, "users_total": total, "days": days,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "To detect {:+.1}% on a baseline of {:.2}% (alpha {}, power {}{}): {per_arm} users per arm, {total} in all{}.",
            100.0 * args.lift,
            100.0 * args.baseline,
            args.alpha,
            args.power,
            if args.variance_reduction > 0.0 {
                format!(", CUPED removing {:.1}% of the variance", 100.0 * args.variance_reduction)
            } else {
                String::new()
            },
            days.map(|d| format!(", about {d} days of exposure")).unwrap_or_default()
        );
    }
    Ok(())
}
