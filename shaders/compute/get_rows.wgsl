// out[t] = the dequantised row ids[t] of a table (an embedding), for the ids that fall in this
// chunk of the table's rows (first_row..first_row + rows); one thread per four values.

struct Params {
    cols: u32,
    first_row: u32,
    rows: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let q = gid.x;
    let t = gid.y;
    let id = ids[t];
    if (q >= p.cols / 4u || id < p.first_row || id >= p.first_row + p.rows) {
        return;
    }
    let per_block = BLOCK_VALUES / 4u;
    let row_start = (id - p.first_row) * (p.cols / BLOCK_VALUES) * BLOCK_BYTES;
    let v = block_values4(row_start + (q / per_block) * BLOCK_BYTES, q % per_block);
    let o = t * p.cols + 4u * q;
    out[o] = v.x;
    out[o + 1u] = v.y;
    out[o + 2u] = v.z;
    out[o + 3u] = v.w;
}
