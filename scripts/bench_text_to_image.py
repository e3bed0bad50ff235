#!/usr/bin/env python3
"""Driver for scripts/bench-text-to-image.sh: builds a random pipeline in SD-Turbo's shape
(stabilityai/sd-turbo's configs: SD 2.1's UNet of 865M parameters, the 23-layer OpenCLIP-H text
encoder, the KL VAE, Euler with trailing spacing; the time does not depend on the weights'
values), saves it in diffusers' layout (fp16 safetensors, as the repository ships them), then
times one 512 × 512 picture with 1 step and guidance 0 through PyTorch diffusers
(`StableDiffusionPipeline`, torch threads = THREADS) and through `hubble run --task
text-to-image` (its `seconds`: text encoding, the step and the VAE decode, the load excluded,
as the PyTorch time), median of RUNS after a warm-up, and prints a Markdown table."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import diffusers
import torch
import transformers as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
from make_tiny_sd import write_clip_tokenizer  # noqa: E402

PROMPT = "a photo of an astronaut riding a horse on the moon"


def build(path):
    """SD-Turbo's component configs with random weights (built once, then reused)."""
    if os.path.exists(os.path.join(path, "model_index.json")):
        return
    torch.manual_seed(0)
    tok_dir = path + ".tokenizer"
    write_clip_tokenizer(tok_dir, "!")
    text_encoder = tf.CLIPTextModel(tf.CLIPTextConfig(
        vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
        num_hidden_layers=23, max_position_embeddings=77, hidden_act="gelu",
        projection_dim=512, bos_token_id=49406, eos_token_id=49407, pad_token_id=1))
    unet = diffusers.UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=1024,
        attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
        block_out_channels=(128, 256, 512, 512), sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        timestep_spacing="trailing", steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tf.CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.to(torch.float16).save_pretrained(path, variant="fp16")
    import shutil
    shutil.rmtree(os.path.join(path, "tokenizer"))
    shutil.copytree(tok_dir, os.path.join(path, "tokenizer"))
    shutil.rmtree(tok_dir)


def torch_seconds(path, runs, threads):
    torch.set_num_threads(threads)
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(
        path, variant="fp16", torch_dtype=torch.float32, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    times = []
    with torch.inference_mode():
        for run in range(runs + 1):
            start = time.perf_counter()
            pipe(PROMPT, num_inference_steps=1, guidance_scale=0.0, height=512, width=512,
                 generator=torch.Generator().manual_seed(run))
            if run:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def hubble_seconds(binary, path, runs, threads, work):
    times = []
    for run in range(runs + 1):
        out = subprocess.run(
            [binary, "run", "--model-dir", path, "--task", "text-to-image", "--input", PROMPT,
             "--steps", "1", "--guidance", "0", "--seed", str(run), "--device", "cpu",
             "--output", os.path.join(work, "hubble.png"), "--json"],
            check=True, capture_output=True, text=True,
            env={**os.environ, "RAYON_NUM_THREADS": str(threads)})
        if run:
            times.append(json.loads(out.stdout)["seconds"])
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubble", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", default="dev")
    args = ap.parse_args()
    path = os.path.join(args.work, "sd-turbo-random")
    build(path)
    hub = hubble_seconds(args.hubble, path, args.runs, args.threads, args.work)
    pt = torch_seconds(path, args.runs, args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.profile} build; torch {torch.__version__}, diffusers {diffusers.__version__}; "
          f"median of {args.runs} after a warm-up, {args.threads} threads\n")
    print("| pipeline | Hubble | PyTorch diffusers | Hubble ÷ PyTorch speed |")
    print("|---|---|---|---|")
    print(f"| SD-Turbo shape, 512 × 512, 1 step, guidance 0 | {hub:.2f} s | {pt:.2f} s "
          f"| {pt / hub:.2f}× |")


if __name__ == "__main__":
    main()
