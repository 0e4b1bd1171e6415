//! What a report is asked for: the experiment, the day, the control, the window, the arms and the
//! decision rules. At the bottom of the crate: every way of collecting a report reads it, and it
//! reads nothing of the crate.

use blendlab_experiments::DecisionRules;
use chrono::NaiveDate;

/// What to report on. `arms` comes from the experiment definition when there is one; over bare
/// `--data` it is `None` and arms, equal weights and blended arms are read off the data.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub experiment: String,
    pub as_of: NaiveDate,
    pub control: String,
    pub window_days: u32,
    pub arms: Option<Vec<ArmSpec>>,
    /// Candidate blend policies to evaluate off-policy besides the default ones (spec strings:
    /// `uniform`, `weighted:W1,W2,...`, `only:MODEL`, `no_repeat`).
    pub evaluate_policies: Vec<String>,
    /// The primary metric and guardrails of the verdict (the definition's, or the default).
    pub decision: DecisionRules,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArmSpec {
    pub name: String,
    pub weight: f64,
    pub models: Vec<String>,
}
