#!/usr/bin/env python3
"""Three tiny random Stable Diffusion pipelines + diffusers reference outputs for Hubble's
text-to-image tests.

Each is saved by `StableDiffusionPipeline.save_pretrained` in diffusers' layout
(model_index.json; text_encoder/, tokenizer/, unet/, vae/, scheduler/ with their own configs,
safetensors), 8×8 latents and 16×16 images:
- sd1: SD 1.x's shape, saved as the `.fp16` safetensors variant: CLIP text encoder with
  quick_gelu, UNet with 1×1 convolution projections and one head count for every block,
  epsilon prediction, SD 1.5's PNDM scheduler config;
- sd2: SD 2.x's shape: exact GELU, linear projections, per-block head counts, v-prediction and
  SD 2.1's DDIM scheduler config; its tokenizer pads with "!" as SD 2's does;
- sdxl: SDXL's shape (`StableDiffusionXLPipeline`): two text encoders (the second with a
  projection, its tokenizer padding with "!"), their penultimate hidden states side by side, the
  UNet's added time embedding of the pooled text and the size/crop ids, two transformer layers
  in the attention block, `force_zeros_for_empty_prompt` (no negative prompt), SDXL's Euler
  scheduler config.
The tokenizer folders hold only the slow files (vocab.json, merges.txt and their configs) as
the real repositories do, so Hubble's CLIP tokenizer conversion is what reads them.

reference.json in each folder has, for the prompt and negative prompt below at guidance 7.5:
- each tokenizer's 77 ids for the texts;
- the fixed initial latents (seeded torch noise, before the scheduler's init sigma);
- per scheduler (Euler, Euler ancestral, DDIM, LCM for sd1; Euler and DDIM for sd2; Euler and
  Euler ancestral for sdxl), built with
  `from_config` over the saved scheduler config as a user switching schedulers would:
  the scheduler's timesteps, the UNet's raw output at step 1 (unconditional and conditional
  batch), the noise the scheduler drew at each step (ancestral and LCM; recorded so the Rust
  side can inject it), and the pipeline's float image (`output_type="np"`, after the VAE and
  [0, 1] clamping).

Usage (needs torch, diffusers, transformers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_sd.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers as tf
import diffusers
from diffusers.schedulers import (scheduling_euler_ancestral_discrete,
                                  scheduling_lcm)

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402

PROMPT = "a photo of an astronaut riding a horse"
NEGATIVE = "blurry, low quality"
GUIDANCE = 7.5
STEPS = 3
LATENT_SIDE = 8
WORDS = ("a photo of an astronaut riding horse blurry low quality cat on the moon "
         "painting red blue").split()
SCHEDULERS = {
    "sd1": ["EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "DDIMScheduler",
            "LCMScheduler"],
    "sd2": ["EulerDiscreteScheduler", "DDIMScheduler"],
    "sdxl": ["EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler"],
}


def bytes_to_unicode():
    """GPT-2's byte → printable character table, which CLIP's BPE shares."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_clip_tokenizer(path, pad_token):
    """CLIP's vocabulary layout (bytes, bytes + </w>, merges, the two specials) over the
    words above, each merged left to right into one token."""
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            if (pieces[0], pieces[1]) not in merges:
                merges.append((pieces[0], pieces[1]))
                if merged not in vocab:
                    vocab.append(merged)
            pieces = [merged] + pieces[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(path, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>", "pad_token": pad_token}
    with open(os.path.join(path, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=1)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "CLIPTokenizer", "model_max_length": 77,
                   "do_lower_case": True, **specials}, f, indent=1)
    return len(vocab)


def clip_text(vocab_size, act, projection=False):
    config = tf.CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=77, hidden_act=act,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=1,
        projection_dim=24)
    return tf.CLIPTextModelWithProjection(config) if projection else tf.CLIPTextModel(config)


def vae_and_scheduler_base():
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
        norm_num_groups=8, layers_per_block=1, sample_size=2 * LATENT_SIDE,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    base = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                beta_schedule="scaled_linear", steps_offset=1)
    return vae, base


def build_xl(work):
    tokenizers, encoders = [], []
    for i, (pad, act) in enumerate((("<|endoftext|>", "quick_gelu"), ("!", "gelu"))):
        tok_dir = os.path.join(work, f"tokenizer{'_2' if i else ''}")
        vocab_size = write_clip_tokenizer(tok_dir, pad)
        tokenizers.append(tf.CLIPTokenizer.from_pretrained(tok_dir))
        encoders.append(clip_text(vocab_size, act, projection=i == 1))
    unet = diffusers.UNet2DConditionModel(
        sample_size=LATENT_SIDE, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=64,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 24)
    vae, base = vae_and_scheduler_base()
    scheduler = diffusers.EulerDiscreteScheduler(timestep_spacing="leading", **base)
    for i, model in enumerate(encoders):
        randomize(model, 51 + i)
    for i, model in enumerate((unet, vae)):
        randomize_by_fan_in(model, 53 + i)
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(0.2)
    return diffusers.StableDiffusionXLPipeline(
        vae=vae, text_encoder=encoders[0], text_encoder_2=encoders[1], tokenizer=tokenizers[0],
        tokenizer_2=tokenizers[1], unet=unet, scheduler=scheduler,
        force_zeros_for_empty_prompt=True)


def build(kind, work):
    if kind == "sdxl":
        return build_xl(work)
    sd2 = kind == "sd2"
    tok_dir = os.path.join(work, "tokenizer")
    vocab_size = write_clip_tokenizer(tok_dir, "!" if sd2 else "<|endoftext|>")
    tokenizer = tf.CLIPTokenizer.from_pretrained(tok_dir)
    text_encoder = clip_text(vocab_size, "gelu" if sd2 else "quick_gelu")
    unet = diffusers.UNet2DConditionModel(
        sample_size=LATENT_SIDE, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=32,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(2, 4) if sd2 else 2, use_linear_projection=sd2,
        upcast_attention=sd2)
    vae, base = vae_and_scheduler_base()
    base["set_alpha_to_one"] = False
    if sd2:
        scheduler = diffusers.DDIMScheduler(prediction_type="v_prediction", clip_sample=False,
                                            **base)
    else:
        scheduler = diffusers.PNDMScheduler(skip_prk_steps=True, **base)
    randomize(text_encoder, 31)
    for i, model in enumerate((unet, vae)):
        randomize_by_fan_in(model, 32 + i)
    # The VAE's decoder output is squashed to a visible range, as a trained one's is.
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(0.2)
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    return pipe


def randomize_by_fan_in(model, seed):
    """Weights of standard deviation 1/√fan-in (a trained network's scale): deep random
    convolution stacks with larger weights amplify float32 rounding far past what real
    checkpoints do."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") or p.dim() < 2:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)


def recorded_noise(module, store):
    """Wraps a scheduler module's randn_tensor so each draw is kept."""
    original = module.randn_tensor

    def draw(*args, **kwargs):
        noise = original(*args, **kwargs)
        store.append(noise.flatten().tolist())
        return noise
    module.randn_tensor = draw
    return original


def run_scheduler(pipe, name, latents):
    pipe.scheduler = getattr(diffusers, name).from_config(pipe.scheduler.config)
    first = []

    def hook(_module, _inputs, output):
        if not first:
            first.append(output[0].flatten().tolist())
    handle = pipe.unet.register_forward_hook(hook)
    noise = []
    module = {"EulerAncestralDiscreteScheduler": scheduling_euler_ancestral_discrete,
              "LCMScheduler": scheduling_lcm}.get(name)
    original = recorded_noise(module, noise) if module else None
    steps = 2 if name == "LCMScheduler" else STEPS
    # SDXL: no negative prompt, so force_zeros_for_empty_prompt zeroes its conditioning.
    negative = None if isinstance(pipe, diffusers.StableDiffusionXLPipeline) else NEGATIVE
    image = pipe(PROMPT, negative_prompt=negative, num_inference_steps=steps,
                 guidance_scale=GUIDANCE, latents=latents.clone(), output_type="np",
                 generator=torch.Generator().manual_seed(5)).images[0]
    handle.remove()
    if module:
        module.randn_tensor = original
    return {
        "steps": steps,
        "timesteps": [float(t) for t in pipe.scheduler.timesteps],
        "init_noise_sigma": float(pipe.scheduler.init_noise_sigma),
        "unet_step1": first[0],
        "noise": noise,
        "image": image.astype(np.float64).flatten().tolist(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/tiny")
    args = parser.parse_args()
    torch.manual_seed(0)
    for kind in ("sd1", "sd2", "sdxl"):
        out = os.path.join(args.out, kind)
        shutil.rmtree(out, ignore_errors=True)
        work = out + ".work"
        pipe = build(kind, work)
        if kind == "sd1":
            # Half-precision files, as most repositories ship them: the reference below
            # computes in f32 from the same rounded weights Hubble reads.
            pipe.to(torch.float16).save_pretrained(out, variant="fp16")
        else:
            pipe.save_pretrained(out)
        # Real SD repositories ship only the slow tokenizer files: those written above.
        for folder in ("tokenizer", "tokenizer_2"):
            if os.path.isdir(os.path.join(work, folder)):
                shutil.rmtree(os.path.join(out, folder))
                shutil.copytree(os.path.join(work, folder), os.path.join(out, folder))
        shutil.rmtree(work)
        pipe = diffusers.DiffusionPipeline.from_pretrained(
            out, torch_dtype=torch.float32, variant="fp16" if kind == "sd1" else None,
            **({} if kind == "sdxl" else {"safety_checker": None}))
        tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if kind == "sdxl" else [])
        ids = [{
            text: tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids
            for text in (PROMPT, NEGATIVE, "")
        } for tokenizer in tokenizers]
        latents = torch.randn((1, 4, LATENT_SIDE, LATENT_SIDE),
                              generator=torch.Generator().manual_seed(11))
        reference = {
            "prompt": PROMPT, "negative_prompt": "" if kind == "sdxl" else NEGATIVE,
            "guidance": GUIDANCE,
            "ids": ids, "latents": latents.flatten().tolist(),
            "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                         "transformers": tf.__version__},
            "schedulers": {name: run_scheduler(pipe, name, latents)
                           for name in SCHEDULERS[kind]},
        }
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump(reference, f)
        print(kind, {k: v["timesteps"] for k, v in reference["schedulers"].items()})


if __name__ == "__main__":
    main()
