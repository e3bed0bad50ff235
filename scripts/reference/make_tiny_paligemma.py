#!/usr/bin/env python3
"""A tiny random PaliGemma + PyTorch reference outputs for Hubble's image-text-to-text tests.

It builds a `PaliGemmaForConditionalGeneration` in google/paligemma-3b-*'s layout but tiny: a
SigLIP vision tower (42 px, patch 14: 9 image tokens, 2 layers, no head), the linear projector
and a Gemma decoder (2 layers, 32 wide, one key/value head, tied LM head). Saved under
tests/fixtures/tiny/paligemma/:
- config.json (`model_type: paligemma`, `text_config`, `vision_config`, `image_token_index`),
  model.safetensors;
- a Gemma tokenizer (byte-fallback BPE) trained here on a few sentences, `<image>` added as a
  special token: tokenizer.json + tokenizer_config.json. PaliGemmaProcessor also adds its 1152
  `<locXXXX>`/`<segXXX>` tokens, which the real vocabulary holds; they are left out of the saved
  tokenizer to keep the fixture small (the prompt has none);
- preprocessor_config.json (SiglipImageProcessor: 42 × 42 bicubic, mean/std 0.5);
- reference.json, for tests/fixtures/images/chelsea.png and PROMPT through the processor (PIL
  image processor): the prompt's input_ids (`<image>` × 9, `<bos>`, the prompt, "\n"), pixel
  values (statistics and a strided sample), the last position's logits (the prefix attends
  bidirectionally, positions count from 1) and 8 greedy tokens from `generate(do_sample=False)`
  with the decoded answer.

Usage (needs torch, transformers 5, tokenizers, safetensors, pillow; CPU is enough):
    python3 scripts/reference/make_tiny_paligemma.py [--out tests/fixtures/tiny]
"""
import argparse
import copy
import json
import os
import shutil
import sys

import torch
import transformers as tf
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402
from make_tiny_llava import CORPUS  # noqa: E402
from make_tiny_vision import IMAGES, PHOTOS, summary  # noqa: E402

SIDE = 42
PATCH = 14
STEPS = 8
PROMPT = "answer en What is in the picture?"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]


def gemma_tokenizer():
    """transformers' GemmaTokenizer (byte-fallback BPE) over a vocabulary trained on CORPUS."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581",
                                                         prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=160, show_progress=False, special_tokens=[])
    trainer_tok.train_from_iterator(CORPUS + ["answer en caption en"], trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in trained["merges"]]
    tok = tf.GemmaTokenizer(vocab=vocab, merges=merges)
    tok.add_special_tokens({"additional_special_tokens": [
        tf.AddedToken("<image>", normalized=False, special=True)]})
    return tok


def build(tok, seed):
    image_id = tok.convert_tokens_to_ids("<image>")
    text = tf.GemmaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                          head_dim=8, max_position_embeddings=128, pad_token_id=0,
                          eos_token_id=1, bos_token_id=2)
    vision = tf.SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, image_size=SIDE, patch_size=PATCH,
                                   projection_dim=32, vision_use_head=False)
    config = tf.PaliGemmaConfig(vision_config=vision, text_config=text,
                                image_token_index=image_id, projection_dim=32, hidden_size=32,
                                vocab_size=len(tok))
    config.architectures = ["PaliGemmaForConditionalGeneration"]
    torch.manual_seed(seed)
    model = tf.PaliGemmaForConditionalGeneration(config).eval()
    randomize(model, seed)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = os.path.join(args.out, "paligemma")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tok = gemma_tokenizer()
    image_processor = tf.SiglipImageProcessorPil(size={"height": SIDE, "width": SIDE},
                                                 resample=3)
    image_processor.image_seq_length = (SIDE // PATCH) ** 2
    # The processor adds its location and segmentation tokens to the tokenizer it is given.
    proc = tf.PaliGemmaProcessor(image_processor=image_processor, tokenizer=copy.deepcopy(tok))
    image = Image.open(os.path.join(IMAGES, PHOTOS[0]))
    inputs = proc(images=image, text=PROMPT, return_tensors="pt")
    specials = set(tok.all_special_ids)
    for seed in range(50):
        model = build(tok, seed)
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1]
            gen = model.generate(**inputs, max_new_tokens=STEPS, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True)
        new = gen.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        gaps = [float(torch.topk(s[0], 2).values.diff().abs()) for s in gen.scores]
        # Words or printable ASCII bytes (the tied head can't be biased away from the 256 byte
        # pieces), no special token, clear top-2 gaps.
        printable = all(i > 260 or 5 + 0x20 <= i <= 5 + 0x7E for i in new)
        if len(new) == STEPS and printable and not specials & set(new) and min(gaps) > 1e-2:
            break
    else:
        raise SystemExit("no seed gave a clean greedy path")
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    image_processor.save_pretrained(d)
    ref = {
        "photo": PHOTOS[0], "prompt": PROMPT, "seed": seed, "steps": STEPS,
        "input_ids": inputs["input_ids"][0].tolist(),
        "token_type_ids": inputs["token_type_ids"][0].tolist(),
        "pixel_values": summary(inputs["pixel_values"]),
        "last_logits": logits.tolist(),
        "greedy_tokens": new, "min_top2_gap": min(gaps),
        "answer": tok.decode(new, skip_special_tokens=True),
        "torch": torch.__version__, "transformers": tf.__version__,
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    size = os.path.getsize(os.path.join(d, "model.safetensors"))
    print(f"paligemma: seed {seed}, {size} bytes; ids {ref['input_ids']}; "
          f"greedy {new} {ref['answer']!r}, min gap {min(gaps):.4f}")
    print(sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
