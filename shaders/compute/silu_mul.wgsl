// out[t][i] = silu(gate[t][i]) * up[t][i] (SwiGLU); gate and up may share one buffer.

struct Params {
    n: u32,
    tokens: u32,
    gate_offset: u32,
    up_offset: u32,
    stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    if (i >= p.n) {
        return;
    }
    let g = gate[p.gate_offset + t * p.stride + i];
    out[t * p.n + i] = g / (1.0 + exp(-g)) * up[p.up_offset + t * p.stride + i];
}
