//! Dense (one-group) convolutions on F32 images as matrix products over chunks of output
//! positions, with what surrounds a convolution in the models fused into the same passes.
//!
//! For each chunk of output positions the input values every filter tap reads are written into
//! a column buffer `(taps · inputs, chunk)` (im2col, taps major: tap `(ky, kx)` then channel),
//! straight from the image: strides, dilation and zero padding are index arithmetic, with no
//! padded or strided copy of the image. One `gemm` product of the weight `(outputs, taps ·
//! inputs)` by that buffer then writes the chunk's outputs in place in the channels-first
//! output. A pointwise convolution (1 × 1, stride 1, no padding) multiplies the image itself.
//!
//! Fused: an [`InputMap`] applied to each value as it is read (HiFi-GAN's leaky ReLU before its
//! convolutions; zero padding stays zero), the bias and a residual (both written into the chunk
//! before the product, which adds to them), and an [`OutputMap`] applied to the chunk while it
//! is in cache (ResNet's ReLU after its residual sum). candle's path does each of these as a
//! pass over the whole tensor, plus an im2col of the whole input and a transposed copy of the
//! product. [`pointwise_to_planes`] is a pointwise convolution from channels-last rows into
//! channels-first planes over a residual.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::{ShapeError, SharedMut, Strided, product};

/// Column-buffer values per chunk the chunk size aims at (2 MiB): chunks of output positions
/// are this over `taps · inputs`, between [`MIN_CHUNK`] and [`MAX_CHUNK`] positions.
const BUFFER_VALUES: usize = 1 << 19;
/// Fewest output positions per product (a wide product keeps gemm's kernels busy).
const MIN_CHUNK: usize = 1024;
/// Output positions per thread from which threads take whole chunks.
const MIN_SPLIT: usize = 512;
/// Most output positions per product.
const MAX_CHUNK: usize = 16384;

/// The shape of a dense 2-D convolution (a 1-D one has height 1 and a kernel of height 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub inputs: usize,
    /// Output channels.
    pub outputs: usize,
    /// Input `(height, width)`.
    pub size: (usize, usize),
    /// Kernel `(height, width)`.
    pub kernel: (usize, usize),
    /// Step between output positions, `(rows, columns)`.
    pub stride: (usize, usize),
    /// Zeros added before and after the input, `(rows, columns)`.
    pub padding: (usize, usize),
    /// Step between kernel taps, `(rows, columns)`.
    pub dilation: (usize, usize),
}

impl ConvShape {
    /// Output `(rows, columns)`: `(size + 2·padding − dilation·(kernel − 1) − 1) / stride + 1`
    /// along each axis.
    pub fn output_size(&self) -> Result<(usize, usize), ShapeError> {
        let axis = |size: usize, kernel: usize, stride: usize, padding: usize, dilation: usize| {
            let reach = dilation * kernel.checked_sub(1)?;
            let room = (size + 2 * padding).checked_sub(reach + 1)?;
            (size > 0 && stride > 0 && dilation > 0).then(|| room / stride + 1)
        };
        let (h, w) = self.size;
        let rows = axis(
            h,
            self.kernel.0,
            self.stride.0,
            self.padding.0,
            self.dilation.0,
        );
        let columns = axis(
            w,
            self.kernel.1,
            self.stride.1,
            self.padding.1,
            self.dilation.1,
        );
        match (rows, columns) {
            (Some(rows), Some(columns)) if self.inputs > 0 && self.outputs > 0 => {
                Ok((rows, columns))
            }
            _ => Err(ShapeError(format!(
                "convolution: a {} × {} kernel (stride {:?}, dilation {:?}) does not fit a {h} × {w} \
                 input padded by {:?}, or a channel count is 0",
                self.kernel.0, self.kernel.1, self.stride, self.dilation, self.padding
            ))),
        }
    }

    fn taps(&self) -> usize {
        self.kernel.0 * self.kernel.1
    }

    fn pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0)
    }
}

/// What the convolution applies to each input value as it reads it; zero padding is not mapped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputMap {
    /// The value itself.
    Identity,
    /// `x` where `x ≥ 0`, else `slope · x`.
    LeakyRelu(f32),
}

/// What a convolution or [`crate::linear`] applies to each output after adding its bias and
/// residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMap {
    /// The sum itself.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// The exact GELU, `x/2 · (1 + erf(x/√2))` ([`crate::gelu_erf`]).
    GeluErf,
    /// CLIP's quick GELU, `x · σ(1.702 x)`.
    QuickGelu,
}

impl OutputMap {
    /// Applies the map to `values` in place, on the calling thread.
    pub(crate) fn apply(self, values: &mut [f32]) {
        match self {
            OutputMap::Identity => {}
            OutputMap::Relu => values.iter_mut().for_each(|v| *v = v.max(0.)),
            OutputMap::GeluErf => crate::vector_math::gelu_erf_here(values),
            OutputMap::QuickGelu => crate::vector_math::quick_gelu_here(values),
        }
    }
}

/// What surrounds the product: the bias per output channel, a residual shaped like the output,
/// and the maps.
#[derive(Debug, Clone, Copy)]
pub struct Fused<'a> {
    /// One value per output channel, added to every position.
    pub bias: Option<&'a [f32]>,
    /// Added to the output value for value (the output's shape).
    pub residual: Option<&'a [f32]>,
    /// Applied to the inputs.
    pub input_map: InputMap,
    /// Applied to the outputs.
    pub output_map: OutputMap,
}

/// Convolves `input` (images of `(inputs, height, width)`, row-major, one after another) with
/// `weight` (`(outputs, kernel rows, kernel columns, inputs)`: taps major) into `out`
/// (`(outputs, rows, columns)` per image, [`ConvShape::output_size`]), with `fused`'s bias,
/// residual and maps. The number of images is `input.len()` over one image's size. Products run
/// on gemm's kernels over rayon's threads; the column buffers fill in parallel.
pub fn conv2d(
    shape: &ConvShape,
    input: &[f32],
    weight: &[f32],
    fused: Fused,
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let (rows, columns) = shape.output_size()?;
    let image_in = shape.inputs * shape.size.0 * shape.size.1;
    let positions = rows * columns;
    let image_out = shape.outputs * positions;
    let depth = shape.taps() * shape.inputs;
    let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(ShapeError(what)) };
    check(
        input.len().is_multiple_of(image_in) && !input.is_empty(),
        format!(
            "convolution: {} input values are not whole images of {image_in}",
            input.len()
        ),
    )?;
    let images = input.len() / image_in;
    check(
        out.len() == images * image_out,
        format!(
            "convolution: output of {} values for {images} images of {image_out}",
            out.len()
        ),
    )?;
    check(
        weight.len() == shape.outputs * depth,
        format!(
            "convolution: {} weights for {} filters of {depth}",
            weight.len(),
            shape.outputs
        ),
    )?;
    check(
        fused.bias.is_none_or(|b| b.len() == shape.outputs),
        format!("convolution: a bias for {} outputs", shape.outputs),
    )?;
    check(
        fused.residual.is_none_or(|r| r.len() == out.len()),
        format!(
            "convolution: a residual of {} values for {}",
            fused.residual.map_or(0, <[f32]>::len),
            out.len()
        ),
    )?;
    let direct = shape.pointwise() && fused.input_map == InputMap::Identity;
    let threads = rayon::current_num_threads();
    // Wide images: each thread takes whole chunks (its own column buffer, fill and product on
    // one core, no barrier between them), as many chunks as a multiple of the threads. Narrow
    // ones (ResNet's 14 × 14 and 7 × 7 stages): one chunk after another, each filled by all
    // threads and multiplied by gemm's threads.
    let target = (BUFFER_VALUES / depth).clamp(MIN_CHUNK, MAX_CHUNK);
    let split = threads > 1 && !direct && positions >= threads * MIN_SPLIT;
    let chunk = if split {
        let chunks = positions.div_ceil(target).next_multiple_of(threads);
        positions.div_ceil(chunks)
    } else {
        target.min(positions)
    };
    let starts: Vec<usize> = (0..positions).step_by(chunk).collect();
    for image in 0..images {
        let job = Chunks {
            shape,
            input: &input[image * image_in..(image + 1) * image_in],
            weight,
            fused: Fused {
                residual: fused
                    .residual
                    .map(|r| &r[image * image_out..(image + 1) * image_out]),
                ..fused
            },
            out: SharedMut(out[image * image_out..].as_mut_ptr()),
            positions,
            columns,
            depth,
            direct,
        };
        let len = if direct { 0 } else { depth * chunk };
        if split {
            starts.par_iter().for_each(|&start| {
                with_scratch(len, |buffer| {
                    // SAFETY: chunks cover disjoint positions of the image's output.
                    unsafe { job.run(start, chunk.min(positions - start), buffer, false) }
                })
            });
        } else {
            with_scratch(len, |buffer| {
                for &start in &starts {
                    // SAFETY: one chunk at a time.
                    unsafe { job.run(start, chunk.min(positions - start), buffer, true) }
                }
            });
        }
    }
    Ok(())
}

thread_local! {
    /// Each thread's column buffer, kept between convolutions: a fresh one (up to 19 MB for a
    /// 512-channel 3 × 3 layer) would be zeroed page by page by the kernel on every call.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on `len` values of this thread's column buffer (its old contents: every value
/// the product reads is filled first), or of a new one if the buffer is in use further up
/// this thread's stack.
fn with_scratch<R>(len: usize, work: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            work(&mut buffer[..len])
        }
        Err(_) => work(&mut vec![0.0; len]),
    })
}

/// One image's convolution, chunk by chunk.
struct Chunks<'a> {
    shape: &'a ConvShape,
    input: &'a [f32],
    weight: &'a [f32],
    /// The residual is this image's.
    fused: Fused<'a>,
    /// The image's output, `(outputs, positions)`.
    out: SharedMut,
    positions: usize,
    /// Output columns.
    columns: usize,
    depth: usize,
    /// Whether the product reads the image itself (pointwise, no input map).
    direct: bool,
}

impl Chunks<'_> {
    /// Output positions `start..start + count`: the bias and residual written, the columns
    /// filled into `buffer`, the product, the output map; with all of rayon's and gemm's
    /// threads when `shared`, else on the calling thread.
    ///
    /// # Safety
    /// No other call may be writing the same positions of the output at the same time.
    unsafe fn run(&self, start: usize, count: usize, buffer: &mut [f32], shared: bool) {
        let Fused {
            bias,
            residual,
            input_map,
            output_map,
        } = self.fused;
        let outputs = self.shape.outputs;
        // SAFETY: the chunk's `count` values of output row `o` lie inside the image's output,
        // and only this call writes them (the caller's promise).
        let segment = |o: usize| unsafe {
            std::slice::from_raw_parts_mut(self.out.at(o * self.positions + start), count)
        };
        let prefill = |o: usize| {
            let r = residual.map(|r| &r[o * self.positions + start..][..count]);
            start_row(segment(o), bias.map_or(0., |b| b[o]), r);
        };
        let read_dst = bias.is_some() || residual.is_some();
        if read_dst {
            if shared {
                (0..outputs).into_par_iter().for_each(prefill);
            } else {
                (0..outputs).for_each(prefill);
            }
        }
        let (rhs, rhs_rs) = if self.direct {
            (&self.input[start..], self.positions)
        } else {
            let columns = &mut buffer[..self.depth * count];
            let fill = |(row, dst): (usize, &mut [f32])| {
                fill_row(
                    self.shape,
                    self.input,
                    self.columns,
                    start,
                    row,
                    dst,
                    input_map,
                )
            };
            if shared {
                columns
                    .par_chunks_mut(count)
                    .enumerate()
                    .with_min_len(4)
                    .for_each(fill);
            } else {
                columns.chunks_mut(count).enumerate().for_each(fill);
            }
            (&columns[..], count)
        };
        // SAFETY: the output rows hold `positions` values and the chunk's columns
        // `start..start + count` lie inside each; `weight` is `(outputs, depth)` and `rhs`
        // `(depth, count)` with row stride `rhs_rs` inside its slice (checked by `conv2d`).
        unsafe {
            product(
                (outputs, count, self.depth),
                Strided::new(self.out.at(start), self.positions, 1),
                read_dst,
                Strided::new(self.weight.as_ptr(), self.depth, 1),
                Strided::new(rhs.as_ptr(), rhs_rs, 1),
                1.0,
                if shared { threads() } else { 1 },
            );
        }
        if output_map != OutputMap::Identity {
            let map = |o: usize| output_map.apply(segment(o));
            if shared {
                (0..outputs).into_par_iter().for_each(map);
            } else {
                (0..outputs).for_each(map);
            }
        }
    }
}

/// A pointwise convolution from channels-last rows to channels-first planes: `out` (`(outputs,
/// positions)` per image) `= residual + bias + (rows · weight)ᵀ`, `rows` `(positions, inputs)`
/// per image and `weight` `(inputs, outputs)`; `shape` is `(positions, inputs, outputs)`. One product writes each image's transposed
/// result in place over its residual (ConvNeXt's second pointwise layer: no permuted copy and
/// no separate bias or residual pass).
pub fn pointwise_to_planes(
    rows: &[f32],
    weight: &[f32],
    (positions, inputs, outputs): (usize, usize, usize),
    bias: Option<&[f32]>,
    residual: &[f32],
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let fits = positions * inputs * outputs > 0
        && rows.len().is_multiple_of(positions * inputs)
        && weight.len() == inputs * outputs
        && bias.is_none_or(|b| b.len() == outputs)
        && out.len() == rows.len() / inputs * outputs
        && residual.len() == out.len();
    if !fits {
        return Err(ShapeError(format!(
            "pointwise convolution: {} input values, {} weights for {inputs} → {outputs}, a              residual of {} and an output of {}",
            rows.len(),
            weight.len(),
            residual.len(),
            out.len()
        )));
    }
    for image in 0..rows.len() / (positions * inputs) {
        let out = &mut out[image * outputs * positions..(image + 1) * outputs * positions];
        let residual = &residual[image * outputs * positions..(image + 1) * outputs * positions];
        out.par_chunks_mut(positions)
            .zip(residual.par_chunks(positions))
            .enumerate()
            .for_each(|(o, (row, r))| start_row(row, bias.map_or(0., |b| b[o]), Some(r)));
        // SAFETY: `out` is `(outputs, positions)`, `weight` `(inputs, outputs)` and this
        // image's rows `(positions, inputs)`, all inside their slices (checked above).
        unsafe {
            product(
                (outputs, positions, inputs),
                Strided::new(out.as_mut_ptr(), positions, 1),
                true,
                Strided::new(weight.as_ptr(), 1, outputs),
                Strided::new(rows.as_ptr().add(image * positions * inputs), 1, inputs),
                1.0,
                threads(),
            );
        }
    }
    Ok(())
}

/// Writes an output row's starting values, which the product then adds to: `bias` plus the
/// residual's row when there is one.
fn start_row(row: &mut [f32], bias: f32, residual: Option<&[f32]>) {
    match residual {
        Some(r) => row.iter_mut().zip(r).for_each(|(v, r)| *v = r + bias),
        None => row.fill(bias),
    }
}

/// Row `row` (`tap · inputs + channel`) of the column buffer `(taps · inputs, count)` of output
/// positions `start..start + count`: for each position, the (mapped) input value that tap reads
/// from that channel, or 0 where it reads padding.
fn fill_row(
    shape: &ConvShape,
    input: &[f32],
    columns: usize,
    start: usize,
    row: usize,
    dst: &mut [f32],
    map: InputMap,
) {
    let count = dst.len();
    let (height, width) = shape.size;
    let plane = height * width;
    let (tap, channel) = (row / shape.inputs, row % shape.inputs);
    let (ky, kx) = (tap / shape.kernel.1, tap % shape.kernel.1);
    let source = &input[channel * plane..(channel + 1) * plane];
    let mut filled = 0;
    while filled < count {
        let position = start + filled;
        let (oy, ox) = (position / columns, position % columns);
        let run = (columns - ox).min(count - filled);
        let segment = &mut dst[filled..filled + run];
        let iy = (oy * shape.stride.0 + ky * shape.dilation.0) as isize - shape.padding.0 as isize;
        if iy < 0 || iy >= height as isize {
            segment.fill(0.);
        } else {
            let line = &source[iy as usize * width..(iy as usize + 1) * width];
            let first =
                (ox * shape.stride.1 + kx * shape.dilation.1) as isize - shape.padding.1 as isize;
            fill_line(segment, line, first, shape.stride.1, map);
        }
        filled += run;
    }
}

/// `segment[j] = map(line[first + j·stride])`, 0 where that index falls outside `line`.
fn fill_line(segment: &mut [f32], line: &[f32], first: isize, stride: usize, map: InputMap) {
    let (n, width, step) = (segment.len(), line.len() as isize, stride as isize);
    // Positions `lo..hi` read inside the line; those before and after read padding.
    let lo = if first >= 0 {
        0
    } else {
        ((-first + step - 1) / step) as usize
    }
    .min(n);
    let hi = if first >= width {
        0
    } else {
        ((width - 1 - first) / step + 1) as usize
    };
    let hi = hi.min(n).max(lo);
    segment[..lo].fill(0.);
    segment[hi..].fill(0.);
    if hi == lo {
        return;
    }
    let from = (first + lo as isize * step) as usize;
    let inside = &mut segment[lo..hi];
    if stride == 1 {
        inside.copy_from_slice(&line[from..from + inside.len()]);
    } else {
        inside
            .iter_mut()
            .zip(line[from..].iter().step_by(stride))
            .for_each(|(v, x)| *v = *x);
    }
    if let InputMap::LeakyRelu(slope) = map {
        inside
            .iter_mut()
            .for_each(|v| *v = if *v >= 0. { *v } else { *v * slope });
    }
}

/// The threads products may use: rayon's.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_values as values;

    /// The exact GELU in f64 (erf by its series, enough terms for |x| < 6).
    pub(crate) fn gelu(x: f64) -> f64 {
        let z = x / std::f64::consts::SQRT_2;
        let erf = if z.abs() > 5.0 {
            z.signum()
        } else {
            let (mut term, mut sum) = (z, z);
            for n in 1..200 {
                term *= -z * z / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        x / 2.0 * (1.0 + erf)
    }

    /// The convolution straight from its definition, in f64.
    fn reference(
        shape: &ConvShape,
        images: usize,
        input: &[f32],
        weight: &[f32],
        fused: Fused,
    ) -> Vec<f32> {
        let (rows, columns) = shape.output_size().unwrap();
        let (height, width) = shape.size;
        let depth = shape.taps() * shape.inputs;
        let mut out = Vec::new();
        for image in 0..images {
            for o in 0..shape.outputs {
                for oy in 0..rows {
                    for ox in 0..columns {
                        let mut sum = fused.bias.map_or(0., |b| b[o] as f64);
                        for ky in 0..shape.kernel.0 {
                            for kx in 0..shape.kernel.1 {
                                let iy = (oy * shape.stride.0 + ky * shape.dilation.0) as isize
                                    - shape.padding.0 as isize;
                                let ix = (ox * shape.stride.1 + kx * shape.dilation.1) as isize
                                    - shape.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy >= height as isize || ix >= width as isize
                                {
                                    continue;
                                }
                                for c in 0..shape.inputs {
                                    let mut x = input[((image * shape.inputs + c) * height
                                        + iy as usize)
                                        * width
                                        + ix as usize];
                                    if let InputMap::LeakyRelu(slope) = fused.input_map {
                                        x = if x >= 0. { x } else { x * slope };
                                    }
                                    let w = weight
                                        [o * depth + (ky * shape.kernel.1 + kx) * shape.inputs + c];
                                    sum += x as f64 * w as f64;
                                }
                            }
                        }
                        let at = ((image * shape.outputs + o) * rows + oy) * columns + ox;
                        sum += fused.residual.map_or(0., |r| r[at] as f64);
                        sum = match fused.output_map {
                            OutputMap::Identity => sum,
                            OutputMap::Relu => sum.max(0.),
                            OutputMap::GeluErf => gelu(sum),
                            OutputMap::QuickGelu => sum / (1.0 + (-1.702 * sum).exp()),
                        };
                        out.push(sum as f32);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_for_every_geometry_and_fusion() {
        // (inputs, outputs, size, kernel, stride, padding, dilation, images)
        let cases = [
            (3, 5, (9, 11), (3, 3), (1, 1), (1, 1), (1, 1), 2),
            (4, 6, (13, 7), (1, 1), (1, 1), (0, 0), (1, 1), 1),
            (4, 6, (13, 7), (1, 1), (2, 2), (0, 0), (1, 1), 2),
            (3, 4, (23, 21), (7, 7), (2, 2), (3, 3), (1, 1), 1),
            (2, 3, (16, 16), (4, 4), (4, 4), (0, 0), (1, 1), 1),
            (5, 4, (1, 3001), (1, 3), (1, 2), (0, 1), (1, 1), 1),
            (3, 2, (1, 1500), (1, 7), (1, 1), (0, 9), (1, 3), 1),
            (6, 3, (40, 45), (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (2, 2, (5, 4), (2, 3), (1, 2), (2, 0), (2, 1), 1),
        ];
        for (inputs, outputs, size, kernel, stride, padding, dilation, images) in cases {
            let shape = ConvShape {
                inputs,
                outputs,
                size,
                kernel,
                stride,
                padding,
                dilation,
            };
            let (rows, columns) = shape.output_size().unwrap();
            let input = values(images * inputs * size.0 * size.1, 1);
            let weight = values(outputs * kernel.0 * kernel.1 * inputs, 2);
            let bias = values(outputs, 3);
            let residual = values(images * outputs * rows * columns, 4);
            for (with_bias, with_residual, input_map, output_map) in [
                (false, false, InputMap::Identity, OutputMap::Identity),
                (true, false, InputMap::Identity, OutputMap::Relu),
                (true, true, InputMap::LeakyRelu(0.1), OutputMap::Identity),
                (false, true, InputMap::Identity, OutputMap::Relu),
                (true, false, InputMap::Identity, OutputMap::GeluErf),
            ] {
                let fused = Fused {
                    bias: with_bias.then_some(&bias[..]),
                    residual: with_residual.then_some(&residual[..]),
                    input_map,
                    output_map,
                };
                let mut out = vec![f32::NAN; residual.len()];
                conv2d(&shape, &input, &weight, fused, &mut out).unwrap();
                let expected = reference(&shape, images, &input, &weight, fused);
                let worst = out
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0., f32::max);
                assert!(worst < 1e-4, "{shape:?} {fused:?}: off by {worst}");
            }
        }
    }

    #[test]
    fn pointwise_to_planes_is_the_transposed_product_plus_bias_and_residual() {
        let (images, positions, inputs, outputs) = (2, 37, 19, 11);
        let rows = values(images * positions * inputs, 5);
        let weight = values(inputs * outputs, 6);
        let bias = values(outputs, 7);
        let residual = values(images * outputs * positions, 8);
        let mut out = vec![f32::NAN; residual.len()];
        let shape = (positions, inputs, outputs);
        pointwise_to_planes(&rows, &weight, shape, Some(&bias), &residual, &mut out).unwrap();
        for image in 0..images {
            for o in 0..outputs {
                for p in 0..positions {
                    let sum: f64 = (0..inputs)
                        .map(|i| {
                            rows[(image * positions + p) * inputs + i] as f64
                                * weight[i * outputs + o] as f64
                        })
                        .sum();
                    let at = (image * outputs + o) * positions + p;
                    let expected = sum + bias[o] as f64 + residual[at] as f64;
                    assert!((out[at] as f64 - expected).abs() < 1e-4, "{image} {o} {p}");
                }
            }
        }
        let short = &residual[1..];
        let mut out = vec![0.; short.len()];
        assert!(pointwise_to_planes(&rows, &weight, shape, None, short, &mut out).is_err());
    }

    #[test]
    fn refuses_shapes_that_do_not_fit() {
        let shape = ConvShape {
            inputs: 2,
            outputs: 3,
            size: (2, 2),
            kernel: (3, 3),
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
        };
        assert!(shape.output_size().is_err());
        let fits = ConvShape {
            padding: (1, 1),
            ..shape
        };
        let fused = Fused {
            bias: None,
            residual: None,
            input_map: InputMap::Identity,
            output_map: OutputMap::Identity,
        };
        let mut out = vec![0.; 12];
        assert!(conv2d(&fits, &[0.; 8], &[0.; 54], fused, &mut out).is_ok());
        assert!(conv2d(&fits, &[0.; 7], &[0.; 54], fused, &mut out).is_err());
        assert!(conv2d(&fits, &[0.; 8], &[0.; 53], fused, &mut out).is_err());
        assert!(
            conv2d(
                &fits,
                &[0.; 8],
                &[0.; 54],
                Fused {
                    bias: Some(&[0.; 2]),
                    ..fused
                },
                &mut out
            )
            .is_err()
        );
    }
}
