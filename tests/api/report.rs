use blendlab_tests::{example_definition, spawn_app};
use serde_json::{json, Value};

#[tokio::test]
async fn the_report_over_the_store_counts_real_chats_from_both_arms() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    for user in ["reader-1", "reader-2", "reader-3", "reader-4"] {
        let (status, body) = app.chat("chai-blend", user, None, "Hello!", 4).await;
        assert_eq!(status, 200, "{body}");
    }
    let today = app.last_traffic_day().await;
    let (status, report) = app
        .get_json(&format!(
            "/api/v1/experiments/chai-blend/report?as_of={today}"
        ))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["experiment"], "chai-blend");
    assert_eq!(report["control"], "control");
    assert_eq!(report["as_of"], today.to_string());
    let arms = report["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2);
    let users: u64 = arms.iter().map(|a| a["users"].as_u64().unwrap()).sum();
    assert_eq!(users, 4);
    for arm in arms {
        let day0 = &arm["retention"][0];
        assert_eq!(day0["eligible"], arm["users"], "{arm}");
        assert_eq!(
            day0["retained"], arm["users"],
            "every user chatted today: {arm}"
        );
        assert_eq!(
            arm["guardrails"]["messages"].as_u64().unwrap(),
            2 * arm["users"].as_u64().unwrap()
        );
        assert!(arm["guardrails"]["latency_p50_ms"].as_f64().unwrap() > 0.0);
    }
    // Day 1 is eligible only for users exposed before the report's day: none, unless the
    // traffic crossed midnight.
    let day1_eligible: u64 = arms
        .iter()
        .map(|arm| arm["retention"][1]["eligible"].as_u64().unwrap())
        .sum();
    assert_eq!(
        day1_eligible,
        app.exposed_before(today).await,
        "tomorrow is not eligible yet"
    );
    assert!(report["srm"]["p_value"].as_f64().unwrap() > 0.0);
    // Every served reply logs its draw probability, so the blend can be evaluated off-policy;
    // the single-model control says why it cannot.
    let (status, report) = app
        .get_json(&format!(
            "/api/v1/experiments/chai-blend/report?as_of={today}&evaluate_policy=weighted:2,1,1;only:small-b"
        ))
        .await;
    assert_eq!(status, 200, "{report}");
    let arm = |name: &str| {
        report["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["arm"] == name)
            .cloned()
            .unwrap()
    };
    assert!(arm("control")["policy_values"].is_null());
    assert!(arm("control")["policy_values_reason"].is_string());
    let blend = arm("blend");
    if blend["users"].as_u64().unwrap() > 0 {
        assert!(blend["policy_values"].is_array(), "{blend}");
        assert!(blend["policy_values_reason"].is_null(), "{blend}");
    }
}

#[tokio::test]
async fn the_report_comes_as_markdown_and_html_too() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (status, _) = app.chat("chai-blend", "formats", None, "Hi", 4).await;
    assert_eq!(status, 200);
    for (format, content_type, marker) in [
        ("md", "text/markdown", "## Retention"),
        ("html", "text/html", "<svg"),
    ] {
        let response = app
            .admin(
                reqwest::Method::GET,
                &format!("/api/v1/experiments/chai-blend/report?format={format}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let header = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.starts_with(content_type), "{header}");
        assert!(response.text().await.unwrap().contains(marker));
    }
}

#[tokio::test]
async fn report_requests_with_mistakes_get_clear_4xx_errors() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (status, body) = app.get_json("/api/v1/experiments/chai-blend/report").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("no_exposures")),
        "{body}"
    );

    let (status, _) = app.chat("chai-blend", "early", None, "Hi", 4).await;
    assert_eq!(status, 200);
    let (status, body) = app
        .get_json("/api/v1/experiments/chai-blend/report?as_of=2020-01-01")
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("before the experiment's first exposure"),
        "{body}"
    );

    let cases: [(&str, u16); 5] = [
        ("/api/v1/experiments/nope/report", 404),
        ("/api/v1/experiments/chai-blend/report?as_of=yesterday", 400),
        ("/api/v1/experiments/chai-blend/report?format=pdf", 400),
        (
            "/api/v1/experiments/chai-blend/report?evaluate_policy=greedy",
            400,
        ),
        (
            "/api/v1/experiments/chai-blend/report?evaluate_policy=weighted:1,-1",
            400,
        ),
    ];
    for (path, want) in cases {
        let (status, body): (u16, Value) = app.get_json(path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    let anonymous = reqwest::get(app.url("/api/v1/experiments/chai-blend/report"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
