//! A server-sent events parser for streamed chat completions: bytes in (split anywhere, even
//! inside a UTF-8 character), the `data:` payload of each complete event out.

/// Largest event accepted (a server that never ends an event would otherwise grow the buffer).
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Buffers bytes until an event (ended by a blank line) is complete.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    /// Feeds `bytes`; returns the data of every event completed by them (multi-line data joined
    /// with `\n`; comments and other fields ignored), or an error for an oversized event.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, skip)) = event_end(&self.buffer) {
            let event: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                events.push(data.join("\n"));
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err("an event of the stream is larger than 4 MiB".into());
        }
        Ok(events)
    }
}

/// Where the first event ends (`\n\n` or `\r\n\r\n`) and the separator's length.
fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::SseParser;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let stream =
            "data: {\"a\":\"é\"}\n\n: keep-alive\n\ndata: one\ndata: two\r\n\r\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for cut in 0..bytes.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&bytes[..cut]).unwrap();
            events.extend(parser.push(&bytes[cut..]).unwrap());
            assert_eq!(
                events,
                ["{\"a\":\"é\"}", "one\ntwo", "[DONE]"],
                "cut at {cut}"
            );
        }
    }
}
