// out[t][i] = act(gate[t][i]) * up[t][i]: act 0 SiLU (SwiGLU), 1 GELU with tanh (Gemma's
// GeGLU); gate and up may share one buffer.

struct Params {
    n: u32,
    tokens: u32,
    gate_offset: u32,
    up_offset: u32,
    stride: u32,
    act: u32,
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
    var a = g / (1.0 + exp(-g));
    if (p.act == 1u) {
        a = 0.5 * g * (1.0 + tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)));
    }
    out[t * p.n + i] = a * up[p.up_offset + t * p.stride + i];
}
