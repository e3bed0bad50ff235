//! Vision parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_vision.py`, `make_tiny_blip.py`): the whole path from the PNG
//! file through preprocessor_config.json to the logits, max abs diff ≤ 1e-4 (fp32, CPU), and
//! BLIP's greedy captions token for token.

use crate::support::parity;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::common::decoding::{GenerationParams, StopReason};
use hubble::infer::tasks::image_classification::{
    ClassifierArch, IMAGE_CLASSIFICATION, ImageClassifier,
};
use hubble::infer::tasks::image_to_text::{
    BlipCaptioner, CaptionRequest, Captioner, IMAGE_TO_TEXT,
};
use hubble::infer::tasks::zero_shot_image::{
    ZERO_SHOT_IMAGE_CLASSIFICATION, ZeroShotArch, ZeroShotImage,
};
use hubble::infer::{CancelToken, Device, Event, ModelFacts, Plan, RunContext, Task, Waker};
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

fn floats(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// The plan of the folder's own task, checked to be `task`.
fn own_plan(dir: &Path, task: Task) -> Plan {
    let facts = ModelFacts::from_dir(dir).unwrap();
    assert_eq!(default_task(&facts), Some(task));
    plan(&facts, None).unwrap()
}

#[test]
fn image_classifiers_match_pytorch() {
    for name in ["vit-cls", "convnext-cls", "resnet-cls", "resnet18-cls"] {
        let (dir, reference) = fixture(name);
        let arch = *own_plan(&dir, IMAGE_CLASSIFICATION)
            .loader::<ClassifierArch>()
            .unwrap();
        let model = ImageClassifier::load_dir(&dir, arch, &Device::Cpu).unwrap();
        let logits: Vec<f32> = model.logits(&photo(&reference)).unwrap().to_vec1().unwrap();
        let diff = max_diff(&logits, &floats(&reference["logits"]));
        eprintln!("{name}: max |logit diff| {diff:e}");
        assert!(diff <= TOLERANCE, "{name}: {diff}");
    }
}

#[test]
fn zero_shot_models_match_pytorch() {
    for name in ["clip", "siglip"] {
        let (dir, reference) = fixture(name);
        let arch = *own_plan(&dir, ZERO_SHOT_IMAGE_CLASSIFICATION)
            .loader::<ZeroShotArch>()
            .unwrap();
        let model = ZeroShotImage::load_dir(&dir, arch, &Device::Cpu).unwrap();
        let labels: Vec<String> = serde_json::from_value(reference["labels"].clone()).unwrap();
        let image = photo(&reference);
        let logits = model.logits(&image, &labels).unwrap();
        let diff = max_diff(&logits, &floats(&reference["logits"]));
        let scores = model.scores(&image, &labels).unwrap();
        let score_diff = max_diff(&scores, &floats(&reference["scores"]));
        eprintln!("{name}: max |logit diff| {diff:e}, max |score diff| {score_diff:e}");
        assert!(diff <= TOLERANCE, "{name}: {diff}");
        assert!(score_diff <= TOLERANCE, "{name}: {score_diff}");
    }
}

/// The tiny BLIP captioner (`scripts/reference/make_tiny_blip.py`): the first decoder step's
/// logits after `[DEC]` and after `[DEC]` + the prompt within 1e-4 of PyTorch, and
/// `model.generate`'s greedy ids and decoded captions exactly, unconditional and prompted.
#[test]
fn blip_captions_match_pytorch() {
    let (dir, reference) = fixture("blip");
    assert_eq!(
        own_plan(&dir, IMAGE_TO_TEXT)
            .loader::<BlipCaptioner>()
            .unwrap(),
        &BlipCaptioner
    );
    let mut model = Captioner::load_dir(&dir, &Device::Cpu).unwrap();
    let image = Arc::new(photo(&reference));
    let steps = reference["steps"].as_u64().unwrap() as usize;
    let prompt = reference["prompt"].as_str().unwrap();
    let prompt_ids: Vec<u32> = serde_json::from_value(reference["prompt_ids"].clone()).unwrap();
    assert_eq!(model.prompt_ids(Some(prompt)).unwrap(), prompt_ids);
    for (ids, key) in [
        (&prompt_ids[..1], "start_logits"),
        (&prompt_ids[..], "prompt_logits"),
    ] {
        let logits = model.step_logits(&image, ids).unwrap();
        let diff = max_diff(&logits, &floats(&reference[key]));
        eprintln!("blip {key}: max |logit diff| {diff:e}");
        assert!(diff <= TOLERANCE, "{key}: {diff}");
    }
    for (prompt, ids_key, caption_key) in [
        (None, "greedy_ids", "caption"),
        (Some(prompt), "prompted_ids", "prompted_caption"),
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = RunContext::new(CancelToken::new(), Some(tx));
        let request = CaptionRequest {
            image: image.clone(),
            prompt: prompt.map(String::from),
            params: GenerationParams::greedy(steps),
        };
        let out = model.caption(&request, &ctx).unwrap();
        let all: Vec<u32> = serde_json::from_value(reference[ids_key].clone()).unwrap();
        let start = model.prompt_ids(prompt).unwrap().len();
        assert_eq!(out.token_ids, all[start..], "{ids_key}");
        assert_eq!(out.text, reference[caption_key].as_str().unwrap());
        assert_eq!(out.stop_reason, StopReason::MaxTokens);
        assert_eq!((out.width, out.height), (451, 300));
        // The streamed pieces (the prompt first) add up to the caption.
        drop(ctx);
        let streamed: String = rx
            .iter()
            .filter_map(|e| match e {
                Event::Token(piece) => Some(piece),
                _ => None,
            })
            .collect();
        assert_eq!(streamed, out.text);
        eprintln!("blip caption {:?}", out.text);
    }
}

/// The stop button: a cancel after the first streamed piece ends the caption there, marked
/// cancelled; a cancel before the run starts is an error.
#[test]
fn blip_caption_stops_when_cancelled() {
    let (dir, reference) = fixture("blip");
    let mut model = Captioner::load_dir(&dir, &Device::Cpu).unwrap();
    let request = CaptionRequest {
        image: Arc::new(photo(&reference)),
        prompt: None,
        params: GenerationParams::greedy(8),
    };
    let (tx, _rx) = std::sync::mpsc::channel();
    let token = CancelToken::new();
    let stopper = token.clone();
    let ctx = RunContext::new(token.clone(), Some(tx))
        .with_waker(Some(Waker::new(move || stopper.cancel())));
    let out = model.caption(&request, &ctx).unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert_eq!(out.generated_tokens, 1);
    let first: u32 = serde_json::from_value(reference["greedy_ids"][1].clone()).unwrap();
    assert_eq!(out.token_ids, [first]);
    assert!(matches!(
        model.caption(&request, &ctx),
        Err(hubble::infer::InferError::Cancelled)
    ));
}
