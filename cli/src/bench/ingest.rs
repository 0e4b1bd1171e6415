//! `blendlab bench ingest`: `POST /api/v1/events` end to end (HTTP, JSON, validation, the store,
//! the commit) with the load generator on the same machine, then a count of what was stored: every
//! acknowledged event must be there.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use blendlab_server::{
    config::ServerConfig,
    startup::{Application, Settings},
};
use blendlab_simulator::simulate::parse_duration;
use blendlab_store::Store;

const BENCH_TOKEN: &str = "bench-ingest-admin-token";

#[derive(Args)]
pub struct IngestBenchArgs {
    /// The store: `sqlite://PATH` or `postgres://...` (default: a fresh SQLite file under /tmp).
    /// The events written stay in it.
    #[arg(long)]
    db: Option<String>,
    /// How long the clients send.
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Concurrent clients, each sending its next batch when the last one is acknowledged.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Events per request (at most 1,000).
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, serde::Serialize)]
struct Outcome {
    store: &'static str,
    clients: usize,
    batch: usize,
    seconds: f64,
    requests: u64,
    failed_requests: u64,
    acknowledged_events: u64,
    stored_events: i64,
    events_per_s: f64,
    request_ms_p50: f64,
    request_ms_p99: f64,
}

pub async fn run(args: IngestBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1000).contains(&args.batch),
        "--batch must be 1 to 1000"
    );
    let duration = parse_duration(&args.duration)?;
    let scratch = std::env::temp_dir().join(format!("blendlab-ingest-{}", std::process::id()));
    let url = match &args.db {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&scratch)?;
            format!("sqlite://{}", scratch.join("ingest.db").display())
        }
    };
    let store = Store::connect(&url).await?;
    let before = store.event_count().await?;

    // No models: the benchmark is about the log, and the cores belong to it and its clients.
    let mut config = ServerConfig::default();
    config.models.clear();
    config.server.daily_reports = false;
    let app = Application::build(Settings {
        bind: "127.0.0.1:0".into(),
        database_url: url.clone(),
        admin_token: BENCH_TOKEN.into(),
        default_model: crate::environment::default_model_path(),
        config,
    })
    .await?;
    let base = format!("http://127.0.0.1:{}/api/v1/events", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());

    let started = Instant::now();
    let deadline = started + duration;
    let clients: Vec<_> = (0..args.clients)
        .map(|client| tokio::spawn(send_until(base.clone(), client, args.batch, deadline)))
        .collect();
    let mut latencies = Vec::new();
    let mut outcome = Outcome {
        store: store.kind(),
        clients: args.clients,
        batch: args.batch,
        ..Outcome::default()
    };
    for client in clients {
        let (acknowledged, failed, client_latencies) = client.await??;
        outcome.acknowledged_events += acknowledged;
        outcome.failed_requests += failed;
        latencies.extend(client_latencies);
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    handle.stop(true).await;
    let _ = server.await;

    outcome.requests = latencies.len() as u64 + outcome.failed_requests;
    outcome.stored_events = store.event_count().await? - before;
    outcome.events_per_s = outcome.acknowledged_events as f64 / outcome.seconds;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize);
    outcome.request_ms_p50 = at(0.50).copied().unwrap_or(f64::NAN);
    outcome.request_ms_p99 = at(0.99).copied().unwrap_or(f64::NAN);
    if args.db.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "{} store, {} clients x {} events per request, {:.1} s: {:.0} events/s acknowledged \
             ({} requests, {} failed; p50 {:.1} ms, p99 {:.1} ms); stored {} of {} acknowledged",
            outcome.store,
            outcome.clients,
            outcome.batch,
            outcome.seconds,
            outcome.events_per_s,
            outcome.requests,
            outcome.failed_requests,
            outcome.request_ms_p50,
            outcome.request_ms_p99,
            outcome.stored_events,
            outcome.acknowledged_events
        );
    }
    anyhow::ensure!(
        outcome.stored_events >= outcome.acknowledged_events as i64,
        "lost events: {} acknowledged, {} stored",
        outcome.acknowledged_events,
        outcome.stored_events
    );
    Ok(())
}

/// One client: the same pre-serialised batch, again and again, until `deadline`.
/// Returns (events acknowledged, failed requests, latency of each acknowledged request in ms).
async fn send_until(
    url: String,
    client_id: usize,
    batch: usize,
    deadline: Instant,
) -> anyhow::Result<(u64, u64, Vec<f64>)> {
    let events: Vec<_> = (0..batch)
        .map(|i| {
            json!({ "user_id": format!("ingest-{client_id}-{}", i % 50), "kind": "feedback",
                    "value": 1.0, "conversation_id": format!("c-{client_id}"), "message_id": format!("m-{i}") })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "events": events }))?;
    let client = reqwest::Client::new();
    let (mut acknowledged, mut failed, mut latencies) = (0, 0, Vec::new());
    while Instant::now() < deadline {
        let sent = Instant::now();
        let response = client
            .post(&url)
            .bearer_auth(BENCH_TOKEN)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .context("the server stopped answering")?;
        if response.status().is_success() {
            acknowledged += batch as u64;
            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        } else {
            failed += 1;
        }
        let _ = response.bytes().await;
    }
    Ok((acknowledged, failed, latencies))
}
