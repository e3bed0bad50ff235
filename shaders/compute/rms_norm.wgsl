// out = x / sqrt(mean(x²) + eps) * weight over each group of `cols` values: one group per row
// (a layer norm), or `groups` consecutive groups per row (per-head query/key norms). One
// workgroup per group.

struct Params {
    cols: u32,
    eps: f32,
    groups: u32,
    x_offset: u32,
    x_stride: u32,
    out_offset: u32,
    out_stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wg.x / p.groups;
    let within = (wg.x % p.groups) * p.cols;
    let start = p.x_offset + row * p.x_stride + within;
    let dest = p.out_offset + row * p.out_stride + within;
    var sum = 0.0;
    for (var c = lid; c < p.cols; c += WG) {
        sum += x[start + c] * x[start + c];
    }
    let inv = 1.0 / sqrt(workgroup_sum(lid, sum) / f32(p.cols) + p.eps);
    for (var c = lid; c < p.cols; c += WG) {
        out[dest + c] = x[start + c] * inv * weight[c];
    }
}
