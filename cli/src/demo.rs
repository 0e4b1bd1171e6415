//! `blendlab demo`: the example experiment, live, in one command.
//! 1. Seeds 30 days of simulated history (a true +10% return lift for the blend) into the
//!    embedded SQLite file, unless this store has it already.
//! 2. Starts the server, which catches up the stored daily reports in the background.
//! 3. Drives a scripted conversation with the real model for a user in each arm, showing which
//!    component wrote every reply.
//! 4. Computes today's report over history plus the live turns, prints what it found and writes
//!    it as HTML.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use blendlab_experiments::Experiment;
use clap::Args;
use serde_json::{json, Value};

use blendlab_experiments::read_definition;
use blendlab_server::{
    config::ServerConfig,
    startup::{Application, Settings},
};
use blendlab_simulator::simulate;

use crate::environment::admin_token_from_env;

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    #[arg(long, env = "BLENDLAB_DB", default_value = "sqlite://blendlab-demo.db")]
    db: String,
    #[arg(long, default_value = "experiments/definitions/chai-blend.toml")]
    definition: PathBuf,
    #[arg(long)]
    config: Option<PathBuf>,
    /// Turns for the user in the blended arm (the control user gets half as many).
    #[arg(long, default_value_t = 6)]
    turns: usize,
    /// Exit after the scripted conversation instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
    /// Simulated users of the seeded history (0: no history).
    #[arg(long, default_value_t = 4_000)]
    history_users: u64,
    /// Where the report is written as HTML.
    #[arg(long, default_value = "blendlab-demo-report.html")]
    report_html: PathBuf,
}

const SCRIPT: [&str; 8] = [
    "Hi! I just got back from a hiking trip in the mountains.",
    "What should I cook for dinner tonight?",
    "Tell me something surprising about octopuses.",
    "Can you recommend a good book for a rainy weekend?",
    "What's your favourite season, and why?",
    "Do you think robots will ever write poetry?",
    "I'm learning to play the guitar. Any tips?",
    "Thanks for chatting! See you tomorrow.",
];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (admin_token, _) = admin_token_from_env();
    let config = ServerConfig::load(args.config.as_deref())?;
    let definition = read_definition(&args.definition)?;
    let experiment =
        Experiment::parse(definition.clone(), |_| true).map_err(|e| anyhow::anyhow!("{e}"))?;

    if args.history_users > 0 {
        seed_history(&args, &experiment).await?;
    }
    println!("Loading models and opening {} ...", args.db);
    let app = Application::build(Settings {
        bind: args.bind.clone(),
        database_url: args.db.clone(),
        admin_token: admin_token.clone(),
        default_model: crate::environment::default_model_path(),
        config,
    })
    .await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());

    println!("\nblendlab is serving at {base}");
    println!("  dashboard   : {base}/  (sign in with the admin token below)");
    println!("  admin token : {admin_token}");
    println!("  store       : {}", args.db);
    println!("  try         : curl -s -H 'Authorization: Bearer {admin_token}' {base}/api/v1/experiments\n");

    let api = Api {
        client: reqwest::Client::new(),
        base: base.clone(),
        token: admin_token,
    };
    let created = api
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments",
            Some(serde_json::to_value(&definition)?),
        )
        .await?;
    if created.0 == 409 {
        println!(
            "Experiment {} is in this store already; reusing it.",
            experiment.key()
        );
    }
    let started = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/experiments/{}/start", experiment.key()),
            None,
        )
        .await?;
    anyhow::ensure!(
        started.0 == 200,
        "starting the experiment failed: {}",
        started.1
    );
    let arms: Vec<String> = experiment
        .arms()
        .iter()
        .map(|a| format!("{} ({} x{})", a.name, a.models.join(", "), a.weight))
        .collect();
    println!(
        "Experiment {} is running. Arms: {}\n",
        experiment.key(),
        arms.join(" | ")
    );

    for arm in experiment.arms() {
        let turns = if arm.models.len() > 1 {
            args.turns
        } else {
            args.turns.div_ceil(2)
        };
        let user = (0..)
            .map(|i| format!("demo-user-{i}"))
            .find(|u| experiment.assign(u).is_some_and(|a| a.name == arm.name))
            .expect("some user lands in every arm with positive weight");
        converse(
            &api,
            experiment.key().as_str(),
            &user,
            turns.min(SCRIPT.len()),
        )
        .await?;
    }

    let today = chrono::Utc::now().date_naive();
    let path = format!(
        "/api/v1/experiments/{}/report?as_of={today}",
        experiment.key()
    );
    let (status, report) = api.call(reqwest::Method::GET, &path, None).await?;
    anyhow::ensure!(status == 200, "the report failed ({status}): {report}");
    println!("{}", headline(&report));
    let html = api
        .text(&format!("{path}&format=html"))
        .await
        .context("fetching the HTML report")?;
    std::fs::write(&args.report_html, html)
        .with_context(|| format!("writing {}", args.report_html.display()))?;
    println!(
        "The full report: {} (open it in a browser), or {base}{path} with the admin token.",
        args.report_html.display()
    );
    println!(
        "Stored daily reports: {base}/api/v1/experiments/{}/reports\n",
        experiment.key()
    );

    if args.exit {
        handle.stop(true).await;
        let _ = server.await;
        return Ok(());
    }
    println!(
        "Serving until Ctrl-C. Open the dashboard at {base}/ to watch the experiment, compare arms \
         on the leaderboard and chat in the playground; the stored conversations are at \
         {base}/api/v1/conversations/<id>."
    );
    // The server drains and stops on Ctrl-C (SIGINT) or SIGTERM by itself.
    server.await.context("the server task failed")??;
    Ok(())
}

async fn converse(api: &Api, experiment: &str, user: &str, turns: usize) -> anyhow::Result<()> {
    let mut conversation_id: Option<String> = None;
    let mut arm = String::new();
    for (turn, message) in SCRIPT.iter().take(turns).enumerate() {
        let body = json!({ "experiment": experiment, "user_id": user, "conversation_id": conversation_id, "message": message });
        let (status, reply) = api
            .call(reqwest::Method::POST, "/api/v1/chat", Some(body))
            .await?;
        anyhow::ensure!(status == 200, "chat failed ({status}): {reply}");
        conversation_id = reply["conversation_id"].as_str().map(str::to_owned);
        arm = reply["arm"].as_str().unwrap_or("(not enrolled)").to_owned();
        if turn == 0 {
            println!(
                "── user {user} is in arm '{arm}', conversation {} ──",
                conversation_id.as_deref().unwrap_or("?")
            );
        }
        println!("  turn {}  user      : {message}", turn + 1);
        println!(
            "          {:<9} : {}   [{} tokens, {:.0} ms]",
            reply["model"].as_str().unwrap_or("?"),
            reply["reply"].as_str().unwrap_or(""),
            reply["usage"]["completion_tokens"],
            reply["latency_ms"].as_f64().unwrap_or(0.0),
        );
    }
    let id = conversation_id.unwrap_or_default();
    let (_, stored) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{id}"),
            None,
        )
        .await?;
    let messages = stored["messages"].as_array().map_or(0, Vec::len);
    let writers: std::collections::BTreeSet<&str> = stored["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["model"].as_str())
        .collect();
    println!("  logged: {messages} messages in arm '{arm}', replies written by {writers:?}\n");
    Ok(())
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// 30 days of exposures followed for 30 days, ending today, written through `simulate --db`.
async fn seed_history(args: &DemoArgs, experiment: &Experiment) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let population = simulate::demo_population(experiment, args.history_users, today);
    match simulate::seed_store(experiment.clone(), population, &args.db).await? {
        Some(summary) => println!(
            "Seeded {} simulated users and {} messages over the last 60 days into {} (a true +10% return lift for the blend).",
            summary.users, summary.messages, args.db
        ),
        None => println!("{} already holds the simulated history; reusing it.", args.db),
    }
    Ok(())
}

/// What the report found, in a few lines: each arm's D1/D7/D30 retention against control.
fn headline(report: &Value) -> String {
    let mut out = format!(
        "Report as of {} (sample-ratio check p = {:.3}):\n",
        report["as_of"].as_str().unwrap_or("?"),
        report["srm"]["p_value"].as_f64().unwrap_or(f64::NAN)
    );
    let percent = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v))
    };
    for arm in report["arms"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<10} {:>6} users",
            arm["arm"].as_str().unwrap_or("?"),
            arm["users"]
        ));
        for k in [1usize, 7, 30] {
            let day = &arm["retention"][k];
            out.push_str(&format!("  D{k} {}", percent(&day["rate"])));
            let vs = &day["vs_control"];
            if let (Some(ratio), Some(low), Some(high)) = (
                vs["ratio"].as_f64(),
                vs["ci_low"].as_f64(),
                vs["ci_high"].as_f64(),
            ) {
                out.push_str(&format!(
                    " (x{ratio:.2} [{low:.2}, {high:.2}], p {:.3}, always-valid p {:.3})",
                    vs["p_value"].as_f64().unwrap_or(f64::NAN),
                    vs["seq_p_value"].as_f64().unwrap_or(f64::NAN)
                ));
            }
        }
        out.push('\n');
    }
    out
}

impl Api {
    async fn text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(300))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        Ok(response.text().await?)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(300));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }
}
