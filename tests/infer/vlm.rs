//! Vision-language chat (image-text-to-text) parity with PyTorch transformers on a tiny random
//! LLaVA-1.5 (`scripts/reference/make_tiny_llava.py`) and PaliGemma
//! (`scripts/reference/make_tiny_paligemma.py`): the processor's prompt ids (the image token
//! expanded per patch), the last position's logits after the image and the prompt within 1e-4,
//! and `generate(do_sample=False)`'s 8 greedy tokens exactly; then `hubble run` with an image and
//! a question, and its errors.

use crate::support::parity;

use crate::support::cli;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::common::decoding::{GenerationParams, StopReason};
use hubble::infer::tasks::image_text_to_text::{
    IMAGE_TEXT_TO_TEXT, VisionChat, VisionChatFamily, VisionChatRequest,
};
use hubble::infer::tasks::text_generation::ChatMessage;
use hubble::infer::{CancelToken, Device, Event, ModelFacts, RunContext, Waker};
use parity::max_diff;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> (PathBuf, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name);
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    (dir, serde_json::from_str(&text).unwrap())
}

fn photo(reference: &Value) -> image::RgbImage {
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    hubble::media::load_image(&images.join(reference["photo"].as_str().unwrap())).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// One family's fixture against its reference: plan, prompt ids, last logits, greedy tokens
/// and the streamed answer; returns the largest logit difference.
fn matches_pytorch(name: &str, family: VisionChatFamily, question: &str, prompt: &str) -> f32 {
    let (dir, reference) = fixture(name);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts), Some(IMAGE_TEXT_TO_TEXT));
    let planned = plan(&facts, None).unwrap();
    assert_eq!(planned.loader::<VisionChatFamily>().unwrap(), &family);
    let mut model = VisionChat::load_dir(&dir, family, &Device::Cpu).unwrap();
    let image = Arc::new(photo(&reference));
    let messages = vec![ChatMessage::new("user", question)];
    let text = model.prompt_text(&messages).unwrap();
    assert_eq!(text, prompt);
    let prompt_ids = model.prompt_ids(&text).unwrap();
    assert_eq!(prompt_ids, ids(&reference["input_ids"]), "{name}");

    let logits = model.logits(&image, &prompt_ids).unwrap();
    let want: Vec<f32> = serde_json::from_value(reference["last_logits"].clone()).unwrap();
    let diff = max_diff(&logits, &want);
    eprintln!("{name}: max |logit diff| {diff:e}");
    assert!(diff <= TOLERANCE, "{name}: {diff}");

    let steps = reference["steps"].as_u64().unwrap() as usize;
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = RunContext::new(CancelToken::new(), Some(tx));
    let request = VisionChatRequest {
        image,
        messages,
        params: GenerationParams::greedy(steps),
    };
    let out = model.answer(&request, &ctx).unwrap();
    assert_eq!(out.token_ids, ids(&reference["greedy_tokens"]), "{name}");
    assert_eq!(out.text, reference["answer"].as_str().unwrap());
    assert_eq!(out.stop_reason, StopReason::MaxTokens);
    assert_eq!((out.width, out.height), (451, 300));
    assert_eq!(out.prompt_tokens, prompt_ids.len());
    drop(ctx);
    let streamed: String = rx
        .iter()
        .filter_map(|e| match e {
            Event::Token(piece) => Some(piece),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, out.text);
    eprintln!("{name} answer {:?}", out.text);
    diff
}

#[test]
fn llava_matches_pytorch() {
    let (_, reference) = fixture("llava");
    matches_pytorch(
        "llava",
        VisionChatFamily::Llava,
        reference["question"].as_str().unwrap(),
        reference["prompt"].as_str().unwrap(),
    );
}

/// PaliGemma: no chat template (`<image><bos>question\n`), a bidirectional prefix, positions
/// from 1, the LM head tied to the scaled embeddings.
#[test]
fn paligemma_matches_pytorch() {
    let (_, reference) = fixture("paligemma");
    let question = reference["prompt"].as_str().unwrap();
    matches_pytorch(
        "paligemma",
        VisionChatFamily::PaliGemma,
        question,
        &format!("<image><bos>{question}\n"),
    );
}

/// The stop button: a cancel after the first streamed piece ends the answer there.
#[test]
fn llava_answer_stops_when_cancelled() {
    let (dir, reference) = fixture("llava");
    let mut model = VisionChat::load_dir(&dir, VisionChatFamily::Llava, &Device::Cpu).unwrap();
    let request = VisionChatRequest {
        image: Arc::new(photo(&reference)),
        messages: vec![ChatMessage::new(
            "user",
            reference["question"].as_str().unwrap(),
        )],
        params: GenerationParams::greedy(8),
    };
    let (tx, _rx) = std::sync::mpsc::channel();
    let token = CancelToken::new();
    let stopper = token.clone();
    let ctx = RunContext::new(token.clone(), Some(tx))
        .with_waker(Some(Waker::new(move || stopper.cancel())));
    let out = model.answer(&request, &ctx).unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert_eq!(out.token_ids, ids(&reference["greedy_tokens"])[..1]);
    assert!(matches!(
        model.answer(&request, &ctx),
        Err(hubble::infer::InferError::Cancelled)
    ));
}

#[test]
fn hubble_run_answers_about_an_image() {
    let home = tempfile::tempdir().unwrap();
    for (name, question) in [("llava", "question"), ("paligemma", "prompt")] {
        let (_, reference) = fixture(name);
        let run = cli::hubble(
            home.path(),
            &[
                "run",
                "--model-dir",
                &cli::fixture(&format!("tiny/{name}")),
                "--image",
                &cli::fixture("images/chelsea.png"),
                "--input",
                reference[question].as_str().unwrap(),
                "--max-tokens",
                "8",
                "--json",
            ],
            &[],
        )
        .ok();
        let out = run.json();
        assert_eq!(out["task"], "image-text-to-text");
        assert_eq!(out["text"], reference["answer"], "{name}");
        assert_eq!(out["token_ids"], reference["greedy_tokens"], "{name}");
        assert_eq!(
            (out["width"].as_u64(), out["height"].as_u64()),
            (Some(451), Some(300))
        );
    }
}

#[test]
fn hubble_run_without_an_image_or_question_says_what_to_pass() {
    let home = tempfile::tempdir().unwrap();
    let llava = cli::fixture("tiny/llava");
    let photo = cli::fixture("images/chelsea.png");
    let text = home.path().join("notes.png");
    std::fs::write(&text, "hello").unwrap();
    for (args, message) in [
        (
            vec!["--input", "What is it?"],
            "image-text-to-text needs an image: pass --image IMAGE",
        ),
        (
            vec!["--image", photo.as_str()],
            "no input: pass --input TEXT",
        ),
        (
            vec!["--image", text.to_str().unwrap(), "--input", "What is it?"],
            "not an image Hubble can read",
        ),
    ] {
        let mut all = vec!["run", "--model-dir", &llava];
        all.extend(args);
        let run = cli::hubble(home.path(), &all, &[]);
        assert_eq!(run.status, Some(2), "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{all:?}: {}", run.stderr);
    }
}

/// The Compare view's words: `--input` is the question, `--input-file` the image.
#[test]
fn words_with_an_image_file_make_a_request() {
    let photo = cli::fixture("images/chelsea.png");
    let words: Vec<String> = ["--input", "What is it?", "--input-file", photo.as_str()]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let request = hubble::infer::registry::request_from_words(IMAGE_TEXT_TO_TEXT, &words)
        .unwrap()
        .take::<VisionChatRequest>(IMAGE_TEXT_TO_TEXT)
        .unwrap();
    assert_eq!(request.messages, [ChatMessage::new("user", "What is it?")]);
    assert_eq!(request.image.dimensions(), (451, 300));
    assert_eq!(request.params.temperature, 0.0);
}
