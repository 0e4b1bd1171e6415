//! The real `blendlab` binary runs the demo end to end: simulated history, server, experiment,
//! blended conversations with the real model, the report.

use std::process::Command;

#[test]
fn the_demo_serves_a_blended_conversation_and_logs_it() {
    let dir = std::env::temp_dir().join(format!("blendlab-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("demo.db");
    let html = dir.join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_blendlab"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["demo", "--bind", "127.0.0.1:0", "--exit", "--turns", "4"])
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(["--history-users", "2000", "--report-html"])
        .arg(&html)
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
    assert!(stdout.contains("Seeded 2000 simulated users"), "{stdout}");
    // The report covers history and the live users: 2000 simulated plus the two demo users.
    let headline = stdout
        .split("Report as of")
        .nth(1)
        .expect("a report headline");
    let users: u64 = ["control", "blend"]
        .iter()
        .map(|arm| {
            let line = headline
                .lines()
                .find(|l| l.trim_start().starts_with(arm))
                .unwrap();
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(users, 2002, "{headline}");
    assert!(
        headline.contains("D7") && headline.contains("always-valid p"),
        "{headline}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && page.contains("blend"),
        "the HTML report"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
