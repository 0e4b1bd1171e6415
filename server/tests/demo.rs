//! The real `blendlab` binary runs the demo end to end: server, experiment, blended conversation.

use std::process::Command;

#[test]
fn the_demo_serves_a_blended_conversation_and_logs_it() {
    let dir = std::env::temp_dir().join(format!("blendlab-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("demo.db");
    let output = Command::new(env!("CARGO_BIN_EXE_blendlab"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["demo", "--bind", "127.0.0.1:0", "--exit", "--turns", "4"])
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("admin token"), "{stdout}");
    assert!(
        stdout.contains("is in arm 'blend'") && stdout.contains("is in arm 'control'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logged: 8 messages in arm 'blend'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logged: 4 messages in arm 'control'"),
        "{stdout}"
    );
    assert!(db.exists(), "the SQLite file was created");
    let _ = std::fs::remove_dir_all(&dir);
}
