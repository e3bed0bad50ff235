//! When and how long to wait before retrying a failed request.

use std::time::{Duration, SystemTime};

use super::HubError;

/// Bounds on retrying transient failures (429, 5xx, timeouts, dropped connections).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after a 429 or 5xx answer or a dropped connection.
    pub max_retries: u32,
    /// Retries after a timeout (each one costs a whole timeout, so fewer).
    pub max_timeout_retries: u32,
    /// First backoff delay; it doubles on each retry.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` that is waited out; a longer one is reported to the user instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_timeout_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0-based) after `error`, or `None` when the
    /// error is final or the retries are used up.
    pub fn delay_before_retry(&self, error: &HubError, retry: u32) -> Option<Duration> {
        let limit = match error {
            HubError::Timeout { .. } => self.max_timeout_retries,
            HubError::RateLimited { .. }
            | HubError::Server { .. }
            | HubError::Connection { .. } => self.max_retries,
            _ => return None,
        };
        if retry >= limit {
            return None;
        }
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay);
        match error {
            HubError::RateLimited {
                retry_after: Some(wait),
            } => (*wait <= self.max_retry_after).then_some(*wait),
            HubError::Server { status, .. } if !matches!(status, 500 | 502 | 503 | 504) => None,
            _ => Some(backoff),
        }
    }
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(when);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16) -> HubError {
        HubError::Server {
            status,
            url: String::new(),
            message: String::new(),
        }
    }

    #[test]
    fn backoff_doubles_and_stops() {
        let policy = RetryPolicy::default();
        let delays: Vec<_> = (0..6)
            .map(|n| policy.delay_before_retry(&server(503), n))
            .collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(
            delays,
            vec![ms(500), ms(1000), ms(2000), ms(4000), ms(8000), None]
        );
        assert_eq!(policy.delay_before_retry(&server(501), 0), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let policy = RetryPolicy::default();
        let limited = |s| HubError::RateLimited {
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(
            policy.delay_before_retry(&limited(3), 0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(policy.delay_before_retry(&limited(3600), 0), None);
        let timeout = HubError::Timeout {
            url: String::new(),
            after: Duration::from_secs(1),
        };
        assert!(policy.delay_before_retry(&timeout, 1).is_some());
        assert!(policy.delay_before_retry(&timeout, 2).is_none());
        let final_error = HubError::RepoNotFound {
            repo: "a/b".into(),
            authenticated: false,
        };
        assert_eq!(policy.delay_before_retry(&final_error, 0), None);
    }

    #[test]
    fn parses_both_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let date = "Sun, 09 Sep 2001 01:47:00 GMT"; // 1_000_000_020
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(20)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
