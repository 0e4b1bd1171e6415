//! Turns sampled token pieces into the reply text, and into the pieces of it that are safe to
//! stream.
//!
//! A token may end inside a multi-byte character, and a stop string may arrive split over several
//! tokens. What streams must never contain half a character or any part of a stop string, and
//! the streamed pieces must add up to exactly the reply that is logged (trimmed, cut at the
//! first stop string).

pub(crate) struct ReplyText {
    decoder: encoding_rs::Decoder,
    text: String,
    stops: Vec<String>,
    /// The longest stop string's length: a stop that ends in the new bytes starts at most this
    /// many bytes before them.
    longest_stop: usize,
    /// Bytes of `text` already handed out as deltas.
    streamed: usize,
}

impl ReplyText {
    pub fn new(stops: impl IntoIterator<Item = String>) -> Self {
        let stops: Vec<String> = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self {
            decoder: encoding_rs::UTF_8.new_decoder(),
            text: String::new(),
            longest_stop: stops.iter().map(String::len).max().unwrap_or(0),
            stops,
            streamed: 0,
        }
    }

    /// Appends one token's bytes; returns true when a stop string ended the reply.
    pub fn push(&mut self, piece: &[u8]) -> bool {
        let room = self
            .decoder
            .max_utf8_buffer_length(piece.len())
            .unwrap_or(piece.len() + 4);
        self.text.reserve(room);
        // The decoder keeps the bytes of an unfinished character for the next piece.
        let before = self.text.len();
        let _ = self.decoder.decode_to_string(piece, &mut self.text, false);
        // Only a stop that ends in the new bytes is new: search the tail, not the whole reply.
        let mut from = before.saturating_sub(self.longest_stop.saturating_sub(1));
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let tail = &self.text[from..];
        let cut = self
            .stops
            .iter()
            .filter_map(|s| tail.find(s.as_str()))
            .min()
            .map(|at| from + at);
        if let Some(cut) = cut {
            self.text.truncate(cut);
            return true;
        }
        false
    }

    /// The text written since the last call that can no longer change: it excludes anything
    /// that may begin a stop string and trailing whitespace, which the final trim may remove.
    pub fn take_delta(&mut self) -> Option<String> {
        let held_back = self
            .stops
            .iter()
            .map(|stop| longest_suffix_that_starts(&self.text, stop))
            .max()
            .unwrap_or(0);
        let settled = self.text[..self.text.len() - held_back].trim_end().len();
        self.delta_up_to(settled)
    }

    /// Ends the reply: the final text and whatever of it has not been streamed yet.
    pub fn finish(mut self) -> (String, Option<String>) {
        let end = self.text.trim_end().len();
        let rest = self.delta_up_to(end);
        let lead = self.leading_whitespace();
        self.text.truncate(end);
        (self.text.split_off(lead.min(end)), rest)
    }

    fn delta_up_to(&mut self, end: usize) -> Option<String> {
        let start = self.streamed.max(self.leading_whitespace());
        if end <= start {
            return None;
        }
        self.streamed = end;
        Some(self.text[start..end].to_owned())
    }

    fn leading_whitespace(&self) -> usize {
        self.text.len() - self.text.trim_start().len()
    }
}

/// The length of the longest proper prefix of `stop` that `text` ends with.
fn longest_suffix_that_starts(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&n| stop.is_char_boundary(n))
        .find(|&n| text.ends_with(&stop[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&[u8]], stops: &[&str]) -> (Vec<String>, String, bool) {
        let mut reply = ReplyText::new(stops.iter().map(|s| s.to_string()));
        let mut deltas = Vec::new();
        let mut stopped = false;
        for piece in pieces {
            stopped = reply.push(piece);
            deltas.extend(reply.take_delta());
            if stopped {
                break;
            }
        }
        let (text, rest) = reply.finish();
        deltas.extend(rest);
        (deltas, text, stopped)
    }

    #[test]
    fn a_character_split_across_tokens_streams_whole() {
        let e_acute = "é".as_bytes();
        let (deltas, text, _) = stream(&[b" caf", &e_acute[..1], &e_acute[1..], b"!"], &[]);
        assert_eq!(text, "café!");
        assert_eq!(deltas.concat(), text);
        assert!(deltas.iter().all(|d| !d.contains('\u{FFFD}')), "{deltas:?}");
    }

    #[test]
    fn a_stop_string_split_across_tokens_never_streams() {
        let (deltas, text, stopped) = stream(
            &[b" Hi", b" there", b"\nUs", b"er:", b" more"],
            &["\nUser:"],
        );
        assert!(stopped);
        assert_eq!(text, "Hi there");
        assert_eq!(deltas.concat(), text);
        assert!(deltas.iter().all(|d| !d.contains("Us")), "{deltas:?}");
    }

    #[test]
    fn a_held_back_prefix_that_is_not_a_stop_streams_later() {
        let (deltas, text, stopped) = stream(&[b"a\nU", b"nder"], &["\nUser:"]);
        assert!(!stopped);
        assert_eq!(text, "a\nUnder");
        assert_eq!(deltas, vec!["a", "\nUnder"]);
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_in_the_stream_as_in_the_log() {
        let (deltas, text, _) = stream(&[b"  ", b" Hello", b"  ", b"world ", b"\n"], &[]);
        assert_eq!(text, "Hello  world");
        assert_eq!(deltas.concat(), text);
    }

    #[test]
    fn the_tail_search_cuts_where_a_search_of_the_whole_text_cuts() {
        let stops = ["\nUser:", "<end>", "é!"];
        // Pieces of every length from 1 to 7 bytes over a text with stops at known places.
        let text = "abc\nUse déjà <en vu é \nUs\nUser: <end> é!".repeat(3);
        for piece_len in 1..=7 {
            let mut reply = ReplyText::new(stops.iter().map(|s| s.to_string()));
            let mut stopped = false;
            for chunk in text.as_bytes().chunks(piece_len) {
                if reply.push(chunk) {
                    stopped = true;
                    break;
                }
            }
            let whole_cut = stops.iter().filter_map(|s| text.find(s)).min().unwrap();
            assert!(stopped, "pieces of {piece_len}");
            assert_eq!(reply.text, text[..whole_cut], "pieces of {piece_len}");
        }
    }

    #[test]
    fn an_empty_reply_streams_nothing() {
        let (deltas, text, stopped) = stream(&[b" ", b"\nUser:"], &["\nUser:"]);
        assert!(stopped);
        assert_eq!(text, "");
        assert!(deltas.is_empty());
    }
}
