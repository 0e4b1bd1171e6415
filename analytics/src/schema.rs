//! The log schema of docs/architecture.md: column names and the checks that give a clear error.

use polars::prelude::*;

use crate::AnalyticsError;

pub mod assignments {
    pub const USER_ID: &str = "user_id";
    pub const EXPERIMENT: &str = "experiment";
    pub const ARM: &str = "arm";
    pub const ASSIGNED_AT: &str = "assigned_at";
    /// Optional user attribute columns: `attr_<name>`, text.
    pub const ATTRIBUTE_PREFIX: &str = "attr_";
}

pub mod messages {
    pub const USER_ID: &str = "user_id";
    pub const CONVERSATION_ID: &str = "conversation_id";
    pub const ROLE: &str = "role";
    pub const MODEL: &str = "model";
    pub const CREATED_AT: &str = "created_at";
    pub const MESSAGE_ID: &str = "message_id";
    pub const LATENCY_MS: &str = "latency_ms";
    pub const PROMPT_TOKENS: &str = "prompt_tokens";
    pub const COMPLETION_TOKENS: &str = "completion_tokens";
    pub const CONTENT_CHARS: &str = "content_chars";
    pub const FINISH_REASON: &str = "finish_reason";
    /// The probability with which the reply's component was drawn (blended arms).
    pub const CHOICE_PROB: &str = "choice_prob";

    pub const ROLE_USER: &str = "user";
    pub const ROLE_ASSISTANT: &str = "assistant";
}

pub mod events {
    pub const USER_ID: &str = "user_id";
    pub const MESSAGE_ID: &str = "message_id";
    pub const KIND: &str = "kind";
    pub const VALUE: &str = "value";
    pub const CREATED_AT: &str = "created_at";

    pub const KIND_FEEDBACK: &str = "feedback";
    pub const KIND_RETRY: &str = "retry";
}

/// The kind of column the schema asks for; numeric kinds accept any integer or float width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Timestamp,
    Number,
}

impl ColumnKind {
    fn accepts(self, dtype: &DataType) -> bool {
        match self {
            ColumnKind::Text => matches!(
                dtype,
                DataType::String | DataType::Categorical(..) | DataType::Null
            ),
            ColumnKind::Timestamp => {
                matches!(dtype, DataType::Datetime(_, tz) if tz.as_ref().is_none_or(|tz| tz.as_str() == "UTC"))
            }
            ColumnKind::Number => dtype.is_primitive_numeric() || matches!(dtype, DataType::Null),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ColumnKind::Text => "Utf8",
            ColumnKind::Timestamp => "Datetime(us, UTC)",
            ColumnKind::Number => "a number",
        }
    }
}

/// Checks the required columns of one input and the types of the optional ones it has.
/// Returns the optional columns that are present.
pub fn check_columns(
    file: &str,
    schema: &Schema,
    required: &[(&str, ColumnKind)],
    optional: &[(&str, ColumnKind)],
) -> Result<Vec<String>, AnalyticsError> {
    let check = |column: &str, kind: ColumnKind, dtype: &DataType| {
        if kind.accepts(dtype) {
            Ok(())
        } else {
            Err(AnalyticsError::WrongType {
                file: file.to_owned(),
                column: column.to_owned(),
                expected: kind.describe().to_owned(),
                found: dtype.to_string(),
            })
        }
    };
    for (column, kind) in required {
        let dtype = schema
            .get(column)
            .ok_or_else(|| AnalyticsError::MissingColumn {
                file: file.to_owned(),
                column: (*column).to_owned(),
            })?;
        check(column, *kind, dtype)?;
    }
    let mut present = Vec::new();
    for (column, kind) in optional {
        if let Some(dtype) = schema.get(column) {
            check(column, *kind, dtype)?;
            present.push((*column).to_owned());
        }
    }
    Ok(present)
}

/// The attribute names of the `attr_<name>` columns; each must hold text.
pub fn attribute_columns(file: &str, schema: &Schema) -> Result<Vec<String>, AnalyticsError> {
    let mut names = Vec::new();
    for (column, dtype) in schema.iter() {
        let Some(name) = column.strip_prefix(assignments::ATTRIBUTE_PREFIX) else {
            continue;
        };
        if !ColumnKind::Text.accepts(dtype) {
            return Err(AnalyticsError::WrongType {
                file: file.to_owned(),
                column: column.to_string(),
                expected: ColumnKind::Text.describe().to_owned(),
                found: dtype.to_string(),
            });
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// A `Datetime(us, UTC)` column from microseconds since the epoch: the schema's timestamp type.
pub fn datetime_column(name: &str, micros: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), micros)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

/// Microseconds since the epoch, whatever the stored unit.
pub fn micros(column: &str) -> Expr {
    col(column).dt().timestamp(TimeUnit::Microseconds)
}
