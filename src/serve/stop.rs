//! Stop strings over streamed text: a piece is let out only once no stop string can start in
//! it, and the text ends where the first stop string begins.

/// Watches generated text for the request's stop strings.
#[derive(Debug, Default)]
pub struct StopWatcher {
    stops: Vec<String>,
    text: String,
    sent: usize,
    stopped: bool,
    /// Bytes held back: a stop string's length less one.
    hold: usize,
}

impl StopWatcher {
    /// A watcher for `stops` (none: every piece goes out at once).
    pub fn new(stops: Vec<String>) -> StopWatcher {
        let hold = stops.iter().map(|s| s.len()).max().unwrap_or(1) - 1;
        StopWatcher {
            stops,
            hold,
            ..StopWatcher::default()
        }
    }

    /// Adds a generated piece; returns the text now safe to send (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        if self.stopped {
            return String::new();
        }
        self.text.push_str(piece);
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.text[self.sent..].find(stop.as_str()))
            .min();
        let end = match first_stop {
            Some(at) => {
                self.stopped = true;
                self.text.truncate(self.sent + at);
                self.text.len()
            }
            None => {
                let mut end = self.text.len().saturating_sub(self.hold).max(self.sent);
                while !self.text.is_char_boundary(end) {
                    end -= 1;
                }
                end
            }
        };
        let ready = self.text[self.sent..end].to_string();
        self.sent = end;
        ready
    }

    /// The text held back, at the end of generation.
    pub fn finish(&mut self) -> String {
        let rest = self.text[self.sent..].to_string();
        self.sent = self.text.len();
        rest
    }

    /// Whether a stop string ended the text.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The text so far (up to the stop string, when one came).
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_stops_every_piece_goes_out() {
        let mut watcher = StopWatcher::new(Vec::new());
        assert_eq!(watcher.push("Hello"), "Hello");
        assert_eq!(watcher.push(" wörld"), " wörld");
        assert_eq!(watcher.finish(), "");
        assert!(!watcher.stopped());
    }

    #[test]
    fn a_stop_string_split_over_pieces_ends_the_text_before_it() {
        let mut watcher = StopWatcher::new(vec!["END".into()]);
        let mut sent = String::new();
        for piece in ["one E", "N", "two", " EN", "D three"] {
            sent.push_str(&watcher.push(piece));
        }
        sent.push_str(&watcher.finish());
        assert!(watcher.stopped());
        assert_eq!(sent, "one ENtwo ");
        assert_eq!(watcher.text(), "one ENtwo ");
    }

    #[test]
    fn held_back_text_never_splits_a_character() {
        let mut watcher = StopWatcher::new(vec!["xyz".into()]);
        let mut sent = watcher.push("aé");
        sent.push_str(&watcher.push("ü"));
        sent.push_str(&watcher.finish());
        assert_eq!(sent, "aéü");
    }
}
