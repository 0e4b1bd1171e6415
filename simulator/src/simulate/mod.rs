//! `blendlab simulate`: a synthetic population for an experiment, written as Parquet (`--out`),
//! into the store in bulk (`--db`), or sent as live HTTP chat traffic to a server (`--live`).
//! The behavioural model is `crate::synthetic`; this module wires it to the
//! experiment's own assignment hashing and blend policy, so that simulated users get the arm
//! and components that a live request would give them.

mod live;
mod progress;
mod store_sink;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::synthetic::{
    continuation_for, simulate_adaptive, AdaptiveArm, AdaptiveRun, Allocation, Behaviour, LogSink,
    ParquetSink, Population, Rng, SimArm, SimSummary,
};
use anyhow::Context as _;
use blendlab_experiments::{BlendPolicy, Experiment};
use chrono::{NaiveDate, Utc};
use clap::Args;

use blendlab_experiments::read_definition;
pub use live::{drive, parse_duration, LiveArgs, LiveSummary};
use progress::Progress;
pub use store_sink::seed_store;

#[derive(Args)]
pub struct SimulateArgs {
    /// The experiment definition (TOML or JSON).
    #[arg(long, default_value = "experiments/definitions/chai-blend.toml")]
    definition: PathBuf,
    /// Enrolled users over all arms.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Days over which users are first exposed.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Days each user is followed after exposure.
    #[arg(long, default_value_t = 30)]
    horizon: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First exposure day (default: `days + horizon` days before today).
    #[arg(long)]
    start: Option<NaiveDate>,
    /// `ARM=REL`: multiply an arm's daily return probability by 1 + REL (repeatable).
    #[arg(long = "lift", value_name = "ARM=REL")]
    lifts: Vec<String>,
    /// `MODEL=P`: probability that a user writes again after this component's reply
    /// (repeatable; default 0.75, i.e. 4 user messages per sitting).
    #[arg(long = "continuation", value_name = "MODEL=P")]
    continuations: Vec<String>,
    /// How much users differ in their propensity to continue: the standard deviation of a
    /// per-user shift on the logit scale, shared by all components (0: users alike). Real users
    /// differ, so replies cluster within users.
    #[arg(long, default_value_t = 0.9)]
    continuation_spread: f64,
    /// Users differ in habit: active on some of the 14 days before exposure, and the more
    /// active then, the likelier to return (what CUPED's pre-exposure covariate adjusts for).
    #[arg(long)]
    habitual_users: bool,
    /// Adaptive (thompson) arms: seconds between policy snapshots, as the server's
    /// `server.policy_refresh_s`, so that seeded history and live traffic agree.
    #[arg(long, default_value_t = 60)]
    policy_refresh_s: u64,
    /// Write the contract's single-file Parquet data directory here.
    #[arg(long, conflicts_with_all = ["db", "url"])]
    out: Option<PathBuf>,
    /// Write into this store (`sqlite://PATH` or `postgres://...`); the experiment is stored, running, if missing.
    #[arg(long, conflicts_with = "url")]
    db: Option<String>,
    #[command(flatten)]
    live: LiveArgs,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let definition = read_definition(&args.definition)?;
    let experiment = Experiment::parse(definition, |_| true)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.definition.display()))?;
    if let Some(url) = args.live.url.clone() {
        return live::run(&experiment, &args.live, &url, args.seed).await;
    }
    let population = population(&experiment, &args, Utc::now().date_naive())?;
    let started = Instant::now();
    let (summary, target) = match (&args.out, &args.db) {
        (Some(dir), None) => (
            to_parquet(experiment, population, dir, args.policy_refresh_s).await?,
            dir.display().to_string(),
        ),
        (None, Some(url)) => (
            store_sink::to_store(experiment, population, url, args.policy_refresh_s).await?,
            url.clone(),
        ),
        _ => anyhow::bail!("say where the simulation goes: --out DIR, --db URL or --live URL"),
    };
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "simulated {} users, {} conversations, {} messages and {} events into {target} in {seconds:.1} s ({:.0} messages/s)",
        summary.users,
        summary.conversations,
        summary.messages,
        summary.events,
        summary.messages as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// The population of `experiment` that the flags describe.
pub fn population(
    experiment: &Experiment,
    args: &SimulateArgs,
    today: NaiveDate,
) -> anyhow::Result<Population> {
    anyhow::ensure!(args.users > 0, "--users must be at least 1");
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    let mut arms = sim_arms(experiment);
    for (arm_name, lift) in pairs(&args.lifts, "--lift")? {
        anyhow::ensure!(
            lift > -1.0,
            "--lift {arm_name}={lift}: a lift must be above -1"
        );
        let arm = arms
            .iter_mut()
            .find(|a| a.name == arm_name)
            .with_context(|| {
                format!("--lift {arm_name}={lift}: the experiment has no arm {arm_name:?}")
            })?;
        arm.lift = lift;
    }
    for (model, p) in pairs(&args.continuations, "--continuation")? {
        anyhow::ensure!(
            (0.0..1.0).contains(&p),
            "--continuation {model}={p}: a probability in [0, 1) is needed"
        );
        let mut found = false;
        for arm in &mut arms {
            for (i, _) in arm.models.iter().enumerate().filter(|(_, m)| **m == model) {
                arm.continuation[i] = p;
                found = true;
            }
        }
        anyhow::ensure!(
            found,
            "--continuation {model}={p}: no arm uses model {model:?}"
        );
    }
    anyhow::ensure!(
        args.continuation_spread.is_finite() && args.continuation_spread >= 0.0,
        "--continuation-spread {}: a non-negative number is needed",
        args.continuation_spread
    );
    let back = i64::from(args.days) + i64::from(args.horizon);
    let start = args
        .start
        .unwrap_or_else(|| today - chrono::Duration::days(back));
    Ok(Population {
        experiment: experiment.key().as_str().to_owned(),
        arms,
        users: args.users,
        start,
        exposure_days: args.days,
        horizon_days: args.horizon,
        seed: args.seed,
        behaviour: Behaviour {
            continuation_spread: args.continuation_spread,
            habitual_users: args.habitual_users,
            ..Behaviour::default()
        },
    })
}

/// The experiment's arms with no lift and 4 user messages per sitting for every component.
fn sim_arms(experiment: &Experiment) -> Vec<SimArm> {
    experiment
        .arms()
        .iter()
        .map(|arm| SimArm {
            name: arm.name.as_str().to_owned(),
            weight: arm.weight,
            models: arm.models.clone(),
            lift: 0.0,
            continuation: vec![continuation_for(4.0); arm.models.len()],
        })
        .collect()
}

/// The demo's history: `users` exposed over the 30 days that end 30 days ago, followed to today,
/// with a true +10% return lift for every arm but control.
pub fn demo_population(experiment: &Experiment, users: u64, today: NaiveDate) -> Population {
    let control = experiment.control().name.as_str();
    let mut arms = sim_arms(experiment);
    for arm in arms.iter_mut().filter(|a| a.name != control) {
        arm.lift = 0.10;
    }
    Population {
        experiment: experiment.key().as_str().to_owned(),
        arms,
        users,
        start: today - chrono::Duration::days(60),
        exposure_days: 30,
        horizon_days: 30,
        seed: 1,
        behaviour: Behaviour::default(),
    }
}

/// `NAME=NUMBER` flags.
fn pairs(raw: &[String], flag: &str) -> anyhow::Result<Vec<(String, f64)>> {
    raw.iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("{flag} {pair:?}: expected NAME=NUMBER"))?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| format!("{flag} {pair:?}: {value:?} is not a finite number"))?;
            Ok((name.trim().to_owned(), value))
        })
        .collect()
}

/// The experiment's own assignment hashing and blend policy.
pub struct ExperimentAllocation(pub Experiment);

impl Allocation for ExperimentAllocation {
    fn arm(&self, user_id: &str, _rng: &mut Rng) -> Option<usize> {
        let arm = self.0.assign(user_id)?;
        self.0.arms().iter().position(|a| std::ptr::eq(a, arm))
    }

    fn component(
        &self,
        arm: usize,
        conversation_id: &str,
        turn: u32,
        _rng: &mut Rng,
    ) -> (usize, f64) {
        let draw = self.0.arms()[arm].draw_component(self.0.salt(), conversation_id, turn);
        (draw.model_index, draw.probability)
    }

    fn component_from(
        &self,
        arm: usize,
        conversation_id: &str,
        turn: u32,
        probabilities: &[f64],
        _rng: &mut Rng,
    ) -> (usize, f64) {
        let draw = self.0.arms()[arm].draw_component_from(
            probabilities,
            self.0.salt(),
            conversation_id,
            turn,
        );
        (draw.model_index, draw.probability)
    }
}

/// The server's default `server.policy_refresh_s`.
pub const DEFAULT_POLICY_REFRESH_S: u64 = 60;

/// Simulates `population` into `sink` with the experiment's own assignment and policies. Its
/// adaptive arms learn from the simulated outcomes, refreshing their snapshots every `refresh_s`
/// seconds as the server would (`crate::synthetic::simulate_adaptive`); the run holds the
/// snapshots they served (none without adaptive arms).
pub(crate) fn simulate_experiment<S: LogSink>(
    experiment: Experiment,
    population: &Population,
    refresh_s: u64,
    sink: &mut S,
) -> Result<AdaptiveRun, S::Error> {
    let adaptive: Vec<AdaptiveArm> = experiment
        .arms()
        .iter()
        .enumerate()
        .filter_map(|(arm, spec)| match &spec.policy {
            BlendPolicy::Thompson(policy) => Some(AdaptiveArm {
                arm,
                min_probability: policy.min_probability,
                reward: policy.reward,
            }),
            _ => None,
        })
        .collect();
    let allocation = ExperimentAllocation(experiment);
    if adaptive.is_empty() {
        let summary = crate::synthetic::simulate(population, &allocation, sink)?;
        return Ok(AdaptiveRun {
            summary,
            snapshots: Vec::new(),
        });
    }
    simulate_adaptive(population, &allocation, &adaptive, refresh_s, sink)
}

async fn to_parquet(
    experiment: Experiment,
    population: Population,
    dir: &Path,
    refresh_s: u64,
) -> anyhow::Result<SimSummary> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let sink = ParquetSink::create(&dir, &population.experiment)?;
        let mut sink = Progress::new(sink, population.users);
        let summary = simulate_experiment(experiment, &population, refresh_s, &mut sink)?.summary;
        sink.into_inner().finish()?;
        anyhow::Ok(summary)
    })
    .await?
    .with_context(|| "writing the simulated Parquet files".to_string())
}
