//! Depthwise 2-D convolution (one `k × k` filter per channel, stride 1, zero padding) on F32
//! planes, for ConvNeXt's 7 × 7 convolutions: candle 0.11 runs a grouped convolution group by
//! group, one small im2col product per channel.
//!
//! Each task takes one channel plane of one image: it copies the plane into a zero-padded
//! scratch buffer (so no tap needs a bounds test), then computes the output in blocks of
//! [`ROWS`] rows × [`LANES`] columns held in registers, each filter tap broadcast once per block
//! and multiplied into the block's rows. Width and height are rounded up to whole blocks in the
//! scratch buffer and the extra outputs are not written back, so any size takes the same loop.
//!
//! Every output sums its bias, then its taps row by row, left to right, in that fixed order
//! whatever the CPU or the thread count; CPUs with AVX2 and FMA run a copy of the loop compiled
//! for them (fused multiply-adds, 8-lane vectors), others the same loop with separate
//! multiplies and adds.

use rayon::prelude::*;

use crate::ShapeError;

/// Output rows per register block.
const ROWS: usize = 4;

/// Output columns per register block: two AVX2 vectors.
const LANES: usize = 16;

/// The shape of a depthwise convolution's input and filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depthwise {
    /// Channels (one filter each).
    pub channels: usize,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
    /// Filter side `k` (the filter is `k × k`).
    pub kernel: usize,
    /// Zeros added on every side.
    pub padding: usize,
}

impl Depthwise {
    /// Output `(rows, columns)`: `height + 2·padding − kernel + 1` and the same for the width.
    pub fn output_size(&self) -> Result<(usize, usize), ShapeError> {
        let reach = self.kernel.checked_sub(1).ok_or_else(|| {
            ShapeError("depthwise convolution: the kernel must be at least 1 × 1".into())
        })?;
        let rows = (self.height + 2 * self.padding).checked_sub(reach);
        let columns = (self.width + 2 * self.padding).checked_sub(reach);
        match (rows, columns) {
            (Some(rows), Some(columns))
                if rows > 0 && columns > 0 && self.height > 0 && self.width > 0 =>
            {
                Ok((rows, columns))
            }
            _ => Err(ShapeError(format!(
                "depthwise convolution: a {0} × {0} kernel does not fit a {1} × {2} input \
                 padded by {3}",
                self.kernel, self.height, self.width, self.padding
            ))),
        }
    }
}

/// Convolves `input` (images of `(channels, height, width)`, row-major, one after another) with
/// `weight` (`(channels, kernel, kernel)`) plus `bias` (`channels`, optional) into `out`
/// (`(channels, rows, columns)` per image, [`Depthwise::output_size`]). The number of images is
/// `input.len()` over one image's size; channel planes run in parallel on rayon's threads.
pub fn depthwise_conv2d(
    shape: &Depthwise,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let (rows, columns) = shape.output_size()?;
    let Depthwise {
        channels,
        height,
        width,
        kernel,
        padding,
    } = *shape;
    let plane_in = height * width;
    let plane_out = rows * columns;
    let taps = kernel * kernel;
    if channels == 0 || !input.len().is_multiple_of(channels * plane_in) {
        return Err(ShapeError(format!(
            "depthwise convolution: {} input values are not whole images of {channels} × \
             {height} × {width}",
            input.len()
        )));
    }
    let planes = input.len() / plane_in;
    if out.len() != planes * plane_out {
        return Err(ShapeError(format!(
            "depthwise convolution: output of {} values for {planes} planes of {rows} × {columns}",
            out.len()
        )));
    }
    if weight.len() != channels * taps {
        return Err(ShapeError(format!(
            "depthwise convolution: {} weights for {channels} filters of {kernel} × {kernel}",
            weight.len()
        )));
    }
    if bias.is_some_and(|b| b.len() != channels) {
        return Err(ShapeError(format!(
            "depthwise convolution: a bias of {} values for {channels} channels",
            bias.map_or(0, <[f32]>::len)
        )));
    }
    let padded = Padded {
        rows: rows.next_multiple_of(ROWS) + kernel - 1,
        columns: columns.next_multiple_of(LANES) + kernel - 1,
    };
    let fma = fma_available();
    out.par_chunks_mut(plane_out)
        .zip(input.par_chunks(plane_in))
        .enumerate()
        .for_each_init(
            || vec![0f32; padded.rows * padded.columns],
            |scratch, (plane, (out, input))| {
                let c = plane % channels;
                padded.fill(scratch, input, height, width, padding);
                let job = Plane {
                    padded: scratch,
                    stride: padded.columns,
                    filter: &weight[c * taps..(c + 1) * taps],
                    kernel,
                    bias: bias.map_or(0., |b| b[c]),
                    rows,
                    columns,
                };
                #[cfg(target_arch = "x86_64")]
                if fma {
                    // SAFETY: AVX2 and FMA are present (`fma_available`).
                    return unsafe { job.run_fma(out) };
                }
                let _ = fma;
                job.run_with(out, |a, b, c| a * b + c);
            },
        );
    Ok(())
}

/// Whether this CPU has AVX2 and FMA.
fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The zero-padded scratch plane's size: the output rounded up to whole blocks, plus the
/// filter's reach.
#[derive(Clone, Copy)]
struct Padded {
    rows: usize,
    columns: usize,
}

impl Padded {
    /// Zeros with the `height × width` plane `input` at `(padding, padding)`.
    fn fill(
        &self,
        scratch: &mut [f32],
        input: &[f32],
        height: usize,
        width: usize,
        padding: usize,
    ) {
        scratch.fill(0.);
        for (y, row) in input.chunks_exact(width).take(height).enumerate() {
            let at = (y + padding) * self.columns + padding;
            scratch[at..at + width].copy_from_slice(row);
        }
    }
}

/// One channel plane's convolution over its padded copy.
struct Plane<'a> {
    padded: &'a [f32],
    /// Values per padded row.
    stride: usize,
    /// `kernel × kernel` taps, row-major.
    filter: &'a [f32],
    kernel: usize,
    bias: f32,
    rows: usize,
    columns: usize,
}

impl Plane<'_> {
    /// [`Plane::run_with`] compiled for AVX2 with fused multiply-adds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_fma(&self, out: &mut [f32]) {
        self.run_with(out, f32::mul_add)
    }

    /// The plane's `rows × columns` outputs into `out`, `madd(a, b, c)` being `a * b + c`.
    #[inline(always)]
    fn run_with(&self, out: &mut [f32], madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
        for top in (0..self.rows).step_by(ROWS) {
            for left in (0..self.columns).step_by(LANES) {
                let block = self.block(top, left, madd);
                let width = LANES.min(self.columns - left);
                for (r, values) in block.iter().enumerate().take(self.rows - top) {
                    let at = (top + r) * self.columns + left;
                    out[at..at + width].copy_from_slice(&values[..width]);
                }
            }
        }
    }

    /// The `ROWS × LANES` outputs whose top-left one is `(top, left)`, in registers.
    #[inline(always)]
    fn block(
        &self,
        top: usize,
        left: usize,
        madd: impl Fn(f32, f32, f32) -> f32,
    ) -> [[f32; LANES]; ROWS] {
        let mut acc = [[self.bias; LANES]; ROWS];
        let k = self.kernel;
        // The last value the taps read; the scratch plane has whole blocks plus the reach.
        let end = (top + ROWS + k - 2) * self.stride + left + k - 1 + LANES;
        assert!(
            end <= self.padded.len(),
            "depthwise block outside its padded plane"
        );
        let base = self.padded.as_ptr();
        for ky in 0..k {
            let taps = &self.filter[ky * k..(ky + 1) * k];
            // SAFETY: inside `padded` (the assertion above bounds every row and column read).
            let rows: [*const f32; ROWS] =
                std::array::from_fn(|r| unsafe { base.add((top + r + ky) * self.stride + left) });
            for (kx, &w) in taps.iter().enumerate() {
                for (acc, row) in acc.iter_mut().zip(rows) {
                    // SAFETY: `kx + LANES <= k - 1 + LANES` values from a row start, inside
                    // `padded` (the assertion above).
                    let src = unsafe { &*row.add(kx).cast::<[f32; LANES]>() };
                    for (a, &x) in acc.iter_mut().zip(src) {
                        *a = madd(w, x, *a);
                    }
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant_matmul::uniform;

    /// The convolution written out plainly in F64, bounds tested per tap.
    fn reference(
        shape: &Depthwise,
        input: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        let (rows, columns) = shape.output_size().unwrap();
        let Depthwise {
            channels,
            height,
            width,
            kernel,
            padding,
        } = *shape;
        let planes = input.len() / (height * width);
        let mut out = Vec::with_capacity(planes * rows * columns);
        for plane in 0..planes {
            let c = plane % channels;
            let x = &input[plane * height * width..(plane + 1) * height * width];
            for oy in 0..rows {
                for ox in 0..columns {
                    let mut sum = bias.map_or(0., |b| b[c] as f64);
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let (iy, ix) = (oy + ky, ox + kx);
                            if iy < padding || ix < padding {
                                continue;
                            }
                            let (iy, ix) = (iy - padding, ix - padding);
                            if iy >= height || ix >= width {
                                continue;
                            }
                            let w = weight[(c * kernel + ky) * kernel + kx] as f64;
                            sum += w * x[iy * width + ix] as f64;
                        }
                    }
                    out.push(sum as f32);
                }
            }
        }
        out
    }

    fn check(shape: Depthwise, images: usize, with_bias: bool) {
        let (rows, columns) = shape.output_size().unwrap();
        let c = shape.channels;
        let input = uniform(images * c * shape.height * shape.width, 1);
        let weight = uniform(c * shape.kernel * shape.kernel, 2);
        let bias = with_bias.then(|| uniform(c, 3));
        let expected = reference(&shape, &input, &weight, bias.as_deref());
        let mut out = vec![f32::NAN; images * c * rows * columns];
        depthwise_conv2d(&shape, &input, &weight, bias.as_deref(), &mut out).unwrap();
        for (i, (&got, &want)) in out.iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() <= 1e-5 * (1. + want.abs()),
                "{shape:?} × {images}, bias {with_bias}: output {i} is {got}, expected {want}"
            );
        }
    }

    #[test]
    fn matches_the_plain_loop_on_odd_sizes() {
        for channels in [1, 5, 96] {
            for side in [1, 3, 13, 56] {
                check(
                    Depthwise {
                        channels,
                        height: side,
                        width: side,
                        kernel: 7,
                        padding: 3,
                    },
                    1,
                    true,
                );
            }
        }
    }

    #[test]
    fn takes_rectangles_batches_other_kernels_and_paddings() {
        for (kernel, padding, height, width) in [
            (7, 3, 9, 17),
            (7, 3, 2, 31),
            (3, 1, 5, 8),
            (3, 0, 3, 11),
            (5, 4, 6, 1),
            (1, 0, 7, 9),
            (4, 1, 12, 10),
            (7, 0, 7, 7),
        ] {
            for with_bias in [false, true] {
                let shape = Depthwise {
                    channels: 5,
                    height,
                    width,
                    kernel,
                    padding,
                };
                check(shape, 3, with_bias);
            }
        }
    }

    #[test]
    fn the_loop_without_fma_matches_too() {
        // What CPUs without AVX2 and FMA run, whatever this one has.
        let shape = Depthwise {
            channels: 1,
            height: 13,
            width: 29,
            kernel: 7,
            padding: 3,
        };
        let (rows, columns) = shape.output_size().unwrap();
        let input = uniform(13 * 29, 4);
        let weight = uniform(49, 5);
        let padded = Padded {
            rows: rows.next_multiple_of(ROWS) + 6,
            columns: columns.next_multiple_of(LANES) + 6,
        };
        let mut scratch = vec![0f32; padded.rows * padded.columns];
        padded.fill(&mut scratch, &input, 13, 29, 3);
        let plane = Plane {
            padded: &scratch,
            stride: padded.columns,
            filter: &weight,
            kernel: 7,
            bias: 0.25,
            rows,
            columns,
        };
        let mut out = vec![f32::NAN; rows * columns];
        plane.run_with(&mut out, |a, b, c| a * b + c);
        let expected = reference(&shape, &input, &weight, Some(&[0.25]));
        for (&got, &want) in out.iter().zip(&expected) {
            assert!((got - want).abs() <= 1e-5 * (1. + want.abs()));
        }
    }

    #[test]
    fn refuses_mismatched_shapes() {
        let shape = Depthwise {
            channels: 2,
            height: 3,
            width: 3,
            kernel: 7,
            padding: 1,
        };
        assert!(shape.output_size().is_err());
        let shape = Depthwise {
            padding: 3,
            ..shape
        };
        let mut out = vec![0f32; 18];
        assert!(depthwise_conv2d(&shape, &[0.; 18], &[0.; 98], None, &mut out).is_ok());
        assert!(depthwise_conv2d(&shape, &[0.; 17], &[0.; 98], None, &mut out).is_err());
        assert!(depthwise_conv2d(&shape, &[0.; 18], &[0.; 97], None, &mut out).is_err());
        assert!(depthwise_conv2d(&shape, &[0.; 18], &[0.; 98], Some(&[0.]), &mut out).is_err());
        assert!(depthwise_conv2d(&shape, &[0.; 18], &[0.; 98], None, &mut out[..9]).is_err());
    }
}
