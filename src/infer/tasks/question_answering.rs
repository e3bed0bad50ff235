//! Extractive question answering: BERT, DistilBERT, RoBERTa / XLM-R and DeBERTa-v2/v3 with
//! transformers' `*ForQuestionAnswering` head (`qa_outputs`: a start and an end logit per
//! token). Decoding is transformers 4.x's question-answering pipeline (5.x removed it; its
//! algorithm is the standard): the question and the context are tokenized as a pair, long
//! contexts in windows of [`MAX_SEQ_LEN`] tokens overlapping by [`DOC_STRIDE`]; in each window
//! the logits of tokens outside the context are masked, start and end are softmaxed on their
//! own (the first token's probability then zeroed), every span with start ≤ end shorter than
//! [`MAX_ANSWER_LEN`] tokens is scored start × end, and the best are mapped back to whole words
//! of the context, in characters; spans that become the same answer add up their scores.

use std::io::{self, Write};
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::Module;
use serde::Serialize;
use tokenizers::{Encoding, PostProcessor, Tokenizer, TruncationDirection};

use crate::infer::facts::ModelFacts;
use crate::infer::models::encoder::{Encoder, Family};
use crate::infer::models::linear::{Linear, linear};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::{RunInput, read_text};
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::{InferError, device};

/// `question-answering`.
pub const QUESTION_ANSWERING: Task = Task::new("question-answering");

/// Tokens per window, question and specials included (transformers' `max_seq_len`).
pub const MAX_SEQ_LEN: usize = 384;
/// Tokens two neighbouring windows share (transformers' `doc_stride`).
pub const DOC_STRIDE: usize = 128;
/// The longest answer in tokens (transformers' `max_answer_len`).
pub const MAX_ANSWER_LEN: usize = 15;
/// Answers returned unless asked otherwise.
pub const DEFAULT_TOP_K: usize = 1;

/// A question about a context.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct QuestionRequest {
    /// The question.
    pub question: String,
    /// The text the answer is taken from.
    pub context: String,
    /// How many answers (best first).
    pub top_k: usize,
}

/// One answer: a span of the context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The span's text.
    pub answer: String,
    /// start probability × end probability in its window, summed over the spans that give
    /// the same text.
    pub score: f32,
    /// Where the span starts in the context, in characters.
    pub start: usize,
    /// Where it ends (exclusive), in characters.
    pub end: usize,
}

/// The answers, best first (`{"answers": [...]}` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answers {
    /// Best first.
    pub answers: Vec<Answer>,
}

/// A loaded extractive QA model.
pub struct QuestionAnswerer {
    encoder: Encoder,
    /// `qa_outputs`: hidden → (start, end).
    head: Linear,
    /// The encoder's tokenizer without truncation (windows are cut here).
    tokenizer: Tokenizer,
    /// The same without its post-processor: the question and the context each on their own,
    /// their offsets untouched until the pair is put together (RoBERTa trims them then).
    pieces: Tokenizer,
    /// Tokens per window.
    max_length: usize,
    description: String,
}

impl QuestionAnswerer {
    /// Loads `dir` (config.json, safetensors with `qa_outputs`, tokenizer.json) as `family`.
    pub fn load_dir(
        dir: &Path,
        family: Family,
        device: &Device,
    ) -> Result<QuestionAnswerer, InferError> {
        let encoder = Encoder::load(dir, family, device)?;
        let hidden = encoder.hidden_size;
        let head = linear(hidden, 2, encoder.weights.pp("qa_outputs")).map_err(|e| {
            InferError::Model(format!(
                "no question-answering head (qa_outputs) in the weights: {e}"
            ))
        })?;
        let mut tokenizer = encoder.tokenizer.clone();
        tokenizer
            .with_truncation(None)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let mut pieces = tokenizer.clone();
        pieces.with_post_processor(None::<tokenizers::PostProcessorWrapper>);
        let description = format!(
            "{} question answering on {}",
            family.prefix(),
            device::describe(device)
        );
        Ok(QuestionAnswerer {
            encoder,
            head,
            tokenizer,
            pieces,
            max_length: max_seq_len(dir),
            description,
        })
    }

    /// The windows of a (question, context) pair, as the tokenizer's `only_second` truncation
    /// with a stride cuts them: the whole question in each, the context in pieces of what fits
    /// that overlap by [`DOC_STRIDE`] tokens, each with the pair's special tokens.
    pub fn windows(&self, question: &str, context: &str) -> Result<Vec<Encoding>, InferError> {
        let encode = |text: &str| {
            self.pieces
                .encode_char_offsets(text, false)
                .map_err(|e| InferError::Tokenizer(e.to_string()))
        };
        let question = encode(question)?;
        let mut context = encode(context)?;
        let specials = self
            .tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(true));
        let stride = DOC_STRIDE.min(self.max_length / 2);
        let room = self.max_length.saturating_sub(question.len() + specials);
        if room <= stride {
            return Err(InferError::InvalidInput(format!(
                "the question is too long: {} tokens leave no room for the context in {}-token \
                 windows",
                question.len(),
                self.max_length
            )));
        }
        context.truncate(room, stride, TruncationDirection::Right);
        let rest = context.take_overflowing();
        std::iter::once(context)
            .chain(rest)
            .map(|piece| {
                self.tokenizer
                    .post_process(question.clone(), Some(piece), true)
                    .map_err(|e| InferError::Tokenizer(e.to_string()))
            })
            .collect()
    }

    /// The start and end logits of one window.
    pub fn logits(&self, window: &Encoding) -> Result<(Vec<f32>, Vec<f32>), InferError> {
        let hidden = self
            .encoder
            .hidden_typed(window.get_ids(), Some(window.get_type_ids()))?;
        let logits: Tensor = self.head.forward(&hidden)?;
        let start = logits.narrow(1, 0, 1)?.flatten_all()?.to_vec1()?;
        let end = logits.narrow(1, 1, 1)?.flatten_all()?.to_vec1()?;
        Ok((start, end))
    }

    /// The best answers to `question` in `context`.
    pub fn answer(
        &self,
        request: &QuestionRequest,
        ctx: &RunContext,
    ) -> Result<Answers, InferError> {
        let question = request.question.trim_start();
        if question.trim().is_empty() || request.context.trim().is_empty() {
            return Err(InferError::InvalidInput(
                "question answering needs a question and a context".into(),
            ));
        }
        let top_k = request.top_k.max(1);
        // Word alignment can map several spans to one answer: transformers keeps more
        // candidates per window and adds up the scores of answers with the same text.
        let candidates = top_k * 2 + 10;
        let mut answers: Vec<Answer> = Vec::new();
        for window in self.windows(question, &request.context)? {
            if ctx.is_cancelled() {
                return Err(InferError::Cancelled);
            }
            let (start, end) = self.logits(&window)?;
            let allowed = allowed_tokens(&window, self.cls_id());
            for span in best_spans(&start, &end, &allowed, candidates, MAX_ANSWER_LEN) {
                let (from, to) = span_chars(&window, span.start, span.end);
                let text = slice_chars(&request.context, from, to);
                match answers
                    .iter_mut()
                    .find(|a| a.answer.to_lowercase() == text.to_lowercase())
                {
                    Some(same) => same.score += span.score,
                    None => answers.push(Answer {
                        answer: text,
                        score: span.score,
                        start: from,
                        end: to,
                    }),
                }
            }
        }
        answers.sort_by(|a, b| b.score.total_cmp(&a.score));
        answers.truncate(top_k);
        Ok(Answers { answers })
    }

    fn cls_id(&self) -> Option<u32> {
        ["[CLS]", "<s>"]
            .iter()
            .find_map(|t| self.encoder.tokenizer.token_to_id(t))
    }
}

/// `model_max_length` from tokenizer_config.json when below [`MAX_SEQ_LEN`] (transformers
/// takes the smaller).
fn max_seq_len(dir: &Path) -> usize {
    crate::infer::read_json(&dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|c| c.get("model_max_length")?.as_f64())
        .filter(|n| *n >= 8.0)
        .map_or(MAX_SEQ_LEN, |n| MAX_SEQ_LEN.min(n as usize))
}

/// The tokens an answer may start or end on: the context's, and the `[CLS]` token (whose
/// probability is zeroed after the softmax), as transformers' `p_mask`.
pub fn allowed_tokens(window: &Encoding, cls_id: Option<u32>) -> Vec<bool> {
    window
        .get_sequence_ids()
        .iter()
        .zip(window.get_ids())
        .map(|(sequence, id)| *sequence == Some(1) || Some(*id) == cls_id)
        .collect()
}

/// A scored span of token positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// First token.
    pub start: usize,
    /// Last token (inclusive).
    pub end: usize,
    /// start probability × end probability.
    pub score: f32,
}

/// transformers' `select_starts_ends` + `decode_spans`: masked softmax of each logit row, the
/// first token's probability zeroed, then the `top_k` best spans (start ≤ end < start +
/// `max_answer_len`) among all, of which those starting and ending on allowed tokens are kept.
pub fn best_spans(
    start: &[f32],
    end: &[f32],
    allowed: &[bool],
    top_k: usize,
    max_answer_len: usize,
) -> Vec<Span> {
    let mut p_start = masked_softmax(start, allowed);
    let mut p_end = masked_softmax(end, allowed);
    if let (Some(s), Some(e)) = (p_start.first_mut(), p_end.first_mut()) {
        *s = 0.0;
        *e = 0.0;
    }
    let n = p_start.len().min(p_end.len());
    let mut spans: Vec<Span> = Vec::with_capacity(n * max_answer_len);
    for (s, start_p) in p_start.iter().enumerate().take(n) {
        let ends = p_end
            .iter()
            .enumerate()
            .take(n.min(s + max_answer_len))
            .skip(s);
        spans.extend(ends.map(|(e, end_p)| Span {
            start: s,
            end: e,
            score: start_p * end_p,
        }));
    }
    // Every other pair scores 0 in transformers' matrix; they only matter when fewer than
    // top_k spans score above 0, where the order among zeros is arbitrary there as well.
    spans.sort_by(|a, b| b.score.total_cmp(&a.score));
    spans.truncate(top_k);
    spans.retain(|span| allowed[span.start] && allowed[span.end]);
    spans
}

/// Softmax over every position, those not `allowed` at -10000 as transformers masks them.
fn masked_softmax(logits: &[f32], allowed: &[bool]) -> Vec<f32> {
    let masked: Vec<f32> = logits
        .iter()
        .zip(allowed)
        .map(|(l, ok)| if *ok { *l } else { -10000.0 })
        .collect();
    let max = masked.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = masked.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The characters of tokens `start..=end` widened to whole words of the context (transformers'
/// `align_to_words`), falling back to the tokens' own offsets.
pub fn span_chars(window: &Encoding, start: usize, end: usize) -> (usize, usize) {
    let word_chars = |token: usize| {
        let (sequence, word) = window.token_to_word(token)?;
        window.word_to_chars(word, sequence)
    };
    match (word_chars(start), word_chars(end)) {
        (Some(first), Some(last)) => (first.0, last.1),
        _ => {
            let offsets = window.get_offsets();
            (offsets[start].0, offsets[end].1)
        }
    }
}

fn slice_chars(text: &str, from: usize, to: usize) -> String {
    text.chars()
        .skip(from)
        .take(to.saturating_sub(from))
        .collect()
}

impl Pipeline for QuestionAnswerer {
    type Input = QuestionRequest;
    type Output = Answers;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<QuestionAnswerer, InferError> {
        let family = *plan.loader::<Family>()?;
        ctx.emit(Event::Status(format!(
            "loading {} weights",
            family.prefix()
        )));
        QuestionAnswerer::load_dir(dir, family, device)
    }

    fn run(&mut self, input: QuestionRequest, ctx: &RunContext) -> Result<Answers, InferError> {
        self.answer(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The question-answering task file, as the registry lists it. Its plans' loader is the
/// encoder [`Family`].
pub struct QuestionAnsweringTask;

/// This task in the registry's list.
pub static MODULE: QuestionAnsweringTask = QuestionAnsweringTask;

impl TaskModule for QuestionAnsweringTask {
    fn tasks(&self) -> &'static [Task] {
        &[QUESTION_ANSWERING]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[("qa", QUESTION_ANSWERING)]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        guess_by_head(facts, "ForQuestionAnswering", QUESTION_ANSWERING)
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let family = facts
            .model_type
            .as_deref()
            .and_then(Family::from_model_type);
        let has_head = guess_by_head(facts, "ForQuestionAnswering", task).is_some()
            || (facts.architectures.is_empty()
                && facts.pipeline_tag.as_deref() == Some(task.as_str()));
        match family {
            Some(_) if has_head && !facts.has_safetensors() => Err(not_supported(
                format!("{} without safetensors weights", facts.architecture_name()),
                task,
            )),
            Some(_) if has_head && !facts.has_tokenizer() => Err(not_supported(
                format!("{} without tokenizer.json", facts.architecture_name()),
                task,
            )),
            Some(family) if has_head => Ok(Plan::new(task, family)),
            _ => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<QuestionAnswerer>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("context")
                .long("context")
                .value_name("TEXT")
                .conflicts_with("context_file")
                .help(
                    "Question answering: the text to find the answer in (--input is the question)",
                ),
            clap::Arg::new("context_file")
                .long("context-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("Question answering: read the context from a file (- is stdin)"),
        ]
    }

    fn cli_request(&self, _task: Task, input: &RunInput) -> Result<Request, InferError> {
        let context = match input.value::<std::path::PathBuf>("context_file") {
            Some(path) => read_text(&path)?,
            None => input.value::<String>("context").unwrap_or_default(),
        };
        if context.trim().is_empty() {
            return Err(InferError::InvalidInput(
                "question answering needs a context: pass --context TEXT or --context-file FILE"
                    .into(),
            ));
        }
        Ok(Request::new(QuestionRequest {
            question: input.text()?,
            context,
            top_k: input.value::<usize>("top_k").unwrap_or(DEFAULT_TOP_K),
        }))
    }
}

impl HumanOutput for Answers {
    /// Each answer with its score and character span.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        if self.answers.is_empty() {
            writeln!(out, "(no answer)")?;
        }
        for answer in &self.answers {
            writeln!(
                out,
                "{:>6.2}%  {}  [{}..{}]",
                answer.score * 100.0,
                answer.answer,
                answer.start,
                answer.end
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_respect_order_length_and_the_mask() {
        // Token 0 stands for [CLS] (allowed, zeroed), 1 is the question, 2..6 the context.
        let allowed = [true, false, true, true, true, true];
        let start = [9.0, 9.0, 0.0, 4.0, 0.0, 0.0];
        let end = [9.0, 9.0, 0.0, 0.0, 0.0, 5.0];
        let spans = best_spans(&start, &end, &allowed, 3, 15);
        assert_eq!((spans[0].start, spans[0].end), (3, 5));
        assert!(spans.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(spans.iter().all(|s| s.start <= s.end && allowed[s.start]));
        // The span may not be longer than max_answer_len tokens.
        let spans = best_spans(&start, &end, &allowed, 1, 2);
        assert!(spans[0].end - spans[0].start < 2);
    }

    #[test]
    fn masked_tokens_get_no_probability() {
        let p = masked_softmax(&[1.0, 50.0, 1.0], &[true, false, true]);
        assert!(p[1] < 1e-30);
        assert!((p[0] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn characters_not_bytes() {
        assert_eq!(slice_chars("Zürich is big", 0, 6), "Zürich");
    }
}
