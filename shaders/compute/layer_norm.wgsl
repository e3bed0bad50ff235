// out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, one workgroup per row (BERT's and
// Whisper's LayerNorm; variance over the row, not the unbiased one).

struct Params {
    cols: u32,
    eps: f32,
    x_offset: u32,
    x_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wg.x;
    let start = p.x_offset + row * p.x_stride;
    var sum = 0.0;
    for (var c = lid; c < p.cols; c += WG) {
        sum += x[start + c];
    }
    let mean = workgroup_sum(lid, sum) / f32(p.cols);
    var squares = 0.0;
    for (var c = lid; c < p.cols; c += WG) {
        let d = x[start + c] - mean;
        squares += d * d;
    }
    let inv = 1.0 / sqrt(workgroup_sum(lid, squares) / f32(p.cols) + p.eps);
    for (var c = lid; c < p.cols; c += WG) {
        out[row * p.cols + c] = (x[start + c] - mean) * inv * weight[c] + bias[c];
    }
}
