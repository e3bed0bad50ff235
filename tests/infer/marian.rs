//! Marian translation against PyTorch transformers on a tiny random opus-mt-style model
//! (`scripts/reference/make_tiny_marian.py`: trained SentencePiece source/target models, a
//! vocab.json missing some pieces, 2+2 layers, swish, scaled and tied embeddings, a random
//! `final_logits_bias`): MarianTokenizer's exact ids (language codes, odd whitespace, NFKC,
//! uncovered characters, a literal `</s>`, an empty text), first-step logits and the KV-cached
//! decoder at every step of a teacher-forced German target within 1e-4, identical greedy tokens
//! and decoded texts.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use hubble::infer::registry::plan;
use hubble::infer::tasks::common::decoding::{GenerationParams, StopReason};
use hubble::infer::tasks::seq2seq::{Seq2Seq, Seq2SeqModel, Seq2SeqRequest, TRANSLATION};
use hubble::infer::tokenizers::marian_tokenizer::MarianTokenizer;
use hubble::infer::{CancelToken, Device, Event, ModelFacts, Pipeline, RunContext};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/marian")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(value: &Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

fn load() -> Seq2Seq {
    let dir = fixture();
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, None).unwrap();
    assert_eq!(plan.task, TRANSLATION);
    assert_eq!(
        plan.loader::<Seq2SeqModel>().unwrap(),
        &Seq2SeqModel::Marian
    );
    Seq2Seq::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap()
}

fn max_diff(ours: &[f32], theirs: &Value) -> f32 {
    let theirs: Vec<f32> = serde_json::from_value(theirs.clone()).unwrap();
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn input_ids_match_marian_tokenizer() {
    let reference = reference();
    let tokenizer = MarianTokenizer::load(&fixture()).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            tokenizer.encode(text).unwrap(),
            ids(&case["ids"]),
            "{text:?}"
        );
    }
}

#[test]
fn decoded_texts_match_marian_tokenizer() {
    let reference = reference();
    let tokenizer = MarianTokenizer::load(&fixture()).unwrap();
    for case in reference["decodes"].as_array().unwrap() {
        let ids = ids(&case["ids"]);
        assert_eq!(
            tokenizer.decode(&ids),
            case["text"].as_str().unwrap(),
            "{ids:?}"
        );
    }
}

#[test]
fn logits_and_greedy_tokens_match_pytorch() {
    let reference = reference();
    let mut model = load();
    let input = ids(&reference["cases"][0]["ids"]);
    let start = ids(&reference["forced"])[0];

    let first = model.step_logits(&input, &[start]).unwrap();
    let diff = max_diff(&first, &reference["first_logits"]);
    eprintln!("marian: max abs first-step logit diff {diff:.3e}");
    assert!(diff <= TOLERANCE, "first-step logits differ by {diff}");

    let forced = ids(&reference["forced"]);
    let cached = model.cached_logits(&input, &forced).unwrap();
    let steps = reference["forced_logits"].as_array().unwrap();
    assert_eq!(cached.len(), steps.len());
    let diff = cached
        .iter()
        .zip(steps)
        .map(|(ours, theirs)| max_diff(ours, theirs))
        .fold(0.0, f32::max);
    eprintln!(
        "marian: max abs KV-cached logit diff over {} teacher-forced steps {diff:.3e}",
        steps.len()
    );
    assert!(diff <= TOLERANCE, "cached logits differ by {diff}");

    let greedy = ids(&reference["greedy"]);
    let request = Seq2SeqRequest {
        text: reference["cases"][0]["text"].as_str().unwrap().into(),
        prefix: None,
        params: GenerationParams::greedy(greedy.len()),
    };
    let out = model.run(request, &RunContext::default()).unwrap();
    assert_eq!(out.input_tokens, input.len());
    assert_eq!(out.token_ids, greedy);
    assert_eq!(out.stop_reason, StopReason::MaxTokens);
    assert_eq!(out.text, reference["greedy_text"].as_str().unwrap());
}

#[test]
fn streamed_pieces_make_the_text_and_sampling_is_seeded() {
    let mut model = load();
    let pad = ids(&reference()["forced"])[0];
    let mut run = |seed: u64| {
        let (tx, rx) = mpsc::channel();
        let request = Seq2SeqRequest {
            text: "The weather is nice today.".into(),
            prefix: Some(">>de<< ".into()),
            params: GenerationParams {
                max_tokens: 12,
                temperature: 1.5,
                top_p: None,
                repeat_penalty: 1.0,
                seed,
                ..GenerationParams::default()
            },
        };
        let out = model
            .run(request, &RunContext::new(CancelToken::new(), Some(tx)))
            .unwrap();
        let streamed: String = rx
            .try_iter()
            .filter_map(|e| match e {
                Event::Token(piece) => Some(piece),
                _ => None,
            })
            .collect();
        assert_eq!(streamed, out.text);
        assert!(
            !out.token_ids.contains(&pad),
            "the pad token is never generated"
        );
        out.token_ids
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
}

#[test]
fn the_stop_button_and_overlong_inputs() {
    let mut model = load();
    let cancel = CancelToken::new();
    cancel.cancel();
    let request = Seq2SeqRequest {
        text: "The cat sat on the mat.".into(),
        prefix: Some(String::new()),
        params: GenerationParams::greedy(50),
    };
    let out = model.run(request, &RunContext::new(cancel, None)).unwrap();
    assert_eq!(out.generated_tokens, 0);
    assert_eq!(out.stop_reason, StopReason::Cancelled);

    // The fixture's sinusoidal tables have 64 positions.
    let request = Seq2SeqRequest {
        text: "the cat ".repeat(40),
        prefix: None,
        params: GenerationParams::greedy(5),
    };
    let err = model.run(request, &RunContext::default()).unwrap_err();
    assert!(err.to_string().contains("at most 64"), "{err}");
    // Generation stops at the last position even when more tokens are asked for.
    let request = Seq2SeqRequest {
        text: "The cat sat.".into(),
        prefix: None,
        params: GenerationParams::greedy(500),
    };
    let out = model.run(request, &RunContext::default()).unwrap();
    assert!(out.generated_tokens <= 63, "{}", out.generated_tokens);
}
