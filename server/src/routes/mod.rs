//! One file per endpoint (a folder when an endpoint has several verbs).

mod chat;
mod conversations;
mod dashboard;
mod events;
mod experiments;
mod health;
mod leaderboard;
mod openai;
mod streaming;
mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(dashboard::configure)
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
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
                .route("/users/{user_id}", web::delete().to(users::delete_user)),
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
