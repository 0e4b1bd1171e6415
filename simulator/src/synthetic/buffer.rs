//! One user's rows, kept until the time-ordered simulation ends, then written user by user as the
//! [`LogSink`] contract wants them.

use std::convert::Infallible;

use super::{LogSink, SimAssignment, SimConversation, SimEvent, SimMessage, SimReply, SimSummary};

/// A [`SimReply`] that outlives its sink call.
struct OwnedReply {
    model: String,
    choice_prob: f64,
    latency_ms: f64,
    prompt_tokens: i64,
    completion_tokens: i64,
    policy_version: Option<i64>,
}

enum Row {
    Assignment {
        user_id: String,
        arm: String,
        assigned_at: i64,
        platform: &'static str,
    },
    Conversation {
        conversation_id: String,
        user_id: String,
        arm: String,
        created_at: i64,
    },
    Message {
        message_id: String,
        conversation_id: String,
        user_id: String,
        arm: String,
        position: u32,
        reply: Option<OwnedReply>,
        created_at: i64,
        content_chars: u32,
    },
    Event {
        user_id: String,
        conversation_id: String,
        message_id: String,
        kind: &'static str,
        value: f64,
        created_at: i64,
    },
}

#[derive(Default)]
pub(crate) struct Buffer {
    rows: Vec<Row>,
}

impl Buffer {
    /// Writes the rows into `sink`, in the order they came.
    pub fn replay<S: LogSink>(self, sink: &mut S) -> Result<(), S::Error> {
        for row in self.rows {
            match row {
                Row::Assignment {
                    user_id,
                    arm,
                    assigned_at,
                    platform,
                } => sink.assignment(SimAssignment {
                    user_id: &user_id,
                    arm: &arm,
                    assigned_at,
                    platform,
                })?,
                Row::Conversation {
                    conversation_id,
                    user_id,
                    arm,
                    created_at,
                } => sink.conversation(SimConversation {
                    conversation_id: &conversation_id,
                    user_id: &user_id,
                    arm: &arm,
                    created_at,
                })?,
                Row::Message {
                    message_id,
                    conversation_id,
                    user_id,
                    arm,
                    position,
                    reply,
                    created_at,
                    content_chars,
                } => sink.message(SimMessage {
                    message_id: &message_id,
                    conversation_id: &conversation_id,
                    user_id: &user_id,
                    arm: &arm,
                    position,
                    reply: reply.as_ref().map(|r| SimReply {
                        model: &r.model,
                        choice_prob: r.choice_prob,
                        latency_ms: r.latency_ms,
                        prompt_tokens: r.prompt_tokens,
                        completion_tokens: r.completion_tokens,
                        policy_version: r.policy_version,
                    }),
                    created_at,
                    content_chars,
                })?,
                Row::Event {
                    user_id,
                    conversation_id,
                    message_id,
                    kind,
                    value,
                    created_at,
                } => sink.event(SimEvent {
                    user_id: &user_id,
                    conversation_id: &conversation_id,
                    message_id: &message_id,
                    kind,
                    value,
                    created_at,
                })?,
            }
        }
        Ok(())
    }
}

impl LogSink for Buffer {
    type Error = Infallible;

    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), Infallible> {
        self.rows.push(Row::Assignment {
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            assigned_at: row.assigned_at,
            platform: row.platform,
        });
        Ok(())
    }

    fn conversation(&mut self, row: SimConversation<'_>) -> Result<(), Infallible> {
        self.rows.push(Row::Conversation {
            conversation_id: row.conversation_id.to_owned(),
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            created_at: row.created_at,
        });
        Ok(())
    }

    fn message(&mut self, row: SimMessage<'_>) -> Result<(), Infallible> {
        self.rows.push(Row::Message {
            message_id: row.message_id.to_owned(),
            conversation_id: row.conversation_id.to_owned(),
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            position: row.position,
            reply: row.reply.map(|r| OwnedReply {
                model: r.model.to_owned(),
                choice_prob: r.choice_prob,
                latency_ms: r.latency_ms,
                prompt_tokens: r.prompt_tokens,
                completion_tokens: r.completion_tokens,
                policy_version: r.policy_version,
            }),
            created_at: row.created_at,
            content_chars: row.content_chars,
        });
        Ok(())
    }

    fn event(&mut self, row: SimEvent<'_>) -> Result<(), Infallible> {
        self.rows.push(Row::Event {
            user_id: row.user_id.to_owned(),
            conversation_id: row.conversation_id.to_owned(),
            message_id: row.message_id.to_owned(),
            kind: row.kind,
            value: row.value,
            created_at: row.created_at,
        });
        Ok(())
    }

    fn user_done(&mut self, _: &SimSummary) -> Result<(), Infallible> {
        Ok(())
    }
}
