//! Group normalisation, optionally followed by SiLU (Stable Diffusion's UNet and VAE):
//! `hubble_kernels::group_norm` on F32 CPU tensors (two threaded passes, SiLU in the second),
//! candle's `GroupNorm` and SiLU elsewhere (nine single-threaded passes on the CPU).

use candle_core::{CpuStorage, CustomOp1, Layout, Module, Result, Shape, Tensor, bail};
use candle_nn::VarBuilder;

use super::elementwise::{contiguous_f32s, cpu_f32};

/// A group normalisation layer over `(batch, channels, …)`.
pub struct GroupNorm {
    candle: candle_nn::GroupNorm,
    /// The weight's and bias' values, for the CPU kernel.
    weight: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    groups: usize,
    eps: f64,
}

/// Loads `weight` and `bias` (`channels` each) under `vb`.
pub fn group_norm(groups: usize, channels: usize, eps: f64, vb: VarBuilder) -> Result<GroupNorm> {
    let (weight, bias) = (vb.get(channels, "weight")?, vb.get(channels, "bias")?);
    let values = |t: &Tensor| t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>();
    Ok(GroupNorm {
        weight: values(&weight)?,
        bias: values(&bias)?,
        candle: candle_nn::GroupNorm::new(weight, bias, channels, groups, eps)?,
        channels,
        groups,
        eps,
    })
}

impl GroupNorm {
    /// The normalisation followed by SiLU.
    pub fn forward_silu(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(xs, true)
    }

    fn run(&self, xs: &Tensor, silu: bool) -> Result<Tensor> {
        if cpu_f32(xs) {
            return xs
                .contiguous()?
                .apply_op1_no_bwd(&GroupNormOp { norm: self, silu });
        }
        let ys = self.candle.forward(xs)?;
        if silu {
            candle_nn::ops::silu(&ys)
        } else {
            Ok(ys)
        }
    }
}

impl Module for GroupNorm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(xs, false)
    }
}

/// [`GroupNorm`]'s CPU kernel as a candle operation.
struct GroupNormOp<'a> {
    norm: &'a GroupNorm,
    silu: bool,
}

impl CustomOp1 for GroupNormOp<'_> {
    fn name(&self) -> &'static str {
        "group-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims();
        let norm = self.norm;
        if dims.len() < 2 || dims[1] != norm.channels {
            bail!("group norm over {} channels given {dims:?}", norm.channels);
        }
        let values = contiguous_f32s(storage, layout)?;
        let shape = hubble_kernels::GroupNorm {
            channels: norm.channels,
            plane: dims[2..].iter().product(),
            groups: norm.groups,
            eps: norm.eps,
            silu: self.silu,
        };
        let mut out = vec![0f32; values.len()];
        hubble_kernels::group_norm(&shape, values, &norm.weight, &norm.bias, &mut out)
            .map_err(|e| candle_core::Error::Msg(e.0))?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn matches_candle_with_and_without_silu() {
        let device = Device::Cpu;
        let weight = Tensor::randn(1f32, 0.5, 8, &device).unwrap();
        let bias = Tensor::randn(0f32, 0.5, 8, &device).unwrap();
        let vb = VarBuilder::from_tensors(
            [("weight".to_string(), weight), ("bias".to_string(), bias)].into(),
            candle_core::DType::F32,
            &device,
        );
        let norm = group_norm(4, 8, 1e-6, vb).unwrap();
        let xs = (Tensor::randn(0.5f32, 2.0, (2, 8, 5, 7), &device).unwrap() * 1.0).unwrap();
        let expected = norm.candle.forward(&xs).unwrap();
        let max_diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(max_diff(&norm.forward(&xs).unwrap(), &expected) < 1e-5);
        let silu = candle_nn::ops::silu(&expected).unwrap();
        assert!(max_diff(&norm.forward_silu(&xs).unwrap(), &silu) < 1e-5);
        // A transposed (non-contiguous) input.
        let xt = xs.transpose(2, 3).unwrap();
        assert!(
            max_diff(
                &norm.forward(&xt).unwrap(),
                &norm.candle.forward(&xt).unwrap()
            ) < 1e-5
        );
    }
}
