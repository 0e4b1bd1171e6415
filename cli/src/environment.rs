//! What the CLI reads from the environment, in one place: the libraries take it as arguments.

use blendlab_server::auth::AdminToken;

/// The admin token from `BLENDLAB_ADMIN_TOKEN`, or a fresh one (and whether it was generated).
pub fn admin_token_from_env() -> (String, bool) {
    match std::env::var("BLENDLAB_ADMIN_TOKEN") {
        Ok(token) if !token.is_empty() => (token, false),
        _ => (AdminToken::generate(), true),
    }
}

/// How reports are collected: `BLENDLAB_POLARS_ENGINE=in-memory` (default streaming) and
/// `BLENDLAB_REPORT_PARTITIONS=N` user groups (default 1, the single pass).
pub fn report_collection() -> blendlab_analytics::collect::Collection {
    let streaming = std::env::var("BLENDLAB_POLARS_ENGINE").as_deref() != Ok("in-memory");
    let partitions = std::env::var("BLENDLAB_REPORT_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    blendlab_analytics::collect::Collection {
        streaming,
        partitions,
    }
}
