//! The decoder half of diffusers' `AutoencoderKL` (Stable Diffusion's VAE), with diffusers' weight
//! names: `post_quant_conv`, `conv_in`, the mid block (ResNet, single-head self-attention,
//! ResNet), the up blocks (`layers_per_block + 1` ResNets, nearest ×2 upsampling but the last),
//! GroupNorm, SiLU and `conv_out`. Its 3 × 3 convolutions at full resolution are most of a
//! picture's time, so they run as chunked products ([`super::conv::Conv2dLayer`]); its group
//! norms and SiLUs through [`super::group_norm`].

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::attention::dense_attention;
use super::conv::{Conv2dLayer, conv2d_layer};
use super::group_norm::{GroupNorm, group_norm};
use super::linear::{Linear, linear};
use super::sd_unet::ResnetBlock;

/// The decoder's shape, from vae/config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct VaeSpec {
    /// Widths per block, shallowest first (the decoder runs them deepest first).
    pub block_channels: Vec<usize>,
    /// ResNets per encoder block (the decoder has one more).
    pub layers_per_block: usize,
    /// Latent channels.
    pub latent_channels: usize,
    /// GroupNorm groups.
    pub norm_groups: usize,
    /// Whether `post_quant_conv` is there.
    pub post_quant_conv: bool,
}

/// The mid block's attention: one head over every pixel.
struct Attention {
    norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl Attention {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, channels, height, width) = xs.dims4()?;
        let tokens = self
            .norm
            .forward(xs)?
            .reshape((batch, channels, height * width))?
            .transpose(1, 2)?
            .contiguous()?;
        // One head over every pixel, a block of queries at a time (1024 px latents, SDXL's,
        // have 16384 of them).
        let attended = dense_attention(
            &self.q.forward(&tokens)?,
            &self.k.forward(&tokens)?,
            &self.v.forward(&tokens)?,
            1,
            (channels as f64).powf(-0.5),
        )?;
        let attended = self.out.forward(&attended)?;
        let attended = attended
            .transpose(1, 2)?
            .reshape((batch, channels, height, width))?;
        attended + xs
    }
}

struct UpBlock {
    resnets: Vec<ResnetBlock>,
    upsample: Option<Conv2dLayer>,
}

/// A loaded VAE decoder.
pub struct VaeDecoder {
    post_quant: Option<Conv2dLayer>,
    conv_in: Conv2dLayer,
    mid: (ResnetBlock, Attention, ResnetBlock),
    up: Vec<UpBlock>,
    norm_out: GroupNorm,
    conv_out: Conv2dLayer,
}

impl VaeDecoder {
    /// Loads `vb` (the whole VAE's weights; only the decoder's are read).
    pub fn new(vb: VarBuilder, spec: &VaeSpec) -> Result<VaeDecoder> {
        let groups = spec.norm_groups;
        let latent = spec.latent_channels;
        let deepest = *spec
            .block_channels
            .last()
            .ok_or_else(|| candle_core::Error::Msg("the VAE has no blocks".into()))?;
        let decoder = vb.pp("decoder");
        let mid = decoder.pp("mid_block");
        let attention = mid.pp("attentions.0");
        let reversed: Vec<usize> = spec.block_channels.iter().rev().copied().collect();
        let mut up = Vec::with_capacity(reversed.len());
        let mut previous = deepest;
        for (i, &channels) in reversed.iter().enumerate() {
            let vb = decoder.pp("up_blocks").pp(i);
            let resnets = (0..=spec.layers_per_block)
                .map(|j| {
                    let from = if j == 0 { previous } else { channels };
                    ResnetBlock::new(from, channels, (groups, 1e-6), None, vb.pp("resnets").pp(j))
                })
                .collect::<Result<_>>()?;
            let upsample = (i + 1 < reversed.len())
                .then(|| conv2d_layer(channels, channels, 3, 1, 1, vb.pp("upsamplers.0.conv")))
                .transpose()?;
            up.push(UpBlock { resnets, upsample });
            previous = channels;
        }
        let first = spec.block_channels[0];
        Ok(VaeDecoder {
            post_quant: spec
                .post_quant_conv
                .then(|| conv2d_layer(latent, latent, 1, 1, 0, vb.pp("post_quant_conv")))
                .transpose()?,
            conv_in: conv2d_layer(latent, deepest, 3, 1, 1, decoder.pp("conv_in"))?,
            mid: (
                ResnetBlock::new(deepest, deepest, (groups, 1e-6), None, mid.pp("resnets.0"))?,
                Attention {
                    norm: group_norm(groups, deepest, 1e-6, attention.pp("group_norm"))?,
                    q: linear(deepest, deepest, attention.pp("to_q"))?,
                    k: linear(deepest, deepest, attention.pp("to_k"))?,
                    v: linear(deepest, deepest, attention.pp("to_v"))?,
                    out: linear(deepest, deepest, attention.pp("to_out.0"))?,
                },
                ResnetBlock::new(deepest, deepest, (groups, 1e-6), None, mid.pp("resnets.1"))?,
            ),
            up,
            norm_out: group_norm(groups, first, 1e-6, decoder.pp("conv_norm_out"))?,
            conv_out: conv2d_layer(first, 3, 3, 1, 1, decoder.pp("conv_out"))?,
        })
    }

    /// The image `(batch, 3, H, W)` in about −1..1 for scaled latents `(batch, c, h, w)`, or
    /// `None` when `stop()` turns true (asked between blocks: a 512 px decode is most of a
    /// picture's time).
    pub fn decode(&self, latents: &Tensor, stop: &dyn Fn() -> bool) -> Result<Option<Tensor>> {
        let mut xs = match &self.post_quant {
            Some(conv) => conv.forward(latents)?,
            None => latents.clone(),
        };
        xs = self.conv_in.forward(&xs)?;
        xs = self.mid.0.forward(&xs, None)?;
        xs = self.mid.1.forward(&xs)?;
        xs = self.mid.2.forward(&xs, None)?;
        for block in &self.up {
            for resnet in &block.resnets {
                if stop() {
                    return Ok(None);
                }
                xs = resnet.forward(&xs, None)?;
            }
            if let Some(upsample) = &block.upsample {
                let (_, _, h, w) = xs.dims4()?;
                xs = upsample.forward(&xs.upsample_nearest2d(h * 2, w * 2)?)?;
            }
        }
        let xs = self.norm_out.forward_silu(&xs)?;
        Ok(Some(self.conv_out.forward(&xs)?))
    }
}
