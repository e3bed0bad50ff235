// out[t][row] = weights[row] · xs[t] for many tokens at once (prefill, encoders): each
// workgroup computes a 16-row × 16-token tile, staging 32 dequantised weight values per row
// and 32 activations per token in workgroup memory at a time, so every weight block is
// dequantised once per 16 tokens instead of once per token.

const TILE: u32 = 16u;
// Quads (four values) of the inner dimension staged per step.
const STEP: u32 = 8u;
var<workgroup> w_tile: array<vec4<f32>, 128>;
var<workgroup> x_tile: array<vec4<f32>, 128>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.x * TILE;
    let token0 = wg.y * TILE;
    let quads = p.cols / 4u;
    let per_block = BLOCK_VALUES / 4u;
    let row_bytes = (p.cols / BLOCK_VALUES) * BLOCK_BYTES;
    var acc = 0.0;
    for (var k0 = 0u; k0 < quads; k0 += STEP) {
        // Threads 0..127 stage weight quads, 128..255 activation quads.
        let slot = li % 128u;
        let q = k0 + slot % STEP;
        var v = vec4<f32>(0.0);
        if (li < 128u) {
            let row = row0 + slot / STEP;
            if (row < p.rows && q < quads) {
                v = block_values4(row * row_bytes + (q / per_block) * BLOCK_BYTES, q % per_block);
            }
            w_tile[slot] = v;
        } else {
            let token = token0 + slot / STEP;
            if (token < p.tokens && q < quads) {
                let x = p.x_offset + token * p.x_stride + 4u * q;
                v = vec4<f32>(xs[x], xs[x + 1u], xs[x + 2u], xs[x + 3u]);
            }
            x_tile[slot] = v;
        }
        workgroupBarrier();
        for (var s = 0u; s < STEP; s++) {
            acc += dot(w_tile[lid.x * STEP + s], x_tile[lid.y * STEP + s]);
        }
        workgroupBarrier();
    }
    let row = row0 + lid.x;
    let token = token0 + lid.y;
    if (row < p.rows && token < p.tokens) {
        out[p.out_offset + token * p.out_stride + row] = acc;
    }
}
