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

/// The bundled model: `BLENDLAB_MODEL`, else `BLENDLAB_MODEL_DIR` (or `~/.cache/blendlab/models`)
/// joined with the file name that `scripts/fetch-model.sh` writes.
pub fn default_model_path() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(path) = std::env::var_os("BLENDLAB_MODEL").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let dir = std::env::var_os("BLENDLAB_MODEL_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".cache/blendlab/models")
        });
    dir.join(blendlab_inference::DEFAULT_MODEL_FILE_NAME)
}

/// `BLENDLAB_LLAMA_LOGS` set: llama.cpp's own log lines go to the log.
pub fn llama_logs() -> bool {
    std::env::var_os("BLENDLAB_LLAMA_LOGS").is_some()
}

/// `RUST_LOG` overrides `default_filter`; `BLENDLAB_LOG_FORMAT=json` writes JSON lines.
pub fn log_settings(default_filter: &str) -> blendlab_server::telemetry::LogSettings {
    blendlab_server::telemetry::LogSettings {
        filter: std::env::var("RUST_LOG")
            .ok()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| default_filter.to_owned()),
        json: std::env::var("BLENDLAB_LOG_FORMAT").as_deref() == Ok("json"),
    }
}
