//! Graceful shutdown. On SIGTERM or SIGINT the server stops accepting, refuses new chat turns
//! (503 `shutting_down`, so a load balancer retries them elsewhere), lets the replies in flight
//! finish for up to `server.shutdown_drain_s`, then cancels the rest: each ends as `cancelled`
//! with the text written so far, logged and sent to its client as the stream's last event. Then
//! the group commits flush and the process exits.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// No new turns; those in flight run on.
    Draining,
    /// The drain time is over: replies still running stop where they are.
    Cancelling,
}

/// Where the server is in its life; every handler shares one.
#[derive(Clone)]
pub struct Lifecycle {
    phase: Arc<watch::Sender<Phase>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            phase: Arc::new(watch::Sender::new(Phase::Serving)),
        }
    }
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        *self.phase.borrow() != Phase::Serving
    }

    pub fn begin_drain(&self) {
        self.advance(Phase::Draining);
    }

    pub fn cancel_in_flight(&self) {
        self.advance(Phase::Cancelling);
    }

    fn advance(&self, to: Phase) {
        self.phase.send_if_modified(|phase| {
            let later = (to as u8) > (*phase as u8);
            if later {
                *phase = to;
            }
            later
        });
    }

    /// Resolves once replies in flight are to stop.
    pub async fn in_flight_cancelled(&self) {
        let mut phase = self.phase.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = phase.wait_for(|p| *p == Phase::Cancelling).await;
    }
}

/// The signal that asks the process to stop: SIGTERM (an orchestrator) or SIGINT (Ctrl-C).
pub async fn stop_requested() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_only_move_forward_and_wake_the_waiters() {
        let lifecycle = Lifecycle::default();
        assert!(!lifecycle.is_draining());
        let waiter = tokio::spawn({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.in_flight_cancelled().await }
        });
        lifecycle.begin_drain();
        assert!(lifecycle.is_draining());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "draining does not cancel");
        lifecycle.cancel_in_flight();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        lifecycle.begin_drain();
        assert_eq!(*lifecycle.phase.borrow(), Phase::Cancelling, "never back");
    }
}
