//! Vision parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_vision.py`): the whole path from the PNG file through
//! preprocessor_config.json to the logits, max abs diff ≤ 1e-4 (fp32, CPU).

use std::path::{Path, PathBuf};

use hubble::infer::registry::{Backend, ModelFacts, Task, plan};
use hubble::infer::{Device, ImageClassifier, ZeroShotImage};
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

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn vision_arch(dir: &Path, task: Task) -> hubble::infer::registry::VisionArch {
    let facts = ModelFacts::from_dir(dir).unwrap();
    assert_eq!(facts.default_task(), Some(task));
    match plan(&facts, None).unwrap().backend {
        Backend::Vision { arch } => arch,
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_classifiers_match_pytorch() {
    for name in ["vit-cls", "convnext-cls", "resnet-cls", "resnet18-cls"] {
        let (dir, reference) = fixture(name);
        let arch = vision_arch(&dir, Task::ImageClassification);
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
        let arch = vision_arch(&dir, Task::ZeroShotImageClassification);
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
