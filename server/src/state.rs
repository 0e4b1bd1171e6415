use std::sync::Arc;

use blendlab_inference::ModelRegistry;
use tokio::sync::Semaphore;

use crate::{
    auth::Credentials,
    config::ServerSettings,
    group_commit::{EventWriter, TurnWriter},
};
use blendlab_store::Store;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// Events go through here: batched with other requests' into one commit.
    pub events: EventWriter,
    /// Chat turns go through here: logged with other requests' turns in one commit.
    pub turns: TurnWriter,
    pub models: ModelRegistry,
    /// The admin token and client keys, also registered on their own for the extractors.
    pub credentials: actix_web::web::Data<Credentials>,
    pub metrics: crate::metrics::Metrics,
    /// Today's reports computed for the leaderboard, reused for a while.
    pub live_reports: crate::reporting::leaderboard::LiveReports,
    pub settings: ServerSettings,
    /// One permit per admitted chat request; none left means 429.
    pub chat_permits: Arc<Semaphore>,
    /// Serving, or draining for shutdown.
    pub lifecycle: crate::lifecycle::Lifecycle,
    /// The policy snapshots of adaptive arms.
    pub policies: crate::policies::AdaptivePolicies,
}
