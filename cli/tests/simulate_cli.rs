//! The real `blendlab simulate` into Parquet and into SQLite, read back by `blendlab report`.

use std::process::{Command, Output};

use blendlab_experiments::{Experiment, ExperimentDefinition};
use blendlab_tests::TempDir;
use polars::prelude::*;
use serde_json::Value;

fn blendlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blendlab"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scratch(name: &str) -> TempDir {
    TempDir::new(&format!("sim-{name}"))
}

const COMMON: [&str; 10] = [
    "simulate",
    "--users",
    "1500",
    "--days",
    "10",
    "--horizon",
    "10",
    "--seed",
    "4",
    "--lift",
];

fn simulate(target: &[&str]) -> Output {
    let fixed = [
        "blend=0.2",
        "--start",
        "2026-09-01",
        "--continuation",
        "small-a=0.9",
    ];
    blendlab(&[&COMMON[..], &fixed[..], target].concat())
}

fn report(source: &[&str]) -> Value {
    let args = [
        "report",
        "--experiment",
        "chai-blend",
        "--as-of",
        "2026-09-20",
    ];
    let json = ok(&blendlab(&[&args[..], source].concat()));
    serde_json::from_str(&json).unwrap()
}

/// Retention counts and engagement means of every arm and day, the parts both sources share.
/// Per arm and day: eligible, retained, and mean time spent to 6 decimals (the two readers sum
/// in different orders, so the last bits of a mean may differ).
fn retention(report: &Value) -> Vec<(String, u64, u64, u64, String)> {
    let mut rows = Vec::new();
    for arm in report["arms"].as_array().unwrap() {
        for (day, eng) in arm["retention"]
            .as_array()
            .unwrap()
            .iter()
            .zip(arm["engagement"].as_array().unwrap())
        {
            rows.push((
                arm["arm"].as_str().unwrap().to_owned(),
                day["day"].as_u64().unwrap(),
                day["eligible"].as_u64().unwrap(),
                day["retained"].as_u64().unwrap(),
                format!(
                    "{:.6}",
                    eng["mean_time_spent_s"].as_f64().unwrap_or(f64::NAN)
                ),
            ));
        }
    }
    rows
}

#[test]
fn parquet_and_store_hold_the_same_simulated_history() {
    let dir = scratch("both");
    let data = dir.join("data");
    let printed = ok(&simulate(&["--out", data.to_str().unwrap()]));
    assert!(printed.contains("simulated 1500 users"), "{printed}");

    // Marked as simulated; every user in the arm the experiment's own hashing gives.
    let file = std::fs::File::open(data.join("assignments.parquet")).unwrap();
    let assignments = ParquetReader::new(file).finish().unwrap();
    assert_eq!(assignments.height(), 1500);
    assert!(assignments
        .column("simulated")
        .unwrap()
        .bool()
        .unwrap()
        .all());
    let definition = ExperimentDefinition::from_toml(include_str!(
        "../../experiments/definitions/chai-blend.toml"
    ))
    .unwrap();
    let experiment = Experiment::parse(definition, |_| true).unwrap();
    let users = assignments.column("user_id").unwrap().str().unwrap();
    let arms = assignments.column("arm").unwrap().str().unwrap();
    for (user, arm) in users.iter().zip(arms.iter()) {
        let want = experiment.assign(user.unwrap()).unwrap();
        assert_eq!(want.name.as_str(), arm.unwrap());
    }

    let db = format!("sqlite://{}", dir.join("sim.db").display());
    let printed = ok(&simulate(&["--db", &db]));
    assert!(printed.contains("simulated 1500 users"), "{printed}");
    let from_parquet = report(&["--data", data.to_str().unwrap()]);
    let from_store = report(&["--db", &db]);
    assert_eq!(retention(&from_parquet), retention(&from_store));
    let blend = &from_store["arms"][1];
    assert_eq!(blend["arm"], "blend");
    assert!(
        blend["retention"][1]["vs_control"]["ratio"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    // Attribution sees small-a's higher continuation.
    let attribution = blend["attribution"].as_array().unwrap();
    let continuation = |model: &str| {
        attribution.iter().find(|c| c["model"] == model).unwrap()["continuation"]["mean"]
            .as_f64()
            .unwrap()
    };
    assert!(
        continuation("small-a") > continuation("small-b") + 0.05,
        "{attribution:?}"
    );

    // The same seed again would duplicate users: refused, and nothing is written.
    let again = simulate(&["--db", &db]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("choose another --seed"));
    assert_eq!(retention(&report(&["--db", &db])), retention(&from_store));
}

#[test]
fn bad_flags_are_named() {
    let dir = scratch("flags");
    let out = dir.join("x");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--lift", "nope=0.1", "--out", out], "no arm \"nope\""),
        (
            vec!["--lift", "blend", "--out", out],
            "expected NAME=NUMBER",
        ),
        (vec!["--lift", "blend=-2", "--out", out], "above -1"),
        (
            vec!["--continuation", "small-a=1.5", "--out", out],
            "[0, 1)",
        ),
        (
            vec!["--continuation", "ghost=0.5", "--out", out],
            "no arm uses model",
        ),
        (vec!["--users", "0", "--out", out], "--users"),
        (vec!["--users", "10"], "--out DIR, --db URL or --live URL"),
        (
            vec!["--definition", "missing.toml", "--out", out],
            "missing.toml",
        ),
    ] {
        let output = blendlab(&[&["simulate"][..], &args].concat());
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(!std::path::Path::new(out).exists());
}

/// The store holds the simulated history's snapshots, oldest first, and each one's counts are
/// what the server counts from the stored rows at its cut-off: a server taking over from the
/// seeded history computes its next versions by the same arithmetic.
fn simulated_snapshots_count_what_the_store_counts(db: &str, first_logged_version: &i64) {
    use blendlab_experiments::Reward;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = blendlab_store::Store::connect(db).await.unwrap();
        let snapshots = store.policy_snapshots("chai-blend", "blend").await.unwrap();
        assert!(snapshots.len() > 20, "{} snapshots", snapshots.len());
        assert!(snapshots[0].version <= *first_logged_version);
        assert!(snapshots.windows(2).all(|w| w[0].version < w[1].version));
        let models: Vec<String> = snapshots[0]
            .models
            .iter()
            .map(|m| m.model.clone())
            .collect();
        assert_eq!(models, ["small-a", "small-b", "small-c"]);
        let step = snapshots.len() / 8;
        for snapshot in snapshots.iter().step_by(step.max(1)) {
            let counted = store
                .reward_counts(
                    "chai-blend",
                    "blend",
                    &models,
                    Reward::Continuation,
                    snapshot.cutoff,
                )
                .await
                .unwrap();
            let simulated: Vec<(u64, u64)> = snapshot
                .models
                .iter()
                .map(|m| (m.successes, m.failures))
                .collect();
            let stored: Vec<(u64, u64)> =
                counted.iter().map(|c| (c.successes, c.failures)).collect();
            assert_eq!(simulated, stored, "version {}", snapshot.version);
        }
    });
}

/// The example with its blend adaptive: simulated history learns from its own outcomes on the
/// refresh interval, the same into Parquet as into the store.
#[test]
fn an_adaptive_blend_is_simulated_learning_from_its_own_outcomes() {
    let dir = scratch("adaptive");
    let definition = dir.join("adaptive.toml");
    let text = include_str!("../../experiments/definitions/chai-blend.toml").replace(
        "policy = \"uniform\"",
        "policy = \"thompson\"\nmin_probability = 0.05",
    );
    assert!(text.contains("thompson"), "the example names its policy");
    std::fs::write(&definition, text).unwrap();
    let data = dir.join("data");
    let db = format!("sqlite://{}", dir.join("sim.db").display());
    let adaptive = |target: &[&str]| {
        let fixed = [
            "blend=0.2",
            "--start",
            "2026-09-01",
            "--continuation",
            "small-a=0.9",
            "--policy-refresh-s",
            "600",
            "--definition",
            definition.to_str().unwrap(),
        ];
        ok(&blendlab(&[&COMMON[..], &fixed[..], target].concat()))
    };
    assert!(adaptive(&["--out", data.to_str().unwrap()]).contains("simulated 1500 users"));
    assert!(adaptive(&["--db", &db]).contains("simulated 1500 users"));

    // The blend's replies: their logged probabilities move, towards small-a.
    let file = std::fs::File::open(data.join("messages.parquet")).unwrap();
    let messages = ParquetReader::new(file).finish().unwrap();
    let replies = messages
        .lazy()
        .filter(
            col("model")
                .is_not_null()
                .and(col("model").neq(lit("large"))),
        )
        .sort(["created_at"], Default::default())
        .collect()
        .unwrap();
    let models = replies.column("model").unwrap().str().unwrap();
    let probabilities = replies.column("choice_prob").unwrap().f64().unwrap();
    let mut small_a = Vec::new();
    for (model, p) in models.iter().zip(probabilities.iter()) {
        let p = p.unwrap();
        assert!(p >= 0.05 - 1e-12, "a floor broken: {p}");
        if model == Some("small-a") {
            small_a.push(p);
        }
    }
    let early = small_a.iter().take(200).sum::<f64>() / 200.0;
    let late = small_a.iter().rev().take(200).sum::<f64>() / 200.0;
    assert!(
        late > 0.8 && late > early + 0.2,
        "small-a's probability grows as its outcomes come in: {early} -> {late}"
    );
    assert!(
        small_a.iter().any(|p| (p - 1.0 / 3.0).abs() < 1e-9),
        "the prior is uniform"
    );

    let versions = replies.column("policy_version").unwrap().i64().unwrap();
    assert_eq!(
        versions.null_count(),
        0,
        "every blend reply logs the snapshot it was drawn from"
    );
    simulated_snapshots_count_what_the_store_counts(&db, &versions.min().unwrap());

    let from_parquet = report(&["--data", data.to_str().unwrap()]);
    let from_store = report(&["--db", &db]);
    assert_eq!(retention(&from_parquet), retention(&from_store));
    let values = from_store["arms"][1]["policy_values"].as_array().unwrap();
    assert!(
        values.iter().any(|v| v["policy"] == "uniform"),
        "the adaptive log is evaluated off-policy: {values:?}"
    );
}
