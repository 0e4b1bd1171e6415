//! Server-sent events for a prepared turn, shared by `/api/v1/chat` and `/v1/chat/completions`.
//!
//! The turn generates in a task of its own, so that when the client disconnects the reply is
//! still logged as far as it was written (the dropped event stream is what cancels generation).

use actix_web::{
    web::{self, Bytes},
    HttpResponse, HttpResponseBuilder,
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::{
    chat::{ChatError, PreparedTurn, TurnOutput},
    state::AppState,
};

pub enum TurnEvent {
    /// The next piece of the reply.
    Delta(String),
    /// The reply is logged (or failed); nothing follows.
    Finished(Result<TurnOutput, ChatError>),
}

/// Starts generating `turn` and waits for its first event, so that failures before the first
/// token (a context overflow, a full queue) still get their own status code instead of a 200
/// followed by an error event. Returns that event and the rest.
pub async fn start(
    state: web::Data<AppState>,
    turn: PreparedTurn,
) -> (TurnEvent, impl Stream<Item = TurnEvent>) {
    let (deltas, delta_events) = mpsc::unbounded_channel();
    let (finished, outcome) = oneshot::channel();
    let generation = async move {
        let _ = finished.send(turn.complete(&state, Some(deltas)).await);
    };
    actix_web::rt::spawn(generation.instrument(tracing::Span::current()));
    let mut events = Box::pin(futures::stream::unfold(
        Some((delta_events, outcome)),
        |pending| async move {
            let (mut delta_events, outcome) = pending?;
            match delta_events.recv().await {
                Some(delta) => Some((TurnEvent::Delta(delta), Some((delta_events, outcome)))),
                None => {
                    let result = outcome.await.unwrap_or_else(|_| {
                        Err(ChatError::Unexpected(anyhow::anyhow!(
                            "the turn stopped without a result"
                        )))
                    });
                    Some((TurnEvent::Finished(result), None))
                }
            }
        },
    ));
    let first = events.next().await.unwrap_or_else(|| {
        TurnEvent::Finished(Err(ChatError::Unexpected(anyhow::anyhow!(
            "the turn produced no events"
        ))))
    });
    (first, events)
}

/// One `data:` frame, optionally named.
pub fn frame(event: Option<&str>, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    match event {
        Some(name) => Bytes::from(format!("event: {name}\ndata: {json}\n\n")),
        None => Bytes::from(format!("data: {json}\n\n")),
    }
}

/// The event-stream response: `opening`, then each event of the turn as the route's frames.
pub fn respond(
    mut response: HttpResponseBuilder,
    opening: Bytes,
    first: TurnEvent,
    rest: impl Stream<Item = TurnEvent> + 'static,
    mut frames_of: impl FnMut(TurnEvent) -> Vec<Bytes> + 'static,
) -> HttpResponse {
    let frames = futures::stream::once(async move { first })
        .chain(rest)
        .flat_map(move |event| futures::stream::iter(frames_of(event)));
    response
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(
            futures::stream::once(async move { opening })
                .chain(frames)
                .map(Ok::<_, actix_web::Error>),
        )
}
