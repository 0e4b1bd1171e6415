//! A prompt cut into the pieces that fitting a history into a context drops or keeps.
//!
//! Fitting drops the oldest turns (never the system prompt, never the newest message) until the
//! prompt fits. Rendering and tokenizing the whole prompt again for every turn dropped costs
//! O(turns²) on the scheduler thread; pieces are tokenized once each, and the prompt without its
//! first `dropped` turns is the same pieces minus the dropped ones.

use super::PromptTemplate;
use crate::backend::{ChatMessage, Role};

/// `assemble(d)` renders exactly `template.render(system messages ++ turns[d..])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptPieces {
    /// What always comes first: the transcript's system prompt (empty for Gemma's turns).
    pub head: String,
    /// Each non-system message as rendered when it does not carry the system prompt.
    pub turns: Vec<String>,
    /// The same message opened by the system prompt, where it can carry it: Gemma puts the
    /// system prompt into the first user turn that is kept.
    pub opened: Vec<Option<String>>,
    /// The cue for the reply.
    pub cue: &'static str,
}

impl PromptTemplate {
    /// The pieces of `render(messages)`, with the system messages first as fitting keeps them.
    pub fn pieces(self, messages: &[ChatMessage]) -> PromptPieces {
        let system: String = messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| self.piece(m, ""))
            .collect();
        let turns: Vec<&ChatMessage> = messages.iter().filter(|m| m.role != Role::System).collect();
        let (head, opening) = match self {
            Self::Transcript => (system, String::new()),
            Self::GemmaTurns => (String::new(), system),
        };
        let opened = turns
            .iter()
            .map(|m| (!opening.is_empty() && m.role == Role::User).then(|| self.piece(m, &opening)))
            .collect();
        PromptPieces {
            head,
            turns: turns.iter().map(|m| self.piece(m, "")).collect(),
            opened,
            cue: self.cue(),
        }
    }
}

impl PromptPieces {
    /// The turn that carries the system prompt once the first `dropped` turns are left out.
    pub fn opener(&self, dropped: usize) -> Option<usize> {
        (dropped..self.turns.len()).find(|&i| self.opened[i].is_some())
    }

    /// `opener(d)` for every `d` in `0..=turns`, in one backward pass.
    pub fn openers(&self) -> Vec<Option<usize>> {
        let mut openers = vec![None; self.turns.len() + 1];
        for i in (0..self.turns.len()).rev() {
            openers[i] = if self.opened[i].is_some() {
                Some(i)
            } else {
                openers[i + 1]
            };
        }
        openers
    }

    /// The kept turns in order once the first `dropped` are left out: (index, whether the turn is
    /// taken in its `opened` form).
    pub fn kept(&self, dropped: usize) -> impl Iterator<Item = (usize, bool)> {
        let opener = self.opener(dropped);
        (dropped..self.turns.len()).map(move |i| (i, opener == Some(i)))
    }

    /// The prompt without its first `dropped` turns, with or without the reply cue.
    pub fn assemble(&self, dropped: usize, with_cue: bool) -> String {
        let mut out = self.head.clone();
        for (i, opened) in self.kept(dropped) {
            match (&self.opened[i], opened) {
                (Some(text), true) => out.push_str(text),
                _ => out.push_str(&self.turns[i]),
            }
        }
        if with_cue {
            out.push_str(self.cue);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> Vec<ChatMessage> {
        vec![
            ChatMessage::new(Role::System, "You are Ada."),
            ChatMessage::new(Role::User, "Hi!"),
            ChatMessage::new(Role::Assistant, "Hello."),
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "How are\nyou?"),
            ChatMessage::new(Role::Assistant, "Fine."),
            ChatMessage::new(Role::User, "Good."),
        ]
    }

    fn without_first_turns(messages: &[ChatMessage], dropped: usize) -> Vec<ChatMessage> {
        let system = messages.iter().filter(|m| m.role == Role::System);
        let turns = messages
            .iter()
            .filter(|m| m.role != Role::System)
            .skip(dropped);
        system.chain(turns).cloned().collect()
    }

    #[test]
    fn assembled_pieces_render_the_fitted_history_exactly() {
        for template in [PromptTemplate::Transcript, PromptTemplate::GemmaTurns] {
            for messages in [conversation(), conversation()[1..].to_vec()] {
                let pieces = template.pieces(&messages);
                for dropped in 0..pieces.turns.len() {
                    let kept = without_first_turns(&messages, dropped);
                    assert_eq!(
                        pieces.assemble(dropped, true),
                        template.render(&kept),
                        "{template:?}, {dropped} dropped"
                    );
                    assert_eq!(
                        pieces.assemble(dropped, false),
                        template.render_history(&kept)
                    );
                }
            }
        }
    }

    #[test]
    fn gemma_moves_the_system_prompt_to_the_first_kept_user_turn() {
        let pieces = PromptTemplate::GemmaTurns.pieces(&conversation());
        assert_eq!(pieces.opener(0), Some(0));
        // Turn 1 is the assistant's; the next user turn (2) carries the system prompt.
        assert_eq!(pieces.opener(1), Some(2));
        assert!(pieces
            .assemble(1, true)
            .starts_with("<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nYou are Ada.\n\nBe brief.\n\nHow are\nyou?"));
        assert_eq!(
            PromptTemplate::Transcript.pieces(&conversation()).opener(0),
            None
        );
    }
}
