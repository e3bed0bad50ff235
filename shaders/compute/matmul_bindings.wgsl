// What every product kernel binds: the weights (a type's blocks), activation rows, output rows.

struct Params {
    rows: u32,
    cols: u32,
    // Workgroups along x; rows past it continue along y (one-row-per-workgroup kernels).
    groups_x: u32,
    tokens: u32,
    x_offset: u32,
    x_stride: u32,
    out_offset: u32,
    out_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// This thread's share of weights[row] · xs[t]: every `threads`-th quad from `first`,
// dequantised in registers.
fn row_dot(row: u32, t: u32, first: u32, threads: u32) -> f32 {
    let quads = p.cols / 4u;
    let per_block = BLOCK_VALUES / 4u;
    let row_start = row * (p.cols / BLOCK_VALUES) * BLOCK_BYTES;
    let x0 = p.x_offset + t * p.x_stride;
    var acc = 0.0;
    for (var q = first; q < quads; q += threads) {
        let w = block_values4(row_start + (q / per_block) * BLOCK_BYTES, q % per_block);
        let x = x0 + 4u * q;
        acc += dot(w, vec4<f32>(xs[x], xs[x + 1u], xs[x + 2u], xs[x + 3u]));
    }
    return acc;
}
