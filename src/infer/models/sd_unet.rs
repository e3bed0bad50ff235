//! diffusers' `UNet2DConditionModel` as Stable Diffusion 1.x/2.x use it, with diffusers' weight
//! names: sinusoidal timestep embedding and its MLP, `conv_in`, down blocks (ResNet blocks,
//! optional spatial transformers with self- and cross-attention and a GEGLU feed-forward,
//! strided-convolution downsampling), the cross-attention mid block, up blocks over the saved
//! skips (nearest ×2 upsampling), and `conv_out`; SDXL's added embedding of the pooled text and
//! the size/crop ids (`addition_embed_type: "text_time"`). Every width, head count, group count and
//! epsilon comes from the config ([`UNetSpec`]); the GEGLU uses the exact (erf) GELU as PyTorch
//! does, and attention goes by blocks of queries ([`super::attention::dense_attention`]) so a
//! 64 × 64 latent's 4096² scores per head are never made whole. Group norms run with their
//! SiLU fused ([`super::group_norm`]) and each ResNet block's residual sum inside its second
//! convolution.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{LayerNorm, VarBuilder, layer_norm};

use super::attention::dense_attention;
use super::conv::{Conv2dLayer, conv2d_layer};
use super::conv_cpu::{InputMap, OutputMap};
use super::elementwise::gelu_erf;
use super::group_norm::{GroupNorm, group_norm};
use super::linear::{Linear, linear, linear_no_bias};

/// One down block's shape (its up block mirrors it).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    /// Output channels.
    pub channels: usize,
    /// Attention heads of its transformers (`attention_head_dim` in SD configs).
    pub heads: usize,
    /// Whether its ResNet blocks are followed by transformers (`CrossAttn…Block2D`).
    pub attention: bool,
    /// Transformer layers per attention (the mid block takes the last block's).
    pub transformer_layers: usize,
}

/// The shape of a UNet, from unet/config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct UNetSpec {
    /// Latent channels in and out.
    pub in_channels: usize,
    /// Predicted channels.
    pub out_channels: usize,
    /// The down blocks, first to last.
    pub blocks: Vec<BlockSpec>,
    /// ResNet blocks per down block (one more per up block).
    pub layers_per_block: usize,
    /// Width of the text states attended to.
    pub cross_attention_dim: usize,
    /// GroupNorm groups.
    pub norm_groups: usize,
    /// GroupNorm epsilon of the ResNet blocks.
    pub norm_eps: f64,
    /// Projections in and out of the transformers are linear (SD 2.x) rather than 1×1
    /// convolutions (SD 1.x).
    pub linear_projection: bool,
    /// Timestep embedding: `[cos, sin]` instead of `[sin, cos]`.
    pub flip_sin_to_cos: bool,
    /// Timestep embedding's frequency shift.
    pub freq_shift: f64,
    /// Padding of the downsampling convolutions.
    pub downsample_padding: usize,
    /// Latent side the model was trained at.
    pub sample_size: usize,
    /// SDXL's added time embedding: `(addition_time_embed_dim,
    /// projection_class_embeddings_input_dim)`.
    pub addition: Option<(usize, usize)>,
}

/// SDXL's extra conditioning, one row per batch entry.
pub struct AddedConditions<'a> {
    /// The pooled, projected text `(batch, projection)`.
    pub text_embeds: &'a Tensor,
    /// Original size, crop corner and target size `(batch, 6)`.
    pub time_ids: &'a Tensor,
}

impl UNetSpec {
    /// How many times the UNet halves the latent (each side must divide by `2^downsamples`).
    pub fn downsamples(&self) -> usize {
        self.blocks.len().saturating_sub(1)
    }
}

/// diffusers' `ResnetBlock2D`: GroupNorm, SiLU, 3 × 3 convolution (plus the time embedding's
/// projection in the UNet), twice, over a 1 × 1 shortcut when the width changes. The VAE's
/// blocks are the same without the time.
pub struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2dLayer,
    time_proj: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv2dLayer,
    shortcut: Option<Conv2dLayer>,
}

impl ResnetBlock {
    /// Loads a block of `groups` GroupNorm groups (epsilon `eps`) taking a `time`-wide embedding
    /// when given.
    pub fn new(
        inputs: usize,
        outputs: usize,
        (groups, eps): (usize, f64),
        time: Option<usize>,
        vb: VarBuilder,
    ) -> Result<ResnetBlock> {
        Ok(ResnetBlock {
            norm1: group_norm(groups, inputs, eps, vb.pp("norm1"))?,
            conv1: conv2d_layer(inputs, outputs, 3, 1, 1, vb.pp("conv1"))?,
            time_proj: time
                .map(|time| linear(time, outputs, vb.pp("time_emb_proj")))
                .transpose()?,
            norm2: group_norm(groups, outputs, eps, vb.pp("norm2"))?,
            conv2: conv2d_layer(outputs, outputs, 3, 1, 1, vb.pp("conv2"))?,
            shortcut: (inputs != outputs)
                .then(|| conv2d_layer(inputs, outputs, 1, 1, 0, vb.pp("conv_shortcut")))
                .transpose()?,
        })
    }

    /// The block over `xs` `(batch, in, h, w)`, with the time embedding `(batch, time)` when it
    /// takes one.
    pub fn forward(&self, xs: &Tensor, time: Option<&Tensor>) -> Result<Tensor> {
        let mut h = self.conv1.forward(&self.norm1.forward_silu(xs)?)?;
        if let (Some(projection), Some(time)) = (&self.time_proj, time) {
            let t = projection.forward(&candle_nn::ops::silu(time)?)?;
            h = h.broadcast_add(&t.unsqueeze(2)?.unsqueeze(3)?)?;
        }
        let residual = match &self.shortcut {
            Some(shortcut) => shortcut.forward(xs)?,
            None => xs.clone(),
        };
        // The residual sum runs inside the second convolution's passes.
        self.conv2.forward_fused(
            &self.norm2.forward_silu(&h)?,
            InputMap::Identity,
            Some(&residual),
            OutputMap::Identity,
        )
    }
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn new(dim: usize, context: usize, heads: usize, vb: VarBuilder) -> Result<Attention> {
        Ok(Attention {
            q: linear_no_bias(dim, dim, vb.pp("to_q"))?,
            k: linear_no_bias(context, dim, vb.pp("to_k"))?,
            v: linear_no_bias(context, dim, vb.pp("to_v"))?,
            out: linear(dim, dim, vb.pp("to_out.0"))?,
            heads,
        })
    }

    /// `xs` `(batch, tokens, dim)` attending to `context` `(batch, keys, context_dim)`.
    fn forward(&self, xs: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (_, _, dim) = xs.dims3()?;
        let scale = ((dim / self.heads) as f64).powf(-0.5);
        let attended = dense_attention(
            &self.q.forward(xs)?,
            &self.k.forward(context)?,
            &self.v.forward(context)?,
            self.heads,
            scale,
        )?;
        self.out.forward(&attended)
    }
}

struct TransformerBlock {
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
}

impl TransformerBlock {
    fn new(dim: usize, context: usize, heads: usize, vb: VarBuilder) -> Result<TransformerBlock> {
        let inner = dim * 4;
        Ok(TransformerBlock {
            norm1: layer_norm(dim, 1e-5, vb.pp("norm1"))?,
            attn1: Attention::new(dim, dim, heads, vb.pp("attn1"))?,
            norm2: layer_norm(dim, 1e-5, vb.pp("norm2"))?,
            attn2: Attention::new(dim, context, heads, vb.pp("attn2"))?,
            norm3: layer_norm(dim, 1e-5, vb.pp("norm3"))?,
            ff_in: linear(dim, inner * 2, vb.pp("ff.net.0.proj"))?,
            ff_out: linear(inner, dim, vb.pp("ff.net.2"))?,
        })
    }

    fn forward(&self, xs: &Tensor, context: &Tensor) -> Result<Tensor> {
        let normed = self.norm1.forward(xs)?;
        let xs = (self.attn1.forward(&normed, &normed)? + xs)?;
        let xs = (self.attn2.forward(&self.norm2.forward(&xs)?, context)? + &xs)?;
        let projected = self.ff_in.forward(&self.norm3.forward(&xs)?)?;
        let halves = projected.chunk(2, D::Minus1)?;
        let gated = (&halves[0] * gelu_erf(&halves[1])?)?;
        self.ff_out.forward(&gated)? + xs
    }
}

enum Projection {
    Linear(Linear),
    Conv(Box<Conv2dLayer>),
}

/// diffusers' `Transformer2DModel` over a feature map.
struct SpatialTransformer {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

impl SpatialTransformer {
    fn new(
        channels: usize,
        heads: usize,
        layers: usize,
        spec: &UNetSpec,
        vb: VarBuilder,
    ) -> Result<SpatialTransformer> {
        let projection = |name: &str| -> Result<Projection> {
            Ok(if spec.linear_projection {
                Projection::Linear(linear(channels, channels, vb.pp(name))?)
            } else {
                Projection::Conv(Box::new(conv2d_layer(
                    channels,
                    channels,
                    1,
                    1,
                    0,
                    vb.pp(name),
                )?))
            })
        };
        Ok(SpatialTransformer {
            norm: group_norm(spec.norm_groups, channels, 1e-6, vb.pp("norm"))?,
            proj_in: projection("proj_in")?,
            blocks: (0..layers)
                .map(|i| {
                    TransformerBlock::new(
                        channels,
                        spec.cross_attention_dim,
                        heads,
                        vb.pp("transformer_blocks").pp(i),
                    )
                })
                .collect::<Result<_>>()?,
            proj_out: projection("proj_out")?,
        })
    }

    fn forward(&self, xs: &Tensor, context: &Tensor) -> Result<Tensor> {
        let (batch, channels, height, width) = xs.dims4()?;
        let to_tokens = |t: Tensor| t.flatten_from(2)?.transpose(1, 2)?.contiguous();
        let to_map = |t: Tensor| t.transpose(1, 2)?.reshape((batch, channels, height, width));
        let normed = self.norm.forward(xs)?;
        let mut h = match &self.proj_in {
            Projection::Linear(p) => p.forward(&to_tokens(normed)?)?,
            Projection::Conv(p) => to_tokens(p.forward(&normed)?)?,
        };
        for block in &self.blocks {
            h = block.forward(&h, context)?;
        }
        let h = match &self.proj_out {
            Projection::Linear(p) => to_map(p.forward(&h)?)?,
            Projection::Conv(p) => p.forward(&to_map(h)?)?,
        };
        h + xs
    }
}

/// One level of the UNet: ResNet blocks, each optionally followed by a transformer.
struct Level {
    resnets: Vec<ResnetBlock>,
    attentions: Vec<SpatialTransformer>,
    /// Downsampling (down blocks) or upsampling (up blocks) convolution.
    resample: Option<Conv2dLayer>,
}

/// A loaded UNet.
pub struct SdUNet {
    time_1: Linear,
    time_2: Linear,
    addition: Option<(Linear, Linear)>,
    conv_in: Conv2dLayer,
    down: Vec<Level>,
    mid: Level,
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2dLayer,
    spec: UNetSpec,
}

impl SdUNet {
    /// Loads the weights for `spec` (diffusers' names).
    pub fn new(vb: VarBuilder, spec: &UNetSpec) -> Result<SdUNet> {
        let channels: Vec<usize> = spec.blocks.iter().map(|b| b.channels).collect();
        let n = channels.len();
        let base = channels[0];
        let time = base * 4;
        let norms = (spec.norm_groups, spec.norm_eps);
        let attentions = |block: &BlockSpec,
                          count: usize,
                          width: usize,
                          vb: VarBuilder|
         -> Result<Vec<SpatialTransformer>> {
            if !block.attention {
                return Ok(Vec::new());
            }
            (0..count)
                .map(|j| {
                    SpatialTransformer::new(
                        width,
                        block.heads,
                        block.transformer_layers,
                        spec,
                        vb.pp("attentions").pp(j),
                    )
                })
                .collect()
        };
        let mut down = Vec::with_capacity(n);
        for (i, block) in spec.blocks.iter().enumerate() {
            let vb = vb.pp("down_blocks").pp(i);
            let inputs = if i == 0 { base } else { channels[i - 1] };
            let resnets = (0..spec.layers_per_block)
                .map(|j| {
                    let from = if j == 0 { inputs } else { block.channels };
                    ResnetBlock::new(
                        from,
                        block.channels,
                        norms,
                        Some(time),
                        vb.pp("resnets").pp(j),
                    )
                })
                .collect::<Result<_>>()?;
            down.push(Level {
                resnets,
                attentions: attentions(block, spec.layers_per_block, block.channels, vb.clone())?,
                resample: (i + 1 < n)
                    .then(|| {
                        conv2d_layer(
                            block.channels,
                            block.channels,
                            3,
                            2,
                            spec.downsample_padding,
                            vb.pp("downsamplers.0.conv"),
                        )
                    })
                    .transpose()?,
            });
        }
        let last = &spec.blocks[n - 1];
        let mid_vb = vb.pp("mid_block");
        let mid_block = BlockSpec {
            attention: true,
            ..last.clone()
        };
        let mid = Level {
            resnets: (0..2)
                .map(|j| {
                    ResnetBlock::new(
                        last.channels,
                        last.channels,
                        norms,
                        Some(time),
                        mid_vb.pp("resnets").pp(j),
                    )
                })
                .collect::<Result<_>>()?,
            attentions: attentions(&mid_block, 1, last.channels, mid_vb.clone())?,
            resample: None,
        };
        let mut up = Vec::with_capacity(n);
        for i in 0..n {
            let vb = vb.pp("up_blocks").pp(i);
            let block = &spec.blocks[n - 1 - i];
            let outputs = block.channels;
            let previous = if i == 0 {
                outputs
            } else {
                spec.blocks[n - i].channels
            };
            let skip_input = spec.blocks[(n - 1 - i).saturating_sub(1)].channels;
            let layers = spec.layers_per_block + 1;
            let resnets = (0..layers)
                .map(|j| {
                    let skip = if j + 1 == layers { skip_input } else { outputs };
                    let from = if j == 0 { previous } else { outputs };
                    ResnetBlock::new(
                        from + skip,
                        outputs,
                        norms,
                        Some(time),
                        vb.pp("resnets").pp(j),
                    )
                })
                .collect::<Result<_>>()?;
            up.push(Level {
                resnets,
                attentions: attentions(block, layers, outputs, vb.clone())?,
                resample: (i + 1 < n)
                    .then(|| conv2d_layer(outputs, outputs, 3, 1, 1, vb.pp("upsamplers.0.conv")))
                    .transpose()?,
            });
        }
        Ok(SdUNet {
            time_1: linear(base, time, vb.pp("time_embedding.linear_1"))?,
            time_2: linear(time, time, vb.pp("time_embedding.linear_2"))?,
            addition: spec
                .addition
                .map(|(_, inputs)| -> Result<(Linear, Linear)> {
                    Ok((
                        linear(inputs, time, vb.pp("add_embedding.linear_1"))?,
                        linear(time, time, vb.pp("add_embedding.linear_2"))?,
                    ))
                })
                .transpose()?,
            conv_in: conv2d_layer(spec.in_channels, base, 3, 1, 1, vb.pp("conv_in"))?,
            down,
            mid,
            up,
            norm_out: group_norm(
                spec.norm_groups,
                base,
                spec.norm_eps,
                vb.pp("conv_norm_out"),
            )?,
            conv_out: conv2d_layer(base, spec.out_channels, 3, 1, 1, vb.pp("conv_out"))?,
            spec: spec.clone(),
        })
    }

    /// The prediction for latents `(batch, c, h, w)` at `timestep`, conditioned on `context`
    /// `(batch, tokens, cross_attention_dim)` and, for SDXL, on `added`.
    pub fn forward(
        &self,
        latents: &Tensor,
        timestep: f64,
        context: &Tensor,
        added: Option<AddedConditions>,
    ) -> Result<Tensor> {
        let batch = latents.dim(0)?;
        let device = latents.device();
        let channels = self.spec.blocks[0].channels;
        let embedding = sinusoids(&[timestep as f32], channels, &self.spec, device)?
            .broadcast_as((batch, channels))?
            .contiguous()?;
        let mut time = self
            .time_2
            .forward(&candle_nn::ops::silu(&self.time_1.forward(&embedding)?)?)?;
        match (&self.addition, self.spec.addition, added) {
            (Some((linear_1, linear_2)), Some((width, _)), Some(added)) => {
                let ids: Vec<f32> = added.time_ids.flatten_all()?.to_vec1()?;
                let times = sinusoids(&ids, width, &self.spec, device)?
                    .reshape((batch, ids.len() / batch * width))?;
                let inputs = Tensor::cat(&[added.text_embeds, &times], 1)?;
                let extra =
                    linear_2.forward(&candle_nn::ops::silu(&linear_1.forward(&inputs)?)?)?;
                time = (time + extra)?;
            }
            (None, _, None) => {}
            _ => {
                return Err(candle_core::Error::Msg(
                    "SDXL's UNet needs the pooled text and size ids; other UNets take none".into(),
                ));
            }
        }

        let mut xs = self.conv_in.forward(latents)?;
        let mut skips = vec![xs.clone()];
        for level in &self.down {
            for (j, resnet) in level.resnets.iter().enumerate() {
                xs = resnet.forward(&xs, Some(&time))?;
                if let Some(attention) = level.attentions.get(j) {
                    xs = attention.forward(&xs, context)?;
                }
                skips.push(xs.clone());
            }
            if let Some(downsample) = &level.resample {
                xs = downsample.forward(&xs)?;
                skips.push(xs.clone());
            }
        }
        xs = self.mid.resnets[0].forward(&xs, Some(&time))?;
        xs = self.mid.attentions[0].forward(&xs, context)?;
        xs = self.mid.resnets[1].forward(&xs, Some(&time))?;
        for level in &self.up {
            for (j, resnet) in level.resnets.iter().enumerate() {
                let skip = skips
                    .pop()
                    .ok_or_else(|| candle_core::Error::Msg("the UNet ran out of skips".into()))?;
                xs = resnet.forward(&Tensor::cat(&[&xs, &skip], 1)?, Some(&time))?;
                if let Some(attention) = level.attentions.get(j) {
                    xs = attention.forward(&xs, context)?;
                }
            }
            if let Some(upsample) = &level.resample {
                let (_, _, h, w) = xs.dims4()?;
                xs = upsample.forward(&xs.upsample_nearest2d(h * 2, w * 2)?)?;
            }
        }
        let xs = self.norm_out.forward_silu(&xs)?;
        self.conv_out.forward(&xs)
    }
}

/// diffusers' `get_timestep_embedding` of each value `(values, channels)`, in f32 and in its
/// order of operations.
fn sinusoids(values: &[f32], channels: usize, spec: &UNetSpec, device: &Device) -> Result<Tensor> {
    let half = channels / 2;
    let log_period = -(10000f64.ln()) as f32;
    let divisor = (half as f64 - spec.freq_shift) as f32;
    let frequencies: Vec<f32> = (0..half)
        .map(|i| ((log_period * i as f32) / divisor).exp())
        .collect();
    let mut rows = Vec::with_capacity(values.len() * channels);
    for value in values {
        let angles = frequencies.iter().map(|f| value * f);
        let (sin, cos): (Vec<f32>, Vec<f32>) = angles.map(|a| (a.sin(), a.cos())).unzip();
        if spec.flip_sin_to_cos {
            rows.extend(cos.into_iter().chain(sin));
        } else {
            rows.extend(sin.into_iter().chain(cos));
        }
    }
    Tensor::from_vec(rows, (values.len(), channels), device)?.to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestep_embedding_is_diffusers() {
        let spec = UNetSpec {
            in_channels: 4,
            out_channels: 4,
            blocks: Vec::new(),
            layers_per_block: 2,
            cross_attention_dim: 768,
            norm_groups: 32,
            norm_eps: 1e-5,
            linear_projection: false,
            flip_sin_to_cos: true,
            freq_shift: 0.0,
            downsample_padding: 1,
            sample_size: 64,
            addition: None,
        };
        let embedding: Vec<f32> = sinusoids(&[1.0], 4, &spec, &Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        // t = 1: angles 1 and 1e-2 (10000^(-1/2)); flipped: cos first.
        let expected = [1f32.cos(), 0.01f32.cos(), 1f32.sin(), 0.01f32.sin()];
        for (a, b) in embedding.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{embedding:?}");
        }
        assert_eq!(spec.downsamples(), 0);
    }
}
