//! Text classification, token classification and fill-mask against PyTorch transformers on
//! tiny random BERT / DistilBERT / RoBERTa checkpoints with their task heads
//! (`scripts/reference/make_tiny_encoders.py` wrote them and the reference logits to
//! `tests/fixtures/tiny/<family>-<head>/`): the same token ids, logits within 1e-4 (fp32, CPU).

use std::path::{Path, PathBuf};

use hubble::infer::models::encoder::Family;
use hubble::infer::registry::plan;
use hubble::infer::tasks::text_classification::{
    EncoderPipeline, FILL_MASK, Results, TEXT_CLASSIFICATION, TOKEN_CLASSIFICATION, TextEntities,
    TextFills, TextLabels, TextsRequest,
};
use hubble::infer::{Device, InferError, ModelFacts, Output, Pipeline, RunContext, Task};

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn load(name: &str, task: Task) -> EncoderPipeline {
    let dir = fixture(name);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    let plan = plan(&facts, Some(task)).unwrap();
    assert!(plan.loader::<Family>().is_ok(), "{name}: {plan:?}");
    EncoderPipeline::load(&dir, &plan, &Device::Cpu, &RunContext::default()).unwrap()
}

/// Compares every reference text's ids and logits.
fn check(name: &str, task: Task) {
    let pipeline = load(name, task);
    let text = std::fs::read_to_string(fixture(name).join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outputs = reference["outputs"].as_array().unwrap();
    assert!(!outputs.is_empty());
    for output in outputs {
        let (ids, logits) = pipeline.logits(output["text"].as_str().unwrap()).unwrap();
        let expected_ids: Vec<u32> = serde_json::from_value(output["ids"].clone()).unwrap();
        assert_eq!(ids, expected_ids, "{name}: token ids");
        let ours: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
        let theirs: Vec<f32> = match &output["logits"][0] {
            serde_json::Value::Array(_) => {
                serde_json::from_value::<Vec<Vec<f32>>>(output["logits"].clone())
                    .unwrap()
                    .concat()
            }
            _ => serde_json::from_value(output["logits"].clone()).unwrap(),
        };
        assert_eq!(ours.len(), theirs.len(), "{name}: logits shape");
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        eprintln!("{name}: max abs logit diff {diff:.3e}");
        assert!(diff <= TOLERANCE, "{name}: logits differ by {diff}");
    }
}

#[test]
fn sequence_classification_heads_match_pytorch() {
    check("bert-cls", TEXT_CLASSIFICATION);
    check("distilbert-cls", TEXT_CLASSIFICATION);
    check("roberta-cls", TEXT_CLASSIFICATION);
    check("deberta-cls", TEXT_CLASSIFICATION);
}

#[test]
fn token_classification_heads_match_pytorch() {
    check("bert-ner", TOKEN_CLASSIFICATION);
    check("distilbert-ner", TOKEN_CLASSIFICATION);
    check("roberta-ner", TOKEN_CLASSIFICATION);
    check("deberta-ner", TOKEN_CLASSIFICATION);
}

#[test]
fn masked_lm_heads_match_pytorch() {
    check("bert-mlm", FILL_MASK);
    check("distilbert-mlm", FILL_MASK);
    check("roberta-mlm", FILL_MASK);
}

/// The typed result inside an output, or a panic naming what came instead.
fn take<T: 'static>(output: Result<Output, InferError>) -> T {
    let output = output.unwrap();
    let task = output.task();
    output
        .take::<T>()
        .unwrap_or_else(|_| panic!("{task}: wrong output kind"))
}

#[test]
fn outputs_carry_labels_entities_and_fills() {
    let ctx = RunContext::default();
    let request = |texts: &[&str]| TextsRequest {
        texts: texts.iter().map(|t| t.to_string()).collect(),
    };
    let mut classifier = load("roberta-cls", TEXT_CLASSIFICATION);
    let out = take::<Results<TextLabels>>(classifier.run(request(&["the cat sits"]), &ctx));
    let labels = &out.results[0].labels;
    let mut names: Vec<&str> = labels.iter().map(|l| l.label.as_str()).collect();
    names.sort();
    assert_eq!(names, ["negative", "neutral", "positive"]);
    let total: f32 = labels.iter().map(|l| l.score).sum();
    assert!((total - 1.0).abs() < 1e-5);
    assert!(labels.windows(2).all(|w| w[0].score >= w[1].score));

    let mut tagger = load("bert-ner", TOKEN_CLASSIFICATION);
    let out = take::<Results<TextEntities>>(tagger.run(request(&["a man rides a horse"]), &ctx));
    let tagged = &out.results[0];
    assert_eq!(tagged.tokens.len(), 5, "special tokens are left out");
    for entity in &tagged.entities {
        assert_eq!(&tagged.text[entity.start..entity.end], entity.word);
    }

    let mut filler = load("distilbert-mlm", FILL_MASK);
    let out = take::<Results<TextFills>>(filler.run(request(&["a [MASK] is eating"]), &ctx));
    let fills = &out.results[0].masks[0];
    assert_eq!(fills.len(), 5);
    assert!(fills.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(fills.iter().all(|f| f.sequence.contains(&f.token)));

    let error = filler.run(request(&["no mask here"]), &ctx).unwrap_err();
    assert!(matches!(error, InferError::InvalidInput(m) if m.contains("[MASK]")));
}

#[test]
fn models_without_the_head_or_family_are_refused_clearly() {
    // A sentence-transformers BERT has no classification head.
    let facts = ModelFacts::from_dir(&fixture("bert")).unwrap();
    let error = plan(&facts, Some(TEXT_CLASSIFICATION)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "not supported yet: BertModel for text-classification"
    );
    assert_eq!(Family::from_model_type("electra"), None);
    // A fill-mask checkpoint asked for classification: the head's weights are missing.
    let dir = fixture("bert-mlm");
    let mut facts = ModelFacts::from_dir(&dir).unwrap();
    facts.architectures = vec!["BertForSequenceClassification".into()];
    let plan = plan(&facts, Some(TEXT_CLASSIFICATION)).unwrap();
    let error = EncoderPipeline::load(&dir, &plan, &Device::Cpu, &RunContext::default())
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("no classification head"),
        "{error}"
    );
}
