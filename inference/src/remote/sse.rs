//! The `data:` lines of a server-sent event stream, from bytes that arrive in arbitrary pieces.

#[derive(Default)]
pub(crate) struct DataLines {
    pending: Vec<u8>,
}

impl DataLines {
    /// Feeds the next bytes; returns the payloads of the `data:` lines they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut payloads = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(payload) = line.strip_prefix("data:") {
                payloads.push(payload.trim_start().to_owned());
            }
        }
        payloads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_anywhere_are_joined_and_other_fields_ignored() {
        let mut lines = DataLines::default();
        let stream = "event: x\r\ndata: {\"a\":\"é\"}\n\n: comment\ndata: [DONE]\n\n".as_bytes();
        let mut payloads = Vec::new();
        for piece in stream.chunks(3) {
            payloads.extend(lines.feed(piece));
        }
        assert_eq!(payloads, ["{\"a\":\"é\"}", "[DONE]"]);
    }
}
