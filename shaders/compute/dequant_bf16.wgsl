// BF16 weights: "blocks" of four values; a bfloat16 is the top half of an f32.
const BLOCK_VALUES: u32 = 4u;
const BLOCK_BYTES: u32 = 8u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let w0 = weights[b >> 2u];
    let w1 = weights[(b >> 2u) + 1u];
    return vec4<f32>(
        bitcast<f32>(w0 << 16u),
        bitcast<f32>(w0 & 0xffff0000u),
        bitcast<f32>(w1 << 16u),
        bitcast<f32>(w1 & 0xffff0000u),
    );
}
