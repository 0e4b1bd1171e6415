//! The dashboard's own API over real HTTP: the embedded web UI, the leaderboard and exposures.

use blendlab_tests::{example_definition, spawn_app};
use chrono::Utc;
use serde_json::json;

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_at_the_root() {
    let app = spawn_app().await;
    let index = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = index.text().await.unwrap();
    assert!(html.contains(r#"src="/assets/app.js""#), "{html}");

    for (path, content_type) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(content_type));
        assert!(response.bytes().await.unwrap().len() > 1000, "{path}");
    }
    let missing = app
        .client
        .get(app.url("/assets/other.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_leaderboard_computes_today_before_the_first_daily_report_and_counts_exposures() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let mut draft = example_definition();
    draft["key"] = json!("still-a-draft");
    let (status, _) = app.post_json("/api/v1/experiments", &draft).await;
    assert_eq!(status, 201);
    let users = ["lb-1", "lb-2", "lb-3", "lb-4"];
    for user in users {
        let (status, body) = app.chat("chai-blend", user, None, "Hi!", 2).await;
        assert_eq!(status, 200, "{body}");
    }

    let traffic_day = app.last_traffic_day().await;
    let (status, board) = app.get_json("/api/v1/leaderboard").await;
    let after = Utc::now().date_naive();
    assert_eq!(status, 200, "{board}");
    let experiments = board["experiments"].as_array().unwrap();
    let running = experiments
        .iter()
        .find(|e| e["experiment"] == "chai-blend")
        .unwrap();
    // The server reads its clock during the request: the traffic's day, or the next one if
    // midnight passed since.
    let as_of: chrono::NaiveDate = running["as_of"].as_str().unwrap().parse().unwrap();
    assert!(
        (traffic_day..=after).contains(&as_of),
        "{as_of} not in {traffic_day}..={after}"
    );
    assert_eq!(running["source"], "live");
    assert_eq!(running["status"], "running");
    let arms = running["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2);
    let users_in_arms: u64 = arms.iter().map(|a| a["users"].as_u64().unwrap()).sum();
    assert_eq!(users_in_arms, users.len() as u64);
    assert!(running["computed_at"].is_string(), "{running}");
    assert_eq!(running["exposed_users"], users.len());
    let blend = arms.iter().find(|a| a["arm"] == "blend").unwrap();
    assert_eq!(blend["is_blend"], true);
    assert_eq!(blend["is_control"], false);
    assert_eq!(blend["models"], json!(["small-a", "small-b", "small-c"]));
    // Day 1 is not eligible yet for anyone exposed on the report's day.
    let d1_eligible: u64 = arms
        .iter()
        .map(|a| a["d1"]["eligible"].as_u64().unwrap())
        .sum();
    assert_eq!(d1_eligible, app.exposed_before(as_of).await);
    let control = arms.iter().find(|a| a["arm"] == "control").unwrap();
    assert_eq!(control["is_control"], true);
    assert!(control["latency_p50_ms"].as_f64().unwrap() > 0.0);

    let draft = experiments
        .iter()
        .find(|e| e["experiment"] == "still-a-draft")
        .unwrap();
    assert_eq!(draft["as_of"], json!(null));
    assert_eq!(draft["arms"], json!([]));

    let (status, exposures) = app
        .get_json("/api/v1/experiments/chai-blend/exposures")
        .await;
    assert_eq!(status, 200, "{exposures}");
    assert_eq!(exposures["users"], users.len());
    assert_eq!(exposures["arms"], json!(["control", "blend"]));
    // One entry per UTC day the store holds exposures on (one, unless the traffic crossed
    // midnight), each summing its users over arms.
    let mut stored_days: std::collections::BTreeMap<String, i64> = Default::default();
    for row in app.db_rows("SELECT assigned_at FROM assignments").await {
        let at = chrono::DateTime::from_timestamp_micros(row[0].as_i64().unwrap()).unwrap();
        *stored_days.entry(at.date_naive().to_string()).or_default() += 1;
    }
    let listed: std::collections::BTreeMap<String, i64> = exposures["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| {
            let per_arm = day["exposures"].as_object().unwrap().values();
            let users = per_arm.map(|v| v.as_i64().unwrap()).sum();
            (day["date"].as_str().unwrap().to_owned(), users)
        })
        .collect();
    assert_eq!(listed, stored_days, "{exposures}");
    assert_eq!(stored_days.values().sum::<i64>(), users.len() as i64);
    for arm in ["control", "blend"] {
        assert_eq!(
            exposures["totals"][arm],
            arms.iter().find(|a| a["arm"] == arm).unwrap()["users"]
        );
    }

    let (status, _) = app.get_json("/api/v1/experiments/absent/exposures").await;
    assert_eq!(status, 404);
}

/// A report computed for the leaderboard is reused for `live_report_ttl_s`, so page loads do not
/// each pay for a report over the whole log; once it is that old, the next load computes anew.
#[tokio::test]
async fn the_leaderboard_reuses_a_computed_report_until_it_expires() {
    let users_of = |board: &serde_json::Value| -> u64 {
        board["experiments"][0]["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["users"].as_u64().unwrap())
            .sum()
    };
    for (ttl_s, reused) in [(600, true), (0, false)] {
        let mut config = blendlab_server::config::ServerConfig::default();
        config.server.live_report_ttl_s = ttl_s;
        let app = blendlab_tests::spawn_app_with(config).await;
        app.start_experiment(&example_definition()).await;
        let (status, _) = app.chat("chai-blend", "first", None, "Hi!", 2).await;
        assert_eq!(status, 200);
        let (_, before) = app.get_json("/api/v1/leaderboard").await;
        assert_eq!(users_of(&before), 1, "{before}");
        let (status, _) = app.chat("chai-blend", "second", None, "Hi!", 2).await;
        assert_eq!(status, 200);
        let (_, after) = app.get_json("/api/v1/leaderboard").await;
        let same_report =
            after["experiments"][0]["computed_at"] == before["experiments"][0]["computed_at"];
        assert_eq!(same_report, reused, "ttl {ttl_s} s: {before} then {after}");
        assert_eq!(
            users_of(&after),
            if reused { 1 } else { 2 },
            "ttl {ttl_s} s"
        );
    }
}
