#!/usr/bin/env python3
"""Driver for scripts/bench-infer.sh: runs `hubble run --json` (greedy, fixed prompt) and
llama.cpp through llama-cpp-python on the same GGUF and prompt; prints a Markdown table."""
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
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    out = json.loads(proc.stdout.read())
    if status != 0:
        raise SystemExit(f"hubble failed: {proc.stderr.read().decode()}")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubble", required=True)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
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
    print(f"SmolLM2-135M-Instruct Q4_1 GGUF ({size / 1e6:.1f} MB), {a.threads} threads, {cpu}, "
          f"greedy, median of {a.runs} runs\n")
    print("| engine | prompt tokens | prompt tok/s | generated | decode tok/s | peak RSS |")
    print("|---|---|---|---|---|---|")
    for name, pt, pps, g, dps, r in rows:
        print(f"| {name} | {pt} | {pps:.0f} | {g:.0f} | {dps:.1f} | {r} |")


if __name__ == "__main__":
    main()
