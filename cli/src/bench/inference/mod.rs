//! `blendlab bench inference`: what serving costs, measured on one machine in one run.
//!
//! - (a) the bare llama-cpp-2 decode rate, no server;
//! - (b) the decode rate a streaming HTTP client sees;
//! - (c) per-turn latency over 10-turn conversations, single model against a 3-component blend,
//!   with and without user think time;
//! - (d) aggregate completion tokens/s with 1, 2, 4 and 8 concurrent conversations;
//! - (e) fitting a 400-message history into a 2048-token context: the whole-prompt loop against
//!   the engine's pieces.

mod client;
mod turns;

use std::time::Instant;

use anyhow::Context as _;
use blendlab_inference::{
    fit_history_timing, raw_decode, ChatMessage, PromptTemplate, RawDecodeShape, Role,
};

use crate::environment::default_model_path;
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};

use blendlab_server::{
    config::{builtin_models, ServerConfig},
    startup::{Application, Settings},
};

/// A reply that runs to `max_tokens` without meeting a stop string.
const COUNTING_PROMPT: &str = "Count from 1 to 300, separated by commas: 1, 2, 3, 4, 5,";
const BENCH_TOKEN: &str = "bench-inference-admin-token";

#[derive(Args)]
pub struct InferenceBenchArgs {
    /// Tokens decoded by the bare loop, and asked for in the server's long replies.
    #[arg(long, default_value_t = 128)]
    tokens: u32,
    /// Conversations per arm in the per-turn measurement.
    #[arg(long, default_value_t = 3)]
    conversations: usize,
    #[arg(long, default_value_t = 10)]
    turns: usize,
    /// Seconds the simulated user reads and types between turns.
    #[arg(long, default_value_t = 1.5)]
    think_time: f64,
    /// Layers offloaded to the GPU, in the bare loop and in every served model (a `make cuda`
    /// binary; 999 offloads all). 0 runs on the CPU.
    #[arg(long, default_value_t = 0)]
    gpu_layers: u32,
    /// Concurrent streams in the batching sweep, (a) bare and (d) served: ascending, starting
    /// at 1. The server gets at least as many KV sequences and admitted chats.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8", value_parser = clap::value_parser!(u32).range(1..=256))]
    streams: Vec<u32>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Target {
    name: &'static str,
    value: f64,
    bound: &'static str,
    met: bool,
}

pub async fn run(args: InferenceBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.streams.first() == Some(&1) && args.streams.windows(2).all(|w| w[0] < w[1]),
        "--streams must ascend from 1, for example 1,2,4,8"
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as i32;
    let single = builtin_models()
        .into_iter()
        .find(|m| m.id == "small-a")
        .context("the built-in small-a")?;
    let prompt = PromptTemplate::Transcript.render(&[
        ChatMessage::new(Role::System, single.system_prompt.clone()),
        ChatMessage::new(Role::User, COUNTING_PROMPT),
    ]);
    let tokens = args.tokens;
    let n_gpu_layers = args.gpu_layers;
    let shape = move |sequences| RawDecodeShape {
        threads,
        sequences,
        n_gpu_layers,
    };
    let bare_prompt = prompt.clone();
    let raw = tokio::task::spawn_blocking(move || {
        raw_decode(&default_model_path(), &bare_prompt, tokens, shape(1))
    })
    .await??;
    eprintln!(
        "(a) bare decode: {:.1} tokens/s ({} tokens)",
        raw.tokens_per_second(),
        raw.decoded_tokens
    );
    // The ceiling for (d): the same loop with 2, 4, 8, ... sequences in every step.
    let mut raw_batched = Vec::new();
    for &sequences in &args.streams[1..] {
        let prompt = prompt.clone();
        let run = tokio::task::spawn_blocking(move || {
            raw_decode(&default_model_path(), &prompt, tokens / 2, shape(sequences))
        })
        .await??;
        eprintln!(
            "(a{sequences}) bare decode, {sequences} sequences a step: {:.1} tokens/s in total",
            run.tokens_per_second()
        );
        raw_batched.push((sequences, run.tokens_per_second()));
    }

    let fit = tokio::task::spawn_blocking(|| {
        fit_history_timing(&default_model_path(), long_history(400), 2048, 128, 5)
    })
    .await??;
    eprintln!(
        "(e) fitting {} messages into 2048 tokens ({} dropped): whole prompt {:.2} ms, pieces {:.2} ms",
        fit.messages,
        fit.dropped,
        fit.whole_prompt_seconds * 1e3,
        fit.pieces_seconds * 1e3
    );

    let dir = std::env::temp_dir().join(format!("blendlab-bench-inference-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let app = Application::build(Settings {
        bind: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        admin_token: BENCH_TOKEN.into(),
        default_model: crate::environment::default_model_path(),
        config: bench_server_config(&args),
    })
    .await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    let served = served_decode(&client, &base, args.tokens).await?;
    let served_rate = served.decode_tokens_per_second();
    eprintln!("(b) served decode over streaming HTTP: {served_rate:.1} tokens/s");

    let turns = turns::measure(&client, &base, BENCH_TOKEN, &args).await?;
    let concurrency = concurrent(&client, &base, &args.streams).await?;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);

    let single_stream = concurrency[0].1;
    let eight = concurrency
        .iter()
        .find(|c| c.0 == 8)
        .or(concurrency.last())
        .map_or(0.0, |c| c.1);
    let targets = [
        Target {
            name: "(b)/(a) served/bare decode rate",
            value: served_rate / raw.tokens_per_second(),
            bound: ">= 0.95",
            met: served_rate / raw.tokens_per_second() >= 0.95,
        },
        Target {
            name: "blend/single time per token, turns 6-10, think time",
            value: turns.blend_over_single_with_think,
            bound: "<= 1.15",
            met: turns.blend_over_single_with_think <= 1.15,
        },
        Target {
            name: "single-model TTFT turns 8-10 / turns 1-2",
            value: turns.late_over_early_ttft,
            bound: "<= 2",
            met: turns.late_over_early_ttft <= 2.0,
        },
        Target {
            name: "8-concurrent / single-stream aggregate tokens/s",
            value: eight / single_stream,
            bound: ">= 2.5",
            met: eight / single_stream >= 2.5,
        },
    ];
    let result = json!({
        "threads": threads,
        "gpu_layers": args.gpu_layers,
        "gpu_backend": cfg!(feature = "cuda"),
        "raw_decode": {
            "tokens_per_second": raw.tokens_per_second(),
            "tokens": raw.decoded_tokens,
            "prompt_tokens": raw.prompt_tokens,
            "prefill_seconds": raw.prefill_seconds,
        },
        "raw_decode_batched": raw_batched
            .iter()
            .map(|(n, rate)| json!({ "sequences": n, "tokens_per_second": rate }))
            .collect::<Vec<_>>(),
        "served_decode": {
            "tokens_per_second": served_rate,
            "completion_tokens": served.completion_tokens,
            "time_to_first_token_s": served.time_to_first_token.as_secs_f64(),
        },
        "turns": turns.detail,
        "fit_history": {
            "messages": fit.messages,
            "dropped": fit.dropped,
            "prompt_tokens": fit.prompt_tokens,
            "whole_prompt_ms": fit.whole_prompt_seconds * 1e3,
            "pieces_ms": fit.pieces_seconds * 1e3,
            "same_tokens": fit.same_tokens,
        },
        "concurrency": concurrency.iter().map(|(n, rate)| json!({ "conversations": n, "tokens_per_second": rate })).collect::<Vec<_>>(),
        "targets": targets,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_summary(&result);
    }
    Ok(())
}

/// A system prompt and `messages - 1` alternating turns of about 25 tokens each.
fn long_history(messages: usize) -> Vec<ChatMessage> {
    let mut history = vec![ChatMessage::new(
        Role::System,
        "You are a friendly companion.",
    )];
    for i in 1..messages {
        let (role, text) = if i % 2 == 1 {
            (
                Role::User,
                format!(
                    "Message {i}: tell me about the rivers, lakes and mountains you like, and why."
                ),
            )
        } else {
            (
                Role::Assistant,
                format!(
                    "Reply {i}: I like quiet lakes best, because the water is calm in the morning."
                ),
            )
        };
        history.push(ChatMessage::new(role, text));
    }
    history
}

/// (b): the best of three long greedy replies, streamed.
async fn served_decode(
    client: &reqwest::Client,
    base: &str,
    tokens: u32,
) -> anyhow::Result<client::StreamedReply> {
    let mut best: Option<client::StreamedReply> = None;
    for _ in 0..3 {
        let reply = long_reply(client, base, tokens).await?;
        if best
            .as_ref()
            .is_none_or(|b| reply.decode_tokens_per_second() > b.decode_tokens_per_second())
        {
            best = Some(reply);
        }
    }
    let best = best.expect("three runs");
    if best.completion_tokens < tokens / 2 {
        eprintln!(
            "warning: the served reply stopped after {} of {tokens} tokens",
            best.completion_tokens
        );
    }
    Ok(best)
}

async fn long_reply(
    client: &reqwest::Client,
    base: &str,
    tokens: u32,
) -> anyhow::Result<client::StreamedReply> {
    client::stream(
        client,
        &format!("{base}/v1/chat/completions"),
        BENCH_TOKEN,
        &json!({
            "model": "small-a", "temperature": 0, "max_tokens": tokens, "stream": true,
            "stream_options": { "include_usage": true },
            "messages": [{ "role": "user", "content": COUNTING_PROMPT }],
        }),
    )
    .await
}

/// The server's defaults, with room for the widest stream count and the models offloaded.
fn bench_server_config(args: &InferenceBenchArgs) -> ServerConfig {
    let mut config = ServerConfig::default();
    let widest = args.streams.last().copied().unwrap_or(1) as usize;
    let server = &mut config.server;
    server.inference_sequences = server.inference_sequences.max(widest);
    server.max_concurrent_chats = server.max_concurrent_chats.max(widest);
    for model in &mut config.models {
        model.n_gpu_layers = args.gpu_layers;
    }
    config
}

/// (d): aggregate completion tokens/s of n long replies at once.
async fn concurrent(
    client: &reqwest::Client,
    base: &str,
    streams: &[u32],
) -> anyhow::Result<Vec<(u32, f64)>> {
    let mut rates = Vec::new();
    for &n in streams {
        let started = Instant::now();
        let replies =
            futures::future::try_join_all((0..n).map(|_| long_reply(client, base, 64))).await?;
        let tokens: u32 = replies.iter().map(|r| r.completion_tokens).sum();
        let rate = f64::from(tokens) / started.elapsed().as_secs_f64();
        eprintln!("(d) {n} concurrent: {rate:.1} tokens/s in total");
        rates.push((n, rate));
    }
    Ok(rates)
}

fn print_summary(result: &Value) {
    println!("blendlab bench inference ({} threads)", result["threads"]);
    println!(
        "(a) bare llama-cpp-2 decode     {:>8.1} tokens/s",
        result["raw_decode"]["tokens_per_second"]
            .as_f64()
            .unwrap_or(0.0)
    );
    println!(
        "(b) served, streaming HTTP      {:>8.1} tokens/s",
        result["served_decode"]["tokens_per_second"]
            .as_f64()
            .unwrap_or(0.0)
    );
    for row in result["raw_decode_batched"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "(a) bare, {} sequences a step    {:>8.1} tokens/s in total",
            row["sequences"],
            row["tokens_per_second"].as_f64().unwrap_or(0.0)
        );
    }
    turns::print(&result["turns"]);
    for row in result["concurrency"].as_array().into_iter().flatten() {
        println!(
            "(d) {} concurrent conversations {:>8.1} tokens/s",
            row["conversations"],
            row["tokens_per_second"].as_f64().unwrap_or(0.0)
        );
    }
    let fit = &result["fit_history"];
    println!(
        "(e) fit {} messages in 2048    whole prompt {:.2} ms, pieces {:.2} ms ({} dropped)",
        fit["messages"],
        fit["whole_prompt_ms"].as_f64().unwrap_or(f64::NAN),
        fit["pieces_ms"].as_f64().unwrap_or(f64::NAN),
        fit["dropped"]
    );
    for target in result["targets"].as_array().into_iter().flatten() {
        println!(
            "{:<55} {:>6.2}  {:<7} {}",
            target["name"].as_str().unwrap_or_default(),
            target["value"].as_f64().unwrap_or(f64::NAN),
            target["bound"].as_str().unwrap_or_default(),
            if target["met"] == json!(true) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}
