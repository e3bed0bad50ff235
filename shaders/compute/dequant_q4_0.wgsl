// Q4_0: 32 values, an f16 scale and 16 bytes of nibbles; value i < 16 is byte i's low nibble,
// value i + 16 its high nibble, each minus 8.
const BLOCK_VALUES: u32 = 32u;
const BLOCK_BYTES: u32 = 18u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let d = w_f16(b);
    let q = w_u32(b + 2u + 4u * (j & 3u));
    let nibbles = vec4<f32>(field4(q, select(0u, 4u, j >= 4u), 4u));
    return (nibbles - 8.0) * d;
}
