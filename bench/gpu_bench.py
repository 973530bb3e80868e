"""GPU benchmark: training and evaluation throughput on one GPU, against open_clip_train, in one prepared run.

    bash bench/gpu.sh                 # on the GPU machine (installs carried wheels when open_clip is missing)
    python bench/gpu_bench.py --smoke # the CPU path: the same code on a tiny model, a tiny world, fp32

Measures, each after a warm-up (the first `--skip` steps of every run are excluded), side by side:
  - training pairs/s of this trainer for RN50 (the paper's architecture) and ViT-B-32 at 224 px, bf16
    autocast, at the largest per-GPU batch among --batches that fits, for CLIP and for CyCLIP; and of
    open_clip_train.main on the same model, data and batch with --precision amp_bf16 → the ratio; the
    CyCLIP/CLIP step-time ratio;
  - evaluation: the time to encode a world suite's images once (the floor) vs `cyclip-bench eval` of a
    multi-task suite → the ratio, and images/s of image encoding;
  - peak GPU memory of each run (torch.cuda.max_memory_allocated).
Data: the generated world rendered at the model's input size (nothing downloaded). Prints a table last and
writes the full log and a JSON of the figures into --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules

import train_bench  # noqa: E402


def _gpu_facts() -> dict[str, str]:
    import torch

    facts = {"torch": torch.__version__, "python": platform.python_version(), "cuda": str(torch.version.cuda)}
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
        if shutil.which("nvidia-smi"):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
            )
            facts["driver"] = out.stdout.strip()
    else:
        facts["gpu"] = "none (CPU smoke run)"
    try:
        import open_clip

        facts["open_clip"] = open_clip.__version__
    except ImportError:
        facts["open_clip"] = "missing"
    return facts


def _log(handle, text: str) -> None:
    print(text, flush=True)
    handle.write(text + "\n")
    handle.flush()


def _train_section(args, world: Path, out: Path, log) -> list[dict]:
    rows = []
    for model in args.models:
        for batch in args.batches:
            rows_needed = (args.steps + args.skip) * batch
            data = train_bench.subset_csv(world / "captions" / "train.csv", rows_needed, out / f"train-{batch}.csv")
            setup = train_bench.Setup(
                data, model, batch, args.steps, args.skip, args.workers, args.precision, args.device
            )
            try:
                runs = train_bench.measure(setup, args.rounds, out / "logs" / f"{model}-{batch}")
            except train_bench.OutOfMemory:
                _log(log, f"{model}: batch {batch} does not fit; trying the next")
                continue
            result = train_bench.summary(runs)
            peaks = {k: max((r.peak_bytes or 0) for r in v) / 2**30 for k, v in runs.items() if v}
            row = {"model": model, "batch": batch, **result, **{f"peak_gib_{k}": v for k, v in peaks.items()}}
            _log(log, json.dumps(row))
            rows.append(row)
            break
        else:
            _log(log, f"{model}: no batch size among {args.batches} fits")
    return rows


def _eval_section(args, world: Path, out: Path, log) -> dict:
    """Encode-once floor vs a multi-task eval of the first model's last checkpoint."""
    import eval_bench  # the evaluator's benchmark: its floor and suite timing

    model = args.models[0]
    ckpts = sorted((out / "logs").glob(f"{model}-*/clip-*/checkpoints/latest.pt"))
    if not ckpts:
        _log(log, "no checkpoint to evaluate (every training run failed)")
        return {}
    result = eval_bench.measure(
        checkpoint=ckpts[-1],
        data_root=world,
        suite=args.eval_suite,
        batch_size=args.eval_batch,
        workers=args.workers,
        device=args.device,
        precision=args.precision,
        work=out / "eval",
    )
    _log(log, json.dumps({"eval": result}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/out/gpu")
    parser.add_argument("--smoke", action="store_true", help="CPU path: tiny model and world, fp32, small batches")
    parser.add_argument("--models", nargs="+", default=["RN50", "ViT-B-32"])
    parser.add_argument("--batches", nargs="+", type=int, default=[512, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--skip", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--world-size", type=float, default=0.7, help="world size knob (16000 × size pairs)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--eval-suite", default="world")
    parser.add_argument("--eval-batch", type=int, default=512)
    args = parser.parse_args()
    if args.smoke:
        args.models, args.batches, args.steps, args.skip, args.rounds = ["tiny"], [32, 16], 4, 1, 1
        args.workers, args.precision, args.device = 0, "fp32", "cpu"
        args.world_size, args.image_size, args.eval_batch = 0.05, 32, 64
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(out / "gpu_bench.log", "w") as log:
        facts = _gpu_facts()
        _log(log, f"facts: {json.dumps(facts)}")
        _log(log, f"args: {json.dumps(vars(args))}")
        from cyclip_bench.data.synth import generate_world

        world = out / "world"
        if not (world / "world.json").is_file():
            t0 = time.perf_counter()
            generate_world(
                world,
                seed=0,
                size=args.world_size,
                image_size=args.image_size,
                workers=max(1, args.workers),
                overwrite=world.exists(),
            )
            _log(log, f"world at {args.image_size} px generated in {time.perf_counter() - t0:.0f} s")
        train_rows = _train_section(args, world, out, log)
        eval_row = _eval_section(args, world, out, log)
        figures = {
            "facts": facts,
            "train": train_rows,
            "eval": eval_row,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (out / "gpu_bench.json").write_text(json.dumps(figures, indent=2))
        _log(log, "")
        _log(
            log,
            f"{'model':10s} {'batch':>5s} {'CLIP p/s':>9s} {'CyCLIP p/s':>10s} {'open_clip p/s':>13s} "
            f"{'ours/oc':>7s} {'Cy/CLIP':>7s} {'peak GiB':>8s}",
        )
        for row in train_rows:
            _log(
                log,
                f"{row['model']:10s} {row['batch']:5d} {row['clip_pairs_per_s']:9.1f} "
                f"{row['cyclip_pairs_per_s']:10.1f} {row.get('open_clip_train_pairs_per_s', 0):13.1f} "
                f"{row.get('ours_over_open_clip_train', 0):7.2f} {row['cyclip_over_clip_step_time']:7.3f} "
                f"{max(v for k, v in row.items() if k.startswith('peak_gib')):8.2f}",
            )
        if eval_row:
            _log(
                log,
                f"eval: floor {eval_row['floor_s']:.1f} s, suite {eval_row['suite_s']:.1f} s → "
                f"{eval_row['suite_over_floor']:.2f}x; {eval_row['images_per_s']:.0f} images/s encoding",
            )
        _log(log, f"total {time.perf_counter() - started:.0f} s; facts: {json.dumps(facts)}")


if __name__ == "__main__":
    main()
