#!/usr/bin/env python3
"""A tiny random SpeechT5 text-to-speech model, its HiFi-GAN vocoder and transformers reference
spectrograms and waveforms for Hubble's text-to-speech tests.

- tests/fixtures/tiny/speecht5: a `SpeechT5ForTextToSpeech` in microsoft/speecht5_tts's layout
  (config.json, model.safetensors, a SentencePiece *char* model spm_char.model trained here with
  the ids SpeechT5 uses: <s> 0, <pad> 1, </s> 2, <unk> 3), 16 wide, two layers each side,
  reduction factor 2, 8 mel bins, 8-wide speaker embeddings. The decoder prenet's dropout is 0
  and switched off: SpeechT5 applies it even when evaluating, from PyTorch's generator, so no
  other engine can match it draw for draw (and transformers' `_consistent_dropout` keeps a unit
  with probability p, so p = 0 would zero them all; at SpeechT5's p = 0.5 that is the usual
  dropout).
- tests/fixtures/tiny/speecht5-hifigan: a `SpeechT5HifiGan` in microsoft/speecht5_hifigan's
  layout (normalize_before with a random mean and scale).

reference.json has the speaker embedding and, for each text, the tokenizer's ids, the stop step
`generate_speech` took (default threshold 0.5, and the first again with maxlenratio 1, so the
length cap ends it), the spectrogram after the postnet and the vocoder's waveform.

Usage (needs torch, transformers, safetensors, sentencepiece; CPU is enough):
    python3 scripts/reference/make_tiny_speecht5.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import sentencepiece as spm
import torch
import transformers as tf

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402

TEXTS = ["Hello world.", "A quick brown fox, 42 times!"]
CORPUS = ["the quick brown fox jumps over the lazy dog", "hello world", "speech from text",
          "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z", ".,!?'"]


def char_model(out):
    """A SentencePiece char model with SpeechT5's special ids (no digits: they are unknown)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w") as f:
            f.write("\n".join(CORPUS * 20))
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "spm_char"), model_type="char",
            vocab_size=47, bos_id=0, pad_id=1, eos_id=2, unk_id=3, character_coverage=1.0)
        shutil.copy(os.path.join(tmp, "spm_char.model"), os.path.join(out, "spm_char.model"))


def tts_config(vocab_size):
    return tf.SpeechT5Config(
        vocab_size=vocab_size, hidden_size=16, encoder_layers=2, encoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=32,
        num_mel_bins=8, reduction_factor=2, speech_decoder_prenet_layers=2,
        speech_decoder_prenet_units=12, speech_decoder_prenet_dropout=0.0,
        speaker_embedding_dim=8, speech_decoder_postnet_layers=3,
        speech_decoder_postnet_units=12, speech_decoder_postnet_kernel=5,
        encoder_max_relative_position=16, max_speech_positions=600, max_text_positions=450,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)


def vocoder_config():
    return tf.SpeechT5HifiGanConfig(
        model_in_dim=8, upsample_initial_channel=16, upsample_rates=[4, 2],
        upsample_kernel_sizes=[8, 4], resblock_kernel_sizes=[3, 5],
        resblock_dilation_sizes=[[1, 3], [1, 3]], normalize_before=True, sampling_rate=16000)


def settle_batch_norms(model, seed):
    """Random running statistics for the postnet's batch norms (fresh ones are the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.speech_decoder_postnet.layers:
            norm = layer.batch_norm
            norm.running_mean.copy_(0.1 * torch.randn(norm.running_mean.shape, generator=g))
            norm.running_var.copy_(0.5 + torch.rand(norm.running_var.shape, generator=g))


def no_dropout(self, inputs_embeds, p):
    return inputs_embeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/tiny")
    args = parser.parse_args()
    out = os.path.join(args.out, "speecht5")
    vocoder_out = os.path.join(args.out, "speecht5-hifigan")
    for folder in (out, vocoder_out):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    tf.models.speecht5.modeling_speecht5.SpeechT5SpeechDecoderPrenet._consistent_dropout = no_dropout
    char_model(out)
    tokenizer = tf.SpeechT5Tokenizer(os.path.join(out, "spm_char.model"))
    tokenizer.save_pretrained(out)

    torch.manual_seed(0)
    model = tf.SpeechT5ForTextToSpeech(tts_config(tokenizer.vocab_size)).eval()
    randomize(model, 43)
    settle_batch_norms(model, 44)
    with torch.no_grad():
        # Random weights put the stop probability anywhere; these make the stop come after a
        # dozen steps for the first text (before its 140-step cap).
        model.speech_decoder_postnet.prob_out.weight.mul_(0.3)
        model.speech_decoder_postnet.prob_out.bias.fill_(-1.2)
    model.save_pretrained(out)
    model = tf.SpeechT5ForTextToSpeech.from_pretrained(out).eval()

    torch.manual_seed(1)
    vocoder = tf.SpeechT5HifiGan(vocoder_config()).eval()
    randomize(vocoder, 45)
    with torch.no_grad():
        vocoder.mean.copy_(0.1 * torch.randn(8))
        vocoder.scale.copy_(0.5 + torch.rand(8))
    vocoder.save_pretrained(vocoder_out)
    vocoder = tf.SpeechT5HifiGan.from_pretrained(vocoder_out).eval()

    speaker = torch.randn(1, 8, generator=torch.Generator().manual_seed(46))
    reference = {"versions": {"torch": torch.__version__, "transformers": tf.__version__},
                 "speaker_embedding": speaker[0].tolist(), "texts": []}
    runs = [(text, 20.0) for text in TEXTS] + [(TEXTS[0], 1.0)]
    for text, maxlenratio in runs:
        ids = tokenizer(text, return_tensors="pt").input_ids
        with torch.no_grad():
            spectrogram = model.generate_speech(ids, speaker, maxlenratio=maxlenratio)
            waveform = vocoder(spectrogram)
        entry = {"text": text, "maxlenratio": maxlenratio, "ids": ids[0].tolist(),
                 "frames": spectrogram.shape[0], "spectrogram": spectrogram.tolist(),
                 "waveform": waveform.tolist()}
        reference["texts"].append(entry)
        print(text, maxlenratio, len(entry["ids"]), "ids,", entry["frames"], "frames,",
              len(entry["waveform"]), "samples")
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main()
