#!/usr/bin/env python3
"""A tiny random LLaVA-1.5 + PyTorch reference outputs for Hubble's image-text-to-text tests.

It builds a `LlavaForConditionalGeneration` in llava-hf/llava-1.5-7b-hf's layout but tiny: a
CLIP vision tower (42 px, patch 14: 9 patches, 3 layers, features of layer -2 without CLS), the
two-layer GELU projector and a Llama decoder (2 layers, 32 wide, grouped-query attention).
Saved under tests/fixtures/tiny/llava/ as llava-hf ships it:
- config.json (`model_type: llava`, `text_config`, `vision_config`, `image_token_index`, ...),
  model.safetensors;
- a Llama tokenizer (byte-fallback BPE, Metaspace, `<s>` added in front) trained here on a few
  sentences, with `<image>` and `<pad>` appended as added tokens like llava-hf's 32000/32001:
  tokenizer.json + tokenizer_config.json;
- the processor: preprocessor_config.json (CLIPImageProcessor: shortest edge 42, bicubic, center
  crop 42, CLIP mean/std), processor_config.json (patch_size, vision_feature_select_strategy,
  num_additional_image_tokens) and llava-hf's chat template (with its `{% generation %}` tags);
- reference.json, for tests/fixtures/images/chelsea.png and the question QUESTION put through
  `processor.apply_chat_template` (PIL image processor: transformers without torchvision):
  the prompt text, input_ids (with `<image>` expanded to one token per patch), pixel values
  (statistics and a strided sample), the last position's logits, and 8 greedy tokens from
  `generate(do_sample=False)` with the decoded answer.

The random weights are scaled up (`randomize`) and the seed chosen so that the greedy path has
clear top-2 gaps and generates no special token.

Usage (needs torch, transformers 5, tokenizers, safetensors, pillow; CPU is enough):
    python3 scripts/reference/make_tiny_llava.py [--out tests/fixtures/tiny]
"""
import argparse
import json
import os
import shutil
import sys

import torch
import transformers as tf
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402
from make_tiny_vision import CLIP_MEAN, CLIP_STD, IMAGES, PHOTOS, summary  # noqa: E402

SIDE = 42
PATCH = 14
STEPS = 8
QUESTION = "What is in the picture?"
# llava-hf/llava-1.5-7b-hf's chat template (chat_template.json), as transformers' tests carry it.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{# Render all text next #}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
CORPUS = [
    "USER: What is in the picture? ASSISTANT: A cat is lying on a red couch.",
    "USER: Describe the image. ASSISTANT: The photo shows a small grey cat with green eyes.",
    "There is a dog, a man and a woman sitting on the grass in the park.",
    "What color is the cat? It is grey and white, looking at the camera.",
    "The picture shows two cups of coffee on a wooden table next to a window.",
]


def llama_tokenizer():
    """A Llama tokenizer (transformers' LlamaTokenizer: byte-fallback BPE, Metaspace, BOS) over a
    vocabulary trained on CORPUS; `<image>` and `<pad>` appended as llava-hf appends them."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581",
                                                         prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=160, show_progress=False, special_tokens=[])
    trainer_tok.train_from_iterator(CORPUS, trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in trained["merges"]]
    tok = tf.LlamaTokenizer(vocab=vocab, merges=merges, add_bos_token=True)
    tok.add_tokens([tf.AddedToken("<image>", special=True, normalized=False)],
                   special_tokens=True)
    tok.add_special_tokens({"pad_token": "<pad>"})
    return tok


def build(tok, seed):
    image_id = tok.convert_tokens_to_ids("<image>")
    pad_id = tok.convert_tokens_to_ids("<pad>")
    text = tf.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1,
                          eos_token_id=2, pad_token_id=pad_id, tie_word_embeddings=False)
    vision = tf.CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                 num_attention_heads=4, image_size=SIDE, patch_size=PATCH,
                                 projection_dim=32, hidden_act="quick_gelu")
    config = tf.LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                            image_seq_length=(SIDE // PATCH) ** 2, projector_hidden_act="gelu",
                            vision_feature_layer=-2, vision_feature_select_strategy="default",
                            pad_token_id=pad_id)
    config.architectures = ["LlavaForConditionalGeneration"]
    torch.manual_seed(seed)
    model = tf.LlavaForConditionalGeneration(config).eval()
    randomize(model, seed)
    return model


def processor(tok):
    image_processor = tf.CLIPImageProcessorPil(
        size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE}, resample=3,
        image_mean=CLIP_MEAN, image_std=CLIP_STD, do_convert_rgb=True)
    return tf.LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=PATCH,
                             vision_feature_select_strategy="default",
                             num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = os.path.join(args.out, "llava")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tok = llama_tokenizer()
    proc = processor(tok)
    image = Image.open(os.path.join(IMAGES, PHOTOS[0]))
    conversation = [{"role": "user", "content": [{"type": "image"},
                                                 {"type": "text", "text": QUESTION}]}]
    prompt = proc.apply_chat_template(conversation, add_generation_prompt=True)
    inputs = proc(images=image, text=prompt, return_tensors="pt")
    specials = set(tok.all_special_ids) | {tok.convert_tokens_to_ids("<image>")}
    for seed in range(50):
        model = build(tok, seed)
        with torch.no_grad():
            out = model(**inputs)
            logits = out.logits[0, -1]
            gen = model.generate(**inputs, max_new_tokens=STEPS, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True)
        new = gen.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        gaps = [float(torch.topk(s[0], 2).values.diff().abs()) for s in gen.scores]
        # Words, not byte pieces or special tokens, with clear top-2 gaps.
        if len(new) == STEPS and min(new) > 258 and not specials & set(new) and min(gaps) > 1e-2:
            break
    else:
        raise SystemExit("no seed gave a clean greedy path")
    model.save_pretrained(d, safe_serialization=True)
    proc.save_pretrained(d)
    # llava-hf's repos carry the image processor's own file too (transformers 5 nests it in
    # processor_config.json).
    proc.image_processor.save_pretrained(d)
    ref = {
        "photo": PHOTOS[0], "question": QUESTION, "seed": seed, "steps": STEPS,
        "prompt": prompt,
        "input_ids": inputs["input_ids"][0].tolist(),
        "pixel_values": summary(inputs["pixel_values"]),
        "last_logits": logits.tolist(),
        "greedy_tokens": new, "min_top2_gap": min(gaps),
        "answer": tok.decode(new, skip_special_tokens=True),
        "torch": torch.__version__, "transformers": tf.__version__,
    }
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    size = os.path.getsize(os.path.join(d, "model.safetensors"))
    print(f"llava: seed {seed}, {size} bytes; prompt {prompt!r} ({len(ref['input_ids'])} ids); "
          f"greedy {new} {ref['answer']!r}, min gap {min(gaps):.4f}")
    print(sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
