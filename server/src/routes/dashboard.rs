//! The web UI at `/`: the built files of `dashboards/dist`, compiled into the binary so that
//! `cargo build --release` alone serves a working dashboard, offline.

use actix_web::{http::header, web, HttpResponse};

use crate::error::ApiError;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! dist {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dashboards/dist/",
            $file
        ))
    };
}

const INDEX: Asset = Asset {
    path: "index.html",
    content_type: "text/html; charset=utf-8",
    bytes: dist!("index.html"),
};

/// Vite writes these fixed names (`dashboards/vite.config.js`).
const ASSETS: [Asset; 2] = [
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: dist!("assets/app.js"),
    },
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: dist!("assets/app.css"),
    },
];

/// Scripts and styles only from this server; the API is called on the same origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/index.html", web::get().to(index))
        .route("/assets/{file}", web::get().to(asset));
}

#[tracing::instrument(name = "dashboard.index", skip_all)]
async fn index() -> HttpResponse {
    serve(&INDEX, "no-cache")
}

#[tracing::instrument(name = "dashboard.asset", skip_all, fields(file = %file))]
async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == file.as_str())
        .ok_or_else(|| {
            ApiError::not_found(
                "not_found",
                format!("no dashboard asset {:?}", file.as_str()),
            )
        })?;
    // Fixed names: the browser revalidates, so a new binary's assets are picked up.
    Ok(serve(asset, "no-cache"))
}

fn serve(asset: &Asset, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_loads_the_embedded_script_and_stylesheet() {
        let index = std::str::from_utf8(INDEX.bytes).unwrap();
        for asset in &ASSETS {
            assert!(
                index.contains(&format!("/assets/{}", asset.path)),
                "index.html does not load {}",
                asset.path
            );
            assert!(!asset.bytes.is_empty());
        }
    }
}
