//! The CPU path of `conv`'s dense layers: `hubble_kernels::conv2d` (chunked products straight
//! from the image, no padded, strided or im2col copy of it) as a candle operation, with the
//! leaky ReLU before a convolution, the residual after it and a closing ReLU or GELU fused into its
//! passes. [`InputMap`]/[`OutputMap`] name those; [`map_input`] and [`finish`] apply them with
//! candle's ops where the kernel does not run (other devices and dtypes).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use hubble_kernels::{ConvShape, Fused};

use super::elementwise::{cpu_f32, map_output};
pub use hubble_kernels::{InputMap, OutputMap};

/// A dense convolution's weights in the kernel's layout, for F32 inputs on the CPU.
pub struct CpuConv {
    /// `(outputs, kernel rows, kernel columns, inputs)`.
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// The shape with `size` left at `(0, 0)`: each call's input sets it.
    shape: ConvShape,
}

/// A 2-D convolution's stride, padding and dilation, `(rows, columns)` each.
pub struct Geometry {
    /// Step between output positions.
    pub stride: (usize, usize),
    /// Zeros before and after the input.
    pub padding: (usize, usize),
    /// Step between kernel taps.
    pub dilation: (usize, usize),
}

impl CpuConv {
    /// The kernel's copy of a one-group convolution's weight `(outputs, inputs, kernel rows,
    /// kernel columns)` and bias, when they are F32 on the CPU (`None` otherwise).
    pub fn new(
        weight: &Tensor,
        bias: Option<&Tensor>,
        geometry: Geometry,
    ) -> Result<Option<CpuConv>> {
        if !cpu_f32(weight) {
            return Ok(None);
        }
        let (outputs, inputs, rows, columns) = weight.dims4()?;
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        Ok(Some(CpuConv {
            weight: values(&weight.permute((0, 2, 3, 1))?.contiguous()?)?,
            bias: bias.map(values).transpose()?,
            shape: ConvShape {
                inputs,
                outputs,
                size: (0, 0),
                kernel: (rows, columns),
                stride: geometry.stride,
                padding: geometry.padding,
                dilation: geometry.dilation,
            },
        }))
    }

    /// `(batch, inputs, h, w)` → `(batch, outputs, h', w')`: `output(conv(input(xs)) + bias +
    /// residual)`; `xs` must be an F32 tensor on the CPU ([`cpu_f32`]).
    pub fn forward(
        &self,
        xs: &Tensor,
        residual: Option<&Tensor>,
        input: InputMap,
        output: OutputMap,
    ) -> Result<Tensor> {
        let call = Call {
            conv: self,
            input,
            output,
        };
        let xs = xs.contiguous()?;
        match residual {
            Some(residual) => xs.apply_op2_no_bwd(&residual.contiguous()?, &call),
            None => xs.apply_op1_no_bwd(&call),
        }
    }
}

/// `map` applied to `xs` with candle's ops.
pub fn map_input(xs: &Tensor, map: InputMap) -> Result<Tensor> {
    match map {
        InputMap::Identity => Ok(xs.clone()),
        InputMap::LeakyRelu(slope) => candle_nn::ops::leaky_relu(xs, slope as f64),
    }
}

/// `map(ys + residual)` with candle's ops.
pub fn finish(ys: Tensor, residual: Option<&Tensor>, map: OutputMap) -> Result<Tensor> {
    let ys = match residual {
        Some(residual) => (ys + residual)?,
        None => ys,
    };
    map_output(&ys, map)
}

/// One call of a [`CpuConv`] with its maps.
struct Call<'a> {
    conv: &'a CpuConv,
    input: InputMap,
    output: OutputMap,
}

impl Call<'_> {
    fn run(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        residual: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            bail!("convolution: contiguous F32 input only");
        };
        let (batch, channels, height, width) = layout.shape().dims4()?;
        let shape = ConvShape {
            size: (height, width),
            ..self.conv.shape
        };
        if channels != shape.inputs {
            bail!(
                "convolution over {} channels given {channels}",
                shape.inputs
            );
        }
        let error = |e: hubble_kernels::ShapeError| candle_core::Error::Msg(e.0);
        let (rows, columns) = shape.output_size().map_err(error)?;
        let mut out = vec![0f32; batch * shape.outputs * rows * columns];
        let fused = Fused {
            bias: self.conv.bias.as_deref(),
            residual,
            input_map: self.input,
            output_map: self.output,
        };
        hubble_kernels::conv2d(
            &shape,
            &values[start..end],
            &self.conv.weight,
            fused,
            &mut out,
        )
        .map_err(error)?;
        Ok((
            CpuStorage::F32(out),
            Shape::from((batch, shape.outputs, rows, columns)),
        ))
    }
}

impl CustomOp1 for Call<'_> {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        self.run(storage, layout, None)
    }
}

impl CustomOp2 for Call<'_> {
    fn name(&self) -> &'static str {
        "conv2d-residual"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) =
            (residual, residual_layout.contiguous_offsets())
        else {
            bail!("convolution: contiguous F32 residual only");
        };
        let (out, shape) = self.run(storage, layout, Some(&values[start..end]))?;
        if residual_layout.shape() != &shape {
            bail!(
                "convolution: a residual of shape {:?} for an output of {:?}",
                residual_layout.shape(),
                shape
            );
        }
        Ok((out, shape))
    }
}

/// A pointwise layer from channels-last rows `(batch, h, w, inputs)` into channels-first planes
/// `(batch, outputs, h, w)` added to a residual of that shape (ConvNeXt's second pointwise
/// layer): on F32 CPU tensors `hubble_kernels::pointwise_to_planes`, one product written
/// transposed over the residual; elsewhere a product, a permute and an add.
pub struct PointwiseToPlanes {
    /// `(inputs, outputs)`.
    weight: Tensor,
    bias: Option<Tensor>,
    /// The weight's and bias' values, when they are F32 on the CPU.
    cpu: Option<(Vec<f32>, Option<Vec<f32>>)>,
}

impl PointwiseToPlanes {
    /// A layer of `weight` `(inputs, outputs)` and `bias` `(outputs)`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<PointwiseToPlanes> {
        let weight = weight.contiguous()?;
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let cpu = cpu_f32(&weight)
            .then(|| -> Result<_> {
                Ok((values(&weight)?, bias.as_ref().map(values).transpose()?))
            })
            .transpose()?;
        Ok(PointwiseToPlanes { weight, bias, cpu })
    }

    /// `residual + permute(rows · weight + bias)`.
    pub fn forward(&self, rows: &Tensor, residual: &Tensor) -> Result<Tensor> {
        if let Some((weight, bias)) = &self.cpu
            && cpu_f32(rows)
            && cpu_f32(residual)
        {
            let op = PlanesOp {
                weight,
                bias: bias.as_deref(),
            };
            return rows
                .contiguous()?
                .apply_op2_no_bwd(&residual.contiguous()?, &op);
        }
        let ys = rows.broadcast_matmul(&self.weight)?;
        let ys = match &self.bias {
            Some(bias) => ys.broadcast_add(bias)?,
            None => ys,
        };
        residual + ys.permute((0, 3, 1, 2))?
    }
}

/// [`PointwiseToPlanes`]' kernel as a candle operation on `(rows, residual)`.
struct PlanesOp<'a> {
    weight: &'a [f32],
    bias: Option<&'a [f32]>,
}

impl CustomOp2 for PlanesOp<'_> {
    fn name(&self) -> &'static str {
        "pointwise-to-planes"
    }

    fn cpu_fwd(
        &self,
        rows: &CpuStorage,
        rows_layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, height, width, inputs) = rows_layout.shape().dims4()?;
        let outputs = residual_layout.shape().dims4()?.1;
        if residual_layout.shape().dims() != [batch, outputs, height, width] {
            bail!(
                "pointwise convolution: rows {:?} and a residual {:?}",
                rows_layout.shape(),
                residual_layout.shape()
            );
        }
        let (
            CpuStorage::F32(rows),
            Some((start, end)),
            CpuStorage::F32(residual),
            Some((r_start, r_end)),
        ) = (
            rows,
            rows_layout.contiguous_offsets(),
            residual,
            residual_layout.contiguous_offsets(),
        )
        else {
            bail!("pointwise convolution: contiguous F32 tensors only");
        };
        let mut out = vec![0f32; r_end - r_start];
        hubble_kernels::pointwise_to_planes(
            &rows[start..end],
            self.weight,
            (height * width, inputs, outputs),
            self.bias,
            &residual[r_start..r_end],
            &mut out,
        )
        .map_err(|e| candle_core::Error::Msg(e.0))?;
        Ok((CpuStorage::F32(out), residual_layout.shape().clone()))
    }
}
