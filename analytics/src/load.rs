//! Inputs of a report: three LazyFrames in the docs/architecture.md schema, checked before any work is done.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::schema::{self, attribute_columns, check_columns, ColumnKind};
use crate::AnalyticsError;

/// The log as LazyFrames, with the optional columns each one has.
#[derive(Clone)]
pub struct LogFrames {
    pub assignments: LazyFrame,
    pub messages: LazyFrame,
    pub events: Option<LazyFrame>,
    /// Optional message columns present (latency, tokens, ...).
    pub message_extras: Vec<String>,
    pub event_extras: Vec<String>,
    /// User attributes present as `attr_<name>` text columns of the assignments, by name
    /// (without the prefix), in column order.
    pub attributes: Vec<String>,
}

/// Where each frame came from, for error messages.
#[derive(Debug, Clone)]
pub struct SourceNames {
    pub assignments: String,
    pub messages: String,
    pub events: String,
}

impl Default for SourceNames {
    fn default() -> Self {
        Self {
            assignments: "assignments".into(),
            messages: "messages".into(),
            events: "events".into(),
        }
    }
}

impl LogFrames {
    /// Checks the schema of every frame, naming the file and column of the first problem.
    pub fn new(
        mut assignments: LazyFrame,
        mut messages: LazyFrame,
        events: Option<LazyFrame>,
        names: &SourceNames,
    ) -> Result<Self, AnalyticsError> {
        use schema::{assignments as a, events as e, messages as m};
        use ColumnKind::{Number, Text, Timestamp};
        let assignment_schema = assignments.collect_schema()?;
        check_columns(
            &names.assignments,
            &assignment_schema,
            &[
                (a::USER_ID, Text),
                (a::EXPERIMENT, Text),
                (a::ARM, Text),
                (a::ASSIGNED_AT, Timestamp),
            ],
            &[],
        )?;
        let attributes = attribute_columns(&names.assignments, &assignment_schema)?;
        let message_extras = check_columns(
            &names.messages,
            &*messages.collect_schema()?,
            &[
                (m::USER_ID, Text),
                (m::CONVERSATION_ID, Text),
                (m::ROLE, Text),
                (m::MODEL, Text),
                (m::CREATED_AT, Timestamp),
            ],
            &[
                (m::MESSAGE_ID, Text),
                (m::LATENCY_MS, Number),
                (m::PROMPT_TOKENS, Number),
                (m::COMPLETION_TOKENS, Number),
                (m::CONTENT_CHARS, Number),
                (m::FINISH_REASON, Text),
                (m::CHOICE_PROB, Number),
            ],
        )?;
        let (events, event_extras) = match events {
            Some(mut frame) => {
                let extras = check_columns(
                    &names.events,
                    &*frame.collect_schema()?,
                    &[
                        (e::USER_ID, Text),
                        (e::KIND, Text),
                        (e::CREATED_AT, Timestamp),
                    ],
                    &[(e::MESSAGE_ID, Text), (e::VALUE, Number)],
                )?;
                (Some(frame), extras)
            }
            None => (None, Vec::new()),
        };
        Ok(Self {
            assignments,
            messages,
            events,
            message_extras,
            event_extras,
            attributes,
        })
    }

    pub fn has_message_column(&self, column: &str) -> bool {
        self.message_extras.iter().any(|c| c == column)
    }
}

/// A data directory of docs/architecture.md: `assignments.parquet`, `messages.parquet` or `messages/`
/// (hive partitions allowed), and optionally `events.parquet` or `events/`. Only read.
pub struct DataDir;

impl DataDir {
    pub fn scan(dir: &Path) -> Result<LogFrames, AnalyticsError> {
        if !dir.is_dir() {
            return Err(AnalyticsError::MissingFile {
                path: dir.display().to_string(),
                expected: "a directory with assignments.parquet and messages.parquet or messages/"
                    .into(),
            });
        }
        let assignments_path = dir.join("assignments.parquet");
        let assignments = scan_required(&assignments_path)?;
        let (messages_path, messages) =
            scan_file_or_folder(dir, "messages")?.ok_or_else(|| AnalyticsError::MissingFile {
                path: dir.join("messages.parquet").display().to_string(),
                expected: "messages.parquet or a messages/ folder of Parquet files".into(),
            })?;
        let events = scan_file_or_folder(dir, "events")?;
        let names = SourceNames {
            assignments: assignments_path.display().to_string(),
            messages: messages_path.display().to_string(),
            events: events
                .as_ref()
                .map(|(p, _)| p.display().to_string())
                .unwrap_or_default(),
        };
        LogFrames::new(
            assignments,
            messages,
            events.map(|(_, frame)| frame),
            &names,
        )
    }
}

fn scan_required(path: &Path) -> Result<LazyFrame, AnalyticsError> {
    if !path.is_file() {
        return Err(AnalyticsError::MissingFile {
            path: path.display().to_string(),
            expected: "a Parquet file".into(),
        });
    }
    scan(path)
}

fn scan_file_or_folder(
    dir: &Path,
    stem: &str,
) -> Result<Option<(PathBuf, LazyFrame)>, AnalyticsError> {
    let file = dir.join(format!("{stem}.parquet"));
    if file.is_file() {
        return Ok(Some((file.clone(), scan(&file)?)));
    }
    let folder = dir.join(stem);
    if folder.is_dir() {
        return Ok(Some((folder.clone(), scan(&folder)?)));
    }
    Ok(None)
}

fn scan(path: &Path) -> Result<LazyFrame, AnalyticsError> {
    let path = PlRefPath::try_from_path(path)?;
    Ok(LazyFrame::scan_parquet(path, ScanArgsParquet::default())?)
}
