#!/usr/bin/env python3
"""Tiny random T5 checkpoints (original ReLU T5 and gated-GELU T5 v1.1 / FLAN-T5) + PyTorch
reference outputs for Hubble's seq2seq parity tests (tests/infer/seq2seq.rs).

Each model is 2+2 layers, 32 wide, with a small WordPiece tokenizer.json whose `</s>` is id 1
and `<pad>` id 0 like T5's; reference.json holds the input ids, the first decoder step's logits
and 8 greedy tokens (full recomputation every step, no KV cache, so Rust's cached decoding is
checked too).

Usage (needs torch, transformers, tokenizers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_t5.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys

import torch
import transformers as tf
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import BERT_WORDS, randomize  # noqa: E402

WORDS = ["<pad>", "</s>", "<unk>", "summarize", ":", "translate", "english", "to", "german"] + \
    BERT_WORDS[5:]
TEXT = "summarize: a man is eating food on the mat"
STEPS = 8
VARIANTS = {
    "t5": dict(feed_forward_proj="relu", tie_word_embeddings=True),
    "flan-t5": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}


def make(name, out_dir):
    d = os.path.join(out_dir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>",
                                                       special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    tok.save(os.path.join(d, "tokenizer.json"))
    config = tf.T5Config(vocab_size=len(WORDS), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                         num_decoder_layers=2, num_heads=4, relative_attention_num_buckets=8,
                         relative_attention_max_distance=16, pad_token_id=0, eos_token_id=1,
                         decoder_start_token_id=0, **VARIANTS[name],
                         task_specific_params={"summarization": {"prefix": "summarize: "}})
    torch.manual_seed(0)
    model = tf.T5ForConditionalGeneration(config).eval()
    randomize(model, 2)
    model.save_pretrained(d, safe_serialization=True)
    ids = tok.encode(TEXT).ids
    decoded, first = [0], None
    with torch.no_grad():
        for _ in range(STEPS):
            logits = model(input_ids=torch.tensor([ids]),
                           decoder_input_ids=torch.tensor([decoded])).logits[0, -1]
            if first is None:
                first = logits.tolist()
            decoded.append(int(logits.argmax()))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"text": TEXT, "ids": ids, "first_logits": first, "greedy": decoded[1:],
                   "torch": torch.__version__, "transformers": tf.__version__}, f)
    print(f"{name}: {os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes, greedy {decoded[1:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in VARIANTS:
        make(name, args.out)


if __name__ == "__main__":
    main()
