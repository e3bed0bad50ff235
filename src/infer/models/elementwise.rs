//! Elementwise operations through `hubble_kernels`' vectorised ones for F32 tensors on the CPU,
//! candle's elsewhere: the exact (erf) GELU of transformers' `"gelu"` (about 17× candle's scalar
//! `erff` per value on one core) and the softmax over the last dimension (candle's calls a
//! scalar `expf` per value).

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, bail};
use candle_nn::Activation;
use hubble_kernels::OutputMap;

/// `x/2 · (1 + erf(x/√2))` elementwise.
pub fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    let op = SliceOp {
        name: "gelu-erf",
        apply: |values, _| hubble_kernels::gelu_erf(values),
    };
    op.or_candle(xs, Tensor::gelu_erf)
}

/// `act` applied to `xs`, its exact GELU through [`gelu_erf`].
pub fn activate(act: Activation, xs: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Gelu => gelu_erf(xs),
        other => xs.apply(&other),
    }
}

/// `map` applied to `xs` with candle's ops (the exact GELU through [`gelu_erf`]), for the
/// devices and dtypes the fused CPU kernels don't take.
pub fn map_output(xs: &Tensor, map: OutputMap) -> Result<Tensor> {
    match map {
        OutputMap::Identity => Ok(xs.clone()),
        OutputMap::Relu => xs.relu(),
        OutputMap::GeluErf => gelu_erf(xs),
        OutputMap::QuickGelu => xs * candle_nn::ops::sigmoid(&(xs * 1.702)?)?,
    }
}

/// The softmax over the last dimension.
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    let op = SliceOp {
        name: "softmax-last-dim",
        apply: hubble_kernels::softmax_rows,
    };
    op.or_candle(xs, candle_nn::ops::softmax_last_dim)
}

/// A `hubble_kernels` function over a slice in place as a candle operation on contiguous F32
/// values; `apply` also gets the length of the last dimension.
struct SliceOp {
    name: &'static str,
    apply: fn(&mut [f32], usize),
}

impl SliceOp {
    /// The operation on `xs` when it is an F32 tensor on the CPU, `candle`'s otherwise.
    fn or_candle(&self, xs: &Tensor, candle: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        if cpu_f32(xs) && xs.rank() > 0 {
            xs.contiguous()?.apply_op1_no_bwd(self)
        } else {
            candle(xs)
        }
    }
}

impl CustomOp1 for SliceOp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            bail!("{}: contiguous F32 input only", self.name);
        };
        let mut out = values[start..end].to_vec();
        (self.apply)(&mut out, *layout.dims().last().unwrap_or(&1));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Whether `t` is an F32 tensor on the CPU: what the `hubble_kernels` operations take.
pub fn cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

/// The values of a contiguous F32 tensor's CPU storage, for the models' custom operations.
pub fn contiguous_f32s<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(values), Some((start, end))) => Ok(&values[start..end]),
        _ => bail!("a contiguous F32 tensor was expected"),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// Whether `a` and `b` have the same shape and values within `tolerance`.
    fn close(a: Tensor, b: Tensor, tolerance: f32) -> bool {
        let values = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        a.dims() == b.dims()
            && values(a)
                .iter()
                .zip(values(b))
                .all(|(x, y)| (x - y).abs() < tolerance)
    }

    /// Against candle's scalar `gelu_erf` and softmax on a non-contiguous input.
    #[test]
    fn matches_candle() {
        let xs = Tensor::randn(0f32, 3.0, (6, 50), &Device::Cpu)
            .unwrap()
            .t()
            .unwrap();
        let gelu = activate(Activation::Gelu, &xs).unwrap();
        assert!(close(gelu, xs.gelu_erf().unwrap(), 1e-5));
        let candle = candle_nn::ops::softmax_last_dim(&xs.contiguous().unwrap()).unwrap();
        assert!(close(softmax_last_dim(&xs).unwrap(), candle, 1e-6));
    }
}
