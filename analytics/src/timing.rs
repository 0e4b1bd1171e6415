//! Where a report's time goes: each stage timed at debug level, so that a slow report can be
//! read stage by stage (`RUST_LOG=blendlab_analytics=debug blendlab report ...`) without a
//! profiler.

/// Runs `work` inside a debug span named after `stage` and logs how long it took.
pub(crate) fn timed<T>(stage: &'static str, work: impl FnOnce() -> T) -> T {
    let _span = tracing::debug_span!("report_stage", stage).entered();
    let start = std::time::Instant::now();
    let output = work();
    tracing::debug!(
        stage,
        elapsed_ms = start.elapsed().as_secs_f64() * 1e3,
        "stage done"
    );
    output
}
