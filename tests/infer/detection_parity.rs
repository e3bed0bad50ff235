//! Object-detection parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_detection.py`): DETR with timm's and transformers' ResNet
//! layouts and YOLOS, on both photos. The preprocessed pixels match the PIL processors', the
//! logits and boxes are within 1e-4, and the detections equal what
//! `pipeline("object-detection", threshold=T)` returned: same order, labels, scores within
//! 1e-4, float corners within 0.01 px of `post_process_object_detection`'s and the pipeline's
//! int corners within 1.

use crate::support::parity;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use hubble::infer::models::detection_boxes::{Detection, detections};
use hubble::infer::models::detr::Detr;
use hubble::infer::models::yolos::Yolos;
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::object_detection::{DetectionRequest, OBJECT_DETECTION, ObjectDetector};
use hubble::infer::{ModelFacts, Pipeline, RunContext};
use hubble::media::detection_preprocess::DetectionProcessor;
use parity::max_diff;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> (PathBuf, Value, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name);
    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
    };
    let (config, reference) = (read("config.json"), read("reference.json"));
    (dir, config, reference)
}

fn weights(dir: &Path) -> VarBuilder<'static> {
    let file = dir.join("model.safetensors");
    unsafe { VarBuilder::from_mmaped_safetensors(&[file], DType::F32, &Device::Cpu).unwrap() }
}

fn floats_1d(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    rows.concat()
}

/// The preprocessed tensor against the reference's shape, sums and strided sample.
fn check_pixels(name: &str, pixels: &[f32], shape: (usize, usize), reference: &Value) {
    let dims: Vec<usize> = serde_json::from_value(reference["shape"].clone()).unwrap();
    assert_eq!(dims, [1, 3, shape.0, shape.1], "{name}");
    let stride = reference["stride"].as_u64().unwrap() as usize;
    let sample: Vec<f32> = pixels.iter().step_by(stride).copied().collect();
    let expected: Vec<f32> = serde_json::from_value(reference["sample"].clone()).unwrap();
    let diff = max_diff(&sample, &expected);
    let sum: f64 = pixels.iter().map(|&v| f64::from(v)).sum();
    let sum_diff = (sum - reference["sum"].as_f64().unwrap()).abs();
    assert!(diff <= 1e-5, "{name} pixel sample: {diff}");
    assert!(sum_diff <= 1e-2, "{name} pixel sum: {sum_diff}");
}

fn check_detections(name: &str, found: &[Detection], expected: &Value) {
    let expected = expected.as_array().unwrap();
    assert!(
        expected.len() >= 3,
        "{name}: the fixture should keep several boxes"
    );
    assert_eq!(found.len(), expected.len(), "{name}: {found:?}");
    let (mut score_diff, mut corner_diff) = (0f32, 0f32);
    for (got, want) in found.iter().zip(expected) {
        assert_eq!(got.label, want["label"].as_str().unwrap(), "{name}");
        score_diff = score_diff.max((got.score - want["score"].as_f64().unwrap() as f32).abs());
        let corners = [got.bbox.xmin, got.bbox.ymin, got.bbox.xmax, got.bbox.ymax];
        corner_diff = corner_diff.max(max_diff(&corners, &floats_1d(&want["corners"])));
        let ints = got.bbox.pipeline_ints();
        for (i, key) in ["xmin", "ymin", "xmax", "ymax"].iter().enumerate() {
            let want = want["box"][key].as_i64().unwrap();
            assert!((i64::from(ints[i]) - want).abs() <= 1, "{name} {key}");
        }
    }
    eprintln!(
        "{name}: {} boxes, max |score diff| {score_diff:e}, max |corner diff| {corner_diff:e} px",
        found.len()
    );
    assert!(score_diff <= TOLERANCE, "{name} score: {score_diff}");
    assert!(corner_diff <= 1e-2, "{name} corner: {corner_diff}");
}

fn check_model(
    name: &str,
    forward: &dyn Fn(&Tensor) -> (Tensor, Tensor),
    dir: &Path,
    reference: &Value,
) {
    let processor = DetectionProcessor::from_dir(dir).unwrap();
    let facts = ModelFacts::from_dir(dir).unwrap();
    assert_eq!(default_task(&facts), Some(OBJECT_DETECTION), "{name}");
    let plan = plan(&facts, None).unwrap();
    let mut detector =
        ObjectDetector::load(dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();
    let labels: Vec<String> = serde_json::from_value(reference["labels"].clone()).unwrap();
    let threshold = reference["threshold"].as_f64().unwrap() as f32;
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    for (photo, want) in reference["photos"].as_object().unwrap() {
        let tag = format!("{name} {photo}");
        let image = hubble::media::load_image(&images.join(photo)).unwrap();
        let pixels = processor.preprocess(&image).unwrap();
        let (h, w) = (pixels.height, pixels.width);
        check_pixels(&tag, &pixels.data, (h, w), &want["pixel_values"]);
        // One image is never padded: the reference's mask is all ones over the same size.
        let mask = &want["pixel_mask"];
        assert_eq!(mask["shape"], serde_json::json!([1, h, w]), "{tag}");
        assert_eq!(mask["min"].as_f64(), Some(1.0), "{tag}");
        let input = Tensor::from_vec(pixels.data, (1, 3, h, w), &Device::Cpu).unwrap();
        let (logits, boxes) = forward(&input);
        let logits: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
        let boxes: Vec<f32> = boxes.flatten_all().unwrap().to_vec1().unwrap();
        let logit_diff = max_diff(&logits, &floats(&want["logits"]));
        let box_diff = max_diff(&boxes, &floats(&want["pred_boxes"]));
        eprintln!("{tag}: max |logit diff| {logit_diff:e}, max |box diff| {box_diff:e}");
        assert!(logit_diff <= TOLERANCE, "{tag} logits: {logit_diff}");
        assert!(box_diff <= TOLERANCE, "{tag} boxes: {box_diff}");
        let size = (image.width(), image.height());
        let found = detections(&logits, &boxes, &labels, threshold, size).unwrap();
        check_detections(&tag, &found, &want["detections"]);
        // The same through the task, planned and loaded as the app does.
        let request = DetectionRequest {
            image: std::sync::Arc::new(image),
            threshold,
        };
        let through_task = detector.run(request, &RunContext::default()).unwrap();
        check_detections(&tag, &through_task.detections, &want["detections"]);
    }
}

#[test]
fn detr_timm_backbone_matches_pytorch() {
    let (dir, config, reference) = fixture("detr-resnet-timm");
    assert_eq!(config["use_timm_backbone"], true);
    let model = Detr::load(weights(&dir), &config).unwrap();
    let forward = |x: &Tensor| model.forward(x).unwrap();
    check_model("detr-resnet-timm", &forward, &dir, &reference);
}

#[test]
fn detr_transformers_backbone_matches_pytorch() {
    let (dir, config, reference) = fixture("detr-resnet-hf");
    assert_eq!(config["backbone_config"]["model_type"], "resnet");
    let model = Detr::load(weights(&dir), &config).unwrap();
    let forward = |x: &Tensor| model.forward(x).unwrap();
    check_model("detr-resnet-hf", &forward, &dir, &reference);
}

#[test]
fn yolos_matches_pytorch() {
    let (dir, config, reference) = fixture("yolos");
    let model = Yolos::load(weights(&dir), &config).unwrap();
    let forward = |x: &Tensor| model.forward(x).unwrap();
    check_model("yolos", &forward, &dir, &reference);
}

/// A DETR config with a backbone it cannot run says so instead of failing on a missing weight.
#[test]
fn detr_refuses_what_it_cannot_run() {
    let (dir, config, _) = fixture("detr-resnet-timm");
    let mut learned = config.clone();
    learned["position_embedding_type"] = "learned".into();
    let mut dilated = config.clone();
    dilated["dilation"] = true.into();
    let mut early = config.clone();
    early["backbone_kwargs"] = serde_json::json!({"out_indices": [1, 2, 3]});
    for bad in [learned, dilated, early] {
        let err = Detr::load(weights(&dir), &bad).err().unwrap();
        assert_eq!(err.kind(), "not_supported", "{err}");
    }
    let yolos_dir = dir.parent().unwrap().join("yolos");
    let err = Detr::load(weights(&yolos_dir), &config).err().unwrap();
    assert_eq!(err.kind(), "not_supported", "{err}");
    let (hf_dir, mut hf, _) = fixture("detr-resnet-hf");
    hf["backbone_config"]["out_features"] = serde_json::json!(["stage3"]);
    let err = Detr::load(weights(&hf_dir), &hf).err().unwrap();
    assert_eq!(err.kind(), "not_supported", "{err}");
}
