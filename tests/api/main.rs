//! End-to-end: the real app over real HTTP, with the real Gemma model and a fresh SQLite file.

mod adaptive;
mod assignment;
mod auth;
mod capacity;
mod chat;
mod client_keys;
mod crash;
mod daily_reports;
mod dashboard;
mod errors;
mod events;
mod experiments;
mod inference_engine;
mod leaderboard;
mod metrics;
mod openai;
mod openai_clients;
mod openapi;
mod remote_faults;
mod replicas;
mod report;
mod shutdown;
mod simulate_live;
mod store_outage;
mod streaming;
mod users;
