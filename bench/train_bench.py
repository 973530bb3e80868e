"""Training throughput: this trainer vs open_clip_train on the same model, CSV and batch; CyCLIP vs CLIP.

    python bench/train_bench.py --train-data WORLD/captions/train.csv [--batch-size 128] [--steps 30]

Each round runs, one after another, in a fresh process each and on the same CSV subset (exactly
(skip + steps) × batch rows, one epoch, so both trainers do the same work):
  1. `cyclip-bench train --loss clip`, 2. `cyclip-bench train --loss cyclip` (both with their defaults: a caption
  table that fits in RAM is decoded once, before the first step, and channels_last for ResNets),
  3. `cyclip-bench train --loss clip --data-cache off --no-channels-last` (open_clip_train's data path),
  4. `python -m open_clip_train.main` (our presets registered with open_clip.add_model_config).
Rounds interleave the four so that a slow spell of a shared machine hits all of them alike. Throughput of a
run is the median pairs/s over its logged steps after the first `--skip` (start-up and warm-up excluded); a
trainer's figure is the median over rounds, a ratio the median over rounds of the ratio within a round. On CUDA
each run also reports its peak torch.cuda.max_memory_allocated().
`bench/gpu_bench.py` calls `measure()` for the GPU benchmark.

    python bench/train_bench.py --train-data … --objectives clip,siglip,siglip-cyclic

runs only our trainer, once per objective (`--loss`) per round, interleaved in the same way, and prints each
objective's step time relative to the first's (median over rounds of the within-round ratio).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Prints the peak CUDA memory at exit, whatever way the trainer ends.
_PEAK = (
    "import atexit, torch; atexit.register(lambda: print("
    "f'PEAK_CUDA_BYTES {torch.cuda.max_memory_allocated()}', flush=True) "
    "if torch.cuda.is_available() else None); "
)
OURS_LAUNCHER = _PEAK + "import sys; from cyclip_bench.cli import main; main(sys.argv[1:])"
OPEN_CLIP_LAUNCHER = (
    _PEAK + "import sys, open_clip; from cyclip_bench.models import PRESET_DIR; "
    "open_clip.add_model_config(PRESET_DIR); from open_clip_train.main import main; main(sys.argv[1:])"
)
OPEN_CLIP_PRECISION = {"fp32": "fp32", "bf16": "amp_bf16", "fp16": "amp"}


class OutOfMemory(RuntimeError):
    """The run did not fit on the device at this batch size."""


@dataclass
class Run:
    pairs_per_s: float
    peak_bytes: int | None
    setup_s: float | None = None  # one-time decode into memory (--data-cache), when it happened


@dataclass(frozen=True)
class Setup:
    train_data: Path  # the CSV subset both trainers read
    model: str
    batch_size: int
    steps: int
    skip: int
    workers: int
    precision: str
    device: str
    lr: float = 5e-4


def subset_csv(source: str | Path, rows: int, out: Path) -> Path:
    """The first `rows` rows of a caption CSV with absolute image paths (both trainers read this file)."""
    source = Path(source).resolve()
    with open(source, newline="") as handle:
        reader = csv.DictReader(handle)
        items = [row for _, row in zip(range(rows), reader, strict=False)]
    if len(items) < rows:
        raise SystemExit(f"{source} has {len(items)} rows; the benchmark needs {rows} (a bigger world or fewer steps)")
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for row in items:
            writer.writerow([str((source.parent / row["image"]).resolve()), row["caption"]])
    return out


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    text = proc.stdout + proc.stderr
    if "out of memory" in text.lower() or "OutOfMemoryError" in text:
        raise OutOfMemory(text[-500:])
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd[:6])} …\n{text[-3000:]}")
    return text


def _peak(text: str) -> int | None:
    found = re.findall(r"PEAK_CUDA_BYTES (\d+)", text)
    return int(found[-1]) if found else None


# Our trainer with the data path open_clip_train has (images decoded per epoch in DataLoader workers) and
# contiguous tensors: shows what the in-memory cache and channels_last add.
STREAMED = ("--data-cache", "off", "--no-channels-last")


def ours(setup: Setup, loss: str, logs: Path, extra: tuple[str, ...] = (), tag: str = "") -> Run:
    prefix = f"{loss}{tag}"
    name = f"{prefix}-{len(list(logs.glob(f'{prefix}-*')))}" if logs.exists() else f"{prefix}-0"
    text = _run(
        [
            sys.executable,
            "-c",
            OURS_LAUNCHER,
            "train",
            "--train-data",
            str(setup.train_data),
            "--model",
            setup.model,
            "--loss",
            loss,
            "--batch-size",
            str(setup.batch_size),
            "--epochs",
            "1",
            "--workers",
            str(setup.workers),
            "--precision",
            setup.precision,
            "--device",
            setup.device,
            "--logs",
            str(logs),
            "--name",
            name,
            "--log-every",
            "1",
            "--checkpoint-steps",
            "1000000",
            "--no-progress",
            "--lr",
            str(setup.lr),
            "--warmup",
            "10",
            *extra,
        ]
    )
    rates = [
        json.loads(line)["pairs_per_s"]
        for line in (logs / name / "metrics.jsonl").read_text().splitlines()
        if '"split": "train"' in line
    ]
    decoded = re.findall(r"decoded in ([\d.]+) s", text)
    return Run(statistics.median(rates[setup.skip :]), _peak(text), float(decoded[-1]) if decoded else None)


def open_clip_train(setup: Setup, logs: Path) -> Run:
    name = f"open_clip-{len(list(logs.glob('open_clip-*')))}" if logs.exists() else "open_clip-0"
    text = _run(
        [
            sys.executable,
            "-c",
            OPEN_CLIP_LAUNCHER,
            "--train-data",
            str(setup.train_data),
            "--dataset-type",
            "csv",
            "--csv-separator",
            ",",
            "--csv-img-key",
            "image",
            "--csv-caption-key",
            "caption",
            "--model",
            setup.model,
            "--batch-size",
            str(setup.batch_size),
            "--epochs",
            "1",
            "--workers",
            str(setup.workers),
            "--precision",
            OPEN_CLIP_PRECISION[setup.precision],
            "--logs",
            str(logs),
            "--name",
            name,
            "--save-frequency",
            "0",
            "--log-every-n-steps",
            "1",
            "--lr",
            str(setup.lr),
            "--warmup",
            "10",
            "--device",
            setup.device,
            "--report-to",
            "",
        ],
        cwd=logs,
    )
    rates = [float(r) for r in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", text)]
    if not rates:
        raise SystemExit(f"open_clip_train printed no throughput lines:\n{text[-3000:]}")
    return Run(statistics.median(rates[setup.skip :]), _peak(text))


def measure(setup: Setup, rounds: int, logs: Path, with_open_clip: bool = True) -> dict[str, list[Run]]:
    """Interleaved rounds of CLIP, CyCLIP and open_clip_train; OutOfMemory if the batch does not fit."""
    logs.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[Run]] = {"clip": [], "cyclip": [], "clip_streamed": [], "open_clip_train": []}
    for _ in range(rounds):
        runs["clip"].append(ours(setup, "clip", logs))
        runs["cyclip"].append(ours(setup, "cyclip", logs))
        runs["clip_streamed"].append(ours(setup, "clip", logs, STREAMED, "-streamed"))
        if with_open_clip:
            runs["open_clip_train"].append(open_clip_train(setup, logs))
    return runs


def measure_objectives(setup: Setup, rounds: int, logs: Path, losses: list[str]) -> dict[str, list[Run]]:
    """Interleaved rounds of our trainer with each objective (same CSV, batch and defaults)."""
    logs.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[Run]] = {loss: [] for loss in losses}
    for _ in range(rounds):
        for loss in losses:
            runs[loss].append(ours(setup, loss, logs))
    return runs


def median_rate(runs: list[Run]) -> float:
    return statistics.median(r.pairs_per_s for r in runs)


def paired_ratio(top: list[Run], bottom: list[Run]) -> float:
    """Median over rounds of top/bottom within a round (the runs of one round ran back to back)."""
    return statistics.median(a.pairs_per_s / b.pairs_per_s for a, b in zip(top, bottom, strict=True))


def summary(runs: dict[str, list[Run]]) -> dict[str, float]:
    """Median pairs/s per trainer; ratios are medians of per-round ratios, which cancel slow spells."""
    clip, cyclip = median_rate(runs["clip"]), median_rate(runs["cyclip"])
    streamed = median_rate(runs["clip_streamed"])
    decode = [r.setup_s for r in runs["clip"] if r.setup_s is not None]
    out = {
        "clip_pairs_per_s": clip,
        "cyclip_pairs_per_s": cyclip,
        "cyclip_over_clip_step_time": paired_ratio(runs["clip"], runs["cyclip"]),
        "clip_streamed_pairs_per_s": streamed,
        "cache_decode_s": statistics.median(decode) if decode else None,
    }
    if runs["open_clip_train"]:
        reference = median_rate(runs["open_clip_train"])
        out.update(
            open_clip_train_pairs_per_s=reference,
            ours_over_open_clip_train=paired_ratio(runs["clip"], runs["open_clip_train"]),
            streamed_over_open_clip_train=paired_ratio(runs["clip_streamed"], runs["open_clip_train"]),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-data", required=True, help="caption CSV (image,caption), e.g. a world's train.csv")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="measured steps per run")
    parser.add_argument("--skip", type=int, default=5, help="steps ignored at the start of each run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--precision", default="fp32", choices=sorted(OPEN_CLIP_PRECISION))
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--objectives", default=None, help="comma list of --loss values to compare side by side (ours only)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp).resolve()
        data = subset_csv(args.train_data, (args.steps + args.skip) * args.batch_size, tmp_path / "train.csv")
        setup = Setup(
            data,
            args.model,
            args.batch_size,
            args.steps,
            args.skip,
            args.workers,
            args.precision,
            args.device,
        )
        if args.objectives:
            losses = [o.strip() for o in args.objectives.split(",") if o.strip()]
            runs = measure_objectives(setup, args.rounds, tmp_path / "logs", losses)
        else:
            runs = measure(setup, args.rounds, tmp_path / "logs")
    if args.objectives:
        _print_objectives(runs)
        return
    for name, rs in runs.items():
        print(f"{name:16s} " + "  ".join(f"{r.pairs_per_s:8.1f}" for r in rs) + "  pairs/s per round")
    result = summary(runs)
    print(
        f"median pairs/s: CLIP {result['clip_pairs_per_s']:.1f}, CyCLIP {result['cyclip_pairs_per_s']:.1f}, "
        f"CLIP streamed {result['clip_streamed_pairs_per_s']:.1f}, "
        f"open_clip_train {result['open_clip_train_pairs_per_s']:.1f}"
    )
    if result["cache_decode_s"] is not None:
        rows = (args.steps + args.skip) * args.batch_size
        print(f"one-time decode into memory: {result['cache_decode_s']:.1f} s for {rows} pairs (not in pairs/s)")
    print(f"ratio ours/open_clip_train (CLIP): {result['ours_over_open_clip_train']:.2f}x   (target >= 1.3x)")
    print(
        f"ratio ours streamed (--data-cache off --no-channels-last)/open_clip_train: "
        f"{result['streamed_over_open_clip_train']:.2f}x"
    )
    print(f"step time CyCLIP/CLIP: {result['cyclip_over_clip_step_time']:.3f}x   (target <= 1.03x)")


def _print_objectives(runs: dict[str, list[Run]]) -> None:
    first = next(iter(runs))
    for name, rs in runs.items():
        ratio = paired_ratio(runs[first], rs)  # pairs/s first / pairs/s this = step time this / first
        print(
            f"{name:16s} " + "  ".join(f"{r.pairs_per_s:8.1f}" for r in rs) + f"  pairs/s per round; "
            f"median {median_rate(rs):.1f}; step time / {first}: {ratio:.3f}x"
        )


if __name__ == "__main__":
    main()
