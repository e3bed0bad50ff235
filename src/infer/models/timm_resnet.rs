//! timm's ResNet weight names (`conv1`/`bn1` stem, `layerS.B.{conv,bn}K`, `downsample.{0,1}`), as
//! DETR checkpoints with `use_timm_backbone` ship them (`model.backbone.conv_encoder.model.…`),
//! loaded into the shared [`Backbone`] of `crate::infer::models::resnet`. The structure is read from the
//! weights (block count per stage, basic or bottleneck, widths), since config.json only names the
//! timm model (`resnet50`). Batch norms are DETR's frozen ones: running statistics, eps 1e-5.

use candle_nn::VarBuilder;

use crate::infer::InferError;
use crate::infer::models::resnet::{Backbone, Block, ConvLayer};

/// Loads timm's ResNet (`resnet18/34/50/101/152` layouts, stride 32) from `vb`.
pub fn load(vb: VarBuilder) -> Result<Backbone, InferError> {
    if vb.contains_tensor("conv1.0.weight") || vb.contains_tensor("layer1.0.downsample.2.weight") {
        return Err(InferError::NotSupported {
            architecture: "timm ResNet with a deep stem or average-pool shortcut (resnet-d)".into(),
            task: "object-detection".into(),
        });
    }
    let (stem, channels) = conv(&vb, "conv1", "bn1", 2, true)?;
    let bottleneck = vb.contains_tensor("layer1.0.conv3.weight");
    let mut blocks = Vec::new();
    let mut channels = channels;
    for stage in 1..=4 {
        let layer = vb.pp(format!("layer{stage}"));
        let mut index = 0;
        while layer.contains_tensor(&format!("{index}.conv1.weight")) {
            let b = layer.pp(index.to_string());
            let stride = if stage > 1 && index == 0 { 2 } else { 1 };
            let (block, out) = block(&b, stride, bottleneck)?;
            blocks.push(block);
            channels = out;
            index += 1;
        }
        if index == 0 {
            return Err(InferError::Model(format!(
                "timm ResNet backbone: no blocks under {}",
                layer.prefix()
            )));
        }
    }
    Ok(Backbone::new(stem, blocks, channels))
}

/// timm's `Bottleneck` (1×1, 3×3 with the stride, 1×1) or `BasicBlock` (3×3 with the stride,
/// 3×3), with `downsample` (1×1 with the stride + batch norm) when it has one; and its output
/// channels.
fn block(vb: &VarBuilder, stride: usize, bottleneck: bool) -> Result<(Block, usize), InferError> {
    let mut layers = Vec::new();
    let names: &[(&str, &str, usize)] = if bottleneck {
        &[
            ("conv1", "bn1", 1),
            ("conv2", "bn2", stride),
            ("conv3", "bn3", 1),
        ]
    } else {
        &[("conv1", "bn1", stride), ("conv2", "bn2", 1)]
    };
    let mut out = 0;
    for (i, &(c, n, s)) in names.iter().enumerate() {
        let (layer, channels) = conv(vb, c, n, s, i + 1 < names.len())?;
        layers.push(layer);
        out = channels;
    }
    let shortcut = if vb.contains_tensor("downsample.0.weight") {
        Some(conv(vb, "downsample.0", "downsample.1", stride, false)?.0)
    } else {
        None
    };
    Ok((Block::new(layers, shortcut), out))
}

/// A square convolution (padding k/2, shape read from the weight) and its batch norm; and its
/// output channels.
fn conv(
    vb: &VarBuilder,
    conv: &str,
    norm: &str,
    stride: usize,
    relu: bool,
) -> Result<(ConvLayer, usize), InferError> {
    let (c_out, c_in, kernel, _) = vb.get_unchecked(&format!("{conv}.weight"))?.dims4()?;
    let layer = ConvLayer::load(
        vb.pp(conv),
        vb.pp(norm),
        (c_in, c_out, kernel, stride),
        relu,
    )?;
    Ok((layer, c_out))
}
