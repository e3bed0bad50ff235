//! Quantised weights times F32 activations, the way candle and llama.cpp compute it: each
//! activation row is quantised to 8-bit blocks of 32 values ([`Q8Row`]: Q8_0's values and F16
//! scale, plus Q8_1's scaled sum), and each weight block's product with it is one AVX2 `dot`
//! per weight type (`q4_1.rs`, `q5_0.rs`). This driver checks shapes, shares weight rows out
//! across rayon's threads and lays the products out row-major.

use half::f16;
use rayon::prelude::*;

use crate::{ShapeError, available};

/// Values per block (every type here and the activations' Q8 blocks).
pub const BLOCK: usize = 32;

/// A weight type's block layout and its product with a [`Q8Row`].
pub struct BlockKind {
    /// The type's name, for errors.
    pub(crate) name: &'static str,
    /// Bytes per block of 32 weights.
    pub(crate) bytes: usize,
    /// One weight row (its blocks as stored) times one activation row; only called where
    /// [`available`] is true (AVX2, FMA and F16C).
    pub(crate) dot: unsafe fn(&[u8], &Q8Row) -> f32,
}

impl BlockKind {
    /// The type's name (`Q4_1`).
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// `x` (`inputs` rows of `cols` values) times the transposed matrix `weights` (`rows` rows of
/// `cols / 32` blocks of `kind`, as GGUF stores them): `inputs × rows` values, row-major.
pub fn matmul(
    kind: &BlockKind,
    weights: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
) -> Result<Vec<f32>, ShapeError> {
    if !available() {
        return Err(ShapeError("this CPU lacks AVX2, FMA or F16C".into()));
    }
    if cols == 0 || !cols.is_multiple_of(BLOCK) || weights.len() != rows * cols / BLOCK * kind.bytes
    {
        return Err(ShapeError(format!(
            "{} bytes are not a {rows}×{cols} {} matrix",
            weights.len(),
            kind.name
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
    let row_bytes = cols / BLOCK * kind.bytes;
    // Each weight row's products with every input row, rows shared out across threads.
    let mut by_weight = vec![0f32; rows * inputs];
    by_weight
        .par_chunks_mut(inputs)
        .zip(weights.par_chunks_exact(row_bytes))
        .for_each(|(out, weights)| {
            for (o, q) in out.iter_mut().zip(&quantised) {
                // SAFETY: checked above that AVX2, FMA and F16C are present.
                *o = unsafe { (kind.dot)(weights, q) };
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

// The SIMD helpers the kernels share: `#[inline(always)]`, so that they are compiled inside the
// kernels' `#[target_feature]` functions (a plain function or a closure would be compiled without
// AVX2 and call each intrinsic instead of inlining it).

/// The F16 scale at the start of a block, widened by one F16C instruction.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn f16_scale(block: &[u8]) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: F16C is checked by the callers' `target_feature`.
    unsafe {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(
            u16::from_le_bytes([block[0], block[1]]),
        ))))
    }
}

/// `acc + scale · Σ w·x` over 32 signed weights `w` and 32 activations `values`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn accumulate_signed(
    acc: std::arch::x86_64::__m256,
    w: std::arch::x86_64::__m256i,
    values: &[i8],
    scale: f32,
) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 and FMA are checked by the callers' `target_feature`; `values` holds 32
    // bytes, loaded unaligned.
    unsafe {
        let x = _mm256_loadu_si256(values.as_ptr().cast());
        // Signed × signed through maddubs: |w| times x with w's sign (at most 2 · 128 · 127 per
        // pair: quantising never makes −128), then to i32.
        let products = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
        let sums = _mm256_madd_epi16(products, _mm256_set1_epi16(1));
        _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(sums), acc)
    }
}

/// The sum of the eight lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn lanes_sum(acc: std::arch::x86_64::__m256) -> f32 {
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds eight floats; AVX is checked by the callers' `target_feature`.
    unsafe { std::arch::x86_64::_mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    lanes.iter().sum()
}

/// One activation row as 8-bit blocks, scales already widened to F32.
pub struct Q8Row {
    /// The values, rounded to `x / d`.
    pub qs: Vec<i8>,
    /// Each block's scale (rounded through F16, as stored in Q8_0 and Q8_1).
    pub d: Vec<f32>,
    /// Each block's scale times the sum of its values (computed in F16, as candle's Q8_1).
    pub s: Vec<f32>,
}

impl Q8Row {
    /// candle's `BlockQ8_1::from_float` (whose values and scale are `BlockQ8_0`'s), value for
    /// value.
    pub fn new(xs: &[f32]) -> Q8Row {
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

/// Test data shared by the kernels' tests: deterministic pseudo-random numbers.
#[cfg(test)]
pub fn pseudo_random(n: usize, seed: u32) -> Vec<u32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 8
        })
        .collect()
}
