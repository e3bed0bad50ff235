//! Hubble's CPU kernels for its GGUF decoders and vision models, where candle 0.11 is slow or
//! wasteful: [`matmul`], [`Q4_0`], [`Q4_1`], [`Q5_0`], [`Q5_1`], [`Q8_0`], [`Q4_K`], [`Q5_K`] or
//! [`Q6_K`] weights times F32 activations with AVX2 chosen at run time, or AVX-512 VNNI where the
//! CPU has it ([`vnni`]; candle's are scalar in a portable build, or quantise the activations per
//! 256 values; one driver in `quant_matmul.rs`),
//! [`attention`], causal attention read in place from an F16 or F32 KV cache (candle's ops
//! widen and repeat the whole cache for every layer and step), and [`depthwise_conv2d`], the
//! depthwise convolution of ConvNeXt's blocks (candle's grouped convolution runs group by group),
//! [`conv2d`], dense convolutions as chunked products with their bias, residual and activations
//! fused (candle's passes over the whole tensor for each), [`dense_attention`], the encoders'
//! unmasked attention by blocks of queries (candle's path makes every head's whole score matrix),
//! [`linear`], fully connected layers with their bias and GELU applied by blocks of rows,
//! [`group_norm`], group normalisation with its SiLU in two passes (candle's takes nine),
//! and [`gelu_erf`] and [`softmax_rows`], vectorised (candle calls a scalar `erff` or `expf` per
//! value).
//!
//! A separate crate so that the dev profile can optimise it (`opt-level` in the workspace's
//! `Cargo.toml`): unoptimised, its loops and intrinsics run a hundred times slower.
//! The block kinds ([`Q4_0`] …) are statics, not consts, for the same reason: a const's
//! pointers to generic products would be compiled in the crate that uses it (Hubble's, at
//! `opt-level` 0 in a dev build), a static's are compiled here.

pub mod attention;
mod conv_product;
mod dense_attention;
mod depthwise;
mod group_norm;
mod k_quants;
mod linear;
mod q4_1;
mod q5_0;
mod q5_1;
mod q8_0;
mod quant_matmul;
mod tiles;
mod vector_math;

pub use conv_product::{ConvShape, Fused, InputMap, OutputMap, conv2d, pointwise_to_planes};
pub use dense_attention::{DenseAttention, dense_attention};
pub use depthwise::{Depthwise, depthwise_conv2d};
pub use group_norm::{GroupNorm, group_norm};
pub use k_quants::{Q4_K, Q4_K_BYTES, Q5_K, Q5_K_BYTES, Q6_K, Q6_K_BYTES};
pub use linear::linear;
pub use q4_1::{Q4_1, Q4_1_BYTES};
pub use q5_0::{Q5_0, Q5_0_BYTES};
pub use q5_1::{Q5_1, Q5_1_BYTES};
pub use q8_0::{Q4_0, Q4_0_BYTES, Q8_0, Q8_0_BYTES};
pub use quant_matmul::{BLOCK, BlockKind, SUPER_BLOCK, matmul};
pub use vector_math::{gelu_erf, softmax_rows};

/// Whether this CPU runs [`matmul`] (x86-64 with AVX2, FMA and F16C).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether [`matmul`] runs its AVX-512 VNNI products (`vpdpbusd`, with AVX-512 VL and BW): this
/// CPU has them and `HUBBLE_KERNELS_NO_VNNI` is unset, empty or `0` (set, the AVX2 products run,
/// to compare the two); both read once.
pub fn vnni() -> bool {
    static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VNNI.get_or_init(|| {
        let allowed =
            std::env::var_os("HUBBLE_KERNELS_NO_VNNI").is_none_or(|v| v.is_empty() || v == "0");
        allowed && available() && cpu_has_vnni()
    })
}

/// Whether this CPU has AVX-512 VNNI, VL and BW.
fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Inputs whose shapes do not fit a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

/// An output's pointer, shared by tasks that write disjoint parts of it.
pub(crate) struct SharedMut(*mut f32);

// SAFETY: the tasks sharing it write disjoint parts of the output (each user's promise).
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer `offset` values in.
    ///
    /// # Safety
    /// `offset` must lie inside the output.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// Deterministic values in [−1, 1) (xorshift) for the kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2. - 1.
        })
        .collect()
}

/// A matrix operand of [`product`]: its first value, then the steps between rows and between
/// columns, in values.
#[derive(Clone, Copy)]
pub(crate) struct Strided<P> {
    at: P,
    row: isize,
    column: isize,
}

impl<P> Strided<P> {
    /// The matrix at `at` with `row` values between rows and `column` between columns.
    pub(crate) fn new(at: P, row: usize, column: usize) -> Strided<P> {
        Strided {
            at,
            row: row as isize,
            column: column as isize,
        }
    }
}

/// `dst (m × n) ← [dst +] scale · lhs (m × k) · rhs (k × n)` through gemm (`dst` added to when
/// `accumulate`), on gemm's threads when `threads` is more than one.
///
/// # Safety
/// Every operand's `m`, `n` or `k` rows and columns at its strides must lie inside its
/// allocation, and nothing else may access `dst`'s values meanwhile.
pub(crate) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: Strided<*mut f32>,
    accumulate: bool,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
    scale: f32,
    threads: usize,
) {
    let parallelism = match threads {
        0 | 1 => gemm::Parallelism::None,
        threads => gemm::Parallelism::Rayon(threads),
    };
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.at,
            dst.column,
            dst.row,
            accumulate,
            lhs.at,
            lhs.column,
            lhs.row,
            rhs.at,
            rhs.column,
            rhs.row,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}
