//! Convolutions as chunked matrix products, for the models' big activations. On F32 CPU tensors
//! dense ones go to [`CpuConv`] (`hubble_kernels::conv2d`: each chunk's columns written straight
//! from the image, the bias, a residual and the activations around the convolution fused);
//! elsewhere each chunk's shifted copies of the input are stacked `(kernel taps · in, chunk)`
//! as tensors and multiplied once by the weight `(out, taps · in)`, straight into the
//! channels-first layout, strided 2-D ones reading the input's phases. candle's own
//! convolution builds one im2col matrix for the whole input (`(time, in · kernel)` — 1.2 GB for
//! a 128-channel 3 × 3 convolution at 512 × 512) and transposes the product, or, strided, goes
//! through its tiled im2col. Off the CPU, dilated 2-D and grouped convolutions go to candle;
//! depthwise ones on the CPU to [`DepthwiseConv2d`] (`hubble_kernels::depthwise_conv2d`: candle
//! runs groups one by one).

use candle_core::{
    CpuStorage, CustomOp1, DType, IndexOp, Layout, Module, Result, Shape, Tensor, bail,
};
use candle_nn::{
    Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvTranspose1d, ConvTranspose1dConfig, VarBuilder,
};
use hubble_kernels::{Depthwise, depthwise_conv2d};

use super::conv_cpu::{CpuConv, Geometry, InputMap, OutputMap, finish, map_input};
use super::elementwise::cpu_f32;

/// Output positions per product: the best of 512–32768 measured on 2 cores.
const CHUNK: usize = 1024;

/// A 1-D convolution over `(1, in, time)` (stride, dilation and padding as the layer's): on
/// F32 CPU tensors [`CpuConv`] (a 2-D kernel one row high), elsewhere chunked products of
/// tensors.
pub struct ChunkedConv1d {
    cpu: Option<CpuConv>,
    /// `(out, kernel · in)`, tap-major like the stacked inputs.
    weight: Tensor,
    kernel: usize,
    bias: Option<Tensor>,
    stride: usize,
    dilation: usize,
    padding: usize,
}

impl ChunkedConv1d {
    /// Takes a loaded one-group candle layer apart.
    pub fn new(conv: Conv1d) -> Result<ChunkedConv1d> {
        if conv.config().groups != 1 {
            bail!("chunked convolutions take one group");
        }
        let (outputs, inputs, kernel) = conv.weight().dims3()?;
        let config = conv.config();
        let geometry = Geometry {
            stride: (1, config.stride),
            padding: (0, config.padding),
            dilation: (1, config.dilation),
        };
        Ok(ChunkedConv1d {
            cpu: CpuConv::new(&conv.weight().unsqueeze(2)?, conv.bias(), geometry)?,
            weight: conv
                .weight()
                .permute((0, 2, 1))?
                .reshape((outputs, kernel * inputs))?
                .contiguous()?,
            kernel,
            bias: conv.bias().map(|b| b.unsqueeze(1)).transpose()?,
            stride: conv.config().stride,
            dilation: conv.config().dilation,
            padding: conv.config().padding,
        })
    }

    /// `(1, in, time)` → `(1, out, time')`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_fused(xs, InputMap::Identity, None, OutputMap::Identity)
    }

    /// `output(conv(input(xs)) + residual)`, fused on the CPU.
    pub fn forward_fused(
        &self,
        xs: &Tensor,
        input: InputMap,
        residual: Option<&Tensor>,
        output: OutputMap,
    ) -> Result<Tensor> {
        if let Some(cpu) = &self.cpu
            && cpu_f32(xs)
        {
            let (batch, _, _) = xs.dims3()?;
            if batch != 1 {
                bail!("chunked 1-D convolutions take one sequence, not {batch}");
            }
            let residual = residual.map(|r| r.unsqueeze(2)).transpose()?;
            let ys = cpu.forward(&xs.unsqueeze(2)?, residual.as_ref(), input, output)?;
            return ys.squeeze(2);
        }
        let ys = self.forward_tensors(&map_input(xs, input)?)?;
        finish(ys, residual, output)
    }

    /// [`ChunkedConv1d::forward`] with tensor ops. Strided, tap `t` reads phase
    /// `t · dilation % stride` of the input shifted by `t · dilation / stride` (see
    /// [`Conv2dLayer`]).
    fn forward_tensors(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, _, length) = xs.dims3()?;
        if batch != 1 {
            bail!("chunked 1-D convolutions take one sequence, not {batch}");
        }
        let x = xs.i(0)?;
        let (s, p) = (self.stride, self.padding);
        let reach = self.dilation * (self.kernel - 1);
        if length + 2 * p <= reach {
            bail!("convolution: the input ({length} steps) is shorter than the kernel");
        }
        let out_len = (length + 2 * p - reach - 1) / s + 1;
        let phase_len = out_len + reach / s;
        let used = (reach + 1).min(s);
        let phases = phases(&padded_to(&x, 1, p, s * phase_len)?, &[phase_len], s, used)?;
        let mut pieces = Vec::with_capacity(out_len.div_ceil(CHUNK));
        for start in (0..out_len).step_by(CHUNK) {
            let size = CHUNK.min(out_len - start);
            let shifted = (0..self.kernel)
                .map(|t| {
                    let offset = t * self.dilation;
                    phases[offset % s].narrow(1, start + offset / s, size)
                })
                .collect::<Result<Vec<_>>>()?;
            pieces.push(self.weight.matmul(&Tensor::cat(&shifted, 0)?)?);
        }
        with_bias(Tensor::cat(&pieces, 1)?, self.bias.as_ref())?.unsqueeze(0)
    }
}

/// `x` zero-padded by `padding` before its values along `dim`, then padded or cut after them to
/// `want` values.
fn padded_to(x: &Tensor, dim: usize, padding: usize, want: usize) -> Result<Tensor> {
    let size = x.dim(dim)?;
    if size + padding <= want {
        x.pad_with_zeros(dim, padding, want - size - padding)
    } else {
        x.pad_with_zeros(dim, padding, 0)?.narrow(dim, 0, want)
    }
}

/// The phases of `(channels, stride · sizes…)` (1 or 2 spatial dimensions) whose offsets are
/// below `used` along each: `x[:, py::stride, px::stride]` for `py, px < used`, each
/// `(channels, sizes…)`, row-major over `(py, px)`. A kernel reaching `k` values reads only
/// offsets below `min(k, stride)` (a 1 × 1 stride-2 convolution one phase of four).
fn phases(x: &Tensor, sizes: &[usize], stride: usize, used: usize) -> Result<Vec<Tensor>> {
    if stride == 1 {
        return Ok(vec![x.clone()]);
    }
    let channels = x.dim(0)?;
    match *sizes {
        [len] => {
            let split = x.reshape((channels, len, stride))?;
            (0..used)
                .map(|r| split.narrow(2, r, 1)?.reshape((channels, len)))
                .collect()
        }
        [rows, columns] => {
            let split = x.reshape((channels, rows, stride, columns, stride))?;
            (0..used * used)
                .map(|i| {
                    split
                        .narrow(2, i / used, 1)?
                        .narrow(4, i % used, 1)?
                        .reshape((channels, rows, columns))
                })
                .collect()
        }
        _ => bail!("phases of one or two spatial dimensions"),
    }
}

/// A 2-D convolution layer: one-group ones on F32 CPU tensors through [`CpuConv`]; elsewhere
/// square kernels (any stride) as chunked products of tensors (1 × 1 stride 1 as one product),
/// dilated and grouped ones through candle.
pub struct Conv2dLayer {
    cpu: Option<CpuConv>,
    chunked: Option<Chunked2d>,
    bias: Option<Tensor>,
    candle: Conv2d,
}

/// A square convolution's weight `(out, kernel² · in)`, tap-major like the stacked inputs.
struct Chunked2d {
    weight: Tensor,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv2dLayer {
    /// Wraps a loaded candle layer.
    pub fn new(conv: Conv2d) -> Result<Conv2dLayer> {
        let config = conv.config();
        let (outputs, inputs, kh, kw) = conv.weight().dims4()?;
        let chunked = (config.groups == 1 && config.dilation == 1 && kh == kw)
            .then(|| -> Result<Chunked2d> {
                let weight = conv
                    .weight()
                    .permute((0, 2, 3, 1))?
                    .reshape((outputs, kh * kw * inputs))?
                    .contiguous()?;
                Ok(Chunked2d {
                    weight,
                    kernel: kh,
                    stride: config.stride,
                    padding: config.padding,
                })
            })
            .transpose()?;
        let geometry = Geometry {
            stride: (config.stride, config.stride),
            padding: (config.padding, config.padding),
            dilation: (config.dilation, config.dilation),
        };
        let cpu = match config.groups {
            1 => CpuConv::new(conv.weight(), conv.bias(), geometry)?,
            _ => None,
        };
        Ok(Conv2dLayer {
            cpu,
            chunked,
            bias: conv.bias().map(|b| b.unsqueeze(1)).transpose()?,
            candle: conv,
        })
    }
}

impl Chunked2d {
    /// One image `(in, h, w)` → `(out, h', w')`, before the bias. A stride-`s` convolution is a
    /// stride-1 one over the input's `s²` phases (`x[:, py::s, px::s]`): tap `(dy, dx)` reads
    /// phase `(dy % s, dx % s)` shifted by `(dy / s, dx / s)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let (channels, height, width) = x.dims3()?;
        if (k, s, p) == (1, 1, 0) {
            // Pointwise: the image is already `(in, h · w)`, one product.
            let outputs = self.weight.dim(0)?;
            return self
                .weight
                .matmul(&x.reshape((channels, height * width))?)?
                .reshape((outputs, height, width));
        }
        if height + 2 * p < k || width + 2 * p < k {
            bail!("convolution: the input ({height} × {width}) is smaller than the kernel");
        }
        let (out_h, out_w) = ((height + 2 * p - k) / s + 1, (width + 2 * p - k) / s + 1);
        let reach = (k - 1) / s;
        let (phase_h, phase_w) = (out_h + reach, out_w + reach);
        let x = padded_to(&padded_to(x, 1, p, s * phase_h)?, 2, p, s * phase_w)?;
        let used = k.min(s);
        let phases = phases(&x, &[phase_h, phase_w], s, used)?;
        let rows = (CHUNK / out_w).max(1);
        let mut pieces = Vec::with_capacity(out_h.div_ceil(rows));
        for top in (0..out_h).step_by(rows) {
            let count = rows.min(out_h - top);
            let taps = (0..k * k)
                .map(|t| {
                    let (dy, dx) = (t / k, t % k);
                    phases[(dy % s) * used + dx % s]
                        .narrow(1, top + dy / s, count)?
                        .narrow(2, dx / s, out_w)?
                        .contiguous()?
                        .flatten_from(1)
                })
                .collect::<Result<Vec<_>>>()?;
            let product = self.weight.matmul(&Tensor::cat(&taps, 0)?)?;
            pieces.push(product.reshape((product.dim(0)?, count, out_w))?);
        }
        Tensor::cat(&pieces, 1)
    }
}

impl Conv2dLayer {
    /// `output(conv(input(xs)) + residual)`, fused on the CPU (as [`ChunkedConv1d`]'s).
    pub fn forward_fused(
        &self,
        xs: &Tensor,
        input: InputMap,
        residual: Option<&Tensor>,
        output: OutputMap,
    ) -> Result<Tensor> {
        match &self.cpu {
            Some(cpu) if cpu_f32(xs) => cpu.forward(xs, residual, input, output),
            _ => finish(
                self.forward_tensors(&map_input(xs, input)?)?,
                residual,
                output,
            ),
        }
    }

    /// The convolution with tensor ops.
    fn forward_tensors(&self, xs: &Tensor) -> Result<Tensor> {
        let Some(chunked) = &self.chunked else {
            return self.candle.forward(xs);
        };
        let (batch, _, _, _) = xs.dims4()?;
        let images = (0..batch)
            .map(|b| {
                let out = chunked.forward(&xs.i(b)?)?;
                let (channels, out_h, out_w) = out.dims3()?;
                with_bias(out.flatten_from(1)?, self.bias.as_ref())?
                    .reshape((channels, out_h, out_w))
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&images, 0)
    }
}

impl Module for Conv2dLayer {
    /// `(batch, in, h, w)` → `(batch, out, h', w')`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_fused(xs, InputMap::Identity, None, OutputMap::Identity)
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
            Some(op) if cpu_f32(xs) => xs.contiguous()?.apply_op1_no_bwd(op),
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
    fn chunked_1d_matches_candle_with_strides_dilation_padding_and_a_tail() {
        for (kernel, dilation, padding, stride, length) in [
            (3, 1, 1, 1, 2500),
            (7, 3, 9, 1, 1030),
            (1, 1, 0, 1, 7),
            (3, 1, 1, 2, 3000),
            (3, 1, 1, 2, 2999),
            (4, 2, 3, 3, 100),
        ] {
            let weight = random(&[5, 4, kernel], 1);
            let bias = random(&[5], 2);
            let config = Conv1dConfig {
                padding,
                dilation,
                stride,
                ..Default::default()
            };
            let conv = Conv1d::new(weight, Some(bias), config);
            let xs = random(&[1, 4, length], 3);
            let expected = conv.forward(&xs).unwrap();
            let layer = ChunkedConv1d::new(conv.clone()).unwrap();
            assert!(layer.cpu.is_some());
            for ours in [layer.forward(&xs), layer.forward_tensors(&xs)] {
                let ours = ours.unwrap();
                assert_eq!(ours.dims(), expected.dims());
                assert!(max_diff(&ours, &expected) < 1e-5);
            }
            // A leaky ReLU before it and a residual after it, fused and with candle's ops.
            let slope = 0.1;
            let residual = random(expected.dims(), 4);
            let leaky = candle_nn::ops::leaky_relu(&xs, slope).unwrap();
            let expected = (conv.forward(&leaky).unwrap() + &residual).unwrap();
            let ours = layer
                .forward_fused(
                    &xs,
                    InputMap::LeakyRelu(slope as f32),
                    Some(&residual),
                    OutputMap::Identity,
                )
                .unwrap();
            assert!(max_diff(&ours, &expected) < 1e-5);
        }
    }

    #[test]
    fn chunked_2d_matches_candle_at_every_stride() {
        for (kernel, padding, stride, side) in [
            (3, 1, 1, 45),
            (1, 0, 1, 33),
            (3, 1, 2, 16),
            (3, 1, 2, 17),
            (7, 3, 2, 23),
            (1, 0, 2, 15),
            (2, 0, 2, 9),
            (4, 0, 4, 18),
            (3, 0, 3, 10),
        ] {
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
            let layer = Conv2dLayer::new(conv).unwrap();
            assert!(layer.cpu.is_some());
            for ours in [layer.forward(&xs), layer.forward_tensors(&xs)] {
                let ours = ours.unwrap();
                assert_eq!(ours.dims(), expected.dims());
                assert!(max_diff(&ours, &expected) < 1e-5, "k {kernel} s {stride}");
            }
            // A residual and a ReLU after it, fused and with candle's ops.
            let residual = random(expected.dims(), 7);
            let expected = (expected + &residual).unwrap().relu().unwrap();
            let ours = layer
                .forward_fused(&xs, InputMap::Identity, Some(&residual), OutputMap::Relu)
                .unwrap();
            assert!(
                max_diff(&ours, &expected) < 1e-5,
                "fused, k {kernel} s {stride}"
            );
            // A leaky ReLU before it: the CPU kernel's input map against the tensor path's.
            let leaky = InputMap::LeakyRelu(0.2);
            let fused = layer.forward_fused(&xs, leaky, None, OutputMap::Identity);
            let tensors = layer.forward_tensors(&map_input(&xs, leaky).unwrap());
            assert!(
                max_diff(&fused.unwrap(), &tensors.unwrap()) < 1e-5,
                "leaky input, k {kernel} s {stride}"
            );
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
