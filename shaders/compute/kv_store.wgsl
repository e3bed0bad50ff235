// Writes the keys and values of `tokens` tokens into the cache at positions pos0..; rows of
// kv_dim values (kv_dim / 2 pairs), one thread per pair.

struct Params {
    kv_dim: u32,
    pos0: u32,
    k_offset: u32,
    v_offset: u32,
    stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<KvPair>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<KvPair>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    if (i >= p.kv_dim / 2u) {
        return;
    }
    let src = t * p.stride + 2u * i;
    let dst = (p.pos0 + t) * (p.kv_dim / 2u) + i;
    k_cache[dst] = kv_pack(vec2<f32>(k[p.k_offset + src], k[p.k_offset + src + 1u]));
    v_cache[dst] = kv_pack(vec2<f32>(v[p.v_offset + src], v[p.v_offset + src + 1u]));
}
