// out[t][h] = Σ_j probs[t][h][j] · v[j][h / group], one thread per pair of output values.

struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    ctx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<KvPair>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pairs = p.head_dim / 2u;
    let i = gid.x % pairs;
    let h = gid.x / pairs;
    let t = gid.y;
    if (h >= p.heads) {
        return;
    }
    let kv_h = h / (p.heads / p.kv_heads);
    let row = (t * p.heads + h) * p.ctx;
    var acc = vec2<f32>(0.0);
    for (var j = 0u; j < p.ctx; j++) {
        acc += probs[row + j] * kv_unpack(v_cache[j * p.kv_heads * pairs + kv_h * pairs + i]);
    }
    let o = t * p.heads * p.head_dim + h * p.head_dim + 2u * i;
    out[o] = acc.x;
    out[o + 1u] = acc.y;
}
