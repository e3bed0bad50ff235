// Q6_K: 256 values; 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit
// scales (one per 16 values), an f16 d; each value minus 32. In each 128-value half h, value
// 32p + l (part p, l < 32) takes byte 64h + l + 32(p & 1)'s nibble (high for p >= 2) and
// bits 2p of byte 32h + l of the highs, scaled by scale 8h + l / 16 + 2p.
const BLOCK_VALUES: u32 = 256u;
const BLOCK_BYTES: u32 = 210u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let i = 4u * j;
    let h = i / 128u;
    let part = (i % 128u) / 32u;
    let l = i % 32u;
    let low = field4(w_u32(b + 64u * h + l + 32u * (part & 1u)), select(0u, 4u, part >= 2u), 4u);
    let high = field4(w_u32(b + 128u + 32u * h + l), 2u * part, 2u);
    let scale = f32(extractBits(bitcast<i32>(w_byte(b + 192u + 8u * h + l / 16u + 2u * part)), 0u, 8u));
    let values = vec4<f32>(low | (high << vec4<u32>(4u))) - 32.0;
    return values * (w_f16(b + 208u) * scale);
}
