//! (c): latency turn by turn over whole conversations, a single-model arm against a blend.

use std::time::Duration;

use serde_json::{json, Value};

use super::{client, InferenceBenchArgs};

const EXPERIMENT: &str = "bench-turns";
const USER_LINES: [&str; 10] = [
    "Hi! How is your day going?",
    "What do you like to do on weekends?",
    "That sounds fun. Have you ever been to the sea?",
    "I love the smell of the ocean. What is your favourite food?",
    "Can you tell me a short story about a cat?",
    "Ha, nice. What happened to the cat next?",
    "Do you think cats or dogs make better friends?",
    "What would you do with a free afternoon?",
    "Tell me something that made you laugh recently.",
    "Thanks for chatting. Any last advice for me?",
];

pub struct TurnResults {
    pub blend_over_single_with_think: f64,
    pub late_over_early_ttft: f64,
    pub detail: Value,
}

/// Per arm, per turn: (time to first token, total seconds, completion tokens), summed over the
/// conversations.
type TurnTotals = Vec<(f64, f64, u32)>;

pub async fn measure(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &InferenceBenchArgs,
) -> anyhow::Result<TurnResults> {
    define_experiment(client, base, token).await?;
    let single_user = user_in(client, base, token, "single").await?;
    let blend_user = user_in(client, base, token, "blend").await?;
    let mut detail = serde_json::Map::new();
    let mut ratios = Vec::new();
    let mut late_over_early = f64::NAN;
    for (label, think) in [("with_think_time", args.think_time), ("no_think_time", 0.0)] {
        let single = conversations(client, base, token, &single_user, think, args).await?;
        let blend = conversations(client, base, token, &blend_user, think, args).await?;
        let late = 5.min(args.turns)..args.turns;
        let ratio = seconds_per_token(&blend, late.clone()) / seconds_per_token(&single, late);
        eprintln!("(c) {label}: blend/single time per token at turns 6-10 = {ratio:.2}");
        if ratios.is_empty() {
            let early = mean_ttft(&single, 0..2.min(args.turns));
            late_over_early = mean_ttft(&single, 7.min(args.turns)..args.turns) / early;
        }
        ratios.push(ratio);
        detail.insert(
            label.into(),
            json!({
                "think_time_s": think,
                "single": rows(&single, args.conversations),
                "blend": rows(&blend, args.conversations),
                "blend_over_single_turns_6_10": ratio,
            }),
        );
    }
    Ok(TurnResults {
        blend_over_single_with_think: ratios[0],
        late_over_early_ttft: late_over_early,
        detail: Value::Object(detail),
    })
}

async fn define_experiment(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<()> {
    let definition = json!({
        "key": EXPERIMENT, "name": "Inference bench: one model against a blend of three",
        "salt": EXPERIMENT, "control": "single", "coverage": 1.0, "window_days": 30, "audience": "all",
        "arms": [
            { "name": "single", "weight": 0.5, "models": ["small-a"] },
            { "name": "blend", "weight": 0.5, "models": ["small-a", "small-b", "small-c"], "policy": "uniform" },
        ],
    });
    for (path, body) in [
        ("/api/v1/experiments".to_owned(), definition),
        (
            format!("/api/v1/experiments/{EXPERIMENT}/start"),
            Value::Null,
        ),
    ] {
        let response = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path}: {}",
            response.text().await?
        );
    }
    Ok(())
}

/// A user id that the experiment's hash puts in `arm`.
async fn user_in(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    arm: &str,
) -> anyhow::Result<String> {
    for i in 0..1000 {
        let user = format!("bench-user-{i}");
        let assignment: Value = client
            .get(format!(
                "{base}/api/v1/experiments/{EXPERIMENT}/assignment/{user}"
            ))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if assignment["arm"] == arm {
            return Ok(user);
        }
    }
    anyhow::bail!("no user among 1000 falls in arm {arm}")
}

async fn conversations(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    user: &str,
    think_time: f64,
    args: &InferenceBenchArgs,
) -> anyhow::Result<TurnTotals> {
    let mut totals: TurnTotals = vec![(0.0, 0.0, 0); args.turns];
    for _ in 0..args.conversations {
        let conversation = uuid::Uuid::now_v7().to_string();
        for (turn, total) in totals.iter_mut().enumerate() {
            let reply = client::stream(
                client,
                &format!("{base}/api/v1/chat"),
                token,
                &json!({
                    "experiment": EXPERIMENT, "user_id": user, "conversation_id": conversation,
                    "message": USER_LINES[turn % USER_LINES.len()], "max_tokens": 48, "stream": true,
                }),
            )
            .await?;
            total.0 += reply.time_to_first_token.as_secs_f64();
            total.1 += reply.total.as_secs_f64();
            total.2 += reply.completion_tokens;
            tokio::time::sleep(Duration::from_secs_f64(think_time)).await;
        }
    }
    Ok(totals)
}

fn seconds_per_token(totals: &TurnTotals, turns: std::ops::Range<usize>) -> f64 {
    let (seconds, tokens) = totals[turns]
        .iter()
        .fold((0.0, 0u32), |(s, t), turn| (s + turn.1, t + turn.2));
    seconds / f64::from(tokens.max(1))
}

fn mean_ttft(totals: &TurnTotals, turns: std::ops::Range<usize>) -> f64 {
    let n = turns.len().max(1) as f64;
    totals[turns].iter().map(|t| t.0).sum::<f64>() / n
}

fn rows(totals: &TurnTotals, conversations: usize) -> Vec<Value> {
    totals
        .iter()
        .enumerate()
        .map(|(turn, (ttft, seconds, tokens))| {
            json!({
                "turn": turn + 1,
                "time_to_first_token_s": ttft / conversations as f64,
                "latency_s": seconds / conversations as f64,
                "completion_tokens": *tokens as f64 / conversations as f64,
                "seconds_per_token": seconds / f64::from((*tokens).max(1)),
            })
        })
        .collect()
}

pub fn print(turns: &Value) {
    for (label, setting) in turns.as_object().into_iter().flatten() {
        println!(
            "(c) {label} ({} s): turn, TTFT single/blend (ms), s per token single/blend",
            setting["think_time_s"]
        );
        let single = setting["single"].as_array().cloned().unwrap_or_default();
        let blend = setting["blend"].as_array().cloned().unwrap_or_default();
        for (s, b) in single.iter().zip(&blend) {
            println!(
                "    {:>2}  {:>6.0} {:>6.0}   {:>6.3} {:>6.3}",
                s["turn"],
                s["time_to_first_token_s"].as_f64().unwrap_or(0.0) * 1000.0,
                b["time_to_first_token_s"].as_f64().unwrap_or(0.0) * 1000.0,
                s["seconds_per_token"].as_f64().unwrap_or(0.0),
                b["seconds_per_token"].as_f64().unwrap_or(0.0),
            );
        }
        println!(
            "    blend/single time per token, turns 6-10: {:.2}",
            setting["blend_over_single_turns_6_10"]
                .as_f64()
                .unwrap_or(f64::NAN)
        );
    }
}
