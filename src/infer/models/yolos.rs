//! YOLOS (`YolosForObjectDetection`) with transformers' weight names: a pre-norm ViT over
//! `[CLS] + patches + detection tokens`, the position embeddings (and the mid-layer ones, added
//! after every layer but the last) resized from config.json's `image_size` grid to the input's
//! with PyTorch's bicubic interpolation (`align_corners=False`), then DETR's heads (an MLP for
//! the classes, an MLP + sigmoid for the boxes) on the detection tokens.

use candle_core::{Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, VarBuilder, conv2d, layer_norm};
use serde::Deserialize;
use serde_json::Value;

use super::detr::PredictionHead;
use super::vit::{EncoderConfig, Layer};
use crate::infer::InferError;

/// The config.json fields YOLOS needs (defaults as `YolosConfig`'s).
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(flatten)]
    encoder: EncoderConfig,
    #[serde(default = "image_size")]
    image_size: ImageSize,
    #[serde(default = "patch")]
    patch_size: usize,
    #[serde(default = "three")]
    num_channels: usize,
    #[serde(default = "detection_tokens")]
    num_detection_tokens: usize,
    #[serde(default = "yes")]
    use_mid_position_embeddings: bool,
}

/// `image_size`: `[height, width]` or one side of a square.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum ImageSize {
    Square(usize),
    Sides([usize; 2]),
}

fn image_size() -> ImageSize {
    ImageSize::Sides([512, 864])
}
fn patch() -> usize {
    16
}
fn three() -> usize {
    3
}
fn yes() -> bool {
    true
}
fn detection_tokens() -> usize {
    100
}

/// For each output index of a 1-D resize from `input` to `output` samples, PyTorch's bicubic
/// taps (`align_corners=False`, A = -0.75, borders clamped): four source indices and weights.
fn cubic_taps(input: usize, output: usize) -> Vec<([usize; 4], [f32; 4])> {
    const A: f32 = -0.75;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| {
            let src = scale * (i as f32 + 0.5) - 0.5;
            let floor = src.floor();
            let t = src - floor;
            let index = |k: i64| (floor as i64 + k).clamp(0, input as i64 - 1) as usize;
            (
                [index(-1), index(0), index(1), index(2)],
                [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)],
            )
        })
        .collect()
}

/// Resizes the patch rows of position embeddings `(1 + grid + tokens, d)` from the `from` grid
/// (rows, columns) to `to`, keeping the `[CLS]` row and the `tokens` detection rows.
fn resize_positions(
    pos: &Tensor,
    from: (usize, usize),
    to: (usize, usize),
    tokens: usize,
) -> candle_core::Result<Tensor> {
    if from == to {
        return Ok(pos.clone());
    }
    let d = pos.dim(1)?;
    let patches: Vec<f32> = pos
        .narrow(0, 1, from.0 * from.1)?
        .flatten_all()?
        .to_vec1()?;
    let (rows, cols) = (cubic_taps(from.0, to.0), cubic_taps(from.1, to.1));
    // Along the columns, then along the rows, position-major `(row, column, d)`.
    let mut wide = vec![0f32; from.0 * to.1 * d];
    for r in 0..from.0 {
        for (c, (idx, w)) in cols.iter().enumerate() {
            let out = &mut wide[(r * to.1 + c) * d..][..d];
            for (&i, &w) in idx.iter().zip(w) {
                let src = &patches[(r * from.1 + i) * d..][..d];
                out.iter_mut().zip(src).for_each(|(o, s)| *o += w * s);
            }
        }
    }
    let mut resized = vec![0f32; to.0 * to.1 * d];
    for (r, (idx, w)) in rows.iter().enumerate() {
        for c in 0..to.1 {
            let out = &mut resized[(r * to.1 + c) * d..][..d];
            for (&i, &w) in idx.iter().zip(w) {
                let src = &wide[(i * to.1 + c) * d..][..d];
                out.iter_mut().zip(src).for_each(|(o, s)| *o += w * s);
            }
        }
    }
    let resized = Tensor::from_vec(resized, (to.0 * to.1, d), pos.device())?;
    let len = pos.dim(0)?;
    Tensor::cat(
        &[
            &pos.narrow(0, 0, 1)?,
            &resized,
            &pos.narrow(0, len - tokens, tokens)?,
        ],
        0,
    )
}

/// `YolosForObjectDetection` for one image.
pub struct Yolos {
    patch_embedding: Conv2d,
    cls_token: Tensor,
    detection_tokens: Tensor,
    positions: Tensor,
    mid_positions: Option<Tensor>,
    layers: Vec<Layer>,
    norm: LayerNorm,
    class_head: PredictionHead,
    box_head: PredictionHead,
    grid: (usize, usize),
    patch_size: usize,
}

impl Yolos {
    /// Loads the weights under `vb` (the checkpoint's root) with `config` (config.json).
    pub fn load(vb: VarBuilder, config: &Value) -> Result<Yolos, InferError> {
        let c: Config = serde_json::from_value(config.clone())
            .map_err(|e| InferError::Model(format!("config.json (YOLOS): {e}")))?;
        let (height, width) = match c.image_size {
            ImageSize::Square(s) => (s, s),
            ImageSize::Sides([h, w]) => (h, w),
        };
        let (p, e, tokens) = (c.patch_size, &c.encoder, c.num_detection_tokens);
        e.check("YOLOS")?;
        if p == 0 {
            return Err(InferError::Model(
                "config.json (YOLOS): patch_size must be positive".into(),
            ));
        }
        let d = e.hidden_size;
        let grid = (height / p, width / p);
        let len = 1 + grid.0 * grid.1 + tokens;
        let vit = vb.pp("vit");
        let emb = vit.pp("embeddings");
        let cfg = Conv2dConfig {
            stride: p,
            ..Default::default()
        };
        let mid_positions = if c.use_mid_position_embeddings && e.num_hidden_layers > 1 {
            let shape = (e.num_hidden_layers - 1, 1, len, d);
            let name = "encoder.mid_position_embeddings";
            Some(if vit.contains_tensor(name) {
                vit.get(shape, name)?
            } else {
                vit.get(shape, "encoder.interpolation.mid_position_embeddings")?
            })
        } else {
            None
        };
        let layers = (0..e.num_hidden_layers)
            .map(|i| Layer::load(vit.pp(format!("encoder.layer.{i}")), e))
            .collect::<candle_core::Result<_>>()?;
        Ok(Yolos {
            patch_embedding: conv2d(
                c.num_channels,
                d,
                p,
                cfg,
                emb.pp("patch_embeddings.projection"),
            )?,
            cls_token: emb.get((1, 1, d), "cls_token")?.reshape((1, d))?,
            detection_tokens: emb.get((1, tokens, d), "detection_tokens")?.squeeze(0)?,
            positions: emb.get((1, len, d), "position_embeddings")?.squeeze(0)?,
            mid_positions: mid_positions.map(|m| m.squeeze(1)).transpose()?,
            layers,
            norm: layer_norm(d, e.layer_norm_eps, vit.pp("layernorm"))?,
            class_head: PredictionHead::load(vb.pp("class_labels_classifier"), 3)?,
            box_head: PredictionHead::load(vb.pp("bbox_predictor"), 3)?,
            grid,
            patch_size: p,
        })
    }

    /// Logits `(detection tokens, labels + 1)` (the last column is no-object) and boxes
    /// `(detection tokens, 4)` (`cx, cy, w, h` relative to the image) of pixel values
    /// `(1, 3, H, W)`.
    pub fn forward(&self, pixels: &Tensor) -> Result<(Tensor, Tensor), InferError> {
        let (batch, _, height, width) = pixels.dims4()?;
        if batch != 1 {
            return Err(InferError::InvalidInput(format!(
                "YOLOS runs one image at a time, not {batch}"
            )));
        }
        let to = (height / self.patch_size, width / self.patch_size);
        if to.0 == 0 || to.1 == 0 {
            return Err(InferError::InvalidInput(format!(
                "the image ({width} × {height} after preprocessing) is smaller than a patch"
            )));
        }
        let tokens = self.detection_tokens.dim(0)?;
        let patches = self
            .patch_embedding
            .forward(pixels)?
            .flatten_from(2)?
            .squeeze(0)?
            .t()?;
        let mut x = Tensor::cat(&[&self.cls_token, &patches, &self.detection_tokens], 0)?;
        x = (x + resize_positions(&self.positions, self.grid, to, tokens)?)?.unsqueeze(0)?;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?;
            if let Some(mid) = &self.mid_positions
                && i < last
            {
                x = x.broadcast_add(&resize_positions(&mid.get(i)?, self.grid, to, tokens)?)?;
            }
        }
        let x = self.norm.forward(&x.squeeze(0)?)?;
        let x = x.narrow(0, x.dim(0)? - tokens, tokens)?;
        let logits = self.class_head.forward(&x)?;
        let boxes = candle_nn::ops::sigmoid(&self.box_head.forward(&x)?)?;
        Ok((logits, boxes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_taps_sum_to_one_and_copy_at_equal_sizes() {
        for (input, output) in [(4, 8), (6, 12), (8, 5)] {
            for (_, w) in cubic_taps(input, output) {
                assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
        let same = cubic_taps(5, 5);
        assert_eq!(same[2], ([1, 2, 3, 4], [0.0, 1.0, 0.0, 0.0]));
        // 4 → 8: output 0 reads source -0.25, clamped at the border.
        assert_eq!(cubic_taps(4, 8)[0].0, [0, 0, 0, 1]);
    }

    #[test]
    fn resize_keeps_cls_and_detection_rows() {
        let pos = Tensor::arange(0f32, 2.0 * (1 + 4 + 3) as f32, &candle_core::Device::Cpu)
            .unwrap()
            .reshape((8, 2))
            .unwrap();
        let out = resize_positions(&pos, (2, 2), (3, 4), 3).unwrap();
        assert_eq!(out.dims(), [1 + 12 + 3, 2]);
        let rows: Vec<Vec<f32>> = out.to_vec2().unwrap();
        assert_eq!(rows[0], [0.0, 1.0]);
        assert_eq!(rows[13..], [[10.0, 11.0], [12.0, 13.0], [14.0, 15.0]]);
    }
}
