// Rotary embedding in place: the first rope_dim dimensions of every head of every token turn
// by the host's angles (cs[t][i] = cos, sin of pair i at the token's position), in
// interleaved pairs (2i, 2i + 1) or NeoX halves (i, i + rope_dim / 2).

struct Params {
    heads: u32,
    head_dim: u32,
    rope_dim: u32,
    neox: u32,
    offset: u32,
    stride: u32,
    tokens: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<vec2<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pairs = p.rope_dim / 2u;
    let i = gid.x % pairs;
    let h = gid.x / pairs;
    let t = gid.y;
    if (h >= p.heads) {
        return;
    }
    let base = p.offset + t * p.stride + h * p.head_dim;
    var a = base + 2u * i;
    var b = a + 1u;
    if (p.neox != 0u) {
        a = base + i;
        b = base + i + pairs;
    }
    let angle = cs[t * pairs + i];
    let x0 = x[a];
    let x1 = x[b];
    x[a] = x0 * angle.x - x1 * angle.y;
    x[b] = x0 * angle.y + x1 * angle.x;
}
