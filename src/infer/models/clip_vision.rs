//! CLIP's vision tower (transformers' `CLIPVisionTransformer`: `embeddings.{patch_embedding,
//! class_embedding,position_embedding}`, `pre_layrnorm`, `encoder.layers.N.{self_attn.
//! {q,k,v,out}_proj,layer_norm1,mlp.fc1,mlp.fc2,layer_norm2}`), for LLaVA's image features.
//!
//! Its layers are ViT's pre-norm layers ([`super::vit::Layer`]) under CLIP's names, with the
//! quick GELU (`x · σ(1.702 x)`) fused into the first MLP product on the CPU; attention goes by
//! blocks of queries ([`super::attention::dense_attention`]). It runs only the layers whose
//! hidden states are asked for: LLaVA reads the second-to-last layer's, so the last layer
//! (candle-transformers' CLIP and transformers' both run it) is never computed.

use candle_core::{Module, Tensor};
use candle_nn::{Conv2dConfig, LayerNorm, VarBuilder, conv2d_no_bias, layer_norm};

use super::attention::MultiHeadAttention;
use super::conv::Conv2dLayer;
use super::linear::linear;
use super::vit::{Layer, MlpActivation, PatchEmbedding};

/// LayerNorm epsilon of transformers' CLIP (`layer_norm_eps`' default; LLaVA's config checks it).
const EPS: f64 = 1e-5;

/// The shape of a CLIP vision tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipVisionShape {
    /// Hidden width.
    pub hidden: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Input channels.
    pub channels: usize,
    /// Image side in pixels.
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
}

/// A loaded CLIP vision tower (no post-layernorm or projection: LLaVA reads hidden states).
pub struct ClipVision {
    embedding: PatchEmbedding,
    pre_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl ClipVision {
    /// Loads the tower under `vb` (the `vision_model` level).
    pub fn load(vb: VarBuilder, shape: &ClipVisionShape) -> candle_core::Result<ClipVision> {
        let d = shape.hidden;
        let e = vb.pp("embeddings");
        let grid = shape.image_size / shape.patch_size;
        let stride = Conv2dConfig {
            stride: shape.patch_size,
            ..Default::default()
        };
        let patches = conv2d_no_bias(
            shape.channels,
            d,
            shape.patch_size,
            stride,
            e.pp("patch_embedding"),
        )?;
        let embedding = PatchEmbedding::new(
            Conv2dLayer::new(patches)?,
            &e.get(d, "class_embedding")?,
            &e.get((1 + grid * grid, d), "position_embedding.weight")?,
        )?;
        let layers = (0..shape.layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layers.{i}"));
                let a = l.pp("self_attn");
                let projections = [
                    linear(d, d, a.pp("q_proj"))?,
                    linear(d, d, a.pp("k_proj"))?,
                    linear(d, d, a.pp("v_proj"))?,
                    linear(d, d, a.pp("out_proj"))?,
                ];
                let mlp = (
                    linear(d, shape.intermediate, l.pp("mlp.fc1"))?,
                    MlpActivation::QuickGelu,
                    linear(shape.intermediate, d, l.pp("mlp.fc2"))?,
                );
                let norms = (
                    layer_norm(d, EPS, l.pp("layer_norm1"))?,
                    layer_norm(d, EPS, l.pp("layer_norm2"))?,
                );
                Ok(Layer::from_parts(
                    MultiHeadAttention::from_projections(projections, d, shape.heads),
                    mlp,
                    norms,
                ))
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(ClipVision {
            embedding,
            pre_norm: layer_norm(d, EPS, vb.pp("pre_layrnorm"))?,
            layers,
        })
    }

    /// The hidden states after layers `1..=last` (transformers' `hidden_states[1..=last]`), each
    /// `(batch, 1 + patches, hidden)`, of pixel values `(batch, channels, size, size)`.
    pub fn hidden_states(&self, pixels: &Tensor, last: usize) -> candle_core::Result<Vec<Tensor>> {
        if last == 0 || last > self.layers.len() {
            candle_core::bail!(
                "hidden state {last} of a {}-layer vision tower",
                self.layers.len()
            );
        }
        let embedded = self
            .embedding
            .forward(pixels)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut x = self.pre_norm.forward(&embedded)?;
        let mut states = Vec::with_capacity(last);
        for layer in &self.layers[..last] {
            x = layer.forward(&x)?;
            states.push(x.clone());
        }
        Ok(states)
    }
}
