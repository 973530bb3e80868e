"""Zoo sweep: one `cyclip-bench eval` over several checkpoints vs one eval per checkpoint, side by side.

    .venv/bin/python bench/zoo_bench.py [--world DIR] [--size 1.0] [--suite world] [--models 3] [--rounds 3]

The checkpoints are `tiny` models initialised with seeds 0, 1, 2, … (untrained: decoding and encoding cost the
same whatever the weights; the linear probes' L-BFGS fits do depend on them). Each round runs, in alternating
order, ONE `cyclip-bench eval -c A -c B -c C` and THREE `cyclip-bench eval -c X` (each a process of its own, as a
user would type them), every run with a fresh --out and a fresh --cache-dir, so nothing is reused between runs.
The sweep's results must equal the separate runs' metric for metric (the script exits otherwise).

Prints one JSON line: the median wall times, the median over rounds of sweep / separate, and where the time went
(decoding, image encoding, text encoding, tasks) from the results' ``run`` records.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_checkpoints(folder: Path, count: int, model: str = "tiny") -> list[Path]:
    """``count`` untrained ``model`` checkpoints, seeds 0..count-1 (this project's checkpoint format)."""
    import torch

    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        torch.manual_seed(seed)
        net, info = create_model(model)
        path = folder / f"zoo-s{seed}.pt"
        save_checkpoint(path, model_payload(net, info))
        paths.append(path)
    return paths


def run_eval(checkpoints: list[Path], args: argparse.Namespace, work: Path) -> tuple[float, list[dict]]:
    """One `cyclip-bench eval` process over ``checkpoints`` into fresh folders under ``work``: (wall seconds,
    the result documents in checkpoint order)."""
    out, cache = work / "out", work / "cache"
    command = [sys.executable, "-m", "cyclip_bench", "eval", "--suite", args.suite, "--data-root", str(args.world)]
    for path in checkpoints:
        command += ["--checkpoint", str(path)]
    command += ["--out", str(out), "--cache-dir", str(cache), "--batch-size", str(args.batch_size)]
    command += ["--workers", str(args.workers), "--device", "cpu", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"eval failed ({' '.join(command)}):\n{proc.stderr[-3000:]}")
    suite = json.loads(next(out.glob("*.json")).read_text())["suite"]["name"]
    docs = [json.loads((out / f"{path.stem}__{suite}.json").read_text()) for path in checkpoints]
    return wall, docs


def profile(docs: list[dict]) -> dict[str, float]:
    """Seconds spent per stage, summed over the checkpoints' run records. ``decode_shared`` is the decoding done
    once for a group of checkpoints (a sweep); a one-model run decodes inside its image encoding."""
    parts = {"decode_shared": 0.0, "encode_images": 0.0, "encode_texts": 0.0, "tasks": 0.0, "total": 0.0}
    for doc in docs:
        run = doc["run"]
        for key in ("encode_images", "encode_texts", "tasks", "total"):
            parts[key] += run["wall_time_s"][key]
        parts["decode_shared"] += run.get("shared_decoding", {}).get("decode_s", 0.0)
    return {key: round(value, 2) for key, value in parts.items()}


def metrics(doc: dict) -> dict[str, dict]:
    return {task["name"]: task["metrics"] for task in doc["tasks"]}


def one_round(checkpoints: list[Path], args: argparse.Namespace, work: Path, sweep_first: bool) -> dict:
    """The sweep and the separate runs, in the given order; checks that they agree."""
    figures: dict = {}

    def sweep() -> None:
        figures["sweep_s"], figures["sweep_docs"] = run_eval(checkpoints, args, work / "sweep")

    def separate() -> None:
        runs = [run_eval([path], args, work / f"alone-{i}") for i, path in enumerate(checkpoints)]
        figures["separate_s"] = sum(wall for wall, _ in runs)
        figures["separate_docs"] = [docs[0] for _, docs in runs]

    for step in (sweep, separate) if sweep_first else (separate, sweep):
        step()
    for shared, alone in zip(figures["sweep_docs"], figures["separate_docs"], strict=True):
        if metrics(shared) != metrics(alone):
            raise SystemExit(f"the sweep's results for {alone['checkpoint']['label']} differ from its own run's")
    return {
        "sweep_first": sweep_first,
        "sweep_s": round(figures["sweep_s"], 2),
        "separate_s": round(figures["separate_s"], 2),
        "ratio": round(figures["sweep_s"] / figures["separate_s"], 3),
        "sweep_profile": profile(figures["sweep_docs"]),
        "separate_profile": profile(figures["separate_docs"]),
        "images_decoded_once": sum(
            d["run"].get("shared_decoding", {}).get("images_decoded", 0) for d in figures["sweep_docs"]
        ),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=None, help="world folder (generated if missing)")
    parser.add_argument("--size", type=float, default=1.0, help="world size when generating")
    parser.add_argument("--suite", default="world")
    parser.add_argument("--models", type=int, default=3, help="checkpoints in the sweep")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a new temp folder)")
    args = parser.parse_args(argv)

    from cyclip_bench.data.synth import generate_world

    tmp = args.out or Path(tempfile.mkdtemp(prefix="zoo-bench-"))
    args.world = args.world or tmp / "world"
    if not (args.world / "world.json").is_file():
        generate_world(args.world, seed=0, size=args.size)
    checkpoints = make_checkpoints(tmp / "zoo", args.models)
    rounds = [one_round(checkpoints, args, tmp / f"round-{r}", sweep_first=r % 2 == 0) for r in range(args.rounds)]
    figures = {
        "suite": args.suite,
        "models": args.models,
        "world_size": json.loads((args.world / "world.json").read_text()).get("size"),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "sweep_s": statistics.median(r["sweep_s"] for r in rounds),
        "separate_s": statistics.median(r["separate_s"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        "rounds": rounds,
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
