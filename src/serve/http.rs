//! The HTTP side: the accept loop, the API key, routing to the endpoints, bodies in and out,
//! and one log entry per request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::log::LogEntry;
use super::openai::ApiError;
use super::{Shared, audio, catalog, chat, embeddings, images};

/// Any response body: a whole one or a stream.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The largest JSON body taken (the longest prompt, many texts to embed).
const JSON_LIMIT: usize = 32 << 20;
/// The largest upload taken (an audio file to transcribe).
pub(crate) const UPLOAD_LIMIT: usize = 256 << 20;

/// What a handler answers: the response, and what the log should say of it.
pub(crate) struct Reply {
    pub response: Response<Body>,
    pub model: Option<String>,
    pub note: String,
    /// A streamed answer writes its own log entry when the stream ends.
    pub logs_itself: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(value: &serde_json::Value, model: Option<String>, note: String) -> Reply {
        Reply::bytes(
            "application/json",
            Bytes::from(value.to_string()),
            model,
            note,
        )
    }

    /// Bytes of `content_type`.
    pub fn bytes(
        content_type: &'static str,
        bytes: Bytes,
        model: Option<String>,
        note: String,
    ) -> Reply {
        let mut response = Response::new(Full::new(bytes).boxed());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Reply {
            response,
            model,
            note,
            logs_itself: false,
        }
    }
}

/// An error with the model it concerned, for the log.
pub(crate) struct Failure {
    pub error: ApiError,
    pub model: Option<String>,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        Failure { error, model: None }
    }
}

/// What a handler knows of its request beyond the body.
pub(crate) struct Exchange {
    pub shared: Arc<Shared>,
    /// `POST /v1/chat/completions`.
    pub request_line: String,
    pub started: Instant,
    /// Set when the client is gone (the handler's future was dropped).
    pub gone: Arc<AtomicBool>,
}

impl Exchange {
    /// Writes the log entry of this request.
    pub fn log(&self, status: u16, model: Option<String>, note: String) {
        self.shared.log.push(LogEntry {
            at: std::time::SystemTime::now(),
            request: self.request_line.clone(),
            model,
            status,
            seconds: self.started.elapsed().as_secs_f64(),
            note,
        });
    }
}

/// Sets its flag when dropped: the handler's future was dropped, so the client is gone.
struct GoneOnDrop(Arc<AtomicBool>);

impl Drop for GoneOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Accepts connections until the runtime stops.
pub(crate) async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(request, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let gone = Arc::new(AtomicBool::new(false));
    let _guard = GoneOnDrop(gone.clone());
    let exchange = Exchange {
        shared,
        request_line: format!("{} {}", request.method(), request.uri().path()),
        started: Instant::now(),
        gone,
    };
    let reply = match authorize(&request, &exchange.shared) {
        Ok(()) => route(request, &exchange).await,
        Err(error) => Err(error.into()),
    };
    Ok(match reply {
        Ok(reply) => {
            if !reply.logs_itself {
                exchange.log(reply.response.status().as_u16(), reply.model, reply.note);
            }
            reply.response
        }
        Err(Failure { error, model }) => {
            exchange.log(error.status.as_u16(), model, error.message.clone());
            let mut response = Reply::json(&error.body(), None, String::new()).response;
            *response.status_mut() = error.status;
            response
        }
    })
}

fn authorize(request: &Request<Incoming>, shared: &Shared) -> Result<(), ApiError> {
    let Some(key) = &shared.api_key else {
        return Ok(());
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if given.is_some_and(|given| constant_time_eq(given.trim().as_bytes(), key.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Compares without stopping at the first difference (no timing hint about the key).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn route(request: Request<Incoming>, exchange: &Exchange) -> Result<Reply, Failure> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let method = request.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/v1/models") => catalog::list(exchange).await,
        (&Method::GET, p) if p.starts_with("/v1/models/") => {
            catalog::retrieve(exchange, &p["/v1/models/".len()..]).await
        }
        (&Method::POST, "/v1/chat/completions") => {
            chat::chat(exchange, json_body(request).await?).await
        }
        (&Method::POST, "/v1/completions") => {
            chat::completions(exchange, json_body(request).await?).await
        }
        (&Method::POST, "/v1/embeddings") => {
            embeddings::create(exchange, json_body(request).await?).await
        }
        (&Method::POST, "/v1/audio/transcriptions") => {
            let content_type = header(&request, CONTENT_TYPE);
            let body = read_body(request, UPLOAD_LIMIT).await?;
            audio::transcribe(exchange, &content_type, body).await
        }
        (&Method::POST, "/v1/audio/speech") => {
            audio::speech(exchange, json_body(request).await?).await
        }
        (&Method::POST, "/v1/images/generations") => {
            images::generate(exchange, json_body(request).await?).await
        }
        _ => Err(ApiError::no_route(method.as_str(), &path).into()),
    }
}

fn header(request: &Request<Incoming>, name: hyper::header::HeaderName) -> String {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    Limited::new(request.into_body(), limit)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..ApiError::bad_request(format!(
                "could not read the request body ({e}); the limit is {} MiB",
                limit >> 20
            ))
        })
}

async fn json_body<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, ApiError> {
    let bytes = read_body(request, JSON_LIMIT).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON for this endpoint: {e}"
        ))
    })
}

/// Runs a blocking job (a model's) on tokio's blocking threads.
pub(crate) async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| ApiError::server(format!("the job stopped unexpectedly: {e}")))
}

/// A streamed response body fed through a channel: dropping it (the client hung up) makes the
/// sender's `send` fail, which stops the job.
pub(crate) struct ChannelBody(pub mpsc::UnboundedReceiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// A server-sent-events response over `body`.
pub(crate) fn event_stream(body: ChannelBody) -> Response<Body> {
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

/// One server-sent event carrying `value` as JSON.
pub(crate) fn sse(value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
