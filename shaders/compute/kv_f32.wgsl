// A KV cache of F32 pairs (exact).
alias KvPair = vec2<f32>;

fn kv_pack(v: vec2<f32>) -> KvPair {
    return v;
}

fn kv_unpack(w: KvPair) -> vec2<f32> {
    return w;
}
