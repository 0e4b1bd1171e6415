//! Where the bundled model lives: `BLENDLAB_MODEL`, else `BLENDLAB_MODEL_DIR` (or
//! `~/.cache/blendlab/models`) joined with the file name that `scripts/fetch-model.sh` writes.

use std::path::PathBuf;

pub const DEFAULT_MODEL_FILE_NAME: &str = "gemma-3-270m-q4_k_m.gguf";

pub fn default_model_path() -> PathBuf {
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
    dir.join(DEFAULT_MODEL_FILE_NAME)
}
