#!/usr/bin/env bash
# Every CPU figure of bench/README.md in one run, one script after the other (issue 26 point 4): run it on an
# idle machine, nothing else running — each script's ratios are side by side, but the absolute figures are not.
#     bash bench/cpu.sh [OUT_DIR] [TRAINED_CHECKPOINT]
# OUT_DIR (default bench/out/cpu, git-ignored) receives one log per script and machine.txt (load average before
# and after each script, CPU model and flags). TRAINED_CHECKPOINT: a `tiny` checkpoint trained on the world, for
# the probe's fits (their cost depends on the features) and the fp32/bf16 equivalence; without it those two
# steps are skipped. The world is generated into OUT_DIR/world (the default world, 16,000 pairs) unless
# WORLD=DIR names one. About 30 minutes on the project's 2-core VM.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-bench/out/cpu}
TRAINED=${2:-}
PY=${PYTHON:-.venv/bin/python}
CLI=${CLI:-.venv/bin/cyclip-bench}
mkdir -p "$OUT_DIR"
WORLD=${WORLD:-$OUT_DIR/world}
machine() { echo "$(date -u +%FT%TZ) $1 load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT_DIR/machine.txt"; }
{
  grep -m1 "model name" /proc/cpuinfo
  echo "cores: $(nproc)"
  grep -m1 -o "avx512f\|amx_bf16\|avx512_bf16" /proc/cpuinfo | sort -u | tr '\n' ' '
  echo
} > "$OUT_DIR/machine.txt"
[ -f "$WORLD/world.json" ] || "$CLI" data synth "$WORLD" > "$OUT_DIR/synth.log" 2>&1
step() {  # step NAME COMMAND...: one script, its log, the load around it
  local name=$1
  shift
  machine "before $name"
  "$@" > "$OUT_DIR/$name.log" 2>&1
  machine "after $name"
}
step train "$PY" bench/train_bench.py --train-data "$WORLD/captions/train.csv" --batch-size 128 --steps 30 \
  --skip 5 --rounds 3 --workers 1
step seeds "$PY" bench/seeds_bench.py --train-data "$WORLD/captions/train.csv" \
  --methods eager,compile,vmap2,vmap4,batch256 --rounds 4 --chunk 10 --skip 10
step eval-untrained "$PY" bench/eval_bench.py --world "$WORLD"
if [ -n "$TRAINED" ]; then
  step eval-trained "$PY" bench/eval_bench.py --world "$WORLD" --checkpoint "$TRAINED"
fi
step precision "$PY" bench/precision_bench.py --threads 2 --rounds 3
if [ -n "$TRAINED" ]; then
  step precision-equivalence "$PY" bench/precision_bench.py --skip-speed --world "$WORLD" --checkpoint "$TRAINED"
fi
echo "logs in $OUT_DIR"
