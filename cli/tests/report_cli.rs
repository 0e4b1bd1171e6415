//! The real `blendlab report`, `plan` and `bench analytics` on a generated Parquet log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use blendlab_simulator::synthetic::{write_parquet, Population, RandomAllocation};
use blendlab_tests::TempDir;
use serde_json::Value;

fn blendlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blendlab"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn generated_log(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("cli-{name}"));
    let population = Population::chai(3_000, 11);
    write_parquet(&population, &RandomAllocation::new(&population.arms), &dir).unwrap();
    dir
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let meta = entry.as_ref().unwrap().metadata().unwrap();
            (
                entry.unwrap().path(),
                (meta.len(), meta.modified().unwrap()),
            )
        })
        .collect()
}

#[test]
fn report_over_a_data_directory_is_a_pure_read_in_every_format() {
    let dir = generated_log("formats");
    let before = snapshot(&dir);
    let data = dir.to_str().unwrap();
    let common = [
        "report",
        "--experiment",
        "chai-blend",
        "--as-of",
        "2026-11-30",
        "--data",
        data,
    ];
    let json = blendlab(
        &[
            &common[..],
            &["--format", "json", "--evaluate-policy", "weighted:2,1,1"],
        ]
        .concat(),
    );
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["arms"][0]["arm"], "control");
    assert_eq!(report["arms"][1]["arm"], "blend");
    let ratio_d1 = report["arms"][1]["retention"][1]["vs_control"]["ratio"]
        .as_f64()
        .unwrap();
    assert!(
        ratio_d1 > 1.0,
        "the blend was generated with +10% daily return: {ratio_d1}"
    );
    assert_eq!(
        report["arms"][1]["attribution"].as_array().unwrap().len(),
        3
    );
    let values = report["arms"][1]["policy_values"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|v| v["policy"] == "weighted:2,1,1" && v["estimator"] == "dr"),
        "{values:?}"
    );

    let html_path = dir
        .join("..")
        .join(format!("blendlab-report-{}.html", std::process::id()));
    let html = blendlab(
        &[
            &common[..],
            &["--format", "html", "--out", html_path.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        html.status.success(),
        "{}",
        String::from_utf8_lossy(&html.stderr)
    );
    let page = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        page.contains("<svg")
            && page.contains("class=\"band\"")
            && page.contains("Retention ratio to control")
    );
    std::fs::remove_file(html_path).unwrap();

    let md = blendlab(&[&common[..], &["--format", "md"]].concat());
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(
        text.contains("| blend | 7 |")
            && text.contains("## Blend components")
            && text.contains("### What if: other blend policies in `blend`"),
        "{text}"
    );

    assert_eq!(
        snapshot(&dir),
        before,
        "report --data wrote into the data directory"
    );
}

#[test]
fn report_errors_name_the_experiment_and_the_date() {
    let dir = generated_log("errors");
    let data = dir.to_str().unwrap();
    let unknown = blendlab(&[
        "report",
        "--experiment",
        "nope",
        "--as-of",
        "2026-11-30",
        "--data",
        data,
    ]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("experiment `nope` has no assignments")
    );
    let early = blendlab(&[
        "report",
        "--experiment",
        "chai-blend",
        "--as-of",
        "2020-01-01",
        "--data",
        data,
    ]);
    assert!(String::from_utf8_lossy(&early.stderr)
        .contains("as_of 2020-01-01 is before the experiment's first exposure"));
    let missing = blendlab(&[
        "report",
        "--experiment",
        "chai-blend",
        "--as-of",
        "2026-11-30",
        "--data",
        "/nonexistent",
    ]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent: not found"));
    let policy = blendlab(&[
        "report",
        "--experiment",
        "chai-blend",
        "--as-of",
        "2026-11-30",
        "--data",
        data,
        "--evaluate-policy",
        "weighted:1,x",
    ]);
    assert!(!policy.status.success());
    assert!(
        String::from_utf8_lossy(&policy.stderr).contains("weights must be non-negative numbers"),
        "{}",
        String::from_utf8_lossy(&policy.stderr)
    );
}

#[test]
fn plan_gives_users_per_arm_and_days() {
    let output = blendlab(&[
        "plan",
        "--baseline",
        "0.15",
        "--lift",
        "0.10",
        "--daily-users",
        "1000",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let per_arm = plan["users_per_arm"].as_f64().unwrap();
    assert!((8_000.0..12_000.0).contains(&per_arm), "{plan}");
    assert_eq!(
        plan["days"].as_f64().unwrap(),
        (2.0 * per_arm / 1000.0).ceil()
    );
    let bad = blendlab(&["plan", "--baseline", "1.5", "--lift", "0.1"]);
    assert!(!bad.status.success());
}

#[test]
fn plan_takes_cuped_variance_reduction() {
    let args = ["plan", "--baseline", "0.15", "--lift", "0.10", "--json"];
    let plain: Value = serde_json::from_slice(&blendlab(&args).stdout).unwrap();
    let with = blendlab(&[&args[..], &["--variance-reduction", "0.3"]].concat());
    let adjusted: Value = serde_json::from_slice(&with.stdout).unwrap();
    let (before, after) = (
        plain["users_per_arm"].as_f64().unwrap(),
        adjusted["users_per_arm"].as_f64().unwrap(),
    );
    assert_eq!(adjusted["users_per_arm_unadjusted"].as_f64(), Some(before));
    assert!((after - (0.7 * before).ceil()).abs() <= 1.0, "{adjusted}");
    let bad = blendlab(&[&args[..], &["--variance-reduction", "1.0"]].concat());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--variance-reduction"));
}

#[test]
fn report_with_a_state_directory_keeps_finished_days_and_reports_the_same() {
    let dir = generated_log("state");
    let state = dir.with_extension("state");
    let _ = std::fs::remove_dir_all(&state);
    let before = snapshot(&dir);
    // The generated log runs from 2026-10-01: every day before 2026-10-20 is long over.
    let report = |extra: &[&str]| {
        let output = blendlab(
            &[
                &[
                    "report",
                    "--experiment",
                    "chai-blend",
                    "--as-of",
                    "2026-10-20",
                    "--data",
                    dir.to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        (json, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (one_pass, _) = report(&[]);
    let with_state = ["--state", state.to_str().unwrap()];
    let (first, first_log) = report(&with_state);
    assert!(
        first_log.contains("0 read from the state directory, 19 computed and kept"),
        "{first_log}"
    );
    let (second, second_log) = report(&with_state);
    assert!(
        second_log.contains("19 read from the state directory, 0 computed and kept"),
        "{second_log}"
    );
    blendlab_analytics::compare::assert_reports_match(&first, &one_pass);
    blendlab_analytics::compare::assert_reports_match(&second, &one_pass);
    assert_eq!(snapshot(&dir), before, "the data directory is only read");
    assert!(state.join("v1").join("chai-blend").is_dir());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&state);
}
