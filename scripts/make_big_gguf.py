#!/usr/bin/env python3
"""Writes a random-weights llama-shaped GGUF with 2048-wide rows (~1.2 B parameters: 22 layers,
2048 wide, 32 heads with 4 key/value heads, 5632-wide MLPs, in TinyLlama-1.1B's shape) in F16,
with SmolLM2's tokenizer and chat template copied from its GGUF, so that llama.cpp's quantizer
(scripts/make_quants.py) can make Q4_K_M and Q8_0 files whose K-quant rows are real K-quants
(SmolLM2's 576-wide rows can't hold them). Speed does not depend on the weights' values.

    python3 scripts/make_big_gguf.py SmolLM2-135M-Instruct.Q4_1.gguf OUT/llama-1b-random.F16.gguf
"""
import sys

import gguf
import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 2048, 22, 32, 4, 5632
HEAD_DIM = HIDDEN // HEADS


def strings(field):
    return [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]


def numbers(field):
    return [field.parts[i][0].item() for i in field.data]


def main():
    source, target = sys.argv[1:]
    reader = gguf.GGUFReader(source)
    fields = reader.fields
    tokens = strings(fields["tokenizer.ggml.tokens"])
    writer = gguf.GGUFWriter(target, "llama")
    writer.add_name("llama-1b-random")
    writer.add_context_length(2048)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model(strings(fields["tokenizer.ggml.model"])[0])
    writer.add_token_list(tokens)
    writer.add_token_types(numbers(fields["tokenizer.ggml.token_type"]))
    writer.add_token_merges(strings(fields["tokenizer.ggml.merges"]))
    for key, add in [("tokenizer.ggml.bos_token_id", writer.add_bos_token_id),
                     ("tokenizer.ggml.eos_token_id", writer.add_eos_token_id),
                     ("tokenizer.ggml.padding_token_id", writer.add_pad_token_id),
                     ("tokenizer.ggml.unknown_token_id", writer.add_unk_token_id)]:
        if key in fields:
            add(numbers(fields[key])[0])
    if "tokenizer.chat_template" in fields:
        writer.add_chat_template(strings(fields["tokenizer.chat_template"])[0])
    rng = np.random.default_rng(0)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    ones = np.ones(HIDDEN, dtype=np.float32)
    writer.add_tensor("token_embd.weight", matrix(len(tokens), HIDDEN))
    for layer in range(LAYERS):
        name = f"blk.{layer}."
        writer.add_tensor(name + "attn_norm.weight", ones)
        writer.add_tensor(name + "attn_q.weight", matrix(HIDDEN, HIDDEN))
        writer.add_tensor(name + "attn_k.weight", matrix(KV_HEADS * HEAD_DIM, HIDDEN))
        writer.add_tensor(name + "attn_v.weight", matrix(KV_HEADS * HEAD_DIM, HIDDEN))
        writer.add_tensor(name + "attn_output.weight", matrix(HIDDEN, HIDDEN))
        writer.add_tensor(name + "ffn_norm.weight", ones)
        writer.add_tensor(name + "ffn_gate.weight", matrix(FFN, HIDDEN))
        writer.add_tensor(name + "ffn_up.weight", matrix(FFN, HIDDEN))
        writer.add_tensor(name + "ffn_down.weight", matrix(HIDDEN, FFN))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", matrix(len(tokens), HIDDEN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(target)


if __name__ == "__main__":
    main()
