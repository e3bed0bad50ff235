#!/usr/bin/env python3
"""A tiny random BLIP captioner + PyTorch reference outputs for Hubble's image-to-text tests.

It builds a `BlipForConditionalGeneration` in the Salesforce/blip-image-captioning-* layout
(config.json with text_config + vision_config, a BERT WordPiece tokenizer.json with [DEC] as the
decoder's start token, preprocessor_config.json of BlipImageProcessor) but 2 layers deep, 32
wide and 64 px, saves it under tests/fixtures/tiny/blip/ and writes reference.json with, for
tests/fixtures/images/chelsea.png through transformers' PIL processor:
- the pixel values (statistics and a strided sample; BlipImageProcessor itself is checked at
  224 px on two photos in tests/fixtures/images/preprocess_reference.json, make_tiny_vision.py);
- the first decoder step's logits after [DEC], unconditional and after the prompt
  "a photography of";
- `model.generate` greedy ids (8 new tokens) and the decoded captions, for both.

The decoder's bias gives the special tokens other than [SEP] (the end of a caption) -4, so the
random model picks words; everything else is random (scaled so logits have clear gaps).

Usage (needs torch, transformers, tokenizers, safetensors, pillow; CPU is enough):
    python3 scripts/reference/make_tiny_blip.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys

import torch
import transformers as tf
from PIL import Image
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402
from make_tiny_vision import IMAGES, PHOTOS, processor, summary  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("a an the of on in with and photography picture cat dog man woman couch bed table "
         "sitting lying sleeping two three red blue green white black sofa grass street "
         "##s ##ing ##ed").split()
DECODER = ["[DEC]", "[ENC]"]
PROMPT = "a photography of"
STEPS = 8
SIDE = 64
SEED = 17


def tokenizer():
    """bert-base-uncased's pipeline over a small vocabulary; [DEC]/[ENC] appended like BLIP's."""
    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS + DECODER)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(SPECIALS + DECODER)
    return tok, vocab


def build(vocab):
    text = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=32, projection_dim=32,
                bos_token_id=vocab["[DEC]"], pad_token_id=vocab["[PAD]"],
                sep_token_id=vocab["[SEP]"], eos_token_id=vocab["[SEP]"])
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, image_size=SIDE, patch_size=16, projection_dim=32)
    config = tf.BlipConfig(text_config=text, vision_config=vision, projection_dim=32,
                           image_text_hidden_size=32)
    config.architectures = ["BlipForConditionalGeneration"]
    torch.manual_seed(0)
    model = tf.BlipForConditionalGeneration(config).eval()
    randomize(model, SEED)
    with torch.no_grad():
        bias = model.text_decoder.cls.predictions.bias
        for token in ["[PAD]", "[UNK]", "[CLS]", "[MASK]"] + DECODER:
            bias[vocab[token]] = -4.0
    return model


def step_logits(model, pv, ids):
    with torch.no_grad():
        embeds = model.vision_model(pixel_values=pv)[0]
        out = model.text_decoder(input_ids=torch.tensor([ids]), encoder_hidden_states=embeds)
    return out.logits[0, -1]


def caption(model, pv, fast, prompt_ids):
    kwargs = dict(max_new_tokens=STEPS, do_sample=False, num_beams=1)
    with torch.no_grad():
        if prompt_ids is None:
            out = model.generate(pixel_values=pv, **kwargs)[0]
        else:
            out = model.generate(pixel_values=pv, input_ids=torch.tensor([prompt_ids]), **kwargs)[0]
    ids = out.tolist()
    return ids, fast.decode(ids, skip_special_tokens=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = os.path.join(args.out, "blip")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tok, vocab = tokenizer()
    tok.save(os.path.join(d, "tokenizer.json"))
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tok)
    model = build(vocab)
    proc = processor("blip", SIDE)
    proc.save_pretrained(d)
    image = Image.open(os.path.join(IMAGES, PHOTOS[0]))
    pv = proc(images=image, return_tensors="pt")["pixel_values"]
    # What BlipForConditionalGeneration.generate feeds the decoder: [DEC] in place of [CLS], the
    # trailing [SEP] dropped.
    prompt_ids = tok.encode(PROMPT).ids
    prompt_ids[0] = vocab["[DEC]"]
    prompt_ids = prompt_ids[:-1]
    ids, text = caption(model, pv, fast, None)
    prompted_ids, prompted_text = caption(model, pv, fast, tok.encode(PROMPT).ids)
    model.save_pretrained(d, safe_serialization=True)
    ref = {
        "photo": PHOTOS[0], "steps": STEPS, "prompt": PROMPT,
        "pixel_values": summary(pv),
        "start_logits": step_logits(model, pv, [vocab["[DEC]"]]).tolist(),
        "greedy_ids": ids, "caption": text,
        "prompt_ids": prompt_ids,
        "prompt_logits": step_logits(model, pv, prompt_ids).tolist(),
        "prompted_ids": prompted_ids, "prompted_caption": prompted_text,
        "torch": torch.__version__, "transformers": tf.__version__,
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    size = os.path.getsize(os.path.join(d, "model.safetensors"))
    print(f"blip: {size} bytes; caption {text!r} {ids}; prompted {prompted_text!r} {prompted_ids}")


if __name__ == "__main__":
    main()
