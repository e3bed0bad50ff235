//! VITS (transformers' `VitsModel`: MMS-TTS's 1,100+ single-language voices, and the VITS
//! checkpoints in its layout): the text encoder (post-LayerNorm transformer with windowed
//! relative-position attention and convolutional feed-forwards), the stochastic or plain
//! duration predictor run in reverse, the length regulator, the prior's residual-coupling flow
//! in reverse, and the HiFi-GAN decoder; weight-normed convolutions are folded at load
//! (`weight_g`/`weight_v` or `parametrizations.weight.original0/1`). Single-speaker models.

use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde_json::Value;

use super::conv::{normed_conv1d as conv1d, padded};
use super::elementwise::{gelu_erf, softmax_last_dim};
use super::hifigan::{HifiGan, HifiGanSpec};
use super::linear::{Linear, linear};

/// The shape and defaults of a VITS checkpoint, from its config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct VitsSpec {
    vocab_size: usize,
    hidden: usize,
    layers: usize,
    heads: usize,
    window: usize,
    ffn_dim: usize,
    ffn_kernel: usize,
    eps: f64,
    flow_size: usize,
    stochastic_duration: bool,
    duration_kernel: usize,
    duration_filter_channels: usize,
    dds_layers: usize,
    duration_flows: usize,
    flow_bins: usize,
    tail_bound: f32,
    prior_flows: usize,
    wavenet_layers: usize,
    wavenet_kernel: usize,
    wavenet_dilation_rate: usize,
    vocoder: HifiGanSpec,
    /// Output samples per second.
    pub sampling_rate: u32,
    /// The checkpoint's speaking rate (1: as trained; 2: twice as fast).
    pub speaking_rate: f64,
    /// The checkpoint's noise scale of the prior.
    pub noise_scale: f64,
    /// The checkpoint's noise scale of the stochastic duration predictor.
    pub noise_scale_duration: f64,
}

impl VitsSpec {
    /// Reads a `VitsModel` config.json; multi-speaker checkpoints are refused by name.
    pub fn from_config(config: &Value) -> std::result::Result<VitsSpec, String> {
        let size = |key: &str, default: usize| {
            config
                .get(key)
                .and_then(Value::as_u64)
                .map_or(default, |v| v as usize)
        };
        let number =
            |key: &str, default: f64| config.get(key).and_then(Value::as_f64).unwrap_or(default);
        if size("num_speakers", 1) > 1 {
            return Err("a multi-speaker VITS model is not supported yet".into());
        }
        match config
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("relu")
        {
            "relu" => {}
            other => {
                return Err(format!(
                    "VITS with hidden_act {other:?} is not supported yet"
                ));
            }
        }
        let spec = VitsSpec {
            vocab_size: size("vocab_size", 38),
            hidden: size("hidden_size", 192),
            layers: size("num_hidden_layers", 6),
            heads: size("num_attention_heads", 2),
            window: size("window_size", 4),
            ffn_dim: size("ffn_dim", 768),
            ffn_kernel: size("ffn_kernel_size", 3),
            eps: number("layer_norm_eps", 1e-5),
            flow_size: size("flow_size", 192),
            stochastic_duration: config
                .get("use_stochastic_duration_prediction")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            duration_kernel: size("duration_predictor_kernel_size", 3),
            duration_filter_channels: size("duration_predictor_filter_channels", 256),
            dds_layers: size("depth_separable_num_layers", 3),
            duration_flows: size("duration_predictor_num_flows", 4),
            flow_bins: size("duration_predictor_flow_bins", 10),
            tail_bound: number("duration_predictor_tail_bound", 5.0) as f32,
            prior_flows: size("prior_encoder_num_flows", 4),
            wavenet_layers: size("prior_encoder_num_wavenet_layers", 4),
            wavenet_kernel: size("wavenet_kernel_size", 5),
            wavenet_dilation_rate: size("wavenet_dilation_rate", 1),
            vocoder: HifiGanSpec::from_config(config, size("flow_size", 192))?,
            sampling_rate: size("sampling_rate", 16_000) as u32,
            speaking_rate: number("speaking_rate", 1.0),
            noise_scale: number("noise_scale", 0.667),
            noise_scale_duration: number("noise_scale_duration", 0.8),
        };
        if spec.heads == 0 || !spec.hidden.is_multiple_of(spec.heads) {
            return Err(format!(
                "hidden_size {} doesn't split into {} heads",
                spec.hidden, spec.heads
            ));
        }
        Ok(spec)
    }

    /// Waveform samples per spectrogram frame.
    pub fn hop(&self) -> usize {
        self.vocoder.hop()
    }
}

fn pointwise(inputs: usize, outputs: usize, vb: VarBuilder) -> Result<Conv1d> {
    conv1d(inputs, outputs, 1, Conv1dConfig::default(), vb)
}

/// LayerNorm over the channels of `(batch, channels, time)`.
fn channel_norm(norm: &LayerNorm, xs: &Tensor) -> Result<Tensor> {
    norm.forward(&xs.transpose(1, 2)?)?.transpose(1, 2)
}

struct EncoderLayer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    rel_k: Tensor,
    rel_v: Tensor,
    norm: LayerNorm,
    ffn_1: Conv1d,
    ffn_2: Conv1d,
    final_norm: LayerNorm,
}

struct TextEncoder {
    embed: Embedding,
    layers: Vec<EncoderLayer>,
    project: Conv1d,
}

struct Dds {
    dilated: Vec<Conv1d>,
    pointwise: Vec<Conv1d>,
    norms_1: Vec<LayerNorm>,
    norms_2: Vec<LayerNorm>,
}

impl Dds {
    fn new(spec: &VitsSpec, vb: VarBuilder) -> Result<Dds> {
        let (channels, kernel) = (spec.hidden, spec.duration_kernel);
        let mut dds = Dds {
            dilated: Vec::new(),
            pointwise: Vec::new(),
            norms_1: Vec::new(),
            norms_2: Vec::new(),
        };
        for i in 0..spec.dds_layers {
            let dilation = kernel.pow(i as u32);
            let config = Conv1dConfig {
                padding: (kernel * dilation - dilation) / 2,
                dilation,
                groups: channels,
                ..Default::default()
            };
            dds.dilated.push(conv1d(
                channels,
                channels,
                kernel,
                config,
                vb.pp("convs_dilated").pp(i),
            )?);
            dds.pointwise.push(pointwise(
                channels,
                channels,
                vb.pp("convs_pointwise").pp(i),
            )?);
            dds.norms_1
                .push(layer_norm(channels, 1e-5, vb.pp("norms_1").pp(i))?);
            dds.norms_2
                .push(layer_norm(channels, 1e-5, vb.pp("norms_2").pp(i))?);
        }
        Ok(dds)
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor, conditioning: Option<&Tensor>) -> Result<Tensor> {
        let mut xs = match conditioning {
            Some(g) => (xs + g)?,
            None => xs.clone(),
        };
        for i in 0..self.dilated.len() {
            let h = self.dilated[i].forward(&xs.broadcast_mul(mask)?)?;
            let h = gelu_erf(&channel_norm(&self.norms_1[i], &h)?)?;
            let h = self.pointwise[i].forward(&h)?;
            let h = gelu_erf(&channel_norm(&self.norms_2[i], &h)?)?;
            xs = (xs + h)?;
        }
        xs.broadcast_mul(mask)
    }
}

struct ConvFlow {
    pre: Conv1d,
    dds: Dds,
    proj: Conv1d,
}

enum DurationFlow {
    Affine {
        translate: Tensor,
        log_scale: Tensor,
    },
    Conv(ConvFlow),
}

enum DurationPredictor {
    Stochastic {
        pre: Conv1d,
        dds: Dds,
        proj: Conv1d,
        flows: Vec<DurationFlow>,
    },
    Plain {
        conv_1: Conv1d,
        norm_1: LayerNorm,
        conv_2: Conv1d,
        norm_2: LayerNorm,
        proj: Conv1d,
    },
}

struct Coupling {
    pre: Conv1d,
    in_layers: Vec<Conv1d>,
    res_skip: Vec<Conv1d>,
    post: Conv1d,
}

/// A loaded VITS model.
pub struct Vits {
    text: TextEncoder,
    duration: DurationPredictor,
    flows: Vec<Coupling>,
    decoder: HifiGan,
    spec: VitsSpec,
    device: Device,
}

/// How to speak: the noise scales and the speaking rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Voice {
    /// Speed (1 as trained; 2 twice as fast).
    pub speaking_rate: f64,
    /// Variation of the sound (the prior's noise; 0 is deterministic).
    pub noise_scale: f64,
    /// Variation of the rhythm (the duration predictor's noise; 0 is deterministic).
    pub noise_scale_duration: f64,
}

impl Vits {
    /// Loads `vb` (transformers' weight names) for `spec` on `device`.
    pub fn new(vb: VarBuilder, spec: &VitsSpec, device: &Device) -> Result<Vits> {
        Ok(Vits {
            text: text_encoder(spec, vb.pp("text_encoder"))?,
            duration: duration_predictor(spec, vb.pp("duration_predictor"))?,
            flows: (0..spec.prior_flows)
                .map(|i| coupling(spec, vb.pp("flow.flows").pp(i)))
                .collect::<Result<_>>()?,
            decoder: HifiGan::new(&spec.vocoder, vb.pp("decoder"))?,
            spec: spec.clone(),
            device: device.clone(),
        })
    }

    /// The checkpoint's own voice settings.
    pub fn default_voice(&self) -> Voice {
        Voice {
            speaking_rate: self.spec.speaking_rate,
            noise_scale: self.spec.noise_scale,
            noise_scale_duration: self.spec.noise_scale_duration,
        }
    }

    /// The model's shape.
    pub fn spec(&self) -> &VitsSpec {
        &self.spec
    }

    /// The waveform for token ids; `noise(shape)` gives standard-normal noise on any device
    /// (drawn twice: the duration predictor's, then the prior's), scaled by the voice's noise
    /// scales.
    pub fn synthesize(
        &self,
        ids: &[u32],
        voice: &Voice,
        noise: &mut dyn FnMut(&[usize]) -> Result<Tensor>,
    ) -> Result<Vec<f32>> {
        if ids.is_empty() {
            return Err(candle_core::Error::Msg("no tokens to speak".into()));
        }
        let length = ids.len();
        let ids = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let mask = Tensor::ones((1, 1, length), DType::F32, &self.device)?;
        let (hidden, means, log_variances) = self.encode(&ids)?;
        let log_duration = match &self.duration {
            DurationPredictor::Stochastic { .. } => {
                let z = (noise(&[1, 2, length])?.to_device(&self.device)?
                    * voice.noise_scale_duration)?;
                self.stochastic_duration(&hidden, &mask, z)?
            }
            DurationPredictor::Plain { .. } => self.plain_duration(&hidden, &mask)?,
        };
        let length_scale = 1.0 / voice.speaking_rate.max(1e-3);
        let durations: Vec<f32> = log_duration.flatten_all()?.to_vec1()?;
        let frames: Vec<usize> = durations
            .iter()
            .map(|d| ((d.exp() as f64) * length_scale).ceil().max(0.0) as usize)
            .collect();
        let total: usize = frames.iter().sum();
        // Each token's prior repeated for its frames (the monotonic alignment path); with no
        // frame at all, one frame of a zero prior, as transformers pads it.
        let (means, log_variances) = if total == 0 {
            let zeros = Tensor::zeros((1, self.spec.flow_size, 1), DType::F32, &self.device)?;
            (zeros.clone(), zeros)
        } else {
            let index: Vec<u32> = frames
                .iter()
                .enumerate()
                .flat_map(|(token, &n)| std::iter::repeat_n(token as u32, n))
                .collect();
            let index = Tensor::new(index, &self.device)?;
            let expand =
                |t: &Tensor| -> Result<Tensor> { t.i(0)?.index_select(&index, 1)?.unsqueeze(0) };
            (expand(&means)?, expand(&log_variances)?)
        };
        let frames_out = total.max(1);
        let frame_mask = Tensor::ones((1, 1, frames_out), DType::F32, &self.device)?;
        let prior = (&means
            + (noise(&[1, self.spec.flow_size, frames_out])?.to_device(&self.device)?
                * voice.noise_scale)?
                .mul(&log_variances.exp()?)?)?;
        let mut latents = prior;
        for flow in self.flows.iter().rev() {
            latents = flow.reverse(&flip_channels(&latents)?, &frame_mask, &self.spec)?;
        }
        let spectrogram = latents.broadcast_mul(&frame_mask)?;
        let waveform = self.decoder.forward(&spectrogram)?;
        waveform.flatten_all()?.to_vec1()
    }

    /// The text encoder's hidden states `(1, hidden, L)` and the prior's means and log
    /// variances `(1, flow, L)`.
    fn encode(&self, ids: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let spec = &self.spec;
        let mut xs = (self.text.embed.forward(ids)? * (spec.hidden as f64).sqrt())?;
        for layer in &self.text.layers {
            let attended = relative_attention(layer, &xs, spec)?;
            xs = layer.norm.forward(&(xs + attended)?)?;
            let ffn = feed_forward(layer, &xs, spec)?;
            xs = layer.final_norm.forward(&(xs + ffn)?)?;
        }
        let hidden = xs.transpose(1, 2)?.contiguous()?;
        let stats = self.text.project.forward(&hidden)?;
        let means = stats.narrow(1, 0, spec.flow_size)?;
        let log_variances = stats.narrow(1, spec.flow_size, spec.flow_size)?;
        Ok((hidden, means, log_variances))
    }

    fn stochastic_duration(&self, hidden: &Tensor, mask: &Tensor, mut z: Tensor) -> Result<Tensor> {
        let DurationPredictor::Stochastic {
            pre,
            dds,
            proj,
            flows,
        } = &self.duration
        else {
            unreachable!("called for the stochastic predictor only");
        };
        let x = pre.forward(hidden)?;
        let x = dds.forward(&x, mask, None)?;
        let x = proj.forward(&x)?.broadcast_mul(mask)?;
        // Reversed, without the first convolutional flow (unused at inference, as in VITS).
        let mut order: Vec<&DurationFlow> = flows.iter().rev().collect();
        let affine = order.pop().expect("the affine flow comes first");
        order.pop();
        order.push(affine);
        for flow in order {
            z = flip_channels(&z)?;
            z = match flow {
                DurationFlow::Affine {
                    translate,
                    log_scale,
                } => z
                    .broadcast_sub(translate)?
                    .broadcast_mul(&log_scale.neg()?.exp()?)?
                    .broadcast_mul(mask)?,
                DurationFlow::Conv(conv) => conv.reverse(&z, mask, &x, &self.spec)?,
            };
        }
        z.narrow(1, 0, 1)
    }

    fn plain_duration(&self, hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let DurationPredictor::Plain {
            conv_1,
            norm_1,
            conv_2,
            norm_2,
            proj,
        } = &self.duration
        else {
            unreachable!("called for the plain predictor only");
        };
        let x = conv_1.forward(&hidden.broadcast_mul(mask)?)?.relu()?;
        let x = channel_norm(norm_1, &x)?;
        let x = conv_2.forward(&x.broadcast_mul(mask)?)?.relu()?;
        let x = channel_norm(norm_2, &x)?;
        proj.forward(&x.broadcast_mul(mask)?)?.broadcast_mul(mask)
    }
}

fn flip_channels(xs: &Tensor) -> Result<Tensor> {
    let channels = xs.dim(1)?;
    let reversed: Vec<u32> = (0..channels as u32).rev().collect();
    xs.index_select(&Tensor::new(reversed, xs.device())?, 1)
}

fn text_encoder(spec: &VitsSpec, vb: VarBuilder) -> Result<TextEncoder> {
    let hidden = spec.hidden;
    let head_dim = hidden / spec.heads;
    let layers = (0..spec.layers)
        .map(|i| {
            let vb = vb.pp("encoder.layers").pp(i);
            let attention = vb.pp("attention");
            let relative = 2 * spec.window + 1;
            Ok(EncoderLayer {
                q: linear(hidden, hidden, attention.pp("q_proj"))?,
                k: linear(hidden, hidden, attention.pp("k_proj"))?,
                v: linear(hidden, hidden, attention.pp("v_proj"))?,
                out: linear(hidden, hidden, attention.pp("out_proj"))?,
                rel_k: attention.get((1, relative, head_dim), "emb_rel_k")?.i(0)?,
                rel_v: attention.get((1, relative, head_dim), "emb_rel_v")?.i(0)?,
                norm: layer_norm(hidden, spec.eps, vb.pp("layer_norm"))?,
                ffn_1: conv1d(
                    hidden,
                    spec.ffn_dim,
                    spec.ffn_kernel,
                    Conv1dConfig::default(),
                    vb.pp("feed_forward.conv_1"),
                )?,
                ffn_2: conv1d(
                    spec.ffn_dim,
                    hidden,
                    spec.ffn_kernel,
                    Conv1dConfig::default(),
                    vb.pp("feed_forward.conv_2"),
                )?,
                final_norm: layer_norm(hidden, spec.eps, vb.pp("final_layer_norm"))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(TextEncoder {
        embed: embedding(spec.vocab_size, hidden, vb.pp("embed_tokens"))?,
        layers,
        project: pointwise(hidden, spec.flow_size * 2, vb.pp("project"))?,
    })
}

/// Self-attention with VITS's windowed relative positions: keys and values get a learned
/// embedding per offset in `[-window, window]`.
fn relative_attention(layer: &EncoderLayer, xs: &Tensor, spec: &VitsSpec) -> Result<Tensor> {
    let (_, length, hidden) = xs.dims3()?;
    let heads = spec.heads;
    let head_dim = hidden / heads;
    let split = |t: Tensor| -> Result<Tensor> {
        t.reshape((length, heads, head_dim))?
            .transpose(0, 1)?
            .contiguous()
    };
    let q = split((layer.q.forward(xs)? * (head_dim as f64).powf(-0.5))?.i(0)?)?;
    let k = split(layer.k.forward(xs)?.i(0)?)?;
    let v = split(layer.v.forward(xs)?.i(0)?)?;
    let scores = q.matmul(&k.t()?)?;
    // q · rel_k for each offset, added where the offset lands inside the sequence.
    let relative: Vec<f32> = q
        .matmul(&layer.rel_k.t()?.broadcast_left(heads)?.contiguous()?)?
        .flatten_all()?
        .to_vec1()?;
    let span = 2 * spec.window + 1;
    let mut bias = vec![0f32; heads * length * length];
    for_each_offset(heads, length, spec.window, |row, j, r| {
        bias[row * length + j] = relative[row * span + r];
    });
    let bias = Tensor::from_vec(bias, (heads, length, length), xs.device())?;
    let weights = softmax_last_dim(&(scores + bias)?)?;
    let mut attended = weights.matmul(&v)?;
    // The weights on each offset, times rel_v.
    let probabilities: Vec<f32> = weights.flatten_all()?.to_vec1()?;
    let mut by_offset = vec![0f32; heads * length * span];
    for_each_offset(heads, length, spec.window, |row, j, r| {
        by_offset[row * span + r] = probabilities[row * length + j];
    });
    let by_offset = Tensor::from_vec(by_offset, (heads, length, span), xs.device())?;
    attended = (attended + by_offset.matmul(&layer.rel_v.broadcast_left(heads)?.contiguous()?)?)?;
    let attended = attended.transpose(0, 1)?.reshape((1, length, hidden))?;
    layer.out.forward(&attended)
}

/// Calls `visit(row, j, r)` for each head's query `i` (row `h·length + i`) and each key `j`
/// within `window` of it, `r` being the offset's index in `[-window, window]`.
fn for_each_offset(
    heads: usize,
    length: usize,
    window: usize,
    mut visit: impl FnMut(usize, usize, usize),
) {
    for row in 0..heads * length {
        let i = row % length;
        for r in 0..=2 * window {
            if let Some(j) = (i + r).checked_sub(window).filter(|j| *j < length) {
                visit(row, j, r);
            }
        }
    }
}

/// The convolutional feed-forward over `(1, L, hidden)`, padded left `(k−1)/2`, right `k/2`.
fn feed_forward(layer: &EncoderLayer, xs: &Tensor, spec: &VitsSpec) -> Result<Tensor> {
    let pad = |t: &Tensor| -> Result<Tensor> {
        t.pad_with_zeros(2, (spec.ffn_kernel - 1) / 2, spec.ffn_kernel / 2)
    };
    let h = layer.ffn_1.forward(&pad(&xs.transpose(1, 2)?)?)?.relu()?;
    let h = layer.ffn_2.forward(&pad(&h)?)?;
    h.transpose(1, 2)
}

fn duration_predictor(spec: &VitsSpec, vb: VarBuilder) -> Result<DurationPredictor> {
    let hidden = spec.hidden;
    if !spec.stochastic_duration {
        let (filters, kernel) = (spec.duration_filter_channels, spec.duration_kernel);
        return Ok(DurationPredictor::Plain {
            conv_1: conv1d(
                hidden,
                filters,
                kernel,
                padded(kernel / 2, 1),
                vb.pp("conv_1"),
            )?,
            norm_1: layer_norm(filters, spec.eps, vb.pp("norm_1"))?,
            conv_2: conv1d(
                filters,
                filters,
                kernel,
                padded(kernel / 2, 1),
                vb.pp("conv_2"),
            )?,
            norm_2: layer_norm(filters, spec.eps, vb.pp("norm_2"))?,
            proj: pointwise(filters, 1, vb.pp("proj"))?,
        });
    }
    let mut flows = vec![DurationFlow::Affine {
        translate: vb.get((2, 1), "flows.0.translate")?,
        log_scale: vb.get((2, 1), "flows.0.log_scale")?,
    }];
    for i in 1..=spec.duration_flows {
        let vb = vb.pp("flows").pp(i);
        flows.push(DurationFlow::Conv(ConvFlow {
            pre: pointwise(1, hidden, vb.pp("conv_pre"))?,
            dds: Dds::new(spec, vb.pp("conv_dds"))?,
            proj: pointwise(hidden, 3 * spec.flow_bins - 1, vb.pp("conv_proj"))?,
        }));
    }
    Ok(DurationPredictor::Stochastic {
        pre: pointwise(hidden, hidden, vb.pp("conv_pre"))?,
        dds: Dds::new(spec, vb.pp("conv_dds"))?,
        proj: pointwise(hidden, hidden, vb.pp("conv_proj"))?,
        flows,
    })
}

impl ConvFlow {
    /// The inverse of the flow for `(1, 2, L)`: the second channel through the inverse of a
    /// rational-quadratic spline whose bins the first channel (and the text) decide.
    fn reverse(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        conditioning: &Tensor,
        spec: &VitsSpec,
    ) -> Result<Tensor> {
        let length = xs.dim(2)?;
        let first = xs.narrow(1, 0, 1)?;
        let second: Vec<f32> = xs.narrow(1, 1, 1)?.flatten_all()?.to_vec1()?;
        let h = self.pre.forward(&first)?;
        let h = self.dds.forward(&h, mask, Some(conditioning))?;
        let h = self.proj.forward(&h)?.broadcast_mul(mask)?;
        // (1, 3·bins − 1, L) → per position, the bins' parameters.
        let params: Vec<f32> = h.i(0)?.t()?.contiguous()?.flatten_all()?.to_vec1()?;
        let per = 3 * spec.flow_bins - 1;
        let scale = (spec.hidden as f32).sqrt();
        let inverted: Vec<f32> = (0..length)
            .map(|t| {
                let p = &params[t * per..(t + 1) * per];
                let widths: Vec<f32> = p[..spec.flow_bins].iter().map(|w| w / scale).collect();
                let heights: Vec<f32> = p[spec.flow_bins..2 * spec.flow_bins]
                    .iter()
                    .map(|h| h / scale)
                    .collect();
                spline_inverse(
                    second[t],
                    &widths,
                    &heights,
                    &p[2 * spec.flow_bins..],
                    spec.tail_bound,
                )
            })
            .collect();
        let second = Tensor::from_vec(inverted, (1, 1, length), xs.device())?;
        Tensor::cat(&[&first, &second], 1)?.broadcast_mul(mask)
    }
}

/// The inverse of VITS's unconstrained rational-quadratic spline at `y`: identity outside
/// `[-bound, bound]`; inside, the bins from softmaxed widths and heights (each at least 1e-3)
/// and softplus derivatives (the outer ones fixed to 1).
pub fn spline_inverse(
    y: f32,
    widths: &[f32],
    heights: &[f32],
    derivatives: &[f32],
    bound: f32,
) -> f32 {
    if !(-bound..=bound).contains(&y) {
        return y;
    }
    const MIN_BIN: f32 = 1e-3;
    const MIN_DERIVATIVE: f32 = 1e-3;
    let bins = widths.len();
    let edges = |raw: &[f32]| -> Vec<f32> {
        let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = raw.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        let mut cumulative = vec![0f32];
        let mut total = 0f32;
        for e in exps {
            total += MIN_BIN + (1.0 - MIN_BIN * bins as f32) * (e / sum);
            cumulative.push(total);
        }
        let mut edges: Vec<f32> = cumulative.iter().map(|c| 2.0 * bound * c - bound).collect();
        edges[0] = -bound;
        edges[bins] = bound;
        edges
    };
    let (x_edges, y_edges) = (edges(widths), edges(heights));
    // Derivatives at the inner knots; at ±bound softplus(log(e^(1−min) − 1)) + min = 1.
    let mut knots = vec![1.0f32];
    knots.extend(derivatives.iter().map(|d| MIN_DERIVATIVE + softplus(*d)));
    knots.push(1.0);
    let mut locations = y_edges.clone();
    locations[bins] += 1e-6;
    let bin = locations
        .iter()
        .filter(|edge| y >= **edge)
        .count()
        .saturating_sub(1)
        .min(bins - 1);
    let (x0, width) = (x_edges[bin], x_edges[bin + 1] - x_edges[bin]);
    let (y0, height) = (y_edges[bin], y_edges[bin + 1] - y_edges[bin]);
    let delta = height / width;
    let (d0, d1) = (knots[bin], knots[bin + 1]);
    let spread = d0 + d1 - 2.0 * delta;
    let shifted = y - y0;
    let a = height * (delta - d0) + shifted * spread;
    let b = height * d0 - shifted * spread;
    let c = -delta * shifted;
    let discriminant = (b * b - 4.0 * a * c).max(0.0);
    let root = (2.0 * c) / (-b - discriminant.sqrt());
    root * width + x0
}

fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

fn coupling(spec: &VitsSpec, vb: VarBuilder) -> Result<Coupling> {
    let (half, hidden) = (spec.flow_size / 2, spec.hidden);
    let wavenet = vb.pp("wavenet");
    let mut in_layers = Vec::new();
    let mut res_skip = Vec::new();
    for i in 0..spec.wavenet_layers {
        let dilation = spec.wavenet_dilation_rate.pow(i as u32);
        let padding = (spec.wavenet_kernel * dilation - dilation) / 2;
        in_layers.push(conv1d(
            hidden,
            2 * hidden,
            spec.wavenet_kernel,
            padded(padding, dilation),
            wavenet.pp("in_layers").pp(i),
        )?);
        let outputs = if i + 1 < spec.wavenet_layers {
            2 * hidden
        } else {
            hidden
        };
        res_skip.push(pointwise(
            hidden,
            outputs,
            wavenet.pp("res_skip_layers").pp(i),
        )?);
    }
    Ok(Coupling {
        pre: pointwise(half, hidden, vb.pp("conv_pre"))?,
        in_layers,
        res_skip,
        post: pointwise(hidden, half, vb.pp("conv_post"))?,
    })
}

impl Coupling {
    /// The inverse coupling: the second half minus the mean the first half predicts.
    fn reverse(&self, xs: &Tensor, mask: &Tensor, spec: &VitsSpec) -> Result<Tensor> {
        let half = spec.flow_size / 2;
        let hidden = spec.hidden;
        let (first, second) = (xs.narrow(1, 0, half)?, xs.narrow(1, half, half)?);
        let mut h = self.pre.forward(&first)?.broadcast_mul(mask)?;
        let mut skip = h.zeros_like()?;
        for (i, (input, res_skip)) in self.in_layers.iter().zip(&self.res_skip).enumerate() {
            let a = input.forward(&h)?;
            let gated = (a.narrow(1, 0, hidden)?.tanh()?
                * candle_nn::ops::sigmoid(&a.narrow(1, hidden, hidden)?)?)?;
            let out = res_skip.forward(&gated)?;
            if i + 1 < self.in_layers.len() {
                h = (h + out.narrow(1, 0, hidden)?)?.broadcast_mul(mask)?;
                skip = (skip + out.narrow(1, hidden, hidden)?)?;
            } else {
                skip = (skip + out)?;
            }
        }
        let mean = self
            .post
            .forward(&skip.broadcast_mul(mask)?)?
            .broadcast_mul(mask)?;
        let second = (second - mean)?.broadcast_mul(mask)?;
        Tensor::cat(&[&first, &second], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spline_is_the_identity_outside_its_bound_and_monotone_inside() {
        let (w, h, d) = ([0.3f32, -0.2, 0.1], [0.0f32, 0.5, -0.5], [0.2f32, -0.1]);
        assert_eq!(spline_inverse(7.0, &w, &h, &d, 5.0), 7.0);
        let points: Vec<f32> = (-40..=40)
            .map(|i| spline_inverse(i as f32 / 8.0, &w, &h, &d, 5.0))
            .collect();
        assert!(points.windows(2).all(|p| p[0] < p[1]), "{points:?}");
        // Equal bins and unit derivatives: the identity.
        let flat = spline_inverse(1.25, &[0.0; 3], &[0.0; 3], &[0.5413249; 2], 5.0);
        assert!((flat - 1.25).abs() < 1e-3, "{flat}");
    }

    #[test]
    fn configs_are_read_and_multi_speaker_models_refused() {
        let spec = VitsSpec::from_config(&serde_json::json!({"hidden_size": 16,
            "num_attention_heads": 2, "upsample_rates": [4, 2], "upsample_kernel_sizes": [8, 4]}))
        .unwrap();
        assert_eq!((spec.hop(), spec.sampling_rate), (8, 16_000));
        let many = serde_json::json!({"num_speakers": 4});
        assert!(
            VitsSpec::from_config(&many)
                .unwrap_err()
                .contains("multi-speaker")
        );
    }
}
