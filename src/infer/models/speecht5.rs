//! SpeechT5 text-to-speech (transformers' `SpeechT5ForTextToSpeech`, microsoft/speecht5_tts):
//! the text encoder (token embeddings plus scaled sinusoidal positions, a LayerNorm, post-norm
//! transformer layers whose attention adds a learned relative-position term), and the speech
//! decoder run one step at a time as `generate_speech` runs it: the prenet (ReLU layers with
//! the dropout SpeechT5 keeps on when speaking, scaled positions, the L2-normalised speaker
//! embedding), post-norm layers with self-attention over a key/value cache and cross-attention
//! over keys/values computed once, then `reduction_factor` mel frames per step and a stop
//! probability; the convolutional postnet (batch-normed, tanh) refines the whole spectrogram.
//! The waveform comes from a HiFi-GAN vocoder ([`super::hifigan`]).

use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Activation, Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde_json::Value;

use super::attention::{MultiHeadAttention, append};
use super::hifigan::{HifiGan, HifiGanSpec};
use super::linear::{Linear, linear};

/// The shape of a SpeechT5 checkpoint, from its config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechT5Spec {
    vocab_size: usize,
    hidden: usize,
    encoder_layers: usize,
    encoder_heads: usize,
    encoder_ffn: usize,
    decoder_layers: usize,
    decoder_heads: usize,
    decoder_ffn: usize,
    eps: f64,
    max_relative: usize,
    prenet_layers: usize,
    prenet_units: usize,
    speaker_dim: usize,
    postnet_layers: usize,
    postnet_units: usize,
    postnet_kernel: usize,
    /// Mel bins per frame.
    pub mel_bins: usize,
    /// Frames made per decoder step.
    pub reduction: usize,
    /// The prenet's dropout probability, applied when speaking too (0.5 in SpeechT5).
    pub prenet_dropout: f64,
    /// The longest text, in tokens.
    pub max_text_positions: usize,
    /// The longest spectrogram, in decoder steps.
    pub max_speech_positions: usize,
}

impl SpeechT5Spec {
    /// Reads a `SpeechT5Config` (microsoft/speecht5_tts's values where a key is missing).
    pub fn from_config(config: &Value) -> std::result::Result<SpeechT5Spec, String> {
        let size = |key: &str, default: usize| {
            config
                .get(key)
                .and_then(Value::as_u64)
                .map_or(default, |v| v as usize)
        };
        let activation = config
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        if activation != "gelu" {
            return Err(format!(
                "SpeechT5 with hidden_act {activation:?} is not supported yet"
            ));
        }
        let spec = SpeechT5Spec {
            vocab_size: size("vocab_size", 81),
            hidden: size("hidden_size", 768),
            encoder_layers: size("encoder_layers", 12),
            encoder_heads: size("encoder_attention_heads", 12),
            encoder_ffn: size("encoder_ffn_dim", 3072),
            decoder_layers: size("decoder_layers", 6),
            decoder_heads: size("decoder_attention_heads", 12),
            decoder_ffn: size("decoder_ffn_dim", 3072),
            eps: config
                .get("layer_norm_eps")
                .and_then(Value::as_f64)
                .unwrap_or(1e-5),
            max_relative: size("encoder_max_relative_position", 160),
            prenet_layers: size("speech_decoder_prenet_layers", 2),
            prenet_units: size("speech_decoder_prenet_units", 256),
            speaker_dim: size("speaker_embedding_dim", 512),
            postnet_layers: size("speech_decoder_postnet_layers", 5),
            postnet_units: size("speech_decoder_postnet_units", 256),
            postnet_kernel: size("speech_decoder_postnet_kernel", 5),
            mel_bins: size("num_mel_bins", 80),
            reduction: size("reduction_factor", 2),
            prenet_dropout: config
                .get("speech_decoder_prenet_dropout")
                .and_then(Value::as_f64)
                .unwrap_or(0.5),
            max_text_positions: size("max_text_positions", 450),
            max_speech_positions: size("max_speech_positions", 4000),
        };
        for (heads, what) in [
            (spec.encoder_heads, "encoder"),
            (spec.decoder_heads, "decoder"),
        ] {
            if heads == 0 || !spec.hidden.is_multiple_of(heads) {
                return Err(format!(
                    "hidden_size {} doesn't split into the {what}'s {heads} heads",
                    spec.hidden
                ));
            }
        }
        if spec.reduction == 0 || spec.mel_bins == 0 || spec.postnet_layers < 2 {
            return Err("reduction_factor, num_mel_bins or the postnet is empty".into());
        }
        if !(0.0..1.0).contains(&spec.prenet_dropout) {
            return Err(format!(
                "speech_decoder_prenet_dropout {} is not below 1",
                spec.prenet_dropout
            ));
        }
        Ok(spec)
    }

    /// The speaker embedding's length.
    pub fn speaker_dim(&self) -> usize {
        self.speaker_dim
    }
}

/// When `generate_speech` stops: once the stop probabilities of a step sum to `threshold`
/// (after `min_ratio` × text tokens ÷ reduction steps), and at the latest after `max_ratio` ×
/// text tokens ÷ reduction steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRule {
    /// Stop-probability sum that ends the speech.
    pub threshold: f64,
    /// Fewest steps, per text token and reduction.
    pub min_ratio: f64,
    /// Most steps, per text token and reduction.
    pub max_ratio: f64,
}

impl Default for StopRule {
    /// transformers' defaults: 0.5, 0 and 20.
    fn default() -> StopRule {
        StopRule {
            threshold: 0.5,
            min_ratio: 0.0,
            max_ratio: 20.0,
        }
    }
}

/// The scaled sinusoidal positions `pe[position]` (`dim` wide), in f32 as PyTorch computes them.
fn sinusoid(position: usize, dim: usize) -> Vec<f32> {
    let step = -(10000f64.ln() / dim as f64) as f32;
    let mut pe = vec![0f32; dim];
    for i in (0..dim).step_by(2) {
        let angle = position as f32 * (i as f32 * step).exp();
        pe[i] = angle.sin();
        if i + 1 < dim {
            pe[i + 1] = angle.cos();
        }
    }
    pe
}

/// SpeechT5's relative-position scores `(1, heads, T, T)`: each scaled query `(1, heads, T, d)`
/// times the relative-position embeddings `(T, T, d)` of its row.
fn relative_scores(queries: &Tensor, relative: &Tensor) -> Result<Tensor> {
    // (T, heads, d) × (T, d, T) → (T, heads, T) → (heads, T, T).
    queries
        .i(0)?
        .transpose(0, 1)?
        .contiguous()?
        .matmul(&relative.transpose(1, 2)?.contiguous()?)?
        .transpose(0, 1)?
        .unsqueeze(0)
}

struct FeedForward {
    up: Linear,
    down: Linear,
}

impl FeedForward {
    fn new(hidden: usize, inner: usize, vb: VarBuilder) -> Result<FeedForward> {
        Ok(FeedForward {
            up: linear(hidden, inner, vb.pp("intermediate_dense"))?,
            down: linear(inner, hidden, vb.pp("output_dense"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.down
            .forward(&self.up.forward_activated(xs, Activation::Gelu)?)
    }
}

struct EncoderLayer {
    attention: MultiHeadAttention,
    norm: LayerNorm,
    feed_forward: FeedForward,
    final_norm: LayerNorm,
}

struct DecoderLayer {
    self_attention: MultiHeadAttention,
    self_norm: LayerNorm,
    cross_attention: MultiHeadAttention,
    cross_norm: LayerNorm,
    feed_forward: FeedForward,
    final_norm: LayerNorm,
}

struct Postnet {
    feat_out: Linear,
    prob_out: Linear,
    /// Each convolution's weight `(out, in, kernel)` with its batch norm folded into a scale
    /// and shift per output channel.
    convs: Vec<(candle_nn::Conv1d, Tensor, Tensor)>,
}

/// A loaded SpeechT5 text-to-speech model.
pub struct SpeechT5 {
    embed: Embedding,
    encoder_alpha: f32,
    encoder_norm: LayerNorm,
    relative: Embedding,
    encoder: Vec<EncoderLayer>,
    prenet: Vec<Linear>,
    prenet_final: Linear,
    decoder_alpha: f32,
    speaker_layer: Linear,
    decoder: Vec<DecoderLayer>,
    postnet: Postnet,
    spec: SpeechT5Spec,
    device: Device,
}

fn scalar(vb: &VarBuilder, name: &str) -> Result<f32> {
    vb.get((), name)?.to_scalar::<f32>()
}

impl SpeechT5 {
    /// Loads `vb` (transformers' weight names) for `spec` on `device`.
    pub fn new(vb: VarBuilder, spec: &SpeechT5Spec, device: &Device) -> Result<SpeechT5> {
        let hidden = spec.hidden;
        let eps = spec.eps;
        let encoder = vb.pp("speecht5.encoder");
        let wrapped = encoder.pp("wrapped_encoder");
        let decoder = vb.pp("speecht5.decoder");
        let prenet = decoder.pp("prenet");
        let encoder_layers = (0..spec.encoder_layers)
            .map(|i| {
                let vb = wrapped.pp("layers").pp(i);
                Ok(EncoderLayer {
                    attention: MultiHeadAttention::new(
                        hidden,
                        spec.encoder_heads,
                        true,
                        vb.pp("attention"),
                    )?,
                    norm: layer_norm(hidden, eps, vb.pp("layer_norm"))?,
                    feed_forward: FeedForward::new(
                        hidden,
                        spec.encoder_ffn,
                        vb.pp("feed_forward"),
                    )?,
                    final_norm: layer_norm(hidden, eps, vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<Result<_>>()?;
        let decoder_layers = (0..spec.decoder_layers)
            .map(|i| {
                let vb = decoder.pp("wrapped_decoder.layers").pp(i);
                Ok(DecoderLayer {
                    self_attention: MultiHeadAttention::new(
                        hidden,
                        spec.decoder_heads,
                        true,
                        vb.pp("self_attn"),
                    )?,
                    self_norm: layer_norm(hidden, eps, vb.pp("self_attn_layer_norm"))?,
                    cross_attention: MultiHeadAttention::new(
                        hidden,
                        spec.decoder_heads,
                        true,
                        vb.pp("encoder_attn"),
                    )?,
                    cross_norm: layer_norm(hidden, eps, vb.pp("encoder_attn_layer_norm"))?,
                    feed_forward: FeedForward::new(
                        hidden,
                        spec.decoder_ffn,
                        vb.pp("feed_forward"),
                    )?,
                    final_norm: layer_norm(hidden, eps, vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<Result<_>>()?;
        let prenet_layers = (0..spec.prenet_layers)
            .map(|i| {
                let inputs = if i == 0 {
                    spec.mel_bins
                } else {
                    spec.prenet_units
                };
                linear(inputs, spec.prenet_units, prenet.pp("layers").pp(i))
            })
            .collect::<Result<_>>()?;
        let prenet_out = if spec.prenet_layers == 0 {
            spec.mel_bins
        } else {
            spec.prenet_units
        };
        Ok(SpeechT5 {
            embed: embedding(spec.vocab_size, hidden, encoder.pp("prenet.embed_tokens"))?,
            encoder_alpha: scalar(&encoder.pp("prenet.encode_positions"), "alpha")?,
            encoder_norm: layer_norm(hidden, eps, wrapped.pp("layer_norm"))?,
            relative: embedding(
                2 * spec.max_relative,
                hidden / spec.encoder_heads,
                wrapped.pp("embed_positions.pe_k"),
            )?,
            encoder: encoder_layers,
            prenet: prenet_layers,
            prenet_final: linear(prenet_out, hidden, prenet.pp("final_layer"))?,
            decoder_alpha: scalar(&prenet.pp("encode_positions"), "alpha")?,
            speaker_layer: linear(
                spec.speaker_dim + hidden,
                hidden,
                prenet.pp("speaker_embeds_layer"),
            )?,
            decoder: decoder_layers,
            postnet: Postnet::new(spec, vb.pp("speech_decoder_postnet"))?,
            spec: spec.clone(),
            device: device.clone(),
        })
    }

    /// The model's shape.
    pub fn spec(&self) -> &SpeechT5Spec {
        &self.spec
    }

    /// The encoder's hidden states `(1, T, hidden)` for token ids.
    fn encode(&self, ids: &[u32]) -> Result<Tensor> {
        let tokens = ids.len();
        let hidden = self.spec.hidden;
        let positions: Vec<f32> = (0..tokens).flat_map(|p| sinusoid(p, hidden)).collect();
        let positions = Tensor::from_vec(positions, (tokens, hidden), &self.device)?;
        let ids = Tensor::new(ids, &self.device)?;
        let xs = (self.embed.forward(&ids)? + (positions * f64::from(self.encoder_alpha))?)?;
        let mut xs = self.encoder_norm.forward(&xs.unsqueeze(0)?)?;
        // pe_k[clamp(i − j, −max, max − 1) + max] for every query i and key j.
        let max = self.spec.max_relative as i64;
        let offsets: Vec<u32> = (0..tokens as i64)
            .flat_map(|i| {
                (0..tokens as i64).map(move |j| ((i - j).clamp(-max, max - 1) + max) as u32)
            })
            .collect();
        let relative =
            self.relative
                .forward(&Tensor::from_vec(offsets, (tokens, tokens), &self.device)?)?;
        for layer in &self.encoder {
            let queries = layer.attention.queries(&xs)?;
            let (keys, values) = layer.attention.keys_values(&xs)?;
            let scores = relative_scores(&queries, &relative)?;
            let attended = layer
                .attention
                .attend(&queries, &keys, &values, Some(&scores))?;
            xs = layer.norm.forward(&(xs + attended)?)?;
            xs = layer
                .final_norm
                .forward(&(&xs + layer.feed_forward.forward(&xs)?)?)?;
        }
        Ok(xs)
    }

    /// The prenet's output `(1, hidden)` for the last frame `(1, mel)` at `position`, with
    /// `dropout(n)` giving each ReLU layer's `n` multipliers (0 or 1 / (1 − p)).
    fn prenet(
        &self,
        frame: &Tensor,
        position: usize,
        speaker: &Tensor,
        dropout: &mut dyn FnMut(usize) -> Vec<f32>,
    ) -> Result<Tensor> {
        let mut xs = frame.clone();
        for layer in &self.prenet {
            xs = layer.forward(&xs)?.relu()?;
            if self.spec.prenet_dropout > 0.0 {
                let scale = dropout(self.spec.prenet_units);
                let scale = Tensor::from_vec(scale, (1, self.spec.prenet_units), &self.device)?;
                xs = (xs * scale)?;
            }
        }
        let hidden = self.spec.hidden;
        let pe = Tensor::from_vec(sinusoid(position, hidden), (1, hidden), &self.device)?;
        let xs = (self.prenet_final.forward(&xs)? + (pe * f64::from(self.decoder_alpha))?)?;
        self.speaker_layer
            .forward(&Tensor::cat(&[&xs, speaker], 1)?)?
            .relu()
    }

    /// The spectrogram `(frames, mel)` for token ids and a speaker embedding, as
    /// `generate_speech` makes it; `dropout(n)` gives the prenet's dropout multipliers, and
    /// `step(frames)` is called after every step: `false` stops and gives `None`.
    pub fn spectrogram(
        &self,
        ids: &[u32],
        speaker: &[f32],
        stop: &StopRule,
        dropout: &mut dyn FnMut(usize) -> Vec<f32>,
        step: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<Tensor>> {
        let spec = &self.spec;
        if ids.is_empty() {
            return Err(candle_core::Error::Msg("no tokens to speak".into()));
        }
        if speaker.len() != spec.speaker_dim {
            return Err(candle_core::Error::Msg(format!(
                "the speaker embedding has {} values; this model takes {}",
                speaker.len(),
                spec.speaker_dim
            )));
        }
        let norm = speaker.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        let speaker: Vec<f32> = speaker.iter().map(|v| v / norm).collect();
        let speaker = Tensor::from_vec(speaker, (1, spec.speaker_dim), &self.device)?;
        let encoded = self.encode(ids)?;
        let cross: Vec<(Tensor, Tensor)> = self
            .decoder
            .iter()
            .map(|layer| layer.cross_attention.keys_values(&encoded))
            .collect::<Result<_>>()?;
        let steps = |ratio: f64| (ids.len() as f64 * ratio / spec.reduction as f64) as usize;
        let (min_steps, max_steps) = (steps(stop.min_ratio), steps(stop.max_ratio));
        let mut cache: Vec<Option<(Tensor, Tensor)>> = vec![None; self.decoder.len()];
        let mut frame = Tensor::zeros((1, spec.mel_bins), DType::F32, &self.device)?;
        let mut frames = Vec::new();
        let mut index = 0;
        loop {
            index += 1;
            let mut xs = self
                .prenet(&frame, index - 1, &speaker, dropout)?
                .unsqueeze(0)?;
            for ((layer, cached), (cross_keys, cross_values)) in
                self.decoder.iter().zip(&mut cache).zip(&cross)
            {
                let (keys, values) = layer.self_attention.keys_values(&xs)?;
                let (keys, values) = append(cached.take(), keys, values)?;
                let attended = layer.self_attention.forward(&xs, &keys, &values)?;
                *cached = Some((keys, values));
                xs = layer.self_norm.forward(&(xs + attended)?)?;
                let attended = layer
                    .cross_attention
                    .forward(&xs, cross_keys, cross_values)?;
                xs = layer.cross_norm.forward(&(xs + attended)?)?;
                xs = layer
                    .final_norm
                    .forward(&(&xs + layer.feed_forward.forward(&xs)?)?)?;
            }
            let spectrum = self
                .postnet
                .feat_out
                .forward(&xs)?
                .reshape((spec.reduction, spec.mel_bins))?;
            frame = spectrum.i(spec.reduction - 1..)?;
            frames.push(spectrum);
            if !step(frames.len() * spec.reduction) {
                return Ok(None);
            }
            let stop_probability: f32 =
                candle_nn::ops::sigmoid(&self.postnet.prob_out.forward(&xs)?)?
                    .sum_all()?
                    .to_scalar()?;
            let longest = index >= max_steps || index >= spec.max_speech_positions;
            if index >= min_steps && (longest || f64::from(stop_probability) >= stop.threshold) {
                break;
            }
        }
        self.postnet.refine(&Tensor::cat(&frames, 0)?).map(Some)
    }
}

impl Postnet {
    fn new(spec: &SpeechT5Spec, vb: VarBuilder) -> Result<Postnet> {
        let convs = (0..spec.postnet_layers)
            .map(|i| {
                let inputs = if i == 0 {
                    spec.mel_bins
                } else {
                    spec.postnet_units
                };
                let outputs = if i + 1 == spec.postnet_layers {
                    spec.mel_bins
                } else {
                    spec.postnet_units
                };
                let vb = vb.pp("layers").pp(i);
                let kernel = spec.postnet_kernel;
                let conv = candle_nn::Conv1d::new(
                    vb.get((outputs, inputs, kernel), "conv.weight")?,
                    None,
                    candle_nn::Conv1dConfig {
                        padding: (kernel - 1) / 2,
                        ..Default::default()
                    },
                );
                let norm = vb.pp("batch_norm");
                let scale = (norm.get(outputs, "weight")?
                    / (norm.get(outputs, "running_var")? + 1e-5)?.sqrt()?)?;
                let shift =
                    (norm.get(outputs, "bias")? - (norm.get(outputs, "running_mean")? * &scale)?)?;
                Ok((conv, scale.unsqueeze(1)?, shift.unsqueeze(1)?))
            })
            .collect::<Result<_>>()?;
        Ok(Postnet {
            feat_out: linear(
                spec.hidden,
                spec.mel_bins * spec.reduction,
                vb.pp("feat_out"),
            )?,
            prob_out: linear(spec.hidden, spec.reduction, vb.pp("prob_out"))?,
            convs,
        })
    }

    /// `(frames, mel)` plus the convolution stack's correction.
    fn refine(&self, spectrogram: &Tensor) -> Result<Tensor> {
        let mut xs = spectrogram.t()?.unsqueeze(0)?;
        let last = self.convs.len() - 1;
        for (i, (conv, scale, shift)) in self.convs.iter().enumerate() {
            xs = conv
                .forward(&xs)?
                .broadcast_mul(scale)?
                .broadcast_add(shift)?;
            if i < last {
                xs = xs.tanh()?;
            }
        }
        spectrogram + xs.squeeze(0)?.t()?
    }
}

/// SpeechT5's vocoder (`SpeechT5HifiGan`, microsoft/speecht5_hifigan): the spectrogram,
/// normalised by the checkpoint's mean and scale when its config says `normalize_before`,
/// through a HiFi-GAN.
pub struct SpeechT5Vocoder {
    generator: HifiGan,
    normalization: Option<(Tensor, Tensor)>,
    mel_bins: usize,
    /// Output samples per second.
    pub sampling_rate: u32,
}

impl SpeechT5Vocoder {
    /// Loads `vb` for a `SpeechT5HifiGanConfig`.
    pub fn new(config: &Value, vb: VarBuilder) -> Result<SpeechT5Vocoder> {
        let mel_bins = config
            .get("model_in_dim")
            .and_then(Value::as_u64)
            .map_or(80, |v| v as usize);
        let spec = HifiGanSpec::from_config(config, mel_bins).map_err(candle_core::Error::Msg)?;
        let normalize = config
            .get("normalize_before")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        Ok(SpeechT5Vocoder {
            generator: HifiGan::new(&spec, vb.clone())?,
            normalization: normalize
                .then(|| {
                    Ok::<_, candle_core::Error>((
                        vb.get(mel_bins, "mean")?,
                        vb.get(mel_bins, "scale")?,
                    ))
                })
                .transpose()?,
            mel_bins,
            sampling_rate: config
                .get("sampling_rate")
                .and_then(Value::as_u64)
                .map_or(16_000, |v| v as u32),
        })
    }

    /// Mel bins per frame it reads.
    pub fn mel_bins(&self) -> usize {
        self.mel_bins
    }

    /// The waveform of a spectrogram `(frames, mel)`.
    pub fn waveform(&self, spectrogram: &Tensor) -> Result<Vec<f32>> {
        let mut xs = spectrogram.clone();
        if let Some((mean, scale)) = &self.normalization {
            xs = xs.broadcast_sub(mean)?.broadcast_div(scale)?;
        }
        self.generator
            .forward(&xs.t()?.unsqueeze(0)?)?
            .flatten_all()?
            .to_vec1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_match_the_sinusoid_formula() {
        let pe = sinusoid(3, 6);
        for (i, v) in pe.iter().enumerate() {
            let rate = (-(10000f64.ln()) * (i - i % 2) as f64 / 6.0).exp();
            let expected = if i % 2 == 0 {
                (3.0 * rate).sin()
            } else {
                (3.0 * rate).cos()
            };
            assert!(
                (f64::from(*v) - expected).abs() < 1e-6,
                "{i}: {v} {expected}"
            );
        }
    }

    #[test]
    fn configs_get_speecht5_defaults_and_bad_shapes_are_refused() {
        let spec = SpeechT5Spec::from_config(&serde_json::json!({})).unwrap();
        assert_eq!((spec.hidden, spec.mel_bins, spec.reduction), (768, 80, 2));
        assert_eq!(spec.speaker_dim(), 512);
        let odd = serde_json::json!({"hidden_size": 10, "encoder_attention_heads": 4});
        assert!(
            SpeechT5Spec::from_config(&odd)
                .unwrap_err()
                .contains("heads")
        );
        let relu = serde_json::json!({"hidden_act": "relu"});
        assert!(SpeechT5Spec::from_config(&relu).is_err());
    }
}
