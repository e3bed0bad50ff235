#!/usr/bin/env python3
"""Tiny random audio-classification checkpoints + PyTorch reference outputs for Hubble's parity tests.

For Wav2Vec2ForSequenceClassification (two variants), HubertForSequenceClassification and
ASTForAudioClassification it builds a tiny model with transformers (fp32, CPU, seeded), saves
config.json (six labels) + model.safetensors + preprocessor_config.json under
tests/fixtures/tiny/<name>/, then runs on tests/fixtures/audio/speech.wav (16 kHz mono 16-bit,
read as int16 / 32768 like Hubble's decoder):

- the feature extractor (statistics + a strided sample of `input_values`),
- the model on those features, reloaded from the saved folder (`logits`),
- `pipeline("audio-classification", model=<folder>, top_k=5)` on the same samples (`top5`, the
  `[{"label", "score"}]` list exactly as the pipeline returns it; top_k is passed again at call
  time because transformers 5.x otherwise returns every label, see `make`),

and writes them to reference.json.

- wav2vec2-cls: wav2vec2-base layout: `feat_extract_norm="group"` (GroupNorm on the first conv
  only), post-LN encoder, weight-normed positional conv with an even kernel (the same-pad trim),
  the last hidden state → projector → mean → classifier; the extractor normalises.
- wav2vec2-layer-cls: wav2vec2-large-lv60 layout: `feat_extract_norm="layer"` with conv biases,
  `do_stable_layer_norm` (pre-LN), `use_weighted_layer_sum` (softmax over the hidden states:
  transformers 5 records the input of layer 0 and each layer's output, so with the stable layout
  the last entry is *before* the encoder's final layer norm; transformers 4 took it after), and
  an extractor that returns an attention mask (all ones for one clip).
- hubert-cls: HuBERT (same blocks as wav2vec2-base) with `use_weighted_layer_sum`, an extractor
  that does not normalise, and the positional conv stored the way Hub checkpoints store it
  (`weight_g` / `weight_v` instead of `parametrizations.weight.original0/1`; transformers
  renames them on load, the script checks it gets the same logits).
- ast-cls: 32 mel bins, 64 frames (the clip is truncated), patch 8 with frequency stride 4 and
  time stride 6 (unequal strides). Its reference.json also holds `features_default`: the default
  ASTFeatureExtractor (128 bins, 1024 frames: the clip is padded) on the same clip.

ASTFeatureExtractor computes the Kaldi filter bank with torchaudio's `compliance.kaldi.fbank`
when torchaudio is installed and with transformers' own numpy `spectrogram` otherwise; this
script refuses to run with torchaudio installed so that the numpy path (the one Hubble
reproduces, and the one a plain `pip install transformers torch` takes) is the reference.

Usage (needs torch, transformers, safetensors, numpy; CPU is enough; no torchaudio):
    python3 scripts/reference/make_tiny_audio.py [--out tests/fixtures/tiny] [names...]
"""
import argparse
import json
import os
import shutil
import wave

import numpy as np
import torch
import transformers as tf
from safetensors.torch import load_file, save_file
from transformers.utils import is_speech_available

from make_tiny_checkpoints import randomize

HERE = os.path.dirname(os.path.abspath(__file__))
SPEECH = os.path.join(HERE, "../../tests/fixtures/audio/speech.wav")
LABELS = ["yes", "no", "up", "down", "left", "right"]
STRIDE = 97

# 4.9 s at 16 kHz → about 245 frames, like wav2vec2-base's 320× downsampling.
W2V_CONV = dict(conv_dim=(16, 16, 16, 32, 32), conv_kernel=(10, 3, 3, 3, 2),
                conv_stride=(5, 2, 4, 4, 2))
W2V_SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                classifier_proj_size=24)


def read_wav(path):
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


def summary(t, stride=STRIDE):
    flat = torch.as_tensor(np.asarray(t)).flatten().double()
    return {"shape": list(np.asarray(t).shape), "sum": float(flat.sum()),
            "abs_sum": float(flat.abs().sum()), "min": float(flat.min()), "max": float(flat.max()),
            "stride": stride, "sample": [float(v) for v in flat[::stride]]}


def labels():
    return dict(id2label={i: l for i, l in enumerate(LABELS)},
                label2id={l: i for i, l in enumerate(LABELS)})


def wav2vec2(extra):
    return tf.Wav2Vec2ForSequenceClassification(tf.Wav2Vec2Config(**W2V_CONV, **W2V_SIZE, **extra,
                                                                   **labels()))


MODELS = {
    "wav2vec2-cls": (
        lambda: wav2vec2(dict(feat_extract_norm="group", do_stable_layer_norm=False)),
        lambda: tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)),
    "wav2vec2-layer-cls": (
        lambda: wav2vec2(dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
                              use_weighted_layer_sum=True)),
        lambda: tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)),
    "hubert-cls": (
        lambda: tf.HubertForSequenceClassification(tf.HubertConfig(
            **W2V_CONV, **W2V_SIZE, feat_extract_norm="group", use_weighted_layer_sum=True,
            **labels())),
        lambda: tf.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=False)),
    "ast-cls": (
        lambda: tf.ASTForAudioClassification(tf.ASTConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            patch_size=8, frequency_stride=4, time_stride=6, max_length=64, num_mel_bins=32,
            **labels())),
        lambda: tf.ASTFeatureExtractor(num_mel_bins=32, max_length=64)),
}


def legacy_weight_norm_names(d):
    """Rename the positional conv's parametrised weight to the `weight_g`/`weight_v` of Hub files."""
    path = os.path.join(d, "model.safetensors")
    tensors = load_file(path)
    renamed = {k.replace("parametrizations.weight.original0", "weight_g")
                .replace("parametrizations.weight.original1", "weight_v"): v
               for k, v in tensors.items()}
    assert renamed.keys() != tensors.keys()
    save_file(renamed, path, metadata={"format": "pt"})


def make(name, out, audio):
    build, extractor = MODELS[name]
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    torch.manual_seed(0)
    model = build().eval()
    randomize(model, 0)
    model.save_pretrained(d, safe_serialization=True)
    fe = extractor()
    fe.save_pretrained(d)
    inputs = fe(audio, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        in_memory = model(**inputs).logits[0]
    if name == "hubert-cls":
        legacy_weight_norm_names(d)
    model = type(model).from_pretrained(d).eval()
    with torch.no_grad():
        logits = model(**inputs).logits[0]
    assert torch.allclose(logits, in_memory, atol=1e-6), "the saved checkpoint reloads to other logits"
    classifier = tf.pipeline("audio-classification", model=d, top_k=5, device="cpu")
    # top_k again at call time: transformers 5's `_sanitize_parameters` turns the call's missing
    # top_k into "all labels", overriding the pipeline's own top_k=5.
    top5 = classifier(audio, top_k=5)
    assert len(top5) == 5
    probs = logits.softmax(-1).sort(descending=True).values
    ref = {"audio": "speech.wav", "samples": len(audio),
           "input_values": summary(inputs["input_values"][0],
                                   stride=1 if name == "ast-cls" else STRIDE),
           "logits": logits.tolist(), "top5": top5,
           "torch": torch.__version__, "transformers": tf.__version__}
    if name == "ast-cls":
        ref["fbank"] = "numpy"  # transformers.audio_utils.spectrogram, not torchaudio
        default = tf.ASTFeatureExtractor()(audio, sampling_rate=16000, return_tensors="np")
        ref["features_default"] = summary(default["input_values"][0])
        ref["features_default_config"] = {"num_mel_bins": 128, "max_length": 1024,
                                          "mean": -4.2677393, "std": 4.5689974}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    gaps = (probs[:-1] - probs[1:]).min().item()
    sizes = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
    print(f"{name}: top-5 {[(e['label'], round(e['score'], 4)) for e in top5]}, "
          f"smallest score gap {gaps:.4f}, files {sizes}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "../../tests/fixtures/tiny"))
    ap.add_argument("names", nargs="*", default=list(MODELS))
    args = ap.parse_args()
    if is_speech_available():
        raise SystemExit("torchaudio is installed: ASTFeatureExtractor would use torchaudio's "
                         "kaldi.fbank; run this in an environment without torchaudio")
    torch.set_num_threads(2)
    audio = read_wav(SPEECH)
    for name in args.names:
        if name not in MODELS:
            raise SystemExit(f"unknown name {name}")
        make(name, args.out, audio)


if __name__ == "__main__":
    main()
