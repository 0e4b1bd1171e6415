//! Admin: define experiments, move them through draft -> running -> stopped, look up assignments.

pub(super) mod assignment;
pub(super) mod define;
pub(super) mod exposures;
pub(super) mod history;
pub(super) mod lifecycle;
pub(super) mod policy;
pub(super) mod report;

use actix_web::web;
use blendlab_experiments::{Experiment, ExperimentDefinition, ExperimentKey};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{error::ApiError, state::AppState};
use blendlab_store::{ExperimentRow, ExperimentStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/experiments", web::get().to(define::list))
        .route("/experiments", web::post().to(define::create))
        .route("/experiments/{key}", web::get().to(define::show))
        .route("/experiments/{key}", web::put().to(define::replace))
        .route("/experiments/{key}/start", web::post().to(lifecycle::start))
        .route("/experiments/{key}/stop", web::post().to(lifecycle::stop))
        .route(
            "/experiments/{key}/exposures",
            web::get().to(exposures::show),
        )
        .route("/experiments/{key}/policy", web::get().to(policy::show))
        .route("/experiments/{key}/report", web::get().to(report::show))
        .route("/experiments/{key}/reports", web::get().to(history::list))
        .route(
            "/experiments/{key}/reports/{as_of}",
            web::get().to(history::show),
        )
        .route(
            "/experiments/{key}/assignment/{user_id}",
            web::get().to(assignment::show),
        );
}

/// An experiment as the API shows it: the definition's keys plus what the server owns.
#[derive(Serialize)]
pub struct ExperimentView {
    #[serde(flatten)]
    definition: ExperimentDefinition,
    status: ExperimentStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
}

impl From<ExperimentRow> for ExperimentView {
    fn from(row: ExperimentRow) -> Self {
        Self {
            definition: row.definition,
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            started_at: row.started_at,
            stopped_at: row.stopped_at,
        }
    }
}

fn parse_key(raw: &str) -> Result<ExperimentKey, ApiError> {
    ExperimentKey::parse(raw).map_err(|e| ApiError::bad_request("invalid_key", e.to_string()))
}

async fn load(state: &AppState, key: &ExperimentKey) -> Result<ExperimentRow, ApiError> {
    state.store.experiment(key.as_str()).await?.ok_or_else(|| {
        ApiError::not_found(
            "experiment_not_found",
            format!("experiment {key:?} does not exist"),
        )
    })
}

/// Validates a definition against this server's models, naming every problem.
fn validate(state: &AppState, definition: ExperimentDefinition) -> Result<Experiment, ApiError> {
    Experiment::parse(definition, |m| state.models.contains(m))
        .map_err(|e| ApiError::bad_request("invalid_experiment", e.to_string()))
}
