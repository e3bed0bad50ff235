// Q4_1: 32 values, an f16 scale and minimum, 16 bytes of nibbles (low nibbles first).
const BLOCK_VALUES: u32 = 32u;
const BLOCK_BYTES: u32 = 20u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let d = w_f16(b);
    let m = w_f16(b + 2u);
    let q = w_u32(b + 4u + 4u * (j & 3u));
    return vec4<f32>(field4(q, select(0u, 4u, j >= 4u), 4u)) * d + m;
}
