#!/usr/bin/env python3
"""Tiny random checkpoints + PyTorch reference outputs for Hubble's numerical parity tests.

For each architecture it builds a 2-layer, 64-wide model with transformers (fp32, CPU), saves
config.json + model.safetensors (+ a word-level tokenizer.json) under
tests/fixtures/tiny/<name>/, and writes reference.json with the next-token logits after a fixed
prompt and 8 greedy tokens (full recomputation every step, no KV cache), so Rust's KV-cached
decoding is checked too. BERT gets last_hidden_state rows and mean-pooled, normalised sentence
embeddings through a small WordPiece tokenizer.

Usage (needs torch, transformers, tokenizers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_checkpoints.py [--out tests/fixtures/tiny] [names...]
"""
import argparse
import json
import os
import shutil

import torch
import transformers as tf
from tokenizers import Tokenizer, models, pre_tokenizers, normalizers, processors

VOCAB = 256
PROMPT = [3, 17, 42, 101, 7, 250, 64, 9, 33, 128]
STEPS = 8

COMMON = dict(
    vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    bos_token_id=None, eos_token_id=None, pad_token_id=None,
)

CAUSAL = {
    "llama": lambda: tf.LlamaConfig(**COMMON, tie_word_embeddings=False),
    "mistral": lambda: tf.MistralConfig(**COMMON, tie_word_embeddings=False, sliding_window=None),
    "qwen2": lambda: tf.Qwen2Config(**COMMON, tie_word_embeddings=False),
    "qwen3": lambda: tf.Qwen3Config(**COMMON, head_dim=16, tie_word_embeddings=False),
    "phi3": lambda: tf.Phi3Config(**COMMON, tie_word_embeddings=False),
    "gemma": lambda: tf.GemmaConfig(**COMMON, head_dim=16),
    "gemma2": lambda: tf.Gemma2Config(**COMMON, head_dim=16, query_pre_attn_scalar=16),
    "gemma3": lambda: tf.Gemma3TextConfig(
        **COMMON, head_dim=16, query_pre_attn_scalar=16, sliding_window=64,
        layer_types=["sliding_attention", "full_attention"]),
}


def randomize(model, seed):
    """Weights big enough that logits have clear gaps (HF's 0.02 init gives near-ties)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "layernorm" in name.lower():
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def word_level_tokenizer(path):
    vocab = {f"t{i}": i for i in range(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(path)


def greedy(model, ids):
    ids = list(ids)
    out, first, gaps = [], None, []
    with torch.no_grad():
        for _ in range(STEPS):
            logits = model(torch.tensor([ids])).logits[0, -1].float()
            if first is None:
                first = logits.tolist()
            top = torch.topk(logits, 2).values
            gaps.append(float(top[0] - top[1]))
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            ids.append(nxt)
    return first, out, min(gaps)


def make_causal(name, out_dir):
    config = CAUSAL[name]()
    for seed in range(20):
        torch.manual_seed(seed)
        model = tf.AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32).eval()
        randomize(model, seed)
        logits, tokens, gap = greedy(model, PROMPT)
        if gap > 1e-2:
            break
    d = os.path.join(out_dir, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(d, extra)):
            os.remove(os.path.join(d, extra))
    word_level_tokenizer(os.path.join(d, "tokenizer.json"))
    ref = {"model_type": config.model_type, "seed": seed, "prompt": PROMPT,
           "next_token_logits": logits, "greedy_tokens": tokens, "min_top2_gap": gap,
           "torch": torch.__version__, "transformers": tf.__version__}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"{name}: seed {seed}, greedy {tokens}, min top-2 gap {gap:.4f}, "
          f"{os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


BERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
    "a man is eating food bread riding horse the on piece of an apple cat sits mat dog runs "
    "park quickly slowly red blue green car house tree".split())
BERT_SENTENCES = ["A man is eating food.", "A man is riding a horse.", "the cat sits on the mat",
                  "a dog runs quickly"]


def make_bert(out_dir):
    d = os.path.join(out_dir, "bert")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    vocab = {w: i for i, w in enumerate(BERT_WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(os.path.join(d, "tokenizer.json"))
    config = tf.BertConfig(vocab_size=len(BERT_WORDS), hidden_size=64, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=128,
                           max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(0)
    model = tf.BertModel(config, add_pooling_layer=False).eval()
    randomize(model, 0)
    model.save_pretrained(d, safe_serialization=True)
    with open(os.path.join(d, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], f)
    os.makedirs(os.path.join(d, "1_Pooling"))
    with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 64, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}, f)
    # Reference: each sentence alone (no padding), mean pooling, L2 normalisation.
    embeddings, hidden_first = [], None
    with torch.no_grad():
        for s in BERT_SENTENCES:
            ids = tok.encode(s).ids
            h = model(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).last_hidden_state[0]
            if hidden_first is None:
                hidden_first = {"ids": ids, "last_hidden_state": h.tolist()}
            e = h.mean(0)
            embeddings.append(torch.nn.functional.normalize(e, dim=0).tolist())
    ref = {"sentences": BERT_SENTENCES, "embeddings": embeddings, "first": hidden_first,
           "torch": torch.__version__, "transformers": tf.__version__}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"bert: {os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    ap.add_argument("names", nargs="*", default=list(CAUSAL) + ["bert"])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.names:
        if name == "bert":
            make_bert(args.out)
        else:
            make_causal(name, args.out)


if __name__ == "__main__":
    main()
