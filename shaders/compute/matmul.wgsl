// out[t][row] = weights[row] · xs[t] for `tokens` activation rows: one workgroup per (row,
// token), its threads striding over the row four values at a time (`row_dot`), then a tree
// sum. With one token this is the decode step's matrix–vector product.

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wg.x + wg.y * p.groups_x;
    if (row >= p.rows) {
        return;
    }
    let total = workgroup_sum(lid, row_dot(row, wg.z, lid, WG));
    if (lid == 0u) {
        out[p.out_offset + wg.z * p.out_stride + row] = total;
    }
}
