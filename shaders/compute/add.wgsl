// a[t][i] += b[t][i] for `rows` rows of n values: residual adds (b_stride = n) and biases on
// every row (b_stride = 0); a may be a window of a wider buffer.

struct Params {
    n: u32,
    rows: u32,
    a_offset: u32,
    a_stride: u32,
    b_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    if (i >= p.n) {
        return;
    }
    a[p.a_offset + t * p.a_stride + i] += b[t * p.b_stride + i];
}
