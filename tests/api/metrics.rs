//! `/metrics` in Prometheus' text format, read by Prometheus' own Python parser, with numbers
//! that match the traffic sent; and the request id the logs carry comes back as `x-request-id`.

use std::collections::HashMap;

use blendlab_tests::{example_definition, spawn_app};

/// Every sample as `name{sorted labels}` -> value, parsed by `prometheus_client`.
fn parse_with_prometheus_client(text: &str) -> HashMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the parser refused the exposition:\n{text}"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_exposures_as_sent() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let mut completion_tokens: HashMap<String, f64> = HashMap::new();
    let mut exposed: HashMap<String, f64> = HashMap::new();
    for user in ["m1", "m2", "m3"] {
        let (status, turn) = app.chat("chai-blend", user, None, "Hello!", 4).await;
        assert_eq!(status, 200, "{turn}");
        *completion_tokens
            .entry(turn["model"].as_str().unwrap().into())
            .or_default() += turn["usage"]["completion_tokens"].as_f64().unwrap();
        *exposed
            .entry(turn["arm"].as_str().unwrap().into())
            .or_default() += 1.0;
    }
    // A second turn of m1 exposes nobody new.
    let (_, again) = app.chat("chai-blend", "m1", None, "Again", 2).await;
    *completion_tokens
        .entry(again["model"].as_str().unwrap().into())
        .or_default() += again["usage"]["completion_tokens"].as_f64().unwrap();
    let unauthorised = app
        .client
        .get(app.url("/api/v1/experiments"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let request_id = unauthorised.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
    for _ in 0..2 {
        let (status, _) = app.get_json("/api/v1/conversations/unknown-one").await;
        assert_eq!(status, 404);
    }

    let errors_before = blendlab_store::database_errors();
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let errors_after = blendlab_store::database_errors();
    let samples = parse_with_prometheus_client(&text);
    let get = |key: &str| {
        samples
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
    };

    assert_eq!(
        get("blendlab_http_requests_total{method=POST,route=/api/v1/chat,status=200}"),
        4.0
    );
    assert_eq!(
        get("blendlab_http_requests_total{method=GET,route=/api/v1/experiments,status=401}"),
        1.0
    );
    // Ids are not labels: both unknown conversations count under the route pattern.
    assert_eq!(
        get("blendlab_http_requests_total{method=GET,route=/api/v1/conversations/{conversation_id},status=404}"),
        2.0
    );
    assert_eq!(
        get("blendlab_http_request_duration_seconds_count{route=/api/v1/chat}"),
        4.0
    );
    assert_eq!(
        get("blendlab_http_request_duration_seconds_bucket{le=+Inf,route=/api/v1/chat}"),
        4.0
    );
    assert!(get("blendlab_http_request_duration_seconds_sum{route=/api/v1/chat}") > 0.0);
    for (model, tokens) in &completion_tokens {
        assert_eq!(
            get(&format!(
                "blendlab_tokens_total{{direction=out,model={model}}}"
            )),
            *tokens
        );
        assert!(
            get(&format!(
                "blendlab_tokens_total{{direction=in,model={model}}}"
            )) > 0.0
        );
        assert_eq!(
            get(&format!("blendlab_replies_in_progress{{model={model}}}")),
            0.0
        );
    }
    for (arm, users) in &exposed {
        assert_eq!(
            get(&format!(
                "blendlab_exposures_total{{arm={arm},experiment=chai-blend}}"
            )),
            *users
        );
    }
    assert_eq!(get("blendlab_chat_admitted{}"), 0.0);
    assert_eq!(get("blendlab_chat_capacity{}"), 32.0);
    // The process-wide counter, which other tests running meanwhile may move: the exposition
    // shows the value it had between the two reads around the request.
    let errors = get("blendlab_database_errors_total{}");
    assert!(
        (errors_before as f64..=errors_after as f64).contains(&errors),
        "{errors} not in {errors_before}..={errors_after}"
    );
    // Every model has a catch-up gauge; the control's single model is nobody's blend component.
    for model in ["large", "small-a", "small-b", "small-c"] {
        let pending = get(&format!("blendlab_catch_ups_pending{{model={model}}}"));
        assert!(
            pending.fract() == 0.0 && pending >= 0.0,
            "{model}: {pending}"
        );
    }
    assert_eq!(get("blendlab_catch_ups_pending{model=large}"), 0.0);
}
