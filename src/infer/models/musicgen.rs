//! MusicGen (transformers' `MusicgenForConditionalGeneration`: facebook/musicgen-small, -medium
//! and fine-tunes in their layout): the T5 text encoder (candle-transformers') and its
//! projection, the decoder — per step the sum of one embedding per codebook plus sinusoidal
//! positions, pre-norm layers with self-attention over a key/value cache and cross-attention
//! over the text, one head per codebook — run as `generate` runs it, with the delay pattern
//! (codebook k starts k steps late) and classifier-free guidance against a null text (a row
//! without cross-attention, as transformers' masking leaves it), and
//! EnCodec ([`super::encodec`]) turning the codes into sound. Mono models.

use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Activation, Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use candle_transformers::models::t5;
use serde_json::Value;

use super::attention::{MultiHeadAttention, append};
use super::encodec::{EncodecDecoder, EncodecSpec};
use super::linear::{Linear, linear, linear_no_bias};

/// The decoder's shape, from config.json's `decoder`.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicgenSpec {
    hidden: usize,
    layers: usize,
    heads: usize,
    ffn: usize,
    /// Codebooks (EnCodec quantizers) per frame.
    pub codebooks: usize,
    /// Codes per codebook.
    pub codes: usize,
    /// The padding code of the delay pattern (and the first step's input).
    pub pad: u32,
}

impl MusicgenSpec {
    /// Reads a `MusicgenDecoderConfig` (musicgen-small's values where a key is missing).
    pub fn from_config(config: &Value) -> std::result::Result<MusicgenSpec, String> {
        let size = |key: &str, default: usize| {
            config
                .get(key)
                .and_then(Value::as_u64)
                .map_or(default, |v| v as usize)
        };
        if size("audio_channels", 1) != 1 {
            return Err("stereo MusicGen is not supported yet".into());
        }
        let activation = config
            .get("activation_function")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        if activation != "gelu" {
            return Err(format!(
                "MusicGen with activation {activation:?} is not supported yet"
            ));
        }
        if config.get("scale_embedding").and_then(Value::as_bool) == Some(true) {
            return Err("MusicGen with scaled embeddings is not supported yet".into());
        }
        let codes = size("vocab_size", 2048);
        let spec = MusicgenSpec {
            hidden: size("hidden_size", 1024),
            layers: size("num_hidden_layers", 24),
            heads: size("num_attention_heads", 16),
            ffn: size("ffn_dim", 4096),
            codebooks: size("num_codebooks", 4),
            codes,
            pad: size("pad_token_id", codes) as u32,
        };
        if spec.heads == 0 || !spec.hidden.is_multiple_of(spec.heads) || spec.hidden < 4 {
            return Err(format!(
                "hidden_size {} doesn't split into {} heads",
                spec.hidden, spec.heads
            ));
        }
        if spec.codebooks == 0 {
            return Err("MusicGen without codebooks".into());
        }
        Ok(spec)
    }
}

/// The sinusoidal position `position` (`dim` wide: cosines, then sines), in f32 as PyTorch
/// computes it.
fn sinusoid(position: usize, dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let step = (10000f64.ln() / (half as f64 - 1.0)) as f32;
    let angles: Vec<f32> = (0..half)
        .map(|i| position as f32 * (i as f32 * -step).exp())
        .collect();
    let mut pe: Vec<f32> = angles
        .iter()
        .map(|a| a.cos())
        .chain(angles.iter().map(|a| a.sin()))
        .collect();
    pe.resize(dim, 0.0);
    pe
}

struct Layer {
    self_norm: LayerNorm,
    self_attention: MultiHeadAttention,
    cross_norm: LayerNorm,
    cross_attention: MultiHeadAttention,
    final_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// A loaded MusicGen model with its text encoder and EnCodec.
pub struct Musicgen {
    text_encoder: t5::T5EncoderModel,
    projection: Option<Linear>,
    embeddings: Vec<Embedding>,
    layers: Vec<Layer>,
    norm: LayerNorm,
    heads: Vec<Linear>,
    audio: EncodecDecoder,
    audio_spec: EncodecSpec,
    spec: MusicgenSpec,
    device: Device,
}

impl Musicgen {
    /// Loads `vb` (transformers' weight names) for a `MusicgenConfig` on `device`.
    pub fn new(config: &Value, vb: VarBuilder, device: &Device) -> Result<Musicgen> {
        let part = |key: &str| {
            config
                .get(key)
                .ok_or_else(|| candle_core::Error::Msg(format!("config.json has no {key}")))
        };
        let spec = MusicgenSpec::from_config(part("decoder")?).map_err(candle_core::Error::Msg)?;
        let audio_spec =
            EncodecSpec::from_config(part("audio_encoder")?).map_err(candle_core::Error::Msg)?;
        if audio_spec.codebook_size() != spec.codes {
            return Err(candle_core::Error::Msg(format!(
                "the decoder makes {} codes per codebook; EnCodec has {}",
                spec.codes,
                audio_spec.codebook_size()
            )));
        }
        let t5_config: t5::Config = serde_json::from_value(part("text_encoder")?.clone())
            .map_err(|e| candle_core::Error::Msg(format!("text_encoder: {e}")))?;
        let text_width = t5_config.d_model;
        let text_encoder = t5::T5EncoderModel::load(vb.pp("text_encoder"), &t5_config)?;
        let projection = vb
            .contains_tensor("enc_to_dec_proj.weight")
            .then(|| linear(text_width, spec.hidden, vb.pp("enc_to_dec_proj")))
            .transpose()?;
        if projection.is_none() && text_width != spec.hidden {
            return Err(candle_core::Error::Msg(
                "the text encoder's width differs from the decoder's and there is no projection"
                    .into(),
            ));
        }
        let decoder = vb.pp("decoder.model.decoder");
        let hidden = spec.hidden;
        let layers = (0..spec.layers)
            .map(|i| {
                let vb = decoder.pp("layers").pp(i);
                Ok(Layer {
                    self_norm: layer_norm(hidden, 1e-5, vb.pp("self_attn_layer_norm"))?,
                    self_attention: MultiHeadAttention::new(
                        hidden,
                        spec.heads,
                        false,
                        vb.pp("self_attn"),
                    )?,
                    cross_norm: layer_norm(hidden, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
                    cross_attention: MultiHeadAttention::new(
                        hidden,
                        spec.heads,
                        false,
                        vb.pp("encoder_attn"),
                    )?,
                    final_norm: layer_norm(hidden, 1e-5, vb.pp("final_layer_norm"))?,
                    fc1: linear_no_bias(hidden, spec.ffn, vb.pp("fc1"))?,
                    fc2: linear_no_bias(spec.ffn, hidden, vb.pp("fc2"))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Musicgen {
            text_encoder,
            projection,
            embeddings: (0..spec.codebooks)
                .map(|k| embedding(spec.codes + 1, hidden, decoder.pp("embed_tokens").pp(k)))
                .collect::<Result<_>>()?,
            layers,
            norm: layer_norm(hidden, 1e-5, decoder.pp("layer_norm"))?,
            heads: (0..spec.codebooks)
                .map(|k| linear_no_bias(hidden, spec.codes, vb.pp("decoder.lm_heads").pp(k)))
                .collect::<Result<_>>()?,
            audio: EncodecDecoder::new(
                &audio_spec,
                spec.codebooks,
                vb.pp("audio_encoder"),
                device,
            )?,
            audio_spec,
            spec,
            device: device.clone(),
        })
    }

    /// The decoder's shape.
    pub fn spec(&self) -> &MusicgenSpec {
        &self.spec
    }

    /// Samples per second of the sound.
    pub fn sampling_rate(&self) -> u32 {
        self.audio_spec.sampling_rate
    }

    /// Code frames per second of sound.
    pub fn frame_rate(&self) -> f64 {
        f64::from(self.audio_spec.sampling_rate) / self.audio_spec.hop() as f64
    }

    /// The delayed codes (`codebooks` rows of `steps + 1` columns, the delay pattern's padding
    /// included) for text token ids: `steps` decoder steps with classifier-free guidance at
    /// `guidance` (1 or less: the text alone). `pick(codebook, logits)` chooses each code from
    /// the guided logits; `step(done)` is called after every step: `false` stops and gives
    /// `None`.
    pub fn generate(
        &mut self,
        ids: &[u32],
        steps: usize,
        guidance: f64,
        pick: &mut dyn FnMut(usize, &Tensor) -> Result<u32>,
        step: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<Vec<Vec<u32>>>> {
        let spec = self.spec.clone();
        if ids.is_empty() {
            return Err(candle_core::Error::Msg("no text tokens".into()));
        }
        let text = self
            .text_encoder
            .forward(&Tensor::new(ids, &self.device)?.unsqueeze(0)?)?;
        let text = match &self.projection {
            Some(projection) => projection.forward(&text)?,
            None => text,
        };
        // Guidance runs a second, null row whose text is fully masked: transformers' attention
        // then gives that row no cross-attention output at all.
        let guided = guidance > 1.0;
        let batch = if guided { 2 } else { 1 };
        let cross: Vec<(Tensor, Tensor)> = self
            .layers
            .iter()
            .map(|layer| layer.cross_attention.keys_values(&text))
            .collect::<Result<_>>()?;
        let mut cache: Vec<Option<(Tensor, Tensor)>> = vec![None; self.layers.len()];
        let columns = steps + 1;
        let books = spec.codebooks;
        let mut codes = vec![vec![spec.pad; columns]; books];
        for position in 0..steps {
            let column: Vec<u32> = codes.iter().map(|row| row[position]).collect();
            let mut xs = Tensor::from_vec(
                sinusoid(position, spec.hidden),
                (1, 1, spec.hidden),
                &self.device,
            )?;
            for (embedding, &code) in self.embeddings.iter().zip(&column) {
                xs = (xs + embedding.forward(&Tensor::new(&[[code]], &self.device)?)?)?;
            }
            let mut xs = xs.repeat((batch, 1, 1))?;
            for ((layer, cached), (cross_keys, cross_values)) in
                self.layers.iter().zip(&mut cache).zip(&cross)
            {
                let normed = layer.self_norm.forward(&xs)?;
                let (keys, values) = layer.self_attention.keys_values(&normed)?;
                let (keys, values) = append(cached.take(), keys, values)?;
                xs = (xs + layer.self_attention.forward(&normed, &keys, &values)?)?;
                *cached = Some((keys, values));
                let normed = layer.cross_norm.forward(&xs)?;
                let attended =
                    layer
                        .cross_attention
                        .forward(&normed.i(..1)?, cross_keys, cross_values)?;
                let attended = if guided {
                    Tensor::cat(&[&attended, &attended.zeros_like()?], 0)?
                } else {
                    attended
                };
                xs = (&xs + attended)?;
                let normed = layer.final_norm.forward(&xs)?;
                xs = (&xs
                    + layer
                        .fc2
                        .forward(&layer.fc1.forward_activated(&normed, Activation::Gelu)?)?)?;
            }
            let last = self.norm.forward(&xs)?;
            let next = position + 1;
            for (k, head) in self.heads.iter().enumerate() {
                let logits = head.forward(&last)?.i((.., 0))?;
                let logits = if guided {
                    let (text_logits, null) = (logits.i(0)?, logits.i(1)?);
                    (&null + ((text_logits - &null)? * guidance)?)?
                } else {
                    logits.i(0)?
                };
                let code = pick(k, &logits)?;
                // The delay pattern: codebook k waits k steps and stops k steps early.
                let delayed = next <= k || next + books > columns + k;
                codes[k][next] = if delayed { spec.pad } else { code };
            }
            if !step(next) {
                return Ok(None);
            }
        }
        Ok(Some(codes))
    }

    /// The codes EnCodec reads: each codebook's row without the delay pattern's padding.
    pub fn undelay(&self, delayed: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let books = delayed.len();
        let columns = delayed.first().map_or(0, Vec::len);
        let frames = columns.saturating_sub(books);
        delayed
            .iter()
            .enumerate()
            .map(|(k, row)| row[k + 1..k + 1 + frames].to_vec())
            .collect()
    }

    /// The waveform of undelayed codes.
    pub fn decode(&self, codes: &[Vec<u32>]) -> Result<Vec<f32>> {
        if codes.first().is_none_or(Vec::is_empty) {
            return Ok(Vec::new());
        }
        self.audio.decode(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_cosines_then_sines() {
        let pe = sinusoid(2, 8);
        let rate = |i: usize| (-(10000f64.ln()) / 3.0 * i as f64).exp();
        for i in 0..4 {
            assert!((f64::from(pe[i]) - (2.0 * rate(i)).cos()).abs() < 1e-6);
            assert!((f64::from(pe[4 + i]) - (2.0 * rate(i)).sin()).abs() < 1e-6);
        }
    }

    #[test]
    fn configs_get_musicgen_small_defaults_and_stereo_is_refused() {
        let spec = MusicgenSpec::from_config(&serde_json::json!({})).unwrap();
        assert_eq!((spec.codebooks, spec.codes, spec.pad), (4, 2048, 2048));
        assert!(MusicgenSpec::from_config(&serde_json::json!({"audio_channels": 2})).is_err());
    }
}
