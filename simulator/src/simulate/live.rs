//! `simulate --live URL`: real chat traffic against a running server, open loop at a fixed
//! rate, through `POST /api/v1/chat`. Reports throughput, latency percentiles and the error mix.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::synthetic::Rng;
use anyhow::Context as _;
use blendlab_experiments::Experiment;
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

const PROMPTS: [&str; 8] = [
    "Hi there! How is your day going?",
    "Tell me a short story about a lighthouse keeper.",
    "What is a good name for a grey cat?",
    "I can't sleep. Any advice?",
    "What do you think about rainy Sundays?",
    "Give me one fun fact about space.",
    "Help me plan a picnic for four people.",
    "What should I learn next: piano or guitar?",
];
/// Probability that a user's next message continues their current conversation.
const CONTINUE: f64 = 0.7;
/// How long in-flight requests may take to finish after the sending window.
const DRAIN: Duration = Duration::from_secs(300);

#[derive(Args, Clone)]
pub struct LiveArgs {
    /// Send live chat traffic to the server at this base URL (e.g. http://127.0.0.1:8080).
    #[arg(long = "live", value_name = "URL")]
    pub url: Option<String>,
    /// Chat turns per second, open loop: requests go out on schedule whatever the latency.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// How long to send: `90`, `90s`, `2m`.
    #[arg(long, default_value = "30s")]
    pub duration: String,
    /// `max_tokens` of each chat turn.
    #[arg(long, default_value_t = 32)]
    pub max_tokens: u32,
    /// Distinct users the traffic comes from.
    #[arg(long, default_value_t = 50)]
    pub live_users: u32,
    /// Bearer token for the chat API.
    #[arg(long, env = "BLENDLAB_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a live run measured.
#[derive(Debug, Default, Serialize)]
pub struct LiveSummary {
    pub sent: u64,
    pub ok: u64,
    /// Responses by HTTP status, and `transport` for requests that got none.
    pub statuses: BTreeMap<String, u64>,
    pub seconds: f64,
    pub ok_per_second: f64,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p90: Option<f64>,
    pub latency_ms_p99: Option<f64>,
    pub latency_ms_max: Option<f64>,
    /// How fast refusals (429 and other non-200 answers) came back: an overloaded server must
    /// say no at once rather than queue.
    pub refused_latency_ms_p50: Option<f64>,
    pub refused_latency_ms_p99: Option<f64>,
    pub completion_tokens: u64,
    pub arms: BTreeMap<String, u64>,
    pub models: BTreeMap<String, u64>,
}

pub fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let (number, unit) = match raw.strip_suffix('m') {
        Some(n) => (n, 60.0),
        None => (raw.strip_suffix('s').unwrap_or(raw), 1.0),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
        .with_context(|| format!("--duration {raw:?}: expected e.g. 90, 90s or 2m"))?;
    Ok(Duration::from_secs_f64(value * unit))
}

struct Outcome {
    status: Option<u16>,
    latency: Duration,
    body: Option<Value>,
}

pub async fn run(
    experiment: &Experiment,
    args: &LiveArgs,
    url: &str,
    seed: u64,
) -> anyhow::Result<()> {
    let summary = drive(experiment.key().as_str(), args, url, seed).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0} ms"));
    println!(
        "{} turns sent in {:.1} s, {} answered ({:.2}/s), {} completion tokens",
        summary.sent, summary.seconds, summary.ok, summary.ok_per_second, summary.completion_tokens
    );
    println!(
        "latency p50 {}  p90 {}  p99 {}  max {}",
        ms(summary.latency_ms_p50),
        ms(summary.latency_ms_p90),
        ms(summary.latency_ms_p99),
        ms(summary.latency_ms_max)
    );
    println!(
        "statuses {:?}  refusals p50 {}  p99 {}",
        summary.statuses,
        ms(summary.refused_latency_ms_p50),
        ms(summary.refused_latency_ms_p99)
    );
    println!("arms {:?}  components {:?}", summary.arms, summary.models);
    Ok(())
}

/// Sends `rate` turns per second for `duration`, then waits for the answers.
pub async fn drive(
    experiment: &str,
    args: &LiveArgs,
    url: &str,
    seed: u64,
) -> anyhow::Result<LiveSummary> {
    anyhow::ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be a positive number of turns per second"
    );
    anyhow::ensure!(args.live_users > 0, "--live-users must be at least 1");
    let duration = parse_duration(&args.duration)?;
    let client = reqwest::Client::builder()
        .timeout(DRAIN)
        .build()
        .context("building the HTTP client")?;
    let endpoint = format!("{}/api/v1/chat", url.trim_end_matches('/'));
    let users: Arc<Mutex<Users>> = Arc::default();
    let mut rng = Rng::new(seed);
    let mut tasks = JoinSet::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut summary = LiveSummary::default();
    let mut latencies = Vec::new();
    let mut refused = Vec::new();
    while started.elapsed() < duration {
        ticker.tick().await;
        let picked = users
            .lock()
            .expect("not poisoned")
            .pick(&mut rng, args.live_users);
        let Some((user, conversation)) = picked else {
            *summary
                .statuses
                .entry("skipped_all_users_busy".into())
                .or_default() += 1;
            continue;
        };
        let conversation = conversation.filter(|_| rng.chance(CONTINUE));
        let mut body = json!({
            "experiment": experiment,
            "user_id": format!("live{seed}-{user:05}"),
            "message": PROMPTS[rng.below(PROMPTS.len() as u64) as usize],
            "max_tokens": args.max_tokens,
        });
        if let Some(id) = conversation {
            body["conversation_id"] = id.into();
        }
        let mut request = client.post(&endpoint).json(&body);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let users = users.clone();
        summary.sent += 1;
        tasks.spawn(async move {
            let sent_at = Instant::now();
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.json::<Value>().await.ok();
                    Outcome {
                        status: Some(status),
                        latency: sent_at.elapsed(),
                        body,
                    }
                }
                Err(_) => Outcome {
                    status: None,
                    latency: sent_at.elapsed(),
                    body: None,
                },
            };
            let next = outcome
                .body
                .as_ref()
                .filter(|_| outcome.status == Some(200))
                .and_then(|b| b["conversation_id"].as_str().map(str::to_owned));
            users.lock().expect("not poisoned").done(user, next);
            outcome
        });
        while let Some(done) = tasks.try_join_next() {
            record(&mut summary, &mut latencies, &mut refused, done?);
        }
    }
    let window = started.elapsed();
    let drain = tokio::time::timeout(DRAIN, async {
        while let Some(done) = tasks.join_next().await {
            record(&mut summary, &mut latencies, &mut refused, done?);
        }
        anyhow::Ok(())
    });
    drain
        .await
        .context("in-flight turns did not finish within 300 s")??;
    latencies.sort_by(f64::total_cmp);
    refused.sort_by(f64::total_cmp);
    summary.latency_ms_p50 = quantile(&latencies, 0.50);
    summary.latency_ms_p90 = quantile(&latencies, 0.90);
    summary.latency_ms_p99 = quantile(&latencies, 0.99);
    summary.latency_ms_max = latencies.last().copied();
    summary.refused_latency_ms_p50 = quantile(&refused, 0.50);
    summary.refused_latency_ms_p99 = quantile(&refused, 0.99);
    summary.seconds = window.as_secs_f64();
    summary.ok_per_second = summary.ok as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

/// Users' current conversations, and who has a turn in flight (one turn per user at a time, as
/// a person types).
#[derive(Default)]
struct Users {
    current: HashMap<u32, String>,
    busy: HashSet<u32>,
}

impl Users {
    fn pick(&mut self, rng: &mut Rng, users: u32) -> Option<(u32, Option<String>)> {
        if self.busy.len() >= users as usize {
            return None;
        }
        loop {
            let user = rng.below(u64::from(users)) as u32;
            if self.busy.insert(user) {
                return Some((user, self.current.get(&user).cloned()));
            }
        }
    }

    fn done(&mut self, user: u32, conversation: Option<String>) {
        self.busy.remove(&user);
        if let Some(id) = conversation {
            self.current.insert(user, id);
        }
    }
}

/// Nearest rank over sorted values: the smallest with at least `q` of them at or below it.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

fn record(
    summary: &mut LiveSummary,
    latencies: &mut Vec<f64>,
    refused: &mut Vec<f64>,
    outcome: Outcome,
) {
    let key = outcome
        .status
        .map_or("transport".to_owned(), |s| s.to_string());
    *summary.statuses.entry(key).or_default() += 1;
    if outcome.status != Some(200) {
        if outcome.status.is_some() {
            refused.push(outcome.latency.as_secs_f64() * 1000.0);
        }
        return;
    }
    summary.ok += 1;
    if let Some(body) = &outcome.body {
        summary.completion_tokens += body["usage"]["completion_tokens"].as_u64().unwrap_or(0);
        if let Some(arm) = body["arm"].as_str() {
            *summary.arms.entry(arm.to_owned()).or_default() += 1;
        }
        if let Some(model) = body["model"].as_str() {
            *summary.models.entry(model.to_owned()).or_default() += 1;
        }
    }
    latencies.push(outcome.latency.as_secs_f64() * 1000.0);
}
