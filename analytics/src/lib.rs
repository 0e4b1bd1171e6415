//! The retention and engagement report of an experiment.
//!
//! Pure functions over polars `LazyFrame`s (`pipeline`), statistics (`stats`), the report types
//! of DESIGN.md (`report`) and its renderings (`render`). No database code: the server turns its
//! store into the same frames that a Parquet directory gives.

pub mod calibration;
pub mod compare;
pub mod error;
pub mod frames;
pub mod incremental;
pub mod load;
mod partitioned;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod schema;
pub mod simulation;
pub mod stats;

pub use error::AnalyticsError;
pub use incremental::{compute_report_incremental, IncrementalRun, StateDir};
pub use load::{DataDir, LogFrames};
pub use report::{compute_report, Report, ReportRequest};
