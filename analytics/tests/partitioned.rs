//! The report computed one group of users at a time (`BLENDLAB_REPORT_PARTITIONS`, for logs
//! larger than memory) is the single pass's report: counts exactly, floats to 1e-9. (The only
//! test in this binary, since it sets the variable.)

use blendlab_analytics::compare::assert_reports_match;
use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, DataDir};
use blendlab_simulator::synthetic::{write_parquet, Population, RandomAllocation};

mod common;

#[test]
fn the_report_in_user_groups_equals_the_single_pass() {
    let dir = std::env::temp_dir().join(format!("blendlab-partitioned-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut spec = Population::chai(3_000, 11);
    spec.behaviour.continuation_spread = 0.9;
    let written = write_parquet(&spec, &RandomAllocation::new(&spec.arms), &dir).unwrap();
    assert!(written.messages > 50_000, "{written:?}");
    let request = ReportRequest {
        experiment: spec.experiment.clone(),
        as_of: "2026-11-20".parse().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: vec!["weighted:2,1,1".into()],
        // Guardrails on per-user cost sums, which the groups must add up.
        decision: common::cost_guardrail_rules(),
    };
    let report = |partitions: u32| {
        blendlab_analytics::collect::set_collection(blendlab_analytics::collect::Collection {
            streaming: true,
            partitions,
        });
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
    assert!(
        blend["guardrail_tests"][0]["p_value"].is_number(),
        "{blend}"
    );
    assert!(
        blend["guardrail_tests"][1]["p_value"].is_number(),
        "{blend}"
    );
    assert!(blend["decision"]["verdict"].is_string(), "{blend}");
    // Per-user cells and policy values too: 5 policies (uniform, only x3, no_repeat, weighted)
    // by 3 estimators.
    assert_eq!(
        blend["policy_values"].as_array().unwrap().len(),
        18,
        "{blend}"
    );
    for partitions in [2, 7] {
        assert_reports_match(&report(partitions), &single);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
