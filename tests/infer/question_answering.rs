//! Extractive question answering against transformers 4.57's question-answering pipeline on
//! tiny random BERT / DistilBERT / RoBERTa / DeBERTa-v2 QA checkpoints
//! (`scripts/reference/make_tiny_qa.py` wrote them and the references): the same windows (384
//! tokens, stride 128) and token ids, logits within 1e-4, and the top-3 answers with the same
//! text and character span, scores within 1e-4.

use std::path::{Path, PathBuf};

use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::question_answering::{
    QUESTION_ANSWERING, QuestionAnswerer, QuestionRequest,
};
use hubble::infer::{Device, ModelFacts, Pipeline, RunContext};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn max_diff(ours: &[f32], theirs: &Value) -> f32 {
    let theirs: Vec<f32> = serde_json::from_value(theirs.clone()).unwrap();
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn check(name: &str) {
    let dir = fixture(name);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts), Some(QUESTION_ANSWERING));
    let plan = plan(&facts, None).unwrap();
    let mut model =
        QuestionAnswerer::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap();
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let top_k = reference["pipeline_args"]["top_k"].as_u64().unwrap() as usize;
    let examples = reference["examples"].as_array().unwrap();
    assert!(
        examples
            .iter()
            .any(|e| e["windows"].as_array().unwrap().len() > 1)
    );
    for example in examples {
        let question = example["question"].as_str().unwrap();
        let context = example["context"].as_str().unwrap();
        let windows = model.windows(question, context).unwrap();
        eprintln!(
            "{name}: windows of {:?} tokens",
            windows.iter().map(|w| w.len()).collect::<Vec<_>>()
        );
        let expected = example["windows"].as_array().unwrap();
        assert_eq!(windows.len(), expected.len(), "{name}: {question}: windows");
        for (window, theirs) in windows.iter().zip(expected) {
            let ids: Vec<u32> = serde_json::from_value(theirs["input_ids"].clone()).unwrap();
            assert_eq!(window.get_ids(), ids, "{name}: {question}: input ids");
            let (start, end) = model.logits(window).unwrap();
            let diff = max_diff(&start, &theirs["start_logits"])
                .max(max_diff(&end, &theirs["end_logits"]));
            eprintln!("{name}: {question:?} window logits max |diff| {diff:e}");
            assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");
        }
        let request = QuestionRequest {
            question: question.into(),
            context: context.into(),
            top_k,
        };
        let answers = model.run(request, &RunContext::default()).unwrap().answers;
        let expected = example["answers"].as_array().unwrap();
        assert_eq!(answers.len(), expected.len(), "{name}: {question}: answers");
        for (ours, theirs) in answers.iter().zip(expected) {
            assert_eq!(ours.answer, theirs["answer"].as_str().unwrap(), "{name}");
            assert_eq!(
                ours.start as u64,
                theirs["start"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(ours.end as u64, theirs["end"].as_u64().unwrap(), "{name}");
            let diff = (ours.score - theirs["score"].as_f64().unwrap() as f32).abs();
            assert!(
                diff <= TOLERANCE,
                "{name}: score {} vs {}",
                ours.score,
                theirs["score"]
            );
        }
    }
}

#[test]
fn bert_answers_like_transformers() {
    check("bert-qa");
}

#[test]
fn distilbert_answers_like_transformers() {
    check("distilbert-qa");
}

#[test]
fn roberta_answers_like_transformers() {
    check("roberta-qa");
}

#[test]
fn deberta_v2_answers_like_transformers() {
    check("deberta-qa");
}
