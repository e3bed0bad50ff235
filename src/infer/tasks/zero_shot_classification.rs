//! Zero-shot text classification with an NLI model, as transformers' `zero-shot-classification`
//! pipeline: each candidate label becomes a hypothesis (`"This example is {}."`), the model
//! classifies the pair (sequence, hypothesis) as contradiction / neutral / entailment, and the
//! labels are scored from the entailment logits — a softmax across labels, or with
//! `multi_label` (or a single label) entailment against contradiction for each label on its own.
//! BERT, RoBERTa, DeBERTa-v2/v3 sequence classifiers and BART (`facebook/bart-large-mnli`).

use std::io::{self, Write};
use std::path::Path;

use candle_core::Device;
use serde::Serialize;
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::infer::facts::ModelFacts;
use crate::infer::models::bart::BartForSequenceClassification;
use crate::infer::models::encoder::{Encoder, Family};
use crate::infer::models::encoder_heads::{Head, HeadKind};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::candidate_labels_arg;
use crate::infer::tokenizers::read_tokenizer;
use crate::infer::{InferError, device, read_json};

/// `zero-shot-classification`.
pub const ZERO_SHOT_CLASSIFICATION: Task = Task::new("zero-shot-classification");

/// transformers' default hypothesis.
pub const DEFAULT_TEMPLATE: &str = "This example is {}.";

/// A text and the labels to score it against.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ZeroShotRequest {
    /// The text to classify.
    pub sequence: String,
    /// The candidate labels.
    pub labels: Vec<String>,
    /// Score each label on its own (several may be true) instead of across labels.
    pub multi_label: bool,
    /// The hypothesis, `{}` standing for the label.
    pub hypothesis_template: String,
}

/// The labels ranked, as transformers' pipeline returns them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZeroShotOutput {
    /// The text.
    pub sequence: String,
    /// Labels, most likely first.
    pub labels: Vec<String>,
    /// Their scores, in the same order.
    pub scores: Vec<f32>,
}

/// The NLI model behind the pipeline (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NliModel {
    /// A BERT-family sequence classifier.
    Encoder(Family),
    /// `BartForSequenceClassification` (facebook/bart-large-mnli).
    Bart,
}

enum Loaded {
    Encoder {
        encoder: Box<Encoder>,
        head: Head,
    },
    Bart {
        model: Box<BartForSequenceClassification>,
        tokenizer: Box<Tokenizer>,
    },
}

/// A loaded NLI classifier.
pub struct ZeroShotClassifier {
    model: Loaded,
    entailment: usize,
    contradiction: usize,
    description: String,
}

impl ZeroShotClassifier {
    /// Loads `dir` as `model`.
    pub fn load_dir(
        dir: &Path,
        model: NliModel,
        device: &Device,
    ) -> Result<ZeroShotClassifier, InferError> {
        let config = read_json(&dir.join("config.json"))?;
        let (model, labels, name) = match model {
            NliModel::Encoder(family) => {
                let encoder = Encoder::load(dir, family, device)?;
                let head = Head::load(&encoder, HeadKind::Sequence)?;
                let labels = head.outputs()?;
                let encoder = Box::new(encoder);
                (Loaded::Encoder { encoder, head }, labels, family.prefix())
            }
            NliModel::Bart => {
                let model = BartForSequenceClassification::load(dir, device)?;
                let labels = model.labels();
                let tokenizer = Box::new(read_tokenizer(dir)?);
                let model = Box::new(model);
                (Loaded::Bart { model, tokenizer }, labels, "bart")
            }
        };
        let entailment = entailment_id(&config).ok_or_else(|| {
            InferError::Model(
                "no \"entailment\" label in config.json's label2id: not an NLI model".into(),
            )
        })?;
        let contradiction = if entailment == 0 {
            labels.saturating_sub(1)
        } else {
            0
        };
        let description = format!(
            "{name} NLI classifier for zero-shot classification on {}",
            device::describe(device)
        );
        Ok(ZeroShotClassifier {
            model,
            entailment,
            contradiction,
            description,
        })
    }

    /// The NLI logits of one (premise, hypothesis) pair, with the pair's token ids.
    pub fn pair_logits(
        &self,
        premise: &str,
        hypothesis: &str,
    ) -> Result<(Vec<u32>, Vec<f32>), InferError> {
        match &self.model {
            Loaded::Encoder { encoder, head } => {
                let encoding = encoder.encode_pair(premise, hypothesis)?;
                let hidden =
                    encoder.hidden_typed(encoding.get_ids(), Some(encoding.get_type_ids()))?;
                let logits = head.forward(&hidden)?.to_vec1::<f32>()?;
                Ok((encoding.get_ids().to_vec(), logits))
            }
            Loaded::Bart { model, tokenizer } => {
                let encoding = tokenizer
                    .encode((premise, hypothesis), true)
                    .map_err(|e| InferError::Tokenizer(e.to_string()))?;
                let logits = model.forward(encoding.get_ids())?.to_vec1::<f32>()?;
                Ok((encoding.get_ids().to_vec(), logits))
            }
        }
    }

    /// Scores every label.
    pub fn classify(
        &self,
        request: &ZeroShotRequest,
        ctx: &RunContext,
    ) -> Result<ZeroShotOutput, InferError> {
        let labels: Vec<String> = request
            .labels
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            return Err(InferError::InvalidInput(
                "give candidate labels (e.g. sports, politics, music) to score the text against"
                    .into(),
            ));
        }
        if request.sequence.trim().is_empty() {
            return Err(InferError::InvalidInput("type a text to classify".into()));
        }
        if !request.hypothesis_template.contains("{}") {
            return Err(InferError::InvalidInput(format!(
                "the hypothesis template {:?} has no {{}} where the label goes",
                request.hypothesis_template
            )));
        }
        let mut logits = Vec::with_capacity(labels.len());
        for label in &labels {
            if ctx.is_cancelled() {
                return Err(InferError::Cancelled);
            }
            let hypothesis = request.hypothesis_template.replacen("{}", label, 1);
            logits.push(self.pair_logits(&request.sequence, &hypothesis)?.1);
        }
        let scores = label_scores(
            &logits,
            self.entailment,
            self.contradiction,
            request.multi_label || labels.len() == 1,
        );
        let mut order: Vec<usize> = (0..labels.len()).collect();
        // numpy's argsort reversed: highest first, ties the later label first.
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(b.cmp(a)));
        Ok(ZeroShotOutput {
            sequence: request.sequence.clone(),
            labels: order.iter().map(|i| labels[*i].clone()).collect(),
            scores: order.iter().map(|i| scores[*i]).collect(),
        })
    }
}

/// The id of the first label starting with "entail" in config.json's `label2id` (or
/// `id2label`), as transformers finds it.
pub fn entailment_id(config: &Value) -> Option<usize> {
    let from_label2id = config
        .get("label2id")
        .and_then(Value::as_object)
        .and_then(|m| {
            m.iter()
                .find(|(label, _)| label.to_lowercase().starts_with("entail"))
                .and_then(|(_, id)| id.as_u64())
        });
    let from_id2label = || {
        config
            .get("id2label")
            .and_then(Value::as_object)
            .and_then(|m| {
                m.iter()
                    .find(|(_, label)| {
                        label
                            .as_str()
                            .is_some_and(|l| l.to_lowercase().starts_with("entail"))
                    })
                    .and_then(|(id, _)| id.parse().ok())
            })
    };
    from_label2id.or_else(from_id2label).map(|id| id as usize)
}

/// transformers' scores from each label's NLI logits: entailment softmaxed across labels, or
/// (`each_alone`) entailment against contradiction for every label.
pub fn label_scores(
    logits: &[Vec<f32>],
    entailment: usize,
    contradiction: usize,
    each_alone: bool,
) -> Vec<f32> {
    if each_alone {
        return logits
            .iter()
            .map(|l| {
                let (c, e) = (l[contradiction], l[entailment]);
                let max = c.max(e);
                let (c, e) = ((c - max).exp(), (e - max).exp());
                e / (c + e)
            })
            .collect();
    }
    let entail: Vec<f32> = logits.iter().map(|l| l[entailment]).collect();
    let max = entail.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = entail.iter().map(|e| (e - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

impl Pipeline for ZeroShotClassifier {
    type Input = ZeroShotRequest;
    type Output = ZeroShotOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ZeroShotClassifier, InferError> {
        let model = *plan.loader::<NliModel>()?;
        ctx.emit(Event::Status("loading the NLI model's weights".into()));
        ZeroShotClassifier::load_dir(dir, model, device)
    }

    fn run(
        &mut self,
        input: ZeroShotRequest,
        ctx: &RunContext,
    ) -> Result<ZeroShotOutput, InferError> {
        self.classify(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The zero-shot classification task file, as the registry lists it.
pub struct ZeroShotClassificationTask;

/// This task in the registry's list.
pub static MODULE: ZeroShotClassificationTask = ZeroShotClassificationTask;

impl TaskModule for ZeroShotClassificationTask {
    fn tasks(&self) -> &'static [Task] {
        &[ZERO_SHOT_CLASSIFICATION]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[("zero-shot", ZERO_SHOT_CLASSIFICATION)]
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let is_classifier = facts
            .architectures
            .iter()
            .any(|a| a.ends_with("ForSequenceClassification"))
            || (facts.architectures.is_empty()
                && facts.pipeline_tag.as_deref() == Some(task.as_str()));
        let model = match facts.model_type.as_deref() {
            Some("bart") => Some(NliModel::Bart),
            other => other
                .and_then(Family::from_model_type)
                .map(NliModel::Encoder),
        };
        match model {
            Some(_) if !is_classifier => Err(not_supported(
                format!(
                    "{} without a sequence-classification head",
                    facts.architecture_name()
                ),
                task,
            )),
            Some(_) if !facts.has_safetensors() => Err(not_supported(
                format!("{} without safetensors weights", facts.architecture_name()),
                task,
            )),
            Some(_) if !facts.has_tokenizer() => Err(not_supported(
                format!("{} without tokenizer.json", facts.architecture_name()),
                task,
            )),
            Some(model) => Ok(Plan::new(task, model)),
            None => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<ZeroShotClassifier>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            candidate_labels_arg(),
            clap::Arg::new("multi_label")
                .long("multi-label")
                .action(clap::ArgAction::SetTrue)
                .help("Zero-shot classification: score each label on its own"),
            clap::Arg::new("hypothesis_template")
                .long("hypothesis-template")
                .value_name("TEXT")
                .default_value(DEFAULT_TEMPLATE)
                .help("Zero-shot classification: the hypothesis, {} standing for the label"),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        let labels = input.list("labels");
        if labels.is_empty() {
            return Err(InferError::InvalidInput(format!(
                "{task} needs candidate labels: pass --labels sports,politics,music"
            )));
        }
        Ok(Request::new(ZeroShotRequest {
            sequence: input.text()?,
            labels,
            multi_label: input.flag("multi_label"),
            hypothesis_template: input
                .value::<String>("hypothesis_template")
                .unwrap_or_else(|| DEFAULT_TEMPLATE.into()),
        }))
    }
}

impl HumanOutput for ZeroShotOutput {
    /// The labels, most likely first, as `  97.12%  label`.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.sequence)?;
        for (label, score) in self.labels.iter().zip(&self.scores) {
            writeln!(out, "  {:>6.2}%  {label}", score * 100.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entailment_label_is_found_by_name() {
        let config = serde_json::json!({
            "label2id": {"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2}
        });
        assert_eq!(entailment_id(&config), Some(2));
        let config = serde_json::json!({"id2label": {"0": "entailment", "1": "not_entailment"}});
        assert_eq!(entailment_id(&config), Some(0));
        assert_eq!(entailment_id(&serde_json::json!({})), None);
    }

    #[test]
    fn scores_across_labels_or_each_alone() {
        let logits = vec![vec![0.0, 0.0, 2.0], vec![1.0, 0.0, 0.0]];
        let across = label_scores(&logits, 2, 0, false);
        assert!((across.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(across[0] > across[1]);
        let alone = label_scores(&logits, 2, 0, true);
        assert!((alone[0] - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
        assert!((alone[1] - 1.0 / (1.0 + 1.0f32.exp())).abs() < 1e-6);
    }
}
