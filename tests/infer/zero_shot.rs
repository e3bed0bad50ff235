//! Zero-shot classification against transformers' zero-shot-classification pipeline on tiny
//! random NLI checkpoints (`scripts/reference/make_tiny_zero_shot.py`): for every (sequence,
//! hypothesis) pair the same token ids and logits within 1e-4, and for the default template
//! (single- and multi-label) and a custom one the same label order, scores within 1e-4.

use std::path::{Path, PathBuf};

use hubble::infer::registry::plan;
use hubble::infer::tasks::zero_shot_classification::{
    ZERO_SHOT_CLASSIFICATION, ZeroShotClassifier, ZeroShotRequest,
};
use hubble::infer::{Device, ModelFacts, Pipeline, RunContext};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn floats(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn check(name: &str) {
    let dir = fixture(name);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(ZERO_SHOT_CLASSIFICATION)).unwrap();
    let mut model =
        ZeroShotClassifier::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let labels: Vec<String> =
        serde_json::from_value(reference["candidate_labels"].clone()).unwrap();
    let runs = reference["runs"].as_array().unwrap();
    assert!(runs.len() >= 3);
    for run in runs {
        let template = run["hypothesis_template"].as_str().unwrap();
        let multi_label = run["multi_label"].as_bool().unwrap();
        for (pairs, result) in run["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(run["results"].as_array().unwrap())
        {
            let sequence = result["sequence"].as_str().unwrap();
            for pair in pairs.as_array().unwrap() {
                let (ids, logits) = model
                    .pair_logits(sequence, pair["hypothesis"].as_str().unwrap())
                    .unwrap();
                let expected: Vec<u32> = serde_json::from_value(pair["input_ids"].clone()).unwrap();
                assert_eq!(ids, expected, "{name}: {}", pair["hypothesis"]);
                let theirs = floats(&pair["logits"]);
                let diff = logits
                    .iter()
                    .zip(&theirs)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");
            }
            let request = ZeroShotRequest {
                sequence: sequence.into(),
                labels: labels.clone(),
                multi_label,
                hypothesis_template: template.into(),
            };
            let ours = model.run(request, &RunContext::default()).unwrap();
            let expected: Vec<String> = serde_json::from_value(result["labels"].clone()).unwrap();
            assert_eq!(
                ours.labels, expected,
                "{name}: {template} multi {multi_label}"
            );
            for (a, b) in ours.scores.iter().zip(floats(&result["scores"])) {
                assert!((a - b).abs() <= TOLERANCE, "{name}: score {a} vs {b}");
            }
            eprintln!(
                "{name}: {template:?} multi_label={multi_label}: {:?}",
                ours.labels
            );
        }
    }
}

#[test]
fn bert_nli_scores_like_transformers() {
    check("bert-nli");
}

#[test]
fn roberta_nli_scores_like_transformers() {
    check("roberta-nli");
}

#[test]
fn bart_nli_scores_like_transformers() {
    check("bart-nli");
}

#[test]
fn deberta_v2_nli_scores_like_transformers() {
    check("deberta-nli");
}
