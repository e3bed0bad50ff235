#!/usr/bin/env python3
"""A tiny random MusicGen text-to-audio model and transformers reference outputs for Hubble's
text-to-audio tests.

tests/fixtures/tiny/musicgen: a `MusicgenForConditionalGeneration` in facebook/musicgen-small's
layout (one config.json with text_encoder / audio_encoder / decoder, model.safetensors, the tiny
T5 fixture's tokenizer.json): a 2-layer T5 encoder 16 wide, a 2-layer decoder 24 wide over 4
codebooks of 32 codes with the enc_to_dec projection, and an EnCodec 1.6 kHz in musicgen's
EnCodec 32 kHz shape (weight norm, reflect padding, non-causal, LSTM, no conv shortcut; 4
quantizers). Weight-normed convolutions are stored as `weight_g`/`weight_v`, as the published
checkpoints store them.

reference.json has, for each prompt: the input ids, the decoder's first-step logits for the
prompt and for the null (guidance) input, and greedy generation with guidance scale 3 for 8
new steps: every step's codes with the delay pattern's padding (pad = 32), the codes handed to
EnCodec, and the waveform it decodes.

Usage (needs torch, transformers, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_musicgen.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys

import torch
import transformers as tf
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402

PROMPTS = ["80s pop track with bassy drums", "calm piano"]
STEPS = 8
GUIDANCE = 3.0


def config(vocab_size):
    text = tf.T5Config(vocab_size=vocab_size, d_model=16, d_kv=8, d_ff=32, num_layers=2,
                       num_heads=2, relative_attention_num_buckets=8,
                       relative_attention_max_distance=20, feed_forward_proj="relu")
    audio = tf.EncodecConfig(
        sampling_rate=1600, audio_channels=1, normalize=False, hidden_size=8, num_filters=4,
        num_residual_layers=1, upsampling_ratios=[2, 2], norm_type="weight_norm", kernel_size=7,
        last_kernel_size=7, residual_kernel_size=3, dilation_growth_rate=2,
        use_causal_conv=False, pad_mode="reflect", compress=2, num_lstm_layers=2,
        trim_right_ratio=1.0, codebook_size=32, codebook_dim=8, use_conv_shortcut=False,
        target_bandwidths=[16.0])
    decoder = tf.MusicgenDecoderConfig(
        vocab_size=32, max_position_embeddings=256, num_hidden_layers=2, ffn_dim=48,
        num_attention_heads=2, hidden_size=24, num_codebooks=4, pad_token_id=32,
        bos_token_id=32, decoder_start_token_id=32)
    return tf.MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(),
                             decoder=decoder.to_dict())


def legacy_weight_norm_names(path):
    """`parametrizations.weight.original0/1` → `weight_g`/`weight_v`, as musicgen-small ships."""
    tensors = load_file(path)
    renamed = {}
    for name, tensor in tensors.items():
        name = name.replace("parametrizations.weight.original0", "weight_g")
        name = name.replace("parametrizations.weight.original1", "weight_v")
        renamed[name] = tensor.contiguous()
    save_file(renamed, path, metadata={"format": "pt"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/tiny")
    args = parser.parse_args()
    out = os.path.join(args.out, "musicgen")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    shutil.copy(os.path.join(args.out, "t5", "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    tokenizer = tf.PreTrainedTokenizerFast(tokenizer_file=os.path.join(out, "tokenizer.json"),
                                           eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    model = tf.MusicgenForConditionalGeneration(config(tokenizer.vocab_size)).eval()
    randomize(model, 47)
    model.generation_config.pad_token_id = 32
    model.generation_config.decoder_start_token_id = 32
    model.save_pretrained(out)
    legacy_weight_norm_names(os.path.join(out, "model.safetensors"))
    model = tf.MusicgenForConditionalGeneration.from_pretrained(out).eval()

    reference = {"versions": {"torch": torch.__version__, "transformers": tf.__version__},
                 "guidance_scale": GUIDANCE, "steps": STEPS, "prompts": []}
    for prompt in PROMPTS:
        inputs = tokenizer(prompt, return_tensors="pt")
        ids = inputs.input_ids
        with torch.no_grad():
            encoded = model.text_encoder(input_ids=ids).last_hidden_state
            start = torch.full((2 * 4, 1), 32, dtype=torch.long)
            states = torch.cat([encoded, torch.zeros_like(encoded)], dim=0)
            mask = torch.cat([torch.ones_like(ids), torch.zeros_like(ids)], dim=0)
            logits = model(encoder_outputs=(states,), attention_mask=mask,
                           decoder_input_ids=start).logits
            logits = logits.reshape(2, 4, -1)
            seen = {}
            decode = model.audio_encoder.decode
            delay = model.decoder.apply_delay_pattern_mask

            def record_decode(codes, *rest, **kwargs):
                seen["codes"] = codes
                return decode(codes, *rest, **kwargs)

            def record_delay(ids, mask):
                seen["delayed"] = delay(ids, mask)
                return seen["delayed"]

            model.audio_encoder.decode = record_decode
            model.decoder.apply_delay_pattern_mask = record_delay
            waveform = model.generate(**inputs, do_sample=False, guidance_scale=GUIDANCE,
                                      max_new_tokens=STEPS)
            model.audio_encoder.decode = decode
            model.decoder.apply_delay_pattern_mask = delay
        entry = {
            "prompt": prompt,
            "ids": ids[0].tolist(),
            "logits": logits[0].tolist(),
            "null_logits": logits[1].tolist(),
            "delayed_codes": seen["delayed"].reshape(4, -1).tolist(),
            "codes": seen["codes"][0, 0].tolist(),
            "waveform": waveform[0, 0].tolist(),
        }
        reference["prompts"].append(entry)
        print(prompt, ids.shape[1], "ids;", "codes", seen["codes"].shape, "waveform",
              waveform.shape, seen["delayed"].reshape(4, -1).tolist())
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main()
