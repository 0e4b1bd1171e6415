//! A streamed chat completion (`/v1/chat/completions` with `"stream": true`) read chunk by chunk
//! as it arrives, for tests that act in the middle of a stream.

use serde_json::Value;

use crate::ADMIN_TOKEN;

pub struct CompletionStream {
    response: reqwest::Response,
    buffer: String,
    /// The reply text received so far.
    pub text: String,
    /// The chunk that carried a `finish_reason`.
    pub last: Option<Value>,
    /// An `error` chunk, if the stream ended with one.
    pub error: Option<Value>,
}

impl CompletionStream {
    /// Posts `body` to `{base}/v1/chat/completions` and expects the stream to open (200).
    pub async fn open(client: &reqwest::Client, base: &str, body: &Value) -> Self {
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200, "the stream opens");
        Self {
            response,
            buffer: String::new(),
            text: String::new(),
            last: None,
            error: None,
        }
    }

    /// Reads until some reply text has arrived; false if the stream ended first.
    pub async fn read_until_text(&mut self) -> bool {
        while self.text.is_empty() {
            if !self.read_more().await {
                return false;
            }
        }
        true
    }

    pub async fn read_to_end(&mut self) {
        while self.read_more().await {}
    }

    async fn read_more(&mut self) -> bool {
        let Some(bytes) = self.response.chunk().await.expect("the stream reads") else {
            return false;
        };
        self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
        while let Some(end) = self.buffer.find("\n\n") {
            let frame: String = self.buffer.drain(..end + 2).collect();
            let Some(data) = frame.trim().strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                continue;
            }
            let chunk: Value = serde_json::from_str(data).unwrap();
            if chunk.get("error").is_some() {
                self.error = Some(chunk);
                continue;
            }
            if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
                self.text.push_str(piece);
            }
            if !chunk["choices"][0]["finish_reason"].is_null() {
                self.last = Some(chunk);
            }
        }
        true
    }

    /// The `finish_reason` of the last chunk.
    pub fn finish_reason(&self) -> &str {
        self.last.as_ref().expect("a last chunk")["choices"][0]["finish_reason"]
            .as_str()
            .unwrap()
    }

    /// The logged message id of the reply (`blendlab.message_id` of the last chunk).
    pub fn message_id(&self) -> String {
        self.last.as_ref().expect("a last chunk")["blendlab"]["message_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
