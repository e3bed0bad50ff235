//! Numerical parity with PyTorch transformers on tiny random checkpoints
//! (`scripts/reference/make_tiny_checkpoints.py` wrote them and their reference outputs to
//! `tests/fixtures/tiny/<arch>/`): next-token logits within 1e-4 (fp32, CPU) and identical
//! greedy tokens, decoded with the KV cache where the reference recomputed every step. The
//! causal checkpoints are also written as F32 GGUF files (`support/gguf.rs`, llama.cpp's
//! layout) and held to the same references through the GGUF path.

use crate::support::gguf;

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Content;
use candle_core::{DType, Tensor};
use hubble::infer::models::gguf_gemma3::GgufGemma3;
use hubble::infer::models::gguf_llama::GgufLlama;
use hubble::infer::registry::plan;
use hubble::infer::tasks::feature_extraction::{Embedder, EmbeddingRequest, SENTENCE_SIMILARITY};
use hubble::infer::tasks::text_generation::{GenerationParams, TEXT_GENERATION, TextGenerator};
use hubble::infer::{CancelToken, Device, ModelFacts, Pipeline, RunContext};

const TOLERANCE: f32 = 1e-4;
const CPU: candle_core::Device = candle_core::Device::Cpu;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn reference(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn numbers<T>(value: &serde_json::Value, number: impl Fn(&serde_json::Value) -> T) -> Vec<T> {
    value.as_array().unwrap().iter().map(number).collect()
}

fn floats(value: &serde_json::Value) -> Vec<f32> {
    numbers(value, |v| v.as_f64().unwrap() as f32)
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    numbers(value, |v| v.as_u64().unwrap() as u32)
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
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(TEXT_GENERATION)).unwrap();
    let ctx = RunContext::default();
    let generator = TextGenerator::load(&dir, &plan, &Device::Cpu, &ctx).unwrap();
    check_generator(name, generator, &reference(&dir), TOLERANCE);
}

/// The same tiny checkpoint written as an F32 GGUF (`support/gguf.rs`), through the GGUF path.
fn check_gguf(name: &str, tolerance: f32) {
    let dir = fixture(name);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join(format!("{name}-f32.gguf"));
    gguf::convert(&dir, &path);
    let generator = TextGenerator::load_gguf(&path, &Device::Cpu, &RunContext::default()).unwrap();
    check_generator(
        &format!("{name} gguf"),
        generator,
        &reference(&dir),
        tolerance,
    );
}

fn check_generator(
    name: &str,
    mut generator: TextGenerator,
    reference: &serde_json::Value,
    tolerance: f32,
) {
    let ctx = RunContext::default();
    let prompt = ids(&reference["prompt"]);
    let logits = generator.logits(&prompt).unwrap();
    let diff = max_abs_diff(&logits, &floats(&reference["next_token_logits"]));
    eprintln!("{name}: max abs logit diff {diff:.3e}");
    assert!(diff <= tolerance, "{name}: logits differ by {diff}");

    let want = ids(&reference["greedy_tokens"]);
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

/// Hubble's own GGUF decoders with F32 keys and values: the exact path, held to 1e-4 at every
/// greedy step (the generator's default F16 cache is checked through `check_gguf`).
fn check_f32_cache(name: &str, load: impl Fn(&Content, &mut std::fs::File) -> Decoder) {
    let dir = fixture(name);
    let reference = reference(&dir);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join(format!("{name}-f32.gguf"));
    gguf::convert(&dir, &path);
    let mut file = std::fs::File::open(&path).unwrap();
    let content = Content::read(&mut file).unwrap();
    let mut model = load(&content, &mut file);
    let mut logits = |tokens: &[u32], pos: usize| -> Vec<f32> {
        let input = Tensor::new(tokens, &CPU).unwrap().unsqueeze(0).unwrap();
        model(&input, pos).flatten_all().unwrap().to_vec1().unwrap()
    };
    let mut tokens = ids(&reference["prompt"]);
    let first = logits(&tokens, 0);
    let diff = max_abs_diff(&first, &floats(&reference["next_token_logits"]));
    eprintln!("{name} gguf, F32 cache: max abs logit diff {diff:.3e}");
    assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");
    let argmax = |l: &[f32]| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap() as u32;
    let want = ids(&reference["greedy_tokens"]);
    let mut next = argmax(&first);
    let mut got = Vec::new();
    while got.len() < want.len() {
        got.push(next);
        tokens.push(next);
        next = argmax(&logits(&tokens[tokens.len() - 1..], tokens.len() - 1));
    }
    assert_eq!(got, want, "{name} gguf: greedy tokens");
}

/// A loaded decoder's forward pass: tokens `(1, seq)` at a position → logits.
type Decoder = Box<dyn FnMut(&Tensor, usize) -> Tensor>;

/// A llama-family fixture (its folder is named after its GGUF architecture) on `GgufLlama`.
fn check_llama_family_f32_cache(arch: &'static str) {
    check_f32_cache(arch, |content, file| {
        let model = GgufLlama::from_gguf(content, arch, file, &CPU).unwrap();
        let mut model = model.with_kv_dtype(DType::F32);
        Box::new(move |input, pos| model.forward(input, pos).unwrap())
    });
}

#[test]
fn llama_gguf_matches_pytorch_with_an_f32_cache() {
    check_llama_family_f32_cache("llama");
}

#[test]
fn qwen2_gguf_matches_pytorch_with_an_f32_cache() {
    check_llama_family_f32_cache("qwen2");
}

#[test]
fn qwen3_gguf_matches_pytorch_with_an_f32_cache() {
    check_llama_family_f32_cache("qwen3");
}

#[test]
fn phi3_gguf_matches_pytorch_with_an_f32_cache() {
    check_llama_family_f32_cache("phi3");
}

#[test]
fn gemma3_gguf_matches_pytorch_with_an_f32_cache() {
    check_f32_cache("gemma3", |content, file| {
        let model = GgufGemma3::from_gguf(content, file, &CPU).unwrap();
        let mut model = model.with_kv_dtype(DType::F32);
        Box::new(move |input, pos| model.forward(input, pos).unwrap())
    });
}

/// Through `TextGenerator::load_gguf`, with its default F16 cache: keys and values rounded to
/// 11 significant bits move the logits a little, never the greedy tokens.
const F16_CACHE_TOLERANCE: f32 = 5e-3;

#[test]
fn llama_gguf_matches_pytorch_through_the_generator() {
    check_gguf("llama", F16_CACHE_TOLERANCE);
}

#[test]
fn qwen2_gguf_matches_pytorch_through_the_generator() {
    check_gguf("qwen2", F16_CACHE_TOLERANCE);
}

#[test]
fn qwen3_gguf_matches_pytorch_through_the_generator() {
    check_gguf("qwen3", F16_CACHE_TOLERANCE);
}

#[test]
fn phi3_gguf_matches_pytorch_through_the_generator() {
    check_gguf("phi3", F16_CACHE_TOLERANCE);
}

#[test]
fn gemma3_gguf_matches_pytorch_through_the_generator() {
    check_gguf("gemma3", F16_CACHE_TOLERANCE);
}

#[test]
fn bert_sentence_embeddings_match_pytorch() {
    let dir = fixture("bert");
    let reference = reference(&dir);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(SENTENCE_SIMILARITY)).unwrap();
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
