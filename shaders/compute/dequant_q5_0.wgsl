// Q5_0: 32 values, an f16 scale, 32 fifth bits (bit i for value i), 16 bytes of nibbles;
// each value minus 16.
const BLOCK_VALUES: u32 = 32u;
const BLOCK_BYTES: u32 = 22u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let d = w_f16(b);
    let qh = w_u32(b + 2u);
    let first = 4u * j;
    let q = w_u32(b + 6u + (first & 15u));
    let low = field4(q, select(0u, 4u, first >= 16u), 4u);
    let high = bits4(qh, first);
    return (vec4<f32>(low | (high << vec4<u32>(4u))) - 16.0) * d;
}
