//! A loopback server speaking the inference router's OpenAI-compatible
//! `POST /v1/chat/completions` with `stream: true` (server-sent events).
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the fake router received: lower-cased header lines and the body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request_line: String,
    pub headers: Vec<String>,
    pub body: serde_json::Value,
}

/// Starts a router that answers every chat request with "Hello", " wor", "ld" streamed in
/// three chunks (20 ms apart), then a `stop` chunk and `[DONE]`. Returns its `/v1` URL.
pub fn fake_router() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
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
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(Seen {
                request_line: request_line.trim().to_owned(),
                headers,
                body: serde_json::from_slice(&body).unwrap(),
            });
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
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
    });
    (url, seen)
}
