// Softmax of each row of x in place, one workgroup per row.

struct Params {
    cols: u32,
    rows: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

const WG: u32 = 64u;
var<workgroup> largest: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wg.x + wg.y * 65535u;
    if (row >= p.rows) {
        return;
    }
    let start = row * p.cols;
    var top = -3.4e38;
    for (var c = lid; c < p.cols; c += WG) {
        top = max(top, x[start + c]);
    }
    largest[lid] = top;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            largest[lid] = max(largest[lid], largest[lid + s]);
        }
        workgroupBarrier();
    }
    top = largest[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var c = lid; c < p.cols; c += WG) {
        let e = exp(x[start + c] - top);
        x[start + c] = e;
        sum += e;
    }
    let inv = 1.0 / workgroup_sum(lid, sum);
    for (var c = lid; c < p.cols; c += WG) {
        x[start + c] *= inv;
    }
}
