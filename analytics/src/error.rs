//! What can go wrong with a report's input, named so that a user can fix it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AnalyticsError {
    #[error("{file}: missing column `{column}`")]
    MissingColumn { file: String, column: String },
    #[error("{file}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        file: String,
        column: String,
        expected: String,
        found: String,
    },
    #[error("{path}: not found (expected {expected})")]
    MissingFile { path: String, expected: String },
    #[error("experiment `{0}` has no assignments in the data")]
    UnknownExperiment(String),
    #[error("as_of {as_of} is before the experiment's first exposure on {start}")]
    AsOfBeforeStart { as_of: String, start: String },
    #[error("control arm `{control}` not found; the arms are: {arms}")]
    UnknownControl { control: String, arms: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("reading the data: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl AnalyticsError {
    /// Errors in what the user gave (a 4xx in the API, exit code 2 in the CLI), as opposed to
    /// failures while computing.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, AnalyticsError::Polars(_))
    }
}
