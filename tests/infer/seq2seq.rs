//! Translation / summarisation against PyTorch transformers on tiny random T5 checkpoints
//! (`scripts/reference/make_tiny_t5.py`: original ReLU T5 with tied embeddings, and gated-GELU
//! T5 v1.1 / FLAN-T5 without): the same input ids, first-step logits within 1e-4 (fp32, CPU),
//! and identical greedy tokens, decoded with the KV cache where the reference recomputed.

use std::path::{Path, PathBuf};

use hubble::infer::registry::plan;
use hubble::infer::tasks::common::decoding::GenerationParams;
use hubble::infer::tasks::seq2seq::{
    SUMMARIZATION, Seq2Seq, Seq2SeqModel, Seq2SeqRequest, TRANSLATION,
};
use hubble::infer::{CancelToken, Device, ModelFacts, Pipeline, RunContext};

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn check(name: &str) {
    let dir = fixture(name);
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(SUMMARIZATION)).unwrap();
    assert_eq!(plan.loader::<Seq2SeqModel>().unwrap(), &Seq2SeqModel::T5);
    let mut model = Seq2Seq::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();

    // The reference text already carries the prefix.
    let ids = model
        .encode("", reference["text"].as_str().unwrap())
        .unwrap();
    let expected: Vec<u32> = serde_json::from_value(reference["ids"].clone()).unwrap();
    assert_eq!(ids, expected, "{name}: input ids");
    let logits = model.step_logits(&ids, &[0]).unwrap();
    let theirs: Vec<f32> = serde_json::from_value(reference["first_logits"].clone()).unwrap();
    let diff = logits
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("{name}: max abs first-step logit diff {diff:.3e}");
    assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");

    let greedy: Vec<u32> = serde_json::from_value(reference["greedy"].clone()).unwrap();
    let text = reference["text"].as_str().unwrap();
    let request = Seq2SeqRequest {
        text: text.trim_start_matches("summarize: ").to_string(),
        prefix: None,
        params: GenerationParams::greedy(greedy.len()),
    };
    let out = model.run(request, &RunContext::default()).unwrap();
    // The model's own prefix (task_specific_params) was put back in front.
    assert_eq!(out.input_tokens, ids.len());
    let n = out.token_ids.len();
    assert_eq!(out.token_ids, greedy[..n], "{name}: greedy tokens");
    assert!(
        n == greedy.len() || !greedy.contains(&1),
        "{name}: stopped early"
    );
}

#[test]
fn t5_relu_with_tied_embeddings_matches_pytorch() {
    check("t5");
}

#[test]
fn gated_gelu_t5_matches_pytorch() {
    check("flan-t5");
}

#[test]
fn the_stop_button_ends_generation() {
    let dir = fixture("flan-t5");
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(TRANSLATION)).unwrap();
    let mut model = Seq2Seq::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let request = Seq2SeqRequest {
        text: "a man is eating".into(),
        prefix: Some(String::new()),
        params: GenerationParams::greedy(50),
    };
    let out = model.run(request, &RunContext::new(cancel, None)).unwrap();
    assert_eq!(out.generated_tokens, 0);
    assert_eq!(
        serde_json::to_value(out.stop_reason).unwrap(),
        serde_json::json!("cancelled")
    );
}
