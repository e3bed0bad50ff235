//! The server's request log: the last requests, newest last, for the Server page and the
//! terminal.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// How many entries the log keeps.
const KEPT: usize = 500;

/// One answered request, or a note about one (a client that went away).
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// When it finished.
    pub at: SystemTime,
    /// `POST /v1/chat/completions`.
    pub request: String,
    /// The model asked for, if any.
    pub model: Option<String>,
    /// The HTTP status sent.
    pub status: u16,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// What happened beyond the status (tokens written, "client disconnected: stopped").
    pub note: String,
}

impl LogEntry {
    /// One line for a terminal.
    pub fn line(&self) -> String {
        let model = self.model.as_deref().unwrap_or("-");
        let mut line = format!(
            "{} {model} {} {:.2}s",
            self.request, self.status, self.seconds
        );
        if !self.note.is_empty() {
            line.push_str(" — ");
            line.push_str(&self.note);
        }
        line
    }
}

/// The shared log: cheap to clone; `echo` also prints each entry to stderr (`hubble serve`).
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<VecDeque<LogEntry>>>,
    echo: Arc<std::sync::atomic::AtomicBool>,
}

impl RequestLog {
    /// Prints every new entry on stderr from now on.
    pub fn echo_to_stderr(&self) {
        self.echo.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Adds an entry, dropping the oldest past [`KEPT`].
    pub fn push(&self, entry: LogEntry) {
        if self.echo.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("{}", entry.line());
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == KEPT {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_latest_entries() {
        let log = RequestLog::default();
        for status in 0..(KEPT as u16 + 3) {
            log.push(LogEntry {
                at: SystemTime::now(),
                request: "GET /v1/models".into(),
                model: None,
                status,
                seconds: 0.0,
                note: String::new(),
            });
        }
        let entries = log.entries();
        assert_eq!(entries.len(), KEPT);
        assert_eq!(entries[0].status, 3);
        assert!(entries[0].line().starts_with("GET /v1/models - 3"));
    }
}
