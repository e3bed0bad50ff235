//! `hubble remote-chat` against a loopback server speaking the router's OpenAI-compatible
//! `POST /v1/chat/completions` with `stream: true` (server-sent events).

#[path = "support/cli.rs"]
mod cli;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli::hubble;

/// One request the fake router received: lower-cased header lines and the body.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    headers: Vec<String>,
    body: serde_json::Value,
}

/// Starts a router that answers every chat request with "Hello", " wor", "ld" streamed in
/// three chunks (20 ms apart), then a `stop` chunk and `[DONE]`. Returns its `/v1` URL.
fn fake_router() -> (String, Arc<Mutex<Vec<Seen>>>) {
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

#[test]
fn remote_chat_streams_tokens_and_sends_no_token_without_one() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "remote-chat",
            "hubble-tests/tiny-model",
            "--input",
            "Hi",
            "--max-tokens",
            "8",
        ],
        &[("HUBBLE_ROUTER_ENDPOINT", &router)],
    )
    .ok();
    assert_eq!(run.stdout.trim_end(), "Hello world");
    assert!(run.stderr.contains("Remote inference"), "{}", run.stderr);
    assert!(run.stderr.contains("without a token"), "{}", run.stderr);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line, "POST /v1/chat/completions HTTP/1.1");
    assert!(
        !seen[0]
            .headers
            .iter()
            .any(|h| h.starts_with("authorization:")),
        "{:?}",
        seen[0].headers
    );
    assert_eq!(seen[0].body["stream"], true);
    assert_eq!(seen[0].body["model"], "hubble-tests/tiny-model");
    assert_eq!(seen[0].body["max_tokens"], 8);
    assert_eq!(
        seen[0].body["messages"],
        serde_json::json!([{ "role": "user", "content": "Hi" }])
    );
}

#[test]
fn remote_chat_sends_the_token_to_the_router_and_reports_json() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let json = hubble(
        home.path(),
        &[
            "remote-chat",
            "hubble-tests/tiny-model",
            "--input",
            "Hi",
            "--system",
            "Be brief.",
            "--json",
        ],
        &[
            ("HUBBLE_ROUTER_ENDPOINT", &router),
            ("HF_TOKEN", "hf_remote_test"),
        ],
    )
    .ok()
    .json();
    assert_eq!(json["text"], "Hello world");
    assert_eq!(json["chunks"], 3);
    assert_eq!(json["finish_reason"], "stop");
    assert_eq!(json["remote"], true);
    assert_eq!(json["router"], router);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[0]
            .headers
            .contains(&"authorization: bearer hf_remote_test".to_owned()),
        "{:?}",
        seen[0].headers
    );
    assert_eq!(seen[0].body["messages"][0]["role"], "system");
}
