//! `hubble serve`'s speech and picture endpoints on the tiny VITS and Stable Diffusion
//! checkpoints, and the memory budget: past it, the least recently used model is unloaded.

use crate::support::cache;
use crate::support::cli;
use crate::support::serve;

use base64::Engine;
use cache::install;
use cli::fixture;
use serde_json::json;
use serve::{Server, json_of, request};

#[test]
fn speech_and_pictures_are_served_within_the_memory_budget() {
    let home = tempfile::tempdir().unwrap();
    let hub = home.path().join("hub");
    install(
        &hub,
        "org/tiny-vits",
        std::path::Path::new(&fixture("tiny/vits")),
    );
    install(
        &hub,
        "org/tiny-sd",
        std::path::Path::new(&fixture("tiny/sd1")),
    );
    // A budget of one kilobyte: each model loaded unloads the one before.
    let server = Server::start(home.path(), &["--memory-budget", "0.000001"]);
    let address = server.address.clone();

    let speech = request(
        &address,
        "POST",
        "/v1/audio/speech",
        Some(&json!({
            "model": "org/tiny-vits", "input": "hello world", "voice": "alloy",
        })),
    );
    assert_eq!(speech.status, 200, "{}", speech.text());
    assert_eq!(speech.header("content-type"), Some("audio/wav"));
    assert!(speech.body.starts_with(b"RIFF") && speech.body.len() > 44 + 100);

    let mp3 = request(
        &address,
        "POST",
        "/v1/audio/speech",
        Some(&json!({
            "model": "org/tiny-vits", "input": "hello", "response_format": "mp3",
        })),
    );
    assert_eq!(mp3.status, 400);
    assert_eq!(json_of(&mp3)["error"]["param"], "response_format");

    let picture = request(
        &address,
        "POST",
        "/v1/images/generations",
        Some(&json!({
            "model": "org/tiny-sd", "prompt": "a red square", "steps": 2, "seed": 3,
        })),
    );
    assert_eq!(picture.status, 200, "{}", picture.text());
    let answer = json_of(&picture);
    let png = base64::engine::general_purpose::STANDARD
        .decode(answer["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert!(
        png.windows(10).any(|w| w == b"parameters"),
        "the PNG carries its prompt and settings"
    );
    assert_eq!(answer["data"][0]["revised_prompt"], "a red square");

    let url = request(
        &address,
        "POST",
        "/v1/images/generations",
        Some(&json!({
            "model": "org/tiny-sd", "prompt": "x", "response_format": "url",
        })),
    );
    assert_eq!(url.status, 400);

    // The wrong task for a model says so; the speech model was unloaded for the pictures.
    let wrong = request(
        &address,
        "POST",
        "/v1/embeddings",
        Some(&json!({
            "model": "org/tiny-vits", "input": "x",
        })),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    let log = server.stop();
    assert!(
        log.lines().any(
            |line| line.contains("POST /v1/images/generations org/tiny-sd 200")
                && line.contains("unloaded org/tiny-vits to make room")
        ),
        "{log}"
    );
}
