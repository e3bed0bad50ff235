// scores[t][h][j] = q[t][h] · k[j][h / group] * scale for every cached key j < ctx, or -1e30
// where the causal mask (j after the query, in decoders) or the sliding window (j `window` or more
// positions back) hides it. Grouped-query: `heads / kv_heads` query heads share a key head.

struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    pos0: u32,
    ctx: u32,
    window: u32,
    scale: f32,
    q_offset: u32,
    q_stride: u32,
    // 1: later keys are hidden (decoders); 0: every key is seen (encoders).
    causal: u32,
    // Scores pass through tanh(s / softcap) · softcap when > 0 (Gemma 2).
    softcap: f32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<KvPair>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let h = gid.y;
    let t = gid.z;
    if (j >= p.ctx) {
        return;
    }
    let at = p.pos0 + t;
    let out = (t * p.heads + h) * p.ctx + j;
    if ((p.causal != 0u && j > at) || (p.window > 0u && at >= j + p.window)) {
        scores[out] = -1e30;
        return;
    }
    let pairs = p.head_dim / 2u;
    let kv_h = h / (p.heads / p.kv_heads);
    let qs = p.q_offset + t * p.q_stride + h * p.head_dim;
    let ks = j * p.kv_heads * pairs + kv_h * pairs;
    var acc = 0.0;
    for (var i = 0u; i < pairs; i++) {
        let key = kv_unpack(k_cache[ks + i]);
        acc += q[qs + 2u * i] * key.x + q[qs + 2u * i + 1u] * key.y;
    }
    var score = acc * p.scale;
    if (p.softcap > 0.0) {
        score = tanh(score / p.softcap) * p.softcap;
    }
    scores[out] = score;
}
