//! Fully connected layers on F32 rows: `map(rows · weight + bias)`, the weight `(in, out)`
//! row-major, by blocks of rows: each block's outputs start as the bias, one `gemm` product adds
//! to them, and the [`OutputMap`] (the MLPs' GELU) runs over the block while it is in cache.
//! candle's path makes the product, then adds the bias in a pass over the whole output and
//! applies the activation in another.

use rayon::prelude::*;

use crate::conv_product::threads;
use crate::{OutputMap, ShapeError, Strided, product};

/// Output values per block (4 MiB): blocks are this over the output width in rows, at least one.
const BLOCK_VALUES: usize = 1 << 20;

/// `out` (`(rows, outputs)`) `= map(rows · weight + bias)` for `rows` `(rows, inputs)` and
/// `weight` `(inputs, outputs)`; `shape` is `(inputs, outputs)`.
pub fn linear(
    rows: &[f32],
    weight: &[f32],
    (inputs, outputs): (usize, usize),
    bias: Option<&[f32]>,
    map: OutputMap,
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let fits = inputs > 0
        && outputs > 0
        && rows.len().is_multiple_of(inputs)
        && weight.len() == inputs * outputs
        && bias.is_none_or(|b| b.len() == outputs)
        && out.len() == rows.len() / inputs * outputs;
    if !fits {
        return Err(ShapeError(format!(
            "linear layer {inputs} → {outputs}: {} input values, {} weights, a bias of {} and \
             an output of {}",
            rows.len(),
            weight.len(),
            bias.map_or(0, <[f32]>::len),
            out.len()
        )));
    }
    let count = rows.len() / inputs;
    let block = (BLOCK_VALUES / outputs).max(1);
    for first in (0..count).step_by(block) {
        let n = block.min(count - first);
        let out = &mut out[first * outputs..(first + n) * outputs];
        if let Some(bias) = bias {
            out.par_chunks_mut(outputs)
                .for_each(|row| row.copy_from_slice(bias));
        }
        // SAFETY: `out` is this block's `(n, outputs)`, its rows `(n, inputs)` start at
        // `first · inputs` in `rows`, and `weight` is `(inputs, outputs)` (checked above).
        unsafe {
            product(
                (n, outputs, inputs),
                Strided::new(out.as_mut_ptr(), outputs, 1),
                bias.is_some(),
                Strided::new(rows.as_ptr().add(first * inputs), inputs, 1),
                Strided::new(weight.as_ptr(), outputs, 1),
                1.0,
                threads(),
            );
        }
        if map != OutputMap::Identity {
            out.par_chunks_mut(outputs.max(4096))
                .for_each(|values| map.apply(values));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_product::tests::gelu;
    use crate::test_values as values;

    #[test]
    fn matches_the_definition_over_blocks_with_and_without_bias_and_gelu() {
        // 700 rows of 3000 outputs: three blocks, the last partial.
        for (count, inputs, outputs) in [(700, 17, 3000), (1, 64, 5), (3, 1, 1)] {
            let rows = values(count * inputs, 1);
            let weight = values(inputs * outputs, 2);
            let bias = values(outputs, 3);
            for (with_bias, map) in [
                (true, OutputMap::GeluErf),
                (false, OutputMap::Identity),
                (true, OutputMap::Relu),
                (true, OutputMap::QuickGelu),
            ] {
                let bias = with_bias.then_some(&bias[..]);
                let mut out = vec![f32::NAN; count * outputs];
                linear(&rows, &weight, (inputs, outputs), bias, map, &mut out).unwrap();
                for r in 0..count {
                    for o in 0..outputs {
                        let mut sum: f64 = (0..inputs)
                            .map(|i| rows[r * inputs + i] as f64 * weight[i * outputs + o] as f64)
                            .sum();
                        sum += bias.map_or(0., |b| b[o] as f64);
                        let expected = match map {
                            OutputMap::Identity => sum,
                            OutputMap::Relu => sum.max(0.),
                            OutputMap::GeluErf => gelu(sum),
                            OutputMap::QuickGelu => sum / (1.0 + (-1.702 * sum).exp()),
                        };
                        let got = out[r * outputs + o] as f64;
                        assert!(
                            (got - expected).abs() < 1e-4,
                            "{r} {o}: {got} vs {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_mismatched_lengths() {
        let mut out = vec![0.; 6];
        let fine = linear(
            &[0.; 4],
            &[0.; 6],
            (2, 3),
            None,
            OutputMap::Identity,
            &mut out,
        );
        assert!(fine.is_ok());
        let map = OutputMap::Identity;
        assert!(linear(&[0.; 5], &[0.; 6], (2, 3), None, map, &mut out).is_err());
        assert!(linear(&[0.; 4], &[0.; 6], (2, 3), Some(&[0.; 2]), map, &mut out).is_err());
        assert!(linear(&[0.; 4], &[0.; 6], (2, 3), None, map, &mut out[..5]).is_err());
    }
}
