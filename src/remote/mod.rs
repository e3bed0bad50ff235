//! Remote inference through the Hub's inference router, for models that don't fit or aren't
//! supported locally: chat through its OpenAI-compatible `POST /v1/chat/completions` with
//! `stream: true`, and text classification, image classification and speech recognition
//! through its HF-inference provider ([`tasks`]). The user's token goes to the router's origin
//! only for these requests (and not at all when no token is set); everything goes through
//! `HubClient::send`.

mod sse;
pub mod tasks;

use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde::{Deserialize, Serialize};

pub use sse::SseParser;
pub use tasks::{RemoteInput, RemoteOutput, RemoteTask, RemoteTranscript, TranscriptChunk};

use crate::hub::{HubClient, HubError, HubRequest};

use crate::config::{DEFAULT_ROUTER_ENDPOINT, ROUTER_ENDPOINT_ENV};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A chat completion to run remotely.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The model id (`org/name`, optionally `:provider`).
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Longest answer, in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// What a streamed completion produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatReply {
    /// The whole answer.
    pub text: String,
    /// `stop`, `length`, … as the router said.
    pub finish_reason: Option<String>,
    /// The model that answered, as the router named it.
    pub model: Option<String>,
    /// How many content pieces streamed in.
    pub chunks: usize,
}

/// `base` + `path` as an http(s) URL, or an error naming [`ROUTER_ENDPOINT_ENV`].
fn router_url(base: &str, path: &str) -> Result<url::Url, HubError> {
    url::Url::parse(&format!("{base}{path}"))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            HubError::InvalidInput(format!(
                "The inference router {base:?} is not an http(s) URL; set \
                 {ROUTER_ENDPOINT_ENV} to something like {DEFAULT_ROUTER_ENDPOINT}."
            ))
        })
}

/// The fields of a `chat.completion.chunk` read here.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

/// `{"model", "messages", "stream": true, …}`.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    request: &'a ChatRequest,
    stream: bool,
}

impl HubClient {
    /// Runs `request` on the router, calling `on_token` with each piece of the answer as it
    /// streams in.
    pub async fn remote_chat(
        &self,
        request: &ChatRequest,
        mut on_token: impl FnMut(&str),
    ) -> Result<ChatReply, HubError> {
        let url = router_url(&self.config().router_endpoint, "/chat/completions")?;
        let body = serde_json::to_vec(&Body {
            request,
            stream: true,
        })
        .map_err(|e| HubError::InvalidInput(format!("could not write the request: {e}")))?;
        let mut http = HubRequest::get(self, url)
            .about(&request.model, None, None)
            .at(ROUTER_ENDPOINT_ENV);
        http.method = Method::POST;
        http.body = Some(body);
        http.to_router = true;
        http.timeout = self.config().download_timeout;
        http.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        http.headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let mut response = self.send(&http).await?;
        let url = response.url().to_string();
        let invalid = |detail: String| HubError::InvalidResponse {
            url: url.clone(),
            detail,
        };
        let mut parser = SseParser::default();
        let mut reply = ChatReply::default();
        loop {
            let chunk = match tokio::time::timeout(http.timeout, response.chunk()).await {
                Err(_) => {
                    return Err(HubError::Timeout {
                        url: url.clone(),
                        after: http.timeout,
                    });
                }
                Ok(Err(e)) => {
                    return Err(crate::hub::transport_error(
                        response.url(),
                        http.timeout,
                        &e,
                        ROUTER_ENDPOINT_ENV,
                    ));
                }
                Ok(Ok(None)) => return Ok(reply),
                Ok(Ok(Some(chunk))) => chunk,
            };
            for data in parser.push(&chunk).map_err(invalid)? {
                if data.trim() == "[DONE]" {
                    return Ok(reply);
                }
                let chunk: Chunk = serde_json::from_str(&data)
                    .map_err(|e| invalid(format!("a streamed chunk is not JSON: {e}")))?;
                reply.model = reply.model.or(chunk.model);
                for choice in chunk.choices {
                    if let Some(piece) = choice.delta.content.filter(|p| !p.is_empty()) {
                        on_token(&piece);
                        reply.text.push_str(&piece);
                        reply.chunks += 1;
                    }
                    if choice.finish_reason.is_some() {
                        reply.finish_reason = choice.finish_reason;
                    }
                }
            }
        }
    }
}
