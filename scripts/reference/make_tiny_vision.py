#!/usr/bin/env python3
"""Tiny random vision checkpoints + PyTorch reference outputs for Hubble's parity tests.

For ViT, ConvNeXt, ResNet (image classification), CLIP and SigLIP (zero-shot) it builds a tiny
model with transformers (fp32, CPU), saves config.json + model.safetensors +
preprocessor_config.json (+ a word-level tokenizer.json for CLIP/SigLIP) under
tests/fixtures/tiny/<name>/, runs the transformers PIL image processor on
tests/fixtures/images/chelsea.png and writes reference.json with the logits (and, for the
zero-shot models, the token ids of each "a photo of {label}" text).

It also writes tests/fixtures/images/preprocess_reference.json: the output tensor of the real
processors (ViT bilinear 224x224, ConvNeXt crop_pct, CLIP shortest-edge + center crop, SigLIP
bicubic 224x224, BLIP bicubic 224x224 with CLIP's mean/std) on the real photos, as statistics and a strided sample of values, so the Rust
preprocessing is checked pixel for pixel without committing 600 KB tensors.

The PIL backend of the processors is used on purpose (`*ImageProcessorPil`): it is what
transformers runs without torchvision, and what Hubble reproduces (Pillow's resampling).

Usage (needs torch, transformers, tokenizers, safetensors, pillow; CPU is enough):
    python3 scripts/reference/make_tiny_vision.py [--out tests/fixtures/tiny] [names...]
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
import transformers as tf
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from make_tiny_checkpoints import randomize

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "../../tests/fixtures/images")
PHOTOS = ["chelsea.png", "coffee-crop.png"]
LABELS = ["cat", "dog", "car", "tree", "house"]
TEMPLATE = "a photo of {}"
STRIDE = 97

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def processor(kind, side):
    """The processor each model family ships, scaled to `side` pixels."""
    if kind == "vit":
        return tf.ViTImageProcessorPil(size={"height": side, "width": side}, resample=2)
    if kind == "convnext":
        return tf.ConvNextImageProcessorPil(size={"shortest_edge": side}, crop_pct=0.875,
                                            resample=3, image_mean=IMAGENET_MEAN,
                                            image_std=IMAGENET_STD)
    if kind == "clip":
        return tf.CLIPImageProcessorPil(size={"shortest_edge": side},
                                        crop_size={"height": side, "width": side}, resample=3)
    if kind == "siglip":
        return tf.SiglipImageProcessorPil(size={"height": side, "width": side}, resample=3)
    if kind == "blip":
        return tf.BlipImageProcessorPil(size={"height": side, "width": side})
    raise ValueError(kind)


def pixels(proc, photo):
    image = Image.open(os.path.join(IMAGES, photo))
    return proc(images=image, return_tensors="pt")["pixel_values"]


def summary(t):
    flat = t.flatten().double()
    return {"shape": list(t.shape), "sum": float(flat.sum()), "abs_sum": float(flat.abs().sum()),
            "min": float(flat.min()), "max": float(flat.max()), "stride": STRIDE,
            "sample": [float(v) for v in flat[::STRIDE]]}


def save_processor(proc, d):
    proc.save_pretrained(d)


def word_tokenizer(d, pad_to=None):
    """Word-level tokenizer over the template words and labels; `</s>` (the last id) ends a text."""
    words = ["<unk>", "<pad>", "<s>"] + TEMPLATE.format("").split() + LABELS + ["</s>"]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
    if pad_to:
        tok.enable_padding(pad_id=vocab["<pad>"], pad_token="<pad>", length=pad_to)
    tok.save(os.path.join(d, "tokenizer.json"))
    return tok, len(words)


def fresh(out, name):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def finish(d, model, ref):
    model.save_pretrained(d, safe_serialization=True)
    ref.update(torch=torch.__version__, transformers=tf.__version__, photo=PHOTOS[0])
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"{os.path.basename(d)}: {os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


CLASSIFIERS = {
    "vit-cls": ("vit", lambda labels: tf.ViTForImageClassification(tf.ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        image_size=32, patch_size=8, **labels))),
    "convnext-cls": ("convnext", lambda labels: tf.ConvNextForImageClassification(
        tf.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[2, 1],
                          layer_scale_init_value=0.5, **labels))),
    "resnet-cls": ("convnext", lambda labels: tf.ResNetForImageClassification(tf.ResNetConfig(
        embedding_size=8, hidden_sizes=[16, 32], depths=[1, 2], layer_type="bottleneck",
        downsample_in_bottleneck=True, **labels))),
    "resnet18-cls": ("convnext", lambda labels: tf.ResNetForImageClassification(tf.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[2, 1], layer_type="basic", **labels))),
}


def make_classifier(name, out):
    kind, build = CLASSIFIERS[name]
    d = fresh(out, name)
    labels = dict(id2label={i: l for i, l in enumerate(LABELS)},
                  label2id={l: i for i, l in enumerate(LABELS)})
    torch.manual_seed(0)
    model = build(labels).eval()
    randomize(model, 0)
    # BatchNorm running statistics are buffers, not parameters: give them non-trivial values.
    g = torch.Generator().manual_seed(1)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
            mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
    proc = processor(kind, 32)
    save_processor(proc, d)
    pv = pixels(proc, PHOTOS[0])
    with torch.no_grad():
        logits = model(pixel_values=pv).logits[0]
    finish(d, model, {"pixel_values": summary(pv), "logits": logits.tolist()})


def make_zero_shot(name, out):
    d = fresh(out, name)
    siglip = name == "siglip"
    tok, vocab = word_tokenizer(d, pad_to=16 if siglip else None)
    text = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, image_size=32, patch_size=8)
    torch.manual_seed(0)
    if siglip:
        text.update(pad_token_id=1, bos_token_id=2, eos_token_id=vocab - 1)
        config = tf.SiglipConfig(text_config=text, vision_config=vision)
        model = tf.SiglipModel(config).eval()
        proc = processor("siglip", 32)
    else:
        text.update(pad_token_id=1, bos_token_id=2, eos_token_id=vocab - 1)
        config = tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
        model = tf.CLIPModel(config).eval()
        proc = processor("clip", 32)
    randomize(model, 0)
    with torch.no_grad():
        model.logit_scale.fill_(1.5)
        if siglip:
            model.logit_bias.fill_(-0.5)
    save_processor(proc, d)
    pv = pixels(proc, PHOTOS[0])
    texts = [TEMPLATE.format(label) for label in LABELS]
    ids = [tok.encode(t).ids for t in texts]
    with torch.no_grad():
        if siglip:
            logits = model(pixel_values=pv, input_ids=torch.tensor(ids)).logits_per_image[0]
            probs = torch.sigmoid(logits)
        else:
            # Each text alone (no padding): the causal mask makes this equal to a padded batch.
            rows = [model(pixel_values=pv, input_ids=torch.tensor([i])).logits_per_image[0, 0]
                    for i in ids]
            logits = torch.stack(rows)
            probs = logits.softmax(-1)
    finish(d, model, {"labels": LABELS, "template": TEMPLATE, "input_ids": ids,
                      "pixel_values": summary(pv), "logits": logits.tolist(),
                      "scores": probs.tolist()})


def make_preprocess_reference():
    out = {"stride": STRIDE, "photos": {}}
    for photo in PHOTOS:
        out["photos"][photo] = {
            kind: {"config": processor(kind, 224).to_dict(), "pixel_values": summary(
                pixels(processor(kind, 224), photo))}
            for kind in ("vit", "convnext", "clip", "siglip", "blip")}
    for per in out["photos"].values():
        for entry in per.values():
            entry["config"] = {k: v for k, v in entry["config"].items()
                               if k in ("do_resize", "size", "resample", "do_center_crop",
                                        "crop_size", "crop_pct", "do_rescale", "rescale_factor",
                                        "do_normalize", "image_mean", "image_std",
                                        "do_convert_rgb", "image_processor_type")}
    with open(os.path.join(IMAGES, "preprocess_reference.json"), "w") as f:
        json.dump(out, f)
    print("preprocess_reference.json written")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "../../tests/fixtures/tiny"))
    ap.add_argument("names", nargs="*",
                    default=list(CLASSIFIERS) + ["clip", "siglip", "preprocess"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name in args.names:
        if name in CLASSIFIERS:
            make_classifier(name, args.out)
        elif name in ("clip", "siglip"):
            make_zero_shot(name, args.out)
        elif name == "preprocess":
            make_preprocess_reference()
        else:
            raise SystemExit(f"unknown name {name}")


if __name__ == "__main__":
    main()
