//! Real OpenAI clients written elsewhere, unchanged, against the running server: the official
//! `openai` Python package (installed by `make pydeps`).

use blendlab_tests::{example_definition, spawn_app, ADMIN_TOKEN};

#[tokio::test]
async fn the_official_openai_python_client_works_unchanged() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/openai_python.py");
    let output = tokio::process::Command::new("python3")
        .args([script, &app.address, ADMIN_TOKEN])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the openai client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
