//! The K-quants: Q4_K, Q5_K and Q6_K weights in 256-value super-blocks (ggml's layouts, byte for
//! byte) with AVX2, FMA and F16C, or AVX-512 VNNI (a decode step row by row here, a prompt in
//! tiles of eight rows, `tiles.rs`, whose decoding of the three layouts is at the end).
//!
//! - Q4_K (144 bytes): F16 `d`, F16 `dmin`, 12 bytes packing eight 6-bit scales and eight 6-bit
//!   minimums, 128 bytes of nibbles; value `l` of 32-value sub-block `k` is
//!   `d · scale_k · q4 − dmin · min_k`, its nibble the low (`k` even) or high (`k` odd) half of
//!   byte `32 · (k / 2) + l`.
//! - Q5_K (176 bytes): the same, then 32 bytes of fifth bits (bit `k` of byte `l`) before the
//!   nibbles.
//! - Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of 2-bit high parts, sixteen signed
//!   8-bit scales (one per 16 values), F16 `d`; a value is `d · scale · (q6 − 32)`.
//!
//! Each 32-value sub-block meets one of the activations' 32-value Q8 blocks ([`Q8Row`]), so a
//! super-block's product is eight block products, each with its activation block's scale:
//! `d · d_x · scale_k · Σ q·q8 − dmin · min_k · Σ x` (Σ x is [`Q8Row::sums`], the dequantised
//! activations' sum); Q6_K's two scales per sub-block weight its two halves inside the integer
//! sum. The eight integer sums are gathered into one register before they are scaled and
//! converted to F32 (`dot_k`). candle and llama.cpp quantise the activations per 256 values instead (Q8_K, one F32 scale),
//! so their products differ from these by that rounding, not by the weights: these are the
//! weights as ggml's `dequantize_row_q*_K` gives them.

use crate::quant_matmul::{BlockKind, SUPER_BLOCK};
#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{Isa, Kernel, Q8Row, blocks_of, f16x4, signed_sums};
use crate::tiles::{DecodedBlock, Minimum, TILE_ROWS, TileBlocks};
#[cfg(target_arch = "x86_64")]
use crate::tiles::{f16_pairs, transpose};

/// Bytes per Q4_K super-block: F16 `d` and `dmin`, 12 scale bytes, 128 bytes of nibbles.
pub const Q4_K_BYTES: usize = 144;
/// Bytes per Q5_K super-block: F16 `d` and `dmin`, 12 scale bytes, 32 bytes of fifth bits, 128
/// bytes of nibbles.
pub const Q5_K_BYTES: usize = 176;
/// Bytes per Q6_K super-block: 128 bytes of low nibbles, 64 of high bits, 16 scales, F16 `d`.
pub const Q6_K_BYTES: usize = 210;

/// Q4_K weights, for [`matmul`](crate::matmul) (rows a multiple of 256 values).
pub static Q4_K: BlockKind = BlockKind::tiled::<SuperBlocks<Q4_5K<false>>>("Q4_K");

/// Q5_K weights, for [`matmul`](crate::matmul) (rows a multiple of 256 values).
pub static Q5_K: BlockKind = BlockKind::tiled::<SuperBlocks<Q4_5K<true>>>("Q5_K");

/// Q6_K weights, for [`matmul`](crate::matmul) (rows a multiple of 256 values).
pub static Q6_K: BlockKind = BlockKind::tiled::<SuperBlocks<Q6K>>("Q6_K");

/// Sub-blocks (and activation blocks) per super-block.
const SUBS: usize = SUPER_BLOCK / 32;

/// Q4_K's and Q5_K's eight 6-bit scales and eight 6-bit minimums, byte `k` of each for
/// sub-block `k`, from their 12 packed bytes: bytes 0..4 hold scales 0..4 in their low six bits,
/// bytes 4..8 minimums 0..4; bytes 8..12 hold the low four bits of scales 4..8 (low nibble) and
/// of minimums 4..8 (high nibble), whose top two bits are the top bits of bytes 0..4 (scales)
/// and 4..8 (minimums).
#[inline(always)]
fn scales_and_minimums(packed: &[u8]) -> (u64, u64) {
    let word =
        |i: usize| u32::from_le_bytes([packed[i], packed[i + 1], packed[i + 2], packed[i + 3]]);
    let (a, b, c) = (word(0), word(4), word(8));
    const LOW6: u32 = 0x3F3F_3F3F;
    const LOW4: u32 = 0x0F0F_0F0F;
    const TOP2: u32 = 0x0303_0303;
    let scales_high = (c & LOW4) | (((a >> 6) & TOP2) << 4);
    let minimums_high = ((c >> 4) & LOW4) | (((b >> 6) & TOP2) << 4);
    (
        u64::from(a & LOW6) | (u64::from(scales_high) << 32),
        u64::from(b & LOW6) | (u64::from(minimums_high) << 32),
    )
}

/// A K-quant super-block's layout, for [`dot_k`]: its sub-blocks four at a time (a quad, the
/// 128 values of 64 bytes of nibbles) and its scales.
#[cfg(target_arch = "x86_64")]
trait SuperBlock {
    /// Bytes per super-block.
    const BYTES: usize;

    /// One sub-block's weights, decoded once for every activation row.
    type Weights: Copy;

    /// Sub-blocks `4 · quad..4 · quad + 4` of `block`.
    ///
    /// # Safety
    /// AVX2 is the caller's; `block` is `BYTES` long.
    unsafe fn quad(block: &[u8], quad: usize) -> [Self::Weights; 4];

    /// A sub-block's products with 32 activations, summed in fours (8 × i32).
    ///
    /// # Safety
    /// AVX2 and `I` are the caller's.
    unsafe fn sums<I: Isa>(
        w: Self::Weights,
        x: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i;

    /// The integer scale of each half (16 values) of each sub-block, laid out as [`quad_sums`]
    /// lays out their sums, for quads 0 and 1; the F32 scale `d` of them all; and each
    /// sub-block's `−dmin · min_k` (Q4_K's and Q5_K's minimums, to be multiplied by the
    /// activations' sums), or `None`.
    ///
    /// # Safety
    /// AVX2 and F16C are the caller's; `block` is `BYTES` long.
    unsafe fn scales(block: &[u8]) -> Scales;
}

/// A super-block's integer scales per half sub-block, its F32 `d` and its minimums' terms
/// ([`SuperBlock::scales`]).
#[cfg(target_arch = "x86_64")]
type Scales = (
    [std::arch::x86_64::__m256i; 2],
    f32,
    Option<std::arch::x86_64::__m256>,
);

/// Rows of `K`'s super-blocks, multiplied by [`dot_k`].
struct SuperBlocks<K>(std::marker::PhantomData<K>);

#[cfg(target_arch = "x86_64")]
impl<K: SuperBlock> Kernel for SuperBlocks<K> {
    #[inline(always)]
    unsafe fn dot<I: Isa, const N: usize>(weights: &[u8], rows: [&Q8Row; N]) -> [f32; N] {
        // SAFETY: as documented.
        unsafe { dot_k::<K, I, N>(weights, rows) }
    }
}

/// One weight row of K-quant super-blocks times `N` activation rows. Each sub-block's integer
/// products (summed in fours) are added up per half by [`quad_sums`], times the halves' integer
/// scales, into one i32 per sub-block: a super-block's eight sums are converted and scaled
/// (`d · d_x` of each activation block, plus the minimums' term) by one instruction each, not
/// eight, into eight lanes summed at the end in a fixed tree ([`tree_sum`]) that the VNNI tiles
/// (`tiles.rs`) follow too, so that a decode step (rows here) and a prompt (tiles) give the
/// same products.
///
/// # Safety
/// AVX2, FMA, F16C and `I` are the caller's (its `target_feature`, into which this is inlined).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_k<K: SuperBlock, I: Isa, const N: usize>(
    weights: &[u8],
    rows: [&Q8Row; N],
) -> [f32; N] {
    use std::arch::x86_64::*;
    let xs = blocks_of(rows, weights.len() / K::BYTES * SUBS);
    // SAFETY: as documented; every activation block read is below the checked count, and
    // every block is `K::BYTES` long.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); N];
        for (s, block) in weights.chunks_exact(K::BYTES).enumerate() {
            let first = s * SUBS;
            // Each quad's sums per half, for each row.
            let mut halves = [[_mm256_setzero_si256(); N]; 2];
            for (quad, halves) in halves.iter_mut().enumerate() {
                let w = K::quad(block, quad);
                for n in 0..N {
                    let mut sums = [_mm256_setzero_si256(); 4];
                    for (j, sums) in sums.iter_mut().enumerate() {
                        *sums = K::sums::<I>(w[j], xs[n].values(first + 4 * quad + j));
                    }
                    halves[n] = quad_sums(sums);
                }
            }
            let (scales, d, minimums) = K::scales(block);
            for n in 0..N {
                let sums = _mm256_cvtepi32_ps(sub_block_sums([halves[0][n], halves[1][n]], scales));
                let factors = _mm256_mul_ps(_mm256_set1_ps(d), xs[n].d8(first));
                let terms = match minimums {
                    Some(minimums) => {
                        let offsets = _mm256_mul_ps(minimums, xs[n].sums8(first));
                        _mm256_fmadd_ps(sums, factors, offsets)
                    }
                    None => _mm256_mul_ps(sums, factors),
                };
                acc[n] = _mm256_add_ps(acc[n], terms);
            }
        }
        // A loop, not `map`, whose closure would be compiled without the instruction sets.
        let mut sums = [0f32; N];
        for (sum, acc) in sums.iter_mut().zip(acc) {
            *sum = tree_sum(acc);
        }
        sums
    }
}

/// The sum of the eight lanes in the order `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`
/// (the order in which the tiles sum theirs, `tiles.rs`).
///
/// # Safety
/// AVX is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tree_sum(lanes: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        let pairs = _mm256_hadd_ps(lanes, lanes);
        let quads = _mm256_hadd_ps(pairs, pairs);
        _mm_cvtss_f32(_mm_add_ss(
            _mm256_castps256_ps128(quads),
            _mm256_extractf128_ps(quads, 1),
        ))
    }
}

/// Four sub-blocks' sums (each 8 × i32, the products summed in fours) added up per half:
/// `[k0, k1, k2, k3]` of values 0..16 in the low 128-bit lane, of values 16..32 in the high.
///
/// # Safety
/// AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn quad_sums(sums: [std::arch::x86_64::__m256i; 4]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        _mm256_hadd_epi32(
            _mm256_hadd_epi32(sums[0], sums[1]),
            _mm256_hadd_epi32(sums[2], sums[3]),
        )
    }
}

/// The eight sub-blocks' sums, each half times its scale: `halves` and `scales` are quads 0
/// and 1 as [`quad_sums`] lays them out.
///
/// # Safety
/// AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sub_block_sums(
    halves: [std::arch::x86_64::__m256i; 2],
    scales: [std::arch::x86_64::__m256i; 2],
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        let a = _mm256_mullo_epi32(halves[0], scales[0]);
        let b = _mm256_mullo_epi32(halves[1], scales[1]);
        // First halves of sub-blocks 0..8 plus their second halves.
        _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(a, b),
            _mm256_permute2x128_si256::<0x31>(a, b),
        )
    }
}

/// Sixteen 8-bit scales (`bytes`) as [`SuperBlock::scales`] lays them out, byte `order[i]`
/// going to place `i`: places 0..8 are quad 0's, 8..16 quad 1's.
///
/// # Safety
/// AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn scales_by_half(
    bytes: std::arch::x86_64::__m128i,
    order: std::arch::x86_64::__m128i,
) -> [std::arch::x86_64::__m256i; 2] {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        let ordered = _mm_shuffle_epi8(bytes, order);
        [
            _mm256_cvtepi8_epi32(ordered),
            _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(ordered, ordered)),
        ]
    }
}

/// Q4_K, or Q5_K where `FIFTH` (its fifth bits come before the nibbles).
struct Q4_5K<const FIFTH: bool>;

#[cfg(target_arch = "x86_64")]
impl<const FIFTH: bool> SuperBlock for Q4_5K<FIFTH> {
    const BYTES: usize = if FIFTH { Q5_K_BYTES } else { Q4_K_BYTES };

    type Weights = std::arch::x86_64::__m256i;

    #[inline(always)]
    unsafe fn quad(block: &[u8], quad: usize) -> [Self::Weights; 4] {
        use std::arch::x86_64::*;
        let nibbles_at = if FIFTH { 48 } else { 16 };
        // SAFETY: reads 32 bytes of nibbles at 16 or 48 + 32 · pair (< 4), and the 32 bytes of
        // fifth bits at 16; AVX2 as documented.
        unsafe {
            let nibble = _mm256_set1_epi8(0x0F);
            let mut w = [_mm256_setzero_si256(); 4];
            for pair in 0..2 {
                let at = nibbles_at + 32 * (2 * quad + pair);
                let packed = _mm256_loadu_si256(block[at..at + 32].as_ptr().cast());
                w[2 * pair] = _mm256_and_si256(packed, nibble);
                w[2 * pair + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
            }
            if FIFTH {
                let fifth = _mm256_loadu_si256(block[16..48].as_ptr().cast());
                for (j, w) in w.iter_mut().enumerate() {
                    // 16 where bit k of the value's fifth-bits byte is set.
                    let bit = _mm256_set1_epi8((1u8 << (4 * quad + j)) as i8);
                    let set = _mm256_cmpeq_epi8(_mm256_and_si256(fifth, bit), bit);
                    *w = _mm256_or_si256(*w, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
                }
            }
            w
        }
    }

    #[inline(always)]
    unsafe fn sums<I: Isa>(
        w: Self::Weights,
        x: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i {
        // SAFETY: as documented; u8 × i8 pairs at most 2 · 31 · 127.
        unsafe { I::sums(std::arch::x86_64::_mm256_setzero_si256(), w, x) }
    }

    #[inline(always)]
    unsafe fn scales(block: &[u8]) -> Scales {
        use std::arch::x86_64::*;
        // SAFETY: the block starts with `d` and `dmin`; AVX2 and F16C as documented.
        unsafe {
            let (scales, minimums) = scales_and_minimums(&block[4..16]);
            // Both halves of sub-blocks 0..4, then of 4..8.
            let order = _mm_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
            let scales = scales_by_half(_mm_cvtsi64_si128(scales as i64), order);
            let dm = f16x4(&block[..8]);
            let (d, dmin) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
            let minimums = _mm256_mul_ps(
                _mm256_set1_ps(0. - dmin),
                _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(minimums as i64))),
            );
            (scales, d, Some(minimums))
        }
    }
}

/// Q6_K.
struct Q6K;

#[cfg(target_arch = "x86_64")]
impl SuperBlock for Q6K {
    const BYTES: usize = Q6_K_BYTES;

    /// `q6 − 32` and its absolute value.
    type Weights = (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i);

    #[inline(always)]
    unsafe fn quad(block: &[u8], quad: usize) -> [Self::Weights; 4] {
        use std::arch::x86_64::*;
        // SAFETY: reads the quad's 64 bytes of low nibbles (at 64 · quad) and 32 of high bits
        // (at 128 + 32 · quad); AVX2 as documented.
        unsafe {
            let mut w = [(_mm256_setzero_si256(), _mm256_setzero_si256()); 4];
            for (w, q) in w.iter_mut().zip(Q6K::unsigned(block, quad)) {
                let signed = _mm256_sub_epi8(q, _mm256_set1_epi8(32));
                *w = (_mm256_sign_epi8(signed, signed), signed);
            }
            w
        }
    }

    #[inline(always)]
    unsafe fn sums<I: Isa>(
        (w_abs, w): Self::Weights,
        x: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i {
        // SAFETY: as documented; |w| ≤ 32, pairs at most 2 · 32 · 127.
        unsafe { signed_sums::<I>(w_abs, w, x) }
    }

    #[inline(always)]
    unsafe fn scales(block: &[u8]) -> Scales {
        use std::arch::x86_64::*;
        // SAFETY: the sixteen scales are at 192..208, `d` is the last of the last four F16s
        // (eight bytes loaded whole, as in `f16_scale`); AVX2 and F16C as documented.
        unsafe {
            let bytes = _mm_loadu_si128(block[192..208].as_ptr().cast());
            // Scale 2k + h is half h of sub-block k: the first halves of a quad, then the
            // second halves.
            let order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
            let last = f16x4(&block[202..210]);
            (
                scales_by_half(bytes, order),
                _mm_cvtss_f32(_mm_shuffle_ps::<0xFF>(last, last)),
                None,
            )
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Q6K {
    /// The unsigned values `q6` (0..64) of sub-blocks `4 · quad..4 · quad + 4`.
    ///
    /// # Safety
    /// AVX2 is the caller's; `block` is [`Q6_K_BYTES`] long.
    #[inline(always)]
    unsafe fn unsigned(block: &[u8], quad: usize) -> [std::arch::x86_64::__m256i; 4] {
        use std::arch::x86_64::*;
        // SAFETY: reads the quad's 64 bytes of low nibbles (at 64 · quad) and 32 of high bits
        // (at 128 + 32 · quad); AVX2 as documented.
        unsafe {
            let low4 = _mm256_set1_epi8(0x0F);
            let bits45 = _mm256_set1_epi8(0x30);
            let low_at = 64 * quad;
            let high_at = 128 + 32 * quad;
            let a = _mm256_loadu_si256(block[low_at..low_at + 32].as_ptr().cast());
            let b = _mm256_loadu_si256(block[low_at + 32..low_at + 64].as_ptr().cast());
            let h = _mm256_loadu_si256(block[high_at..high_at + 32].as_ptr().cast());
            // Sub-blocks 0..4 of the quad: low nibbles of a, of b, high nibbles of a, of b;
            // their high bits are bits 0-1, 2-3, 4-5, 6-7 of h, moved to bits 4-5.
            [
                _mm256_or_si256(
                    _mm256_and_si256(a, low4),
                    _mm256_and_si256(_mm256_slli_epi16(h, 4), bits45),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(b, low4),
                    _mm256_and_si256(_mm256_slli_epi16(h, 2), bits45),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(a, 4), low4),
                    _mm256_and_si256(h, bits45),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(b, 4), low4),
                    _mm256_and_si256(_mm256_srli_epi16(h, 2), bits45),
                ),
            ]
        }
    }
}

impl<const FIFTH: bool> TileBlocks for SuperBlocks<Q4_5K<FIFTH>> {
    const BYTES: usize = if FIFTH { Q5_K_BYTES } else { Q4_K_BYTES };
    const SUBS: usize = SUBS;
    const OFFSET: i32 = 0;
    const HALVES: bool = false;
    const MINIMUM: Minimum = Minimum::Sum;

    type Decoded = [DecodedBlock; SUBS];

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn decode(blocks: [*const u8; TILE_ROWS]) -> [DecodedBlock; SUBS] {
        use std::arch::x86_64::*;
        // SAFETY: as documented: each block is `BYTES` long.
        unsafe {
            let mut values = [[_mm256_setzero_si256(); SUBS]; TILE_ROWS];
            let mut scales = [_mm256_setzero_si256(); TILE_ROWS];
            let mut minimums = [_mm256_setzero_si256(); TILE_ROWS];
            for r in 0..TILE_ROWS {
                let block = std::slice::from_raw_parts(blocks[r], Self::BYTES);
                let [a, b, c, d] = Q4_5K::<FIFTH>::quad(block, 0);
                let [e, f, g, h] = Q4_5K::<FIFTH>::quad(block, 1);
                values[r] = [a, b, c, d, e, f, g, h];
                // Row r's eight scales and minimums, then (transposed) each sub-block's eight
                // rows'.
                let (s, m) = scales_and_minimums(&block[4..16]);
                scales[r] = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(s as i64));
                minimums[r] = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(m as i64));
            }
            let (d, dmin) = f16_pairs(blocks);
            let minus_dmin = _mm256_sub_ps(_mm256_setzero_ps(), dmin);
            let (scales, minimums) = (transpose(scales), transpose(minimums));
            let mut out = [DecodedBlock::ZERO; SUBS];
            for (k, out) in out.iter_mut().enumerate() {
                *out = DecodedBlock {
                    columns: transpose(sub_block(&values, k)),
                    scale: d,
                    int_scales: [scales[k]; 2],
                    minimums: _mm256_mul_ps(minus_dmin, _mm256_cvtepi32_ps(minimums[k])),
                };
            }
            out
        }
    }
}

impl TileBlocks for SuperBlocks<Q6K> {
    const BYTES: usize = Q6_K_BYTES;
    const SUBS: usize = SUBS;
    const OFFSET: i32 = 32;
    const HALVES: bool = true;
    const MINIMUM: Minimum = Minimum::None;

    type Decoded = [DecodedBlock; SUBS];

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn decode(blocks: [*const u8; TILE_ROWS]) -> [DecodedBlock; SUBS] {
        use std::arch::x86_64::*;
        // SAFETY: as documented: each block is `BYTES` long; `d` is its last two bytes, read
        // with the two before them.
        unsafe {
            let mut values = [[_mm256_setzero_si256(); SUBS]; TILE_ROWS];
            let mut firsts = [_mm256_setzero_si256(); TILE_ROWS];
            let mut seconds = [_mm256_setzero_si256(); TILE_ROWS];
            // Scale 2k + h is half h of sub-block k.
            let first = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
            let second = _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, 0, 0, 0, 0, 0, 0, 0, 0);
            let mut last_words = [std::ptr::null(); TILE_ROWS];
            for r in 0..TILE_ROWS {
                let block = std::slice::from_raw_parts(blocks[r], Self::BYTES);
                let [a, b, c, d] = Q6K::unsigned(block, 0);
                let [e, f, g, h] = Q6K::unsigned(block, 1);
                values[r] = [a, b, c, d, e, f, g, h];
                let bytes = _mm_loadu_si128(block[192..208].as_ptr().cast());
                firsts[r] = _mm256_cvtepi8_epi32(_mm_shuffle_epi8(bytes, first));
                seconds[r] = _mm256_cvtepi8_epi32(_mm_shuffle_epi8(bytes, second));
                last_words[r] = blocks[r].add(Self::BYTES - 4);
            }
            let (_, d) = f16_pairs(last_words);
            let (firsts, seconds) = (transpose(firsts), transpose(seconds));
            let mut out = [DecodedBlock::ZERO; SUBS];
            for (k, out) in out.iter_mut().enumerate() {
                *out = DecodedBlock {
                    columns: transpose(sub_block(&values, k)),
                    scale: d,
                    int_scales: [firsts[k], seconds[k]],
                    minimums: _mm256_setzero_ps(),
                };
            }
            out
        }
    }
}

/// Sub-block `k` of each of the eight rows.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sub_block(
    values: &[[std::arch::x86_64::__m256i; SUBS]; TILE_ROWS],
    k: usize,
) -> [std::arch::x86_64::__m256i; TILE_ROWS] {
    let mut rows = [values[0][k]; TILE_ROWS];
    for (row, values) in rows.iter_mut().zip(values) {
        *row = values[k];
    }
    rows
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::available;
    use crate::quant_matmul::{
        BLOCK, assert_matches_scalar, matmul, pseudo_random, test_inputs, variants,
    };

    /// ggml's `get_scale_min_k4`, byte by byte as the format says.
    fn scale_min(j: usize, q: &[u8]) -> (u8, u8) {
        if j < 4 {
            (q[j] & 63, q[j + 4] & 63)
        } else {
            (
                (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
                (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
            )
        }
    }

    fn f16_at(block: &[u8], at: usize) -> f32 {
        f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
    }

    /// One Q4_K (`fifth`: Q5_K) super-block as ggml's `dequantize_row_q4_K` (`_q5_K`)
    /// computes it: 64 values at a time, two scales and minimums each.
    fn dequantize_q4_5(block: &[u8], fifth: bool) -> Vec<f32> {
        let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
        let scales = &block[4..16];
        let (qh, ql) = if fifth {
            (&block[16..48], &block[48..176])
        } else {
            (&[0u8; 32][..], &block[16..144])
        };
        let mut out = Vec::with_capacity(SUPER_BLOCK);
        let (mut u1, mut u2) = (1u8, 2u8);
        for j in 0..4 {
            let q = &ql[32 * j..32 * j + 32];
            let (sc, m) = scale_min(2 * j, scales);
            let (d1, m1) = (d * f32::from(sc), dmin * f32::from(m));
            let (sc, m) = scale_min(2 * j + 1, scales);
            let (d2, m2) = (d * f32::from(sc), dmin * f32::from(m));
            for l in 0..32 {
                let h = if qh[l] & u1 != 0 { 16. } else { 0. };
                out.push(d1 * (f32::from(q[l] & 0x0F) + h) - m1);
            }
            for l in 0..32 {
                let h = if qh[l] & u2 != 0 { 16. } else { 0. };
                out.push(d2 * (f32::from(q[l] >> 4) + h) - m2);
            }
            u1 <<= 2;
            u2 <<= 2;
        }
        out
    }

    /// One Q6_K super-block as ggml's `dequantize_row_q6_K` computes it: two halves of 128,
    /// four values from each pair of low-nibble bytes and high-bits byte.
    fn dequantize_q6(block: &[u8]) -> Vec<f32> {
        let d = f16_at(block, 208);
        let mut out = vec![0f32; SUPER_BLOCK];
        for half in 0..2 {
            let ql = &block[64 * half..];
            let qh = &block[128 + 32 * half..];
            let sc = &block[192 + 8 * half..];
            let y = &mut out[128 * half..];
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i8 - 32;
                let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
                let scale = |i: usize| f32::from(sc[i] as i8);
                y[l] = d * scale(is) * f32::from(q1);
                y[l + 32] = d * scale(is + 2) * f32::from(q2);
                y[l + 64] = d * scale(is + 4) * f32::from(q3);
                y[l + 96] = d * scale(is + 6) * f32::from(q4);
            }
        }
        out
    }

    /// Q4_K or Q5_K times one activation row, sub-block by sub-block in integers:
    /// `d · scale · d_x · Σ q·q8 − dmin · min · Σ x`.
    fn scalar_dot_q4_5(weights: &[u8], row: &Q8Row, fifth: bool) -> f32 {
        let bytes = if fifth { Q5_K_BYTES } else { Q4_K_BYTES };
        let mut sum = 0f32;
        for (s, block) in weights.chunks_exact(bytes).enumerate() {
            let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
            let nibbles = if fifth { &block[48..] } else { &block[16..] };
            for k in 0..SUBS {
                let (sc, m) = scale_min(k, &block[4..16]);
                let b = s * SUBS + k;
                let mut sumi = 0i32;
                for l in 0..32 {
                    let byte = nibbles[32 * (k / 2) + l];
                    let mut q = i32::from(if k % 2 == 0 { byte & 0x0F } else { byte >> 4 });
                    if fifth && block[16 + l] & (1 << k) != 0 {
                        q += 16;
                    }
                    sumi += q * i32::from(row.qs[b * BLOCK + l]);
                }
                sum +=
                    d * f32::from(sc) * row.d[b] * sumi as f32 - dmin * f32::from(m) * row.sums[b];
            }
        }
        sum
    }

    /// Q6_K times one activation row: each 16 values' integer sum times their scale.
    fn scalar_dot_q6(weights: &[u8], row: &Q8Row) -> f32 {
        let mut sum = 0f32;
        for (s, block) in weights.chunks_exact(Q6_K_BYTES).enumerate() {
            let d = f16_at(block, 208);
            for k in 0..SUBS {
                let (half, j) = (k / 4, k % 4);
                let b = s * SUBS + k;
                let mut sumi = 0i32;
                for l in 0..32 {
                    let low = block[64 * half + 32 * (j % 2) + l];
                    let low = if j < 2 { low & 0x0F } else { low >> 4 };
                    let high = (block[128 + 32 * half + l] >> (2 * j)) & 3;
                    let q = i32::from(low | (high << 4)) - 32;
                    let scale = i32::from(block[192 + 2 * k + l / 16] as i8);
                    sumi += scale * q * i32::from(row.qs[b * BLOCK + l]);
                }
                sum += d * row.d[b] * sumi as f32;
            }
        }
        sum
    }

    /// `rows` × `cols` random super-blocks: random scale bytes, nibbles and bits, F16 scales
    /// between 0.001 and 0.1 (`dmin` too; Q6_K has no `dmin`).
    fn random_matrix(rows: usize, cols: usize, bytes: usize) -> Vec<u8> {
        let mut weights = Vec::new();
        for r in pseudo_random(rows * cols / SUPER_BLOCK, 5) {
            let mut block: Vec<u8> = pseudo_random(bytes, r)
                .into_iter()
                .map(|v| v as u8)
                .collect();
            let d = f16::from_f32(0.001 + (r % 100) as f32 / 1000.).to_le_bytes();
            let dmin = f16::from_f32(0.001 + (r / 100 % 100) as f32 / 1000.).to_le_bytes();
            if bytes == Q6_K_BYTES {
                block[208..210].copy_from_slice(&d);
            } else {
                block[0..2].copy_from_slice(&d);
                block[2..4].copy_from_slice(&dmin);
            }
            weights.extend(block);
        }
        weights
    }

    type Scalar = fn(&[u8], &Q8Row) -> f32;
    type Dequantize = fn(&[u8]) -> Vec<f32>;

    /// Each kind with its scalar product and its dequantisation.
    fn kinds() -> [(&'static BlockKind, Scalar, Dequantize); 3] {
        [
            (
                &Q4_K,
                |w, r| scalar_dot_q4_5(w, r, false),
                |b| dequantize_q4_5(b, false),
            ),
            (
                &Q5_K,
                |w, r| scalar_dot_q4_5(w, r, true),
                |b| dequantize_q4_5(b, true),
            ),
            (&Q6_K, scalar_dot_q6, dequantize_q6),
        ]
    }

    #[test]
    fn products_match_the_scalar_formula_with_tails() {
        if !available() {
            eprintln!("no AVX2 here: nothing to compare");
            return;
        }
        // One super-block, three, nine; 1 to 7 activation rows (four at once and the rest);
        // more weight rows than one task takes (16), not a multiple of it.
        for (kind, scalar, _) in kinds() {
            for (rows, cols, inputs) in [
                (3, 256, 1),
                (7, 768, 5),
                (5, 2304, 6),
                (37, 512, 7),
                (19, 512, 21),
            ] {
                let weights = random_matrix(rows, cols, kind.bytes);
                let x = test_inputs(inputs * cols, 9);
                assert_matches_scalar(kind, &weights, rows, cols, &x, scalar);
            }
        }
    }

    #[test]
    fn the_scalar_formulas_are_the_dequantised_products() {
        for (kind, scalar, dequantize) in kinds() {
            let cols = 768;
            let weights = random_matrix(1, cols, kind.bytes);
            let x = test_inputs(cols, 4);
            let row = Q8Row::new(&x);
            let (mut want, mut magnitude) = (0f64, 0f64);
            for (s, block) in weights.chunks_exact(kind.bytes).enumerate() {
                for (i, w) in dequantize(block).into_iter().enumerate() {
                    let v = s * SUPER_BLOCK + i;
                    let x = row.d[v / BLOCK] * f32::from(row.qs[v]);
                    want += f64::from(w) * f64::from(x);
                    magnitude += f64::from((w * x).abs());
                }
            }
            let have = f64::from(scalar(&weights, &row));
            assert!(
                (have - want).abs() <= 1e-5 * magnitude,
                "{}: {have} vs {want}",
                kind.name
            );
        }
    }

    #[test]
    fn scales_and_minimums_unpack_as_ggml_does() {
        for seed in 0..50 {
            let packed: Vec<u8> = pseudo_random(12, seed)
                .into_iter()
                .map(|v| v as u8)
                .collect();
            let (scales, minimums) = scales_and_minimums(&packed);
            for k in 0..8 {
                let (sc, m) = scale_min(k, &packed);
                assert_eq!((scales >> (8 * k)) as u8, sc, "scale {k} of {packed:?}");
                assert_eq!((minimums >> (8 * k)) as u8, m, "minimum {k} of {packed:?}");
            }
        }
    }

    #[test]
    fn extreme_blocks_do_not_saturate() {
        if !available() {
            return;
        }
        let cols = 512;
        // Activations at ±127 after quantising, in runs that match and oppose the weights'
        // signs.
        let inputs: Vec<Vec<f32>> = vec![
            vec![1.0; cols],
            vec![-1.0; cols],
            (0..cols)
                .map(|i| if i % 32 < 16 { 1.0 } else { -1.0 })
                .collect(),
        ];
        for (kind, scalar, dequantize) in kinds() {
            // Every bit set: the largest values (15, 31, 63 − 32) and scales (63 and minimums
            // 63; Q6_K's scales −1); then every bit clear but the scales at their extremes.
            let mut full = vec![0xFF; kind.bytes];
            let mut empty = vec![0u8; kind.bytes];
            if kind.bytes == Q6_K_BYTES {
                full[208..210].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
                // q6 − 32 = −32 everywhere, scales −128 and 127 alternately.
                for (i, s) in empty[192..208].iter_mut().enumerate() {
                    *s = if i % 2 == 0 { 0x80 } else { 0x7F };
                }
                empty[208..210].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
            } else {
                full[0..4].copy_from_slice(&[0x00, 0x3C, 0x00, 0x3C]);
                empty[0..4].copy_from_slice(&[0x00, 0x3C, 0x00, 0x3C]);
                empty[4..16].fill(0xFF);
            }
            for block in [full, empty] {
                let weights = [block.clone(), block].concat();
                for x in &inputs {
                    // Products this large cancel (Q6_K's scales −128 and 127): the tolerance
                    // is relative to the sum of their magnitudes.
                    let row = Q8Row::new(x);
                    let want = scalar(&weights, &row);
                    let magnitude: f32 = weights
                        .chunks_exact(kind.bytes)
                        .flat_map(dequantize)
                        .enumerate()
                        .map(|(i, w)| (w * row.d[i / BLOCK] * f32::from(row.qs[i])).abs())
                        .sum();
                    for variant in variants(kind) {
                        let got = matmul(&variant, &weights, 1, cols, x).unwrap()[0];
                        assert!(
                            (got - want).abs() <= 1e-6 * magnitude,
                            "{}: {got} vs {want} ({magnitude})",
                            kind.name
                        );
                    }
                }
            }
        }
        // All-ones activations through Q6_K's empty block: −32 · (−128 + 127) · 16 per
        // sub-block.
        let mut empty = vec![0u8; Q6_K_BYTES];
        for (i, s) in empty[192..208].iter_mut().enumerate() {
            *s = if i % 2 == 0 { 0x80 } else { 0x7F };
        }
        empty[208..210].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        for variant in variants(&Q6_K) {
            let got = matmul(&variant, &empty, 1, 256, &[1.0; 256]).unwrap();
            assert!((got[0] - 32.0 * 16.0 * 8.0).abs() < 2.0, "{}", got[0]);
        }
    }

    #[test]
    fn rows_must_be_whole_super_blocks() {
        if !available() {
            return;
        }
        for kind in [&Q4_K, &Q5_K, &Q6_K] {
            let bytes = vec![0u8; 2 * kind.bytes];
            // 512 values are two super-blocks; 480 (fifteen Q8 blocks) is not a whole number.
            assert!(matmul(kind, &bytes, 1, 512, &[0.; 512]).is_ok());
            assert!(matmul(kind, &bytes, 2, 256, &[0.; 256]).is_ok());
            assert!(matmul(kind, &bytes[..kind.bytes * 2 - 1], 1, 512, &[0.; 512]).is_err());
            assert!(matmul(kind, &bytes, 1, 480, &[0.; 480]).is_err());
            assert!(matmul(kind, &bytes[..kind.bytes], 1, 128, &[0.; 128]).is_err());
            assert!(matmul(kind, &bytes, 1, 512, &[0.; 500]).is_err());
        }
    }
}
