#!/usr/bin/env bash
# The prepared GPU benchmark (bench/README.md, "GPU"). Run from the repository root on the GPU machine:
#     bash bench/gpu.sh [gpu_bench.py flags]
# That machine has torch but not open_clip_torch, ftfy, wcwidth, webdataset or braceexpand: fetch their wheels here
# first with `bash bench/gpu.sh --fetch-wheels` (into .whl/, git-ignored) and carry .whl along; they are installed
# into /tmp/site when open_clip is missing. Writes the log and figures into $OUT (or bench/out/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.2.13 webdataset==1.0.2 braceexpand==0.1.7)
if [ "${1:-}" = "--fetch-wheels" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "${WHEELS[@]}"
  ls .whl
  exit 0
fi
PY=${PYTHON:-python3}
if ! "$PY" -c "import open_clip" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT_DIR=${OUT:-bench/out/gpu}
mkdir -p "$OUT_DIR"
"$PY" bench/gpu_bench.py --out "$OUT_DIR" "$@"
