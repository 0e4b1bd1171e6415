//! The report over the store: the store's log as LazyFrames, the definition's arms, the daily
//! job, the leaderboard and the Parquet export.

pub mod daily;
pub mod export;
pub mod leaderboard;
pub mod source;

pub use source::{report_from_store, report_from_store_on, ReportFormat, StoreReportError};
