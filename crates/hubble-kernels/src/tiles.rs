//! Products on AVX-512 VNNI eight weight rows at a time, for every GGUF type Hubble multiplies:
//! each 32-value block of the eight rows is decoded to unsigned bytes and transposed (register
//! `j` holds bytes `4j..4j + 4` of every row), so that one `vpdpbusd` against four activation
//! bytes broadcast to every lane sums the eight rows' products at once, lane `r` for row `r`. A
//! block's eight integer sums are then converted and scaled by one vector, where a row at a
//! time needed a conversion, a scaling and a horizontal sum per row. The K-quants' super-blocks
//! decode to eight such blocks, each with its rows' integer scales and minimums. For a prompt
//! the tile is decoded once into a buffer and read back for every activation row, four at a
//! time: what llama.cpp's repacked weights buy, without repacking (GGUF's blocks are read as
//! stored and the model holds no second copy).
//!
//! Every activation row's products go through the same operations in the same order whether it
//! comes alone (a decode step) or among others (a prompt), and so do the rows of a last,
//! partial tile (the missing rows repeat the last one, their products dropped): a token's
//! products never depend on its neighbours.

use crate::quant_matmul::{BLOCK, Block32, Kernel, Q8Row, with_vnni};
#[cfg(target_arch = "x86_64")]
use crate::quant_matmul::{Blocks, blocks_of};

/// Weight rows per tile: one `vpdpbusd` lane each.
pub(crate) const TILE_ROWS: usize = 8;

/// Eight weight rows (`TILE_ROWS`) times `A` activation rows: `[a][r]` is row `r` times
/// activation `a`.
type Tile<const A: usize> = unsafe fn([&[u8]; TILE_ROWS], [&Q8Row; A]) -> [[f32; TILE_ROWS]; A];

/// The same from a tile decoded beforehand ([`DecodedBlock`]s).
type FromDecoded<const A: usize> = unsafe fn(&[DecodedBlock], [&Q8Row; A]) -> [[f32; TILE_ROWS]; A];

/// A type's tile products: decoding as it goes for fewer than four activation rows (a decode
/// step), decoding the tile once into a buffer for more (a prompt).
#[derive(Clone, Copy)]
pub(crate) struct Tiles {
    one: Tile<1>,
    decode: unsafe fn([&[u8]; TILE_ROWS], &mut Vec<DecodedBlock>),
    four: FromDecoded<4>,
    decoded_one: FromDecoded<1>,
}

impl Tiles {
    /// `K`'s tiles. A decode step decodes each block of eight rows for one activation row
    /// only, which pays for the 32-value types (a transpose per block) but not for the
    /// K-quants (ten per super-block): theirs goes row by row ([`rows_tile`]), whose
    /// arithmetic the tiles follow.
    pub(crate) const fn of<K: Kernel + TileBlocks>() -> Tiles {
        Tiles {
            one: if K::SUBS == 1 {
                tile::<K, 1>
            } else {
                rows_tile::<K>
            },
            decode: decode_tile::<K>,
            four: from_decoded::<K, 4>,
            decoded_one: from_decoded::<K, 1>,
        }
    }
}

/// One 32-value block of eight weight rows, decoded: its values transposed, its scales and
/// minimums.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct DecodedBlock {
    /// Word `r` of column `j`: bytes `4j..4j + 4` of row `r`'s unsigned values.
    pub(crate) columns: [std::arch::x86_64::__m256i; 8],
    /// Each row's scale: of the block (the 32-value types); of the super-block, `d` (the
    /// K-quants, whose sub-blocks' integer scales are `int_scales`).
    pub(crate) scale: std::arch::x86_64::__m256,
    /// The K-quants' integer scales of values 0..16 and 16..32 of each row (the same but for
    /// Q6_K).
    pub(crate) int_scales: [std::arch::x86_64::__m256i; 2],
    /// Each row's minimum, times the activations' sum ([`Minimum`]; the K-quants' is
    /// `−dmin · min_k`); zeros for the types without.
    pub(crate) minimums: std::arch::x86_64::__m256,
}

#[cfg(target_arch = "x86_64")]
impl DecodedBlock {
    /// All zeros, to be overwritten.
    // SAFETY: vectors of zeros are valid values.
    pub(crate) const ZERO: DecodedBlock = unsafe { std::mem::zeroed() };
}

#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub(crate) struct DecodedBlock;

/// Which sum of the activations a type's minimums multiply.
#[derive(PartialEq, Eq)]
pub(crate) enum Minimum {
    /// No minimum.
    None,
    /// candle's Q8_1 sum, rounded through F16 ([`Q8Row::s`]): Q4_1, Q5_1.
    F16Sum,
    /// The dequantised activations' F32 sum ([`Q8Row::sums`]): the K-quants.
    Sum,
}

/// A block type as eight rows' unsigned bytes: a weight is `scale · (u − OFFSET)`, plus its
/// block's minimum where it has one.
pub(crate) trait TileBlocks {
    /// Bytes per block (per super-block for the K-quants).
    const BYTES: usize;
    /// 32-value blocks per block: 1, or 8 for the K-quants.
    const SUBS: usize;
    /// What the unsigned values are offset by (8 for Q4_0, 16 for Q5_0, 32 for Q6_K, 128 for
    /// Q8_0), or 0.
    const OFFSET: i32;
    /// Whether each half of a 32-value block has its own integer scale (Q6_K).
    const HALVES: bool;
    /// What the minimums multiply.
    const MINIMUM: Minimum;

    /// The decoded 32-value blocks of a block of eight rows: `[DecodedBlock; SUBS]`.
    type Decoded: AsRef<[DecodedBlock]>;

    /// Block `blocks[r]` of each row `r`, decoded.
    ///
    /// # Safety
    /// Each pointer starts [`BYTES`](TileBlocks::BYTES) readable bytes; AVX2, FMA, F16C and
    /// AVX-512 VL and BW are the caller's.
    #[cfg(target_arch = "x86_64")]
    unsafe fn decode(blocks: [*const u8; TILE_ROWS]) -> Self::Decoded;
}

/// [`Block32::columns`] for 16 bytes of nibbles `at` bytes into each block (Q4_0, Q4_1):
/// the packed bytes are transposed first, four words per row, and each word's low nibbles are
/// then values `4j..4j + 4` (column `j`), its high nibbles values `16 + 4j..` (column `4 + j`),
/// a third of the work of decoding each row and transposing the values.
///
/// # Safety
/// Each pointer starts a block with 16 readable bytes `at` bytes in; AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn nibble_columns(
    blocks: [*const u8; TILE_ROWS],
    at: usize,
) -> [std::arch::x86_64::__m256i; 8] {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        let packed = |r: usize| blocks[r].add(at).cast::<__m128i>();
        // Rows r and r + 4 side by side (low and high 128-bit lanes).
        let p0 = _mm256_loadu2_m128i(packed(4), packed(0));
        let p1 = _mm256_loadu2_m128i(packed(5), packed(1));
        let p2 = _mm256_loadu2_m128i(packed(6), packed(2));
        let p3 = _mm256_loadu2_m128i(packed(7), packed(3));
        let (a0, a1) = (_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
        let (a2, a3) = (_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
        // Word j of rows 0..4 in the low lane, of rows 4..8 in the high one.
        let words = [
            _mm256_unpacklo_epi64(a0, a2),
            _mm256_unpackhi_epi64(a0, a2),
            _mm256_unpacklo_epi64(a1, a3),
            _mm256_unpackhi_epi64(a1, a3),
        ];
        let nibble = _mm256_set1_epi8(0x0F);
        let mut columns = [_mm256_setzero_si256(); 8];
        for (j, word) in words.into_iter().enumerate() {
            columns[j] = _mm256_and_si256(word, nibble);
            columns[j + 4] = _mm256_and_si256(_mm256_srli_epi16(word, 4), nibble);
        }
        columns
    }
}

impl<K: Block32> TileBlocks for K {
    const BYTES: usize = K::BYTES;
    const SUBS: usize = 1;
    const OFFSET: i32 = K::OFFSET;
    const HALVES: bool = false;
    const MINIMUM: Minimum = if K::MINIMUM {
        Minimum::F16Sum
    } else {
        Minimum::None
    };

    type Decoded = [DecodedBlock; 1];

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn decode(blocks: [*const u8; TILE_ROWS]) -> [DecodedBlock; 1] {
        use std::arch::x86_64::*;
        // SAFETY: as documented.
        unsafe {
            let (scales, minimums) = f16_pairs(blocks);
            [DecodedBlock {
                columns: K::columns(blocks),
                scale: scales,
                int_scales: [_mm256_setzero_si256(); 2],
                minimums: if K::MINIMUM {
                    minimums
                } else {
                    _mm256_setzero_ps()
                },
            }]
        }
    }
}

/// `weights` (`rows` rows of `row_bytes`) times every row of `quantised`, `[r * inputs + i]` for
/// weight row `r` and input `i`, eight weight rows at a time (the missing rows of a last tile
/// repeat its last row).
pub(crate) fn matmul_tiled(
    tiles: &Tiles,
    weights: &[u8],
    row_bytes: usize,
    quantised: &[Q8Row],
    out: &mut [f32],
) {
    let inputs = quantised.len();
    let rows = weights.len() / row_bytes;
    let row_at = |r: usize| &weights[r.min(rows - 1) * row_bytes..][..row_bytes];
    let mut decoded = Vec::new();
    for first in (0..rows).step_by(TILE_ROWS) {
        let tile: [&[u8]; TILE_ROWS] = std::array::from_fn(|r| row_at(first + r));
        let mut write = |i: usize, products: &[[f32; TILE_ROWS]]| {
            for (i, products) in (i..).zip(products) {
                for (r, p) in products.iter().enumerate().take(rows - first) {
                    out[(first + r) * inputs + i] = *p;
                }
            }
        };
        // SAFETY (each call): `tiles` are only chosen where AVX-512 VNNI, VL and BW, AVX2,
        // FMA and F16C are present (`BlockKind::products`).
        if inputs < 4 {
            for (i, x) in quantised.iter().enumerate() {
                write(i, &unsafe { (tiles.one)(tile, [x]) });
            }
            continue;
        }
        unsafe { (tiles.decode)(tile, &mut decoded) };
        let fours = inputs / 4 * 4;
        for (g, xs) in quantised[..fours].chunks_exact(4).enumerate() {
            let xs = [&xs[0], &xs[1], &xs[2], &xs[3]];
            write(4 * g, &unsafe { (tiles.four)(&decoded, xs) });
        }
        for (i, x) in quantised.iter().enumerate().skip(fours) {
            write(i, &unsafe { (tiles.decoded_one)(&decoded, [x]) });
        }
    }
}

/// One tile of `K`, each block of the eight rows decoded for the `A` activation rows.
///
/// # Safety
/// AVX2, FMA, F16C and AVX-512 VNNI, VL and BW are the caller's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl,avx512bw")]
unsafe fn tile<K: TileBlocks, const A: usize>(
    rows: [&[u8]; TILE_ROWS],
    xs: [&Q8Row; A],
) -> [[f32; TILE_ROWS]; A] {
    let blocks = checked_blocks::<K>(&rows);
    let xs = blocks_of(xs, blocks * K::SUBS);
    // SAFETY: every block index is below `blocks`, the count checked for the rows, and every
    // 32-value block's below the count checked for `xs`; the instruction sets are the
    // caller's.
    unsafe {
        let mut acc = [[std::arch::x86_64::_mm256_setzero_ps(); 8]; A];
        for b in 0..blocks {
            prefetch_next_tile::<K>(&rows, b);
            let decoded = K::decode(block_pointers::<K>(&rows, b));
            accumulate::<K, A>(decoded.as_ref(), &xs, b * K::SUBS, &mut acc);
        }
        finish::<K, A>(acc)
    }
}

/// Every block of a tile of `K` decoded into `out` (cleared first).
///
/// # Safety
/// AVX2, FMA, F16C and AVX-512 VL and BW are the caller's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl,avx512bw")]
unsafe fn decode_tile<K: TileBlocks>(rows: [&[u8]; TILE_ROWS], out: &mut Vec<DecodedBlock>) {
    let blocks = checked_blocks::<K>(&rows);
    out.clear();
    out.reserve(blocks * K::SUBS);
    for b in 0..blocks {
        prefetch_next_tile::<K>(&rows, b);
        // SAFETY: every block index is below the count checked for the rows.
        out.extend_from_slice(unsafe { K::decode(block_pointers::<K>(&rows, b)) }.as_ref());
    }
}

/// A tile decoded by [`decode_tile`] times `A` activation rows.
///
/// # Safety
/// AVX2, FMA and AVX-512 VNNI and VL are the caller's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl,avx512bw")]
unsafe fn from_decoded<K: TileBlocks, const A: usize>(
    decoded: &[DecodedBlock],
    xs: [&Q8Row; A],
) -> [[f32; TILE_ROWS]; A] {
    let xs = blocks_of(xs, decoded.len());
    // SAFETY: every block index is below the count checked for `xs`; the instruction sets
    // are the caller's.
    unsafe {
        let mut acc = [[std::arch::x86_64::_mm256_setzero_ps(); 8]; A];
        for (b, blocks) in decoded.chunks_exact(K::SUBS).enumerate() {
            accumulate::<K, A>(blocks, &xs, b * K::SUBS, &mut acc);
        }
        finish::<K, A>(acc)
    }
}

/// The blocks per row of a tile of `K`, after checking that its rows hold whole blocks and
/// are equally long.
fn checked_blocks<K: TileBlocks>(rows: &[&[u8]; TILE_ROWS]) -> usize {
    let row_bytes = rows[0].len();
    assert!(
        row_bytes.is_multiple_of(K::BYTES) && rows.iter().all(|r| r.len() == row_bytes),
        "a tile's rows differ in length"
    );
    row_bytes / K::BYTES
}

/// Asks for block `b` of the rows two tiles on into the L2 cache (past the last tile, addresses
/// that are never read). The rows of a tile are read side by side, a block of each in turn,
/// which the hardware prefetchers do not follow as they follow one ascending stream: a matrix
/// streamed from memory (a decode step reads the whole model) ran at 40 % of the row-by-row
/// products' speed without this, and at 60 % when prefetching into L1.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_next_tile<K: TileBlocks>(rows: &[&[u8]; TILE_ROWS], b: usize) {
    use std::arch::x86_64::*;
    let next = 2 * TILE_ROWS * rows[0].len() + b * K::BYTES;
    for row in rows {
        // SAFETY: prefetching reads nothing and never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(row.as_ptr().wrapping_add(next).cast()) };
    }
}

/// Where block `b` of each row starts.
///
/// # Safety
/// Each row holds more than `b` blocks.
#[inline(always)]
unsafe fn block_pointers<K: TileBlocks>(
    rows: &[&[u8]; TILE_ROWS],
    b: usize,
) -> [*const u8; TILE_ROWS] {
    let mut blocks = [std::ptr::null(); TILE_ROWS];
    for (block, row) in blocks.iter_mut().zip(rows) {
        // SAFETY: as documented.
        *block = unsafe { row.as_ptr().add(b * K::BYTES) };
    }
    blocks
}

/// Adds one block of the eight rows (its [`TileBlocks::SUBS`] 32-value blocks, the first
/// meeting activation block `first`) times each activation row to `acc`: the arithmetic of
/// every product, whichever path calls it. The 32-value types sum into `acc[a][0]`; the
/// K-quants into `acc[a][k]` for sub-block `k`, as their row products sum into lane `k`
/// (`k_quants.rs`, `dot_k`), summed up by [`finish`].
///
/// # Safety
/// `first + K::SUBS` is at most the count checked for `xs`; AVX2, FMA and AVX-512 VNNI and VL
/// are the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn accumulate<K: TileBlocks, const A: usize>(
    blocks: &[DecodedBlock],
    xs: &[Blocks; A],
    first: usize,
    acc: &mut [[std::arch::x86_64::__m256; 8]; A],
) {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        if K::SUBS == 1 {
            let (block, b) = (&blocks[0], first);
            for a in 0..A {
                let [low, high] = integer_sums::<K>(block, xs[a], b);
                let sums = _mm256_cvtepi32_ps(_mm256_add_epi32(low, high));
                let d = _mm256_set1_ps(xs[a].d(b));
                let acc = &mut acc[a][0];
                *acc = _mm256_fmadd_ps(sums, _mm256_mul_ps(block.scale, d), *acc);
                if K::MINIMUM == Minimum::F16Sum {
                    let s = _mm256_set1_ps(xs[a].s(b));
                    *acc = _mm256_fmadd_ps(block.minimums, s, *acc);
                }
            }
            return;
        }
        // The K-quants: each sub-block's integer sum times its integer scale, converted,
        // times `d · d_x`, plus `−dmin · min_k · Σ x`. Sub-blocks outside, activation rows
        // inside: each sub-block's columns are loaded once.
        for (k, block) in blocks.iter().enumerate() {
            let b = first + k;
            for a in 0..A {
                let [low, high] = integer_sums::<K>(block, xs[a], b);
                let sums = if K::HALVES {
                    _mm256_add_epi32(
                        _mm256_mullo_epi32(low, block.int_scales[0]),
                        _mm256_mullo_epi32(high, block.int_scales[1]),
                    )
                } else {
                    _mm256_mullo_epi32(_mm256_add_epi32(low, high), block.int_scales[0])
                };
                let sums = _mm256_cvtepi32_ps(sums);
                let factors = _mm256_mul_ps(block.scale, _mm256_set1_ps(xs[a].d(b)));
                let term = if K::MINIMUM == Minimum::Sum {
                    let offsets = _mm256_mul_ps(block.minimums, _mm256_set1_ps(xs[a].sum(b)));
                    _mm256_fmadd_ps(sums, factors, offsets)
                } else {
                    _mm256_mul_ps(sums, factors)
                };
                acc[a][k] = _mm256_add_ps(acc[a][k], term);
            }
        }
    }
}

/// Each activation row's products (lane `r`, row `r`) from [`accumulate`]'s sums: the
/// K-quants' eight per sub-block summed as `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`,
/// the order in which their row products sum their lanes.
///
/// # Safety
/// AVX is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn finish<K: TileBlocks, const A: usize>(
    acc: [[std::arch::x86_64::__m256; 8]; A],
) -> [[f32; TILE_ROWS]; A] {
    use std::arch::x86_64::*;
    let mut out = [[0f32; TILE_ROWS]; A];
    for (out, acc) in out.iter_mut().zip(acc) {
        // SAFETY: `out` holds eight floats; AVX is the caller's.
        unsafe {
            let sum = if K::SUBS == 1 {
                acc[0]
            } else {
                let [s0, s1, s2, s3, s4, s5, s6, s7] = acc;
                let low = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
                let high = _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7));
                _mm256_add_ps(low, high)
            };
            _mm256_storeu_ps(out.as_mut_ptr(), sum);
        }
    }
    out
}

/// The integer products of block `b` of the eight rows with block `b` of `x`, per half of the
/// values (lane `r`, row `r`): two chains of four `vpdpbusd`s (the latency of one chain of
/// eight would bound a lone activation row), started from the offset's products (per half
/// where [`TileBlocks::HALVES`], else all in the first).
///
/// # Safety
/// `b` is below the count checked for `x`; AVX2 and AVX-512 VNNI and VL are the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn integer_sums<K: TileBlocks>(
    block: &DecodedBlock,
    x: Blocks,
    b: usize,
) -> [std::arch::x86_64::__m256i; 2] {
    use std::arch::x86_64::*;
    // SAFETY: as documented.
    unsafe {
        let values = x.values_ptr(b).cast::<i32>();
        let [first, second] = x.half_sums(b);
        let (mut low, mut high) = if K::HALVES {
            (
                _mm256_set1_epi32(-K::OFFSET * first),
                _mm256_set1_epi32(-K::OFFSET * second),
            )
        } else {
            (
                _mm256_set1_epi32(-K::OFFSET * (first + second)),
                _mm256_setzero_si256(),
            )
        };
        for j in 0..BLOCK / 8 {
            let (x0, x1) = (
                values.add(j).read_unaligned(),
                values.add(j + 4).read_unaligned(),
            );
            low = _mm256_dpbusd_epi32(low, block.columns[j], _mm256_set1_epi32(x0));
            high = _mm256_dpbusd_epi32(high, block.columns[j + 4], _mm256_set1_epi32(x1));
        }
        [low, high]
    }
}

/// Eight weight rows times one activation row by the row products on VNNI (the K-quants'
/// decode steps).
///
/// # Safety
/// AVX2, FMA, F16C and AVX-512 VNNI, VL and BW are the caller's.
unsafe fn rows_tile<K: Kernel>(rows: [&[u8]; TILE_ROWS], xs: [&Q8Row; 1]) -> [[f32; TILE_ROWS]; 1] {
    let mut out = [0f32; TILE_ROWS];
    for (out, row) in out.iter_mut().zip(rows) {
        // SAFETY: as documented.
        [*out] = unsafe { with_vnni::<K, 1>(row, xs) };
    }
    [out]
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<K: TileBlocks, const A: usize>(
    _: [&[u8]; TILE_ROWS],
    _: [&Q8Row; A],
) -> [[f32; TILE_ROWS]; A] {
    unreachable!("matmul refuses to run without AVX2")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn decode_tile<K: TileBlocks>(_: [&[u8]; TILE_ROWS], _: &mut Vec<DecodedBlock>) {
    unreachable!("matmul refuses to run without AVX2")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn from_decoded<K: TileBlocks, const A: usize>(
    _: &[DecodedBlock],
    _: [&Q8Row; A],
) -> [[f32; TILE_ROWS]; A] {
    unreachable!("matmul refuses to run without AVX2")
}

/// Each of eight blocks' first two F16s (its scale, and its minimum where it has one), widened:
/// eight scales, eight second values.
///
/// # Safety
/// Each block holds four bytes; AVX, F16C and AVX-512 VL are the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn f16_pairs(
    blocks: [*const u8; TILE_ROWS],
) -> (std::arch::x86_64::__m256, std::arch::x86_64::__m256) {
    use std::arch::x86_64::*;
    // SAFETY: as documented. Words inserted one by one, not eight stored then loaded as one
    // vector, which stalls the load until the stores retire.
    unsafe {
        let word = |r: usize| blocks[r].cast::<i32>().read_unaligned();
        let pairs = _mm256_setr_epi32(
            word(0),
            word(1),
            word(2),
            word(3),
            word(4),
            word(5),
            word(6),
            word(7),
        );
        (
            _mm256_cvtph_ps(_mm256_cvtepi32_epi16(pairs)),
            _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32::<16>(pairs))),
        )
    }
}

/// The 8 × 8 matrix of 32-bit words transposed: word `j` of row `r` becomes word `r` of
/// `j`.
///
/// # Safety
/// AVX2 is the caller's.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn transpose(
    rows: [std::arch::x86_64::__m256i; 8],
) -> [std::arch::x86_64::__m256i; 8] {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 is the caller's.
    unsafe {
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
        // Pairs of rows interleaved by words, then by double words: each 128-bit half then holds
        // one column's word of four rows; the halves of rows 0–3 and 4–7 are paired last.
        let (a0, a1) = (_mm256_unpacklo_epi32(r0, r1), _mm256_unpackhi_epi32(r0, r1));
        let (a2, a3) = (_mm256_unpacklo_epi32(r2, r3), _mm256_unpackhi_epi32(r2, r3));
        let (a4, a5) = (_mm256_unpacklo_epi32(r4, r5), _mm256_unpackhi_epi32(r4, r5));
        let (a6, a7) = (_mm256_unpacklo_epi32(r6, r7), _mm256_unpackhi_epi32(r6, r7));
        let (b0, b1) = (_mm256_unpacklo_epi64(a0, a2), _mm256_unpackhi_epi64(a0, a2));
        let (b2, b3) = (_mm256_unpacklo_epi64(a1, a3), _mm256_unpackhi_epi64(a1, a3));
        let (b4, b5) = (_mm256_unpacklo_epi64(a4, a6), _mm256_unpackhi_epi64(a4, a6));
        let (b6, b7) = (_mm256_unpacklo_epi64(a5, a7), _mm256_unpackhi_epi64(a5, a7));
        [
            _mm256_permute2x128_si256::<0x20>(b0, b4),
            _mm256_permute2x128_si256::<0x20>(b1, b5),
            _mm256_permute2x128_si256::<0x20>(b2, b6),
            _mm256_permute2x128_si256::<0x20>(b3, b7),
            _mm256_permute2x128_si256::<0x31>(b0, b4),
            _mm256_permute2x128_si256::<0x31>(b1, b5),
            _mm256_permute2x128_si256::<0x31>(b2, b6),
            _mm256_permute2x128_si256::<0x31>(b3, b7),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposing_moves_word_j_of_row_r_to_word_r_of_row_j() {
        if !crate::available() {
            return;
        }
        #[target_feature(enable = "avx2")]
        unsafe fn check() {
            use std::arch::x86_64::*;
            // SAFETY: AVX2 is this function's; each array holds eight words.
            unsafe {
                let rows = std::array::from_fn(|r| {
                    let words: [i32; 8] = std::array::from_fn(|j| (10 * r + j) as i32);
                    _mm256_loadu_si256(words.as_ptr().cast())
                });
                for (j, column) in transpose(rows).into_iter().enumerate() {
                    let mut words = [0i32; 8];
                    _mm256_storeu_si256(words.as_mut_ptr().cast(), column);
                    let want: [i32; 8] = std::array::from_fn(|r| (10 * r + j) as i32);
                    assert_eq!(words, want, "column {j}");
                }
            }
        }
        // SAFETY: checked above.
        unsafe { check() }
    }
}
