// Q4_K: 256 values in eight sub-blocks of 32; f16 d and dmin, 12 bytes of 6-bit scales and
// minimums, 128 bytes of nibbles: each 32 bytes hold a 64-value chunk, low nibbles first.
const BLOCK_VALUES: u32 = 256u;
const BLOCK_BYTES: u32 = 144u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let i = 4u * j;
    let chunk = i / 64u;
    let upper = (i % 64u) >= 32u;
    let sm = scale_min_k4(b + 4u, 2u * chunk + select(0u, 1u, upper));
    let q = w_u32(b + 16u + 32u * chunk + (i % 32u));
    let nibbles = vec4<f32>(field4(q, select(0u, 4u, upper), 4u));
    return nibbles * (w_f16(b) * sm.x) - w_f16(b + 2u) * sm.y;
}
