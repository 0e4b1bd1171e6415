//! The dashboard in headless Chromium (`dashboards/tests/e2e.mjs`, playwright-core) against the
//! real server, seeded with 60 days of simulated history and three stored daily reports.
//! Screenshots land in `target/dashboard-screenshots` (or `$BLENDLAB_SCREENSHOTS`).

use std::path::{Path, PathBuf};

use blendlab_experiments::{Experiment, ExperimentDefinition};
use blendlab_server::{config::ServerConfig, reporting::daily};
use blendlab_simulator::simulate;
use blendlab_store::{PolicySnapshotRow, SnapshotModel, Store};
use blendlab_tests::{database_url, spawn_app_in, TempDir, ADMIN_TOKEN};
use chrono::{Duration, Utc};

const SEEDED_USERS: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser_against_seeded_data() {
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is missing at {chromium}: `make browser` installs it (Debian package chromium)"
    );
    assert!(
        dashboards.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: `make browser` runs npm ci in dashboards/"
    );

    // Arrange: simulated history with a true +10% lift for the blend, and stored daily reports.
    let dir = TempDir::new("dashboard");
    let url = database_url(&dir);
    let experiment = example_experiment();
    let today = Utc::now().date_naive();
    let population = simulate::demo_population(&experiment, SEEDED_USERS, today);
    simulate::seed_store(experiment, population, &url)
        .await
        .expect("seeding the store")
        .expect("a fresh store takes the seed");
    let store = Store::connect(&url).await.unwrap();
    for days_ago in 1..=3 {
        daily::compute_and_store(&store, "chai-blend", today - Duration::days(days_ago))
            .await
            .expect("a stored daily report");
    }
    seed_adaptive_draft(&store).await;
    let mut config = ServerConfig::default();
    // The three reports above are enough; a background backfill of 60 would compete.
    config.server.daily_reports = false;
    let app = spawn_app_in(dir, config).await;

    // Act: the browser session of `dashboards/tests/e2e.mjs`.
    let screenshots = std::env::var("BLENDLAB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots")
        });
    let output = tokio::process::Command::new("node")
        .arg("tests/e2e.mjs")
        .current_dir(&dashboards)
        .env("BLENDLAB_URL", &app.address)
        .env("BLENDLAB_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node runs");

    // Assert: every check of the script passed.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser checks failed ({}):\n{stdout}\n{stderr}\nscreenshots: {}",
        output.status,
        screenshots.display()
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}

/// A draft with an adaptive arm and four stored policy snapshots over the last hours, in which
/// small-a's probability grows.
async fn seed_adaptive_draft(store: &Store) {
    let definition = ExperimentDefinition::from_json(
        r#"{"key": "adaptive-blend", "name": "Adaptive blend", "control": "control", "arms": [
            {"name": "control", "weight": 0.5, "models": ["large"]},
            {"name": "adaptive", "weight": 0.5, "models": ["small-a", "small-b", "small-c"],
             "policy": "thompson"}]}"#,
    )
    .unwrap();
    store
        .insert_experiment(&definition, Utc::now())
        .await
        .unwrap();
    let now_version = Utc::now().timestamp() / 60;
    for (hours_ago, leader) in [(4, 0.4), (3, 0.6), (2, 0.75), (1, 0.9)] {
        let version = now_version - hours_ago * 60;
        let at = chrono::DateTime::from_timestamp(version * 60, 0).unwrap();
        let rest = (1.0 - leader) / 2.0;
        let model = |model: &str, probability: f64| SnapshotModel {
            model: model.into(),
            probability,
            successes: (probability * 100.0) as u64,
            failures: 10,
        };
        store
            .settle_policy_snapshot(&PolicySnapshotRow {
                experiment: "adaptive-blend".into(),
                arm: "adaptive".into(),
                version,
                cutoff: at,
                computed_at: at,
                models: vec![
                    model("small-a", leader),
                    model("small-b", rest),
                    model("small-c", rest),
                ],
            })
            .await
            .unwrap();
    }
}

fn example_experiment() -> Experiment {
    let text = include_str!("../../experiments/definitions/chai-blend.toml");
    let definition = ExperimentDefinition::from_toml(text).unwrap();
    Experiment::parse(definition, |_| true).unwrap()
}
