#!/usr/bin/env python3
"""Two tiny random VITS text-to-speech models + transformers reference waveforms for Hubble's
text-to-speech tests.

Both are `VitsModel`s in facebook/mms-tts-*'s layout (config.json, model.safetensors, a
character vocab.json with VitsTokenizer's tokenizer_config.json: lower-casing normalisation, a
blank between characters, no phonemizer), 16 wide and two layers deep, saved under
tests/fixtures/tiny/vits (stochastic duration predictor, as MMS) and tests/fixtures/tiny/vits-plain
(the plain one). The duration predictors' last offsets are set so every character lasts a few
frames and no duration sits near a whole number (the rounding up would otherwise decide on
float noise). reference.json has, for each text, the tokenizer's ids and the waveform with
noise scales 0 at speaking rates 1 and 1.5.

Usage (needs torch, transformers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_vits.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import transformers as tf

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402

CHARS = list("_abcdefghijklmnopqrstuvwxyz' ")
TEXTS = ["Hello, World!", "a quick brown fox"]
RATES = [1.0, 1.5]


def config(stochastic):
    return tf.VitsConfig(
        vocab_size=len(CHARS), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        window_size=4, ffn_dim=24, ffn_kernel_size=3, flow_size=8, spectrogram_bins=17,
        upsample_initial_channel=16, upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 3]],
        prior_encoder_num_flows=2, prior_encoder_num_wavenet_layers=2,
        posterior_encoder_num_wavenet_layers=2, duration_predictor_num_flows=2,
        depth_separable_num_layers=2, duration_predictor_filter_channels=16,
        use_stochastic_duration_prediction=stochastic, sampling_rate=16000,
        noise_scale=0.0, noise_scale_duration=0.0)


def log_durations(model, ids):
    """The duration predictor's output for `ids`, as VitsModel.forward computes it."""
    with torch.no_grad():
        out = model.text_encoder(input_ids=ids, padding_mask=torch.ones_like(ids).unsqueeze(-1).float())
        hidden = out.last_hidden_state.transpose(1, 2)
        mask = torch.ones(1, 1, ids.shape[1])
        if model.config.use_stochastic_duration_prediction:
            return model.duration_predictor(hidden, mask, None, reverse=True, noise_scale=0.0)
        return model.duration_predictor(hidden, mask, None)


def settle_durations(model, all_ids):
    """Shifts the last offset so log durations average 1 and none lands near a whole frame
    count at either rate."""
    if model.config.use_stochastic_duration_prediction:
        offset, scale = model.duration_predictor.flows[0].translate, None
    else:
        offset, scale = model.duration_predictor.proj.bias, None
        with torch.no_grad():
            # Random weights spread the plain predictor's output over many frames; keep it
            # near its offset.
            model.duration_predictor.proj.weight.mul_(0.02)
    for attempt in range(50):
        values = torch.cat([log_durations(model, ids).flatten() for ids in all_ids])
        with torch.no_grad():
            if model.config.use_stochastic_duration_prediction:
                # log_d = (z − t)·e^(−s): raising t by δ·e^s lowers log_d by δ.
                step = (values.mean() - 1.0) * model.duration_predictor.flows[0].log_scale[0].exp()
                offset[0] += step + 0.013 * attempt
            else:
                offset -= values.mean() - 1.0 - 0.013 * attempt
        values = torch.cat([log_durations(model, ids).flatten() for ids in all_ids])
        frames = [values.exp() / rate for rate in RATES]
        gap = min(float((f - f.round()).abs().min()) for f in frames)
        if abs(float(values.mean()) - 1.0) < 0.2 and gap > 0.02:
            return
    raise SystemExit("could not settle the durations")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/tiny")
    args = parser.parse_args()
    for name, stochastic in (("vits", True), ("vits-plain", False)):
        out = os.path.join(args.out, name)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        with open(os.path.join(out, "vocab.json"), "w") as f:
            json.dump({c: i for i, c in enumerate(CHARS)}, f, ensure_ascii=False)
        tokenizer = tf.VitsTokenizer(os.path.join(out, "vocab.json"), language="eng",
                                     add_blank=True, normalize=True, phonemize=False)
        tokenizer.save_pretrained(out)
        torch.manual_seed(0)
        model = tf.VitsModel(config(stochastic)).eval()
        randomize(model, 41 if stochastic else 42)
        all_ids = [tokenizer(text, return_tensors="pt").input_ids for text in TEXTS]
        settle_durations(model, all_ids)
        model.save_pretrained(out)
        model = tf.VitsModel.from_pretrained(out).eval()
        reference = {"versions": {"torch": torch.__version__, "transformers": tf.__version__},
                     "texts": []}
        for text, ids in zip(TEXTS, all_ids):
            entry = {"text": text, "ids": ids[0].tolist(), "waveforms": {}}
            for rate in RATES:
                with torch.no_grad():
                    waveform = model(ids, speaking_rate=rate).waveform[0]
                entry["waveforms"][str(rate)] = waveform.tolist()
            reference["texts"].append(entry)
            print(name, text, len(entry["ids"]), {r: len(w) for r, w in entry["waveforms"].items()})
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump(reference, f)


if __name__ == "__main__":
    main()
