//! BART sequence classification against PyTorch transformers on the tiny random NLI checkpoint
//! `tests/fixtures/tiny/bart-nli/` (written by `scripts/reference/make_tiny_zero_shot.py`): for
//! every (sequence, candidate label) pair of every zero-shot run, the tokenizer gives the same
//! ids and the logits are within 1e-4 (fp32, CPU).

use std::path::{Path, PathBuf};

use hubble::infer::models::bart::BartForSequenceClassification;
use hubble::infer::{Device, InferError};

const TOLERANCE: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/bart-nli")
}

fn load() -> BartForSequenceClassification {
    BartForSequenceClassification::load(&fixture(), &Device::Cpu).unwrap()
}

#[test]
fn bart_nli_logits_match_transformers_for_every_pair() {
    let model = load();
    assert_eq!(model.labels(), 3);
    let tokenizer = tokenizers::Tokenizer::from_file(fixture().join("tokenizer.json")).unwrap();
    let text = std::fs::read_to_string(fixture().join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sequences = reference["sequences"].as_array().unwrap();
    let mut pairs = 0;
    let mut worst = 0.0f32;
    for run in reference["runs"].as_array().unwrap() {
        for (sequence, row) in sequences.iter().zip(run["pairs"].as_array().unwrap()) {
            for pair in row.as_array().unwrap() {
                let encoding = tokenizer
                    .encode(
                        (
                            sequence.as_str().unwrap(),
                            pair["hypothesis"].as_str().unwrap(),
                        ),
                        true,
                    )
                    .unwrap();
                let expected: Vec<u32> = serde_json::from_value(pair["input_ids"].clone()).unwrap();
                assert_eq!(encoding.get_ids(), expected.as_slice(), "token ids");
                let ours: Vec<f32> = model.forward(&expected).unwrap().to_vec1().unwrap();
                let theirs: Vec<f32> = serde_json::from_value(pair["logits"].clone()).unwrap();
                assert_eq!(ours.len(), theirs.len());
                let diff = ours
                    .iter()
                    .zip(&theirs)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                worst = worst.max(diff);
                pairs += 1;
            }
        }
    }
    eprintln!("bart-nli: {pairs} pairs, max abs logit diff {worst:.3e}");
    assert_eq!(pairs, 24);
    assert!(worst <= TOLERANCE, "logits differ by {worst}");
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let model = load();
    let message = |ids: &[u32]| match model.forward(ids) {
        Err(InferError::InvalidInput(message)) => message,
        other => panic!("{ids:?}: {other:?}"),
    };
    assert!(message(&[]).contains("empty"));
    assert!(message(&[0, 40, 41]).contains("</s>"));
    assert!(message(&[0, 100_000, 2]).contains("vocabulary"));
    assert!(message(&[2; 129]).contains("at most 128"));
}
