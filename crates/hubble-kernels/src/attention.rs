//! Causal attention over a layer's KV cache on the CPU, for Hubble's GGUF decoders.
//!
//! The cache ([`KvCache`]) is position-major (`[position][kv_head][head_dim]`), so appending a
//! position writes at the end and nothing is ever moved, and it holds F16 or F32
//! ([`CacheElement`]). [`attend`] reads it in place: each task widens one KV head's visible keys
//! (transposed, so a query's scores over many keys accumulate in SIMD lanes) and values for a
//! run of queries, and every query head of the group attends through them. No key or value is
//! repeated per query head, nothing is widened for the whole cache at once, and no matrix
//! library's packing buffers are needed.
//!
//! Every sum runs in one fixed order (over the head dimension for a score, over positions for an
//! output), so the result does not depend on the CPU's vector width or on how many threads run
//! it; CPUs with FMA fuse each product into its sum (one rounding instead of two).

pub use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use crate::ShapeError;

/// Queries per task in a prompt pass: each task widens its KV head's keys and values once for
/// these many queries.
const QUERIES_PER_TASK: usize = 16;

/// A type the cache stores keys and values as.
pub trait CacheElement: Copy + Default + Send + Sync {
    /// Stores `src` (F32) into `dst`, rounding to nearest.
    fn store(src: &[f32], dst: &mut [Self]);
    /// Widens `src` into `dst` (F32).
    fn load(src: &[Self], dst: &mut [f32]);
}

impl CacheElement for f32 {
    fn store(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }

    fn load(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
}

impl CacheElement for f16 {
    fn store(src: &[f32], dst: &mut [f16]) {
        dst.convert_from_f32_slice(src);
    }

    fn load(src: &[f16], dst: &mut [f32]) {
        src.convert_to_f32_slice(dst);
    }
}

/// One layer's cached keys and values, position-major: `[position][kv_head][head_dim]` each.
pub struct KvCache<T> {
    kv_heads: usize,
    head_dim: usize,
    keys: Vec<T>,
    values: Vec<T>,
}

impl<T: CacheElement> KvCache<T> {
    /// An empty cache for `kv_heads` heads of `head_dim` values, with room for `positions`
    /// positions ([`KvCache::clear`]).
    pub fn new(kv_heads: usize, head_dim: usize, positions: usize) -> KvCache<T> {
        let mut cache = KvCache {
            kv_heads,
            head_dim,
            keys: Vec::new(),
            values: Vec::new(),
        };
        cache.clear(positions);
        cache
    }

    /// Values per position (all KV heads).
    fn row(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// The number of positions cached.
    pub fn len(&self) -> usize {
        self.keys.len() / self.row().max(1)
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Forgets every cached position, keeping the room, and makes room for `positions` in all
    /// if there is less, so that a generation of known length never reallocates. Room that is
    /// never written is never touched, so it costs address space, not memory; where even that
    /// is refused, the cache grows as positions arrive instead.
    pub fn clear(&mut self, positions: usize) {
        let want = positions.saturating_mul(self.row());
        for store in [&mut self.keys, &mut self.values] {
            store.clear();
            // Best effort: a refusal only means growing later.
            let _ = store.try_reserve_exact(want);
        }
    }

    /// Appends `seq` positions whose keys and values come head-major, `[kv_head][seq][head_dim]`
    /// (the layout of a contiguous `(1, kv_heads, seq, head_dim)` tensor).
    pub fn append(&mut self, keys: &[f32], values: &[f32]) -> Result<(), ShapeError> {
        let row = self.row();
        if row == 0 || keys.len() != values.len() || !keys.len().is_multiple_of(row) {
            return Err(ShapeError(format!(
                "{} keys and {} values are not whole positions of {} KV heads × {}",
                keys.len(),
                values.len(),
                self.kv_heads,
                self.head_dim
            )));
        }
        let seq = keys.len() / row;
        let d = self.head_dim;
        for (store, src) in [(&mut self.keys, keys), (&mut self.values, values)] {
            store.reserve(keys.len());
            for t in 0..seq {
                for g in 0..self.kv_heads {
                    let start = store.len();
                    store.resize(start + d, T::default());
                    let from = (g * seq + t) * d;
                    T::store(&src[from..from + d], &mut store[start..]);
                }
            }
        }
        Ok(())
    }

    /// KV head `g`'s key (or value) at `position`.
    fn at<'a>(&self, store: &'a [T], position: usize, g: usize) -> &'a [T] {
        let start = (position * self.kv_heads + g) * self.head_dim;
        &store[start..start + self.head_dim]
    }
}

/// The shape of one attention pass.
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    /// Query heads (a multiple of the cache's KV heads: each KV head serves a group of them).
    pub heads: usize,
    /// The position of the first query; the cache holds its keys and values and every earlier
    /// one.
    pub pos: usize,
    /// Sliding window: a query at position `p` sees keys `p + 1 - window ..= p`; `None` for all
    /// keys up to `p`.
    pub window: Option<usize>,
    /// What each score `q·k` is multiplied by.
    pub scale: f32,
}

/// Queries `q` (head-major, `[head][seq][head_dim]`) attending causally over `cache`: softmax
/// of the scaled scores, then the weighted sum of the values. Returns `[seq][head][head_dim]`,
/// the layout of a `(1, seq, heads * head_dim)` tensor.
pub fn attend<T: CacheElement>(
    cache: &KvCache<T>,
    q: &[f32],
    pass: Pass,
) -> Result<Vec<f32>, ShapeError> {
    let (kv_heads, d) = (cache.kv_heads, cache.head_dim);
    let per_position = pass.heads * d;
    if kv_heads == 0
        || d == 0
        || !pass.heads.is_multiple_of(kv_heads)
        || pass.heads == 0
        || !q.len().is_multiple_of(per_position)
        || pass.window == Some(0)
    {
        return Err(ShapeError(format!(
            "{} queries do not fit {} heads over {kv_heads} KV heads × {d}",
            q.len(),
            pass.heads
        )));
    }
    let seq = q.len() / per_position;
    if pass.pos + seq > cache.len() {
        return Err(ShapeError(format!(
            "queries at positions {}..{} but {} positions cached",
            pass.pos,
            pass.pos + seq,
            cache.len()
        )));
    }
    let tasks: Vec<(usize, usize)> = (0..kv_heads)
        .flat_map(|g| (0..seq).step_by(QUERIES_PER_TASK).map(move |i| (g, i)))
        .collect();
    let done: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(g, first)| {
            let queries = first..(first + QUERIES_PER_TASK).min(seq);
            run_task(cache, q, seq, pass, g, queries)
        })
        .collect();
    let group = pass.heads / kv_heads;
    let mut out = vec![0f32; q.len()];
    for (&(g, first), part) in tasks.iter().zip(&done) {
        // `part` is `[query][head of the group][head_dim]`.
        for (i, heads) in part.chunks_exact(group * d).enumerate() {
            let start = (first + i) * per_position + g * group * d;
            out[start..start + group * d].copy_from_slice(heads);
        }
    }
    Ok(out)
}

/// The keys visible to a query at `position`: `lo..position + 1`.
fn first_visible(position: usize, window: Option<usize>) -> usize {
    window.map_or(0, |w| (position + 1).saturating_sub(w))
}

/// KV head `g`'s query heads for `queries`: `[query][head of the group][head_dim]`.
fn run_task<T: CacheElement>(
    cache: &KvCache<T>,
    q: &[f32],
    seq: usize,
    pass: Pass,
    g: usize,
    queries: std::ops::Range<usize>,
) -> Vec<f32> {
    let d = cache.head_dim;
    let lo = first_visible(pass.pos + queries.start, pass.window);
    let widened = Widened::new(cache, g, lo, pass.pos + queries.end);
    let group = pass.heads / cache.kv_heads;
    let mut out = vec![0f32; queries.len() * group * d];
    let mut scores = vec![0f32; widened.width];
    for (n, i) in queries.enumerate() {
        let position = pass.pos + i;
        let visible = first_visible(position, pass.window) - lo..position + 1 - lo;
        for h in 0..group {
            let head = g * group + h;
            let query = &q[(head * seq + i) * d..(head * seq + i + 1) * d];
            let y = &mut out[(n * group + h) * d..(n * group + h + 1) * d];
            let scores = &mut scores[visible.clone()];
            widened.attend(query, visible.start, scores, y, pass.scale);
        }
    }
    out
}

/// One KV head's keys and values at positions `lo..lo + width`, widened to F32: the keys
/// transposed (`[head_dim][key]`, so a query's scores over many keys fill SIMD lanes), the
/// values as cached (`[key][head_dim]`).
struct Widened {
    keys_t: Vec<f32>,
    values: Vec<f32>,
    width: usize,
}

impl Widened {
    fn new<T: CacheElement>(cache: &KvCache<T>, g: usize, lo: usize, hi: usize) -> Widened {
        let (d, width) = (cache.head_dim, hi - lo);
        let mut keys_t = vec![0f32; d * width];
        let mut values = vec![0f32; width * d];
        let mut row = vec![0f32; d];
        for j in lo..hi {
            T::load(cache.at(&cache.keys, j, g), &mut row);
            for (dd, value) in row.iter().enumerate() {
                keys_t[dd * width + j - lo] = *value;
            }
            let at = (j - lo) * d;
            T::load(cache.at(&cache.values, j, g), &mut values[at..at + d]);
        }
        Widened {
            keys_t,
            values,
            width,
        }
    }

    /// `query` over the keys `first..first + scores.len()` (local indices) into `y`: the
    /// softmax of the scaled scores weighting the values. `scores` is scratch.
    fn attend(&self, query: &[f32], first: usize, scores: &mut [f32], y: &mut [f32], scale: f32) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: AVX2 and FMA are present (checked just above).
            return unsafe { self.attend_fma(query, first, scores, y, scale) };
        }
        self.attend_with(query, first, scores, y, scale, |a, b, c| a * b + c)
    }

    /// [`Widened::attend_with`] compiled for AVX2 with fused multiply-adds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn attend_fma(
        &self,
        query: &[f32],
        first: usize,
        scores: &mut [f32],
        y: &mut [f32],
        scale: f32,
    ) {
        self.attend_with(query, first, scores, y, scale, f32::mul_add)
    }

    /// The attention of one query, `madd(a, b, c)` being `a * b + c`.
    #[inline(always)]
    fn attend_with(
        &self,
        query: &[f32],
        first: usize,
        scores: &mut [f32],
        y: &mut [f32],
        scale: f32,
        madd: impl Fn(f32, f32, f32) -> f32,
    ) {
        let (n, d, width) = (scores.len(), query.len(), self.width);
        scores.fill(0.);
        for (dd, &qd) in query.iter().enumerate() {
            let keys = &self.keys_t[dd * width + first..dd * width + first + n];
            for (s, &k) in scores.iter_mut().zip(keys) {
                *s = madd(qd, k, *s);
            }
        }
        let mut max = f32::NEG_INFINITY;
        for s in scores.iter_mut() {
            *s *= scale;
            max = max.max(*s);
        }
        let mut sum = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        y.fill(0.);
        let values = &self.values[first * d..(first + n) * d];
        for (s, value) in scores.iter().zip(values.chunks_exact(d)) {
            let p = s / sum;
            for (o, &v) in y.iter_mut().zip(value) {
                *o = madd(p, v, *o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant_matmul::uniform;

    /// Attention written out plainly in F64 over F32 keys and values given per position:
    /// `keys[position][kv_head][d]`.
    fn reference(
        keys: &[f32],
        values: &[f32],
        kv_heads: usize,
        d: usize,
        q: &[f32],
        pass: Pass,
    ) -> Vec<f32> {
        let seq = q.len() / (pass.heads * d);
        let group = pass.heads / kv_heads;
        let mut out = vec![0f32; q.len()];
        for h in 0..pass.heads {
            let g = h / group;
            for i in 0..seq {
                let p = pass.pos + i;
                let lo = first_visible(p, pass.window);
                let at = |store: &[f32], j: usize| {
                    store[(j * kv_heads + g) * d..(j * kv_heads + g + 1) * d].to_vec()
                };
                let query = &q[(h * seq + i) * d..(h * seq + i + 1) * d];
                let scores: Vec<f64> = (lo..=p)
                    .map(|j| {
                        let k = at(keys, j);
                        query
                            .iter()
                            .zip(&k)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum::<f64>()
                            * f64::from(pass.scale)
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                for (e, j) in exps.iter().zip(lo..=p) {
                    let v = at(values, j);
                    for dd in 0..d {
                        out[(i * pass.heads + h) * d + dd] += (e / sum * f64::from(v[dd])) as f32;
                    }
                }
            }
        }
        out
    }

    /// Head-major `[kv_head][seq][d]` from position-major rows `from..to`.
    fn head_major(store: &[f32], kv_heads: usize, d: usize, from: usize, to: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for g in 0..kv_heads {
            for j in from..to {
                let start = (j * kv_heads + g) * d;
                out.extend_from_slice(&store[start..start + d]);
            }
        }
        out
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0., f32::max)
    }

    /// A prompt of `prompt` positions, then single-position steps up to `total`, each checked
    /// against the plain reference.
    fn check<T: CacheElement>(window: Option<usize>, tolerance: f32) {
        let (heads, kv_heads, d, prompt, total) = (6, 2, 40, 37, 45);
        let keys = uniform(total * kv_heads * d, 1);
        let values = uniform(total * kv_heads * d, 2);
        let mut cache = KvCache::<T>::new(kv_heads, d, 8);
        let mut pos = 0;
        while pos < total {
            let seq = if pos == 0 { prompt } else { 1 };
            cache
                .append(
                    &head_major(&keys, kv_heads, d, pos, pos + seq),
                    &head_major(&values, kv_heads, d, pos, pos + seq),
                )
                .unwrap();
            assert_eq!(cache.len(), pos + seq);
            let q: Vec<f32> = uniform(heads * seq * d, 3 + pos as u32)
                .into_iter()
                .map(|x| x * 8.)
                .collect();
            let pass = Pass {
                heads,
                pos,
                window,
                scale: 1. / (d as f32).sqrt(),
            };
            let got = attend(&cache, &q, pass).unwrap();
            let want = reference(&keys, &values, kv_heads, d, &q, pass);
            assert!(
                max_diff(&got, &want) <= tolerance,
                "position {pos}: {}",
                max_diff(&got, &want)
            );
            pos += seq;
        }
    }

    #[test]
    fn f32_cache_matches_plain_attention() {
        check::<f32>(None, 1e-6);
        check::<f32>(Some(5), 1e-6);
    }

    #[test]
    fn f16_cache_matches_within_its_rounding() {
        check::<f16>(None, 2e-3);
        check::<f16>(Some(9), 2e-3);
    }

    #[test]
    fn results_do_not_depend_on_threads() {
        let (kv_heads, d) = (1, 16);
        let mut cache = KvCache::<f32>::new(kv_heads, d, 0);
        let keys = uniform(50 * d, 4);
        cache.append(&keys, &uniform(50 * d, 5)).unwrap();
        let q = uniform(2 * 50 * d, 6);
        let pass = Pass {
            heads: 2,
            pos: 0,
            window: None,
            scale: 0.25,
        };
        let parallel = attend(&cache, &q, pass).unwrap();
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| attend(&cache, &q, pass).unwrap());
        assert_eq!(parallel, single);
    }

    #[test]
    fn reserved_room_is_kept_and_bad_shapes_are_errors() {
        let mut cache = KvCache::<f16>::new(2, 4, 10);
        let capacity = cache.keys.capacity();
        assert!(capacity >= 80);
        cache.append(&[0.5; 16], &[0.25; 16]).unwrap();
        assert_eq!(cache.len(), 2);
        cache.clear(6);
        assert!(cache.is_empty());
        assert_eq!(cache.keys.capacity(), capacity);
        cache.append(&[0.5; 16], &[0.25; 16]).unwrap();
        assert_eq!(cache.keys.capacity(), capacity);
        // Room that cannot be had is not an error: the cache grows instead.
        let mut unbounded = KvCache::<f16>::new(2, 4, usize::MAX);
        unbounded.append(&[0.5; 16], &[0.25; 16]).unwrap();
        assert_eq!(unbounded.len(), 2);
        assert!(cache.append(&[0.; 15], &[0.; 15]).is_err());
        assert!(cache.append(&[0.; 16], &[0.; 8]).is_err());
        let pass = Pass {
            heads: 3,
            pos: 0,
            window: None,
            scale: 1.,
        };
        // 3 heads over 2 KV heads; then more queries than cached positions.
        assert!(attend(&cache, &[0.; 12], pass).is_err());
        let pass = Pass { heads: 2, ..pass };
        assert!(attend(&cache, &[0.; 8 * 3], pass).is_err());
        assert_eq!(attend(&cache, &[0.; 8 * 2], pass).unwrap().len(), 16);
    }
}
