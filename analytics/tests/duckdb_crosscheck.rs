//! A generated log with known structure, reported by the polars pipeline and by DuckDB running
//! the same definitions in SQL (`duckdb_report.py`). Counts must match exactly, means to 1e-9.

use std::path::{Path, PathBuf};
use std::process::Command;

use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, DataDir};
use blendlab_simulator::synthetic::{write_parquet, Population, RandomAllocation};
use serde_json::Value;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blendlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn duckdb(dir: &Path, experiment: &str, as_of: &str, window: u32) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/duckdb_report.py");
    let output = Command::new("python3")
        .arg(script)
        .args([
            dir.to_str().unwrap(),
            experiment,
            as_of,
            &window.to_string(),
        ])
        .output()
        .expect("python3 runs (make test installs duckdb)");
    assert!(
        output.status.success(),
        "duckdb_report.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The default report of the simulated experiment as of `as_of`, with a 30-day window.
fn request(spec: &Population, as_of: &str) -> ReportRequest {
    ReportRequest {
        experiment: spec.experiment.clone(),
        as_of: as_of.parse().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn every_count_and_mean_matches_duckdb() {
    let dir = scratch_dir("duckdb");
    let spec = Population::chai(4_000, 7);
    let written = write_parquet(&spec, &RandomAllocation::new(&spec.arms), &dir).unwrap();
    assert!(written.messages > 50_000, "{written:?}");
    // as_of in the middle of the log: some days are not yet eligible for late cohorts.
    // Both polars engines must agree with DuckDB (the only test in this binary sets the collection).
    // The report in user groups (for logs larger than memory) must agree too.
    let cases = [("streaming", 1), ("in-memory", 1), ("streaming", 3)]
        .into_iter()
        .flat_map(|case| ["2026-10-20", "2026-11-29"].map(|d| (case, d)));
    for ((engine, partitions), as_of) in cases {
        blendlab_analytics::collect::set_collection(blendlab_analytics::collect::Collection {
            streaming: engine == "streaming",
            partitions,
        });
        let report = compute_report(&DataDir::scan(&dir).unwrap(), &request(&spec, as_of)).unwrap();
        let reference = duckdb(&dir, &spec.experiment, as_of, 30);
        assert_eq!(report.arms.len(), reference.as_object().unwrap().len());
        for arm in &report.arms {
            let want = &reference[&arm.arm];
            assert_eq!(
                arm.users,
                want["users"].as_u64().unwrap(),
                "{} users",
                arm.arm
            );
            assert_eq!(arm.guardrails.messages, want["messages"].as_u64().unwrap());
            assert_eq!(
                arm.guardrails.conversations,
                want["conversations"].as_u64().unwrap()
            );
            assert_eq!(arm.guardrails.replies, want["replies"].as_u64().unwrap());
            let days = want["days"].as_object().unwrap();
            assert_eq!(
                arm.retention.len(),
                days.len(),
                "{} retention days",
                arm.arm
            );
            assert_eq!(
                arm.engagement.len(),
                days.len(),
                "{} engagement days",
                arm.arm
            );
            for (retention, engagement) in arm.retention.iter().zip(&arm.engagement) {
                assert_eq!(retention.day, engagement.day);
                let day = &want["days"][retention.day.to_string()];
                assert_eq!(
                    retention.eligible,
                    day["eligible"].as_u64().unwrap(),
                    "{} day {}",
                    arm.arm,
                    retention.day
                );
                assert_eq!(
                    retention.retained,
                    day["retained"].as_u64().unwrap(),
                    "{} day {}",
                    arm.arm,
                    retention.day
                );
                assert_eq!(engagement.active, retention.retained);
                match (engagement.mean_time_spent_s, day["time_mean"].as_f64()) {
                    (Some(got), Some(want)) => assert!(
                        close(got, want),
                        "time day {}: {got} vs {want}",
                        retention.day
                    ),
                    (got, want) => assert_eq!(got, want, "time day {}", retention.day),
                }
                match (engagement.mean_user_messages, day["messages_mean"].as_f64()) {
                    (Some(got), Some(want)) => {
                        assert!(close(got, want), "messages day {}", retention.day)
                    }
                    (got, want) => assert_eq!(got, want),
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The report's CUPED against statsmodels' OLS with HC1 errors fitted on DuckDB's per-user
/// table (`cuped_reference.py`), on users whose pre-exposure activity predicts their return.
#[test]
fn cuped_matches_statsmodels_on_duckdb_per_user_rows() {
    let dir = scratch_dir("cuped");
    let mut spec = Population::chai(3_000, 11);
    spec.behaviour.habitual_users = true;
    write_parquet(&spec, &RandomAllocation::new(&spec.arms), &dir).unwrap();
    let as_of = "2026-11-10";
    let report = compute_report(&DataDir::scan(&dir).unwrap(), &request(&spec, as_of)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuped_reference.py");
    let output = Command::new("python3")
        .arg(script)
        .args([
            dir.to_str().unwrap(),
            &spec.experiment,
            as_of,
            "control",
            "blend",
        ])
        .output()
        .expect("python3 runs (make test installs duckdb and statsmodels)");
    assert!(
        output.status.success(),
        "cuped_reference.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference: Value = serde_json::from_slice(&output.stdout).unwrap();
    let blend = report.arms.iter().find(|a| a.arm == "blend").unwrap();
    for k in [1usize, 3, 7] {
        let engagement = &blend.engagement[k];
        let cases = [
            (
                "retention",
                blend.retention[k].vs_control.as_ref().and_then(|v| v.cuped),
            ),
            (
                "user_messages",
                engagement
                    .vs_control_user_messages
                    .as_ref()
                    .and_then(|v| v.cuped),
            ),
            (
                "time_spent",
                engagement.vs_control.as_ref().and_then(|v| v.cuped),
            ),
        ];
        for (metric, got) in cases {
            let got = got.unwrap_or_else(|| panic!("{metric} day {k} has CUPED"));
            let want = &reference[metric][k.to_string()];
            for (name, value) in [
                ("diff", got.diff),
                ("ci_low", got.ci_low),
                ("ci_high", got.ci_high),
                ("p_value", got.p_value),
                ("variance_reduction", got.variance_reduction),
            ] {
                let expected = want[name].as_f64().unwrap();
                assert!(
                    (value - expected).abs() <= 1e-8 * expected.abs().max(1e-12),
                    "{metric} day {k} {name}: {value} vs statsmodels {expected}"
                );
            }
        }
        // Habitual users' pre-exposure days predict their return: CUPED removes variance.
        let reduction = blend.retention[k]
            .vs_control
            .as_ref()
            .unwrap()
            .cuped
            .unwrap();
        assert!(
            reduction.variance_reduction > 0.05,
            "day {k}: {reduction:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
