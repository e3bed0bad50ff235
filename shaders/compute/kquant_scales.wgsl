// Q4_K and Q5_K: sub-block `is`'s 6-bit scale and minimum, packed in 12 bytes at `s`.
fn scale_min_k4(s: u32, is: u32) -> vec2<f32> {
    if (is < 4u) {
        return vec2<f32>(f32(w_byte(s + is) & 63u), f32(w_byte(s + is + 4u) & 63u));
    }
    let sc = (w_byte(s + is + 4u) & 15u) | ((w_byte(s + is - 4u) >> 6u) << 4u);
    let m = (w_byte(s + is + 4u) >> 4u) | ((w_byte(s + is) >> 6u) << 4u);
    return vec2<f32>(f32(sc), f32(m));
}
