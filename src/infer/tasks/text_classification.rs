//! Text classification, token classification (NER, grouped entities) and fill-mask: one
//! [`Pipeline`] over a BERT-family [`Encoder`] with the task's [`Head`]. Each input text runs on
//! its own (no padding), so the results equal transformers' pipelines for one text.

use std::io::{self, Write};
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::ops::{sigmoid, softmax_last_dim};
use serde::Serialize;

pub use crate::results::LabelScore;
use crate::results::ranked;

use crate::infer::facts::ModelFacts;
use crate::infer::models::encoder::{Encoder, Family};
use crate::infer::models::encoder_heads::{Head, HeadKind};
use crate::infer::pipeline::{
    Event, HumanOutput, Output, Pipeline, Request, RunContext, Task, erase,
};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::tasks::common::entities::{Entity, TokenLabel, group_entities};
use crate::infer::tasks::common::write_labels;
use crate::infer::{InferError, device};

/// How many candidates fill-mask returns per mask.
pub const FILL_MASK_TOP_K: usize = 5;

/// Texts to run one encoder task on.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TextsRequest {
    /// The inputs, each run on its own.
    pub texts: Vec<String>,
}

/// One text's labels, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextLabels {
    /// The text.
    pub text: String,
    /// Every label, sorted by score.
    pub labels: Vec<LabelScore>,
}

/// One text's tokens with labels, and the entities grouped from them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextEntities {
    /// The text.
    pub text: String,
    /// Each non-special token with its best label.
    pub tokens: Vec<TokenLabel>,
    /// Consecutive tokens of one entity type merged (transformers' "simple" aggregation).
    pub entities: Vec<Entity>,
}

/// One candidate for a masked position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskFill {
    /// The token as the tokenizer decodes it.
    pub token: String,
    /// Its id.
    pub token_id: u32,
    /// Its probability.
    pub score: f32,
    /// The text with this token in place of the mask.
    pub sequence: String,
}

/// One text's candidates per mask position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextFills {
    /// The text.
    pub text: String,
    /// For each mask in the text, the top candidates.
    pub masks: Vec<Vec<MaskFill>>,
}

/// The per-text results of an encoder task (`{"results": [...]}` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results<T> {
    /// One entry per input text, in order.
    pub results: Vec<T>,
}

/// A loaded encoder with a task head.
pub struct EncoderPipeline {
    encoder: Encoder,
    head: Head,
    task: Task,
    labels: Vec<String>,
    multi_label: bool,
    description: String,
}

impl EncoderPipeline {
    /// Loads `dir` for `task` (text-classification, token-classification or fill-mask).
    pub fn load_dir(
        dir: &Path,
        family: Family,
        task: Task,
        device: &Device,
    ) -> Result<EncoderPipeline, InferError> {
        let kind = match task {
            TEXT_CLASSIFICATION => HeadKind::Sequence,
            TOKEN_CLASSIFICATION => HeadKind::Token,
            FILL_MASK => HeadKind::MaskedLm,
            other => {
                return Err(InferError::NotSupported {
                    architecture: format!("{family:?}"),
                    task: other.to_string(),
                });
            }
        };
        let encoder = Encoder::load(dir, family, device)?;
        let head = Head::load(&encoder, kind)?;
        let labels = match kind {
            HeadKind::MaskedLm => Vec::new(),
            _ => encoder.labels(head.outputs()?),
        };
        let multi_label = encoder.config.get("problem_type").and_then(|v| v.as_str())
            == Some("multi_label_classification");
        let description = format!(
            "{} for {task} ({} labels) on {}",
            family.prefix(),
            labels.len(),
            device::describe(device)
        );
        Ok(EncoderPipeline {
            encoder,
            head,
            task,
            labels,
            multi_label,
            description,
        })
    }

    /// The raw head logits for one text: `(labels)`, `(tokens, labels)` or `(tokens, vocab)`.
    pub fn logits(&self, text: &str) -> Result<(Vec<u32>, Tensor), InferError> {
        let encoding = self.encoder.encode(text)?;
        let ids = encoding.get_ids().to_vec();
        let logits = self.head.forward(&self.encoder.hidden(&ids)?)?;
        Ok((ids, logits))
    }

    fn classify(&self, text: &str) -> Result<TextLabels, InferError> {
        let (_, logits) = self.logits(text)?;
        let probs = if self.multi_label {
            sigmoid(&logits)?
        } else {
            softmax_last_dim(&logits)?
        };
        Ok(TextLabels {
            text: text.to_string(),
            labels: ranked(&self.labels, &probs.to_vec1::<f32>()?, usize::MAX),
        })
    }

    fn tag(&self, text: &str) -> Result<TextEntities, InferError> {
        let encoding = self.encoder.encode(text)?;
        let logits = self
            .head
            .forward(&self.encoder.hidden(encoding.get_ids())?)?;
        let probs = softmax_last_dim(&logits)?.to_vec2::<f32>()?;
        let mut tokens = Vec::new();
        for (i, row) in probs.iter().enumerate() {
            if encoding.get_special_tokens_mask()[i] == 1 {
                continue;
            }
            let (best, score) = row
                .iter()
                .copied()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            let (start, end) = encoding.get_offsets()[i];
            tokens.push(TokenLabel {
                token: encoding.get_tokens()[i].clone(),
                label: self.labels.get(best).cloned().unwrap_or_default(),
                score,
                start,
                end,
                word: encoding.get_word_ids()[i],
            });
        }
        let entities = group_entities(text, &tokens);
        Ok(TextEntities {
            text: text.to_string(),
            tokens,
            entities,
        })
    }

    fn fill(&self, text: &str) -> Result<TextFills, InferError> {
        let tokenizer = &self.encoder.tokenizer;
        let mask_token = ["[MASK]", "<mask>"]
            .into_iter()
            .find(|t| tokenizer.token_to_id(t).is_some())
            .ok_or_else(|| InferError::Model("the tokenizer has no mask token".into()))?;
        let mask_id = tokenizer.token_to_id(mask_token).unwrap_or_default();
        let (ids, logits) = self.logits(text)?;
        let positions: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == mask_id).collect();
        if positions.is_empty() {
            return Err(InferError::InvalidInput(format!(
                "put {mask_token} where a word is missing, e.g. \"Paris is the {mask_token} of France.\""
            )));
        }
        let mut masks = Vec::new();
        for &position in &positions {
            let probs = softmax_last_dim(&logits.get(position)?)?.to_vec1::<f32>()?;
            let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut fills = Vec::new();
            for (id, score) in ranked.into_iter().take(FILL_MASK_TOP_K) {
                let id = id as u32;
                let mut filled = ids.clone();
                filled[position] = id;
                let decode = |ids: &[u32]| {
                    tokenizer
                        .decode(ids, true)
                        .map_err(|e| InferError::Tokenizer(e.to_string()))
                };
                fills.push(MaskFill {
                    token: decode(&[id])?.trim().to_string(),
                    token_id: id,
                    score,
                    sequence: decode(&filled)?,
                });
            }
            masks.push(fills);
        }
        Ok(TextFills {
            text: text.to_string(),
            masks,
        })
    }
}

impl Pipeline for EncoderPipeline {
    type Input = TextsRequest;
    type Output = Output;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<EncoderPipeline, InferError> {
        let family = *plan.loader::<Family>()?;
        ctx.emit(Event::Status(format!(
            "loading {} weights",
            family.prefix()
        )));
        EncoderPipeline::load_dir(dir, family, plan.task, device)
    }

    fn run(&mut self, input: TextsRequest, ctx: &RunContext) -> Result<Output, InferError> {
        let texts: Vec<&String> = input
            .texts
            .iter()
            .filter(|t| !t.trim().is_empty())
            .collect();
        if texts.is_empty() {
            return Err(InferError::InvalidInput("type some text first".into()));
        }
        let check = || {
            if ctx.is_cancelled() {
                Err(InferError::Cancelled)
            } else {
                Ok(())
            }
        };
        let task = self.task;
        Ok(match task {
            TEXT_CLASSIFICATION => Output::new(
                task,
                Results {
                    results: texts
                        .iter()
                        .map(|t| check().and_then(|_| self.classify(t)))
                        .collect::<Result<_, _>>()?,
                },
            ),
            TOKEN_CLASSIFICATION => Output::new(
                task,
                Results {
                    results: texts
                        .iter()
                        .map(|t| check().and_then(|_| self.tag(t)))
                        .collect::<Result<_, _>>()?,
                },
            ),
            _ => Output::new(
                task,
                Results {
                    results: texts
                        .iter()
                        .map(|t| check().and_then(|_| self.fill(t)))
                        .collect::<Result<_, _>>()?,
                },
            ),
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
/// `text-classification`.
pub const TEXT_CLASSIFICATION: Task = Task::new("text-classification");
/// `token-classification` (NER).
pub const TOKEN_CLASSIFICATION: Task = Task::new("token-classification");
/// `fill-mask`.
pub const FILL_MASK: Task = Task::new("fill-mask");

/// The encoder-head task file (text classification, token classification, fill-mask), as the
/// registry lists it. Its plans' loader is the encoder [`Family`].
pub struct EncoderTask;

/// This task in the registry's list.
pub static MODULE: EncoderTask = EncoderTask;

const HEADS: [(Task, &str); 3] = [
    (TEXT_CLASSIFICATION, "ForSequenceClassification"),
    (TOKEN_CLASSIFICATION, "ForTokenClassification"),
    (FILL_MASK, "ForMaskedLM"),
];

impl TaskModule for EncoderTask {
    fn tasks(&self) -> &'static [Task] {
        &[TEXT_CLASSIFICATION, TOKEN_CLASSIFICATION, FILL_MASK]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[("ner", TOKEN_CLASSIFICATION)]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        HEADS
            .iter()
            .find_map(|(task, head)| guess_by_head(facts, head, *task))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let head = HEADS
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, head)| *head)
            .ok_or_else(|| not_supported(facts.architecture_name(), task))?;
        let family = facts
            .model_type
            .as_deref()
            .and_then(Family::from_model_type);
        let has_head = facts.architectures.iter().any(|a| a.ends_with(head))
            || (facts.architectures.is_empty()
                && facts.pipeline_tag.as_deref() == Some(task.as_str()));
        match family {
            Some(family) if has_head && facts.has_safetensors() => Ok(Plan::new(task, family)),
            Some(_) if has_head => Err(not_supported(
                format!("{} without safetensors weights", facts.architecture_name()),
                task,
            )),
            _ => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<EncoderPipeline>
    }

    fn cli_request(&self, _task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(TextsRequest {
            texts: input.texts()?,
        }))
    }
}

impl HumanOutput for Results<TextLabels> {
    /// Each text with its five likeliest labels.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        for text in &self.results {
            writeln!(out, "{}", text.text)?;
            write_labels(out, text.labels.iter().take(5))?;
        }
        Ok(())
    }
}

impl HumanOutput for Results<TextEntities> {
    /// Each text with its entities and their character spans.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        for text in &self.results {
            writeln!(out, "{}", text.text)?;
            if text.entities.is_empty() {
                writeln!(out, "  (no entities)")?;
            }
            for entity in &text.entities {
                writeln!(
                    out,
                    "  {:<6} {:>6.2}%  {}  [{}..{}]",
                    entity.group,
                    entity.score * 100.0,
                    entity.word,
                    entity.start,
                    entity.end
                )?;
            }
        }
        Ok(())
    }
}

impl HumanOutput for Results<TextFills> {
    /// Each text with the candidates for each mask.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        for text in &self.results {
            writeln!(out, "{}", text.text)?;
            for (i, fills) in text.masks.iter().enumerate() {
                if text.masks.len() > 1 {
                    writeln!(out, " mask {}:", i + 1)?;
                }
                for fill in fills {
                    writeln!(
                        out,
                        "  {:>6.2}%  {:<12} {}",
                        fill.score * 100.0,
                        fill.token,
                        fill.sequence
                    )?;
                }
            }
        }
        Ok(())
    }
}
