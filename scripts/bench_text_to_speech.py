#!/usr/bin/env python3
"""Driver for scripts/bench-text-to-speech.sh: builds a random VITS voice in facebook/mms-tts-eng's
shape (VitsConfig's defaults: 192 wide, 6 layers, stochastic durations, 4 coupling flows,
HiFi-GAN 512 → ×256; 16 kHz; the time does not depend on the weights' values, the durations are
set to about 4.5 frames a character as trained voices speak), then times one English paragraph
with both noise scales 0 (so both make the same number of samples) through PyTorch transformers
(`VitsModel`, torch threads = THREADS) and through `hubble run --task text-to-speech` (its
`seconds`: tokenising and synthesis, the load excluded, as the PyTorch time), median of RUNS
after a warm-up; prints a Markdown table of real-time factors."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import torch
import transformers as tf

TEXT = ("Hubble runs the voice on this computer. It reads the text, predicts how long each "
        "sound lasts, and turns the result into a waveform, all without a network.")
CHARS = list("_abcdefghijklmnopqrstuvwxyz' .,!?-0123456789")


def build(path):
    if os.path.exists(os.path.join(path, "model.safetensors")):
        return
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "vocab.json"), "w") as f:
        json.dump({c: i for i, c in enumerate(CHARS)}, f)
    tokenizer = tf.VitsTokenizer(os.path.join(path, "vocab.json"), language="eng",
                                 add_blank=True, normalize=True, phonemize=False)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    model = tf.VitsModel(tf.VitsConfig(vocab_size=len(CHARS))).eval()
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = model.text_encoder(input_ids=ids, padding_mask=torch.ones_like(ids).unsqueeze(-1).float())
        x = hidden.last_hidden_state.transpose(1, 2)
        log_d = model.duration_predictor(x, torch.ones(1, 1, ids.shape[1]), None, reverse=True,
                                         noise_scale=0.0)
        # log_d = (z − t)·e^(−s): move the mean to log 4.5.
        flow = model.duration_predictor.flows[0]
        flow.translate[0] += (log_d.mean() - 1.5) * flow.log_scale[0].exp()
    model.save_pretrained(path)


def torch_times(path, runs, threads):
    torch.set_num_threads(threads)
    model = tf.VitsModel.from_pretrained(path).eval()
    model.noise_scale = model.noise_scale_duration = 0.0
    tokenizer = tf.VitsTokenizer.from_pretrained(path)
    times, samples = [], 0
    with torch.inference_mode():
        for run in range(runs + 1):
            start = time.perf_counter()
            ids = tokenizer(TEXT, return_tensors="pt").input_ids
            samples = model(ids).waveform.shape[-1]
            if run:
                times.append(time.perf_counter() - start)
    return statistics.median(times), samples


def hubble_times(binary, path, runs, threads, work):
    times, samples = [], 0
    for run in range(runs + 1):
        out = subprocess.run(
            [binary, "run", "--model-dir", path, "--task", "text-to-speech", "--input", TEXT,
             "--noise-scale", "0", "--noise-scale-duration", "0", "--device", "cpu",
             "--output", os.path.join(work, "hubble.wav"), "--json"],
            check=True, capture_output=True, text=True,
            env={**os.environ, "RAYON_NUM_THREADS": str(threads)})
        result = json.loads(out.stdout)
        samples = round(result["audio_seconds"] * 16000)
        if run:
            times.append(result["seconds"])
    return statistics.median(times), samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubble", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", default="dev")
    args = ap.parse_args()
    path = os.path.join(args.work, "mms-tts-shape")
    build(path)
    hub, hub_samples = hubble_times(args.hubble, path, args.runs, args.threads, args.work)
    pt, pt_samples = torch_times(path, args.runs, args.threads)
    audio = pt_samples / 16000
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.profile} build; torch {torch.__version__}, transformers {tf.__version__}; "
          f"median of {args.runs} after a warm-up, {args.threads} threads; "
          f"{audio:.2f} s of speech (Hubble {hub_samples} samples, PyTorch {pt_samples})\n")
    print("| voice | Hubble RTF | PyTorch RTF | Hubble ÷ PyTorch speed |")
    print("|---|---|---|---|")
    print(f"| MMS-TTS shape (VITS, 16 kHz) | {hub / audio:.3f} ({hub:.2f} s) "
          f"| {pt / audio:.3f} ({pt:.2f} s) | {pt / hub:.2f}× |")


if __name__ == "__main__":
    main()
