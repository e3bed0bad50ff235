//! Audio-classification parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_audio.py`): real speech (`tests/fixtures/audio/speech.wav`)
//! through preprocessor_config.json's feature extractor (Wav2Vec2FeatureExtractor,
//! ASTFeatureExtractor's numpy Kaldi filter banks), the model (wav2vec2 group / layer norm,
//! HuBERT, AST) and the pipeline's softmax top 5: features, logits and scores within 1e-4
//! (fp32, CPU), the same five labels in the same order.

use crate::support::parity;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use hubble::infer::models::ast::{self, AstClassifier};
use hubble::infer::models::wav2vec2::{self, Wav2Vec2Classifier};
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::audio_classification::{
    AUDIO_CLASSIFICATION, AudioClassifier, AudioRequest,
};
use hubble::infer::{ModelFacts, Pipeline, RunContext};
use hubble::media::audio::load_16k_mono;
use hubble::media::audio_features::{AudioFeatureExtractor, AudioFeatures};
use parity::max_diff;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> (PathBuf, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name);
    (dir.clone(), read_json(&dir.join("reference.json")))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn speech() -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech.wav");
    load_16k_mono(&path).unwrap().samples
}

fn floats(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Checks features against the reference's summary (shape, strided sample, min, max, and the
/// sum and absolute sum relative to the element count); returns the worst per-value difference.
fn check_summary(name: &str, ours: &AudioFeatures, summary: &Value) -> f32 {
    let shape: Vec<usize> = serde_json::from_value(summary["shape"].clone()).unwrap();
    assert_eq!(ours.shape, shape, "{name}: shape");
    let stride = summary["stride"].as_u64().unwrap() as usize;
    let sample: Vec<f32> = ours.values.iter().step_by(stride).copied().collect();
    let mut worst = max_diff(&sample, &floats(&summary["sample"]));
    let n = ours.values.len() as f64;
    let sum: f64 = ours.values.iter().map(|&v| f64::from(v)).sum();
    let abs_sum: f64 = ours.values.iter().map(|&v| f64::from(v).abs()).sum();
    let min = ours.values.iter().copied().fold(f32::INFINITY, f32::min);
    let max = ours
        .values
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for (what, ours, theirs) in [
        ("mean", sum / n, summary["sum"].as_f64().unwrap() / n),
        (
            "mean |x|",
            abs_sum / n,
            summary["abs_sum"].as_f64().unwrap() / n,
        ),
        ("min", f64::from(min), summary["min"].as_f64().unwrap()),
        ("max", f64::from(max), summary["max"].as_f64().unwrap()),
    ] {
        let diff = (ours - theirs).abs() as f32;
        assert!(diff <= TOLERANCE, "{name}: {what} {ours} vs {theirs}");
        worst = worst.max(diff);
    }
    worst
}

fn load_vb(dir: &Path) -> VarBuilder<'static> {
    let files = [dir.join("model.safetensors")];
    unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, &Device::Cpu).unwrap() }
}

/// id2label in index order.
fn labels(config: &Value) -> Vec<String> {
    let map = config["id2label"].as_object().unwrap();
    (0..map.len())
        .map(|i| map[&i.to_string()].as_str().unwrap().to_string())
        .collect()
}

/// Features → model → logits and top 5, compared with the reference; prints the differences.
fn check_model(name: &str, logits_of: impl Fn(&Value, Tensor) -> Tensor) {
    let (dir, reference) = fixture(name);
    let config = read_json(&dir.join("config.json"));
    let extractor =
        AudioFeatureExtractor::from_json(&read_json(&dir.join("preprocessor_config.json")))
            .unwrap();
    let features = extractor.extract(&speech()).unwrap();
    let feature_diff = check_summary(name, &features, &reference["input_values"]);
    let input = Tensor::from_vec(features.values, features.shape, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits: Vec<f32> = logits_of(&config, input)
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let logit_diff = max_diff(&logits, &floats(&reference["logits"]));
    // The top 5 as the task gives them, planned and loaded as the app does.
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts), Some(AUDIO_CLASSIFICATION), "{name}");
    let plan = plan(&facts, None).unwrap();
    let classifier =
        AudioClassifier::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();
    let request = AudioRequest {
        samples: speech(),
        top_k: Some(5),
    };
    let ours: Vec<(String, f32)> = classifier
        .classify(&request)
        .unwrap()
        .labels
        .into_iter()
        .map(|l| (l.label, l.score))
        .collect();
    let theirs: Vec<(String, f32)> = reference["top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let score = e["score"].as_f64().unwrap() as f32;
            (e["label"].as_str().unwrap().to_string(), score)
        })
        .collect();
    let ours_labels: Vec<&str> = ours.iter().map(|(l, _)| l.as_str()).collect();
    let theirs_labels: Vec<&str> = theirs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(ours_labels, theirs_labels, "{name}: top-5 labels");
    let score_diff = ours
        .iter()
        .zip(&theirs)
        .map(|((_, a), (_, b))| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!(
        "{name}: max |Δ| features {feature_diff:.2e}, logits {logit_diff:.2e}, top-5 scores {score_diff:.2e}"
    );
    assert!(feature_diff <= TOLERANCE, "{name}: features {feature_diff}");
    assert!(logit_diff <= TOLERANCE, "{name}: logits {logit_diff}");
    assert!(score_diff <= TOLERANCE, "{name}: scores {score_diff}");
}

fn wav2vec2_logits(dir_name: &str) -> impl Fn(&Value, Tensor) -> Tensor {
    let dir = fixture(dir_name).0;
    move |config, input| {
        let c: wav2vec2::Config = serde_json::from_value(config.clone()).unwrap();
        let model = Wav2Vec2Classifier::new(&c, labels(config).len(), load_vb(&dir)).unwrap();
        model.forward(&input).unwrap()
    }
}

#[test]
fn wav2vec2_group_norm_matches_pytorch() {
    check_model("wav2vec2-cls", wav2vec2_logits("wav2vec2-cls"));
}

#[test]
fn wav2vec2_stable_layer_norm_with_weighted_layer_sum_matches_pytorch() {
    check_model("wav2vec2-layer-cls", wav2vec2_logits("wav2vec2-layer-cls"));
}

#[test]
fn hubert_with_legacy_weight_norm_names_matches_pytorch() {
    check_model("hubert-cls", wav2vec2_logits("hubert-cls"));
}

#[test]
fn ast_matches_pytorch() {
    let dir = fixture("ast-cls").0;
    check_model("ast-cls", |config, input| {
        let c: ast::Config = serde_json::from_value(config.clone()).unwrap();
        let model = AstClassifier::new(&c, labels(config).len(), load_vb(&dir)).unwrap();
        model.forward(&input).unwrap()
    });
}

#[test]
fn ast_default_filter_banks_match_transformers_on_a_padded_clip() {
    let (_, reference) = fixture("ast-cls");
    let json = serde_json::json!({"feature_extractor_type": "ASTFeatureExtractor"});
    let features = AudioFeatureExtractor::from_json(&json)
        .unwrap()
        .extract(&speech())
        .unwrap();
    let diff = check_summary("AST 128 bins", &features, &reference["features_default"]);
    eprintln!("ASTFeatureExtractor() 128 bins × 1024 frames: max |Δ| {diff:.2e}");
    assert!(diff <= TOLERANCE, "{diff}");
}

#[test]
fn short_clips_and_mismatched_features_are_refused() {
    let (dir, _) = fixture("wav2vec2-cls");
    let config = read_json(&dir.join("config.json"));
    let c: wav2vec2::Config = serde_json::from_value(config.clone()).unwrap();
    let model = Wav2Vec2Classifier::new(&c, 6, load_vb(&dir)).unwrap();
    let short = Tensor::zeros((1, model.min_samples() - 1), DType::F32, &Device::Cpu).unwrap();
    let err = model.forward(&short).unwrap_err().to_string();
    assert!(err.contains("at least"), "{err}");
    let (dir, _) = fixture("ast-cls");
    let config = read_json(&dir.join("config.json"));
    let c: ast::Config = serde_json::from_value(config).unwrap();
    let model = AstClassifier::new(&c, 6, load_vb(&dir)).unwrap();
    let wrong = Tensor::zeros((1, 10, 32), DType::F32, &Device::Cpu).unwrap();
    let err = model.forward(&wrong).unwrap_err().to_string();
    assert!(err.contains("preprocessor_config.json"), "{err}");
}
