// Q5_K: as Q4_K with a fifth bit per value: 32 bytes of high bits, bit 2c (low nibbles) or
// 2c + 1 (high nibbles) of byte l for 64-value chunk c.
const BLOCK_VALUES: u32 = 256u;
const BLOCK_BYTES: u32 = 176u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let i = 4u * j;
    let chunk = i / 64u;
    let upper = select(0u, 1u, (i % 64u) >= 32u);
    let l = i % 32u;
    let sm = scale_min_k4(b + 4u, 2u * chunk + upper);
    let q = field4(w_u32(b + 48u + 32u * chunk + l), 4u * upper, 4u);
    let high = field4(w_u32(b + 16u + l), 2u * chunk + upper, 1u);
    let values = vec4<f32>(q | (high << vec4<u32>(4u)));
    return values * (w_f16(b) * sm.x) - w_f16(b + 2u) * sm.y;
}
