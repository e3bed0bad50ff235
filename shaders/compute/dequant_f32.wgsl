// F32 weights: "blocks" of four values.
const BLOCK_VALUES: u32 = 4u;
const BLOCK_BYTES: u32 = 16u;

fn block_values4(b: u32, j: u32) -> vec4<f32> {
    let w = b >> 2u;
    return vec4<f32>(
        bitcast<f32>(weights[w]),
        bitcast<f32>(weights[w + 1u]),
        bitcast<f32>(weights[w + 2u]),
        bitcast<f32>(weights[w + 3u]),
    );
}
