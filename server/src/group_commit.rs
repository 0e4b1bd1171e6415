//! Group commit: concurrent requests' writes go into one transaction, as many as are waiting, and
//! each request is answered only once its rows are committed. One commit (one fsync on SQLite,
//! one WAL flush on PostgreSQL) then serves many requests, and SQLite's single writer is never
//! fought over. Events (`POST /api/v1/events`) and chat turns both go through it.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, Notify};

use blendlab_store::{NewEvent, Store, StoreError, TurnWrite};

/// Writes whole requests' items in one transaction: all of them or none.
type WriteGroup<T> = for<'a> fn(&'a Store, &'a [&'a T]) -> BoxFuture<'a, Result<(), StoreError>>;

/// Requests that may wait for the writer before senders wait for room.
const QUEUE_REQUESTS: usize = 1024;

struct Pending<T> {
    item: T,
    committed: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle requests write through; cloning it shares the one writer task.
pub struct GroupCommit<T> {
    queue: mpsc::Sender<Pending<T>>,
    writer: Arc<WriterTask>,
}

/// The writer task, for shutdown: told to close, it commits what is queued and ends.
struct WriterTask {
    closing: Notify,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            writer: self.writer.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> GroupCommit<T> {
    /// Starts the writer task on the current runtime. A group takes requests until their rows
    /// (as `rows` counts them) reach `max_rows`.
    fn spawn(store: Store, max_rows: usize, rows: fn(&T) -> usize, write: WriteGroup<T>) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_REQUESTS);
        let writer = Arc::new(WriterTask {
            closing: Notify::new(),
            running: Mutex::new(None),
        });
        let task = tokio::spawn(write_groups(
            store,
            waiting,
            writer.clone(),
            max_rows,
            rows,
            write,
        ));
        *writer.running.lock().expect("not poisoned") = Some(task);
        Self { queue, writer }
    }

    /// Commits every request already queued, then stops taking more (they fail as stopped).
    /// Returns once the writer has ended; later calls return at once.
    pub async fn close(&self) {
        self.writer.closing.notify_one();
        let running = self.writer.running.lock().expect("not poisoned").take();
        if let Some(task) = running {
            if let Err(error) = task.await {
                tracing::error!(%error, "the group writer failed while closing");
            }
        }
    }

    /// Returns once `item` is committed, or fails with none of it written.
    pub async fn write(&self, item: T) -> Result<(), StoreError> {
        let (committed, outcome) = oneshot::channel();
        let stopped = || StoreError::Unexpected(anyhow::anyhow!("the group writer has stopped"));
        self.queue
            .send(Pending { item, committed })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn write_groups<T>(
    store: Store,
    mut waiting: mpsc::Receiver<Pending<T>>,
    writer: Arc<WriterTask>,
    max_rows: usize,
    rows: fn(&T) -> usize,
    write: WriteGroup<T>,
) {
    loop {
        let next = tokio::select! {
            biased;
            next = waiting.recv() => next,
            () = writer.closing.notified() => {
                // Refuse new requests; what is already queued still comes out, then `None`.
                waiting.close();
                waiting.recv().await
            }
        };
        let Some(first) = next else { break };
        let mut total = rows(&first.item);
        let mut group = vec![first];
        while total < max_rows {
            match waiting.try_recv() {
                Ok(next) => {
                    total += rows(&next.item);
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let items: Vec<&T> = group.iter().map(|p| &p.item).collect();
        let outcome = write(&store, &items).await;
        tracing::debug!(
            requests = group.len(),
            rows = total,
            ok = outcome.is_ok(),
            "group commit"
        );
        match outcome {
            Ok(()) => {
                for pending in group {
                    // A request whose client left no longer listens; its rows are committed.
                    let _ = pending.committed.send(Ok(()));
                }
            }
            // The store is down: no request's fault. Each alone would wait out the store's
            // timeout again, and so would each request queued behind them, for the same answer:
            // they all get the outage now (a 503 to retry), so an outage is answered fast.
            Err(StoreError::Unavailable(outage)) => {
                let queued = std::iter::from_fn(|| waiting.try_recv().ok());
                for pending in group.into_iter().chain(queued) {
                    let _ = pending.committed.send(Err(StoreError::Unavailable(outage)));
                }
            }
            Err(error) if group.len() == 1 => {
                let _ = group.pop().expect("one").committed.send(Err(error));
            }
            // The group failed as a whole and wrote nothing: each request on its own, so that one
            // bad request (a poisoned batch, a turn that lost its race) fails alone rather than
            // every request that happened to share its commit.
            Err(_) => {
                for pending in group {
                    let outcome = write(&store, &[&pending.item]).await;
                    let _ = pending.committed.send(outcome);
                }
            }
        }
    }
}

/// Events: one request's batch is one item.
pub type EventWriter = GroupCommit<Vec<NewEvent>>;

/// Rows one event transaction takes at most; more waiting go in the next one.
const MAX_GROUP_EVENTS: usize = 20_000;

impl EventWriter {
    pub fn start(store: Store) -> Self {
        Self::spawn(store, MAX_GROUP_EVENTS, Vec::len, |store, batches| {
            Box::pin(async move {
                let events: Vec<&NewEvent> = batches.iter().flat_map(|b| b.iter()).collect();
                store.insert_events(&events).await
            })
        })
    }
}

/// Chat turns: the user's message and the reply, logged together.
pub type TurnWriter = GroupCommit<TurnWrite>;

/// Turns one transaction takes at most (each is two or three rows).
const MAX_GROUP_TURNS: usize = 256;

impl TurnWriter {
    pub fn start(store: Store) -> Self {
        Self::spawn(
            store,
            MAX_GROUP_TURNS,
            |_| 1,
            |store, turns| Box::pin(store.append_turns(turns)),
        )
    }
}
