#!/usr/bin/env python3
"""Driver for scripts/bench-infer.sh: runs `hubble run --json` (greedy, fixed prompt) and
llama.cpp through llama-cpp-python on the same GGUF and prompt; then embeds the same sentences
with all-MiniLM-L6-v2 (safetensors) in Hubble and in PyTorch transformers (mean pooling +
normalisation, as sentence-transformers). Prints Markdown tables."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTION = ("Explain, step by step and in detail, how a bill becomes a law in the United States, "
            "from the first draft written by a member of Congress through committee hearings, "
            "floor debate and votes in both chambers, conference committees, and finally the "
            "President's signature or veto, including what happens when Congress overrides a veto. "
            "Then summarise the whole process in three short sentences for a ten-year-old reader.")


def hubble_run(binary, gguf, gen, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    args = [binary, "run", "--model-dir", os.path.dirname(gguf), "--device", "cpu", "--json",
            "--temperature", "0", "--repeat-penalty", "1", "--max-tokens", str(gen),
            "--system", SYSTEM, "--input", QUESTION]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = json.loads(proc.stdout.read())  # read first: a full pipe would block the child
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"hubble run exited with {status}")
    return out["prompt_tokens"], out["prompt_tokens_per_s"], out["generated_tokens"], \
        out["decode_tokens_per_s"], usage.ru_maxrss * 1024


def llama_cpp_run(gguf, gen, threads):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=gguf, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                          n_batch=512, verbose=False)
    prompt = (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n"
              "<|im_start|>assistant\n")
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    t0 = time.perf_counter()
    llm.eval(tokens)
    t1 = time.perf_counter()
    n = 0
    eos = llm.token_eos()
    for _ in range(gen):
        tok = int(llm.scores[llm.n_tokens - 1].argmax())
        if tok == eos or tok == 2:
            break
        llm.eval([tok])
        n += 1
    t2 = time.perf_counter()
    return len(tokens), len(tokens) / (t1 - t0), n, n / (t2 - t1), llama_cpp.__version__


SENTENCES = [f"Sentence number {i} is about {topic}, and it is written to be embedded quickly."
             for i, topic in enumerate(["food", "horses", "the weather", "Rust programs",
                                        "the Hugging Face Hub", "quantised models", "music",
                                        "mountains"] * 32)]


def hubble_embed(binary, model_dir, sentences_file, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    args = [binary, "run", "--model-dir", model_dir, "--device", "cpu", "--task",
            "feature-extraction", "--input-file", sentences_file, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read()  # read first: a full pipe would block the child
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"hubble run (embeddings) exited with {status}")
    n = len(json.loads(out)["embeddings"])
    return n, wall, usage.ru_maxrss * 1024


TORCH_EMBED = """
import json, sys, time, resource
t0 = time.perf_counter()
import torch, transformers
torch.set_num_threads(int(sys.argv[3]))
tok = transformers.AutoTokenizer.from_pretrained(sys.argv[1])
model = transformers.AutoModel.from_pretrained(sys.argv[1]).eval()
sentences = open(sys.argv[2]).read().splitlines()
out = []
with torch.no_grad():
    for i in range(0, len(sentences), 32):
        batch = tok(sentences[i:i + 32], padding=True, truncation=True, return_tensors="pt")
        h = model(**batch).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).float()
        e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=1)
        out.extend(e.tolist())
print(json.dumps({"n": len(out), "wall": time.perf_counter() - t0,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "torch": torch.__version__}))
"""


def torch_embed(python, model_dir, sentences_file, threads):
    out = subprocess.run([python, "-c", TORCH_EMBED, model_dir, sentences_file, str(threads)],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["n"], r["wall"], r["rss"], r["torch"]


def embeddings_table(a):
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(SENTENCES))
        path = f.name
    rows = []
    hub = [hubble_embed(a.hubble, a.minilm, path, a.threads) for _ in range(a.runs)]
    wall = statistics.median(r[1] for r in hub)
    rows.append((f"Hubble (candle 0.11, {a.profile} build)", hub[0][0], wall,
                 max(r[2] for r in hub)))
    if a.torch_python:
        tor = [torch_embed(a.torch_python, a.minilm, path, a.threads) for _ in range(a.runs)]
        rows.append((f"PyTorch {tor[0][3]} + transformers", tor[0][0],
                     statistics.median(r[1] for r in tor), max(r[2] for r in tor)))
    print(f"\nall-MiniLM-L6-v2 (safetensors, fp32): {len(SENTENCES)} sentences embedded, "
          f"batches of 32, {a.threads} threads, median of {a.runs} runs; wall time includes "
          "process start and model load\n")
    print("| engine | sentences | wall s | sentences/s | peak RSS |")
    print("|---|---|---|---|---|")
    for name, n, w, rss in rows:
        print(f"| {name} | {n} | {w:.2f} | {n / w:.0f} | {rss / 2**20:.0f} MiB |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubble", required=True)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minilm", help="all-MiniLM-L6-v2 folder (adds the embeddings table)")
    ap.add_argument("--torch-python", help="a Python with torch + transformers")
    a = ap.parse_args()
    size = os.path.getsize(a.gguf)
    rows = []
    hub = [hubble_run(a.hubble, a.gguf, a.gen, a.threads) for _ in range(a.runs)]
    rss = max(r[4] for r in hub)
    rows.append((f"Hubble (candle 0.11, {a.profile} build)", hub[0][0],
                 statistics.median(r[1] for r in hub), statistics.median(r[2] for r in hub),
                 statistics.median(r[3] for r in hub),
                 f"{rss / 2**20:.0f} MiB ({rss / size:.2f} x file)"))
    try:
        ll = [llama_cpp_run(a.gguf, a.gen, a.threads) for _ in range(a.runs)]
        rows.append((f"llama.cpp (llama-cpp-python {ll[0][4]})", ll[0][0],
                     statistics.median(r[1] for r in ll), statistics.median(r[2] for r in ll),
                     statistics.median(r[3] for r in ll), "-"))
    except ImportError:
        rows.append(("llama.cpp (llama-cpp-python not installed)", "-", 0, 0, 0, "-"))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"{os.path.basename(a.gguf)} ({size / 1e6:.1f} MB), {a.threads} threads, {cpu}, "
          f"greedy, median of {a.runs} runs\n")
    print("| engine | prompt tokens | prompt tok/s | generated | decode tok/s | peak RSS |")
    print("|---|---|---|---|---|---|")
    for name, pt, pps, g, dps, r in rows:
        print(f"| {name} | {pt} | {pps:.0f} | {g:.0f} | {dps:.1f} | {r} |")
    if a.minilm:
        embeddings_table(a)


if __name__ == "__main__":
    main()
