//! User attributes: given on a chat request, stored with the first exposure, kept when later
//! requests say otherwise, exported as `attr_<name>` columns and read back by the report.

use blendlab_analytics::{compute_report, DataDir};
use blendlab_server::reporting::export;
use blendlab_server::reporting::source::request_for;
use blendlab_store::Store;
use blendlab_tests::{example_definition, spawn_app, TestApp};
use chrono::Utc;
use polars::prelude::*;
use serde_json::{json, Value};

async fn chat_with(app: &TestApp, user: &str, attributes: Value) -> (u16, Value) {
    app.post_json(
        "/api/v1/chat",
        &json!({
            "experiment": "chai-blend", "user_id": user, "message": "Hi", "max_tokens": 1,
            "attributes": attributes,
        }),
    )
    .await
}

async fn completion_with(app: &TestApp, user: &str, metadata: Value) -> (u16, Value) {
    app.post_json(
        "/v1/chat/completions",
        &json!({
            "model": "chai-blend", "user": user, "max_tokens": 1, "metadata": metadata,
            "messages": [{ "role": "user", "content": "Hi" }],
        }),
    )
    .await
}

async fn stored_attributes(app: &TestApp, user: &str) -> Value {
    let rows = app
        .db_rows(&format!(
            "SELECT attributes FROM assignments WHERE user_id = '{user}'"
        ))
        .await;
    match &rows[0][0] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}

// polars' Parquet reader blocks in place, which needs the multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_are_stored_with_the_first_exposure_and_exported_as_columns() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;

    let (status, body) =
        chat_with(&app, "u-ios", json!({"platform": "ios", "locale": "en-GB"})).await;
    assert_eq!(status, 200, "{body}");
    // A later request's attributes change nothing: the exposure happened as it happened.
    let (status, body) = chat_with(&app, "u-ios", json!({"platform": "web"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stored_attributes(&app, "u-ios").await,
        json!({"platform": "ios", "locale": "en-GB"})
    );

    // The OpenAI endpoint takes them in metadata, as an object or as that object in a string.
    let (status, body) = completion_with(
        &app,
        "u-android",
        json!({"attributes": {"platform": "android"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = completion_with(
        &app,
        "u-string",
        json!({"attributes": "{\"platform\": \"web\"}"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = chat_with(&app, "u-none", Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stored_attributes(&app, "u-android").await,
        json!({"platform": "android"})
    );
    assert_eq!(
        stored_attributes(&app, "u-string").await,
        json!({"platform": "web"})
    );
    assert_eq!(stored_attributes(&app, "u-none").await, Value::Null);

    let store = Store::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    let out = app.db_path.with_file_name("warehouse");
    let today = Utc::now().date_naive();
    export::export(&store, &out, today, today).await.unwrap();
    let file = std::fs::File::open(out.join("assignments.parquet")).unwrap();
    let exported = ParquetReader::new(file)
        .finish()
        .unwrap()
        .sort(["user_id"], SortMultipleOptions::default())
        .unwrap();
    let column = |name: &str| -> Vec<Option<String>> {
        let values = exported.column(name).unwrap().str().unwrap().clone();
        (0..values.len())
            .map(|i| values.get(i).map(str::to_owned))
            .collect()
    };
    let users: Vec<Option<String>> = column("user_id");
    assert_eq!(
        users,
        ["u-android", "u-ios", "u-none", "u-string"].map(|u| Some(u.to_owned()))
    );
    let some = |v: &str| Some(v.to_owned());
    assert_eq!(
        column("attr_platform"),
        [some("android"), some("ios"), None, some("web")]
    );
    assert_eq!(column("attr_locale"), [None, some("en-GB"), None, None]);

    // Read back: the report over the export sees them, and still equals the store's.
    let frames = DataDir::scan(&out).unwrap();
    assert_eq!(frames.attributes, ["locale", "platform"]);
    let definition = serde_json::from_value(example_definition()).unwrap();
    let report = compute_report(&frames, &request_for(&definition, today).unwrap()).unwrap();
    assert_eq!(report.arms.iter().map(|a| a.users).sum::<u64>(), 4);

    // Over HTTP, the store's report has a segment per value of each attribute, users without
    // one included, and they are the export's.
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/experiments/chai-blend/report?as_of={today}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let segments: Vec<(String, String, u64)> = body["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| {
            let name = |key: &str| s[key].as_str().unwrap().to_owned();
            (
                name("attribute"),
                name("value"),
                s["users"].as_u64().unwrap(),
            )
        })
        .collect();
    let segment =
        |attribute: &str, value: &str, users| (attribute.to_owned(), value.to_owned(), users);
    assert_eq!(
        segments,
        [
            segment("locale", "", 3),
            segment("locale", "en-GB", 1),
            segment("platform", "", 1),
            segment("platform", "android", 1),
            segment("platform", "ios", 1),
            segment("platform", "web", 1),
        ]
    );
    blendlab_analytics::compare::assert_reports_match(
        &body["segments"],
        &serde_json::to_value(&report.segments).unwrap(),
    );
}

#[tokio::test]
async fn malformed_attributes_get_400_naming_the_problem_and_store_nothing() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let too_many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("a{i}"), json!("x"))).collect();
    let cases = [
        (json!({"Platform": "ios"}), "attribute name \"Platform\""),
        (json!({"platform": ""}), "\"platform\" has 0 characters"),
        (Value::Object(too_many), "21 keys; the limit is 20"),
        (json!({"platform": 3}), "attributes"),
        (json!(["ios"]), "attributes"),
    ];
    for (attributes, message) in cases {
        let (status, body) = chat_with(&app, "u-bad", attributes.clone()).await;
        assert_eq!(status, 400, "{attributes}: {body}");
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(message),
            "{attributes}: {text:?} names {message:?}"
        );
    }
    for metadata in [
        json!({"attributes": 3}),
        json!({"attributes": {"Platform": "ios"}}),
        json!({"attributes": "not json"}),
    ] {
        let (status, body) = completion_with(&app, "u-bad", metadata.clone()).await;
        assert_eq!(status, 400, "{metadata}: {body}");
        assert_eq!(body["error"]["param"], json!("metadata"), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("metadata.attributes"),
            "{body}"
        );
    }
    let stored = app.db_rows("SELECT COUNT(*) FROM assignments").await;
    assert_eq!(
        stored[0],
        vec![json!(0)],
        "a refused request stores no exposure"
    );
}
