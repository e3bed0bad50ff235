#!/usr/bin/env python3
"""Whisper real-time factor on this CPU: Hubble (`hubble run --task automatic-speech-recognition
--json`, which reports the transcription time without the model load) against PyTorch
transformers (feature extraction + greedy `generate`, after a warm-up run) on the same model
folder and WAV. Prints a Markdown table. Called by scripts/bench-whisper.sh."""
import argparse
import json
import subprocess
import time
import wave

import numpy as np


def hubble(binary, model, wav, runs):
    rtfs, text = [], ""
    for _ in range(runs):
        out = subprocess.run([binary, "run", "--model-dir", model, "--task", "asr", "--language",
                              "en", "--input-file", wav, "--device", "cpu", "--json"],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        rtfs.append(result["real_time_factor"])
        text = result["text"]
    return min(rtfs), text


def pytorch(model_dir, wav, runs, threads):
    import torch
    import transformers as tf
    torch.set_num_threads(threads)
    with wave.open(wav) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    model = tf.WhisperForConditionalGeneration.from_pretrained(model_dir).eval()
    fe = tf.WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
    rtfs, text = [], ""
    gen = dict(do_sample=False, max_new_tokens=model.config.max_target_positions // 2 - 4)
    if getattr(model.generation_config, "is_multilingual", False):
        gen.update(language="en", task="transcribe")
    for i in range(runs + 1):
        start = time.perf_counter()
        feats = fe(audio, sampling_rate=16000, return_tensors="pt").input_features
        with torch.no_grad():
            ids = model.generate(feats, **gen)
        elapsed = time.perf_counter() - start
        if i > 0:
            rtfs.append(elapsed / (len(audio) / 16000))
        text = ids[0].tolist()
    return min(rtfs), text


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hubble", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--wav", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    with wave.open(a.wav) as w:
        seconds = w.getnframes() / w.getframerate()
    h, h_text = hubble(a.hubble, a.model, a.wav, a.runs)
    t, _ = pytorch(a.model, a.wav, a.runs, a.threads)
    print(f"| model | audio | Hubble (candle) RTF | PyTorch {__import__('torch').__version__} RTF |")
    print("|---|---|---|---|")
    print(f"| {a.label} | {seconds:.1f} s | {h:.3f} | {t:.3f} |")
    print(f"\nHubble's transcript: {h_text!r}")


if __name__ == "__main__":
    main()
