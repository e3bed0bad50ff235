//! Numerical parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_checkpoints.py` wrote them and their reference outputs to
//! `tests/fixtures/tiny/<arch>/`): next-token logits within 1e-4 (fp32, CPU) and identical
//! greedy tokens, decoded with the KV cache where the reference recomputed every step.

use std::path::{Path, PathBuf};

use hubble::infer::registry::{ModelFacts, Task, plan};
use hubble::infer::{
    CancelToken, Device, Embedder, EmbeddingRequest, GenerationParams, Pipeline, RunContext,
    TextGenerator,
};

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn reference(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check_causal(name: &str) {
    let dir = fixture(name);
    let reference = reference(&dir);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(Task::TextGeneration)).unwrap();
    let ctx = RunContext::default();
    let mut generator = TextGenerator::load(&dir, &plan, &Device::Cpu, &ctx).unwrap();
    let prompt: Vec<u32> = reference["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let logits = generator.logits(&prompt).unwrap();
    let diff = max_abs_diff(&logits, &floats(&reference["next_token_logits"]));
    eprintln!("{name}: max abs logit diff {diff:.3e}");
    assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");

    let want: Vec<u32> = reference["greedy_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let out = generator
        .generate_ids(&prompt, &GenerationParams::greedy(want.len()), &ctx)
        .unwrap();
    assert_eq!(out.token_ids, want, "{name}: greedy tokens");
    // The word-level fixture tokenizer turns ids back into `t<id>` words.
    let words: Vec<String> = want.iter().map(|id| format!("t{id}")).collect();
    assert_eq!(out.text.split_whitespace().collect::<Vec<_>>(), words);
}

#[test]
fn llama_matches_pytorch() {
    check_causal("llama");
}

#[test]
fn mistral_matches_pytorch() {
    check_causal("mistral");
}

#[test]
fn qwen2_matches_pytorch() {
    check_causal("qwen2");
}

#[test]
fn qwen3_matches_pytorch() {
    check_causal("qwen3");
}

#[test]
fn phi3_matches_pytorch() {
    check_causal("phi3");
}

#[test]
fn gemma_matches_pytorch() {
    check_causal("gemma");
}

#[test]
fn gemma2_matches_pytorch() {
    check_causal("gemma2");
}

#[test]
fn gemma3_matches_pytorch() {
    check_causal("gemma3");
}

#[test]
fn bert_sentence_embeddings_match_pytorch() {
    let dir = fixture("bert");
    let reference = reference(&dir);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(Task::SentenceSimilarity)).unwrap();
    let ctx = RunContext::new(CancelToken::new(), None);
    let mut embedder = Embedder::load(&dir, &plan, &Device::Cpu, &ctx).unwrap();
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    // One batch: the padded sentences must pool only their own tokens.
    let out = embedder
        .run(
            EmbeddingRequest {
                sentences: sentences.clone(),
            },
            &ctx,
        )
        .unwrap();
    let mut worst = 0f32;
    for (got, want) in out
        .embeddings
        .iter()
        .zip(reference["embeddings"].as_array().unwrap())
    {
        worst = worst.max(max_abs_diff(got, &floats(want)));
    }
    eprintln!("bert: max abs embedding diff {worst:.3e}");
    assert!(worst <= TOLERANCE, "embeddings differ by {worst}");
    assert!(out.normalized);
    assert!((out.similarity[0][0] - 1.0).abs() < 1e-5);

    let cancel = CancelToken::new();
    cancel.cancel();
    let cancelled = RunContext::new(cancel, None);
    assert!(
        embedder
            .run(EmbeddingRequest { sentences }, &cancelled)
            .is_err()
    );
}
