//! The one place Hubble sends HTTP requests to a Hub: timeouts, retries with backoff that honour
//! `Retry-After`, redirects followed by hand, and a token that only ever goes to the endpoint.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response};
use url::Url;

use super::error::{FailedResponse, RequestSubject};
use super::retry::parse_retry_after;
use super::{HUB_ADDRESS, HubClient, HubError};

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 10;

/// Largest error body read to find the server's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Which redirects a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Every redirect (content downloads: LFS files live on another host).
    All,
    /// Only redirects within the same host, as huggingface_hub does for `HEAD` metadata calls:
    /// an absolute redirect is returned to the caller, which reads the linked headers from it.
    RelativeOnly,
}

/// One logical request to the Hub.
#[derive(Debug, Clone)]
pub(crate) struct HubRequest {
    pub method: Method,
    pub url: Url,
    pub subject: RequestSubject,
    pub follow: Follow,
    pub timeout: Duration,
    pub headers: HeaderMap,
    /// A request body (sent again on a retry).
    pub body: Option<Vec<u8>>,
    /// A remote-inference request: the token may also go to the router's origin
    /// ([`crate::config::HubConfig::router_endpoint`]).
    pub to_router: bool,
    /// The setting that names this server's address, for a connection error ([`HUB_ADDRESS`]
    /// unless [`HubRequest::at`] says otherwise).
    pub address: &'static str,
}

impl HubRequest {
    /// A `GET` with the metadata timeout.
    pub fn get(client: &HubClient, url: Url) -> HubRequest {
        HubRequest {
            method: Method::GET,
            url,
            subject: RequestSubject::default(),
            follow: Follow::All,
            timeout: client.config().metadata_timeout,
            headers: HeaderMap::new(),
            body: None,
            to_router: false,
            address: HUB_ADDRESS,
        }
    }

    /// A request to a server other than the Hub, whose address `setting` names.
    pub fn at(mut self, setting: &'static str) -> Self {
        self.address = setting;
        self
    }

    /// Names the repository (and revision, path) the request is about, for error messages.
    pub fn about(mut self, repo: &str, revision: Option<&str>, path: Option<&str>) -> Self {
        self.subject = RequestSubject {
            repo: Some(repo.to_string()),
            revision: revision.map(str::to_string),
            path: path.map(str::to_string),
        };
        self
    }
}

impl HubClient {
    /// Sends `request`, retrying transient failures per the client's [`super::RetryPolicy`].
    /// Returns the first successful (2xx) response, or a redirect response when
    /// [`Follow::RelativeOnly`] stopped at an absolute redirect.
    pub(crate) async fn send(&self, request: &HubRequest) -> Result<Response, HubError> {
        if self.config().offline {
            return Err(HubError::Offline {
                what: format!("{} {}", request.method, request.url),
            });
        }
        let mut retry = 0;
        loop {
            match self.send_following_redirects(request).await {
                Ok(response) => return Ok(response),
                Err(error) => match self.retry_policy().delay_before_retry(&error, retry) {
                    Some(delay) => {
                        tokio::time::sleep(delay).await;
                        retry += 1;
                    }
                    None => return Err(error),
                },
            }
        }
    }

    async fn send_following_redirects(&self, request: &HubRequest) -> Result<Response, HubError> {
        let mut url = request.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let response = self.send_once(request, &url).await?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok());
                let Some(location) = location else {
                    return Ok(response);
                };
                let relative = Url::parse(location).is_err();
                if request.follow == Follow::RelativeOnly && !relative {
                    return Ok(response);
                }
                url = url.join(location).map_err(|e| HubError::InvalidResponse {
                    url: url.to_string(),
                    detail: format!("bad redirect Location {location:?}: {e}"),
                })?;
                continue;
            }
            if status.is_success() {
                return Ok(response);
            }
            return Err(self.failure(request, response).await);
        }
        Err(HubError::InvalidResponse {
            url: request.url.to_string(),
            detail: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    async fn send_once(&self, request: &HubRequest, url: &Url) -> Result<Response, HubError> {
        let mut builder = self
            .http()
            .request(request.method.clone(), url.clone())
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let token = self.token_for(url).or_else(|| {
            request
                .to_router
                .then(|| self.router_token_for(url))
                .flatten()
        });
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        match tokio::time::timeout(request.timeout, builder.send()).await {
            Err(_) => Err(HubError::Timeout {
                url: url.to_string(),
                after: request.timeout,
            }),
            Ok(Err(error)) => Err(transport_error(
                url,
                request.timeout,
                &error,
                request.address,
            )),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// The token, but only for URLs on the endpoint's own origin (scheme, host and port).
    fn token_for(&self, url: &Url) -> Option<&str> {
        same_origin(url, self.endpoint_url())
            .then(|| self.config().token.as_deref())
            .flatten()
    }

    /// The token for a remote-inference request, only on the router's own origin.
    fn router_token_for(&self, url: &Url) -> Option<&str> {
        let router = Url::parse(&self.config().router_endpoint).ok()?;
        same_origin(url, &router)
            .then(|| self.config().token.as_deref())
            .flatten()
    }

    async fn failure(&self, request: &HubRequest, response: Response) -> HubError {
        let headers = response.headers().clone();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = response.status().as_u16();
        let url = response.url().to_string();
        let (body_message, estimated_time) = if request.method == Method::HEAD {
            (None, None)
        } else {
            error_body(response, request.timeout).await
        };
        let failed = FailedResponse {
            status,
            url,
            error_code: text("x-error-code"),
            error_message: text("x-error-message"),
            retry_after: text("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now())),
            body_message,
            estimated_time,
        };
        let authenticated = self.token_for(&request.url).is_some()
            || (request.to_router && self.router_token_for(&request.url).is_some());
        failed.classify(&request.subject, &self.config().endpoint, authenticated)
    }
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Maps a transport-level failure (no HTTP answer) to a typed error; `setting` names the
/// server's address ([`HubRequest::address`]).
pub(crate) fn transport_error(
    url: &Url,
    timeout: Duration,
    error: &reqwest::Error,
    setting: &'static str,
) -> HubError {
    if error.is_timeout() {
        return HubError::Timeout {
            url: url.to_string(),
            after: timeout,
        };
    }
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    HubError::Connection {
        url: url.to_string(),
        detail,
        setting,
    }
}

/// The server's explanation in an error body (`{"error": "..."}` or short plain text), and the
/// inference router's `estimated_time` (seconds) when it says a model is loading.
async fn error_body(response: Response, timeout: Duration) -> (Option<String>, Option<f64>) {
    let Ok(bytes) = read_limited(response, timeout, MAX_ERROR_BODY).await else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(message) = json.get("error").and_then(|e| e.as_str())
    {
        let estimated = json
            .get("estimated_time")
            .and_then(serde_json::Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0);
        return (Some(message.to_string()), estimated);
    }
    let text = text.trim();
    let message = (!text.is_empty() && text.len() < 500).then(|| text.to_string());
    (message, None)
}

/// Reads a response body of at most `limit` bytes, with `timeout` between chunks.
pub(crate) async fn read_limited(
    mut response: Response,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, HubError> {
    let url = response.url().to_string();
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(timeout, response.chunk()).await {
            Err(_) => {
                return Err(HubError::Timeout {
                    url,
                    after: timeout,
                });
            }
            Ok(Err(e)) => return Err(transport_error(response.url(), timeout, &e, HUB_ADDRESS)),
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => chunk,
        };
        if body.len() + chunk.len() > limit {
            return Err(HubError::InvalidResponse {
                url,
                detail: format!("the answer is larger than {limit} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
}
