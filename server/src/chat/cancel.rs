//! A reply the shutdown can stop midway and still log. The engine writes into a channel of our
//! own, relayed to the streaming client when there is one; closing that channel is how an engine
//! is told to stop (a client that left, or the drain time that ran out), and it then ends the
//! reply as `cancelled` with the text written so far.

use blendlab_inference::{
    ChatMessage, Generation, InferenceError, RegisteredModel, ReplyOptions, TextDeltas,
};
use tokio::sync::mpsc;

use crate::lifecycle::Lifecycle;

pub async fn reply_until_cancelled(
    model: &RegisteredModel,
    history: &[ChatMessage],
    options: ReplyOptions,
    client: Option<TextDeltas>,
    lifecycle: &Lifecycle,
) -> Result<Generation, InferenceError> {
    let (written, mut pieces) = mpsc::unbounded_channel();
    let relay = async move {
        let mut left = std::pin::pin!(client_left(client.clone()));
        let mut cancelled = std::pin::pin!(lifecycle.in_flight_cancelled());
        loop {
            tokio::select! {
                piece = pieces.recv() => match (piece, &client) {
                    (Some(piece), Some(client)) => {
                        if client.send(piece).is_err() {
                            break;
                        }
                    }
                    (Some(_), None) => {}
                    // The engine is done and dropped its end.
                    (None, _) => break,
                },
                () = &mut left => break,
                () = &mut cancelled => break,
            }
        }
        // Closing tells the engine to stop (its next piece fails to send, and it ends the reply
        // with what was sent). What it sent before that still goes out, so the client gets
        // exactly the reply that is logged.
        pieces.close();
        while let Ok(piece) = pieces.try_recv() {
            if let Some(client) = &client {
                let _ = client.send(piece);
            }
        }
    };
    let (generation, ()) = tokio::join!(model.reply(history, options, Some(written)), relay);
    generation
}

async fn client_left(client: Option<TextDeltas>) {
    match client {
        Some(client) => client.closed().await,
        None => std::future::pending().await,
    }
}
