//! Decoding shared by the generating tasks (text generation, translation, summarisation,
//! captions): sampling settings, why a generation stopped, streaming whole characters, speed.

use candle_core::Tensor;
use candle_transformers::generation::Sampling;
use serde::Serialize;

use crate::infer::InferError;
use crate::infer::pipeline::{Event, RunContext};
use crate::infer::run_input::RunInput;
use crate::infer::tokenizers::Detokenize;

/// Sampling and length settings.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GenerationParams {
    /// The most new tokens to generate.
    pub max_tokens: usize,
    /// 0 (or less) is greedy decoding.
    pub temperature: f64,
    /// Nucleus sampling threshold (1.0 = off).
    pub top_p: Option<f64>,
    /// Keep only the k most likely tokens (None = off).
    pub top_k: Option<usize>,
    /// Penalty for tokens already in the context (1.0 = off).
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: usize,
    /// Random seed (the same seed and settings give the same text).
    pub seed: u64,
}

impl Default for GenerationParams {
    fn default() -> GenerationParams {
        GenerationParams {
            max_tokens: 256,
            temperature: 0.7,
            top_p: Some(0.9),
            top_k: None,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 299_792_458,
        }
    }
}

impl GenerationParams {
    /// `hubble run`'s decoding flags, greedy unless `--temperature` and without a repeat
    /// penalty (transformers' defaults for translation, summarisation and captions).
    pub fn from_input(input: &RunInput) -> GenerationParams {
        GenerationParams {
            max_tokens: input.value::<usize>("max_tokens").unwrap_or(256),
            temperature: input.value::<f64>("temperature").unwrap_or(0.0),
            top_p: input.value::<f64>("top_p"),
            top_k: input.value::<usize>("top_k"),
            repeat_penalty: 1.0,
            seed: input.value::<u64>("seed").unwrap_or(299_792_458),
            ..GenerationParams::default()
        }
    }

    /// Greedy decoding without a repeat penalty (for reproducible checks).
    pub fn greedy(max_tokens: usize) -> GenerationParams {
        GenerationParams {
            max_tokens,
            temperature: 0.0,
            top_p: None,
            top_k: None,
            repeat_penalty: 1.0,
            ..GenerationParams::default()
        }
    }

    /// `logits` with the repeat penalty applied to the last `repeat_last_n` ids of `context`
    /// (unchanged when the penalty is 1).
    pub(crate) fn penalize(&self, logits: Tensor, context: &[u32]) -> Result<Tensor, InferError> {
        if self.repeat_penalty == 1.0 {
            return Ok(logits);
        }
        let start = context.len().saturating_sub(self.repeat_last_n);
        Ok(candle_transformers::utils::apply_repeat_penalty(
            &logits,
            self.repeat_penalty,
            &context[start..],
        )?)
    }

    /// Whether the next token is simply the most likely one (no temperature, no penalty): a
    /// GPU model then reads back the token alone, not the vocabulary's logits.
    pub(crate) fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 && self.repeat_penalty == 1.0
    }

    pub(crate) fn sampling(&self) -> Sampling {
        if self.temperature <= 0.0 {
            return Sampling::ArgMax;
        }
        let temperature = self.temperature;
        let top_p = self.top_p.filter(|p| *p > 0.0 && *p < 1.0);
        match (self.top_k, top_p) {
            (None, None) => Sampling::All { temperature },
            (Some(k), None) => Sampling::TopK { k, temperature },
            (None, Some(p)) => Sampling::TopP { p, temperature },
            (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence token.
    Eos,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The model's context window is full.
    ContextFull,
    /// The user pressed stop.
    Cancelled,
}

/// Tokens per second (0 for no time).
pub fn rate(tokens: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}

/// What a model step gives for the next token.
pub(crate) enum NextToken {
    /// The chosen token (a GPU model reading back the greedy token alone).
    Chosen(u32),
    /// The next-token logits, to sample from.
    Logits(Tensor),
}

/// A finished generation.
pub(crate) struct Decoded {
    /// The text of the generated ids, as streamed.
    pub text: String,
    /// The generated ids.
    pub ids: Vec<u32>,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// Generates after a prompt: `first` is the prompt pass's result, `context` the prompt's ids.
/// Each token is sampled with `params` (the repeat penalty over `context`), streamed as whole
/// characters through `ctx` (`Event::Token`), and fed back through `step(token, position)`;
/// generation stops at an id of `eos_ids`, after `params.max_tokens`, when `context` reaches
/// `context_len`, or when `ctx` is cancelled.
pub(crate) fn decode(
    first: NextToken,
    mut context: Vec<u32>,
    params: &GenerationParams,
    (eos_ids, context_len): (&[u32], usize),
    tokenizer: &impl Detokenize,
    ctx: &RunContext,
    step: &mut dyn FnMut(u32, usize) -> Result<NextToken, InferError>,
) -> Result<Decoded, InferError> {
    let mut sampler = candle_transformers::generation::LogitsProcessor::from_sampling(
        params.seed,
        params.sampling(),
    );
    let mut ids = Vec::new();
    let mut stream = TokenStream::default();
    let mut text = String::new();
    let mut stop_reason = StopReason::MaxTokens;
    let mut next_token = first;
    while ids.len() < params.max_tokens {
        if ctx.is_cancelled() {
            stop_reason = StopReason::Cancelled;
            break;
        }
        let next = match next_token {
            NextToken::Chosen(next) => next,
            NextToken::Logits(logits) => sampler.sample(&params.penalize(logits, &context)?)?,
        };
        if eos_ids.contains(&next) {
            stop_reason = StopReason::Eos;
            break;
        }
        ids.push(next);
        context.push(next);
        if let Some(piece) = stream.push(tokenizer, next)? {
            ctx.emit(Event::Token(piece.clone()));
            text.push_str(&piece);
        }
        if ids.len() >= params.max_tokens {
            break;
        }
        if context.len() >= context_len {
            stop_reason = StopReason::ContextFull;
            break;
        }
        next_token = step(next, context.len() - 1)?;
    }
    if let Some(rest) = stream.finish(tokenizer)? {
        ctx.emit(Event::Token(rest.clone()));
        text.push_str(&rest);
    }
    Ok(Decoded {
        text,
        ids,
        stop_reason,
    })
}

/// Turns ids into text pieces as soon as they decode to whole characters (byte-level BPE can
/// split a character across tokens).
#[derive(Debug, Default)]
pub(crate) struct TokenStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TokenStream {
    pub(crate) fn push(
        &mut self,
        tokenizer: &impl Detokenize,
        id: u32,
    ) -> Result<Option<String>, InferError> {
        self.ids.push(id);
        let text = tokenizer.detokenize(&self.ids)?;
        if text.len() > self.emitted
            && !text.ends_with('\u{FFFD}')
            && text.is_char_boundary(self.emitted)
        {
            let piece = text[self.emitted..].to_string();
            self.emitted = text.len();
            Ok(Some(piece))
        } else {
            Ok(None)
        }
    }

    pub(crate) fn finish(
        &mut self,
        tokenizer: &impl Detokenize,
    ) -> Result<Option<String>, InferError> {
        let text = tokenizer.detokenize(&self.ids)?;
        if text.len() > self.emitted && text.is_char_boundary(self.emitted) {
            let piece = text[self.emitted..].to_string();
            self.emitted = text.len();
            Ok(Some(piece))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_settings() {
        assert_eq!(GenerationParams::greedy(5).sampling(), Sampling::ArgMax);
        let p = GenerationParams {
            temperature: 0.8,
            top_p: Some(1.0),
            top_k: None,
            ..GenerationParams::default()
        };
        assert_eq!(p.sampling(), Sampling::All { temperature: 0.8 });
        let p = GenerationParams {
            top_k: Some(40),
            top_p: Some(0.9),
            temperature: 0.5,
            ..GenerationParams::default()
        };
        assert_eq!(
            p.sampling(),
            Sampling::TopKThenTopP {
                k: 40,
                p: 0.9,
                temperature: 0.5
            }
        );
    }
}
