//! The blendlab server: HTTP API, store, CLI and demo. `main` is thin; everything lives here so
//! tests can start the real app.

pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod group_commit;
pub mod inference_bench;
pub mod ingest_bench;
pub mod metrics;
pub mod reporting;
mod routes;
pub mod simulate;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
