//! The report computed one group of users at a time (`BLENDLAB_REPORT_PARTITIONS`, for logs
//! larger than memory) is the single pass's report: counts exactly, floats to 1e-9. (The only
//! test in this binary, since it sets the variable.)

use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::simulation::{write_parquet, Population, RandomAllocation};
use blendlab_analytics::{compute_report, DataDir};
use serde_json::Value;

fn assert_same(path: &str, left: &Value, right: &Value) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            assert_eq!(l.len(), r.len(), "{path}: keys differ");
            for (key, value) in l {
                assert_same(&format!("{path}.{key}"), value, &r[key]);
            }
        }
        (Value::Array(l), Value::Array(r)) => {
            assert_eq!(l.len(), r.len(), "{path}: lengths differ");
            for (i, (a, b)) in l.iter().zip(r).enumerate() {
                assert_same(&format!("{path}[{i}]"), a, b);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{path}: {a} vs {b}"
            );
        }
        _ => assert_eq!(left, right, "{path}"),
    }
}

#[test]
fn the_report_in_user_groups_equals_the_single_pass() {
    let dir = std::env::temp_dir().join(format!("blendlab-partitioned-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec = Population::chai(3_000, 11);
    let written = write_parquet(&spec, &RandomAllocation::new(&spec.arms), &dir).unwrap();
    assert!(written.messages > 50_000, "{written:?}");
    let request = ReportRequest {
        experiment: spec.experiment.clone(),
        as_of: "2026-11-20".parse().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
    };
    let report = |partitions: u32| {
        std::env::set_var("BLENDLAB_REPORT_PARTITIONS", partitions.to_string());
        let report = compute_report(&DataDir::scan(&dir).unwrap(), &request).unwrap();
        serde_json::to_value(report).unwrap()
    };
    let single = report(1);
    // The report has every part the groups must combine: attribution, latency, conversations.
    let blend = &single["arms"][1];
    assert!(
        !blend["attribution"].as_array().unwrap().is_empty(),
        "{blend}"
    );
    assert!(blend["guardrails"]["latency_p95_ms"].is_number(), "{blend}");
    for partitions in [2, 7] {
        assert_same("report", &report(partitions), &single);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
