// A KV cache of F16 pairs, each in one u32 (no shader-f16 needed).
alias KvPair = u32;

fn kv_pack(v: vec2<f32>) -> KvPair {
    return pack2x16float(v);
}

fn kv_unpack(w: KvPair) -> vec2<f32> {
    return unpack2x16float(w);
}
