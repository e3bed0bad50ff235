//! Q5_1 weights (24-byte blocks: F16 scale and minimum, 32 high bits, 32 low nibbles; a weight
//! is `d · q5 + m`) with AVX2, FMA and F16C, or AVX-512 VNNI (`tiles.rs`). candle 0.11's Q5_1
//! product is its scalar fallback. A block's product with Q8_1 activations is `d_w · d_x · Σ q5·q8 + m_w · s_x`,
//! candle's and llama.cpp's arithmetic; only the order of the float additions differs.

use crate::quant_matmul::{Block32, BlockKind};
#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{fifth_bits, nibbles};

/// Bytes per Q5_1 block: F16 scale, F16 minimum, 4 bytes of high bits, 16 bytes of nibbles.
pub const Q5_1_BYTES: usize = 24;

/// Q5_1 weights, for [`matmul`](crate::matmul).
pub static Q5_1: BlockKind = BlockKind::tiled::<Q5_1Block>("Q5_1");

struct Q5_1Block;

impl Block32 for Q5_1Block {
    const BYTES: usize = Q5_1_BYTES;
    const OFFSET: i32 = 0;
    const MINIMUM: bool = true;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i {
        // SAFETY: the block's four bytes of fifth bits and 16 nibble bytes follow its F16s.
        unsafe {
            let high = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
            fifth_bits(nibbles(&block[8..]), high)
        }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, Q8Row, assert_matches_scalar, matmul, pseudo_random, test_inputs, variants,
    };

    /// The weights of one block as ggml's `dequantize_row_q5_1` computes them.
    fn dequantize(block: &[u8]) -> [f32; BLOCK] {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
        let high = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
        let mut out = [0f32; BLOCK];
        for j in 0..16 {
            let x0 = u32::from(block[8 + j] & 0x0F) | (((high >> j) << 4) & 0x10);
            let x1 = u32::from(block[8 + j] >> 4) | ((high >> (j + 12)) & 0x10);
            out[j] = x0 as f32 * d + m;
            out[j + 16] = x1 as f32 * d + m;
        }
        out
    }

    /// candle's scalar `vec_dot_q5_1_q8_1` over one weight row.
    fn scalar_dot(weights: &[u8], row: &Q8Row) -> f32 {
        let mut sum = 0f32;
        for (b, block) in weights.chunks_exact(Q5_1_BYTES).enumerate() {
            let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
            let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
            let high = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
            let mut sumi = 0i32;
            for j in 0..16 {
                let x0 = i32::from(block[8 + j] & 0x0F) | (((high >> j) & 1) << 4) as i32;
                let x1 = i32::from(block[8 + j] >> 4) | (((high >> (j + 16)) & 1) << 4) as i32;
                sumi += x0 * i32::from(row.qs[b * BLOCK + j])
                    + x1 * i32::from(row.qs[b * BLOCK + j + 16]);
            }
            sum += sumi as f32 * d * row.d[b] + m * row.s[b];
        }
        sum
    }

    fn random_matrix(rows: usize, cols: usize) -> Vec<u8> {
        let mut weights = Vec::new();
        for (i, r) in pseudo_random(rows * cols / BLOCK, 5)
            .into_iter()
            .enumerate()
        {
            weights.extend(f16::from_f32(0.01 + (r % 100) as f32 / 1000.).to_le_bytes());
            weights.extend(f16::from_f32(-((i % 7) as f32) / 10.).to_le_bytes());
            weights.extend(pseudo_random(20, r).into_iter().map(|v| v as u8));
        }
        weights
    }

    #[test]
    fn products_match_the_scalar_formula_with_tails() {
        if !available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        // One block, a few blocks, a row whose block count is not a power of two; 1 to 6
        // activation rows (the four-row path and the rest); more weight rows than one task
        // takes (16), not a multiple of it.
        for (rows, cols, inputs) in [(3, 32, 1), (9, 96, 3), (5, 576, 6), (37, 64, 4)] {
            let weights = random_matrix(rows, cols);
            let x = test_inputs(inputs * cols, 9);
            assert_matches_scalar(&Q5_1, &weights, rows, cols, &x, scalar_dot);
        }
    }

    #[test]
    fn a_prompt_matches_the_scalar_formula() {
        if !available() {
            return;
        }
        // 21 activation rows (groups of four, then one: on VNNI the tiles decoded once into a
        // buffer) against 19 weight rows (two tiles of eight and a partial one).
        let x = test_inputs(21 * 96, 9);
        assert_matches_scalar(&Q5_1, &random_matrix(19, 96), 19, 96, &x, scalar_dot);
    }

    #[test]
    fn the_scalar_formula_is_the_dequantised_product() {
        let weights = random_matrix(1, 96);
        let x = test_inputs(96, 4);
        let row = Q8Row::new(&x);
        let (mut want, mut magnitude) = (0f32, 0f32);
        for (b, block) in weights.chunks_exact(Q5_1_BYTES).enumerate() {
            for (j, w) in dequantize(block).into_iter().enumerate() {
                let product = w * row.d[b] * f32::from(row.qs[b * BLOCK + j]);
                want += product;
                magnitude += product.abs();
            }
        }
        let have = scalar_dot(&weights, &row);
        // Only the minimums' Q8_1 sums are rounded through F16 (candle's arithmetic).
        assert!((have - want).abs() <= 2e-3 * magnitude, "{have} vs {want}");
    }

    #[test]
    fn extreme_blocks_do_not_saturate() {
        if !available() {
            return;
        }
        // Every weight 31 (all fifth bits, full nibbles) against activations of ±127.
        let mut weights = f16::from_f32(1.0).to_le_bytes().to_vec();
        weights.extend(f16::from_f32(-2.0).to_le_bytes());
        weights.extend([0xFF; 20]);
        let x: Vec<f32> = (0..32).map(|i| if i < 16 { -1.0 } else { 1.0 }).collect();
        assert_matches_scalar(&Q5_1, &weights, 1, 32, &x, scalar_dot);
        for variant in variants(&Q5_1) {
            let got = matmul(&variant, &weights, 1, 32, &[1.0; 32]).unwrap();
            assert!((got[0] - 29.0 * 32.0).abs() < 0.1, "{}", got[0]);
        }
        assert!(matmul(&Q5_1, &weights[..23], 1, 32, &x).is_err());
    }
}
