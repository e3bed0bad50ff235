//! Convolutions as chunked matrix products, for the generating models' big activations: each
//! chunk's shifted copies of the input are stacked `(kernel taps · in, chunk)` and multiplied
//! once by the weight `(out, taps · in)`, straight into the channels-first layout. candle's CPU
//! convolution builds one im2col matrix for the whole input (`(time, in · kernel)` — 1.2 GB for
//! a 128-channel 3 × 3 convolution at 512 × 512) and transposes the product; chunks that fit the
//! caches make HiFi-GAN's convolutions and Stable Diffusion's ~2× faster here. Strided,
//! dilated-2D and grouped convolutions go to candle, except depthwise ones on the CPU
//! ([`DepthwiseConv2d`], `hubble_kernels::depthwise_conv2d`: candle runs groups one by one).

use candle_core::{
    CpuStorage, CustomOp1, DType, IndexOp, Layout, Module, Result, Shape, Tensor, bail,
};
use candle_nn::{
    Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvTranspose1d, ConvTranspose1dConfig, VarBuilder,
};
use hubble_kernels::{Depthwise, depthwise_conv2d};

/// Output positions per product: the best of 512–32768 measured on 2 cores.
const CHUNK: usize = 1024;

/// A 1-D convolution over `(1, in, time)` with stride 1 (dilation and padding as the layer's).
pub struct ChunkedConv1d {
    /// `(out, kernel · in)`, tap-major like the stacked inputs.
    weight: Tensor,
    kernel: usize,
    bias: Option<Tensor>,
    dilation: usize,
    padding: usize,
}

impl ChunkedConv1d {
    /// Takes a loaded stride-1 candle layer apart.
    pub fn new(conv: Conv1d) -> Result<ChunkedConv1d> {
        if conv.config().stride != 1 || conv.config().groups != 1 {
            return Err(candle_core::Error::Msg(
                "chunked convolutions take stride 1, one group".into(),
            ));
        }
        let (outputs, inputs, kernel) = conv.weight().dims3()?;
        Ok(ChunkedConv1d {
            weight: conv
                .weight()
                .permute((0, 2, 1))?
                .reshape((outputs, kernel * inputs))?
                .contiguous()?,
            kernel,
            bias: conv.bias().map(|b| b.unsqueeze(1)).transpose()?,
            dilation: conv.config().dilation,
            padding: conv.config().padding,
        })
    }

    /// `(1, in, time)` → `(1, out, time')`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = xs.i(0)?.pad_with_zeros(1, self.padding, self.padding)?;
        let reach = self.dilation * (self.kernel - 1);
        let length = xs.dim(1)? - reach;
        let mut pieces = Vec::with_capacity(length.div_ceil(CHUNK));
        for start in (0..length).step_by(CHUNK) {
            let size = CHUNK.min(length - start);
            let window = xs.narrow(1, start, size + reach)?;
            let shifted = (0..self.kernel)
                .map(|t| window.narrow(1, t * self.dilation, size))
                .collect::<Result<Vec<_>>>()?;
            pieces.push(self.weight.matmul(&Tensor::cat(&shifted, 0)?)?);
        }
        with_bias(Tensor::cat(&pieces, 1)?, self.bias.as_ref())?.unsqueeze(0)
    }
}

/// A 2-D convolution layer: stride-1 square kernels as chunked products (1 × 1 as one product),
/// anything else through candle.
pub struct Conv2dLayer {
    chunked: Option<(Tensor, usize, usize)>,
    bias: Option<Tensor>,
    candle: Conv2d,
}

impl Conv2dLayer {
    /// Wraps a loaded candle layer.
    pub fn new(conv: Conv2d) -> Result<Conv2dLayer> {
        let config = conv.config();
        let (outputs, inputs, kh, kw) = conv.weight().dims4()?;
        let chunked =
            (config.stride == 1 && config.groups == 1 && config.dilation == 1 && kh == kw)
                .then(|| -> Result<(Tensor, usize, usize)> {
                    let weight = conv
                        .weight()
                        .permute((0, 2, 3, 1))?
                        .reshape((outputs, kh * kw * inputs))?
                        .contiguous()?;
                    Ok((weight, kh, config.padding))
                })
                .transpose()?;
        Ok(Conv2dLayer {
            chunked,
            bias: conv.bias().map(|b| b.unsqueeze(1)).transpose()?,
            candle: conv,
        })
    }
}

impl Module for Conv2dLayer {
    /// `(batch, in, h, w)` → `(batch, out, h', w')`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let Some((weight, kernel, padding)) = &self.chunked else {
            return self.candle.forward(xs);
        };
        let (batch, _, _, _) = xs.dims4()?;
        let images = (0..batch)
            .map(|b| {
                let x = xs.i(b)?;
                let x = x
                    .pad_with_zeros(1, *padding, *padding)?
                    .pad_with_zeros(2, *padding, *padding)?;
                let (_, height, width) = x.dims3()?;
                let (out_h, out_w) = (height + 1 - kernel, width + 1 - kernel);
                let rows = (CHUNK / out_w).max(1);
                let mut pieces = Vec::with_capacity(out_h.div_ceil(rows));
                for top in (0..out_h).step_by(rows) {
                    let count = rows.min(out_h - top);
                    let band = x.narrow(1, top, count + kernel - 1)?;
                    let taps = (0..kernel * kernel)
                        .map(|t| {
                            band.narrow(1, t / kernel, count)?
                                .narrow(2, t % kernel, out_w)?
                                .contiguous()?
                                .flatten_from(1)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let product = weight.matmul(&Tensor::cat(&taps, 0)?)?;
                    pieces.push(product.reshape((product.dim(0)?, count, out_w))?);
                }
                let out = Tensor::cat(&pieces, 1)?;
                let channels = out.dim(0)?;
                with_bias(out.flatten_from(1)?, self.bias.as_ref())?
                    .reshape((channels, out_h, out_w))
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&images, 0)
    }
}

/// A depthwise 2-D convolution (one square filter per channel, stride 1, zero padding) such as
/// ConvNeXt's 7 × 7: `hubble_kernels::depthwise_conv2d` on F32 tensors on the CPU, candle's
/// grouped convolution elsewhere.
pub struct DepthwiseConv2d {
    /// The kernel's copy of the weights, when they are on the CPU.
    kernel: Option<DepthwiseOp>,
    candle: Conv2d,
}

impl DepthwiseConv2d {
    /// Wraps a loaded candle layer whose groups are its input and output channels.
    pub fn new(conv: Conv2d) -> Result<DepthwiseConv2d> {
        let config = conv.config();
        let (channels, per_group, kh, kw) = conv.weight().dims4()?;
        if per_group != 1
            || config.groups != channels
            || config.stride != 1
            || config.dilation != 1
            || kh != kw
        {
            bail!("a depthwise convolution has one square stride-1 filter per channel");
        }
        let on_cpu = conv.weight().device().is_cpu();
        let kernel = on_cpu
            .then(|| -> Result<DepthwiseOp> {
                let values = |t: &Tensor| t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>();
                Ok(DepthwiseOp {
                    weight: values(conv.weight())?,
                    bias: conv.bias().map(values).transpose()?,
                    channels,
                    kernel: kh,
                    padding: config.padding,
                })
            })
            .transpose()?;
        Ok(DepthwiseConv2d {
            kernel,
            candle: conv,
        })
    }
}

impl Module for DepthwiseConv2d {
    /// `(batch, channels, h, w)` → `(batch, channels, h', w')`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match &self.kernel {
            Some(op) if xs.device().is_cpu() && xs.dtype() == DType::F32 => {
                xs.contiguous()?.apply_op1_no_bwd(op)
            }
            _ => self.candle.forward(xs),
        }
    }
}

/// [`DepthwiseConv2d`]'s CPU kernel as a candle operation on `(batch, channels, h, w)`.
struct DepthwiseOp {
    /// `(channels, kernel, kernel)`.
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    channels: usize,
    kernel: usize,
    padding: usize,
}

impl CustomOp1 for DepthwiseOp {
    fn name(&self) -> &'static str {
        "depthwise-conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (batch, channels, height, width) = layout.shape().dims4()?;
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            bail!("depthwise convolution: contiguous F32 input only");
        };
        if channels != self.channels {
            bail!(
                "depthwise convolution over {} channels given {channels}",
                self.channels
            );
        }
        let shape = Depthwise {
            channels,
            height,
            width,
            kernel: self.kernel,
            padding: self.padding,
        };
        let error = |e: hubble_kernels::ShapeError| candle_core::Error::Msg(e.0);
        let (rows, columns) = shape.output_size().map_err(error)?;
        let mut out = vec![0f32; batch * channels * rows * columns];
        depthwise_conv2d(
            &shape,
            &values[start..end],
            &self.weight,
            self.bias.as_deref(),
            &mut out,
        )
        .map_err(error)?;
        Ok((
            CpuStorage::F32(out),
            Shape::from((batch, channels, rows, columns)),
        ))
    }
}

/// Loads a square 2-D convolution (`weight`, `bias` under `vb`) as a [`Conv2dLayer`].
pub fn conv2d_layer(
    inputs: usize,
    outputs: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    vb: VarBuilder,
) -> Result<Conv2dLayer> {
    let config = Conv2dConfig {
        padding,
        stride,
        ..Default::default()
    };
    Conv2dLayer::new(candle_nn::conv2d(inputs, outputs, kernel, config, vb)?)
}

fn with_bias(out: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(bias) => out.broadcast_add(bias),
        None => Ok(out),
    }
}

/// A 1-D convolution layer whose weight may be stored weight-normed (`weight_g`/`weight_v`, or
/// `parametrizations.weight.original0/1` as transformers 5 saves it), folded at load; the bias
/// is optional.
pub fn normed_conv1d(
    inputs: usize,
    outputs: usize,
    kernel: usize,
    config: Conv1dConfig,
    vb: VarBuilder,
) -> Result<Conv1d> {
    let shape = (outputs, inputs / config.groups, kernel);
    let weight = match weight_normed(&vb, outputs, shape)? {
        Some(weight) => weight,
        None => vb.get(shape, "weight")?,
    };
    let bias = vb.get(outputs, "bias").ok();
    Ok(Conv1d::new(weight, bias, config))
}

/// A 1-D transposed convolution layer stored weight-normed over its input channels (the bias
/// is optional).
pub fn normed_conv_transpose1d(
    inputs: usize,
    outputs: usize,
    kernel: usize,
    config: ConvTranspose1dConfig,
    vb: VarBuilder,
) -> Result<ConvTranspose1d> {
    let shape = (inputs, outputs, kernel);
    let weight = weight_normed(&vb, inputs, shape)?.ok_or_else(|| {
        candle_core::Error::Msg(format!("{}: no weight-normed weight", vb.prefix()))
    })?;
    let bias = vb.get(outputs, "bias").ok();
    Ok(ConvTranspose1d::new(weight, bias, config))
}

/// The weight `g · v / ‖v‖` (the norm over all but the first axis, which has `first` entries)
/// when `vb` stores it weight-normed (`weight_g`/`weight_v`, or
/// `parametrizations.weight.original0/1`); `None` when it doesn't.
fn weight_normed(
    vb: &VarBuilder,
    first: usize,
    shape: (usize, usize, usize),
) -> Result<Option<Tensor>> {
    let (g, v) = if vb.contains_tensor("weight_g") {
        ("weight_g", "weight_v")
    } else if vb.contains_tensor("parametrizations.weight.original0") {
        (
            "parametrizations.weight.original0",
            "parametrizations.weight.original1",
        )
    } else {
        return Ok(None);
    };
    let (g, v) = (vb.get((first, 1, 1), g)?, vb.get(shape, v)?);
    let norm = v.sqr()?.sum_keepdim(2)?.sum_keepdim(1)?.sqrt()?;
    Ok(Some(v.broadcast_mul(&g.broadcast_div(&norm)?)?))
}

/// A stride-1 configuration with `padding` and `dilation`.
pub fn padded(padding: usize, dilation: usize) -> Conv1dConfig {
    Conv1dConfig {
        padding,
        dilation,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::Conv1dConfig;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0) - 1.0)
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn chunked_1d_matches_candle_with_dilation_padding_and_a_tail() {
        for (kernel, dilation, padding, length) in [(3, 1, 1, 2500), (7, 3, 9, 1030), (1, 1, 0, 7)]
        {
            let weight = random(&[5, 4, kernel], 1);
            let bias = random(&[5], 2);
            let config = Conv1dConfig {
                padding,
                dilation,
                ..Default::default()
            };
            let conv = Conv1d::new(weight, Some(bias), config);
            let xs = random(&[1, 4, length], 3);
            let expected = conv.forward(&xs).unwrap();
            let ours = ChunkedConv1d::new(conv).unwrap().forward(&xs).unwrap();
            assert_eq!(ours.dims(), expected.dims());
            assert!(max_diff(&ours, &expected) < 1e-5);
        }
    }

    #[test]
    fn chunked_2d_matches_candle_and_strided_layers_fall_back() {
        for (kernel, padding, stride, side) in [(3, 1, 1, 45), (1, 0, 1, 33), (3, 1, 2, 16)] {
            let weight = random(&[6, 3, kernel, kernel], 4);
            let bias = random(&[6], 5);
            let config = Conv2dConfig {
                padding,
                stride,
                ..Default::default()
            };
            let conv = Conv2d::new(weight, Some(bias), config);
            let xs = random(&[2, 3, side, side + 3], 6);
            let expected = conv.forward(&xs).unwrap();
            let ours = Conv2dLayer::new(conv).unwrap().forward(&xs).unwrap();
            assert_eq!(ours.dims(), expected.dims());
            assert!(max_diff(&ours, &expected) < 1e-5, "k {kernel} s {stride}");
        }
    }

    #[test]
    fn depthwise_matches_candle_and_refuses_other_groupings() {
        for (kernel, padding, bias, side) in [(7, 3, true, 13), (3, 1, false, 6), (7, 3, true, 1)] {
            let weight = random(&[5, 1, kernel, kernel], 7);
            let bias = bias.then(|| random(&[5], 8));
            let config = Conv2dConfig {
                padding,
                groups: 5,
                ..Default::default()
            };
            let conv = Conv2d::new(weight, bias, config);
            let xs = random(&[2, 5, side, side + 4], 9);
            let expected = conv.forward(&xs).unwrap();
            let layer = DepthwiseConv2d::new(conv).unwrap();
            assert!(layer.kernel.is_some());
            let ours = layer.forward(&xs).unwrap();
            assert_eq!(ours.dims(), expected.dims());
            assert!(max_diff(&ours, &expected) < 1e-5, "k {kernel} side {side}");
            // Not contiguous: a transposed view.
            let xt = xs.transpose(2, 3).unwrap();
            let ours = layer.forward(&xt).unwrap();
            let expected = layer.candle.forward(&xt).unwrap();
            assert!(max_diff(&ours, &expected) < 1e-5, "transposed, k {kernel}");
        }
        let grouped = Conv2d::new(
            random(&[6, 2, 3, 3], 1),
            None,
            Conv2dConfig {
                groups: 3,
                ..Default::default()
            },
        );
        assert!(DepthwiseConv2d::new(grouped).is_err());
    }
}
