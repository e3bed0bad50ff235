#!/usr/bin/env python3
"""Tiny random object-detection checkpoints + PyTorch reference outputs for Hubble's parity tests.

Builds three tiny models with transformers (fp32, CPU, seeded) under tests/fixtures/tiny/<name>/:

- `detr-resnet-timm`: DetrForObjectDetection with timm's ResNet-50 layout, as facebook/detr-resnet-50
  ships it (`model.backbone.conv_encoder.model.layer1.0.conv1.weight`, frozen batch norms). timm
  cannot build a small network under the name `resnet50`, so the backbone is timm's own ResNet class
  with ResNet-50's bottleneck blocks but fewer of them and narrow channels (`layers=(2, 1, 1, 1)`,
  `channels=(4, 8, 8, 16)`, `stem_width=8`), swapped into the model before the weights are drawn.
  config.json is written the way the Hub's DETR checkpoints have it (`use_timm_backbone: true`,
  `backbone: "resnet50"`); loading the folder back in transformers would build a full-width
  ResNet-50 and fail on the shapes, so the reference is computed on the in-memory model.
- `detr-resnet-hf`: DetrForObjectDetection with transformers' own ResNet backbone
  (`use_timm_backbone=False`, `backbone_config` a ResNetConfig; names like
  `model.backbone.conv_encoder.model.encoder.stages.0.layers.0.layer.0.convolution.weight`).
- `yolos`: YolosForObjectDetection (ViT with detection tokens, mid-layer position embeddings, the
  position embeddings interpolated bicubically from config.image_size to the input's size).

Each folder gets config.json (five COCO-like labels), model.safetensors, preprocessor_config.json
(`DetrImageProcessorPil` / `YolosImageProcessorPil`, the PIL backend Hubble reproduces, ImageNet
mean/std, bilinear, small shortest/longest edges) and reference.json: for each photo of
tests/fixtures/images (chelsea.png, coffee-crop.png) the pixel_values statistics and strided sample,
the pixel_mask, the raw logits and pred_boxes (all queries), and what
`pipeline("object-detection", threshold=T)` returns (score, label, box with the pipeline's int
corners, plus the float `corners` of `post_process_object_detection` behind them), with T chosen
here so that several boxes pass and no score lies within MARGIN of T.

The class heads are scaled so that the random models' scores are well spread (a tiny random DETR
otherwise gives near-uniform softmaxes): the kept boxes' best class beats the second by at least
MARGIN, so labels and the kept set are stable under float noise.

Usage (needs torch, transformers 5, timm, safetensors, pillow; CPU is enough):
    python3 scripts/reference/make_tiny_detection.py [--out tests/fixtures/tiny] [names...]
"""
import argparse
import json
import os
import shutil

import timm
import torch
import transformers as tf
from PIL import Image
from transformers.models.detr.modeling_detr import replace_batch_norm

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "../../tests/fixtures/images")
PHOTOS = ["chelsea.png", "coffee-crop.png"]
LABELS = ["person", "cat", "dog", "cup", "car"]
STRIDE = 97
MARGIN = 0.01
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

DETR = dict(d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=12)


def labels():
    return dict(id2label={i: l for i, l in enumerate(LABELS)},
                label2id={l: i for i, l in enumerate(LABELS)})


def summary(t):
    flat = t.flatten().double()
    return {"shape": list(t.shape), "sum": float(flat.sum()), "abs_sum": float(flat.abs().sum()),
            "min": float(flat.min()), "max": float(flat.max()), "stride": STRIDE,
            "sample": [float(v) for v in flat[::STRIDE]]}


def randomize(model, seed):
    """Weights drawn so activations stay O(1) through the backbone and the class head spreads."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "layernorm" in name.lower()):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() == 4:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / fan_in) ** 0.5)
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))
        # Batch norms (frozen or not): affine parameters and running statistics.
        for mod in model.modules():
            if hasattr(mod, "running_mean") and hasattr(mod, "running_var"):
                n = mod.running_mean.shape[0]
                mod.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=g))
                mod.bias.copy_(0.1 * torch.randn(n, generator=g))
                mod.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(n, generator=g))
        # Distinct object queries (DETR) / detection tokens (YOLOS), so queries disagree.
        for name in ("query_position_embeddings", "detection_tokens"):
            for pname, p in model.named_parameters():
                if pname.split(".")[-2:][0] == name or pname.endswith(name):
                    p.copy_(torch.randn(p.shape, generator=g))



def sharpen_cross_attention(model):
    """DETR: sharper, stronger cross-attention so object queries read different places.

    With random weights every query attends almost uniformly over the feature map, so the
    decoder's outputs differ by ~0.01 between queries and any head that separates them amplifies
    float rounding too. Scaling the cross-attention's query/key projections by 6 and its
    value/output projections by 3 makes the queries differ by ~0.1 (ten times better conditioned).
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".encoder_attn." in name and name.endswith("weight"):
                p.mul_(6.0 if ("q_proj" in name or "k_proj" in name) else 3.0)


def spread_class_head(model, batches, spread, draw):
    """Rewrites the class head's last linear layer so that its scores separate the queries.

    Random object queries give nearly identical inputs to the head, and the two photos differ
    more than the queries do, so a random head scores every query alike. The new rows are random
    mixtures of the top principal directions of the queries' inputs (each photo centred on its
    own mean, the direction between the photos' means projected out), scaled so that the logits
    spread by about `spread`, with the bias centring them on the photos' midpoint: still one
    linear layer, now with query-dependent, well separated scores on both photos. Using the
    principal directions keeps the scale, and with it the amplified float rounding, small.
    """
    final = model.class_labels_classifier
    final = final.layers[-1] if hasattr(final, "layers") else final
    seen = []
    hook = final.register_forward_hook(lambda mod, args, out: seen.append(args[0][0]))
    g = torch.Generator().manual_seed(draw)
    with torch.no_grad():
        for inputs in batches:
            model(**inputs)
        hook.remove()
        means = [x.mean(0) for x in seen]
        d = means[0] - means[1]
        within = torch.cat([x - m for x, m in zip(seen, means)])
        basis = torch.linalg.svd(within, full_matrices=False).Vh[:4]
        basis = basis - torch.outer(basis @ d, d) / d.dot(d)
        w = torch.randn(final.weight.shape[0], basis.shape[0], generator=g) @ basis
        mean = (means[0] + means[1]) / 2
        centred = torch.cat([(x - mean) @ w.T for x in seen])
        w = w * (spread / centred.std())
        final.bias.copy_(0.1 * torch.randn(w.shape[0], generator=g) - w @ mean)
        final.weight.copy_(w)


def timm_detr():
    config = tf.DetrConfig(**DETR, **labels(), backbone="resnet50", use_timm_backbone=True)
    model = tf.DetrForObjectDetection(config)
    backbone = timm.create_model("resnet50", pretrained=False, features_only=True,
                                 out_indices=(1, 2, 3, 4), in_chans=3, layers=(2, 1, 1, 1),
                                 channels=(4, 8, 8, 16), stem_width=8)
    replace_batch_norm(backbone)
    model.model.backbone.model = backbone
    model.model.input_projection = torch.nn.Conv2d(backbone.feature_info.channels()[-1],
                                                   DETR["d_model"], kernel_size=1)
    return model


def hf_detr():
    backbone = tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64],
                               depths=[1, 2, 1, 1], layer_type="bottleneck",
                               out_features=["stage4"])
    config = tf.DetrConfig(**DETR, **labels(), backbone_config=backbone, use_timm_backbone=False)
    return tf.DetrForObjectDetection(config)


def yolos():
    config = tf.YolosConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                            intermediate_size=64, image_size=[32, 48], patch_size=8,
                            num_detection_tokens=12, use_mid_position_embeddings=True,
                            **labels())
    return tf.YolosForObjectDetection(config)


def detr_processor(shortest, longest):
    return tf.DetrImageProcessorPil(size={"shortest_edge": shortest, "longest_edge": longest},
                                    resample=2, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)


def yolos_processor(shortest, longest):
    return tf.YolosImageProcessorPil(size={"shortest_edge": shortest, "longest_edge": longest},
                                     resample=2, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)


MODELS = {
    # name: (builder, processor, class-head logit spread, seed)
    "detr-resnet-timm": (timm_detr, lambda: detr_processor(96, 140), 3.0, 0),
    "detr-resnet-hf": (hf_detr, lambda: detr_processor(80, 160), 3.0, 1),
    "yolos": (yolos, lambda: yolos_processor(72, 100), 3.0, 2),
}


def hub_style_detr_config(d):
    """The timm layout's config.json as facebook/detr-resnet-50 has it (no backbone_config)."""
    path = os.path.join(d, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.pop("backbone_config")
    config.update(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False,
                  backbone_config=None, backbone_kwargs=None)
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def choose_threshold(all_scores):
    """A threshold (3 decimals) keeping 3-8 boxes per photo, as far as possible from every score
    and at least MARGIN from each; None if there is none."""
    flat = sorted(s for scores in all_scores for s in scores)
    best = None
    for t in [i / 1000 for i in range(1, 1000)]:
        kept = [sum(s > t for s in scores) for scores in all_scores]
        if min(kept) < 3 or max(kept) > 8:
            continue
        gap = min(abs(s - t) for s in flat)
        if best is None or gap > best[1]:
            best = (t, gap)
    return best[0] if best is not None and best[1] >= MARGIN else None


def labels_clear(probs, threshold):
    """Whether every kept query's best class beats its second by at least MARGIN."""
    top2 = probs.topk(2, dim=-1).values
    kept = top2[:, 0] > threshold
    return bool(((top2[:, 0] - top2[:, 1])[kept] >= MARGIN).all())


def make(name, out):
    build, make_processor, spread, seed = MODELS[name]
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    torch.manual_seed(seed)
    model = build().eval()
    randomize(model, seed)
    sharpen_cross_attention(model)
    proc = make_processor()
    photos = [Image.open(os.path.join(IMAGES, p)).convert("RGB") for p in PHOTOS]
    batches = [proc(images=[p], return_tensors="pt") for p in photos]
    # The head's draws are tried in turn until one leaves a threshold with a clear margin (the
    # head's inputs do not depend on it, so each draw simply replaces the previous one).
    for draw in range(100 * seed, 100 * seed + 20):
        spread_class_head(model, batches, spread, draw)
        runs = []
        for photo, image, inputs in zip(PHOTOS, photos, batches):
            with torch.no_grad():
                outputs = model(**inputs)
            probs = outputs.logits[0].softmax(-1)[:, :-1]
            runs.append((photo, image, inputs, outputs, probs))
        threshold = choose_threshold([p.max(-1).values.tolist() for *_, p in runs])
        if threshold is not None and all(labels_clear(p, threshold) for *_, p in runs):
            break
    else:
        raise SystemExit(f"{name}: no head draw leaves a threshold {MARGIN} from every score")
    detector = tf.pipeline("object-detection", model=model, image_processor=proc, device="cpu")
    photos = {}
    for photo, image, inputs, outputs, probs in runs:
        found = detector(image, threshold=threshold)
        # The float corners behind the pipeline's ints.
        post = proc.post_process_object_detection(outputs, threshold,
                                                  target_sizes=[(image.height, image.width)])[0]
        assert len(post["boxes"]) == len(found)
        for det, corners in zip(found, post["boxes"].tolist()):
            det["corners"] = corners
        photos[photo] = {
            "width": image.width, "height": image.height,
            "pixel_values": summary(inputs["pixel_values"]),
            "pixel_mask": summary(inputs["pixel_mask"].float()),
            "logits": outputs.logits[0].tolist(),
            "pred_boxes": outputs.pred_boxes[0].tolist(),
            "detections": found,
        }
        print(f"{name} {photo}: {tuple(inputs['pixel_values'].shape)}, {len(found)} boxes")
    model.save_pretrained(d, safe_serialization=True)
    proc.save_pretrained(d)
    if name == "detr-resnet-timm":
        hub_style_detr_config(d)
    ref = {"threshold": threshold, "labels": LABELS, "photos": photos,
           "image_processor": type(proc).__name__, "torch": torch.__version__,
           "transformers": tf.__version__, "timm": timm.__version__}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"{name}: threshold {threshold}, "
          f"{os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "../../tests/fixtures/tiny"))
    ap.add_argument("names", nargs="*", default=list(MODELS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name in args.names:
        if name not in MODELS:
            raise SystemExit(f"unknown name {name}")
        make(name, args.out)


if __name__ == "__main__":
    main()
