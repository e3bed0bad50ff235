//! Elementwise operations through `hubble_kernels`' vectorised ones for F32 tensors on the CPU,
//! candle's elsewhere: the exact (erf) GELU of transformers' `"gelu"` (about 17× candle's scalar
//! `erff` per value on one core) and the softmax over the last dimension (candle's calls a
//! scalar `expf` per value).

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, bail};
use candle_nn::Activation;

/// `x/2 · (1 + erf(x/√2))` elementwise.
pub fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == DType::F32 {
        xs.contiguous()?.apply_op1_no_bwd(&GeluErf)
    } else {
        xs.gelu_erf()
    }
}

/// `act` applied to `xs`, its exact GELU through [`gelu_erf`].
pub fn activate(act: Activation, xs: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Gelu => gelu_erf(xs),
        other => xs.apply(&other),
    }
}

/// The softmax over the last dimension.
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == DType::F32 && xs.rank() > 0 {
        xs.contiguous()?.apply_op1_no_bwd(&SoftmaxLastDim)
    } else {
        candle_nn::ops::softmax_last_dim(xs)
    }
}

/// [`gelu_erf`] as a candle operation on contiguous F32 values.
struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut out = contiguous_copy(storage, layout)?;
        hubble_kernels::gelu_erf(&mut out);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// [`softmax_last_dim`] as a candle operation on contiguous F32 values.
struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut out = contiguous_copy(storage, layout)?;
        let row = *layout.dims().last().unwrap_or(&1);
        hubble_kernels::softmax_rows(&mut out, row);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// A copy of contiguous F32 values.
fn contiguous_copy(storage: &CpuStorage, layout: &Layout) -> Result<Vec<f32>> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(values), Some((start, end))) => Ok(values[start..end].to_vec()),
        _ => bail!("contiguous F32 input only"),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// Against candle's scalar `gelu_erf` and softmax on a non-contiguous input.
    #[test]
    fn matches_candle() {
        let xs = Tensor::randn(0f32, 3.0, (6, 50), &Device::Cpu)
            .unwrap()
            .t()
            .unwrap();
        let ours = activate(Activation::Gelu, &xs).unwrap();
        let candle = xs.gelu_erf().unwrap();
        assert_eq!(ours.dims(), candle.dims());
        let diff = (ours - candle)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap();
        assert!(diff.max(0).unwrap().to_scalar::<f32>().unwrap() < 1e-5);
        let ours = softmax_last_dim(&xs).unwrap();
        let candle = candle_nn::ops::softmax_last_dim(&xs.contiguous().unwrap()).unwrap();
        let diff = (ours - candle)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap();
        assert!(diff.max(0).unwrap().to_scalar::<f32>().unwrap() < 1e-6);
    }
}
