//! `GET /openapi.json`: the API as OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! attributes and the request types' `ToSchema` derives, so it cannot drift from the code.
//! `make test` fuzzes the running server from it with schemathesis (tests/api/openapi.rs).

use actix_web::HttpResponse;

use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token (every endpoint) or a client key from \
                         `POST /api/v1/keys` (chat, events, its own conversations, models)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "blendlab", description = "A/B tests and engagement analytics for chat AIs."),
    paths(
        super::experiments::define::list,
        super::experiments::define::create,
        super::experiments::define::show,
        super::experiments::define::replace,
        super::experiments::lifecycle::start,
        super::experiments::lifecycle::stop,
        super::experiments::exposures::show,
        super::experiments::assignment::show,
        super::experiments::policy::show,
        super::experiments::report::show,
        super::experiments::history::list,
        super::experiments::history::show,
        super::leaderboard::show,
        super::chat::chat,
        super::conversations::get_conversation,
        super::events::post_events,
        super::users::delete_user,
        super::keys::create,
        super::keys::list,
        super::keys::revoke,
        super::openai::chat_completions::chat_completions,
        super::openai::models::list_models,
        super::health::healthz,
        super::health::readyz,
        super::metrics::render,
        document,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "this document")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
