//! Elementwise functions over slices in place, vectorised and split across the pool, where
//! candle calls a scalar `erff` or `expf` per value: [`gelu_erf`], GELU in its exact form
//! `x/2 · (1 + erf(x/√2))` (transformers' `"gelu"`, PyTorch's `gelu(approximate="none")`), and
//! [`softmax_rows`].
//!
//! erf is Abramowitz & Stegun's 7.1.26, `1 − t·(a1 + t·(a2 + …))·exp(−z²)` with
//! `t = 1/(1 + p·z)` (absolute error ≤ 1.5e-7, the form PyTorch's vectorised erf uses); exp is
//! reduced to `2ⁿ·exp(r)`, `|r| ≤ ln2/2`, with Cephes' degree-6 polynomial for `exp(r)`.

use rayon::prelude::*;

/// Values per task on the pool.
const CHUNK: usize = 16 * 1024;

/// A slice function compiled for the widest instruction set this CPU runs: AVX-512, AVX2 with
/// FMA, or portable code (`$body` takes the values and `madd(a, b, c) = a * b + c`).
macro_rules! widest {
    ($body:path) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn avx512(values: &mut [f32], extra: usize) {
            $body(values, extra, f32::mul_add)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(values: &mut [f32], extra: usize) {
            $body(values, extra, f32::mul_add)
        }
        fn portable(values: &mut [f32], extra: usize) {
            $body(values, extra, |a, b, c| a * b + c)
        }
        let chosen: fn(&mut [f32], usize) = {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (and AVX2 and FMA, which it implies here).
                    |v, e| unsafe { avx512(v, e) }
                } else if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has AVX2 and FMA.
                    |v, e| unsafe { avx2(v, e) }
                } else {
                    portable
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                portable
            }
        };
        chosen
    }};
}

/// Replaces every `x` in `values` with `GELU(x)`.
pub fn gelu_erf(values: &mut [f32]) {
    let run = widest!(gelu_with);
    if values.len() <= CHUNK {
        run(values, 0);
    } else {
        values.par_chunks_mut(CHUNK).for_each(|chunk| run(chunk, 0));
    }
}

/// Replaces each row of `row_len` values with its softmax, `exp(x − max) / Σ exp(x − max)`.
/// `values.len()` must be a multiple of `row_len` (a partial last row is left as it is).
pub fn softmax_rows(values: &mut [f32], row_len: usize) {
    if row_len == 0 {
        return;
    }
    let run = widest!(softmax_with);
    let rows_per_task = (CHUNK / row_len).max(1);
    let usable = values.len() / row_len * row_len;
    values[..usable]
        .par_chunks_mut(rows_per_task * row_len)
        .for_each(|rows| run(rows, row_len));
}

/// [`gelu_erf`] on the calling thread, for tasks that already run on rayon's.
pub(crate) fn gelu_erf_here(values: &mut [f32]) {
    let run = widest!(gelu_with);
    run(values, 0);
}

/// CLIP's quick GELU, `x · σ(1.702 x)`, of every value, on the calling thread.
pub(crate) fn quick_gelu_here(values: &mut [f32]) {
    let run = widest!(quick_gelu_with);
    run(values, 0);
}

/// SiLU, `x · σ(x)`, of every value, on the calling thread.
pub(crate) fn silu_here(values: &mut [f32]) {
    let run = widest!(silu_with);
    run(values, 0);
}

/// [`softmax_rows`] on the calling thread, for tasks that already run on rayon's.
pub(crate) fn softmax_rows_here(values: &mut [f32], row_len: usize) {
    if let Some(rows) = values.len().checked_div(row_len) {
        let run = widest!(softmax_with);
        run(&mut values[..rows * row_len], row_len);
    }
}

/// GELU of every value (`_unused` keeps [`widest`]'s signature).
#[inline(always)]
fn gelu_with(values: &mut [f32], _unused: usize, madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
    for v in values.iter_mut() {
        *v = gelu_one(*v, madd);
    }
}

/// Quick GELU of every value (`_unused` keeps [`widest`]'s signature).
#[inline(always)]
fn quick_gelu_with(values: &mut [f32], _unused: usize, madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
    for v in values.iter_mut() {
        *v *= sigmoid(1.702 * *v, madd);
    }
}

/// SiLU of every value (`_unused` keeps [`widest`]'s signature).
#[inline(always)]
fn silu_with(values: &mut [f32], _unused: usize, madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
    for v in values.iter_mut() {
        *v *= sigmoid(*v, madd);
    }
}

/// `σ(t) = 1 / (1 + exp(−t))` from `e = exp(−|t|)`: `1 / (1 + e)` for `t ≥ 0`, `e / (1 + e)`
/// below (no overflow either way).
#[inline(always)]
fn sigmoid(t: f32, madd: impl Fn(f32, f32, f32) -> f32 + Copy) -> f32 {
    let e = exp_non_positive(-t.abs(), madd);
    (if t >= 0.0 { 1.0 } else { e }) / (1.0 + e)
}

/// Softmax of each `row_len` row; straight-line loops so the compiler vectorises them.
#[inline(always)]
fn softmax_with(values: &mut [f32], row_len: usize, madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
    for row in values.chunks_exact_mut(row_len) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        if max == f32::NEG_INFINITY {
            // Every value masked: candle's softmax gives NaN here too (0 / 0).
            row.fill(f32::NAN);
            continue;
        }
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = exp_non_positive(*v - max, madd);
            sum += *v;
        }
        let scale = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= scale);
    }
}

#[inline(always)]
fn gelu_one(x: f32, madd: impl Fn(f32, f32, f32) -> f32 + Copy) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / madd(P, z, 1.0);
    let poly = madd(madd(madd(madd(A[4], t, A[3]), t, A[2]), t, A[1]), t, A[0]) * t;
    let erf = 1.0 - poly * exp_non_positive(-z * z, madd);
    // GELU(x) = x/2 · (1 + sign(x)·erf(|x|/√2)).
    0.5 * x * (1.0 + erf.copysign(x))
}

/// `exp(y)` for `y ≤ 0` (0 below −87, where it leaves f32's normal range, and at −∞).
#[inline(always)]
fn exp_non_positive(y: f32, madd: impl Fn(f32, f32, f32) -> f32 + Copy) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const C: [f32; 6] = [
        1.987_569_1e-4,
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        0.166_666_65,
        0.5,
    ];
    let clamped = y.max(-87.0);
    let n = (clamped * std::f32::consts::LOG2_E + 0.5).floor();
    let r = madd(n, -LN2_LO, madd(n, -LN2_HI, clamped));
    let p = madd(
        madd(madd(madd(madd(C[0], r, C[1]), r, C[2]), r, C[3]), r, C[4]),
        r,
        C[5],
    );
    let e = madd(p, r * r, r) + 1.0;
    // 2ⁿ from its exponent bits: n ≥ −126 after the clamp.
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if y < -87.0 { 0.0 } else { e * scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_quick_gelu() {
        let values: Vec<f32> = (0..40_001).map(|i| (i as f32 - 20_000.0) / 500.0).collect();
        let mut out = values.clone();
        quick_gelu_here(&mut out);
        for (&x, &y) in values.iter().zip(&out) {
            let exact = x as f64 / (1.0 + (-1.702 * x as f64).exp());
            let error = (y as f64 - exact).abs();
            assert!(
                error <= 2e-6 * (1.0 + exact.abs()),
                "quick GELU({x}) = {y}, exact {exact}"
            );
        }
    }

    /// Against `x/2 · (1 + erf(x/√2))` in f64 (a series / continued fraction erf).
    #[test]
    fn matches_exact_gelu() {
        let values: Vec<f32> = (0..40_001)
            .map(|i| (i as f32 - 20_000.0) / 1000.0)
            .collect();
        let mut out = values.clone();
        gelu_erf(&mut out);
        let portable = {
            let mut v = values.clone();
            gelu_with(&mut v, 0, |a, b, c| a * b + c);
            v
        };
        for ((&x, &y), &p) in values.iter().zip(&out).zip(&portable) {
            let exact = 0.5 * x as f64 * (1.0 + erf(x as f64 / std::f64::consts::SQRT_2));
            let error = (y as f64 - exact).abs();
            assert!(
                error <= 2e-6 * (1.0 + exact.abs()),
                "GELU({x}) = {y}, exact {exact}"
            );
            assert!(
                (y - p).abs() <= 1e-6 * (1.0 + p.abs()),
                "GELU({x}): {y} vs {p}"
            );
        }
        let mut tails = [-200.0f32, -90.0, 90.0, 1e30, -1e30, 0.0, -0.0];
        gelu_erf(&mut tails);
        assert_eq!(&tails[..3], &[-0.0, -0.0, 90.0]);
        assert_eq!(tails[3], 1e30);
        assert_eq!(tails[4], -0.0);
        assert_eq!(tails[5], 0.0);
    }

    /// Against f64 softmax, rows of several lengths, with masked (−∞) values and a row
    /// masked entirely.
    #[test]
    fn softmax_matches_f64() {
        for row_len in [2usize, 7, 64, 1500] {
            let rows = 40;
            let mut values: Vec<f32> = (0..rows * row_len)
                .map(|i| ((i * 7919) % 3001) as f32 / 100.0 - 15.0)
                .collect();
            values[row_len / 2] = f32::NEG_INFINITY;
            let before = values.clone();
            softmax_rows(&mut values, row_len);
            for (row, out) in before.chunks(row_len).zip(values.chunks(row_len)) {
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
                for (&x, &y) in row.iter().zip(out) {
                    let exact = (x as f64 - max).exp() / sum;
                    assert!(
                        (y as f64 - exact).abs() <= 1e-5 * exact + 1e-12,
                        "{y} vs {exact}"
                    );
                }
            }
        }
        let mut masked = [f32::NEG_INFINITY; 4];
        softmax_rows(&mut masked, 4);
        assert!(masked.iter().all(|v| v.is_nan()));
    }

    /// erf in f64: Taylor series near 0, continued fraction for erfc beyond.
    fn erf(x: f64) -> f64 {
        let a = x.abs();
        let value = if a < 2.5 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut fraction = 0.0;
            for k in (1..60).rev() {
                fraction = (k as f64 / 2.0) / (a + fraction);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + fraction)
        };
        value.copysign(x)
    }
}
