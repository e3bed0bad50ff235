#!/usr/bin/env python3
"""Tiny random extractive question-answering checkpoints + transformers 4.x pipeline references.

For BERT, DistilBERT, RoBERTa and DeBERTa-v2 it builds a 2-layer, 32-wide `*ForQuestionAnswering`
model with transformers (fp32, CPU, seeded), saves config.json + model.safetensors + a tokenizer.json
that encodes (question, context) PAIRS with the family's template under
tests/fixtures/tiny/<family>-qa/:
- bert, distilbert, deberta: WordPiece, `[CLS] question [SEP] context [SEP]`, token_type_ids 0 then 1
  (DistilBERT's model takes no token_type_ids; DeBERTa-v3-style type_vocab_size=0 ignores them);
- roberta: byte-level BPE, `<s> question </s></s> context </s>`, token_type_ids all 0.
The qa_outputs head is scaled up so that the top answers are well separated.

reference.json holds, for 3 (question, context) pairs (the third context needs several 384-token
windows), every window the pipeline fed the model (input_ids, token_type_ids, offsets, start/end
logits, captured from the model call itself) and the answers of transformers 4.x's
`question-answering` pipeline with top_k=3 (`answer`, `score`, `start`, `end` in characters of the
context). decode() below is that pipeline's postprocess rewritten from the saved windows; the script
checks it gives the pipeline's answers, so it is the algorithm to port. transformers 5 removed
that pipeline, so this script must run with transformers<5, e.g.:

    python3 -m venv venv-tf4 && venv-tf4/bin/pip install torch 'transformers<5' safetensors tokenizers
    venv-tf4/bin/python scripts/reference/make_tiny_qa.py [--out tests/fixtures/tiny]

The word list, sentences and tokenizer builders here are shared with make_tiny_zero_shot.py.
"""
import argparse
import json
import os
import random
import shutil
import sys

import numpy as np
import torch
import transformers as tf
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(__file__))
from make_tiny_checkpoints import randomize  # noqa: E402

SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
PIPELINE_ARGS = dict(top_k=3, max_seq_len=384, doc_stride=128, max_answer_len=15, max_question_len=64,
                     handle_impossible_answer=False)
QA_SCALE = 6.0  # qa_outputs weights ×6: peaked start/end softmaxes
# randomize() seeds whose top-4 answers are >10% apart in score for all 3 examples (searched once).
SEEDS = {"bert": 21, "distilbert": 3, "roberta": 9, "deberta": 8}

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
PUNCTUATION = [".", ",", "?", "!", "'", "-"]
WORDS = (
    "a an the this that is was are were be and or but to of in on at by with near from for every "
    "who what where when which how did does do example about "
    "man woman cat dog bird teacher child friend maria john anna paris london river station house "
    "car tree park mat bread apple food book letter garden city morning evening sunday monday "
    "eat eats ate sleep sleeps read reads wrote paint build built walk watch play cook visit "
    "red blue green old small big quiet happy slowly quickly "
    "sports politics cooking weather music science travel story "
    "yes no not one two three"
).split()
SUFFIXES = ["##s", "##ed", "##ing", "##ly", "##er", "##est"]
WORDPIECE_VOCAB = WORDPIECE_SPECIALS + PUNCTUATION + WORDS + SUFFIXES

SUBJECTS = ["The cat", "A dog", "The old man", "Maria", "John", "The teacher", "A small bird", "Anna",
            "The child", "Her friend", "The happy woman"]
VERBS = ["eats", "painted", "walked to", "sleeps in", "built", "reads", "watches", "visited",
         "cooked", "wrote about", "played near"]
OBJECTS = ["the red house", "a green tree", "the park", "bread", "an apple", "the river", "the old station",
           "a blue car", "the quiet garden", "London", "Paris", "a big book", "the letter"]
EXTRAS = ["in the morning", "on Sunday", "with her friend", "quickly", "near the station", "every evening",
          "slowly", "on Monday", ""]


def long_context(sentences, seed):
    """Deterministic pseudo-random prose, `sentences` sentences long."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(EXTRAS)]
        out.append(" ".join(w for w in words if w) + rng.choice([".", ".", ",", "!"]))
    return " ".join(out)


EXAMPLES = [
    ("Where does the cat sleep?",
     "The cat sleeps on the red mat in the small house. The dog eats bread in the park every morning."),
    ("Who painted the blue car?",
     "Maria painted the blue car on Sunday, and John was walking slowly to the old station near the river. "
     "Anna's friend cooked an apple for the quiet children."),
    ("What did the teacher read in the garden?", long_context(70, 7)),
]


def corpus():
    """Text the byte-level BPE is trained on (everything the fixtures encode, plus the word list)."""
    texts = [q + " " + c for q, c in EXAMPLES] + [" ".join(WORDS), " ".join(w.capitalize() for w in WORDS)]
    return texts * 3


def wordpiece_tokenizer():
    """BERT-style uncased WordPiece with the `[CLS] A [SEP] B [SEP]` pair template (type ids 0 / 1)."""
    vocab = {w: i for i, w in enumerate(WORDPIECE_VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(WORDPIECE_SPECIALS)
    return tok


def byte_level_tokenizer(vocab_size=420):
    """RoBERTa/BART-style byte-level BPE trained on corpus(): `<s> A </s></s> B </s>`, type ids all 0."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=BPE_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    return tok


def hf_tokenizer(tok, family):
    """The pipeline's view of `tok`: a fast tokenizer with the family's special tokens and model inputs."""
    if family in ("roberta", "bart"):
        specials = dict(bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                        pad_token="<pad>", mask_token="<mask>")
    else:
        specials = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                        mask_token="[MASK]")
    names = ["input_ids", "token_type_ids", "attention_mask"]
    if family in ("distilbert", "roberta", "bart"):
        names = ["input_ids", "attention_mask"]
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, model_input_names=names, padding_side="right",
                                      model_max_length=512, **specials)


def tokenizer(family):
    return byte_level_tokenizer() if family in ("roberta", "bart") else wordpiece_tokenizer()


def config(family, tok, **extra):
    """A 2-layer, 32-wide config for `family` over `tok`'s vocabulary, 512 usable positions."""
    vocab = tok.get_vocab_size()
    if family == "bert":
        return tf.BertConfig(vocab_size=vocab, max_position_embeddings=512, pad_token_id=0, **SIZE, **extra)
    if family == "distilbert":
        return tf.DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                   max_position_embeddings=512, pad_token_id=0, **extra)
    if family == "deberta":
        return tf.DebertaV2Config(vocab_size=vocab, max_position_embeddings=512, pad_token_id=0,
                                  relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=16,
                                  max_relative_positions=-1, norm_rel_ebd="layer_norm", share_att_key=True,
                                  position_biased_input=False, type_vocab_size=0, **SIZE, **extra)
    if family == "roberta":
        return tf.RobertaConfig(vocab_size=vocab, max_position_embeddings=514, pad_token_id=1, bos_token_id=0,
                                eos_token_id=2, type_vocab_size=1, **SIZE, **extra)
    raise ValueError(family)


QA_CLASSES = {"bert": "BertForQuestionAnswering", "distilbert": "DistilBertForQuestionAnswering",
              "roberta": "RobertaForQuestionAnswering", "deberta": "DebertaV2ForQuestionAnswering"}


class Recorder:
    """Forward hook: every window the pipeline runs, with the logits the model returned."""

    def __init__(self, model):
        self.calls = []
        model.register_forward_hook(self.hook, with_kwargs=True)

    def hook(self, _module, _args, kwargs, output):
        self.calls.append({
            "input_ids": kwargs["input_ids"][0].tolist(),
            "inputs": sorted(k for k, v in kwargs.items() if isinstance(v, torch.Tensor)),
            "start_logits": output.start_logits[0].tolist(),
            "end_logits": output.end_logits[0].tolist(),
        })


def windows(hf_tok, question, context):
    """The pipeline's own tokenizer call (question first, only the context truncated): the windows as
    saved in reference.json, and their tokenizers.Encoding objects."""
    enc = hf_tok(text=question, text_pair=context, truncation="only_second",
                 max_length=PIPELINE_ARGS["max_seq_len"], stride=PIPELINE_ARGS["doc_stride"],
                 return_token_type_ids=True, return_overflowing_tokens=True, return_offsets_mapping=True)
    wins = [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
             "offsets": [list(o) for o in enc["offset_mapping"][i]],
             "sequence_ids": [-1 if s is None else s for s in enc.sequence_ids(i)]}
            for i in range(len(enc["input_ids"]))]
    return wins, enc.encodings


def span_scores(window, cls):
    """transformers 4.x's select_starts_ends: start and end softmaxes over the context tokens and CLS
    (everything else at -10000), CLS then zeroed; score(s, e) = p_start[s] * p_end[e] for
    s <= e <= s + max_answer_len - 1, else 0. Returns the (tokens, tokens) matrix."""
    allowed = np.array([s == 1 or i == cls for s, i in zip(window["sequence_ids"], window["input_ids"])])
    probs = []
    for logits in (window["start_logits"], window["end_logits"]):
        x = np.where(allowed, np.array(logits, dtype=np.float32), np.float32(-10000.0))
        e = np.exp(x - x.max())
        probs.append(e / e.sum())
    probs[0][0] = probs[1][0] = 0.0
    return np.tril(np.triu(np.outer(probs[0], probs[1])), PIPELINE_ARGS["max_answer_len"] - 1), allowed


def pre_topk(top_k):
    return 2 * top_k + 10  # candidates per window with align_to_words (some may merge)


def cutoff_gap(window, cls, top_k):
    """Ratio of the last kept to the first dropped span score in a window: must not be a near-tie."""
    top = np.sort(span_scores(window, cls)[0].flatten())[::-1]
    return top[pre_topk(top_k) - 1] / top[pre_topk(top_k)]


def decode(wins, encodings, context, cls, top_k):
    """transformers 4.x's question-answering postprocess, from the saved windows: per window the
    pre_topk best spans whose start and end are context tokens, widened to whole words
    (token_to_word → word_to_chars in the context); a span whose text equals (case-insensitively)
    an answer already found adds its score to that answer (which keeps its first start/end); the
    top_k answers by score."""
    answers = []
    for window, enc in zip(wins, encodings):
        scores, allowed = span_scores(window, cls)
        flat = scores.flatten()
        order = np.argsort(-flat, kind="stable")[:pre_topk(top_k)]
        for s, e in zip(*np.unravel_index(order, scores.shape)):
            if not (allowed[s] and allowed[e]):
                continue
            start = enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0]
            end = enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1]
            text = context[start:end]
            same = [a for a in answers if a["answer"].lower() == text.lower()]
            if same:
                same[0]["score"] += float(scores[s, e])
            else:
                answers.append({"score": float(scores[s, e]), "start": start, "end": end, "answer": text})
    return sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]


def ratios(answers):
    return [answers[i]["score"] / answers[i + 1]["score"] for i in range(len(answers) - 1)]


def make(family, out_dir):
    d = os.path.join(out_dir, f"{family}-qa")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tok = tokenizer(family)
    tok.save(os.path.join(d, "tokenizer.json"))
    hf_tok = hf_tokenizer(tok, family)
    torch.manual_seed(0)
    model = getattr(tf, QA_CLASSES[family])(config(family, tok)).eval()
    randomize(model, SEEDS[family])
    with torch.no_grad():
        model.qa_outputs.weight.mul_(QA_SCALE)
    model.save_pretrained(d, safe_serialization=True)
    qa = tf.pipeline("question-answering", model=model, tokenizer=hf_tok, device="cpu")
    recorder = Recorder(model)
    examples, worst = [], float("inf")
    for question, context in EXAMPLES:
        recorder.calls.clear()
        with torch.no_grad():
            answers = qa(question=question, context=context, **PIPELINE_ARGS)
            # One more answer than asked (saved as fourth_answer): shows the third is separated from the
            # fourth. That call keeps 18 candidates per window, not 16: compare against `answers`.
            fourth = qa(question=question, context=context, **{**PIPELINE_ARGS, "top_k": 4})
        calls = recorder.calls[:len(recorder.calls) // 2]
        wins, encodings = windows(hf_tok, question, context)
        assert [w["input_ids"] for w in wins] == [c["input_ids"] for c in calls], "pipeline windows differ"
        for w, c in zip(wins, calls):
            w.update(start_logits=c["start_logits"], end_logits=c["end_logits"], model_inputs=c["inputs"])
        # Same spans; the scores may differ a little: the pipeline sums the scores of candidates with the
        # same text, and it looks at 2 * top_k + 10 candidates per window.
        assert [(a["start"], a["end"]) for a in fourth[:3]] == [(a["start"], a["end"]) for a in answers]
        gap = min(cutoff_gap(w, hf_tok.cls_token_id, PIPELINE_ARGS["top_k"]) for w in wins)
        for theirs, top_k in ((answers, 3), (fourth, 4)):
            ours = decode(wins, encodings, context, hf_tok.cls_token_id, top_k)
            assert [(a["answer"], a["start"], a["end"]) for a in ours] == \
                [(a["answer"], a["start"], a["end"]) for a in theirs], (ours, theirs)
            assert max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs)) < 1e-6, (ours, theirs)
        assert gap > 1.01, f"{family}: the last kept and first dropped candidate spans nearly tie ({gap:.4f})"
        worst = min([worst] + ratios(fourth))
        context_tokens = len(tok.encode(context, add_special_tokens=False).ids)
        print(f"  {family}: {[round(a['score'], 4) for a in fourth]}, candidate cut-off gap {gap:.4f}")
        examples.append({"question": question, "context": context, "context_tokens": context_tokens,
                         "windows": wins, "answers": answers, "fourth_answer": fourth[3]})
    assert examples[2]["context_tokens"] >= 600 and len(examples[2]["windows"]) >= 2
    assert worst > 1.1, f"{family}: answers too close (score ratio {worst:.3f})"
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"pipeline": "question-answering", "pipeline_args": PIPELINE_ARGS, "examples": examples,
                   "torch": torch.__version__, "transformers": tf.__version__}, f)
    sizes = {n: os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)}
    print(f"{family}-qa: windows {[len(e['windows']) for e in examples]}, "
          f"worst score ratio {worst:.2f}, sizes {sizes}")
    assert max(sizes.values()) < 300_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tiny"))
    args = ap.parse_args()
    assert tf.__version__.startswith("4."), "the question-answering pipeline needs transformers<5"
    torch.set_num_threads(1)
    for family in ["bert", "distilbert", "roberta", "deberta"]:
        make(family, args.out)


if __name__ == "__main__":
    main()
