//! A loopback server speaking the inference router's OpenAI-compatible
//! `POST /v1/chat/completions` with `stream: true` (server-sent events), and its HF-inference
//! provider `POST /hf-inference/models/{id}` (text classification for JSON bodies, image
//! classification for `image/*`, speech recognition for `audio/*`; a model whose name contains
//! `loading` answers 503 with `estimated_time`, as a cold model does, and one named `refusing`
//! a 400 with `{"error": …}`).
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the fake router received: lower-cased header lines and the body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request_line: String,
    pub headers: Vec<String>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: serde_json::Value,
    /// The body's bytes.
    pub bytes: Vec<u8>,
}

impl Seen {
    /// The value of a (lower-cased) header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|h| h.strip_prefix(&format!("{name}:")))
            .map(str::trim)
    }
}

/// What the text classifier answers (`[[…]]`, one list per input, like the real provider).
pub const TEXT_LABELS: &str =
    r#"[[{"label":"POSITIVE","score":0.875},{"label":"NEGATIVE","score":0.125}]]"#;
/// What the image classifier answers.
pub const IMAGE_LABELS: &str =
    r#"[{"label":"tiger cat","score":0.25},{"label":"tabby, tabby cat","score":0.625}]"#;
/// What the speech recognizer answers.
pub const TRANSCRIPT: &str = r#"{"text":" Hello from the router.","chunks":[{"text":" Hello","timestamp":[0.0,0.4]},{"text":" from the router.","timestamp":[0.4,1.5]}]}"#;

/// Starts a router. Chat requests get "Hello", " wor", "ld" streamed in three chunks (20 ms
/// apart), then a `stop` chunk and `[DONE]`; HF-inference requests get [`TEXT_LABELS`],
/// [`IMAGE_LABELS`] or [`TRANSCRIPT`] by content type. Returns its `/v1` URL.
pub fn fake_router() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let request = read_request(&stream);
            log.lock().unwrap().push(request.clone());
            if request
                .request_line
                .starts_with("POST /hf-inference/models/")
            {
                answer_inference(&mut stream, &request);
            } else {
                stream_chat(&mut stream);
            }
        }
    });
    (url, seen)
}

fn read_request(stream: &TcpStream) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        headers.push(line.trim().to_ascii_lowercase());
    }
    let length: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut bytes = vec![0u8; length];
    reader.read_exact(&mut bytes).unwrap();
    Seen {
        request_line: request_line.trim().to_owned(),
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or_default(),
        bytes,
    }
}

fn answer_inference(stream: &mut TcpStream, request: &Seen) {
    let content_type = request.header("content-type").unwrap_or_default();
    let (status, body) = if request.request_line.contains("loading") {
        (
            "503 Service Unavailable",
            r#"{"error":"Model hubble-tests/loading-model is currently loading","estimated_time":20.0}"#,
        )
    } else if request.request_line.contains("refusing") {
        (
            "400 Bad Request",
            r#"{"error":"Input is too long for this model"}"#,
        )
    } else if content_type.starts_with("application/json") {
        ("200 OK", TEXT_LABELS)
    } else if content_type.starts_with("image/") {
        ("200 OK", IMAGE_LABELS)
    } else if content_type.starts_with("audio/") {
        ("200 OK", TRANSCRIPT)
    } else {
        (
            "400 Bad Request",
            r#"{"error":"Content type not supported"}"#,
        )
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
}

fn stream_chat(stream: &mut TcpStream) {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let chunk = |content: &str, finish: Option<&str>| {
        let value = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
            "model": "hubble-tests/tiny-model",
            "choices": [{ "index": 0, "delta": { "role": "assistant", "content": content },
                          "finish_reason": finish }],
        });
        format!("data: {value}\n\n")
    };
    for piece in ["Hello", " wor", "ld"] {
        stream.write_all(chunk(piece, None).as_bytes()).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    stream
        .write_all(chunk("", Some("stop")).as_bytes())
        .unwrap();
    stream.write_all(b"data: [DONE]\n\n").unwrap();
}
