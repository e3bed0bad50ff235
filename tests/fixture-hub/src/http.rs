//! A small HTTP/1.1 server: request parsing, responses, keep-alive connections.
//!
//! Only what the Hub protocol needs: GET/HEAD with an optional `Content-Length` body (read and
//! discarded), persistent connections (HTTP/1.1 by default, HTTP/1.0 with `keep-alive`) and
//! pipelining. Malformed requests get `400` and the connection is closed.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;

use crate::faults::BodyFault;
use crate::repos::FileContent;
use crate::util::percent_decode;

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: u64 = 64 * 1024;
/// Largest request body read (and discarded).
const MAX_BODY: u64 = 1 << 20;
/// Chunk size when streaming file bodies.
const CHUNK: usize = 64 * 1024;

/// A parsed request.
pub(crate) struct Request {
    pub method: String,
    /// Path and query as sent.
    pub raw_target: String,
    /// The path part of `raw_target`, still encoded.
    pub raw_path: String,
    /// Decoded path.
    pub path: String,
    /// The path split on `/` before decoding, each segment decoded (leading `/` dropped).
    pub segments: Vec<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    keep_alive: bool,
}

impl Request {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a query key.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a query key.
    pub fn query_first(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a boolean query flag is on (`true` or `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.query_first(key), Some("true" | "1"))
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }
}

/// A response body.
pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of `content` from `start`, streamed.
    Content {
        content: Arc<FileContent>,
        start: u64,
        len: u64,
    },
}

/// A response; `Content-Length` is always computed from the body.
pub(crate) struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    /// Applied while a file body ([`Body::Content`]) is written.
    pub body_fault: BodyFault,
}

impl Response {
    /// An empty response.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            body_fault: BodyFault::default(),
        }
    }

    /// Sets a header, replacing one of the same name. Control characters in the value (which
    /// may come from the request, e.g. a revision) become spaces, so they cannot split headers.
    pub fn header(mut self, name: &str, value: &str) -> Response {
        let value = value.replace(|c: char| c.is_control(), " ");
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value));
        self
    }

    /// Sets a header unless one of the same name is there.
    pub fn default_header(self, name: &str, value: &str) -> Response {
        if self.header_value(name).is_some() {
            self
        } else {
            self.header(name, value)
        }
    }

    /// The value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// A `text/plain` response.
    pub fn text(status: u16, text: &str) -> Response {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::Bytes(text.as_bytes().to_vec()))
    }

    /// A JSON response.
    pub fn json(status: u16, value: &Value) -> Response {
        Response::new(status)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(Body::Bytes(value.to_string().into_bytes()))
    }

    /// A JSON `{"error": message}` response.
    pub fn json_error(status: u16, message: &str) -> Response {
        Response::json(status, &json!({ "error": message }))
    }

    /// Whether the body is file content (what body faults apply to).
    pub fn has_content_body(&self) -> bool {
        matches!(self.body, Body::Content { .. })
    }

    fn body_len(&self) -> u64 {
        match &self.body {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Content { len, .. } => *len,
        }
    }
}

/// What a handler does with a request.
pub(crate) enum Reply {
    Respond(Response),
    /// Never answer; hold the connection.
    Stall,
}

/// The application behind the server.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Answers one request (HEAD requests are answered like GET; the body is dropped here).
    fn handle(&self, request: &Request) -> Reply;
    /// Adds the headers every response carries (also used for unparseable requests).
    fn finish(&self, response: Response) -> Response;
    /// Called with the number of body bytes about to be written (before each write, so a
    /// client never sees more bytes than were counted).
    fn body_bytes_sent(&self, count: u64);
    /// The most file-body bytes per second one response may send (`None`: unlimited).
    fn throttle(&self) -> Option<u64>;
}

/// Why a request could not be read.
enum ReadError {
    /// The peer closed or the socket failed: nothing to answer.
    Gone,
    /// Answer with this status, then close.
    Status(u16),
}

/// Serves one connection until the peer closes it, a request asks to close, or an error.
pub(crate) async fn serve_connection(stream: TcpStream, handler: Arc<impl Handler>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let request = match read_request(&mut reader).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Gone) => return,
            Err(ReadError::Status(status)) => {
                let response = handler.finish(Response::text(status, reason(status)));
                let _ = write_response(&mut write, response, false, true, &*handler).await;
                return;
            }
        };
        match handler.handle(&request) {
            Reply::Stall => std::future::pending::<()>().await,
            Reply::Respond(response) => {
                let head_only = request.method == "HEAD";
                let close = !request.keep_alive;
                if write_response(&mut write, response, head_only, close, &*handler)
                    .await
                    .is_err()
                    || close
                {
                    return;
                }
            }
        }
    }
}

/// Reads one request head and discards its body. `Ok(None)` on a clean close before it.
async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Request>, ReadError> {
    let mut lines = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let mut line = Vec::new();
        let n = (&mut *reader)
            .take(budget)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| ReadError::Gone)?;
        budget -= n as u64;
        if n == 0 {
            return match (lines.is_empty(), budget == 0) {
                (_, true) => Err(ReadError::Status(431)),
                (true, false) => Ok(None),
                (false, false) => Err(ReadError::Gone),
            };
        }
        if !line.ends_with(b"\n") {
            return Err(if budget == 0 {
                ReadError::Status(431)
            } else {
                ReadError::Gone
            });
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // tolerated blank lines before the request line
            }
            break;
        }
        lines.push(text);
    }
    let request = parse_head(&lines).map_err(ReadError::Status)?;
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Status(501));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map_err(|_| ReadError::Status(400))?,
    };
    if length > MAX_BODY {
        return Err(ReadError::Status(413));
    }
    let copied = tokio::io::copy(&mut (&mut *reader).take(length), &mut tokio::io::sink())
        .await
        .map_err(|_| ReadError::Gone)?;
    if copied < length {
        return Err(ReadError::Gone);
    }
    Ok(Some(request))
}

/// Parses the request line and headers.
fn parse_head(lines: &[String]) -> Result<Request, u16> {
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(400);
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(505),
        _ => return Err(400),
    };
    let mut headers = Vec::with_capacity(lines.len() - 1);
    for line in &lines[1..] {
        let (name, value) = line.split_once(':').ok_or(400u16)?;
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(400);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let origin_form = match target.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => target,
    };
    if !origin_form.starts_with('/') || origin_form.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(400);
    }
    let without_fragment = origin_form.split('#').next().unwrap_or_default();
    let (raw_path, raw_query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let segments = raw_path[1..]
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect::<Option<Vec<_>>>()
        .ok_or(400u16)?;
    let query = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(400u16)?;
    let connection = headers
        .iter()
        .filter(|(n, _)| n == "connection")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    Ok(Request {
        method: method.to_owned(),
        raw_target: origin_form.to_owned(),
        raw_path: raw_path.to_owned(),
        path: percent_decode(raw_path, false).ok_or(400u16)?,
        segments,
        query,
        headers,
        keep_alive,
    })
}

/// Writes a response; the body is skipped for HEAD but `Content-Length` still announces it.
async fn write_response<W: AsyncWrite + Unpin>(
    write: &mut W,
    response: Response,
    head_only: bool,
    close: bool,
    handler: &impl Handler,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body_len()));
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    let mut out = head.into_bytes();
    match response.body {
        _ if head_only => write.write_all(&out).await?,
        Body::Bytes(bytes) => {
            out.extend_from_slice(&bytes);
            handler.body_bytes_sent(bytes.len() as u64);
            write.write_all(&out).await?;
        }
        Body::Content {
            content,
            start,
            len,
        } => {
            write.write_all(&out).await?;
            let fault = response.body_fault;
            let limit = fault.cut_after.map_or(len, |cut| cut.min(len));
            let throttle = handler.throttle().filter(|rate| *rate > 0);
            let began = std::time::Instant::now();
            let mut buf = vec![0u8; CHUNK];
            let mut sent = 0;
            while sent < limit {
                let n = (limit - sent).min(CHUNK as u64) as usize;
                content.read_at(start + sent, &mut buf[..n]);
                if fault.corrupt && sent == 0 {
                    buf[0] ^= 0x01;
                }
                handler.body_bytes_sent(n as u64);
                write.write_all(&buf[..n]).await?;
                sent += n as u64;
                if let Some(rate) = throttle {
                    let due = std::time::Duration::from_secs_f64(sent as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(began.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            if fault.cut_after.is_some() {
                write.flush().await?;
                if fault.stall {
                    std::future::pending::<()>().await;
                }
                return Err(std::io::Error::other("body cut by a fault"));
            }
        }
    }
    write.flush().await
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Result<Request, u16> {
        parse_head(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_targets_and_headers() {
        let r = parse(&[
            "GET /api/models/a/b/revision/refs%2Fpr%2F1?x=1&expand%5B%5D=a+b&x=2 HTTP/1.1",
            "Authorization: Bearer  hf_x ",
            "Connection: close",
        ])
        .unwrap();
        assert_eq!(
            r.segments,
            ["api", "models", "a", "b", "revision", "refs/pr/1"]
        );
        assert_eq!(r.path, "/api/models/a/b/revision/refs/pr/1");
        assert_eq!(r.query_all("x"), ["1", "2"]);
        assert_eq!(r.query_first("expand[]"), Some("a b"));
        assert_eq!(r.bearer(), Some("hf_x"));
        assert!(!r.keep_alive);
        let absolute = parse(&["HEAD http://127.0.0.1:1/x/y?z HTTP/1.0"]).unwrap();
        assert_eq!(absolute.raw_target, "/x/y?z");
        assert!(!absolute.keep_alive);
    }

    #[test]
    fn rejects_malformed_heads() {
        assert_eq!(parse(&["GET /"]).err(), Some(400));
        assert_eq!(parse(&["get / HTTP/1.1"]).err(), Some(400));
        assert_eq!(parse(&["GET / HTTP/2.0"]).err(), Some(505));
        assert_eq!(parse(&["GET nope HTTP/1.1"]).err(), Some(400));
        assert_eq!(parse(&["GET /%zz HTTP/1.1"]).err(), Some(400));
        assert_eq!(parse(&["GET / HTTP/1.1", "no colon"]).err(), Some(400));
        assert_eq!(parse(&["GET / HTTP/1.1", "bad name: x"]).err(), Some(400));
    }
}
