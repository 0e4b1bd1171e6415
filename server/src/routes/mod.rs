//! One file per endpoint (a folder when an endpoint has several verbs).

mod chat;
mod conversations;
mod dashboard;
mod events;
mod experiments;
mod health;
mod keys;
mod leaderboard;
mod metrics;
mod openai;
pub mod openapi;
mod streaming;
mod users;

use actix_web::web;

pub use metrics::record as record_metrics;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(dashboard::configure)
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::render))
        .route("/openapi.json", web::get().to(openapi::document))
        .service(
            web::scope("/api/v1")
                .configure(experiments::configure)
                .route("/leaderboard", web::get().to(leaderboard::show))
                .route("/chat", web::post().to(chat::chat))
                .route(
                    "/conversations/{conversation_id}",
                    web::get().to(conversations::get_conversation),
                )
                .route("/events", web::post().to(events::post_events))
                .route("/users/{user_id}", web::delete().to(users::delete_user))
                .route("/keys", web::post().to(keys::create))
                .route("/keys", web::get().to(keys::list))
                .route("/keys/{key_id}", web::delete().to(keys::revoke)),
        )
        .service(
            web::scope("/v1")
                .route(
                    "/chat/completions",
                    web::post().to(openai::chat_completions),
                )
                .route("/models", web::get().to(openai::list_models)),
        );
}
