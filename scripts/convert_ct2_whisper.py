#!/usr/bin/env python3
"""Converts a CTranslate2 Whisper (faster-whisper's model.bin, spec version 6) into a
transformers `WhisperForConditionalGeneration` folder Hubble (and transformers) load:
model.safetensors (float32), config.json, generation_config.json, tokenizer.json.

model.bin: u32 version, u16-length name, u32 revision?, then u32 variable count; per variable a
u16-length name, u8 rank, u32 dims, u8 dtype, u32 byte count, data; then aliases. Names map
one-to-one onto transformers' (fused q/k/v rows, fused cross-attention k/v; k has no bias).

Usage: python3 scripts/convert_ct2_whisper.py CT2_FOLDER OUT_FOLDER   (numpy + safetensors)
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.float16}


def read_string(f):
    (n,) = struct.unpack("<H", f.read(2))
    return f.read(n).decode("utf-8").rstrip("\0")


def read_model(path):
    with open(path, "rb") as f:
        (version,) = struct.unpack("<I", f.read(4))
        if version != 6:
            sys.exit(f"{path}: CTranslate2 spec version {version}, expected 6")
        read_string(f)  # spec name
        struct.unpack("<I", f.read(4))  # spec revision
        (count,) = struct.unpack("<I", f.read(4))
        out = {}
        for _ in range(count):
            name = read_string(f)
            (rank,) = struct.unpack("<B", f.read(1))
            dims = struct.unpack(f"<{rank}I", f.read(4 * rank))
            (dtype,) = struct.unpack("<B", f.read(1))
            (nbytes,) = struct.unpack("<I", f.read(4))
            data = np.frombuffer(f.read(nbytes), dtype=DTYPES[dtype]).reshape(dims)
            out[name] = data.astype(np.float32) if data.dtype == np.float16 else data
        return out


def convert(v):
    t = {}

    def ln(src, dst):
        t[f"{dst}.weight"] = v[f"{src}/gamma"]
        t[f"{dst}.bias"] = v[f"{src}/beta"]

    def lin(src, dst, bias=True):
        t[f"{dst}.weight"] = v[f"{src}/weight"]
        if bias:
            t[f"{dst}.bias"] = v[f"{src}/bias"]

    def split(src, parts, names, dst_prefix, k_index):
        w = np.split(v[f"{src}/weight"], parts, axis=0)
        b = np.split(v[f"{src}/bias"], parts, axis=0) if f"{src}/bias" in v else [None] * parts
        for i, name in enumerate(names):
            t[f"{dst_prefix}.{name}.weight"] = w[i]
            if i != k_index and b[i] is not None:
                t[f"{dst_prefix}.{name}.bias"] = b[i]
            elif i != k_index:
                t[f"{dst_prefix}.{name}.bias"] = np.zeros(w[i].shape[0], np.float32)

    enc, dec = "encoder", "decoder"
    t["model.encoder.conv1.weight"] = v[f"{enc}/conv1/weight"]
    t["model.encoder.conv1.bias"] = v[f"{enc}/conv1/bias"]
    t["model.encoder.conv2.weight"] = v[f"{enc}/conv2/weight"]
    t["model.encoder.conv2.bias"] = v[f"{enc}/conv2/bias"]
    t["model.encoder.embed_positions.weight"] = v[f"{enc}/position_encodings/encodings"]
    ln(f"{enc}/layer_norm", "model.encoder.layer_norm")
    i = 0
    while f"{enc}/layer_{i}/self_attention/linear_0/weight" in v:
        s, d = f"{enc}/layer_{i}", f"model.encoder.layers.{i}"
        split(f"{s}/self_attention/linear_0", 3, ["q_proj", "k_proj", "v_proj"], f"{d}.self_attn", 1)
        lin(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        ln(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{d}.fc1")
        lin(f"{s}/ffn/linear_1", f"{d}.fc2")
        ln(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
        i += 1
    enc_layers = i
    t["model.decoder.embed_tokens.weight"] = v[f"{dec}/embeddings/weight"]
    t["model.decoder.embed_positions.weight"] = v[f"{dec}/position_encodings/encodings"]
    ln(f"{dec}/layer_norm", "model.decoder.layer_norm")
    i = 0
    while f"{dec}/layer_{i}/self_attention/linear_0/weight" in v:
        s, d = f"{dec}/layer_{i}", f"model.decoder.layers.{i}"
        split(f"{s}/self_attention/linear_0", 3, ["q_proj", "k_proj", "v_proj"], f"{d}.self_attn", 1)
        lin(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        ln(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        lin(f"{s}/attention/linear_0", f"{d}.encoder_attn.q_proj")
        split(f"{s}/attention/linear_1", 2, ["k_proj", "v_proj"], f"{d}.encoder_attn", 0)
        lin(f"{s}/attention/linear_2", f"{d}.encoder_attn.out_proj")
        ln(f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{d}.fc1")
        lin(f"{s}/ffn/linear_1", f"{d}.fc2")
        ln(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
        i += 1
    return {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in t.items()}, enc_layers, i


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tensors, enc_layers, dec_layers = convert(read_model(os.path.join(src, "model.bin")))
    ct2 = json.load(open(os.path.join(src, "config.json")))
    vocab, d_model = tensors["model.decoder.embed_tokens.weight"].shape
    heads = d_model // 64
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    tok = json.load(open(os.path.join(src, "tokenizer.json")))
    ids = {a["content"]: a["id"] for a in tok["added_tokens"]}
    multilingual = vocab >= 51865
    config = {
        "architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper",
        "vocab_size": int(vocab), "num_mel_bins": int(tensors["model.encoder.conv1.weight"].shape[1]),
        "d_model": int(d_model), "encoder_layers": enc_layers, "decoder_layers": dec_layers,
        "encoder_attention_heads": heads, "decoder_attention_heads": heads,
        "encoder_ffn_dim": int(tensors["model.encoder.layers.0.fc1.weight"].shape[0]),
        "decoder_ffn_dim": int(tensors["model.decoder.layers.0.fc1.weight"].shape[0]),
        "max_source_positions": int(tensors["model.encoder.embed_positions.weight"].shape[0]),
        "max_target_positions": int(tensors["model.decoder.embed_positions.weight"].shape[0]),
        "activation_function": "gelu", "scale_embedding": False, "tie_word_embeddings": True,
        "decoder_start_token_id": ids["<|startoftranscript|>"], "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids["<|endoftext|>"],
    }
    generation = {
        "decoder_start_token_id": ids["<|startoftranscript|>"], "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"], "is_multilingual": multilingual,
        "no_timestamps_token_id": ids["<|notimestamps|>"],
        "suppress_tokens": ct2.get("suppress_ids", []),
        "begin_suppress_tokens": ct2.get("suppress_ids_begin", []),
        "max_initial_timestamp_index": 50, "max_length": 448,
    }
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=1)
    json.dump(generation, open(os.path.join(out, "generation_config.json"), "w"), indent=1)
    shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    print(f"{out}: {enc_layers}+{dec_layers} layers, d_model {d_model}, vocab {vocab}")


if __name__ == "__main__":
    main()
