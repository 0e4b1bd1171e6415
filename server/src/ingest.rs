//! Group commit for events: concurrent requests' batches are written together, one transaction
//! for as many as are waiting, and each request is answered only once its events are committed.
//! One commit (one fsync on SQLite, one WAL flush on PostgreSQL) then serves many requests, and
//! SQLite's single writer is never fought over.

use tokio::sync::{mpsc, oneshot};

use crate::store::{NewEvent, Store, StoreError};

/// Rows one transaction takes at most; more waiting go in the next one.
const MAX_GROUP_EVENTS: usize = 20_000;
/// Batches that may wait for the writer before senders wait for room.
const QUEUE_BATCHES: usize = 1024;

struct Pending {
    events: Vec<NewEvent>,
    committed: oneshot::Sender<Result<(), String>>,
}

/// The handle requests write through; cloning it shares the one writer.
#[derive(Clone)]
pub struct EventWriter {
    queue: mpsc::Sender<Pending>,
}

impl EventWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_BATCHES);
        tokio::spawn(write_groups(store, waiting));
        Self { queue }
    }

    /// Returns once `events` are committed, all of them, or fails with none of them written.
    pub async fn write(&self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        let (committed, outcome) = oneshot::channel();
        let stopped = || StoreError::Unexpected(anyhow::anyhow!("the event writer has stopped"));
        self.queue
            .send(Pending { events, committed })
            .await
            .map_err(|_| stopped())?;
        outcome
            .await
            .map_err(|_| stopped())?
            .map_err(|cause| StoreError::Unexpected(anyhow::anyhow!(cause)))
    }
}

async fn write_groups(store: Store, mut waiting: mpsc::Receiver<Pending>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        let mut rows = group[0].events.len();
        while rows < MAX_GROUP_EVENTS {
            match waiting.try_recv() {
                Ok(next) => {
                    rows += next.events.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let events: Vec<&NewEvent> = group.iter().flat_map(|p| &p.events).collect();
        let outcome = store.insert_events(&events).await;
        tracing::debug!(
            requests = group.len(),
            events = rows,
            ok = outcome.is_ok(),
            "event group"
        );
        if outcome.is_ok() || group.len() == 1 {
            let outcome = outcome.map_err(|error| format!("{error:#}"));
            for pending in group {
                // A request whose client left no longer listens; its events are committed anyway.
                let _ = pending.committed.send(outcome.clone());
            }
            continue;
        }
        // The group failed as a whole and wrote nothing: each request on its own, so that one
        // bad batch fails alone rather than every batch that happened to share its commit.
        for pending in group {
            let events: Vec<&NewEvent> = pending.events.iter().collect();
            let outcome = store.insert_events(&events).await;
            let _ = pending
                .committed
                .send(outcome.map_err(|error| format!("{error:#}")));
        }
    }
}
