//! Timing and memory of the report's stages, for `blendlab bench analytics`: benchmark-only
//! code, kept out of the libraries.

use blendlab_analytics::pipeline::{self, Horizon};
use blendlab_analytics::{AnalyticsError, LogFrames};
use polars::prelude::*;

/// The process's peak resident set (VmHWM) in kB, Linux only.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One stage of `profile`: its name, seconds and peak RSS in kB (Linux; `None` elsewhere).
pub type StageProfile = (&'static str, f64, Option<u64>);

/// Times each output of the pipeline on its own (for `blendlab bench analytics --profile`),
/// resetting the process's peak RSS before each (Linux `clear_refs`), so each peak is the stage's.
pub fn profile(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
) -> Result<Vec<StageProfile>, AnalyticsError> {
    let cohorts = || pipeline::cohorts(frames.assignments.clone(), experiment, horizon);
    let messages = || {
        pipeline::cohort_messages(
            frames.messages.clone(),
            cohorts(),
            horizon,
            &frames.message_extras,
        )
    };
    let plans: Vec<(&'static str, LazyFrame)> = vec![
        ("scan messages", frames.messages.clone().select([len()])),
        ("cohort join", messages().select([len()])),
        (
            "retention and engagement",
            pipeline::arm_days(pipeline::user_days(messages(), cohorts())),
        ),
        (
            "guardrails",
            pipeline::guardrails(messages(), &frames.message_extras),
        ),
        ("conversations", pipeline::conversations(messages())),
        (
            "attribution",
            pipeline::attribution(
                messages(),
                &["blend".to_owned()],
                &frames.message_extras,
                None,
            )?,
        ),
    ];
    let mut timings = Vec::new();
    for (name, plan) in plans {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = std::time::Instant::now();
        plan.collect_with_engine(Engine::Streaming)?;
        timings.push((name, started.elapsed().as_secs_f64(), peak_rss_kb()));
    }
    Ok(timings)
}
