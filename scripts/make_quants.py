#!/usr/bin/env python3
"""Requantises a GGUF with llama.cpp's own quantizer (llama-cpp-python's
`llama_model_quantize`, requantising allowed) into OUT/<TYPE>/<stem>.<TYPE>.gguf, one file per
folder (so `hubble run --model-dir` sees only it). Files already there are kept.

    python3 scripts/make_quants.py SOURCE.gguf OUT Q4_0 Q8_0 Q4_K_M Q6_K
"""
import ctypes
import os
import sys

import llama_cpp

FTYPES = {
    "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
    "Q4_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1,
    "Q5_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0,
    "Q5_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_1,
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
}


def main():
    source, out, *types = sys.argv[1:]
    stem = os.path.basename(source).split(".")[0]
    for name in types:
        target = os.path.join(out, name, f"{stem}.{name}.gguf")
        if os.path.exists(target):
            print(target)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = FTYPES[name]
        params.allow_requantize = True
        params.nthread = os.cpu_count() or 1
        partial = target + ".partial"
        rc = llama_cpp.llama_model_quantize(source.encode(), partial.encode(), ctypes.byref(params))
        if rc != 0:
            raise SystemExit(f"llama_model_quantize {name} failed ({rc})")
        os.rename(partial, target)
        print(target)


if __name__ == "__main__":
    main()
