// One function on each of the first n values, in place: op 0 the exact (erf) GELU,
// x / 2 · (1 + erf(x / √2)); op 1 a product by `factor` (Gemma's embedding scale). WGSL has no
// erf: Numerical Recipes' erfc (fractional error < 1.2e-7) stands in.

struct Params {
    n: u32,
    span: u32,
    op: u32,
    factor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

fn erf(v: f32) -> f32 {
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(poly);
    return select(erfc - 1.0, 1.0 - erfc, v >= 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * p.span;
    if (i >= p.n) {
        return;
    }
    let v = x[i];
    if (p.op == 0u) {
        x[i] = 0.5 * v * (1.0 + erf(v * 0.70710678118654752));
    } else {
        x[i] = v * p.factor;
    }
}
