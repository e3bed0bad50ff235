//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`, so the tests exercise the
//! server's wire format directly.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response as read off the wire.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The target (path and query) of the `Link: <…>; rel="next"` header, relative to `base`.
    pub fn next_link(&self, base: &str) -> Option<String> {
        let link = self.header("link")?;
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        let url = link.strip_prefix('<')?.split('>').next()?;
        Some(
            url.strip_prefix(base)
                .expect("absolute link on this hub")
                .to_owned(),
        )
    }
}

/// `host:port` of a base URL.
fn authority(base: &str) -> &str {
    base.strip_prefix("http://").expect("http base url")
}

/// Connects to the hub at `base`.
pub fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(authority(base)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends one request with `Connection: close` and reads the answer.
pub fn send(base: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut stream = connect(base);
    write_request(&mut stream, method, target, headers, true);
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

pub fn get(base: &str, target: &str) -> Resp {
    send(base, "GET", target, &[])
}

pub fn get_with(base: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    send(base, "GET", target, headers)
}

pub fn write_request(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    close: bool,
) {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: fixture\r\nUser-Agent: it\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
}

/// Reads one response (the body by `Content-Length`; none for HEAD).
pub fn read_response(reader: &mut impl BufRead, head_only: bool) -> Resp {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let mut parts = status_line.trim_end().splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line:?}");
    let status = parts.next().unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header line");
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .expect("content-length")
        .parse()
        .unwrap();
    if !head_only {
        resp.body = vec![0; len];
        reader.read_exact(&mut resp.body).unwrap();
    }
    resp
}
