//! HiFi-GAN, the vocoder that turns a spectrogram (or VITS's latent frames) into a waveform, as
//! transformers writes it for `VitsModel`'s decoder and `SpeechT5HifiGan`: a 7-tap input
//! convolution, transposed-convolution upsamplers each followed by the average of its residual
//! blocks (dilated convolutions with leaky ReLUs), a leaky ReLU of slope 0.01, a 7-tap output
//! convolution and tanh. Both configs name the shape with the same keys.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv1d, ConvTranspose1d, ConvTranspose1dConfig, VarBuilder};
use serde_json::Value;

use super::conv::{ChunkedConv1d, normed_conv1d, padded};
use super::conv_cpu::{InputMap, OutputMap};

/// The shape of a HiFi-GAN generator.
#[derive(Debug, Clone, PartialEq)]
pub struct HifiGanSpec {
    input_channels: usize,
    initial_channels: usize,
    upsample_rates: Vec<usize>,
    upsample_kernels: Vec<usize>,
    resblock_kernels: Vec<usize>,
    resblock_dilations: Vec<Vec<usize>>,
    leaky_relu_slope: f64,
}

impl HifiGanSpec {
    /// Reads the generator's keys of a config.json (`upsample_initial_channel`,
    /// `upsample_rates`, `upsample_kernel_sizes`, `resblock_kernel_sizes`,
    /// `resblock_dilation_sizes`, `leaky_relu_slope`; HiFi-GAN V1's values where one is
    /// missing) for `input_channels` channels in.
    pub fn from_config(
        config: &Value,
        input_channels: usize,
    ) -> std::result::Result<HifiGanSpec, String> {
        let numbers = |value: &Value| -> Option<Vec<usize>> {
            value.as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .map(|v| v as usize)
                    .collect()
            })
        };
        let list = |key: &str, default: &[usize]| {
            config
                .get(key)
                .and_then(numbers)
                .unwrap_or_else(|| default.to_vec())
        };
        let resblock_dilations = config
            .get("resblock_dilation_sizes")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|d| numbers(d).unwrap_or_default()).collect())
            .unwrap_or_else(|| vec![vec![1, 3, 5]; 3]);
        let spec = HifiGanSpec {
            input_channels,
            initial_channels: config
                .get("upsample_initial_channel")
                .and_then(Value::as_u64)
                .map_or(512, |v| v as usize),
            upsample_rates: list("upsample_rates", &[8, 8, 2, 2]),
            upsample_kernels: list("upsample_kernel_sizes", &[16, 16, 4, 4]),
            resblock_kernels: list("resblock_kernel_sizes", &[3, 7, 11]),
            resblock_dilations,
            leaky_relu_slope: config
                .get("leaky_relu_slope")
                .and_then(Value::as_f64)
                .unwrap_or(0.1),
        };
        if spec.upsample_rates.len() != spec.upsample_kernels.len()
            || spec.resblock_kernels.len() != spec.resblock_dilations.len()
        {
            return Err("the vocoder's upsampling or residual block lists differ in length".into());
        }
        if spec.resblock_kernels.is_empty()
            || spec.initial_channels >> spec.upsample_rates.len() == 0
        {
            return Err("the vocoder has no residual blocks or too few channels".into());
        }
        Ok(spec)
    }

    /// Waveform samples per input frame.
    pub fn hop(&self) -> usize {
        self.upsample_rates.iter().product()
    }
}

struct ResBlock {
    convs1: Vec<ChunkedConv1d>,
    convs2: Vec<ChunkedConv1d>,
}

/// A loaded HiFi-GAN generator.
pub struct HifiGan {
    pre: Conv1d,
    /// Each upsampler with the padding it trims from both ends.
    upsamplers: Vec<(ConvTranspose1d, usize)>,
    resblocks: Vec<ResBlock>,
    post: ChunkedConv1d,
    spec: HifiGanSpec,
}

impl HifiGan {
    /// Loads `vb` (`conv_pre`, `upsampler.*`, `resblocks.*`, `conv_post`; convolutions may be
    /// stored weight-normed).
    pub fn new(spec: &HifiGanSpec, vb: VarBuilder) -> Result<HifiGan> {
        let initial = spec.initial_channels;
        let mut upsamplers = Vec::new();
        let mut resblocks = Vec::new();
        for (i, (&rate, &kernel)) in spec
            .upsample_rates
            .iter()
            .zip(&spec.upsample_kernels)
            .enumerate()
        {
            let (from, to) = (initial >> i, initial >> (i + 1));
            // Unpadded, then trimmed: candle multiplies an unpadded transposed convolution as
            // one matrix product (col2im), a padded one output channel by output channel.
            let config = ConvTranspose1dConfig {
                stride: rate,
                ..Default::default()
            };
            let up = vb.pp("upsampler").pp(i);
            upsamplers.push((
                ConvTranspose1d::new(
                    up.get((from, to, kernel), "weight")?,
                    Some(up.get(to, "bias")?),
                    config,
                ),
                (kernel - rate) / 2,
            ));
            for (j, (&kernel, dilations)) in spec
                .resblock_kernels
                .iter()
                .zip(&spec.resblock_dilations)
                .enumerate()
            {
                let vb = vb.pp("resblocks").pp(i * spec.resblock_kernels.len() + j);
                let conv = |name: &str, k: usize, dilation: usize| {
                    normed_conv1d(
                        to,
                        to,
                        kernel,
                        padded((kernel * dilation - dilation) / 2, dilation),
                        vb.pp(name).pp(k),
                    )
                    .and_then(ChunkedConv1d::new)
                };
                resblocks.push(ResBlock {
                    convs1: dilations
                        .iter()
                        .enumerate()
                        .map(|(k, &d)| conv("convs1", k, d))
                        .collect::<Result<_>>()?,
                    convs2: (0..dilations.len())
                        .map(|k| conv("convs2", k, 1))
                        .collect::<Result<_>>()?,
                });
            }
        }
        let last = initial >> spec.upsample_rates.len();
        Ok(HifiGan {
            pre: normed_conv1d(
                spec.input_channels,
                initial,
                7,
                padded(3, 1),
                vb.pp("conv_pre"),
            )?,
            upsamplers,
            resblocks,
            post: ChunkedConv1d::new(normed_conv1d(last, 1, 7, padded(3, 1), vb.pp("conv_post"))?)?,
            spec: spec.clone(),
        })
    }

    /// `(1, input channels, frames)` → `(1, 1, frames · hop)` in −1..1.
    pub fn forward(&self, frames: &Tensor) -> Result<Tensor> {
        let slope = self.spec.leaky_relu_slope;
        let kernels = self.spec.resblock_kernels.len();
        let mut xs = self.pre.forward(frames)?;
        for (i, (up, trim)) in self.upsamplers.iter().enumerate() {
            let full = up.forward(&candle_nn::ops::leaky_relu(&xs, slope)?)?;
            let length = full.dim(2)?;
            xs = full.narrow(2, *trim, length - 2 * trim)?;
            let mut sum: Option<Tensor> = None;
            for block in &self.resblocks[i * kernels..(i + 1) * kernels] {
                let out = block.forward(&xs, slope)?;
                sum = Some(match sum {
                    Some(s) => (s + out)?,
                    None => out,
                });
            }
            xs = (sum.expect("at least one residual block") / kernels as f64)?;
        }
        self.post
            .forward_fused(&xs, InputMap::LeakyRelu(0.01), None, OutputMap::Identity)?
            .tanh()
    }
}

impl ResBlock {
    fn forward(&self, xs: &Tensor, slope: f64) -> Result<Tensor> {
        // The leaky ReLUs and the residual sums run inside the convolutions' passes.
        let leaky = InputMap::LeakyRelu(slope as f32);
        let mut xs = xs.clone();
        for (c1, c2) in self.convs1.iter().zip(&self.convs2) {
            let h = c1.forward_fused(&xs, leaky, None, OutputMap::Identity)?;
            xs = c2.forward_fused(&h, leaky, Some(&xs), OutputMap::Identity)?;
        }
        Ok(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_read_with_hifigan_v1_defaults_and_mismatches_refused() {
        let spec = HifiGanSpec::from_config(
            &serde_json::json!({"upsample_rates": [4, 2], "upsample_kernel_sizes": [8, 4]}),
            80,
        )
        .unwrap();
        assert_eq!((spec.hop(), spec.initial_channels), (8, 512));
        assert_eq!(spec.resblock_dilations, vec![vec![1, 3, 5]; 3]);
        let uneven = serde_json::json!({"upsample_rates": [4, 2], "upsample_kernel_sizes": [8]});
        assert!(
            HifiGanSpec::from_config(&uneven, 80)
                .unwrap_err()
                .contains("differ in length")
        );
    }
}
