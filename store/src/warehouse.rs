//! The log of one experiment as plain columns, in the analytics schema (docs/architecture.md,
//! "Log schema"), with one reader per kind of row. `report --db` and the report endpoint turn
//! these into LazyFrames; `export` into Parquet.

use futures::TryStreamExt;
use sqlx::Row;

use super::assignments::parse_attributes_json;
use super::{Store, StoreError};
use blendlab_experiments::UserAttributes;

/// Assignments of one experiment, column by column.
#[derive(Debug, Default)]
pub struct AssignmentColumns {
    pub user_id: Vec<String>,
    pub arm: Vec<String>,
    pub assigned_at: Vec<i64>,
    /// The attributes given with each first exposure (empty where none were).
    pub attributes: Vec<UserAttributes>,
}

/// Messages of one experiment's enrolled users, column by column.
#[derive(Debug, Default)]
pub struct MessageColumns {
    pub message_id: Vec<String>,
    pub user_id: Vec<String>,
    pub conversation_id: Vec<String>,
    pub role: Vec<String>,
    pub model: Vec<Option<String>>,
    pub created_at: Vec<i64>,
    pub latency_ms: Vec<Option<f64>>,
    pub prompt_tokens: Vec<Option<i64>>,
    pub completion_tokens: Vec<Option<i64>>,
    pub choice_prob: Vec<Option<f64>>,
    pub content_chars: Vec<i64>,
    pub finish_reason: Vec<Option<String>>,
    /// The policy snapshot an adaptive arm drew the reply from; null for the other policies.
    pub policy_version: Vec<Option<i64>>,
}

/// Events of one experiment's enrolled users, column by column.
#[derive(Debug, Default)]
pub struct EventColumns {
    pub user_id: Vec<String>,
    pub conversation_id: Vec<Option<String>>,
    pub message_id: Vec<Option<String>>,
    pub kind: Vec<String>,
    pub value: Vec<Option<f64>>,
    pub created_at: Vec<i64>,
}

/// Appends an assignment row's `user_id, arm, assigned_at, attributes`, starting at column
/// `$first`.
macro_rules! push_assignment {
    ($out:expr, $row:expr, $first:expr) => {{
        $out.user_id.push($row.get($first));
        $out.arm.push($row.get($first + 1));
        $out.assigned_at.push($row.get($first + 2));
        let attributes: Option<String> = $row.get($first + 3);
        $out.attributes
            .push(parse_attributes_json(attributes.as_deref()));
    }};
}

/// Reads a message query's rows (the columns of [`MESSAGE_COLUMNS`]) into columns.
macro_rules! collect_messages {
    ($rows:expr) => {{
        let mut rows = $rows;
        let mut out = MessageColumns::default();
        while let Some(row) = rows.try_next().await? {
            out.message_id.push(row.get(0));
            out.user_id.push(row.get(1));
            out.conversation_id.push(row.get(2));
            out.role.push(row.get(3));
            out.model.push(row.get(4));
            out.created_at.push(row.get(5));
            out.latency_ms.push(row.get(6));
            out.prompt_tokens.push(row.get(7));
            out.completion_tokens.push(row.get(8));
            out.choice_prob.push(row.get(9));
            out.content_chars.push(row.get(10));
            out.finish_reason.push(row.get(11));
            out.policy_version.push(row.get(12));
        }
        out
    }};
}

/// Reads an event query's rows (the columns of [`EVENT_COLUMNS`]) into columns.
macro_rules! collect_events {
    ($rows:expr) => {{
        let mut rows = $rows;
        let mut out = EventColumns::default();
        while let Some(row) = rows.try_next().await? {
            out.user_id.push(row.get(0));
            out.conversation_id.push(row.get(1));
            out.message_id.push(row.get(2));
            out.kind.push(row.get(3));
            out.value.push(row.get(4));
            out.created_at.push(row.get(5));
        }
        out
    }};
}

/// `length` is INTEGER in PostgreSQL; the cast makes it BIGINT (i64) on both databases.
/// Pre-exposure activity counts this many UTC days before exposure (the analytics'
/// `pipeline::cuped::PRE_EXPOSURE_DAYS`; the store does not depend on the analytics).
pub const PRE_EXPOSURE_DAYS: i64 = 14;

const MESSAGE_COLUMNS: &str = "m.message_id, m.user_id, m.conversation_id, m.role, m.model, \
     m.created_at, m.latency_ms, m.prompt_tokens, m.completion_tokens, m.choice_prob, \
     CAST(length(m.content) AS BIGINT), m.finish_reason, m.policy_version";
const EVENT_COLUMNS: &str =
    "e.user_id, e.conversation_id, e.message_id, e.kind, e.value, e.created_at";

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn assignment_columns(
        &self,
        experiment: &str,
    ) -> Result<AssignmentColumns, StoreError> {
        Ok(on_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT user_id, arm, assigned_at, attributes FROM assignments WHERE experiment = $1",
            )
            .bind(experiment)
            .fetch(pool);
            let mut out = AssignmentColumns::default();
            while let Some(row) = rows.try_next().await? {
                push_assignment!(out, row, 0);
            }
            out
        }))
    }

    /// Every message of the experiment's enrolled users up to `until_micros` (exclusive),
    /// including their direct traffic outside the experiment: activity is activity.
    #[tracing::instrument(skip(self))]
    pub async fn message_columns(
        &self,
        experiment: &str,
        until_micros: i64,
    ) -> Result<MessageColumns, StoreError> {
        self.message_columns_since(experiment, i64::MIN, until_micros)
            .await
    }

    /// [`Self::message_columns`] from `since_micros` (inclusive) on: the days an incremental
    /// report has not kept yet. Before `since_micros`, the user messages of each enrolled user's
    /// 14 UTC days before exposure come too: CUPED's pre-exposure activity, which kept parts
    /// cannot hold for users enrolled after them.
    #[tracing::instrument(skip(self))]
    pub async fn message_columns_since(
        &self,
        experiment: &str,
        since_micros: i64,
        until_micros: i64,
    ) -> Result<MessageColumns, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}
             FROM messages m JOIN assignments a ON a.user_id = m.user_id AND a.experiment = $1
             WHERE m.created_at >= $2 AND m.created_at < $3
             UNION ALL
             SELECT {MESSAGE_COLUMNS}
             FROM messages m JOIN assignments a ON a.user_id = m.user_id AND a.experiment = $1
             WHERE m.created_at < $2 AND m.role = 'user'
               AND m.created_at >= (a.assigned_at / {DAY} - {PRE_DAYS}) * {DAY}
               AND m.created_at < (a.assigned_at / {DAY}) * {DAY}",
            DAY = 86_400_000_000_i64,
            PRE_DAYS = PRE_EXPOSURE_DAYS,
        );
        Ok(on_pool!(self, pool => collect_messages!(
            sqlx::query(&sql).bind(experiment).bind(since_micros).bind(until_micros).fetch(pool)
        )))
    }

    /// Every message in `[from_micros, until_micros)`, for the warehouse export.
    #[tracing::instrument(skip(self))]
    pub async fn messages_between(
        &self,
        from_micros: i64,
        until_micros: i64,
    ) -> Result<MessageColumns, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             WHERE m.created_at >= $1 AND m.created_at < $2 ORDER BY m.created_at"
        );
        Ok(on_pool!(self, pool => collect_messages!(
            sqlx::query(&sql).bind(from_micros).bind(until_micros).fetch(pool)
        )))
    }

    /// Every assignment of every experiment: `(experiment, columns)`.
    pub async fn all_assignment_columns(
        &self,
    ) -> Result<(Vec<String>, AssignmentColumns), StoreError> {
        Ok(on_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT experiment, user_id, arm, assigned_at, attributes FROM assignments
                 ORDER BY experiment, assigned_at",
            )
            .fetch(pool);
            let (mut experiments, mut out) = (Vec::new(), AssignmentColumns::default());
            while let Some(row) = rows.try_next().await? {
                experiments.push(row.get(0));
                push_assignment!(out, row, 1);
            }
            (experiments, out)
        }))
    }

    /// The first exposure of `experiment` in microseconds, if anyone was exposed.
    pub async fn first_exposure_micros(&self, experiment: &str) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT MIN(assigned_at) FROM assignments WHERE experiment = $1",
        )
        .bind(experiment)
        .fetch_one(pool)
        .await?))
    }

    /// The earliest message or event time, if any: where an export starts.
    pub async fn first_activity_micros(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM messages
                                 UNION ALL SELECT MIN(created_at) FROM events) AS activity",
        )
        .fetch_one(pool)
        .await?))
    }

    /// Every event in `[from_micros, until_micros)`.
    pub async fn events_between(
        &self,
        from_micros: i64,
        until_micros: i64,
    ) -> Result<EventColumns, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e
             WHERE e.created_at >= $1 AND e.created_at < $2 ORDER BY e.created_at"
        );
        Ok(on_pool!(self, pool => collect_events!(
            sqlx::query(&sql).bind(from_micros).bind(until_micros).fetch(pool)
        )))
    }

    #[tracing::instrument(skip(self))]
    pub async fn event_columns(
        &self,
        experiment: &str,
        until_micros: i64,
    ) -> Result<EventColumns, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS}
             FROM events e JOIN assignments a ON a.user_id = e.user_id AND a.experiment = $1
             WHERE e.created_at < $2"
        );
        Ok(on_pool!(self, pool => collect_events!(
            sqlx::query(&sql).bind(experiment).bind(until_micros).fetch(pool)
        )))
    }
}
