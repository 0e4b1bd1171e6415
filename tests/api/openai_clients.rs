//! Real OpenAI clients written elsewhere, unchanged, against the running server: the official
//! `openai` Python package (installed by `make pydeps`) and the `async-openai` Rust crate.

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

mod async_openai_client {
    use async_openai::{
        config::OpenAIConfig,
        error::OpenAIError,
        types::{
            ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageArgs,
            ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions,
            CreateChatCompletionRequest, CreateChatCompletionRequestArgs, Stop,
        },
        Client,
    };
    use blendlab_tests::{example_definition, spawn_app, ADMIN_TOKEN};
    use futures::StreamExt;

    fn hello() -> Vec<ChatCompletionRequestMessage> {
        vec![
            ChatCompletionRequestSystemMessageArgs::default()
                .content("You are brief.")
                .build()
                .unwrap()
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content("Hello there!")
                .build()
                .unwrap()
                .into(),
        ]
    }

    fn direct_request() -> CreateChatCompletionRequest {
        CreateChatCompletionRequestArgs::default()
            .model("small-a")
            .messages(hello())
            .max_tokens(12u32)
            .temperature(0.0)
            .top_p(0.9)
            .seed(7)
            .stop(Stop::StringArray(vec!["\n\n".into()]))
            .n(1)
            .user("rs-direct")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn the_async_openai_rust_client_works_unchanged() {
        let app = spawn_app().await;
        app.start_experiment(&example_definition()).await;
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(format!("{}/v1", app.address))
                .with_api_key(ADMIN_TOKEN),
        );

        let models = client.models().list().await.expect("models");
        let ids: Vec<&str> = models.data.iter().map(|m| m.id.as_str()).collect();
        assert!(
            ids.contains(&"small-a") && ids.contains(&"chai-blend"),
            "{ids:?}"
        );

        let plain = client
            .chat()
            .create(direct_request())
            .await
            .expect("create");
        assert_eq!(plain.model, "small-a");
        let reply = plain.choices[0].message.content.clone().unwrap_or_default();
        let usage = plain.usage.clone().expect("usage");
        assert!(usage.completion_tokens <= 12);
        assert_eq!(
            usage.total_tokens,
            usage.prompt_tokens + usage.completion_tokens
        );

        let mut streamed_request = direct_request();
        streamed_request.stream = Some(true);
        streamed_request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: true,
        });
        let mut stream = client
            .chat()
            .create_stream(streamed_request)
            .await
            .expect("stream");
        let mut text = String::new();
        let mut last_usage = None;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("a chunk");
            for choice in &chunk.choices {
                text.push_str(choice.delta.content.as_deref().unwrap_or_default());
            }
            if chunk.usage.is_some() {
                last_usage = chunk.usage;
            }
        }
        assert_eq!(text, reply, "greedy decoding streams the same reply");
        assert_eq!(
            last_usage.expect("usage last").completion_tokens,
            usage.completion_tokens
        );

        // An experiment as `model`, continued under metadata.conversation_id.
        let on_experiment = CreateChatCompletionRequestArgs::default()
            .model("chai-blend")
            .messages(hello())
            .max_completion_tokens(8u32)
            .user("rs-user-1")
            .metadata(serde_json::json!({ "conversation_id": "rs-conversation" }))
            .build()
            .unwrap();
        let first = client
            .chat()
            .create(on_experiment)
            .await
            .expect("experiment");
        assert!(
            ["large", "small-a", "small-b", "small-c"].contains(&first.model.as_str()),
            "{}",
            first.model
        );

        let mut unknown = direct_request();
        unknown.model = "no-such-model".into();
        match client.chat().create(unknown).await {
            Err(OpenAIError::ApiError(error)) => {
                assert_eq!(error.code.as_deref(), Some("model_not_found"));
                assert_eq!(error.param.as_deref(), Some("model"));
            }
            other => panic!("an unknown model gave {other:?}"),
        }
        let mut two = direct_request();
        two.n = Some(2);
        match client.chat().create(two).await {
            Err(OpenAIError::ApiError(error)) => assert_eq!(error.param.as_deref(), Some("n")),
            other => panic!("n=2 gave {other:?}"),
        }
    }
}
