//! `hubble remote-chat` against a loopback server speaking the router's OpenAI-compatible
//! `POST /v1/chat/completions` with `stream: true` (server-sent events).

use crate::support::cli;
use crate::support::router;

use cli::hubble;
use router::fake_router;

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
