use std::sync::Arc;

use blendlab_inference::ModelRegistry;
use tokio::sync::Semaphore;

use crate::{auth::AdminToken, config::ServerSettings, ingest::EventWriter, store::Store};

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// Events go through here: batched with other requests' into one commit.
    pub events: EventWriter,
    pub models: ModelRegistry,
    pub admin_token: AdminToken,
    pub settings: ServerSettings,
    /// One permit per admitted chat request; none left means 429.
    pub chat_permits: Arc<Semaphore>,
}
