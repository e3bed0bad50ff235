//! Q5_0 weights (22-byte blocks: an F16 scale, 32 high bits, 32 low nibbles; a weight is
//! `d · (q5 − 16)`) with AVX2, FMA and F16C. candle 0.11's Q5_0 product is scalar, and
//! requantised small models (SmolLM2's 576-wide rows can't take K-quants) are mostly Q5_0. A
//! block's product with Q8_0 activations is `d_w · d_x · Σ (q5 − 16)·q8`, candle's and
//! llama.cpp's arithmetic; only the order of the float additions differs.

#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{
    Block32, Blocks, accumulate_pairs, bit_mask, dot_in_pairs, f16_scale, signed_pairs,
};
use crate::quant_matmul::{BlockKind, Q8Row};

/// Bytes per Q5_0 block: F16 scale, 4 bytes of high bits, 16 bytes of nibbles.
pub const Q5_0_BYTES: usize = 22;

/// Q5_0 weights, for [`matmul`](crate::matmul).
pub const Q5_0: BlockKind = BlockKind {
    name: "Q5_0",
    values: crate::BLOCK,
    bytes: Q5_0_BYTES,
    dot: dot::<1>,
    dot4: dot::<4>,
};

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot<const N: usize>(weights: &[u8], rows: [&Q8Row; N]) -> [f32; N] {
    // SAFETY: the features are this function's.
    unsafe { dot_in_pairs::<Q5_0Block, N>(weights, rows) }
}

#[cfg(target_arch = "x86_64")]
struct Q5_0Block;

#[cfg(target_arch = "x86_64")]
impl Block32 for Q5_0Block {
    const BYTES: usize = Q5_0_BYTES;

    #[inline(always)]
    unsafe fn accumulate<const N: usize>(
        block: &[u8],
        b: usize,
        xs: &[Blocks; N],
        acc: &mut [std::arch::x86_64::__m256; N],
        _: &mut [f32; N],
    ) {
        use std::arch::x86_64::*;
        let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
        // SAFETY: `block[6..]` holds 16 nibble bytes, loaded unaligned; the rest as
        // documented.
        unsafe {
            let nibble = _mm_set1_epi8(0x0F);
            let packed = _mm_loadu_si128(block[6..].as_ptr().cast());
            // Low nibbles are values 0..16 of the block, high nibbles 16..32; bit i of `high`
            // is value i's fifth bit.
            let low = _mm_and_si128(packed, nibble);
            let upper = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
            let w = _mm256_set_m128i(upper, low);
            // q5 − 16: a nibble without its fifth bit is nibble − 16 (0xF0 | nibble as i8), one
            // with it is the nibble itself.
            let minus_sixteen = _mm256_set1_epi8(0xF0_u8 as i8);
            let w = _mm256_or_si256(w, _mm256_andnot_si256(bit_mask(high), minus_sixteen));
            let w_abs = _mm256_sign_epi8(w, w);
            let d = f16_scale(block);
            for n in 0..N {
                let pairs = signed_pairs(w_abs, w, xs[n].values(b));
                acc[n] = accumulate_pairs(acc[n], pairs, d * xs[n].d(b));
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot<const N: usize>(_weights: &[u8], _rows: [&Q8Row; N]) -> [f32; N] {
    unreachable!("matmul refuses to run without AVX2")
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, assert_each_matches_scalar, matmul, pseudo_random, test_inputs,
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
        let got = matmul(&Q5_0, &weights, 1, 32, &x).unwrap();
        let q = Q8Row::new(&x);
        assert!((got[0] - scalar_dot(&weights, &q)).abs() < 1e-4);
        let all_minus: Vec<f32> = vec![-1.0; 32];
        let got = matmul(&Q5_0, &weights, 1, 32, &all_minus).unwrap();
        assert!((got[0] - 16.0 * 32.0).abs() < 0.1, "{}", got[0]);
        assert!(matmul(&Q5_0, &weights[..21], 1, 32, &x).is_err());
    }
}
