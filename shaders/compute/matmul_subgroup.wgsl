// matmul.wgsl with its sum done by subgroup operations where the adapter has them: each
// subgroup adds its threads' partial dot products in registers, then one thread adds the
// subgroups' sums (instead of six barrier-separated halvings through workgroup memory).

struct Params {
    rows: u32,
    cols: u32,
    // Workgroups along x; rows past 65535 continue along y.
    groups_x: u32,
    x_offset: u32,
    x_stride: u32,
    out_offset: u32,
    out_stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
var<workgroup> subgroup_sums: array<f32, WG>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) width: u32,
) {
    let row = wg.x + wg.y * p.groups_x;
    if (row >= p.rows) {
        return;
    }
    let t = wg.z;
    let quads = p.cols / 4u;
    let per_block = BLOCK_VALUES / 4u;
    let row_start = row * (p.cols / BLOCK_VALUES) * BLOCK_BYTES;
    let x0 = p.x_offset + t * p.x_stride;
    var acc = 0.0;
    for (var q = lid; q < quads; q += WG) {
        let w = block_values4(row_start + (q / per_block) * BLOCK_BYTES, q % per_block);
        let x = x0 + 4u * q;
        acc += dot(w, vec4<f32>(xs[x], xs[x + 1u], xs[x + 2u], xs[x + 3u]));
    }
    let sum = subgroupAdd(acc);
    if (lane == 0u) {
        subgroup_sums[lid / width] = sum;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var total = 0.0;
        for (var i = 0u; i < max(1u, WG / width); i++) {
            total += subgroup_sums[i];
        }
        out[p.out_offset + t * p.out_stride + row] = total;
    }
}
