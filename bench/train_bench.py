"""Training throughput: this trainer vs open_clip_train on the same tiny model, CSV and batch; CyCLIP vs CLIP.

    python bench/train_bench.py --train-data WORLD/captions/train.csv [--batch-size 128] [--steps 40]

Runs, one after another in one process each (fp32, 1 process, same DataLoader workers):
  1. `cyclip-bench train --loss clip`, 2. `cyclip-bench train --loss cyclip`,
  3. `python -m open_clip_train.main` with our `tiny` preset registered through open_clip.add_model_config.
Throughput is the median pairs/s over logged steps after the first few (start-up and warm-up excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

OPEN_CLIP_LAUNCHER = (
    "import sys, open_clip; from cyclip_bench.models import PRESET_DIR; "
    "open_clip.add_model_config(PRESET_DIR); from open_clip_train.main import main; main(sys.argv[1:])"
)


def ours(args: argparse.Namespace, loss: str, logs: Path) -> float:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cyclip_bench",
            "train",
            "--train-data",
            args.train_data,
            "--model",
            args.model,
            "--loss",
            loss,
            "--batch-size",
            str(args.batch_size),
            "--max-steps",
            str(args.steps),
            "--epochs",
            "1000",
            "--workers",
            str(args.workers),
            "--precision",
            "fp32",
            "--logs",
            str(logs),
            "--name",
            loss,
            "--log-every",
            "1",
            "--checkpoint-steps",
            "1000000",
            "--no-progress",
            "--lr",
            "5e-4",
        ],
        check=True,
        capture_output=True,
    )
    rates = [
        json.loads(line)["pairs_per_s"] for line in (logs / loss / "metrics.jsonl").read_text().splitlines()
    ]
    return statistics.median(rates[args.skip :])


def open_clip_train(args: argparse.Namespace, logs: Path) -> float:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            OPEN_CLIP_LAUNCHER,
            "--train-data",
            args.train_data,
            "--dataset-type",
            "csv",
            "--csv-separator",
            ",",
            "--csv-img-key",
            "image",
            "--csv-caption-key",
            "caption",
            "--model",
            args.model,
            "--batch-size",
            str(args.batch_size),
            "--epochs",
            "1",
            "--workers",
            str(args.workers),
            "--precision",
            "fp32",
            "--logs",
            str(logs),
            "--name",
            "open_clip",
            "--save-frequency",
            "0",
            "--log-every-n-steps",
            "1",
            "--lr",
            "5e-4",
            "--warmup",
            "10",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        cwd=Path(args.train_data).resolve().parent,  # open_clip_train reads image paths relative to the CWD
    )
    rates = [float(r) for r in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", proc.stdout + proc.stderr)]
    if not rates:
        raise SystemExit(
            f"open_clip_train produced no throughput lines:\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return statistics.median(rates[args.skip : args.skip + args.steps])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-data", required=True)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--skip", type=int, default=5, help="logged steps ignored at the start")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip, cyclip = ours(args, "clip", Path(tmp)), ours(args, "cyclip", Path(tmp))
        print(f"cyclip-bench CLIP    {clip:8.1f} pairs/s")
        print(f"cyclip-bench CyCLIP  {cyclip:8.1f} pairs/s", flush=True)
        reference = open_clip_train(args, Path(tmp).resolve() / "oc")
    print(f"open_clip_train CLIP {reference:8.1f} pairs/s")
    print(f"ratio ours/open_clip_train (CLIP): {clip / reference:.2f}x   (target >= 1.3x)")
    print(f"step time CyCLIP/CLIP: {clip / cyclip:.3f}x   (target <= 1.03x)")


if __name__ == "__main__":
    main()
