"""CPU precision: fp32 vs bf16 autocast (and channels_last for ResNets), speed and equivalence, side by side.

    .venv/bin/python bench/precision_bench.py [--models tiny,tiny-vit,RN50,ViT-B-32] [--rounds 3] [--threads 2]
        [--world DIR --checkpoint CKPT]        # also: the world suite evaluated in fp32 and in bf16

Speed: each model's image encoder at its native image size and its text encoder on 32 world captions at its own
context length (batch 32), and the `tiny` preset's training step (CLIP loss, AdamW, batch 32); every
configuration once per round, the rounds interleaved, the best of the rounds kept. Random weights: speed does not
depend on them. Equivalence (``--world``): `cyclip-bench eval`'s own code path on the suite (default `world`)
with ``--precision fp32`` and ``bf16``: zero-shot top-1 with its bootstrap 95% CI, the share of test images whose
argmax is the same, and the relative difference of every consistency task's gap metrics. Prints one JSON line
with everything, then Markdown tables (recorded in bench/README.md). Changes no default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

GAP_METRICS = ("inmodal_gap", "crossmodal_gap", "modality_gap", "inmodal_gap_normalised", "relative_modality_gap")


def configurations(convolutional: bool) -> list[tuple[str, torch.dtype | None, bool]]:
    """(label, autocast dtype, channels_last) to measure for a model: channels_last only where convolutions
    dominate (a convolutional image tower: RN50, the `tiny` preset)."""
    configs = [("fp32", None, False), ("bf16", torch.bfloat16, False)]
    if convolutional:
        configs += [("fp32+CL", None, True), ("bf16+CL", torch.bfloat16, True)]
    return configs


def _autocast(dtype: torch.dtype | None):
    return torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()


def world_like_captions(n: int) -> list[str]:
    """n captions shaped like the world's (a few objects with colour, size and position)."""
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    shapes = ["circle", "square", "triangle", "star", "cross", "heart", "hexagon", "diamond"]
    where = ["top left", "top right", "bottom left", "bottom right", "centre"]
    return [
        f"a photo of a large {colours[i % 6]} {shapes[i % 8]} at the {where[i % 5]} and a small "
        f"{colours[(i + 2) % 6]} {shapes[(i + 3) % 8]} at the {where[(i + 1) % 5]}"
        for i in range(n)
    ]


def forward_flops(run: Callable[[], None]) -> int:
    """Floating-point operations of one call of ``run`` (torch's FlopCounterMode: 2 per multiply-add of the
    matrix products and convolutions, which are nearly all of an encoder's arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        run()
    return int(counter.get_total_flops())


def encoder_workloads(model_name: str, batch: int) -> list[tuple[str, Callable[[str], Callable[[], None]], int]]:
    """(tower, factory, FLOPs of one timed call, configuration labels): factory(config label) builds the callable
    timed for that configuration."""
    from cyclip_bench.models import convolutional_image_tower, create_model, get_tokenizer

    torch.manual_seed(0)
    model, info = create_model(model_name)
    model.eval()
    size = info.preprocess["image_size"]
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    tokens = get_tokenizer(info)(world_like_captions(batch))
    configs = configurations(convolutional_image_tower(model))
    by_label = {label: (dtype, cl) for label, dtype, cl in configs}
    variants: dict[bool, torch.nn.Module] = {}

    def model_for(channels_last: bool) -> torch.nn.Module:
        if channels_last not in variants:
            import copy

            variants[channels_last] = (
                copy.deepcopy(model).to(memory_format=torch.channels_last) if channels_last else model
            )
        return variants[channels_last]

    def image(label: str) -> Callable[[], None]:
        dtype, cl = by_label[label]
        m = model_for(cl)
        x = images.contiguous(memory_format=torch.channels_last) if cl else images

        def run() -> None:
            with torch.inference_mode(), _autocast(dtype):
                m.encode_image(x)

        return run

    def text(label: str) -> Callable[[], None]:
        dtype, _ = by_label[label]

        def run() -> None:
            with torch.inference_mode(), _autocast(dtype):
                model.encode_text(tokens)

        return run

    image_labels = [label for label, _, _ in configs]
    text_labels = [label for label, _, cl in configs if not cl]  # no images: the layout does not apply
    return [
        ("image", image, forward_flops(image("fp32")), image_labels),
        ("text", text, forward_flops(text("fp32")), text_labels),
    ]


def train_step_workload(batch: int) -> Callable[[str], Callable[[], None]]:
    """The `tiny` preset's training step (CLIP loss, fused AdamW when available), per precision."""
    from cyclip_bench.losses import cyclip_loss
    from cyclip_bench.models import create_model, get_tokenizer

    torch.manual_seed(0)
    model, info = create_model("tiny")
    model.train()
    size = info.preprocess["image_size"]
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    tokens = get_tokenizer(info)(world_like_captions(batch))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    dtypes = {"fp32": None, "bf16": torch.bfloat16}

    def factory(label: str) -> Callable[[], None]:
        dtype = dtypes[label]

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with _autocast(dtype):
                img = model.encode_image(images, normalize=True)
                txt = model.encode_text(tokens, normalize=True)
                loss = cyclip_loss(img.float(), txt.float(), model.logit_scale.exp())["loss"]
            loss.backward()
            optimizer.step()

        return step

    return factory


def time_rounds(jobs: dict[str, Callable[[], None]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each job, one call per job per round, rounds interleaved (after ``warmup`` calls)."""
    for job in jobs.values():
        for _ in range(warmup):
            job()
    seconds: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def speed(models: list[str], batch: int, rounds: int) -> list[dict]:
    rows = []
    for model_name in models:
        for tower, factory, flops, labels in encoder_workloads(model_name, batch):
            seconds = time_rounds({label: factory(label) for label in labels}, rounds)
            best = {label: min(s) for label, s in seconds.items()}
            rows.append(
                {
                    "model": model_name,
                    "what": f"{tower} encoder",
                    "per_s": {label: round(batch / best[label], 1) for label in labels},
                    "gflop_per_item": round(flops / batch / 1e9, 4),
                    "gflop_per_s": {label: round(flops / best[label] / 1e9, 1) for label in labels},
                    "speedup_vs_fp32": {label: round(best["fp32"] / best[label], 2) for label in labels},
                    "rounds_s": {label: [round(x, 4) for x in s] for label, s in seconds.items()},
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    factory = train_step_workload(batch)
    seconds = time_rounds({label: factory(label) for label in ("fp32", "bf16")}, rounds, warmup=3)
    best = {label: min(s) for label, s in seconds.items()}
    rows.append(
        {
            "model": "tiny",
            "what": "training step (pairs)",
            "per_s": {label: round(batch / best[label], 1) for label in best},
            "speedup_vs_fp32": {label: round(best["fp32"] / best[label], 2) for label in best},
            "rounds_s": {label: [round(x, 4) for x in s] for label, s in seconds.items()},
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    return rows


def _tasks(path: Path) -> dict[str, dict]:
    return {task["name"]: task for task in json.loads(path.read_text())["tasks"]}


def equivalence(checkpoint: Path, world: Path, suite: str, work: Path) -> dict:
    """The suite evaluated in fp32 and in bf16 (eval's own path, no cache): what the issue's thresholds read."""
    import numpy as np

    from cyclip_bench.eval import EvalConfig, evaluate
    from cyclip_bench.report.stats import bootstrap_ci

    results, wall = {}, {}
    for name in ("fp32", "bf16"):
        cfg = EvalConfig(
            checkpoints=(str(checkpoint),),
            suite=suite,
            out=work / f"eq-{name}",
            data_root=world,
            precision=name,
            cache=False,
            progress=False,
        )
        start = time.perf_counter()
        results[name] = _tasks(evaluate(cfg)[0])
        wall[name] = round(time.perf_counter() - start, 2)
    zeroshot, gaps = [], []
    for task_name, fp32 in results["fp32"].items():
        bf16 = results["bf16"][task_name]
        if fp32["kind"] == "zeroshot":
            hits = {k: np.asarray(r["per_example"]["top1"], dtype=float) for k, r in (("fp32", fp32), ("bf16", bf16))}
            ci = {k: bootstrap_ci(v) for k, v in hits.items()}
            same = np.mean(
                np.asarray(fp32["per_example"]["prediction"]) == np.asarray(bf16["per_example"]["prediction"])
            )
            zeroshot.append(
                {
                    "task": task_name,
                    "n": int(hits["fp32"].size),
                    "top1_fp32": round(ci["fp32"].estimate, 4),
                    "ci_fp32": [round(ci["fp32"].low, 4), round(ci["fp32"].high, 4)],
                    "top1_bf16": round(ci["bf16"].estimate, 4),
                    "bf16_within_fp32_ci": ci["fp32"].low <= ci["bf16"].estimate <= ci["fp32"].high,
                    "identical_argmax": round(float(same), 4),
                }
            )
        elif fp32["kind"] == "consistency":
            for metric in GAP_METRICS:
                if metric in fp32["metrics"]:
                    a, b = fp32["metrics"][metric], bf16["metrics"][metric]
                    rel = abs(b - a) / max(abs(a), 1e-12)
                    gaps.append({"task": task_name, "metric": metric, "fp32": a, "bf16": b, "rel_diff": rel})
    return {
        "suite": suite,
        "checkpoint": str(checkpoint),
        "wall_s": wall,
        "zeroshot": zeroshot,
        "gaps": gaps,
        "thresholds": thresholds(zeroshot, gaps),
    }


# bf16 may become a default only where, against fp32 on the same suite: every zero-shot top-1 lies within fp32's
# bootstrap CI, ≥ 99% of the argmax predictions are identical, and every gap is within 1e-2 relative (issue 26).
MIN_IDENTICAL_ARGMAX = 0.99
MAX_GAP_REL_DIFF = 1e-2


def thresholds(zeroshot: list[dict], gaps: list[dict]) -> dict:
    """Which equivalence thresholds the fp32/bf16 comparison meets (None: no gap metric to compare)."""
    return {
        "top1_within_ci": all(z["bf16_within_fp32_ci"] for z in zeroshot),
        "identical_argmax_ge_0_99": all(z["identical_argmax"] >= MIN_IDENTICAL_ARGMAX for z in zeroshot),
        "gaps_rel_le_1e-2": all(g["rel_diff"] <= MAX_GAP_REL_DIFF for g in gaps) if gaps else None,
    }


def speed_table(rows: list[dict]) -> str:
    labels = ["fp32", "bf16", "fp32+CL", "bf16+CL"]
    lines = [
        "| model | what | GFLOP/item | " + " | ".join(f"{label} /s" for label in labels) + " | best / fp32 | "
        "best GFLOP/s |",
        "|---|---|---|" + "---|" * len(labels) + "---|---|",
    ]
    for row in rows:
        cells = [str(row["per_s"].get(label, "—")) for label in labels]
        best = max(row["speedup_vs_fp32"], key=row["speedup_vs_fp32"].get)
        gflop = row.get("gflop_per_item")
        lines.append(
            f"| `{row['model']}` | {row['what']} | {gflop if gflop is not None else '—'} | "
            + " | ".join(cells)
            + f" | {row['speedup_vs_fp32'][best]}x ({best}) | {row.get('gflop_per_s', {}).get(best, '—')} |"
        )
    return "\n".join(lines)


def equivalence_table(eq: dict) -> str:
    lines = [
        "| task | n | top-1 fp32 [95% CI] | top-1 bf16 | identical argmax |",
        "|---|---|---|---|---|",
    ]
    for z in eq["zeroshot"]:
        lines.append(
            f"| {z['task']} | {z['n']} | {z['top1_fp32']:.4f} [{z['ci_fp32'][0]:.4f}, {z['ci_fp32'][1]:.4f}] "
            f"| {z['top1_bf16']:.4f} | {100 * z['identical_argmax']:.1f}% |"
        )
    if eq["gaps"]:
        worst = max(eq["gaps"], key=lambda g: g["rel_diff"])
        lines.append(
            f"\nGap metrics ({len(eq['gaps'])}): largest relative difference {worst['rel_diff']:.2e} "
            f"({worst['task']} {worst['metric']})."
        )
    lines.append(f"\nThresholds: {json.dumps(eq['thresholds'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,tiny-vit,RN50,ViT-B-32")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--world", type=Path, default=None, help="a world folder: also the fp32/bf16 equivalence")
    parser.add_argument("--checkpoint", type=Path, default=None, help="checkpoint for the equivalence run")
    parser.add_argument("--suite", default="world")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"threads": args.threads, "batch": args.batch, "torch": torch.__version__}
    out["cpu_bf16"] = torch.backends.cpu.get_cpu_capability()
    if not args.skip_speed:
        out["speed"] = speed([m for m in args.models.split(",") if m], args.batch, args.rounds)
    if args.world is not None:
        if args.checkpoint is None:
            parser.error("--world needs --checkpoint (a trained one: a random model predicts one class)")
        out["equivalence"] = equivalence(args.checkpoint, args.world, args.suite, Path(tempfile.mkdtemp()))
    print(json.dumps(out))
    if "speed" in out:
        print(speed_table(out["speed"]))
    if "equivalence" in out:
        print(equivalence_table(out["equivalence"]))


if __name__ == "__main__":
    main()
