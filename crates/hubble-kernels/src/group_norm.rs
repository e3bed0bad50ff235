//! Group normalisation of F32 images, optionally followed by SiLU, for Stable Diffusion's UNet
//! and VAE (every ResNet block normalises and activates before each convolution; at 512 × 512
//! the VAE's tensors are 134 MB). candle's `GroupNorm` is eight separate passes of single-
//! threaded tensor ops, and its SiLU another with a scalar `expf` per value; here each group is
//! a task on rayon's threads: one pass sums its values and their squares (f32 runs of
//! [`RUN`] values added into f64 totals), then one pass writes `x · a + b` per channel (`a`,
//! `b` folding the mean, deviation, weight and bias), SiLU applied to it in the same loop.

use rayon::prelude::*;

use crate::ShapeError;
use crate::vector_math::silu_here;

/// Values summed in f32 before the sum goes into the group's f64 total.
const RUN: usize = 256;

/// The shape of a group normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupNorm {
    /// Channels (a multiple of `groups`).
    pub channels: usize,
    /// Values per channel in each image (height · width).
    pub plane: usize,
    /// Groups of consecutive channels sharing a mean and variance.
    pub groups: usize,
    /// Added to the variance.
    pub eps: f64,
    /// Whether SiLU follows.
    pub silu: bool,
}

/// Normalises `input` (images of `(channels, plane)` values, one after another) into `out`
/// (the same shape): per image and group, `(x − mean) / √(var + eps) · weight[c] + bias[c]`,
/// then SiLU when `shape.silu`.
pub fn group_norm(
    shape: &GroupNorm,
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let GroupNorm {
        channels,
        plane,
        groups,
        eps,
        silu,
    } = *shape;
    let fits = groups > 0
        && plane > 0
        && channels.is_multiple_of(groups)
        && !input.is_empty()
        && input.len().is_multiple_of(channels * plane)
        && out.len() == input.len()
        && weight.len() == channels
        && bias.len() == channels;
    if !fits {
        return Err(ShapeError(format!(
            "group norm: {} values ({} out) in {groups} groups of {channels} channels of \
             {plane}, {} weights and {} biases",
            input.len(),
            out.len(),
            weight.len(),
            bias.len()
        )));
    }
    let per_group = channels / groups;
    // Each group is a run of `per_group` planes.
    let group_len = per_group * plane;
    out.par_chunks_mut(group_len)
        .zip(input.par_chunks(group_len))
        .enumerate()
        .for_each(|(task, (out, input))| {
            let (sum, squares) = input.chunks(RUN).fold((0f64, 0f64), |(s, q), run| {
                let (rs, rq) = run
                    .iter()
                    .fold((0f32, 0f32), |(s, q), &x| (s + x, q + x * x));
                (s + rs as f64, q + rq as f64)
            });
            let count = group_len as f64;
            let mean = sum / count;
            let variance = (squares / count - mean * mean).max(0.0);
            let deviation = 1.0 / (variance + eps).sqrt();
            let first_channel = task % groups * per_group;
            for (c, (out, input)) in out.chunks_mut(plane).zip(input.chunks(plane)).enumerate() {
                let channel = first_channel + c;
                let a = (deviation * weight[channel] as f64) as f32;
                let b = (bias[channel] as f64 - mean * deviation * weight[channel] as f64) as f32;
                out.iter_mut().zip(input).for_each(|(y, &x)| *y = x * a + b);
                if silu {
                    silu_here(out);
                }
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values;

    #[test]
    fn matches_the_definition_with_and_without_silu() {
        for (images, channels, groups, plane) in [(2, 8, 4, 37), (1, 6, 1, 5), (1, 32, 32, 300)] {
            let input: Vec<f32> = test_values(images * channels * plane, 1)
                .iter()
                .map(|v| v * 3.0 + 0.5)
                .collect();
            let weight = test_values(channels, 2);
            let bias = test_values(channels, 3);
            for silu in [false, true] {
                let shape = GroupNorm {
                    channels,
                    plane,
                    groups,
                    eps: 1e-6,
                    silu,
                };
                let mut out = vec![f32::NAN; input.len()];
                group_norm(&shape, &input, &weight, &bias, &mut out).unwrap();
                let per_group = channels / groups;
                for image in 0..images {
                    for g in 0..groups {
                        let start = (image * channels + g * per_group) * plane;
                        let values = &input[start..start + per_group * plane];
                        let n = values.len() as f64;
                        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
                        let var = values
                            .iter()
                            .map(|&v| (v as f64 - mean).powi(2))
                            .sum::<f64>()
                            / n;
                        for (i, &x) in values.iter().enumerate() {
                            let c = g * per_group + i / plane;
                            let mut y = (x as f64 - mean) / (var + 1e-6).sqrt() * weight[c] as f64
                                + bias[c] as f64;
                            if silu {
                                y /= 1.0 + (-y).exp();
                            }
                            let got = out[start + i] as f64;
                            assert!(
                                (got - y).abs() < 1e-5,
                                "{images} {channels} {g} {i}: {got} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_mismatched_shapes() {
        let shape = GroupNorm {
            channels: 4,
            plane: 2,
            groups: 3,
            eps: 1e-5,
            silu: false,
        };
        let mut out = vec![0.; 8];
        assert!(group_norm(&shape, &[0.; 8], &[0.; 4], &[0.; 4], &mut out).is_err());
        let shape = GroupNorm { groups: 2, ..shape };
        assert!(group_norm(&shape, &[0.; 8], &[0.; 4], &[0.; 4], &mut out).is_ok());
        assert!(group_norm(&shape, &[0.; 8], &[0.; 3], &[0.; 4], &mut out).is_err());
        assert!(group_norm(&shape, &[0.; 7], &[0.; 4], &[0.; 4], &mut out[..7]).is_err());
    }
}
