//! The retention and engagement report of an experiment.
//!
//! Pure functions over polars `LazyFrame`s (`pipeline`), statistics (`stats`), the report types
//! of `docs/architecture.md` (`report`) and its renderings (`render`). No database code: the server turns its
//! store into the same frames that a Parquet directory gives.

pub mod collect;
pub mod compare;
pub mod error;
pub mod load;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod request;
pub mod schema;
pub mod stats;
mod timing;

pub use collect::daily::{compute_report_incremental, IncrementalRun, StateDir};
pub use error::AnalyticsError;
pub use load::{DataDir, LogFrames};
pub use report::{compute_report, Report, ReportRequest};
