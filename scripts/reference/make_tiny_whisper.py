#!/usr/bin/env python3
"""Tiny random Whisper + PyTorch reference outputs, and WhisperFeatureExtractor reference
features for a real spoken WAV, for Hubble's parity tests.

Writes:
- tests/fixtures/audio/speech.wav: espeak-ng speech, 16 kHz mono 16-bit (made with espeak-ng,
  resampled with scipy's polyphase filter; only made when missing, so the reference stays fixed).
- tests/fixtures/audio/speech_mel.safetensors: WhisperFeatureExtractor's log-mel features of it
  for 80 and 128 bins: the frames covering the speech (`mel80`, `mel128`, frames 0..N) and the
  last frame (`mel80_last`, `mel128_last`); every frame in between is padding.
- tests/fixtures/tiny/whisper/: a 2+2-layer, 32-wide WhisperForConditionalGeneration with random
  weights (config.json, generation_config.json, model.safetensors), a tiny byte-level
  tokenizer.json holding every special token Whisper needs (<|endoftext|>, <|startoftranscript|>,
  4 languages, <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nospeech|>,
  <|notimestamps|>, <|0.00|>…<|30.00|>) laid out in the real vocabulary's order, and
  reference.safetensors / reference.json: the encoder output for speech.wav, the decoder logits
  for the prompt [sot, en, transcribe, notimestamps], the language the model detects and the
  greedy tokens (full recomputation, plain argmax, no suppression: suppress lists are empty).

Usage: python3 scripts/reference/make_tiny_whisper.py   (torch, transformers, scipy, espeak-ng)
"""
import json
import os
import subprocess
import tempfile
import wave

import numpy as np
import torch
import transformers as tf
from safetensors.numpy import save_file
from scipy.signal import resample_poly
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
AUDIO = os.path.join(ROOT, "tests", "fixtures", "audio")
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny", "whisper")
TEXT = "Hello from Hubble. This is a test of speech recognition on the desktop."
LANGS = ["en", "de", "fr", "es"]
STEPS = 12


def make_wav(path):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, TEXT], check=True)
        with wave.open(raw) as w:
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    audio = resample_poly(data.astype(np.float64) / 32768.0, 16000, rate)
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())


def read_wav(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


def make_mel(audio):
    frames = len(audio) // 160 + 8
    out = {}
    for n in (80, 128):
        fe = tf.WhisperFeatureExtractor(feature_size=n)
        feats = fe(audio, sampling_rate=16000, return_tensors="np").input_features[0]
        out[f"mel{n}"] = np.ascontiguousarray(feats[:, :frames]).astype(np.float32)
        out[f"mel{n}_last"] = np.ascontiguousarray(feats[:, -1]).astype(np.float32)
    save_file(out, os.path.join(AUDIO, "speech_mel.safetensors"))
    return tf.WhisperFeatureExtractor(feature_size=80)(
        audio, sampling_rate=16000, return_tensors="pt").input_features


def tokenizer():
    byte_chars = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(byte_chars))}
    specials = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{l}|>" for l in LANGS] + [
        "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
        "<|notimestamps|>"] + [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    ids = {s: tok.token_to_id(s) for s in specials}
    return tok, ids


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def main():
    os.makedirs(AUDIO, exist_ok=True)
    os.makedirs(TINY, exist_ok=True)
    wav = os.path.join(AUDIO, "speech.wav")
    if not os.path.exists(wav):
        make_wav(wav)
    audio = read_wav(wav)
    features = make_mel(audio)

    tok, ids = tokenizer()
    tok.save(os.path.join(TINY, "tokenizer.json"))
    vocab = tok.get_vocab_size()
    sot, eot = ids["<|startoftranscript|>"], ids["<|endoftext|>"]
    lang_ids = [ids[f"<|{l}|>"] for l in LANGS]
    cfg = tf.WhisperConfig(
        vocab_size=vocab, num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
        decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=64,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=sot,
        suppress_tokens=[], begin_suppress_tokens=[])
    torch.manual_seed(0)
    model = tf.WhisperForConditionalGeneration(cfg).eval()
    randomize(model, 8)
    model.save_pretrained(TINY, safe_serialization=True)
    gen = {
        "decoder_start_token_id": sot, "eos_token_id": eot, "pad_token_id": eot,
        "is_multilingual": True, "no_timestamps_token_id": ids["<|notimestamps|>"],
        "lang_to_id": {f"<|{l}|>": ids[f"<|{l}|>"] for l in LANGS},
        "task_to_id": {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        "suppress_tokens": [], "begin_suppress_tokens": [], "max_initial_timestamp_index": 50,
    }
    with open(os.path.join(TINY, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=1)

    prompt = [sot, ids["<|en|>"], ids["<|transcribe|>"], ids["<|notimestamps|>"]]
    with torch.no_grad():
        enc = model.model.encoder(features).last_hidden_state
        logits = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([prompt])).logits[0]
        first = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([[sot]])).logits[0, -1]
        lang = LANGS[int(torch.argmax(first[lang_ids]))]
        tokens = list(prompt)
        for _ in range(STEPS):
            out = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([tokens])).logits
            nxt = int(torch.argmax(out[0, -1]))
            tokens.append(nxt)
            if nxt == eot:
                break
    save_file({"encoder_output": enc[0].numpy().astype(np.float32),
               "prompt_logits": logits.numpy().astype(np.float32)},
              os.path.join(TINY, "reference.safetensors"))
    ref = {"prompt": prompt, "detected_language": lang, "greedy_tokens": tokens[len(prompt):],
           "transformers": tf.__version__, "torch": torch.__version__}
    with open(os.path.join(TINY, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(json.dumps(ref))


if __name__ == "__main__":
    main()
