//! Q5_0 weights (22-byte blocks: an F16 scale, 32 high bits, 32 low nibbles; a weight is
//! `d · (q5 − 16)`) with AVX2, FMA and F16C, or AVX-512 VNNI (`tiles.rs`). candle 0.11's Q5_0
//! product is scalar, and requantised small models (SmolLM2's 576-wide rows can't take
//! K-quants) are mostly Q5_0. A block's product with Q8_0 activations is
//! `d_w · d_x · Σ (q5 − 16)·q8`, candle's and llama.cpp's arithmetic, with the −16 taken apart
//! as Q4_0's −8 is: the AVX2 product subtracts `16 · d_w` times the activations' F32 sum
//! ([`Q8Row::sums`](crate::quant_matmul::Q8Row::sums), `offset_sums`); the VNNI tiles start the
//! unsigned values' integer products from `−16 · Σ q8`.

use crate::quant_matmul::{Block32, BlockKind};
#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{fifth_bits, nibbles};

/// Bytes per Q5_0 block: F16 scale, 4 bytes of high bits, 16 bytes of nibbles.
pub const Q5_0_BYTES: usize = 22;

/// Q5_0 weights, for [`matmul`](crate::matmul).
pub static Q5_0: BlockKind = BlockKind::tiled::<Q5_0Block>("Q5_0");

struct Q5_0Block;

impl Block32 for Q5_0Block {
    const BYTES: usize = Q5_0_BYTES;
    const OFFSET: i32 = 16;
    const MINIMUM: bool = false;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i {
        // SAFETY: the block's four bytes of fifth bits and 16 nibble bytes follow its F16s.
        unsafe {
            let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            fifth_bits(nibbles(&block[6..]), high)
        }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, Q8Row, assert_each_matches_scalar, assert_matches_scalar, matmul, pseudo_random,
        test_inputs, variants,
    };

    /// candle's scalar `vec_dot` of `BlockQ5_0` with `BlockQ8_0` over one weight row.
    fn scalar_dot(weights: &[u8], row: &Q8Row) -> f32 {
        let mut sum = 0f32;
        for (b, block) in weights.chunks_exact(Q5_0_BYTES).enumerate() {
            let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
            let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            let mut sumi = 0i32;
            for j in 0..16 {
                let x0 = i32::from(block[6 + j] & 0x0F) | (((high >> j) & 1) << 4) as i32;
                let x1 = i32::from(block[6 + j] >> 4) | (((high >> (j + 16)) & 1) << 4) as i32;
                sumi += (x0 - 16) * i32::from(row.qs[b * BLOCK + j])
                    + (x1 - 16) * i32::from(row.qs[b * BLOCK + j + 16]);
            }
            sum += sumi as f32 * d * row.d[b];
        }
        sum
    }

    fn random_matrix(rows: usize, cols: usize) -> Vec<u8> {
        let mut weights = Vec::new();
        for r in pseudo_random(rows * cols / BLOCK, 5) {
            weights.extend(f16::from_f32(0.01 + (r % 100) as f32 / 1000.).to_le_bytes());
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
        // One block, a few blocks, and a row whose block count is not a power of two; four
        // activation rows at once and the rest; more weight rows than one task takes.
        for (rows, cols, inputs) in [(3, 32, 1), (9, 96, 3), (5, 576, 2), (37, 64, 6)] {
            let weights = random_matrix(rows, cols);
            let x = test_inputs(inputs * cols, 9);
            assert_each_matches_scalar(&Q5_0, &weights, rows, cols, &x, scalar_dot);
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
        assert_matches_scalar(&Q5_0, &random_matrix(19, 96), 19, 96, &x, scalar_dot);
    }

    #[test]
    fn extreme_blocks_do_not_saturate() {
        if !available() {
            return;
        }
        // Every weight −16 (no fifth bits, zero nibbles) against activations of ±127.
        let mut weights = f16::from_f32(1.0).to_le_bytes().to_vec();
        weights.extend([0u8; 20]);
        let x: Vec<f32> = (0..32)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let q = Q8Row::new(&x);
        for variant in variants(&Q5_0) {
            let got = matmul(&variant, &weights, 1, 32, &x).unwrap();
            assert!((got[0] - scalar_dot(&weights, &q)).abs() < 1e-4);
            let got = matmul(&variant, &weights, 1, 32, &[-1.0; 32]).unwrap();
            assert!((got[0] - 16.0 * 32.0).abs() < 0.1, "{}", got[0]);
        }
        assert!(matmul(&Q5_0, &weights[..21], 1, 32, &x).is_err());
    }
}
