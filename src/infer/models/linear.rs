//! Fully connected layers for the safetensors models, with transformers' weight names
//! (`weight` `(out, in)`, optional `bias`), that keep their weight transposed: `(in, out)`
//! row-major, copied once at load. candle's own `Linear` multiplies by the `(out, in)` weight
//! seen through a transposed view, which gemm's packing reads column by column: on this
//! project's 2-core machine a 197 × 3072 × 768 product (ViT's MLP output) ran at 72 GFLOP/s
//! that way against 158 with the weight laid out `(in, out)`, and a four-row product at 3 GFLOP/s
//! against 101. Same sums, in gemm's order either way. On F32 CPU tensors the product runs
//! through `hubble_kernels::linear`, which adds the bias (and applies an exact GELU, with
//! [`Linear::forward_activated`]) block by block inside its passes.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Module, Result, Shape, Tensor, bail};
use candle_nn::{Activation, VarBuilder};
use hubble_kernels::OutputMap;

use super::elementwise::{activate, contiguous_f32s as f32s, cpu_f32, map_output};

/// `x · weightᵀ + bias` over the last dimension of `x`, any leading dimensions.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(in, out)`, contiguous.
    weight_t: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Takes a weight in PyTorch's `(out, in)` layout and an optional `(out,)` bias.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        Ok(Linear {
            weight_t: weight.t()?.contiguous()?,
            bias,
        })
    }

    /// The number of outputs (`out`).
    pub fn out_features(&self) -> Result<usize> {
        self.weight_t.dim(1)
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if self.takes(xs) {
            return self.forward_cpu(xs, OutputMap::Identity);
        }
        let dims = xs.dims();
        let products = if xs.is_contiguous() && dims.len() > 2 {
            let inputs = dims[dims.len() - 1];
            let mut out_dims = dims.to_vec();
            *out_dims.last_mut().expect("rank > 2") = self.weight_t.dim(1)?;
            xs.reshape(((), inputs))?
                .matmul(&self.weight_t)?
                .reshape(out_dims)?
        } else {
            xs.broadcast_matmul(&self.weight_t)?
        };
        match &self.bias {
            Some(bias) => products.broadcast_add(bias),
            None => Ok(products),
        }
    }
}

impl Linear {
    /// `act(x · weightᵀ + bias)`; on F32 CPU tensors the exact GELU (`Activation::Gelu`) and
    /// ReLU run with the bias inside the product's blocks (`hubble_kernels::linear`).
    pub fn forward_activated(&self, xs: &Tensor, act: Activation) -> Result<Tensor> {
        match act {
            Activation::Gelu => self.forward_mapped(xs, OutputMap::GeluErf),
            Activation::Relu => self.forward_mapped(xs, OutputMap::Relu),
            _ => activate(act, &self.forward(xs)?),
        }
    }

    /// `map(x · weightᵀ + bias)`, the map applied inside the product's blocks on F32 CPU
    /// tensors (`hubble_kernels::linear`), with candle's ops elsewhere.
    pub fn forward_mapped(&self, xs: &Tensor, map: OutputMap) -> Result<Tensor> {
        if self.takes(xs) {
            self.forward_cpu(xs, map)
        } else {
            map_output(&self.forward(xs)?, map)
        }
    }

    /// Whether `xs` and the weights are F32 on the CPU (`hubble_kernels::linear`'s inputs).
    fn takes(&self, xs: &Tensor) -> bool {
        [xs, &self.weight_t].iter().all(|t| cpu_f32(t))
    }

    fn forward_cpu(&self, xs: &Tensor, map: OutputMap) -> Result<Tensor> {
        let op = LinearOp { map };
        let xs = xs.contiguous()?;
        match &self.bias {
            Some(bias) => xs.apply_op3_no_bwd(&self.weight_t, bias, &op),
            None => xs.apply_op2_no_bwd(&self.weight_t, &op),
        }
    }
}

/// `hubble_kernels::linear` as a candle operation on `(xs, weight (in, out)[, bias])`.
struct LinearOp {
    map: OutputMap,
}

impl LinearOp {
    fn run(
        &self,
        (xs, xs_layout): (&CpuStorage, &Layout),
        (weight, weight_layout): (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (inputs, outputs) = weight_layout.shape().dims2()?;
        let mut dims = xs_layout.shape().dims().to_vec();
        match dims.last_mut() {
            Some(last) if *last == inputs => *last = outputs,
            _ => bail!(
                "linear layer of {inputs} inputs given {:?}",
                xs_layout.shape()
            ),
        }
        let bias = bias.map(|(b, layout)| f32s(b, layout)).transpose()?;
        let (xs, weight) = (f32s(xs, xs_layout)?, f32s(weight, weight_layout)?);
        let mut out = vec![0f32; xs.len() / inputs * outputs];
        hubble_kernels::linear(xs, weight, (inputs, outputs), bias, self.map, &mut out)
            .map_err(|e| candle_core::Error::Msg(e.0))?;
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

impl CustomOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.run((xs, xs_layout), (weight, weight_layout), None)
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "linear-bias"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.run(
            (xs, xs_layout),
            (weight, weight_layout),
            Some((bias, bias_layout)),
        )
    }
}

/// Loads `weight` `(out, in)` and `bias` `(out,)` under `vb`.
pub fn linear(inputs: usize, outputs: usize, vb: VarBuilder) -> Result<Linear> {
    linear_b(inputs, outputs, true, vb)
}

/// Loads `weight` `(out, in)` under `vb`, no bias.
pub fn linear_no_bias(inputs: usize, outputs: usize, vb: VarBuilder) -> Result<Linear> {
    linear_b(inputs, outputs, false, vb)
}

/// Loads `weight` `(out, in)` under `vb`, and `bias` `(out,)` when `bias` is set.
pub fn linear_b(inputs: usize, outputs: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get((outputs, inputs), "weight")?;
    let bias = bias.then(|| vb.get(outputs, "bias")).transpose()?;
    Linear::new(weight, bias)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// Against candle's `Linear` (same weights) on 2-D, 3-D and non-contiguous inputs.
    #[test]
    fn matches_candle_linear() {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (7, 5), &device).unwrap();
        let bias = Tensor::randn(0f32, 1.0, 7, &device).unwrap();
        let ours = Linear::new(weight.clone(), Some(bias.clone())).unwrap();
        let candle = candle_nn::Linear::new(weight, Some(bias));
        assert_eq!(ours.out_features().unwrap(), 7);
        let x3 = Tensor::randn(0f32, 1.0, (2, 3, 5), &device).unwrap();
        let transposed = x3.transpose(0, 1).unwrap();
        for x in [x3.clone(), transposed, x3.get(0).unwrap()] {
            let (a, b) = (ours.forward(&x).unwrap(), candle.forward(&x).unwrap());
            assert_eq!(a.dims(), b.dims());
            let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap();
            let max = diff.max(0).unwrap().to_scalar::<f32>().unwrap();
            assert!(max < 1e-5, "max difference {max}");
        }
    }
}
