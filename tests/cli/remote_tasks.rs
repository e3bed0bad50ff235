//! `hubble remote --task …` against a loopback server speaking the router's HF-inference
//! provider (`POST /hf-inference/models/{id}`): text as JSON, images and audio as raw bytes with
//! their content type; the token only with one; a cold model's 503 explained.

use crate::support::cli;
use crate::support::router;

use cli::{fixture, hubble};
use router::fake_router;

#[test]
fn text_classification_sends_json_and_no_token_without_one() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "remote",
            "hubble-tests/tiny-classifier",
            "--task",
            "text-classification",
            "--input",
            "I love it",
        ],
        &[("HUBBLE_ROUTER_ENDPOINT", &router)],
    )
    .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        ["  87.5%  POSITIVE", "  12.5%  NEGATIVE"],
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("Remote inference"), "{}", run.stderr);
    assert!(run.stderr.contains("without a token"), "{}", run.stderr);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].request_line,
        "POST /hf-inference/models/hubble-tests/tiny-classifier HTTP/1.1"
    );
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].body, serde_json::json!({ "inputs": "I love it" }));
    assert_eq!(seen[0].header("authorization"), None);
}

#[test]
fn image_classification_sends_the_bytes_with_their_type_and_the_token() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let image = fixture("images/chelsea.png");
    let json = hubble(
        home.path(),
        &[
            "remote",
            "hubble-tests/tiny-vit",
            "--task",
            "image-classification",
            "--input-file",
            &image,
            "--json",
        ],
        &[
            ("HUBBLE_ROUTER_ENDPOINT", &router),
            ("HF_TOKEN", "hf_remote_test"),
        ],
    )
    .ok()
    .json();
    assert_eq!(json["remote"], true);
    assert_eq!(json["task"], "image-classification");
    assert_eq!(json["model"], "hubble-tests/tiny-vit");
    assert!(json["router"].as_str().unwrap().ends_with("/hf-inference"));
    // Sorted by score, highest first.
    assert_eq!(json["labels"][0]["label"], "tabby, tabby cat");
    assert_eq!(json["labels"][0]["score"], 0.625);
    assert_eq!(json["labels"][1]["label"], "tiger cat");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].header("content-type"), Some("image/png"));
    assert_eq!(seen[0].bytes, std::fs::read(&image).unwrap());
    assert_eq!(
        seen[0].header("authorization"),
        Some("bearer hf_remote_test")
    );
}

#[test]
fn speech_recognition_sends_the_audio_and_prints_the_transcript() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let audio = fixture("audio/speech.wav");
    let args = [
        "remote",
        "hubble-tests/tiny-whisper",
        "--task",
        "automatic-speech-recognition",
        "--input-file",
        &audio,
    ];
    let env = [("HUBBLE_ROUTER_ENDPOINT", router.as_str())];
    let run = hubble(home.path(), &args, &env).ok();
    assert_eq!(run.stdout.trim_end(), "Hello from the router.");
    let json = hubble(home.path(), &[&args[..], &["--json"]].concat(), &env)
        .ok()
        .json();
    assert_eq!(json["text"], " Hello from the router.");
    assert_eq!(json["chunks"][1]["text"], " from the router.");
    assert_eq!(json["chunks"][1]["start"], 0.4);
    assert_eq!(json["chunks"][1]["end"], 1.5);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("content-type"), Some("audio/wav"));
    assert_eq!(seen[0].bytes, std::fs::read(&audio).unwrap());
}

#[test]
fn a_loading_model_says_so_with_the_routers_estimate() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "remote",
            "hubble-tests/loading-model",
            "--task",
            "text-classification",
            "--input",
            "hi",
        ],
        &[("HUBBLE_ROUTER_ENDPOINT", &router)],
    );
    assert_eq!(run.status, Some(5), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hubble-tests/loading-model is still loading on the inference router"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("about 20 s"), "{}", run.stderr);
    // Not retried: the router said how long loading takes.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn a_refused_input_shows_the_routers_error() {
    let (router, _) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "remote",
            "hubble-tests/refusing-model",
            "--task",
            "text-classification",
            "--input",
            "hi",
            "--json",
        ],
        &[("HUBBLE_ROUTER_ENDPOINT", &router)],
    );
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    // The remote notice comes first, the JSON error last.
    let last = run.stderr.lines().last().unwrap_or_default();
    let error: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(error["error"]["kind"], "http");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("400"), "{message}");
    assert!(
        message.contains("Input is too long for this model"),
        "{message}"
    );
}

#[test]
fn the_wrong_kind_of_input_is_refused_before_anything_is_sent() {
    let (router, seen) = fake_router();
    let home = tempfile::tempdir().unwrap();
    let env = [("HUBBLE_ROUTER_ENDPOINT", router.as_str())];
    let text_for_images = hubble(
        home.path(),
        &[
            "remote",
            "a/b",
            "--task",
            "image-classification",
            "--input",
            "a cat",
        ],
        &env,
    );
    assert_eq!(
        text_for_images.status,
        Some(2),
        "{}",
        text_for_images.stderr
    );
    assert!(text_for_images.stderr.contains("--input-file"));
    let wav = fixture("audio/speech.wav");
    let audio_as_image = hubble(
        home.path(),
        &[
            "remote",
            "a/b",
            "--task",
            "image-classification",
            "--input-file",
            &wav,
        ],
        &env,
    );
    assert_eq!(audio_as_image.status, Some(2), "{}", audio_as_image.stderr);
    assert!(
        audio_as_image.stderr.contains("is not an image"),
        "{}",
        audio_as_image.stderr
    );
    assert!(seen.lock().unwrap().is_empty());
}
