#!/usr/bin/env python3
"""Driver for scripts/bench-image.sh: builds full-size random checkpoints (ViT-B/16 224,
ResNet-50, ConvNeXt-T 224; latency does not depend on the weights' values) with their image
processors, times Hubble (examples/bench_image.rs) and PyTorch transformers (the PIL image
processor + the model's forward, torch threads = THREADS) on the same photo, and prints a
Markdown table."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import torch
import transformers as tf
from PIL import Image

MODELS = {
    "ViT-B/16 (86M)": (lambda: tf.ViTForImageClassification(tf.ViTConfig(num_labels=1000)),
                       lambda: tf.ViTImageProcessorPil()),
    "ResNet-50 (26M)": (lambda: tf.ResNetForImageClassification(tf.ResNetConfig(num_labels=1000)),
                        lambda: tf.ConvNextImageProcessorPil(size={"shortest_edge": 224})),
    "ConvNeXt-T (29M)": (lambda: tf.ConvNextForImageClassification(
        tf.ConvNextConfig(num_labels=1000)),
                         lambda: tf.ConvNextImageProcessorPil(size={"shortest_edge": 224})),
}


def torch_times(model, proc, image, runs):
    pre, total = [], []
    with torch.inference_mode():
        for run in range(runs + 1):
            t = time.perf_counter()
            pv = proc(images=image, return_tensors="pt")["pixel_values"]
            p = (time.perf_counter() - t) * 1e3
            model(pixel_values=pv).logits.softmax(-1)
            a = (time.perf_counter() - t) * 1e3
            if run:
                pre.append(p)
                total.append(a)
    return statistics.median(pre), statistics.median(total)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the bench_image binary")
    ap.add_argument("--image", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", default="dev")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    image = Image.open(args.image)
    rows = []
    for name, (build, processor) in MODELS.items():
        torch.manual_seed(0)
        model = build().eval()
        proc = processor()
        d = os.path.join(args.work, name.split()[0].replace("/", "-"))
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            model.save_pretrained(d, safe_serialization=True)
            proc.save_pretrained(d)
        env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
        out = subprocess.run([args.bench, d, args.image, str(args.runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
        hubble = json.loads(out.strip().splitlines()[-1])
        pre, total = torch_times(model, proc, image, args.runs)
        rows.append((name, hubble, pre, total))
    print(f"{platform.processor() or platform.machine()}, {args.threads} threads, median of "
          f"{args.runs} runs after a warm-up, Hubble profile `{args.profile}`, torch "
          f"{torch.__version__}, transformers {tf.__version__}\n")
    print("| model | Hubble preprocess | Hubble forward | Hubble total | PyTorch preprocess "
          "| PyTorch forward | PyTorch total |")
    print("|---|---|---|---|---|---|---|")
    for name, h, pre, total in rows:
        print(f"| {name} | {h['preprocess_ms']:.1f} ms | {h['forward_ms']:.1f} ms | "
              f"{h['total_ms']:.1f} ms | {pre:.1f} ms | {total - pre:.1f} ms | {total:.1f} ms |")


if __name__ == "__main__":
    main()
