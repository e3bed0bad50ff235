#!/usr/bin/env python3
"""Tiny random encoder checkpoints with task heads + PyTorch reference outputs.

For BERT, DistilBERT, RoBERTa and DeBERTa-v2 (v3-style relative attention) it builds a 2-layer, 32-wide model for each head
(sequence classification, token classification, masked LM) with transformers (fp32, CPU),
saves config.json (with id2label) + model.safetensors + tokenizer.json under
tests/fixtures/tiny/<family>-<head>/, and writes reference.json with the logits for fixed
sentences, which Hubble's parity tests (tests/infer/encoders.rs) compare against.

Usage (needs torch, transformers, tokenizers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_encoders.py [--out tests/fixtures/tiny]
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

WORDS = BERT_WORDS[5:]
SENTENCES = ["A man is eating food.", "the cat sits on the mat", "a dog runs quickly in the park"]
MASKED = {"bert": "a man is [MASK] food", "distilbert": "a man is [MASK] food",
          "deberta": "a man is [MASK] food",
          "roberta": "a man is <mask> food"}
SEQ_LABELS = ["negative", "neutral", "positive"]
TOKEN_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def tokenizer(family):
    if family == "roberta":
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        vocab = {w: i for i, w in enumerate(specials + WORDS)}
        tok = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
        tok.add_special_tokens(specials)
    else:
        vocab = {w: i for i, w in enumerate(BERT_WORDS)}
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        tok.add_special_tokens(BERT_WORDS[:5])
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def config(family, labels):
    label_args = {}
    if labels:
        label_args = dict(id2label=dict(enumerate(labels)),
                          label2id={l: i for i, l in enumerate(labels)})
    if family == "bert":
        return tf.BertConfig(vocab_size=len(BERT_WORDS), max_position_embeddings=64,
                             pad_token_id=0, **SIZE, **label_args)
    if family == "distilbert":
        return tf.DistilBertConfig(vocab_size=len(BERT_WORDS), dim=32, n_layers=2, n_heads=4,
                                   hidden_dim=64, max_position_embeddings=64, pad_token_id=0,
                                   **label_args)
    if family == "deberta":
        return tf.DebertaV2Config(vocab_size=len(BERT_WORDS), max_position_embeddings=64,
                                  pad_token_id=0, relative_attention=True,
                                  pos_att_type=["p2c", "c2p"], position_buckets=16,
                                  max_relative_positions=-1, norm_rel_ebd="layer_norm",
                                  share_att_key=True, position_biased_input=False,
                                  type_vocab_size=0, **SIZE, **label_args)
    return tf.RobertaConfig(vocab_size=len(WORDS) + 5, max_position_embeddings=66, pad_token_id=1,
                            bos_token_id=0, eos_token_id=2, type_vocab_size=1, **SIZE,
                            **label_args)


HEADS = {
    "cls": (SEQ_LABELS, {"bert": tf.BertForSequenceClassification,
                         "distilbert": tf.DistilBertForSequenceClassification,
                         "roberta": tf.RobertaForSequenceClassification,
                         "deberta": tf.DebertaV2ForSequenceClassification}),
    "ner": (TOKEN_LABELS, {"bert": tf.BertForTokenClassification,
                           "distilbert": tf.DistilBertForTokenClassification,
                           "roberta": tf.RobertaForTokenClassification,
                           "deberta": tf.DebertaV2ForTokenClassification}),
    "mlm": (None, {"bert": tf.BertForMaskedLM, "distilbert": tf.DistilBertForMaskedLM,
                   "roberta": tf.RobertaForMaskedLM}),
}


def make(family, head, out_dir):
    d = os.path.join(out_dir, f"{family}-{head}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    labels, classes = HEADS[head]
    tok = tokenizer(family)
    tok.save(os.path.join(d, "tokenizer.json"))
    torch.manual_seed(0)
    model = classes[family](config(family, labels)).eval()
    randomize(model, 1)
    model.save_pretrained(d, safe_serialization=True)
    inputs = [MASKED[family]] if head == "mlm" else SENTENCES
    outputs = []
    with torch.no_grad():
        for text in inputs:
            ids = tok.encode(text).ids
            logits = model(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
            outputs.append({"text": text, "ids": ids, "logits": logits.tolist()})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"outputs": outputs, "torch": torch.__version__, "transformers": tf.__version__}, f)
    print(f"{family}-{head}: {os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for family in ["bert", "distilbert", "roberta"]:
        for head in HEADS:
            make(family, head, args.out)
    for head in ["cls", "ner"]:
        make("deberta", head, args.out)


if __name__ == "__main__":
    main()
