//! Quantised weights times F32 activations, the way candle and llama.cpp compute it: each
//! activation row is quantised to 8-bit blocks of 32 values ([`Q8Row`]: Q8_0's values and F16
//! scale, plus Q8_1's scaled sum), and each weight row's product with it is one `dot` per
//! weight type (`q4_1.rs`, `q5_0.rs`, `q5_1.rs`, `q8_0.rs`, `k_quants.rs`), written once over
//! an [`Isa`]'s byte products and compiled for AVX2 (`maddubs` and `madd`) and, for the
//! K-quants, for AVX-512 VNNI (`vpdpbusd`). The K-quants' 256-value super-blocks are eight of
//! these 32-value blocks, each with its own activation scale. Where the CPU has VNNI ([`vnni`],
//! chosen once per call) every type runs in tiles of eight weight rows instead (`tiles.rs`),
//! but for the K-quants' decode steps, which keep their row products.
//! This driver checks shapes, shares weight rows out across rayon's threads, hands each row
//! kernel four activation rows at once where there are four (a prompt: each weight block is
//! decoded once for the four) and lays the products out row-major.

use half::f16;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use crate::tiles::transpose;
use crate::tiles::{TILE_ROWS, TileBlocks, Tiles, matmul_tiled};
use crate::{ShapeError, available, vnni};

/// Values per activation block, and per weight block of the 32-value types.
pub const BLOCK: usize = 32;

/// Values per K-quant super-block (Q4_K, Q5_K, Q6_K): eight activation blocks.
pub const SUPER_BLOCK: usize = 256;

/// Weight rows per task: a prompt's groups of activation rows are each read once per this many
/// weight rows, whose blocks stay in the L2 cache from one group to the next; a multiple of
/// [`TILE_ROWS`](crate::tiles::TILE_ROWS).
const ROWS_PER_TASK: usize = 16;

/// One weight row (its blocks as stored) times `N` activation rows.
pub(crate) type Dot<const N: usize> = unsafe fn(&[u8], [&Q8Row; N]) -> [f32; N];

/// A weight type's products with [`Q8Row`]s on one instruction set, a weight row at a time.
#[derive(Clone, Copy)]
pub(crate) struct RowProducts {
    /// One weight row times one activation row.
    dot: Dot<1>,
    /// The same for four activation rows, each weight block decoded once for the four; each
    /// result is exactly `dot`'s (the same operations in the same order).
    dot4: Dot<4>,
}

/// A weight type's block layout and its products with [`Q8Row`]s.
#[derive(Clone, Copy)]
pub struct BlockKind {
    /// The type's name, for errors.
    pub(crate) name: &'static str,
    /// Weights per block: [`BLOCK`], or [`SUPER_BLOCK`] for the K-quants.
    pub(crate) values: usize,
    /// Bytes per block.
    pub(crate) bytes: usize,
    /// The products with AVX2, FMA and F16C; only called where [`available`] is true.
    avx2: RowProducts,
    /// The products with AVX-512 VNNI's `vpdpbusd`, eight weight rows at a time (`tiles.rs`),
    /// used where [`vnni`] is true; `None` in [`BlockKind::without_vnni`].
    vnni: Option<Tiles>,
}

/// How a type's products run.
#[derive(Clone, Copy)]
enum Products {
    /// A weight row at a time (AVX2).
    Rows(RowProducts),
    /// Eight weight rows at a time (VNNI).
    Tiles(Tiles),
}

impl BlockKind {
    /// The type whose blocks `K` multiplies: a row at a time on AVX2, in tiles of eight rows
    /// on VNNI.
    pub(crate) const fn tiled<K: Kernel + TileBlocks>(name: &'static str) -> Self {
        BlockKind {
            name,
            values: K::SUBS * BLOCK,
            bytes: <K as TileBlocks>::BYTES,
            avx2: RowProducts::avx2::<K>(),
            vnni: Some(Tiles::of::<K>()),
        }
    }

    /// The type's name (`Q4_1`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Weights per block (32, or 256 for the K-quants); a row's length must be a multiple.
    pub fn values(&self) -> usize {
        self.values
    }

    /// Bytes per block as stored in GGUF.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The same type on the AVX2 products even where the CPU has AVX-512 VNNI, to compare the
    /// two (the same results to within float rounding: Q4_0's and Q5_0's offsets are F32 terms
    /// on AVX2, integers on VNNI).
    pub const fn without_vnni(&self) -> BlockKind {
        BlockKind {
            vnni: None,
            ..*self
        }
    }

    /// The products [`matmul`] runs: VNNI's where [`vnni`] allows them, else AVX2's.
    fn products(&self) -> Products {
        match self.vnni {
            Some(tiles) if vnni() => Products::Tiles(tiles),
            _ => Products::Rows(self.avx2),
        }
    }
}

impl RowProducts {
    /// `K`'s products compiled for AVX2.
    const fn avx2<K: Kernel>() -> Self {
        RowProducts {
            dot: with_avx2::<K, 1>,
            dot4: with_avx2::<K, 4>,
        }
    }

    /// The products of the weight rows `tile` (of `row_bytes` each) with every row of
    /// `quantised`, `[r * inputs + i]`: four activation rows at a time, then one.
    fn run(self, tile: &[u8], row_bytes: usize, quantised: &[Q8Row], out: &mut [f32]) {
        let inputs = quantised.len();
        let fours = inputs / 4 * 4;
        for (g, q) in quantised[..fours].chunks_exact(4).enumerate() {
            for (out, weights) in out
                .chunks_exact_mut(inputs)
                .zip(tile.chunks_exact(row_bytes))
            {
                // SAFETY: `matmul` checked that AVX2, FMA and F16C are present.
                let products = unsafe { (self.dot4)(weights, [&q[0], &q[1], &q[2], &q[3]]) };
                out[4 * g..4 * g + 4].copy_from_slice(&products);
            }
        }
        for (i, q) in quantised.iter().enumerate().skip(fours) {
            for (out, weights) in out
                .chunks_exact_mut(inputs)
                .zip(tile.chunks_exact(row_bytes))
            {
                // SAFETY: as above.
                [out[i]] = unsafe { (self.dot)(weights, [q]) };
            }
        }
    }
}

/// A weight type's product of one weight row with `N` activation rows, inlined into one
/// function per instruction set (`with_avx2`, `with_vnni`) with `I` the set's byte products.
pub(crate) trait Kernel {
    /// # Safety
    /// AVX2, FMA and F16C, and `I`'s instructions, are the caller's.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot<I: Isa, const N: usize>(weights: &[u8], rows: [&Q8Row; N]) -> [f32; N];
}

/// No products to compile off x86-64 ([`matmul`] refuses to run).
#[cfg(not(target_arch = "x86_64"))]
impl<T> Kernel for T {}

/// `K`'s product compiled for AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn with_avx2<K: Kernel, const N: usize>(weights: &[u8], rows: [&Q8Row; N]) -> [f32; N] {
    // SAFETY: the features are this function's.
    unsafe { K::dot::<Avx2, N>(weights, rows) }
}

/// `K`'s product compiled for AVX2, FMA, F16C and AVX-512 VNNI, VL and BW (`vpdpbusd` on
/// 256-bit registers, and all 32 of them): the K-quants' decode steps on VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl,avx512bw")]
pub(crate) unsafe fn with_vnni<K: Kernel, const N: usize>(
    weights: &[u8],
    rows: [&Q8Row; N],
) -> [f32; N] {
    // SAFETY: the features are this function's.
    unsafe { K::dot::<Vnni, N>(weights, rows) }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn with_vnni<K: Kernel, const N: usize>(_: &[u8], _: [&Q8Row; N]) -> [f32; N] {
    unreachable!("matmul refuses to run without AVX2")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn with_avx2<K: Kernel, const N: usize>(_: &[u8], _: [&Q8Row; N]) -> [f32; N] {
    unreachable!("matmul refuses to run without AVX2")
}

/// `x` (`inputs` rows of `cols` values) times the transposed matrix `weights` (`rows` rows of
/// `cols / kind.values()` blocks of `kind`, as GGUF stores them): `inputs × rows` values,
/// row-major. `cols` must be a multiple of the kind's block (256 for the K-quants).
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
    if cols == 0
        || !cols.is_multiple_of(kind.values)
        || weights.len() != rows * (cols / kind.values) * kind.bytes
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
    let products = kind.products();
    let row_bytes = cols / kind.values * kind.bytes;
    // Each weight row's products with every input row, groups of weight rows shared out
    // across threads; the inputs several at a time (each group read once per task while the
    // task's weights stay in cache for the next group).
    let mut by_weight = vec![0f32; rows * inputs];
    let task = |(out, tile): (&mut [f32], &[u8])| match products {
        Products::Rows(products) => products.run(tile, row_bytes, &quantised, out),
        Products::Tiles(tiles) => matmul_tiled(&tiles, tile, row_bytes, &quantised, out),
    };
    let out_tile = inputs * ROWS_PER_TASK;
    let weights_tile = row_bytes * ROWS_PER_TASK;
    if rayon::current_num_threads() == 1 {
        // One thread: on this one, without handing the work to rayon's worker and waiting.
        by_weight
            .chunks_mut(out_tile)
            .zip(weights.chunks(weights_tile))
            .for_each(task);
    } else {
        by_weight
            .par_chunks_mut(out_tile)
            .zip(weights.par_chunks(weights_tile))
            .for_each(task);
    }
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
    // SAFETY: `block` starts with eight bytes; F16C is checked by the callers' `target_feature`.
    unsafe { std::arch::x86_64::_mm_cvtss_f32(f16x4(&block[..8])) }
}

/// The four F16s in `bytes` (eight of them) widened, read straight from memory by
/// `vcvtph2ps`. In assembly because LLVM narrows any load whose other lanes go unused to a
/// word inserted (`vpinsrw`) into whatever register is free, often the accumulator: each
/// block's scale then waited for the previous block's sum (Q8_0 took 10 cycles a block
/// instead of 4).
///
/// # Safety
/// F16C is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn f16x4(bytes: &[u8]) -> std::arch::x86_64::__m128 {
    let bytes: &[u8; 8] = bytes.try_into().expect("eight bytes");
    let widened;
    // SAFETY: reads the eight bytes of `bytes`; F16C as documented.
    unsafe {
        std::arch::asm!(
            "vcvtph2ps {out}, qword ptr [{at}]",
            at = in(reg) bytes.as_ptr(),
            out = lateout(xmm_reg) widened,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    widened
}

/// An activation row's blocks for a kernel's inner loop: pointers into a [`Q8Row`] whose
/// length [`blocks_of`] checked once, so that the loop has no bounds checks.
#[derive(Clone, Copy)]
pub(crate) struct Blocks {
    qs: *const i8,
    d: *const f32,
    s: *const f32,
    sums: *const f32,
    half_sums: *const i32,
}

impl Blocks {
    /// The 32 values of block `b`, loaded unaligned.
    ///
    /// # Safety
    /// `b` is below the checked block count; AVX is the caller's.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn values(self, b: usize) -> std::arch::x86_64::__m256i {
        // SAFETY: as documented.
        unsafe { std::arch::x86_64::_mm256_loadu_si256(self.qs.add(b * BLOCK).cast()) }
    }

    /// Block `b`'s scale.
    ///
    /// # Safety
    /// `b` is below the checked block count.
    #[inline(always)]
    pub(crate) unsafe fn d(self, b: usize) -> f32 {
        // SAFETY: as documented.
        unsafe { *self.d.add(b) }
    }

    /// Block `b`'s F16 scaled sum ([`Q8Row::s`]).
    ///
    /// # Safety
    /// `b` is below the checked block count.
    #[inline(always)]
    pub(crate) unsafe fn s(self, b: usize) -> f32 {
        // SAFETY: as documented.
        unsafe { *self.s.add(b) }
    }

    /// Block `b`'s F32 scaled sum ([`Q8Row::sums`]).
    ///
    /// # Safety
    /// `b` is below the checked block count.
    #[inline(always)]
    pub(crate) unsafe fn sum(self, b: usize) -> f32 {
        // SAFETY: as documented.
        unsafe { *self.sums.add(b) }
    }

    /// Where block `b`'s 32 values start.
    ///
    /// # Safety
    /// `b` is below the checked block count.
    #[inline(always)]
    pub(crate) unsafe fn values_ptr(self, b: usize) -> *const i8 {
        // SAFETY: as documented.
        unsafe { self.qs.add(b * BLOCK) }
    }

    /// The sums of block `b`'s two halves of values ([`Q8Row::half_sums`]).
    ///
    /// # Safety
    /// `b` is below the checked block count.
    #[inline(always)]
    pub(crate) unsafe fn half_sums(self, b: usize) -> [i32; 2] {
        // SAFETY: as documented.
        unsafe { [*self.half_sums.add(2 * b), *self.half_sums.add(2 * b + 1)] }
    }

    /// The scales of blocks `b..b + 8`.
    ///
    /// # Safety
    /// `b + 8` is at most the checked block count; AVX is the caller's.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn d8(self, b: usize) -> std::arch::x86_64::__m256 {
        // SAFETY: as documented.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(self.d.add(b)) }
    }

    /// The F32 sums ([`Q8Row::sums`]) of blocks `b..b + 8`.
    ///
    /// # Safety
    /// `b + 8` is at most the checked block count; AVX is the caller's.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) unsafe fn sums8(self, b: usize) -> std::arch::x86_64::__m256 {
        // SAFETY: as documented.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(self.sums.add(b)) }
    }
}

/// `rows` as [`Blocks`], after checking that each holds at least `blocks` blocks.
#[inline(always)]
pub(crate) fn blocks_of<const N: usize>(rows: [&Q8Row; N], blocks: usize) -> [Blocks; N] {
    let mut out = [Blocks {
        qs: std::ptr::null(),
        d: std::ptr::null(),
        s: std::ptr::null(),
        sums: std::ptr::null(),
        half_sums: std::ptr::null(),
    }; N];
    for (out, row) in out.iter_mut().zip(rows) {
        assert!(
            row.qs.len() >= blocks * BLOCK
                && row.d.len() >= blocks
                && row.s.len() >= blocks
                && row.sums.len() >= blocks
                && row.half_sums.len() >= 2 * blocks,
            "an activation row shorter than the weights' row"
        );
        *out = Blocks {
            qs: row.qs.as_ptr(),
            d: row.d.as_ptr(),
            s: row.s.as_ptr(),
            sums: row.sums.as_ptr(),
            half_sums: row.half_sums.as_ptr(),
        };
    }
    out
}

/// How an instruction set sums the products of 32 bytes, four at a time: AVX2's `maddubs`
/// (pairs to i16) and `madd` (to i32), or AVX-512 VNNI's one `vpdpbusd`.
#[cfg(target_arch = "x86_64")]
pub(crate) trait Isa {
    /// `acc` plus the products of 32 unsigned bytes `u` and 32 signed bytes `s`, summed in
    /// fours: 8 × i32. On AVX2 each pair of products must fit in an i16 (it saturates).
    ///
    /// # Safety
    /// The instruction set is the caller's (its `target_feature`, into which this is inlined).
    unsafe fn sums(
        acc: std::arch::x86_64::__m256i,
        u: std::arch::x86_64::__m256i,
        s: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i;
}

/// AVX2's byte products: `maddubs`, then `madd` with ones.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Isa for Avx2 {
    #[inline(always)]
    unsafe fn sums(
        acc: std::arch::x86_64::__m256i,
        u: std::arch::x86_64::__m256i,
        s: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: AVX2 is the caller's.
        unsafe {
            let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
            _mm256_add_epi32(acc, sums)
        }
    }
}

/// AVX-512 VNNI's byte products: one `vpdpbusd` on 256-bit registers (AVX-512 VL), which
/// neither saturates nor needs the `madd`.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Vnni;

#[cfg(target_arch = "x86_64")]
impl Isa for Vnni {
    #[inline(always)]
    unsafe fn sums(
        acc: std::arch::x86_64::__m256i,
        u: std::arch::x86_64::__m256i,
        s: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::*;
        // SAFETY: AVX-512 VNNI and VL are the caller's.
        unsafe { _mm256_dpbusd_epi32(acc, u, s) }
    }
}

/// The products of 32 signed weights `w` (`w_abs` their absolute values, computed once for
/// several activation rows) and 32 activations `x`, summed in fours: |w| times x with w's sign
/// (at most 2 · 128 · 127 per pair: quantising never makes −128).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn signed_sums<I: Isa>(
    w_abs: std::arch::x86_64::__m256i,
    w: std::arch::x86_64::__m256i,
    x: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 and `I` are the caller's.
    unsafe { I::sums(_mm256_setzero_si256(), w_abs, _mm256_sign_epi8(x, w)) }
}

/// The products of the unsigned values `u` of 32 weights `u − by` with block `b` of `x`, summed
/// in fours, for weights whose scale is `d`; `−by · d` times the block's F32 sum
/// ([`Q8Row::sums`]) goes to `beside`.
///
/// # Safety
/// AVX2 and `I` are the caller's; `b` is below the count checked for `x`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn offset_sums<I: Isa>(
    u: std::arch::x86_64::__m256i,
    by: i32,
    d: f32,
    x: Blocks,
    b: usize,
    beside: &mut f32,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    *beside -= by as f32 * d * unsafe { x.sum(b) };
    // SAFETY: as documented.
    unsafe { I::sums(_mm256_setzero_si256(), u, x.values(b)) }
}

/// `acc + scale · sums` over 8 × i32 `sums`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn accumulate_sums(
    acc: std::arch::x86_64::__m256,
    sums: std::arch::x86_64::__m256i,
    scale: f32,
) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: AVX and FMA are checked by the callers' `target_feature`.
    unsafe { _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(sums), acc) }
}

/// The 32 values of 16 bytes of nibbles: the low nibbles are values 0..16, the high ones
/// 16..32 (the 32-value types' layout).
///
/// # Safety
/// `packed` holds at least 16 bytes, loaded unaligned; AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn nibbles(packed: &[u8]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    assert!(packed.len() >= 16);
    // SAFETY: as documented.
    unsafe {
        let nibble = _mm_set1_epi8(0x0F);
        let packed = _mm_loadu_si128(packed.as_ptr().cast());
        let low = _mm_and_si128(packed, nibble);
        let high = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
        _mm256_set_m128i(high, low)
    }
}

/// `values` with 16 added to value `i` where bit `i` of `high` is set (the Q5 types' fifth
/// bits).
///
/// # Safety
/// AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn fifth_bits(
    values: std::arch::x86_64::__m256i,
    high: u32,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 is the caller's.
    unsafe {
        // Byte i of a lane picks byte i / 8 of `high`; `bit` holds 1 << (i % 8).
        let spread = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(high as i32), spread);
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
        _mm256_or_si256(values, _mm256_and_si256(set, _mm256_set1_epi8(0x10)))
    }
}

/// A 32-value block type: its layout as unsigned bytes (a weight is `d · (u − OFFSET)`, plus the
/// block's F16 minimum `m` where it has one, `d · u + m`), multiplied a row at a time by
/// [`dot_in_pairs`] (AVX2) and eight rows at a time by the tiles (VNNI, `tiles.rs`).
pub(crate) trait Block32 {
    /// Bytes per block.
    const BYTES: usize;
    /// What the unsigned values are offset by (8 for Q4_0, 16 for Q5_0, 128 for Q8_0), or 0.
    const OFFSET: i32;
    /// Whether the block's F16 minimum follows its F16 scale (Q4_1, Q5_1).
    const MINIMUM: bool;

    /// The block's 32 values as unsigned bytes, in order.
    ///
    /// # Safety
    /// `block` holds [`BYTES`](Block32::BYTES) bytes; AVX2 is the caller's.
    #[cfg(target_arch = "x86_64")]
    unsafe fn unsigned(block: &[u8]) -> std::arch::x86_64::__m256i;

    /// Eight rows' blocks as the tiles' columns (word `r` of column `j`: bytes `4j..4j + 4` of
    /// row `r`'s unsigned values): each row's [`unsigned`](Block32::unsigned) values,
    /// transposed.
    ///
    /// # Safety
    /// Each pointer starts [`BYTES`](Block32::BYTES) readable bytes; AVX2 is the caller's.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn columns(blocks: [*const u8; TILE_ROWS]) -> [std::arch::x86_64::__m256i; 8] {
        use std::arch::x86_64::*;
        // SAFETY: as documented. Loops, not `array::from_fn`, whose closures would be compiled
        // without the caller's instruction sets (and call each intrinsic).
        unsafe {
            let mut values = [_mm256_setzero_si256(); TILE_ROWS];
            for (values, block) in values.iter_mut().zip(blocks) {
                *values = Self::unsigned(std::slice::from_raw_parts(block, Self::BYTES));
            }
            transpose(values)
        }
    }

    /// Adds `block` (block `b` of its row) times block `b` of each of the `N` activation rows
    /// to `acc` (eight lanes to be summed) and `extra` (any term outside the integer product:
    /// the offset's, `−OFFSET · d` times the activations' F32 sum, and the minimum's,
    /// `m · s_x`). The unsigned values' products fit AVX2's pairs (at most 2 · 31 · 128).
    ///
    /// # Safety
    /// AVX2, FMA, F16C and `I` are the caller's; `b` is below the count checked for `xs`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn accumulate<I: Isa, const N: usize>(
        block: &[u8],
        b: usize,
        xs: &[Blocks; N],
        acc: &mut [std::arch::x86_64::__m256; N],
        extra: &mut [f32; N],
    ) {
        use std::arch::x86_64::*;
        // SAFETY: as documented; a block starts with its F16 scale, then its minimum where it
        // has one (eight bytes widened at once).
        unsafe {
            let w = Self::unsigned(block);
            let dm = f16x4(&block[..8]);
            let (d, m) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            for n in 0..N {
                let sums = if Self::OFFSET == 0 {
                    I::sums(_mm256_setzero_si256(), w, xs[n].values(b))
                } else {
                    offset_sums::<I>(w, Self::OFFSET, d, xs[n], b, &mut extra[n])
                };
                acc[n] = accumulate_sums(acc[n], sums, d * xs[n].d(b));
                if Self::MINIMUM {
                    extra[n] += m * xs[n].s(b);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl<K: Block32> Kernel for K {
    #[inline(always)]
    unsafe fn dot<I: Isa, const N: usize>(weights: &[u8], rows: [&Q8Row; N]) -> [f32; N] {
        // SAFETY: as documented.
        unsafe { dot_in_pairs::<K, I, N>(weights, rows) }
    }
}

/// One weight row of `K` times `N` activation rows, even and odd blocks summed apart: two
/// chains of dependent FMAs (whose latency would bound a single row's product), each block
/// decoded once for the `N` rows.
///
/// # Safety
/// AVX2, FMA, F16C and `I` are the caller's (its `target_feature`, into which this is inlined).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_in_pairs<K: Block32, I: Isa, const N: usize>(
    weights: &[u8],
    rows: [&Q8Row; N],
) -> [f32; N] {
    use std::arch::x86_64::*;
    let blocks = weights.len() / K::BYTES;
    let xs = blocks_of(rows, blocks);
    // SAFETY: as documented; every block index is below `blocks`.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); N]; 2];
        let mut extra = [[0f32; N]; 2];
        let mut pairs = weights.chunks_exact(2 * K::BYTES);
        for (p, pair) in pairs.by_ref().enumerate() {
            let (even, odd) = pair.split_at(K::BYTES);
            K::accumulate::<I, N>(even, 2 * p, &xs, &mut acc[0], &mut extra[0]);
            K::accumulate::<I, N>(odd, 2 * p + 1, &xs, &mut acc[1], &mut extra[1]);
        }
        let last = pairs.remainder();
        if !last.is_empty() {
            K::accumulate::<I, N>(last, blocks - 1, &xs, &mut acc[0], &mut extra[0]);
        }
        let [even, odd] = acc;
        let mut both = even;
        for (both, odd) in both.iter_mut().zip(odd) {
            *both = _mm256_add_ps(*both, odd);
        }
        let mut sums = lanes_sums(both);
        for (n, sum) in sums.iter_mut().enumerate() {
            *sum += extra[0][n] + extra[1][n];
        }
        sums
    }
}

/// The eight lanes' sums of `N` accumulators.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn lanes_sums<const N: usize>(acc: [std::arch::x86_64::__m256; N]) -> [f32; N] {
    let mut sums = [0f32; N];
    for (sum, a) in sums.iter_mut().zip(acc) {
        // SAFETY: AVX is checked by the callers' `target_feature` (a loop, not a closure, which
        // would be compiled without it).
        *sum = unsafe { lanes_sum(a) };
    }
    sums
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
    /// Each block's scale times the sum of its values in F32 (the sum of the dequantised
    /// values, rounded once; the K-quants' minimums use it).
    pub sums: Vec<f32>,
    /// The sums of each block's two halves of values (0..16, 16..32), two per block: the
    /// offsets of the unsigned values in `tiles.rs` start from them (Q6_K's per half).
    pub half_sums: Vec<i32>,
}

impl Q8Row {
    /// candle's `BlockQ8_1::from_float` (whose values and scale are `BlockQ8_0`'s), value for
    /// value: eight values at a time with AVX2 where the CPU has it (each activation row is
    /// quantised once per product, on one thread; the scalar rounding was a tenth of a small
    /// matrix's decode step).
    pub fn new(xs: &[f32]) -> Q8Row {
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: checked that AVX2, FMA and F16C are present.
            return unsafe { Q8Row::new_avx2(xs) };
        }
        Q8Row::new_scalar(xs)
    }

    fn with_capacity(values: usize) -> Q8Row {
        let blocks = values / BLOCK;
        Q8Row {
            qs: Vec::with_capacity(values),
            d: Vec::with_capacity(blocks),
            s: Vec::with_capacity(blocks),
            sums: Vec::with_capacity(blocks),
            half_sums: Vec::with_capacity(2 * blocks),
        }
    }

    /// A block's scale `d` (before rounding to F16) and the sums of its two halves of values.
    fn push_scales(&mut self, d: f32, halves: [i32; 2]) {
        let sum = halves[0] + halves[1];
        let d16 = f16::from_f32(d);
        self.d.push(d16.to_f32());
        self.s.push((f16::from_f32(sum as f32) * d16).to_f32());
        self.sums.push(d16.to_f32() * sum as f32);
        self.half_sums.extend(halves);
    }

    fn new_scalar(xs: &[f32]) -> Q8Row {
        let mut row = Q8Row::with_capacity(xs.len());
        for block in xs.chunks_exact(BLOCK) {
            let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
            let d = amax / 127.;
            let id = if d != 0. { 1. / d } else { 0. };
            let mut halves = [0i32; 2];
            for (i, &x) in block.iter().enumerate() {
                let q = f32::round(x * id) as i8;
                halves[i / 16] += i32::from(q);
                row.qs.push(q);
            }
            row.push_scales(d, halves);
        }
        row
    }

    /// [`Q8Row::new_scalar`] eight values at a time, to the same bits: the same maximum, scale
    /// and products, rounded half away from zero as `f32::round` does.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn new_avx2(xs: &[f32]) -> Q8Row {
        use std::arch::x86_64::*;
        let mut row = Q8Row::with_capacity(xs.len());
        let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
        let sign = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN));
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        // After the two packs, 32-bit element i holds values 4i..4i + 4 of lane i % 2's
        // quarter; this puts them back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for block in xs.chunks_exact(BLOCK) {
            // SAFETY: `block` holds 32 floats, loaded unaligned.
            let v = unsafe {
                [
                    _mm256_loadu_ps(block[..8].as_ptr()),
                    _mm256_loadu_ps(block[8..16].as_ptr()),
                    _mm256_loadu_ps(block[16..24].as_ptr()),
                    _mm256_loadu_ps(block[24..].as_ptr()),
                ]
            };
            // The largest magnitude: `max_ps(x, m)` keeps m where x is NaN, as `f32::max` does.
            let mut m = _mm256_setzero_ps();
            for v in v {
                m = _mm256_max_ps(_mm256_and_ps(v, magnitude), m);
            }
            let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            let m = _mm_max_ps(_mm_movehl_ps(m, m), m);
            let amax = _mm_cvtss_f32(_mm_max_ss(_mm_movehdup_ps(m), m));
            let d = amax / 127.;
            let id = _mm256_set1_ps(if d != 0. { 1. / d } else { 0. });
            let mut q = [_mm256_setzero_si256(); 4];
            for (q, v) in q.iter_mut().zip(v) {
                let x = _mm256_mul_ps(v, id);
                // Toward zero, then one further from zero where the dropped fraction is at
                // least a half.
                let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(x);
                let fraction = _mm256_and_ps(_mm256_sub_ps(x, t), magnitude);
                let away = _mm256_cmp_ps::<_CMP_GE_OQ>(fraction, half);
                let step = _mm256_or_ps(_mm256_and_ps(x, sign), one);
                *q = _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(away, step)));
            }
            // Each half's eight lanes folded to four, the halves side by side, then summed.
            let (first, second) = (_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            let first = _mm_add_epi32(
                _mm256_castsi256_si128(first),
                _mm256_extracti128_si256(first, 1),
            );
            let second = _mm_add_epi32(
                _mm256_castsi256_si128(second),
                _mm256_extracti128_si256(second, 1),
            );
            let sums = _mm_hadd_epi32(first, second);
            let sums = _mm_hadd_epi32(sums, sums);
            let halves = [_mm_cvtsi128_si32(sums), _mm_extract_epi32::<1>(sums)];
            let bytes = _mm256_packs_epi16(
                _mm256_packs_epi32(q[0], q[1]),
                _mm256_packs_epi32(q[2], q[3]),
            );
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            let at = row.qs.len();
            row.qs.resize(at + BLOCK, 0);
            // SAFETY: `row.qs[at..]` was just made 32 bytes long.
            unsafe { _mm256_storeu_si256(row.qs[at..].as_mut_ptr().cast(), bytes) };
            row.push_scales(d, halves);
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

/// Test data: `n` values spread evenly over [−0.5, 0.5).
#[cfg(test)]
pub fn uniform(n: usize, seed: u32) -> Vec<f32> {
    pseudo_random(n, seed)
        .into_iter()
        .map(|v| v as f32 / (1 << 24) as f32 - 0.5)
        .collect()
}

/// Test inputs: `n` activations between −10 and 10.
#[cfg(test)]
pub fn test_inputs(n: usize, seed: u32) -> Vec<f32> {
    pseudo_random(n, seed)
        .into_iter()
        .map(|v| (v % 2001) as f32 / 100. - 10.)
        .collect()
}

/// `kind` on each instruction set this CPU runs: AVX2, then AVX-512 VNNI where [`vnni`] allows
/// it (saying so where it does not).
#[cfg(test)]
pub fn variants(kind: &BlockKind) -> Vec<BlockKind> {
    let mut variants = vec![kind.without_vnni()];
    if vnni() {
        variants.push(*kind);
    } else {
        eprintln!(
            "no AVX-512 VNNI here (or HUBBLE_KERNELS_NO_VNNI): {} on AVX2 only",
            kind.name
        );
    }
    variants
}

/// Checks each product of [`matmul`] of `kind` (on each of its [`variants`]) against `scalar` to
/// 1e-5 of its own size (or of 1), then everything [`assert_matches_scalar`] checks.
#[cfg(test)]
pub fn assert_each_matches_scalar(
    kind: &BlockKind,
    weights: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    scalar: impl Fn(&[u8], &Q8Row) -> f32,
) {
    let row_bytes = cols / kind.values * kind.bytes;
    for variant in variants(kind) {
        let got = matmul(&variant, weights, rows, cols, x).unwrap();
        for (i, input) in x.chunks_exact(cols).enumerate() {
            let q = Q8Row::new(input);
            for (r, w) in weights.chunks_exact(row_bytes).enumerate() {
                let (have, want) = (got[i * rows + r], scalar(w, &q));
                assert!(
                    (have - want).abs() <= 1e-5 * want.abs().max(1.),
                    "{} {rows}×{cols} (VNNI: {}): {have} vs {want}",
                    kind.name,
                    variant.vnni.is_some()
                );
            }
        }
    }
    assert_matches_scalar(kind, weights, rows, cols, x, scalar);
}

/// Checks [`matmul`] of `kind` (on each of its [`variants`]) against `scalar` (one weight row
/// times one activation row) for every pair, to 1e-5 of the largest product (or of 1), and that
/// each activation row alone gives exactly the products it gives among the others (the
/// four-row path is the one-row path).
#[cfg(test)]
pub fn assert_matches_scalar(
    kind: &BlockKind,
    weights: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    scalar: impl Fn(&[u8], &Q8Row) -> f32,
) {
    let row_bytes = cols / kind.values * kind.bytes;
    let mut want = Vec::new();
    for input in x.chunks_exact(cols) {
        let q = Q8Row::new(input);
        want.extend(weights.chunks_exact(row_bytes).map(|w| scalar(w, &q)));
    }
    let largest = want.iter().fold(0f32, |m, w| m.max(w.abs()));
    let tolerance = 1e-5 * largest.max(1.);
    for variant in variants(kind) {
        let vnni = variant.vnni.is_some();
        let got = matmul(&variant, weights, rows, cols, x).unwrap();
        for (i, (have, want)) in got.iter().zip(&want).enumerate() {
            assert!(
                (have - want).abs() <= tolerance,
                "{} {rows}×{cols} (VNNI: {vnni}), input {} row {}: {have} vs {want} (largest {largest})",
                kind.name,
                i / rows,
                i % rows
            );
        }
        for (i, input) in x.chunks_exact(cols).enumerate() {
            let alone = matmul(&variant, weights, rows, cols, input).unwrap();
            assert_eq!(
                alone,
                got[i * rows..(i + 1) * rows],
                "{} {rows}×{cols} (VNNI: {vnni}): input {i} alone",
                kind.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnni_runs_where_the_cpu_has_it() {
        let told_not_to =
            std::env::var_os("HUBBLE_KERNELS_NO_VNNI").is_some_and(|v| !v.is_empty() && v != "0");
        let has = available() && crate::cpu_has_vnni();
        assert_eq!(vnni(), has && !told_not_to);
        if !vnni() {
            eprintln!("AVX-512 VNNI products not tested: the CPU lacks them or told not to");
        }
        assert!(crate::Q4_0.without_vnni().vnni.is_none() && crate::Q4_0.vnni.is_some());
    }

    #[test]
    fn simd_quantising_is_the_scalar_one() {
        if !available() {
            return;
        }
        let mut x = test_inputs(64 * BLOCK, 3);
        // Exact halves once scaled (a block whose largest magnitude is 127 has scale 1), both
        // signs; a block of zeros; a block with one large value and tiny ones; NaN and
        // infinity are left out (garbage either way).
        let halves = [
            127., -0.5, 0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 3.4999998,
        ];
        x[..halves.len()].copy_from_slice(&halves);
        x[BLOCK..2 * BLOCK].fill(0.);
        x[2 * BLOCK..3 * BLOCK].fill(1e-7);
        x[2 * BLOCK + 5] = -3e4;
        x[3 * BLOCK..4 * BLOCK].fill(-2.0);
        for (i, v) in x[4 * BLOCK..].iter_mut().enumerate() {
            *v *= (i % 7) as f32 * 0.37;
        }
        // SAFETY: checked above.
        let simd = unsafe { Q8Row::new_avx2(&x) };
        let scalar = Q8Row::new_scalar(&x);
        assert_eq!(simd.qs, scalar.qs);
        assert_eq!(simd.d, scalar.d);
        assert_eq!(simd.s, scalar.s);
        assert_eq!(simd.sums, scalar.sums);
        assert_eq!(simd.half_sums, scalar.half_sums);
        assert_eq!(&simd.qs[..10], &[127, -1, 1, 2, -2, 3, -3, 127, -127, 3]);
    }
}
