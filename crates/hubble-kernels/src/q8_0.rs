//! Q8_0 (34-byte blocks: an F16 scale, 32 signed bytes) and Q4_0 (18-byte blocks: an F16 scale,
//! 32 nibbles; a weight is `d · (q4 − 8)`) weights with AVX2, FMA and F16C, or AVX-512 VNNI
//! (`tiles.rs`), chosen at run time. candle 0.11 has AVX products for both only when compiled
//! for a CPU that has it (not in a portable build, where they are scalar). A block's product
//! with Q8_0 activations is `d_w · d_x · Σ w·q8`, candle's and llama.cpp's arithmetic; only the
//! order of the float additions differs, and for Q4_0 where the −8 is taken: the AVX2 product
//! of the unsigned nibbles subtracts `8 · d_w` times the activations' F32 sum
//! ([`Q8Row::sums`](crate::quant_matmul::Q8Row::sums)), sparing a sign instruction per
//! activation row; the VNNI tiles start the integer products `Σ q4·q8` from `−8 · Σ q8`
//! (exact), and Q8_0's `Σ (w + 128)·q8` from `−128 · Σ q8`.

use crate::quant_matmul::{Block32, BlockKind};
#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{Blocks, Isa, accumulate_sums, f16_scale, nibbles, signed_sums};
#[cfg(target_arch = "x86_64")]
use crate::tiles::{TILE_ROWS, nibble_columns};

/// Bytes per Q8_0 block: F16 scale, 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;
/// Bytes per Q4_0 block: F16 scale, 16 bytes of nibbles.
pub const Q4_0_BYTES: usize = 18;

/// Q8_0 weights, for [`matmul`](crate::matmul).
pub static Q8_0: BlockKind = BlockKind::tiled::<Q8_0Block>("Q8_0");

/// Q4_0 weights, for [`matmul`](crate::matmul).
pub static Q4_0: BlockKind = BlockKind::tiled::<Q4_0Block>("Q4_0");

struct Q8_0Block;

impl Block32 for Q8_0Block {
    const BYTES: usize = Q8_0_BYTES;
    // w + 128, unsigned, whose products start from −128 · Σ x (exact; AVX2's pairs of them
    // would saturate).
    const OFFSET: i32 = 128;
    const MINIMUM: bool = false;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: the block's 32 value bytes follow its scale, loaded unaligned.
        unsafe {
            let w = _mm256_loadu_si256(block[2..].as_ptr().cast());
            _mm256_xor_si256(w, _mm256_set1_epi8(i8::MIN))
        }
    }

    // AVX2 multiplies the signed values (w + 128 would saturate its pairs of products).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn accumulate<I: Isa, const N: usize>(
        block: &[u8],
        b: usize,
        xs: &[Blocks; N],
        acc: &mut [std::arch::x86_64::__m256; N],
        _: &mut [f32; N],
    ) {
        use std::arch::x86_64::*;
        // SAFETY: the block's 32 value bytes follow its scale, loaded unaligned; the rest as
        // documented.
        unsafe {
            let w = _mm256_loadu_si256(block[2..].as_ptr().cast());
            let d = f16_scale(block);
            let w_abs = _mm256_sign_epi8(w, w);
            for n in 0..N {
                let sums = signed_sums::<I>(w_abs, w, xs[n].values(b));
                acc[n] = accumulate_sums(acc[n], sums, d * xs[n].d(b));
            }
        }
    }
}

struct Q4_0Block;

impl Block32 for Q4_0Block {
    const BYTES: usize = Q4_0_BYTES;
    const OFFSET: i32 = 8;
    const MINIMUM: bool = false;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i {
        // SAFETY: the block's 16 nibble bytes follow its scale.
        unsafe { nibbles(&block[2..]) }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn columns(blocks: [*const u8; TILE_ROWS]) -> [std::arch::x86_64::__m256i; 8] {
        // SAFETY: the blocks' 16 nibble bytes are 2 bytes in.
        unsafe { nibble_columns(blocks, 2) }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, Q8Row, assert_each_matches_scalar, assert_matches_scalar, matmul, pseudo_random,
        test_inputs,
    };

    /// candle's scalar products of `BlockQ8_0` / `BlockQ4_0` with `BlockQ8_0`.
    fn scalar_dot(weights: &[u8], block_bytes: usize, row: &Q8Row) -> f32 {
        let mut sum = 0f32;
        for (b, block) in weights.chunks_exact(block_bytes).enumerate() {
            let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
            let w: Vec<i32> = if block_bytes == Q8_0_BYTES {
                block[2..].iter().map(|&v| i32::from(v as i8)).collect()
            } else {
                let low = block[2..].iter().map(|&v| i32::from(v & 0x0F) - 8);
                let high = block[2..].iter().map(|&v| i32::from(v >> 4) - 8);
                low.chain(high).collect()
            };
            let sumi: i32 = w
                .iter()
                .zip(&row.qs[b * BLOCK..(b + 1) * BLOCK])
                .map(|(w, x)| w * i32::from(*x))
                .sum();
            sum += sumi as f32 * d * row.d[b];
        }
        sum
    }

    fn random_matrix(rows: usize, cols: usize, block_bytes: usize) -> Vec<u8> {
        let mut weights = Vec::new();
        for r in pseudo_random(rows * cols / BLOCK, 5) {
            weights.extend(f16::from_f32(0.01 + (r % 100) as f32 / 1000.).to_le_bytes());
            // Q8_0 values are −127..=127 as quantising makes them.
            weights.extend(
                pseudo_random(block_bytes - 2, r)
                    .into_iter()
                    .map(|v| {
                        if block_bytes == Q8_0_BYTES {
                            (v % 255) as u8 ^ 0x80
                        } else {
                            v as u8
                        }
                    })
                    .map(|v| {
                        if v == 0x80 && block_bytes == Q8_0_BYTES {
                            0x81
                        } else {
                            v
                        }
                    }),
            );
        }
        weights
    }

    #[test]
    fn a_prompt_matches_the_scalar_formula() {
        if !available() {
            return;
        }
        // 21 activation rows (groups of four, then one: on VNNI the tiles decoded once into a
        // buffer) against 19 weight rows (two tiles of eight and a partial one).
        for (block_bytes, kernel) in [(Q8_0_BYTES, &Q8_0), (Q4_0_BYTES, &Q4_0)] {
            let weights = random_matrix(19, 96, block_bytes);
            let x = test_inputs(21 * 96, 9);
            let scalar = |w: &[u8], q: &Q8Row| scalar_dot(w, block_bytes, q);
            assert_matches_scalar(kernel, &weights, 19, 96, &x, scalar);
        }
    }

    #[test]
    fn products_match_the_scalar_formula_with_tails() {
        if !available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        let kernels = [(Q8_0_BYTES, &Q8_0), (Q4_0_BYTES, &Q4_0)];
        for (block_bytes, kernel) in kernels {
            for (rows, cols, inputs) in [(3, 32, 1), (9, 96, 3), (5, 576, 2), (37, 64, 6)] {
                let weights = random_matrix(rows, cols, block_bytes);
                let x = test_inputs(inputs * cols, 9);
                let scalar = |w: &[u8], q: &Q8Row| scalar_dot(w, block_bytes, q);
                assert_each_matches_scalar(kernel, &weights, rows, cols, &x, scalar);
            }
        }
        assert!(matmul(&Q8_0, &[0; 33], 1, 32, &[0.; 32]).is_err());
        assert!(matmul(&Q4_0, &[0; 18], 1, 32, &[0.; 31]).is_err());
    }
}
