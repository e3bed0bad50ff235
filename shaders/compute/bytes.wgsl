// Reading a weight matrix's bytes out of `weights: array<u32>` (the kernel declares it): GGUF's
// blocks are 2-byte aligned at best, so every type's reader goes through these.

fn w_byte(off: u32) -> u32 {
    return (weights[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu;
}

fn w_f16(off: u32) -> f32 {
    return unpack2x16float((weights[off >> 2u] >> ((off & 2u) * 8u)) & 0xffffu).x;
}

// Four bytes from any offset, little-endian.
fn w_u32(off: u32) -> u32 {
    let shift = (off & 3u) * 8u;
    let lo = weights[off >> 2u];
    if (shift == 0u) {
        return lo;
    }
    return (lo >> shift) | (weights[(off >> 2u) + 1u] << (32u - shift));
}

// `width` bits at `shift` of each of the four bytes of `q`.
fn field4(q: u32, shift: u32, width: u32) -> vec4<u32> {
    return vec4<u32>(
        extractBits(q, shift, width),
        extractBits(q, 8u + shift, width),
        extractBits(q, 16u + shift, width),
        extractBits(q, 24u + shift, width),
    );
}

// The four bytes of `q` as signed 8-bit numbers.
fn signed4(q: u32) -> vec4<f32> {
    let s = bitcast<i32>(q);
    return vec4<f32>(
        f32(extractBits(s, 0u, 8u)),
        f32(extractBits(s, 8u, 8u)),
        f32(extractBits(s, 16u, 8u)),
        f32(extractBits(s, 24u, 8u)),
    );
}

// Bits first..first + 3 of `qh`, one per lane (Q5_0/Q5_1's fifth bits).
fn bits4(qh: u32, first: u32) -> vec4<u32> {
    return vec4<u32>(
        extractBits(qh, first, 1u),
        extractBits(qh, first + 1u, 1u),
        extractBits(qh, first + 2u, 1u),
        extractBits(qh, first + 3u, 1u),
    );
}
