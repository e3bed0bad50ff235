// The patches of a 1-D convolution as rows: out[t][c * kernel + k] = x[c] at position
// t * stride + k - pad (0 outside the input), so the convolution is one matmul by the weight
// `[out_channels, in_channels * kernel]`. x is channel-major (`[c][position]`, a mel
// spectrogram) or time-major (`[position][c]`, a previous layer's rows).

struct Params {
    channels: u32,
    in_len: u32,
    out_len: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    channel_major: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    let width = p.channels * p.kernel;
    if (i >= width || t >= p.out_len) {
        return;
    }
    let c = i / p.kernel;
    let k = i % p.kernel;
    let at = i32(t * p.stride + k) - i32(p.pad);
    var value = 0.0;
    if (at >= 0 && u32(at) < p.in_len) {
        if (p.channel_major != 0u) {
            value = x[c * p.in_len + u32(at)];
        } else {
            value = x[u32(at) * p.channels + c];
        }
    }
    out[t * width + i] = value;
}
