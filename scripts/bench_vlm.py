#!/usr/bin/env python3
"""Driver for scripts/bench-vlm.sh: builds a random LLaVA-1.5-shaped model — CLIP ViT-B/16 at
224 px (196 image tokens, features from the second-to-last layer), the GELU projector, a Llama
in SmolLM2-135M's shape (576 wide, 30 layers, 9 heads, 3 key/value heads, 49,152 tokens) — with
the tiny LLaVA fixture's tokenizer, chat template and CLIP image processing at 224 px; then
answers one question about tests/fixtures/images/chelsea.png greedily for TOKENS new tokens through
PyTorch transformers (`LlavaForConditionalGeneration.generate`, torch threads = THREADS) and
`hubble run --task image-text-to-text` (RAYON_NUM_THREADS = THREADS). Prompt speed: prompt
tokens (the image's included) ÷ the time to the first new token (image encoded, prompt run);
decode speed: the later tokens ÷ their time. Median of RUNS after a warm-up; the load is not
timed. Prints a Markdown table."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time

import torch
import transformers as tf
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "tiny", "llava")
IMAGE = os.path.join(HERE, "..", "tests", "fixtures", "images", "chelsea.png")
QUESTION = "What is in this picture? Describe it in detail."
VOCAB = 49152


def build(path):
    if os.path.exists(os.path.join(path, "model.safetensors")):
        return
    os.makedirs(path, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(os.path.join(FIXTURE, name), os.path.join(path, name))
    tiny = json.load(open(os.path.join(FIXTURE, "config.json")))
    image_token = tiny["image_token_index"]
    vision = tf.CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                 num_attention_heads=12, image_size=224, patch_size=16,
                                 projection_dim=512)
    text = tf.LlamaConfig(vocab_size=VOCAB, hidden_size=576, intermediate_size=1536,
                          num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                          max_position_embeddings=2048, rms_norm_eps=1e-5,
                          tie_word_embeddings=False, bos_token_id=1, eos_token_id=VOCAB - 1,
                          pad_token_id=tiny["pad_token_id"])
    config = tf.LlavaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                            image_token_index=image_token, image_seq_length=196,
                            vision_feature_layer=-2, vision_feature_select_strategy="default",
                            pad_token_id=tiny["pad_token_id"])
    torch.manual_seed(0)
    model = tf.LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = VOCAB - 1
    model.save_pretrained(path)
    processor = tf.AutoProcessor.from_pretrained(FIXTURE)
    processor.image_processor.size = {"shortest_edge": 224}
    processor.image_processor.crop_size = {"height": 224, "width": 224}
    processor.patch_size = 16
    processor.num_additional_image_tokens = 1
    processor.save_pretrained(path)


def prompt(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)


def torch_speeds(path, runs, threads, tokens):
    torch.set_num_threads(threads)
    model = tf.LlavaForConditionalGeneration.from_pretrained(path).eval()
    processor = tf.AutoProcessor.from_pretrained(path)
    image = Image.open(IMAGE).convert("RGB")
    prompts, decodes, prompt_len = [], [], 0
    with torch.inference_mode():
        for run in range(runs + 1):
            start = time.perf_counter()
            inputs = processor(images=image, text=prompt(processor), return_tensors="pt")
            model.generate(**inputs, do_sample=False, max_new_tokens=1, min_new_tokens=1)
            first = time.perf_counter() - start
            start = time.perf_counter()
            inputs = processor(images=image, text=prompt(processor), return_tensors="pt")
            model.generate(**inputs, do_sample=False, max_new_tokens=tokens,
                           min_new_tokens=tokens)
            total = time.perf_counter() - start
            prompt_len = inputs.input_ids.shape[1]
            if run:
                prompts.append(prompt_len / first)
                decodes.append((tokens - 1) / max(total - first, 1e-9))
    return statistics.median(prompts), statistics.median(decodes), prompt_len


def hubble_speeds(binary, path, runs, threads, tokens):
    prompts, decodes, prompt_len, made = [], [], 0, 0
    for run in range(runs + 1):
        out = subprocess.run(
            [binary, "run", "--model-dir", path, "--task", "image-text-to-text", "--image", IMAGE,
             "--input", QUESTION, "--temperature", "0", "--repeat-penalty", "1",
             "--max-tokens", str(tokens), "--device", "cpu", "--json"],
            check=True, capture_output=True, text=True,
            env={**os.environ, "RAYON_NUM_THREADS": str(threads)})
        result = json.loads(out.stdout)
        prompt_len, made = result["prompt_tokens"], result["generated_tokens"]
        if run:
            prompts.append(result["prompt_tokens_per_s"])
            decodes.append(result["decode_tokens_per_s"])
    return statistics.median(prompts), statistics.median(decodes), prompt_len, made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubble", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--profile", default="dev")
    args = ap.parse_args()
    path = os.path.join(args.work, "llava-b16-smollm2-shape")
    build(path)
    h_prompt, h_decode, h_len, h_made = hubble_speeds(args.hubble, path, args.runs, args.threads,
                                                      args.tokens)
    t_prompt, t_decode, t_len = torch_speeds(path, args.runs, args.threads, args.tokens)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.profile} build; torch {torch.__version__}, transformers {tf.__version__}; "
          f"median of {args.runs} after a warm-up, {args.threads} threads; prompt "
          f"{h_len} tokens in Hubble, {t_len} in PyTorch; {h_made} / {args.tokens} new tokens\n")
    print("| model | Hubble prompt tok/s | PyTorch prompt tok/s | × | Hubble decode tok/s "
          "| PyTorch decode tok/s | × |")
    print("|---|---|---|---|---|---|---|")
    print(f"| LLaVA-1.5 shape (CLIP B/16 224 px + SmolLM2-135M shape), f32 | {h_prompt:.1f} "
          f"| {t_prompt:.1f} | {h_prompt / t_prompt:.2f}× | {h_decode:.1f} | {t_decode:.1f} "
          f"| {h_decode / t_decode:.2f}× |")


if __name__ == "__main__":
    main()
