//! The report over the store: the store's log as LazyFrames, the definition's arms, and the
//! commands `report`, `plan` and `bench analytics`.

pub mod bench;
pub mod command;
pub mod daily;
pub mod export;
pub mod leaderboard;
pub mod source;

pub use source::{report_from_store, report_from_store_on, ReportFormat};
