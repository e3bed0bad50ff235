//! EnCodec's decoding half (transformers' `EncodecModel.decode`, as MusicGen's audio encoder
//! uses it): the residual vector quantizer's codebooks summed, then the SEANet decoder — a
//! convolution, a two-layer LSTM with a skip, per upsampling ratio an ELU, a transposed
//! convolution trimmed to length and residual blocks, an ELU and the output convolution.
//! Convolutions pad as EnCodec's do (reflect or zeros, causal or split around the kernel) and
//! are stored weight-normed. Mono, without audio scales (EnCodec 32 kHz's `normalize: false`).

use candle_core::{D, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{
    ConvTranspose1d, ConvTranspose1dConfig, Embedding, LSTM, LSTMConfig, RNN, VarBuilder,
};
use serde_json::Value;

use super::conv::{ChunkedConv1d, normed_conv_transpose1d, normed_conv1d, padded};

/// The shape of an EnCodec model, from its config (MusicGen's `audio_encoder`).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodecSpec {
    hidden: usize,
    filters: usize,
    ratios: Vec<usize>,
    kernel: usize,
    last_kernel: usize,
    residual_kernel: usize,
    dilation_growth: usize,
    residual_layers: usize,
    compress: usize,
    lstm_layers: usize,
    causal: bool,
    reflect: bool,
    trim_right_ratio: f64,
    codebook_size: usize,
    codebook_dim: usize,
    conv_shortcut: bool,
    /// Output samples per second.
    pub sampling_rate: u32,
}

impl EncodecSpec {
    /// Reads an `EncodecConfig` (EnCodec 24 kHz's values where a key is missing); what this
    /// decoder doesn't do (stereo, normalised audio, group-normed convolutions) is refused.
    pub fn from_config(config: &Value) -> std::result::Result<EncodecSpec, String> {
        let size = |key: &str, default: usize| {
            config
                .get(key)
                .and_then(Value::as_u64)
                .map_or(default, |v| v as usize)
        };
        let flag =
            |key: &str, default: bool| config.get(key).and_then(Value::as_bool).unwrap_or(default);
        let text = |key: &str, default: &'static str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        if size("audio_channels", 1) != 1 {
            return Err("stereo EnCodec is not supported yet".into());
        }
        if flag("normalize", false) {
            return Err("EnCodec with normalised audio is not supported yet".into());
        }
        if text("norm_type", "weight_norm") != "weight_norm" {
            return Err(format!(
                "EnCodec with norm_type {:?} is not supported yet",
                text("norm_type", "")
            ));
        }
        let pad_mode = text("pad_mode", "reflect");
        if pad_mode != "reflect" && pad_mode != "constant" {
            return Err(format!(
                "EnCodec with pad_mode {pad_mode:?} is not supported yet"
            ));
        }
        let hidden = size("hidden_size", 128);
        let ratios: Vec<usize> = config
            .get("upsampling_ratios")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .map(|v| v as usize)
                    .collect()
            })
            .unwrap_or_else(|| vec![8, 5, 4, 2]);
        let spec = EncodecSpec {
            hidden,
            filters: size("num_filters", 32),
            kernel: size("kernel_size", 7),
            last_kernel: size("last_kernel_size", 7),
            residual_kernel: size("residual_kernel_size", 3),
            dilation_growth: size("dilation_growth_rate", 2),
            residual_layers: size("num_residual_layers", 1),
            compress: size("compress", 2),
            lstm_layers: size("num_lstm_layers", 2),
            causal: flag("use_causal_conv", true),
            reflect: pad_mode == "reflect",
            trim_right_ratio: config
                .get("trim_right_ratio")
                .and_then(Value::as_f64)
                .unwrap_or(1.0),
            codebook_size: size("codebook_size", 1024),
            codebook_dim: config
                .get("codebook_dim")
                .and_then(Value::as_u64)
                .map_or(hidden, |v| v as usize),
            conv_shortcut: flag("use_conv_shortcut", true),
            sampling_rate: size("sampling_rate", 24_000) as u32,
            ratios,
        };
        if spec.ratios.is_empty() || spec.ratios.contains(&0) || spec.compress == 0 {
            return Err("EnCodec's upsampling ratios or compress are empty".into());
        }
        if (spec.filters << spec.ratios.len()) == 0 || spec.filters == 0 {
            return Err("EnCodec has no filters".into());
        }
        Ok(spec)
    }

    /// Output samples per code frame.
    pub fn hop(&self) -> usize {
        self.ratios.iter().product()
    }

    /// Codes per codebook.
    pub fn codebook_size(&self) -> usize {
        self.codebook_size
    }
}

/// A convolution padded as `EncodecConv1d` pads.
struct PaddedConv {
    conv: ChunkedConv1d,
    /// Kernel reach `(k − 1) · dilation + 1`.
    reach: usize,
    causal: bool,
    reflect: bool,
}

impl PaddedConv {
    fn new(
        spec: &EncodecSpec,
        (inputs, outputs, kernel, dilation): (usize, usize, usize, usize),
        vb: VarBuilder,
    ) -> Result<PaddedConv> {
        let conv = normed_conv1d(inputs, outputs, kernel, padded(0, dilation), vb.pp("conv"))?;
        Ok(PaddedConv {
            conv: ChunkedConv1d::new(conv)?,
            reach: (kernel - 1) * dilation + 1,
            causal: spec.causal,
            reflect: spec.reflect,
        })
    }

    /// `(1, in, T)` → `(1, out, T)` (stride 1: no extra padding).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let total = self.reach - 1;
        let (left, right) = if self.causal {
            (total, 0)
        } else {
            (total - total / 2, total / 2)
        };
        self.conv.forward(&pad(xs, left, right, self.reflect)?)
    }
}

/// `torch.nn.functional.pad` on the last axis, by reflection (with EnCodec's zero extension
/// of inputs shorter than the padding) or with zeros.
fn pad(xs: &Tensor, left: usize, right: usize, reflect: bool) -> Result<Tensor> {
    if !reflect || (left == 0 && right == 0) {
        return xs.pad_with_zeros(D::Minus1, left, right);
    }
    let length = xs.dim(D::Minus1)?;
    let widest = left.max(right);
    let extra = if length <= widest {
        widest - length + 1
    } else {
        0
    };
    let xs = xs.pad_with_zeros(D::Minus1, 0, extra)?.contiguous()?;
    let n = length + extra;
    // Reflection leaves out the edge sample: x[left], …, x[1] | x | x[n−2], …, x[n−1−right].
    let indices: Vec<u32> = (1..=left)
        .rev()
        .chain(0..n)
        .chain((n - 1 - right..n - 1).rev())
        .map(|i| i as u32)
        .collect();
    let count = indices.len();
    let indices = Tensor::from_vec(indices, count, xs.device())?;
    xs.index_select(&indices, D::Minus1)?
        .narrow(D::Minus1, 0, count - extra)
}

struct Upsample {
    conv: ConvTranspose1d,
    trim_left: usize,
    trim_right: usize,
}

impl Upsample {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.conv.forward(xs)?;
        let length = xs.dim(D::Minus1)?;
        xs.narrow(
            D::Minus1,
            self.trim_left,
            length - self.trim_left - self.trim_right,
        )
    }
}

struct ResnetBlock {
    first: PaddedConv,
    second: PaddedConv,
    shortcut: Option<PaddedConv>,
}

impl ResnetBlock {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let h = self.first.forward(&xs.elu(1.0)?)?;
        let h = self.second.forward(&h.elu(1.0)?)?;
        let residual = match &self.shortcut {
            Some(conv) => conv.forward(xs)?,
            None => xs.clone(),
        };
        residual + h
    }
}

/// EnCodec's decoder with its codebooks.
pub struct EncodecDecoder {
    codebooks: Vec<Embedding>,
    first: PaddedConv,
    lstm: Vec<LSTM>,
    stages: Vec<(Upsample, Vec<ResnetBlock>)>,
    last: PaddedConv,
    spec: EncodecSpec,
    device: Device,
}

impl EncodecDecoder {
    /// Loads `vb` (`quantizer.layers.*.codebook.embed`, `decoder.layers.*`) for `codebooks`
    /// codebooks.
    pub fn new(
        spec: &EncodecSpec,
        codebooks: usize,
        vb: VarBuilder,
        device: &Device,
    ) -> Result<EncodecDecoder> {
        let codebook_vectors = (0..codebooks)
            .map(|i| {
                let embed = vb
                    .pp("quantizer.layers")
                    .pp(i)
                    .get((spec.codebook_size, spec.codebook_dim), "codebook.embed")?;
                Ok(Embedding::new(embed, spec.codebook_dim))
            })
            .collect::<Result<_>>()?;
        let layers = vb.pp("decoder.layers");
        let mut index = 0;
        let mut next = || {
            index += 1;
            layers.pp(index - 1)
        };
        let mut scaling = 1usize << spec.ratios.len();
        let first = PaddedConv::new(
            spec,
            (spec.codebook_dim, scaling * spec.filters, spec.kernel, 1),
            next(),
        )?;
        let width = scaling * spec.filters;
        let lstm_vb = next().pp("lstm");
        let lstm = (0..spec.lstm_layers)
            .map(|layer_idx| {
                candle_nn::lstm(
                    width,
                    width,
                    LSTMConfig {
                        layer_idx,
                        ..Default::default()
                    },
                    lstm_vb.clone(),
                )
            })
            .collect::<Result<_>>()?;
        let mut stages = Vec::new();
        for &ratio in &spec.ratios {
            let channels = scaling * spec.filters;
            next(); // ELU
            let kernel = 2 * ratio;
            let conv = normed_conv_transpose1d(
                channels,
                channels / 2,
                kernel,
                ConvTranspose1dConfig {
                    stride: ratio,
                    ..Default::default()
                },
                next().pp("conv"),
            )?;
            let total = kernel - ratio;
            let trim_right = if spec.causal {
                (total as f64 * spec.trim_right_ratio).ceil() as usize
            } else {
                total / 2
            };
            let upsample = Upsample {
                conv,
                trim_left: total - trim_right,
                trim_right,
            };
            let dim = channels / 2;
            let hidden = dim / spec.compress;
            let blocks = (0..spec.residual_layers)
                .map(|j| {
                    let vb = next();
                    let dilation = spec.dilation_growth.pow(j as u32);
                    Ok(ResnetBlock {
                        first: PaddedConv::new(
                            spec,
                            (dim, hidden, spec.residual_kernel, dilation),
                            vb.pp("block.1"),
                        )?,
                        second: PaddedConv::new(spec, (hidden, dim, 1, 1), vb.pp("block.3"))?,
                        shortcut: spec
                            .conv_shortcut
                            .then(|| PaddedConv::new(spec, (dim, dim, 1, 1), vb.pp("shortcut")))
                            .transpose()?,
                    })
                })
                .collect::<Result<_>>()?;
            stages.push((upsample, blocks));
            scaling /= 2;
        }
        next(); // ELU
        let last = PaddedConv::new(spec, (spec.filters, 1, spec.last_kernel, 1), next())?;
        Ok(EncodecDecoder {
            codebooks: codebook_vectors,
            first,
            lstm,
            stages,
            last,
            spec: spec.clone(),
            device: device.clone(),
        })
    }

    /// The waveform of `codes` (one row of frames per codebook, in codebook order).
    pub fn decode(&self, codes: &[Vec<u32>]) -> Result<Vec<f32>> {
        if codes.is_empty() || codes.len() > self.codebooks.len() {
            return Err(candle_core::Error::Msg(format!(
                "{} rows of codes for {} codebooks",
                codes.len(),
                self.codebooks.len()
            )));
        }
        let frames = codes[0].len();
        let mut sum: Option<Tensor> = None;
        for (row, codebook) in codes.iter().zip(&self.codebooks) {
            if row.len() != frames || row.iter().any(|&c| c as usize >= self.spec.codebook_size) {
                return Err(candle_core::Error::Msg(
                    "codes out of the codebook's range".into(),
                ));
            }
            let vectors = codebook.forward(&Tensor::new(row.as_slice(), &self.device)?)?;
            sum = Some(match sum {
                Some(s) => (s + vectors)?,
                None => vectors,
            });
        }
        let embeddings = sum.expect("one codebook at least").t()?.unsqueeze(0)?;
        let xs = self.first.forward(&embeddings)?;
        let xs = self.lstm_forward(&xs)?;
        let mut xs = xs;
        for (upsample, blocks) in &self.stages {
            xs = upsample.forward(&xs.elu(1.0)?)?;
            for block in blocks {
                xs = block.forward(&xs)?;
            }
        }
        self.last.forward(&xs.elu(1.0)?)?.flatten_all()?.to_vec1()
    }

    /// The LSTM layers over `(1, C, T)`, plus the input (EnCodec's skip).
    fn lstm_forward(&self, xs: &Tensor) -> Result<Tensor> {
        let sequence = xs.i(0)?.t()?.unsqueeze(0)?.contiguous()?;
        let mut hidden = sequence.clone();
        for layer in &self.lstm {
            let states = layer.seq(&hidden)?;
            hidden = layer.states_to_tensor(&states)?;
        }
        (hidden + sequence)?.i(0)?.t()?.unsqueeze(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_padding_matches_torch() {
        let xs = Tensor::new(&[[[1f32, 2., 3., 4.]]], &Device::Cpu).unwrap();
        let padded: Vec<f32> = pad(&xs, 2, 3, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        // torch.nn.functional.pad(x, (2, 3), "reflect")
        assert_eq!(padded, vec![3., 2., 1., 2., 3., 4., 3., 2., 1.]);
        // Shorter than the padding: EnCodec extends with zeros first, then cuts them off.
        let short = Tensor::new(&[[[1f32, 2.]]], &Device::Cpu).unwrap();
        let padded: Vec<f32> = pad(&short, 3, 3, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        // [1, 2] → [1, 2, 0, 0] → reflected [0, 0, 2 | 1, 2, 0, 0 | 0, 2, 1] → the last 2 cut.
        assert_eq!(padded.len(), 2 + 6);
        assert_eq!(&padded[..5], &[0., 0., 2., 1., 2.]);
    }

    #[test]
    fn configs_are_read_and_what_is_missing_refused() {
        let spec = EncodecSpec::from_config(&serde_json::json!({
            "upsampling_ratios": [8, 5, 4, 4], "sampling_rate": 32000, "codebook_size": 2048,
            "use_causal_conv": false, "pad_mode": "reflect"}))
        .unwrap();
        assert_eq!(
            (spec.hop(), spec.codebook_size(), spec.sampling_rate),
            (640, 2048, 32000)
        );
        for bad in [
            serde_json::json!({"audio_channels": 2}),
            serde_json::json!({"normalize": true}),
            serde_json::json!({"norm_type": "time_group_norm"}),
        ] {
            assert!(EncodecSpec::from_config(&bad).is_err(), "{bad}");
        }
    }
}
