//! The `openai` backend against a second, real `blendlab serve` process on loopback: replies and
//! streams relay unchanged, and a remote that fails gives a clear 502 after bounded retries.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use blendlab_inference::ModelConfig;
use blendlab_server::{
    config::ServerConfig,
    startup::{Application, Settings},
};
use blendlab_tests::TempDir;
use serde_json::{json, Value};

const REMOTE_TOKEN: &str = "remote-admin-token-0123456789";
const FRONT_TOKEN: &str = "front-admin-token-0123456789";

/// A `blendlab serve` process, killed when dropped.
struct RemoteServer {
    child: Child,
    base_url: String,
    _dir: TempDir,
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_remote() -> RemoteServer {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("remote");
    let child = Command::new(env!("CARGO_BIN_EXE_blendlab"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(format!("sqlite://{}", dir.0.join("remote.db").display()))
        .env("BLENDLAB_ADMIN_TOKEN", REMOTE_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("blendlab serve starts");
    let base_url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{base_url}/readyz"))
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the remote server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    RemoteServer {
        child,
        base_url,
        _dir: dir,
    }
}

/// The front server in-process, whose model `far` is the remote's `small-a`.
async fn start_front(remote_base_url: &str, key: &str) -> String {
    // A variable per front, so that tests running at once cannot see each other's key.
    let key_variable = format!("BLENDLAB_TEST_REMOTE_KEY_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&key_variable, key);
    let far = ModelConfig {
        remote_model: Some("small-a".into()),
        api_key_env: Some(key_variable),
        timeout_s: 60.0,
        retries: 2,
        ..ModelConfig::remote("far", format!("{remote_base_url}/v1"))
    };
    let dir = TempDir::new("remote");
    let app = Application::build(Settings {
        bind: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.0.join("front.db").display()),
        admin_token: FRONT_TOKEN.into(),
        default_model: blendlab_cli::environment::default_model_path(),
        config: ServerConfig {
            models: vec![far],
            ..ServerConfig::default()
        },
    })
    .await
    .expect("the front starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    std::mem::forget(dir); // lives as long as the test process
    tokio::spawn(app.run_until_stopped());
    address
}

async fn complete(base_url: &str, token: &str, body: &Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn request(model: &str, stream: bool) -> Value {
    json!({ "model": model, "temperature": 0, "max_tokens": 16, "stream": stream,
            "messages": [{ "role": "user", "content": "What is your favourite colour?" }] })
}

fn streamed_text(body: &str) -> String {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .filter_map(|data| {
            let chunk: Value = serde_json::from_str(data).unwrap();
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn a_remote_model_replies_and_streams_as_if_it_were_local() {
    let remote = start_remote().await;
    let front = start_front(&remote.base_url, REMOTE_TOKEN).await;

    let (status, direct) =
        complete(&remote.base_url, REMOTE_TOKEN, &request("small-a", false)).await;
    assert_eq!(status, 200, "{direct}");
    let direct: Value = serde_json::from_str(&direct).unwrap();
    let (status, relayed) = complete(&front, FRONT_TOKEN, &request("far", false)).await;
    assert_eq!(status, 200, "{relayed}");
    let relayed: Value = serde_json::from_str(&relayed).unwrap();
    assert_eq!(relayed["model"], "far");
    assert_eq!(
        relayed["choices"][0]["message"]["content"], direct["choices"][0]["message"]["content"],
        "greedy decoding on the remote gives the same reply through the front"
    );
    assert_eq!(
        relayed["usage"], direct["usage"],
        "usage comes from the remote"
    );

    let (status, streamed) = complete(&front, FRONT_TOKEN, &request("far", true)).await;
    assert_eq!(status, 200, "{streamed}");
    assert!(streamed.trim_end().ends_with("data: [DONE]"), "{streamed}");
    assert_eq!(
        json!(streamed_text(&streamed)),
        direct["choices"][0]["message"]["content"]
    );
}

#[tokio::test]
async fn a_failing_remote_gives_a_clear_502_after_bounded_retries() {
    let mut remote = start_remote().await;
    let front = start_front(&remote.base_url, REMOTE_TOKEN).await;

    // A remote that refuses the credentials is not retried: another attempt cannot help.
    let rejecting = start_front(&remote.base_url, "wrong-key").await;
    let (status, body) = complete(&rejecting, FRONT_TOKEN, &request("far", false)).await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "upstream_failed");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("401") && message.contains("after 1 attempt"),
        "{message}"
    );

    // A remote that is gone is retried, then reported, quickly.
    remote.child.kill().unwrap();
    remote.child.wait().unwrap();
    let started = Instant::now();
    let (status, body) = complete(&front, FRONT_TOKEN, &request("far", true)).await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("after 3 attempts"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
