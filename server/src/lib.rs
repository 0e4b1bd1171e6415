//! The blendlab HTTP service: routes, auth, the chat turn, ingest by group commit, metrics, the
//! report over the store and the daily job. `startup::Application` builds the app, so tests and
//! the CLI start the same server.

pub mod auth;
pub mod body;
pub mod chat;
pub mod config;
pub mod error;
pub mod group_commit;
pub mod lifecycle;
pub mod metrics;
pub mod policies;
pub mod reporting;
mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
