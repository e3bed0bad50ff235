// matmul.wgsl with its sum done by subgroup operations where the adapter has them: each
// subgroup adds its threads' partial dot products in registers, then one thread adds the
// subgroups' sums (instead of six barrier-separated halvings through workgroup memory).

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
    let sum = subgroupAdd(row_dot(row, wg.z, lid, WG));
    if (lane == 0u) {
        subgroup_sums[lid / width] = sum;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var total = 0.0;
        for (var i = 0u; i < max(1u, WG / width); i++) {
            total += subgroup_sums[i];
        }
        out[p.out_offset + wg.z * p.out_stride + row] = total;
    }
}
