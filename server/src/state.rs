use std::sync::Arc;

use blendlab_inference::ModelRegistry;
use tokio::sync::Semaphore;

use crate::{auth::AdminToken, config::ServerSettings, store::Store};

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub models: ModelRegistry,
    pub admin_token: AdminToken,
    pub settings: ServerSettings,
    /// One permit per admitted chat request; none left means 429.
    pub chat_permits: Arc<Semaphore>,
}
