//! A progress bar on stderr around any sink: redrawn in place on a terminal, one line per 10%
//! otherwise (CI logs).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use crate::synthetic::{LogSink, SimAssignment, SimConversation, SimEvent, SimMessage, SimSummary};

const REDRAW: Duration = Duration::from_millis(200);
const WIDTH: usize = 30;

pub struct Progress<S> {
    inner: S,
    total_users: u64,
    started: Instant,
    last_draw: Instant,
    next_decile: u64,
    terminal: bool,
}

impl<S> Progress<S> {
    pub fn new(inner: S, total_users: u64) -> Self {
        let now = Instant::now();
        Progress {
            inner,
            total_users: total_users.max(1),
            started: now,
            last_draw: now,
            next_decile: 1,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub fn into_inner(self) -> S {
        if self.terminal {
            eprintln!();
        }
        self.inner
    }

    fn draw(&mut self, summary: &SimSummary) {
        let share = summary.users as f64 / self.total_users as f64;
        let rate = summary.messages as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let line = format!(
            "{:>5.1}%  {} / {} users  {} messages  {:.0} messages/s",
            100.0 * share,
            summary.users,
            self.total_users,
            summary.messages,
            rate
        );
        if self.terminal {
            let filled = (share * WIDTH as f64).round() as usize;
            let bar = format!(
                "{}{}",
                "#".repeat(filled),
                " ".repeat(WIDTH - filled.min(WIDTH))
            );
            eprint!("\r[{bar}] {line}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("simulate: {line}");
        }
    }
}

impl<S: LogSink> LogSink for Progress<S> {
    type Error = S::Error;

    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), S::Error> {
        self.inner.assignment(row)
    }

    fn conversation(&mut self, row: SimConversation<'_>) -> Result<(), S::Error> {
        self.inner.conversation(row)
    }

    fn message(&mut self, row: SimMessage<'_>) -> Result<(), S::Error> {
        self.inner.message(row)
    }

    fn event(&mut self, row: SimEvent<'_>) -> Result<(), S::Error> {
        self.inner.event(row)
    }

    fn user_done(&mut self, summary: &SimSummary) -> Result<(), S::Error> {
        self.inner.user_done(summary)?;
        let done = summary.users == self.total_users;
        if self.terminal {
            if done || self.last_draw.elapsed() >= REDRAW {
                self.last_draw = Instant::now();
                self.draw(summary);
            }
        } else if summary.users * 10 >= self.next_decile * self.total_users {
            self.next_decile += 1;
            self.draw(summary);
        }
        Ok(())
    }
}
