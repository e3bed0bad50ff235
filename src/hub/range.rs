//! Reading part of a file: `GET` with `Range`, streamed chunk by chunk so that a server that
//! ignores `Range` (answering `200` with the whole file) can be read only as far as needed.

use std::time::Duration;

use reqwest::Response;
use reqwest::header::{self, HeaderValue};

use super::api::DEFAULT_REVISION;
use super::http::{HubRequest, transport_error};
use super::{HUB_ADDRESS, HubClient, HubError, RepoId};

/// The body of a ranged `GET`, read incrementally. Dropping it before the end drops the
/// connection (it is not returned to the pool), so the server stops sending.
pub struct RangeBody {
    response: Response,
    timeout: Duration,
    offset: u64,
    partial: bool,
    file_len: Option<u64>,
    received: u64,
}

impl RangeBody {
    /// Offset in the file of the body's first byte: the requested start for a `206` answer,
    /// 0 when the server ignored the range and sent the whole file (`200`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the server honoured the range (`206 Partial Content`).
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The length of the whole file, from `Content-Range` (`206`) or `Content-Length` (`200`).
    pub fn file_len(&self) -> Option<u64> {
        self.file_len
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Appends the next chunk of the body to `buf` and returns its length (0 at the end);
    /// waits at most the download timeout.
    pub async fn read_into(&mut self, buf: &mut Vec<u8>) -> Result<usize, HubError> {
        match tokio::time::timeout(self.timeout, self.response.chunk()).await {
            Err(_) => Err(HubError::Timeout {
                url: self.response.url().to_string(),
                after: self.timeout,
            }),
            Ok(Err(e)) => Err(transport_error(
                self.response.url(),
                self.timeout,
                &e,
                HUB_ADDRESS,
            )),
            Ok(Ok(None)) => Ok(0),
            Ok(Ok(Some(chunk))) => {
                self.received += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                Ok(chunk.len())
            }
        }
    }
}

impl HubClient {
    /// Opens `path` at `revision` (default `main`) for reading bytes `start..end` (`end`
    /// exclusive; `None`: to the end of the file), following redirects to wherever the content
    /// is served. The server may ignore the range: check [`RangeBody::offset`].
    pub async fn open_range(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
        path: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<RangeBody, HubError> {
        let revision = revision.unwrap_or(DEFAULT_REVISION);
        if self.config().offline {
            return Err(HubError::Offline {
                what: format!("reading {path} from {repo}"),
            });
        }
        let mut request = HubRequest::get(self, self.resolve_url(repo, revision, path)?).about(
            repo.as_str(),
            Some(revision),
            Some(path),
        );
        request.timeout = self.config().download_timeout;
        let range = match end {
            Some(end) if end > start => format!("bytes={start}-{}", end - 1),
            _ => format!("bytes={start}-"),
        };
        let range = HeaderValue::from_str(&range)
            .map_err(|e| HubError::InvalidInput(format!("bad range: {e}")))?;
        request.headers.insert(header::RANGE, range);
        request.headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let response = self.send(&request).await?;
        let partial = response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
        let text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (offset, file_len) = if partial {
            let content_range = text(header::CONTENT_RANGE).unwrap_or_default();
            let (first, total) =
                parse_content_range(&content_range).ok_or_else(|| HubError::InvalidResponse {
                    url: response.url().to_string(),
                    detail: format!("a 206 answer with Content-Range {content_range:?}"),
                })?;
            if first != start {
                return Err(HubError::InvalidResponse {
                    url: response.url().to_string(),
                    detail: format!("asked for bytes from {start}, got them from {first}"),
                });
            }
            (first, total)
        } else {
            let len = text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
            (0, len)
        };
        Ok(RangeBody {
            response,
            timeout: request.timeout,
            offset,
            partial,
            file_len,
            received: 0,
        })
    }
}

/// `bytes FIRST-LAST/TOTAL` → `(FIRST, Some(TOTAL))`; `TOTAL` may be `*`.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (first, _) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((first.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000"),
            Some((0, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes x-1/2"), None);
    }
}
