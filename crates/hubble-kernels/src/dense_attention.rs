//! Unmasked multi-head attention over whole sequences on F32 values, for the encoders (ViT,
//! Whisper's 1500 audio frames): `softmax(scale · Q Kᵀ) V` for every head.
//!
//! Each task takes one head of one sequence and a block of [`QUERY_BLOCK`] queries: one `gemm`
//! product writes the block's scores over all keys into a buffer that stays in cache, the rows'
//! softmax runs there, and a second product multiplies them by the values straight into the
//! output's columns of that head. The queries, keys and values are read where their
//! projections wrote them (`(tokens, heads · head_dim)`, a head's columns side by side), so no
//! head is split out or merged back, and the `(heads, tokens, tokens)` score tensor (54 MB per
//! Whisper layer) is never made.

use rayon::prelude::*;

use crate::vector_math::softmax_rows_here;
use crate::{ShapeError, SharedMut, Strided, product};

/// Queries per task: a block's scores over 1500 keys are 384 KB.
const QUERY_BLOCK: usize = 64;

/// The shape of a dense attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseAttention {
    /// Sequences.
    pub batch: usize,
    /// Queries per sequence.
    pub queries: usize,
    /// Keys (and values) per sequence.
    pub keys: usize,
    /// Heads.
    pub heads: usize,
    /// Values per head.
    pub head_dim: usize,
}

/// Attends from `q` (`(batch · queries, heads · head_dim)`) over `k` and `v` (`(batch · keys,
/// heads · head_dim)`) into `out` (shaped like `q`): per sequence and head,
/// `softmax(scale · Q Kᵀ) V`. Tasks run on rayon's threads.
pub fn dense_attention(
    shape: &DenseAttention,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    scale: f32,
    out: &mut [f32],
) -> Result<(), ShapeError> {
    let DenseAttention {
        batch,
        queries,
        keys,
        heads,
        head_dim,
    } = *shape;
    let width = heads * head_dim;
    if width == 0 || keys == 0 {
        return Err(ShapeError(
            "attention: no heads, head values or keys".into(),
        ));
    }
    if q.len() != batch * queries * width
        || out.len() != q.len()
        || k.len() != batch * keys * width
        || v.len() != k.len()
    {
        return Err(ShapeError(format!(
            "attention: {} query, {} key, {} value and {} output values for {shape:?}",
            q.len(),
            k.len(),
            v.len(),
            out.len()
        )));
    }
    let blocks = queries.div_ceil(QUERY_BLOCK);
    let out = SharedMut(out.as_mut_ptr());
    (0..batch * heads * blocks).into_par_iter().for_each_init(
        || vec![0f32; QUERY_BLOCK * keys],
        |scores, task| {
            let (sequence, head, block) = (
                task / (heads * blocks),
                task / blocks % heads,
                task % blocks,
            );
            let first = block * QUERY_BLOCK;
            let rows = QUERY_BLOCK.min(queries - first);
            let scores = &mut scores[..rows * keys];
            let column = head * head_dim;
            let q_at = (sequence * queries + first) * width + column;
            let kv_at = sequence * keys * width + column;
            // SAFETY: every operand lies inside its slice (lengths checked above): the block's
            // `rows` queries of `head_dim` values, the sequence's `keys` keys and values with
            // row stride `width`, and `scores` of `rows · keys`. Tasks write disjoint parts
            // of `out`: their own head's columns of their own block of rows.
            unsafe {
                // Kᵀ: a key's values run down a column.
                product(
                    (rows, keys, head_dim),
                    Strided::new(scores.as_mut_ptr(), keys, 1),
                    false,
                    Strided::new(q.as_ptr().add(q_at), width, 1),
                    Strided::new(k.as_ptr().add(kv_at), 1, width),
                    scale,
                    1,
                );
                softmax_rows_here(scores, keys);
                product(
                    (rows, head_dim, keys),
                    Strided::new(out.at(q_at), width, 1),
                    false,
                    Strided::new(scores.as_ptr(), keys, 1),
                    Strided::new(v.as_ptr().add(kv_at), width, 1),
                    1.0,
                    1,
                );
            }
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values as values;

    /// The attention straight from its definition, in f64.
    fn reference(shape: &DenseAttention, q: &[f32], k: &[f32], v: &[f32], scale: f32) -> Vec<f32> {
        let width = shape.heads * shape.head_dim;
        let mut out = vec![0f32; q.len()];
        for s in 0..shape.batch {
            for h in 0..shape.heads {
                for i in 0..shape.queries {
                    let row = (s * shape.queries + i) * width + h * shape.head_dim;
                    let scores: Vec<f64> = (0..shape.keys)
                        .map(|j| {
                            let key = (s * shape.keys + j) * width + h * shape.head_dim;
                            (0..shape.head_dim)
                                .map(|d| q[row + d] as f64 * k[key + d] as f64)
                                .sum::<f64>()
                                * scale as f64
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let exps: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
                    let total: f64 = exps.iter().sum();
                    for d in 0..shape.head_dim {
                        let sum: f64 = (0..shape.keys)
                            .map(|j| {
                                exps[j]
                                    * v[(s * shape.keys + j) * width + h * shape.head_dim + d]
                                        as f64
                            })
                            .sum();
                        out[row + d] = (sum / total) as f32;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_with_partial_query_blocks() {
        for (batch, queries, keys, heads, head_dim) in [
            (1, 197, 197, 3, 64),
            (2, 5, 130, 2, 8),
            (1, 1, 1, 1, 1),
            (1, 129, 77, 4, 16),
        ] {
            let shape = DenseAttention {
                batch,
                queries,
                keys,
                heads,
                head_dim,
            };
            let width = heads * head_dim;
            let q = values(batch * queries * width, 1);
            let k = values(batch * keys * width, 2);
            let v = values(batch * keys * width, 3);
            let scale = (head_dim as f32).powf(-0.5);
            let mut out = vec![f32::NAN; q.len()];
            dense_attention(&shape, &q, &k, &v, scale, &mut out).unwrap();
            let expected = reference(&shape, &q, &k, &v, scale);
            let worst = out
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0., f32::max);
            assert!(worst < 1e-5, "{shape:?}: off by {worst}");
        }
    }

    #[test]
    fn refuses_mismatched_lengths() {
        let shape = DenseAttention {
            batch: 1,
            queries: 2,
            keys: 3,
            heads: 2,
            head_dim: 4,
        };
        let mut out = vec![0.; 16];
        assert!(dense_attention(&shape, &[0.; 16], &[0.; 24], &[0.; 24], 1., &mut out).is_ok());
        assert!(dense_attention(&shape, &[0.; 16], &[0.; 23], &[0.; 24], 1., &mut out).is_err());
        assert!(
            dense_attention(&shape, &[0.; 15], &[0.; 24], &[0.; 24], 1., &mut out[..15]).is_err()
        );
        let empty = DenseAttention { keys: 0, ..shape };
        assert!(dense_attention(&empty, &[0.; 16], &[], &[], 1., &mut out).is_err());
    }
}
