//! The OpenAI API's wire shapes that more than one endpoint uses: errors, usage counts and
//! ids.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};

/// An error as OpenAI sends it: `{"error": {"message", "type", "param", "code"}}` with its
/// HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `server_error`…).
    pub kind: &'static str,
    /// OpenAI's error code (`model_not_found`, `invalid_api_key`…).
    pub code: Option<&'static str>,
    /// The request field at fault.
    pub param: Option<&'static str>,
}

impl ApiError {
    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            code: None,
            param: None,
        }
    }

    /// 400 about one field.
    pub fn bad_param(param: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param),
            ..ApiError::bad_request(message)
        }
    }

    /// 404: no such model in the cache.
    pub fn model_not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: Some("model_not_found"),
            param: Some("model"),
            ..ApiError::bad_request(message)
        }
    }

    /// 404: no such endpoint.
    pub fn no_route(method: &str, path: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: Some("unknown_url"),
            ..ApiError::bad_request(format!("Unknown request URL: {method} {path}"))
        }
    }

    /// 401: the API key is missing or wrong.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_api_key"),
            ..ApiError::bad_request(
                "Incorrect API key provided: pass the key this server was started with as \
                 `Authorization: Bearer <key>`",
            )
        }
    }

    /// 500: the model failed.
    pub fn server(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "server_error",
            ..ApiError::bad_request(message)
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

/// Token counts of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: usize,
    /// Tokens written.
    pub completion_tokens: usize,
    /// Both.
    pub total_tokens: usize,
}

impl Usage {
    /// The counts of a prompt and its answer.
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// Seconds since the Unix epoch (OpenAI's `created`).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh id with OpenAI's prefix (`chatcmpl-…`): the time and a counter, unique per process.
pub fn fresh_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{:x}{nanos:08x}{n:04x}", now())
}

/// A `"stop"` field: one string or a list (up to four in OpenAI's API).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StopField {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl StopField {
    /// The non-empty stop strings.
    pub fn strings(self) -> Vec<String> {
        let all = match self {
            StopField::One(s) => vec![s],
            StopField::Many(list) => list,
        };
        all.into_iter().filter(|s| !s.is_empty()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_openais_shape() {
        let body = ApiError::model_not_found("no such model").body();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(ApiError::unauthorized().status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn ids_are_unique_and_stop_fields_read_both_forms() {
        assert_ne!(fresh_id("chatcmpl"), fresh_id("chatcmpl"));
        let one: StopField = serde_json::from_str("\"\\n\"").unwrap();
        let many: StopField = serde_json::from_str("[\"a\", \"\"]").unwrap();
        assert_eq!(one.strings(), ["\n"]);
        assert_eq!(many.strings(), ["a"]);
    }
}
