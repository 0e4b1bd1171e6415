//! The `blendlab` command line.

use std::path::PathBuf;

use anyhow::Context as _;
use blendlab_experiments::Experiment;
use clap::{Args, Parser, Subcommand};

use blendlab_server::{
    config::ServerConfig,
    startup::{Application, Settings},
};
use blendlab_simulator::simulate;
use blendlab_store::{Store, DEFAULT_DATABASE_URL as DEFAULT_DB};

use crate::{bench, demo, environment::admin_token_from_env, export, report};
use blendlab_experiments::read_definition;

#[derive(Parser)]
#[command(
    name = "blendlab",
    version,
    about = "A/B testing and engagement analytics for chat AIs"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Start a server on the example experiment and drive a scripted blended conversation.
    Demo(demo::DemoArgs),
    /// A synthetic population for an experiment: Parquet, the store, or live HTTP traffic.
    Simulate(simulate::SimulateArgs),
    /// Define and steer experiments in a store.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// The retention and engagement report of an experiment (JSON, Markdown or HTML).
    Report(report::ReportArgs),
    /// Write the store's log as day-partitioned Parquet (incremental).
    Export(export::ExportArgs),
    /// Users needed per arm to detect a relative lift in a rate.
    Plan(report::PlanArgs),
    /// Benchmarks whose figures docs/benchmarks.md quotes.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// `sqlite://PATH` (the file is created when missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "BLENDLAB_DB", default_value = DEFAULT_DB)]
    db: String,
    /// Server config (models, limits); without it the built-in config serves the example.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct StoreArgs {
    #[arg(long, env = "BLENDLAB_DB", default_value = DEFAULT_DB)]
    db: String,
}

#[derive(Subcommand)]
enum ExperimentCommand {
    /// Store a draft from a TOML (or JSON) definition file.
    Create {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// Server config whose models the definition may use (default: the built-in one).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List experiments with their status.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print one experiment as JSON.
    Show {
        key: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// draft -> running (no-op when running).
    Start {
        key: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// running -> stopped.
    Stop {
        key: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

impl Cli {
    /// The demo talks to a person on stdout; server logs would drown it.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            // A 409 on the demo's re-run and slow report queries are expected there, not news.
            Command::Demo(_) => "warn,sqlx=error,tracing_actix_web=error",
            Command::Report(_)
            | Command::Plan(_)
            | Command::Bench(_)
            | Command::Export(_)
            | Command::Simulate(_) => "warn",
            _ => "info,sqlx=warn",
        }
    }

    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Experiment(command) => experiment(command).await,
            Command::Report(args) => report::report(args).await,
            Command::Plan(args) => report::plan(args),
            Command::Export(args) => export::run(args).await,
            Command::Bench(command) => bench::run(command).await,
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (admin_token, generated) = admin_token_from_env();
    if generated {
        eprintln!("BLENDLAB_ADMIN_TOKEN is not set; this run's admin token is {admin_token}");
    }
    let config = ServerConfig::load(args.config.as_deref())?;
    let app = Application::build(Settings {
        bind: args.bind.clone(),
        database_url: args.db,
        admin_token,
        default_model: crate::environment::default_model_path(),
        config,
    })
    .await?;
    tracing::info!(port = app.port(), bind = %args.bind, "serving");
    app.run_until_stopped().await?;
    Ok(())
}

async fn experiment(command: ExperimentCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        ExperimentCommand::Create {
            file,
            store,
            config,
        } => {
            let config = ServerConfig::load(config.as_deref())?;
            let definition = read_definition(&file)?;
            let experiment =
                Experiment::parse(definition, |m| config.models.iter().any(|c| c.id == m))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let store = Store::connect(&store.db).await?;
            store
                .insert_experiment(experiment.definition(), now)
                .await?;
            println!("created {} (draft)", experiment.key());
        }
        ExperimentCommand::List { store } => {
            let store = Store::connect(&store.db).await?;
            for row in store.experiments().await? {
                let arms: Vec<String> = row
                    .definition
                    .arms
                    .iter()
                    .map(|a| format!("{}={}", a.name, a.weight))
                    .collect();
                println!(
                    "{:<24} {:<8} {}",
                    row.definition.key,
                    row.status.as_str(),
                    arms.join(" ")
                );
            }
        }
        ExperimentCommand::Show { key, store } => {
            let store = Store::connect(&store.db).await?;
            let row = store
                .experiment(&key)
                .await?
                .with_context(|| format!("no experiment {key:?}"))?;
            let mut json = serde_json::to_value(&row.definition)?;
            json["status"] = row.status.as_str().into();
            json["started_at"] = serde_json::to_value(row.started_at)?;
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        ExperimentCommand::Start { key, store } => {
            let store = Store::connect(&store.db).await?;
            let row = store
                .experiment(&key)
                .await?
                .with_context(|| format!("no experiment {key:?}"))?;
            anyhow::ensure!(
                row.status.as_str() != "stopped",
                "experiment {key:?} is stopped and cannot restart"
            );
            store.start_experiment(&key, now).await?;
            println!("{key} is running");
        }
        ExperimentCommand::Stop { key, store } => {
            let store = Store::connect(&store.db).await?;
            store
                .experiment(&key)
                .await?
                .with_context(|| format!("no experiment {key:?}"))?;
            store.stop_experiment(&key, now).await?;
            println!("{key} is stopped");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap checks flag names, conflicts and defaults only when a command is built; this builds
    /// every subcommand so a broken declaration fails here rather than at a user's prompt.
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
