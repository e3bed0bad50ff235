// Q8_0: 32 values, an f16 scale and 32 signed bytes.
const BLOCK_VALUES: u32 = 32u;
const BLOCK_BYTES: u32 = 34u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    return signed4(w_u32(b + 2u + 4u * j)) * w_f16(b);
}
