//! The bundled model's file name, which `scripts/fetch-model.sh` writes into its cache directory.
//! Where that directory is (`BLENDLAB_MODEL`, `BLENDLAB_MODEL_DIR`) is the program's to read and
//! pass in as the default path of models that name none.

pub const DEFAULT_MODEL_FILE_NAME: &str = "gemma-3-270m-q4_k_m.gguf";
