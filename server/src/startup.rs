//! Builds the app: store, models, listener. Tests call [`Application::build`] with port 0 and get
//! the real app on its own port.

use std::{net::TcpListener, sync::Arc};

use actix_web::{dev::Server, web, App, HttpServer};
use anyhow::Context as _;
use blendlab_inference::ModelRegistry;
use tokio::sync::Semaphore;
use tracing_actix_web::TracingLogger;

use crate::{
    auth::{AdminToken, ClientKeys, Credentials},
    config::ServerConfig,
    error, routes,
    state::AppState,
};
use blendlab_store::Store;

pub struct Settings {
    /// `HOST:PORT`; port 0 picks a free one.
    pub bind: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    pub admin_token: String,
    pub config: ServerConfig,
    /// The GGUF file of local models that name none (the CLI: `BLENDLAB_MODEL`, or the bundled
    /// model in its cache directory).
    pub default_model: std::path::PathBuf,
}

/// After the drain: time for cancelled replies to be logged and their streams to end.
const SHUTDOWN_GRACE_S: u64 = 5;

/// Commits what the group writers still hold: events and turns already on their way.
async fn flush_writes(state: &AppState) {
    state.events.close().await;
    state.turns.close().await;
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let admin_token = AdminToken::new(&settings.admin_token)?;
        let store_options = blendlab_store::StoreOptions {
            wait: std::time::Duration::from_millis(settings.config.server.store_timeout_ms),
        };
        let store = Store::connect_with(&settings.database_url, store_options).await?;
        let models_config = settings.config.models.clone();
        let sequences = settings.config.server.inference_sequences;
        let default_model = settings.default_model.clone();
        // Loading GGUF files blocks for a while; keep it off the async runtime.
        let models = tokio::task::spawn_blocking(move || {
            ModelRegistry::load(&models_config, sequences, &default_model)
        })
        .await
        .context("model loading panicked")??;
        let server_settings = settings.config.server.clone();
        if server_settings.daily_reports {
            tokio::spawn(crate::reporting::daily::run(store.clone()));
        }
        let events = crate::group_commit::EventWriter::start(store.clone());
        let turns = crate::group_commit::TurnWriter::start(store.clone());
        let state = web::Data::new(AppState {
            events,
            turns,
            credentials: web::Data::new(Credentials {
                admin_token,
                keys: ClientKeys::new(store.clone()),
            }),
            metrics: Default::default(),
            live_reports: crate::reporting::leaderboard::LiveReports::new(
                std::time::Duration::from_secs(server_settings.live_report_ttl_s),
            ),
            store,
            models,
            chat_permits: Arc::new(Semaphore::new(server_settings.max_concurrent_chats)),
            settings: server_settings.clone(),
            lifecycle: Default::default(),
            policies: crate::policies::AdaptivePolicies::new(std::time::Duration::from_secs(
                server_settings.policy_refresh_s,
            )),
        });
        let app_state = state.clone();
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let body_limit = crate::body::BodyLimit(server_settings.max_body_bytes);
        let server = HttpServer::new(move || {
            App::new()
                // Inside the logger, so the request id it draws is there to return.
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::record_metrics,
                ))
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .app_data(state.credentials.clone())
                .app_data(body_limit)
                .app_data(body_limit.payload_config())
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .configure(routes::configure)
                .default_service(web::to(error::not_found))
        })
        .workers(server_settings.http_workers.max(1))
        // `run_until_stopped` handles the signals: it drains and cancels before it stops.
        .disable_signals()
        // Past the drain, cancelled replies still log and end their streams; then it closes.
        .shutdown_timeout(server_settings.shutdown_drain_s + SHUTDOWN_GRACE_S)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            state: app_state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT (or a [`Self::handle`] stop), then shuts down gracefully:
    /// see [`crate::lifecycle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { server, state, .. } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let signal = tokio::select! {
            stopped = &mut server => {
                flush_writes(&state).await;
                return stopped;
            }
            signal = crate::lifecycle::stop_requested() => signal,
        };
        let drain = std::time::Duration::from_secs(state.settings.shutdown_drain_s);
        tracing::info!(signal, drain_s = drain.as_secs(), "shutting down: draining");
        state.lifecycle.begin_drain();
        let cancel_after_drain = tokio::spawn({
            let lifecycle = state.lifecycle.clone();
            async move {
                tokio::time::sleep(drain).await;
                tracing::info!("drain time is over: cancelling the replies still running");
                lifecycle.cancel_in_flight();
            }
        });
        // Stops accepting at once; resolves when the connections are done or the timeout hits.
        let ((), stopped) = tokio::join!(handle.stop(true), server);
        cancel_after_drain.abort();
        flush_writes(&state).await;
        tracing::info!("stopped");
        stopped
    }
}
