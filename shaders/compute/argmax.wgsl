// out[0] = the index of the largest of x[offset..offset + n] (the lowest index among equals):
// greedy decoding reads back one number, not the vocabulary.

struct Params {
    n: u32,
    offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

const WG: u32 = 256u;
var<workgroup> best_value: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var value = -3.4e38;
    var index = 0xffffffffu;
    for (var i = lid; i < p.n; i += WG) {
        let candidate = x[p.offset + i];
        if (candidate > value) {
            value = candidate;
            index = i;
        }
    }
    best_value[lid] = value;
    best_index[lid] = index;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let other = best_value[lid + s];
            let other_index = best_index[lid + s];
            if (other > best_value[lid] || (other == best_value[lid] && other_index < best_index[lid])) {
                best_value[lid] = other;
                best_index[lid] = other_index;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[0] = best_index[0];
    }
}
