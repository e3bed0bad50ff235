#!/usr/bin/env python3
"""A tiny random Marian (Helsinki-NLP/opus-mt layout) + PyTorch reference outputs for Hubble's
Marian parity tests (tests/infer/marian.rs).

Two SentencePiece unigram models are trained on the sentences below (source.spm with the default
nmt_nfkc normalisation, so its precompiled charsmap is exercised; target.spm with identity
normalisation, which keeps it small), vocab.json is built like the Marian converter's (`</s>`,
`<unk>`, target-language codes, the pieces of both models, `<pad>` last; a few source pieces are
left out on purpose so that unknown pieces map to `<unk>`), and a random `MarianMTModel` (2+2
layers, 32 wide, swish, scaled embeddings, shared and tied embeddings, random
`final_logits_bias`) is saved with them.

reference.json holds the ids transformers' MarianTokenizer gives for a list of texts, the first
decoder step's logits, 8 greedy tokens (full recomputation every step, no KV cache; `<pad>` is
never picked, as the `bad_words_ids` of real Marian configs say) and their decoded text, plus
decoded texts of some hand-picked id sequences.

Usage (needs torch, transformers, sentencepiece, safetensors; CPU is enough):
    python3 scripts/reference/make_tiny_marian.py [--out tests/fixtures/tiny]
"""
import argparse
import io
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

SOURCE = [
    "The cat sat on the mat.",
    "A man is eating food on the table.",
    "The weather is nice today, isn't it?",
    "I would like a cup of coffee, please.",
    "Where is the train station?",
    "She reads a book in the garden every morning.",
    "We are going to the cinema tonight.",
    "My brother lives in a small house near the river.",
    "Can you help me with this problem?",
    "The children are playing in the park.",
    "He bought three apples and two oranges.",
    "It is raining, so take an umbrella.",
    "The museum opens at nine o'clock.",
    "Our teacher explained the lesson again.",
    "This café serves the best cake in town.",
    "They travelled by bus to the mountains.",
    "Please close the window, it is cold.",
    "The dog is sleeping under the chair.",
    "I have never seen such a beautiful sunset.",
    "Tomorrow we will visit our grandparents.",
    "The shop on the corner sells fresh bread.",
    "Music makes people happy.",
    "How much does this ticket cost?",
    "The little girl drew a picture of the sea.",
    "He forgot his keys at the office.",
    "Naïve questions are still good questions.",
]
TARGET = [
    "Die Katze saß auf der Matte.",
    "Ein Mann isst Essen auf dem Tisch.",
    "Das Wetter ist heute schön, nicht wahr?",
    "Ich hätte gern eine Tasse Kaffee, bitte.",
    "Wo ist der Bahnhof?",
    "Sie liest jeden Morgen ein Buch im Garten.",
    "Wir gehen heute Abend ins Kino.",
    "Mein Bruder wohnt in einem kleinen Haus am Fluss.",
    "Kannst du mir bei diesem Problem helfen?",
    "Die Kinder spielen im Park.",
    "Er kaufte drei Äpfel und zwei Orangen.",
    "Es regnet, also nimm einen Regenschirm.",
    "Das Museum öffnet um neun Uhr.",
    "Unser Lehrer erklärte die Lektion noch einmal.",
    "Dieses Café serviert den besten Kuchen der Stadt.",
    "Sie fuhren mit dem Bus in die Berge.",
    "Bitte schließ das Fenster, es ist kalt.",
    "Der Hund schläft unter dem Stuhl.",
    "Ich habe noch nie einen so schönen Sonnenuntergang gesehen.",
    "Morgen besuchen wir unsere Großeltern.",
    "Der Laden an der Ecke verkauft frisches Brot.",
    "Musik macht Menschen glücklich.",
    "Wie viel kostet diese Fahrkarte?",
    "Das kleine Mädchen malte ein Bild vom Meer.",
    "Er hat seine Schlüssel im Büro vergessen.",
    "Naive Fragen sind trotzdem gute Fragen.",
]
LANGUAGES = [">>de<<", ">>nl<<"]
# Source pieces left out of vocab.json: the tokenizer must map them to <unk>.
DROPPED = ["rain", "lease"]
# What the tokenizer is checked on: a language code, extra and odd whitespace, NFKC (full-width
# letters, the ﬁ ligature), characters no piece covers, literal special tokens, empty and blank
# texts, other whitespace and combining characters, and the training sentences.
TEXTS = [
    ">>de<< The cat sat on the mat.",
    "A man is eating food on the table.",
    "The weather is nice today, isn't it?",
    "  Where   is\tthe  ｔｒａｉｎ station?  ",
    "The ﬁsh café in Zürich 日本 ok",
    ">>nl<<Please close the window </s> now",
    "",
    "Line one\nline two\r\n\u00a0and\u2003spaces\u3000here",
    "Cafe\u0301 na\u0308ive \U0001F600 <pad> <unk>",
    ">>xx<< unknown code >>de<< inside",
    ">>de<<</s>",
    "   ",
] + SOURCE
STEPS = 8
# Tied random models soon repeat one token under greedy decoding (the input embedding wins), so
# the seed with the most varied greedy output among these is used; the teacher-forced German
# target below checks the KV-cached decoder at every position anyway.
SEEDS = range(3, 20)
FORCED = "Die Katze saß auf der Matte."


def train(sentences, vocab_size, normalization):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, normalization_rule_name=normalization,
        character_coverage=1.0, num_threads=1, seed_sentencepiece_size=10000,
        minloglevel=2)
    return model.getvalue()


def pieces_of(model_bytes):
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())
            if not (sp.is_control(i) or sp.is_unknown(i))]


def greedy_steps(model, ids):
    """First-step logits and STEPS greedy tokens, recomputing everything every step."""
    pad = model.config.pad_token_id
    decoded, first = [pad], None
    with torch.no_grad():
        for _ in range(STEPS):
            logits = model(input_ids=torch.tensor([ids]),
                           decoder_input_ids=torch.tensor([decoded])).logits[0, -1]
            if first is None:
                first = logits.tolist()
            logits[pad] = float("-inf")
            decoded.append(int(logits.argmax()))
    return model, first, decoded[1:]


def random_model(config, seed, ids):
    torch.manual_seed(0)
    model = tf.MarianMTModel(config).eval()
    randomize(model, seed)
    with torch.no_grad():
        # randomize() also hit the frozen sinusoidal tables, which are never saved: put them back.
        for table in (model.model.encoder.embed_positions, model.model.decoder.embed_positions):
            table.weight.copy_(table.create_weight())
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape, generator=g))
    return greedy_steps(model, ids)


def make(out_dir):
    d = os.path.join(out_dir, "marian")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    source = train(SOURCE, 120, "nmt_nfkc")
    target = train(TARGET, 120, "identity")
    with open(os.path.join(d, "source.spm"), "wb") as f:
        f.write(source)
    with open(os.path.join(d, "target.spm"), "wb") as f:
        f.write(target)
    words = ["</s>", "<unk>"] + LANGUAGES
    for piece in pieces_of(source) + pieces_of(target):
        if piece not in words and piece not in DROPPED:
            words.append(piece)
    words.append("<pad>")
    vocab = {w: i for i, w in enumerate(words)}
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=2)
    tok = tf.MarianTokenizer(
        source_spm=os.path.join(d, "source.spm"), target_spm=os.path.join(d, "target.spm"),
        vocab=os.path.join(d, "vocab.json"), source_lang="en", target_lang="de")
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        shutil.copy(os.path.join(tmp, "tokenizer_config.json"), d)
    tok = tf.MarianTokenizer.from_pretrained(d)
    pad = vocab["<pad>"]
    config = tf.MarianConfig(
        vocab_size=len(vocab), decoder_vocab_size=len(vocab), d_model=32, encoder_layers=2,
        decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        activation_function="swish", scale_embedding=True, pad_token_id=pad, eos_token_id=0,
        forced_eos_token_id=0, decoder_start_token_id=pad,
        share_encoder_decoder_embeddings=True)
    ids = tok(TEXTS[0]).input_ids
    tried = [random_model(config, seed, ids) for seed in SEEDS]
    model, first, greedy = max((t for t in tried if 0 not in t[2]), key=lambda t: len(set(t[2])))
    model.generation_config.bad_words_ids = [[pad]]
    model.save_pretrained(d, safe_serialization=True)
    model = tf.MarianMTModel.from_pretrained(d).eval()
    _, first_again, greedy_again = greedy_steps(model, ids)
    assert (first_again, greedy_again) == (first, greedy), "the saved model differs"
    with torch.no_grad():
        generated = model.generate(torch.tensor([ids]), num_beams=1, do_sample=False,
                                   max_new_tokens=STEPS, min_new_tokens=STEPS)[0].tolist()
    # generate() forces `</s>` as the last token (forced_eos_token_id); the rest must agree.
    assert generated[1:STEPS] == greedy[:STEPS - 1], (generated, greedy)
    cases = [{"text": t, "ids": tok(t).input_ids} for t in TEXTS]
    forced = [pad] + tok(text_target=FORCED).input_ids
    with torch.no_grad():
        forced_logits = model(input_ids=torch.tensor([ids]),
                              decoder_input_ids=torch.tensor([forced])).logits[0].tolist()
    decode_cases = [greedy, ids, [vocab[">>de<<"], 1, 0, pad] + ids[1:4] + [pad, 0]]
    reference = {
        "cases": cases,
        "first_logits": first,
        "greedy": greedy,
        "forced": forced,
        "forced_logits": forced_logits,
        "greedy_text": tok.decode(greedy, skip_special_tokens=True),
        "decodes": [{"ids": c, "text": tok.decode(c, skip_special_tokens=True)}
                    for c in decode_cases],
        "torch": torch.__version__, "transformers": tf.__version__,
        "sentencepiece": spm.__version__,
    }
    with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False)
    for case in cases:
        print(repr(case["text"]), tok.convert_ids_to_tokens(case["ids"]))
    print(f"marian: vocab {len(vocab)}, "
          f"{os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes, greedy {greedy} "
          f"= {reference['greedy_text']!r}")
    for c in reference["decodes"]:
        print(c)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    make(args.out)


if __name__ == "__main__":
    main()
