// a[i] += b[i % b_len]: residual adds (b as long as a) and biases (one row, every token).

struct Params {
    n: u32,
    b_len: u32,
    // Threads along x (rows of the dispatch past 65535 workgroups continue along y).
    span: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * p.span;
    if (i >= p.n) {
        return;
    }
    a[i] += b[i % p.b_len];
}
