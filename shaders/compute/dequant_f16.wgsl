// F16 weights: "blocks" of four values.
const BLOCK_VALUES: u32 = 4u;
const BLOCK_BYTES: u32 = 8u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let w = b >> 2u;
    return vec4<f32>(unpack2x16float(weights[w]), unpack2x16float(weights[w + 1u]));
}
