//! `hubble serve` driven by the official `openai` Python client over the real SmolLM2 GGUF,
//! MiniLM and Whisper tiny.en from the test cache: its answers equal `hubble run`'s.

use crate::support::cache;
use crate::support::cli;
use crate::support::python;
use crate::support::serve;
use crate::support::weights;

use cache::install;
use cli::{fixture, hubble};
use serve::Server;
use weights::real_weights;

const CHAT: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";
const EMBEDDER: &str = "sentence-transformers/all-MiniLM-L6-v2";
const WHISPER: &str = "openai/whisper-tiny.en";
const QUESTION: &str = "What is the capital of France?";
const KEY: &str = "test-key-123";

fn client_script(base_url: &str, audio: &str) -> Option<serde_json::Value> {
    let out = python::python("openai", "openai_client.py", &[base_url, KEY, audio])?;
    Some(
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {out}")),
    )
}

fn vector(value: &serde_json::Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn the_openai_client_gets_what_hubble_run_gives() {
    let (Some(gguf), Some(minilm), Some(whisper)) = (
        real_weights("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        real_weights("all-MiniLM-L6-v2"),
        real_weights("whisper-tiny.en"),
    ) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let hub = home.path().join("hub");
    install(&hub, CHAT, &gguf);
    install(&hub, EMBEDDER, &minilm);
    install(&hub, WHISPER, &whisper);
    let audio = fixture("audio/speech.wav");

    let server = Server::start(home.path(), &["--api-key", KEY]);
    let Some(got) = client_script(&server.base_url, &audio) else {
        return;
    };
    let log = server.stop();

    // The models the cache holds, by their repository ids.
    let models: Vec<&str> = got["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(models, [CHAT, WHISPER, EMBEDDER]);

    // Chat: greedy, whole and streamed, equal to `hubble run` with the same settings.
    let run = hubble(
        home.path(),
        &[
            "run",
            CHAT,
            "--input",
            QUESTION,
            "--temperature",
            "0",
            "--repeat-penalty",
            "1",
            "--max-tokens",
            "24",
            "--seed",
            "7",
            "--device",
            "cpu",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let expected = run["text"].as_str().unwrap();
    assert!(!expected.is_empty());
    assert_eq!(got["chat"]["text"], expected, "non-streamed chat");
    let pieces: Vec<&str> = got["stream"]["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(pieces.len() > 3, "streamed in pieces: {pieces:?}");
    assert_eq!(pieces.concat(), expected, "streamed chat");
    assert_eq!(got["chat"]["usage"]["prompt_tokens"], run["prompt_tokens"]);
    assert_eq!(
        got["chat"]["usage"]["completion_tokens"],
        run["generated_tokens"]
    );
    assert_eq!(got["stream"]["usage"], got["chat"]["usage"]);
    // A stop string ends the answer before it.
    let before_comma = expected.split(',').next().unwrap();
    assert_eq!(got["stopped"]["text"], before_comma);
    assert_eq!(got["stopped"]["finish_reason"], "stop");

    // Embeddings: equal to `hubble run --task feature-extraction` within 1e-6.
    let run = hubble(
        home.path(),
        &[
            "run",
            EMBEDDER,
            "--task",
            "feature-extraction",
            "--input",
            "A cat sits on the mat.",
            "--input",
            "The weather is lovely today.",
            "--device",
            "cpu",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let served = got["embeddings"].as_array().unwrap();
    let local = run["embeddings"].as_array().unwrap();
    assert_eq!(served.len(), 2);
    for (a, b) in served.iter().zip(local) {
        let (a, b) = (vector(a), vector(b));
        assert_eq!(a.len(), 384);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-6, "embedding differs by {worst}");
    }
    assert_eq!(got["embedding_tokens"], run["tokens"]);

    // Transcription: the same text as `hubble run`.
    let run = hubble(
        home.path(),
        &[
            "run",
            WHISPER,
            "--input-file",
            &audio,
            "--device",
            "cpu",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let text = run["text"].as_str().unwrap().trim();
    assert!(!text.is_empty());
    assert_eq!(got["transcript"], text);
    assert!(
        got["srt"].as_str().unwrap().contains(" --> "),
        "{}",
        got["srt"]
    );

    // A wrong key is refused through the client's own exception; a model not in the cache is a
    // 404 in OpenAI's error shape.
    assert_eq!(got["wrong_key"]["status"], 401);
    assert_eq!(got["wrong_key"]["code"], "invalid_api_key");
    assert_eq!(got["missing_model"]["status"], 404);
    assert_eq!(got["missing_model"]["code"], "model_not_found");
    assert_eq!(
        got["missing_model"]["body"]["type"],
        "invalid_request_error"
    );

    // The client that hung up stopped its generation, and the next request was served.
    let stopped = log
        .lines()
        .find(|line| line.contains("client disconnected: generation stopped after"))
        .unwrap_or_else(|| panic!("no disconnect in the log:\n{log}"));
    let tokens: usize = stopped
        .split("stopped after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        tokens < 400,
        "the generation ran on after the hang-up: {stopped}"
    );
    assert!(!got["after_hang_up"].as_str().unwrap().is_empty());
}
