"""Evaluation speed: each suite vs its encode-once floor, and a warm-cache re-run vs a cold one.

    .venv/bin/python bench/eval_bench.py [--world DIR] [--size 0.2] [--suite world-all] [--batch-size 256]
        [--checkpoint CKPT]

The floor is the time to encode every image the suite reads exactly once (same model, batch size, workers) plus
every distinct text the suite's run asked the encoder for exactly once (the strings are recorded during the cold
run: class prompts, captions, hard negatives) — no tasks and no I/O of results. A retrieval or compositional
suite encodes more texts than images; a floor of images alone would call that inherent work overhead. The
checkpoint is an untrained `tiny` model unless ``--checkpoint`` names a trained one: encoding speed does not
depend on the weights, but the linear probe's fits do (L-BFGS iterations depend on the features: a trained
tower's well-separated features need many more at moderate regularisation). ``--suite world-all`` (the
default) measures every built-in suite that runs on the generated world (``world*``), one after the other, each
with its own floor. Prints one JSON line per suite, then a Markdown table with each suite's cold / floor ratio
(recorded in bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader


def _checkpoint(folder: Path) -> Path:
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    path = folder / "bench.pt"
    save_checkpoint(path, model_payload(model, info))
    return path


def encode_once_floor(cfg, checkpoint: Path) -> tuple[float, int]:
    """Seconds to encode each (dataset, split) the suite reads once (on cfg's device and precision); and the
    number of images."""
    from cyclip_bench.eval import load_tasks
    from cyclip_bench.eval.runner import uses_channels_last
    from cyclip_bench.models import build_transform
    from cyclip_bench.models.interop import load_for_eval

    loaded = load_for_eval(str(checkpoint))
    device = torch.device(
        "cuda" if cfg.device == "auto" and torch.cuda.is_available() else "cpu" if cfg.device == "auto" else cfg.device
    )
    model = loaded.model.to(device).eval()
    layout = torch.channels_last if uses_channels_last(cfg, model) else torch.contiguous_format
    model.to(memory_format=layout)  # the layout `eval` uses for this model (its floor is the same model's)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    transform = build_transform(loaded.info.preprocess)
    _, tasks = load_tasks(cfg.suite)
    datasets, seen = [], set()
    for task in tasks:
        for need in task.needs():
            if need.key not in seen:
                seen.add(need.key)
                data = need.kind.build(need.ref, cfg.data_root, need.split, transform)
                datasets.append(need.kind.images(data))
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    start, count = time.perf_counter(), 0
    with torch.inference_mode(), autocast:
        for data in datasets:
            loader = DataLoader(
                data,
                batch_size=cfg.batch_size,
                num_workers=cfg.workers,
                collate_fn=lambda b: torch.stack([x[0] if isinstance(x, tuple) else x for x in b]),
            )
            for batch in loader:
                model.encode_image(batch.to(device, non_blocking=True, memory_format=layout))
                count += batch.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, count


@contextlib.contextmanager
def recording_texts():
    """Every string ``Encoder.texts`` is asked to encode while inside (in order, repeats kept)."""
    from cyclip_bench.eval.features import Encoder

    recorded: list[str] = []
    original = Encoder.texts

    def texts(self, texts: list[str], what: str):
        recorded.extend(texts)
        return original(self, texts, what)

    Encoder.texts = texts
    try:
        yield recorded
    finally:
        Encoder.texts = original


def text_floor(cfg, checkpoint: Path, texts: list[str]) -> tuple[float, int]:
    """Seconds to encode each distinct string of ``texts`` once (tokenizing included), and how many there are."""
    from cyclip_bench.models import get_tokenizer
    from cyclip_bench.models.interop import load_for_eval

    distinct = list(dict.fromkeys(texts))
    loaded = load_for_eval(str(checkpoint))
    device = torch.device(
        "cuda" if cfg.device == "auto" and torch.cuda.is_available() else "cpu" if cfg.device == "auto" else cfg.device
    )
    model = loaded.model.to(device).eval()
    tokenizer = get_tokenizer(loaded.info)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    start = time.perf_counter()
    with torch.inference_mode(), autocast:
        for i in range(0, len(distinct), cfg.batch_size):
            model.encode_text(tokenizer(distinct[i : i + cfg.batch_size]).to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, len(distinct)


def measure(
    checkpoint: Path,
    data_root: Path,
    suite: str,
    batch_size: int,
    workers: int,
    device: str,
    precision: str,
    work: Path,
) -> dict:
    """Floor (encode each image once), cold suite run, warm (cached) re-run; used by bench/gpu_bench.py."""
    from cyclip_bench.eval import EvalConfig, evaluate

    cfg = EvalConfig(
        checkpoints=(str(checkpoint),),
        suite=suite,
        out=work / "out",
        data_root=data_root,
        batch_size=batch_size,
        workers=workers,
        device=device,
        precision=precision,
        cache_dir=work / "cache",
        progress=False,
        overwrite=True,
    )
    image_floor, images = min(encode_once_floor(cfg, checkpoint) for _ in range(2))  # 1st pass warms the file cache
    start = time.perf_counter()
    with recording_texts() as asked:
        evaluate(cfg)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    evaluate(cfg)
    warm = time.perf_counter() - start
    text_s, texts = min(text_floor(cfg, checkpoint, asked) for _ in range(2))
    floor = image_floor + text_s
    return {
        "suite": suite,
        "images": images,
        "texts": texts,
        "image_floor_s": round(image_floor, 2),
        "text_floor_s": round(text_s, 2),
        "floor_s": round(floor, 2),
        "suite_s": round(cold, 2),
        "warm_s": round(warm, 2),
        "suite_over_floor": round(cold / floor, 2),
        "warm_over_cold": round(warm / cold, 3),
        "images_per_s": round(images / image_floor, 1),
    }


CB_WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])  # the repository (this venv only sees the project's site-packages)
import torch
from torch.utils.data import DataLoader
import clip_benchmark.metrics.zeroshot_classification as zsc
from cyclip_bench.data.catalog import build_dataset
from cyclip_bench.models import build_transform, get_tokenizer
from cyclip_bench.models.interop import load_for_eval

start = time.perf_counter()
loaded = load_for_eval(sys.argv[1])
data = build_dataset("world-shapes", sys.argv[2], "test", build_transform(loaded.info.preprocess))
loader = DataLoader(data, batch_size=int(sys.argv[4]), num_workers=0)
meta = data.metadata
data.classes = meta.classes  # CLIP_benchmark reads dataset.classes
templates = [t.replace("{}", "{c}") for t in meta.templates]  # its placeholder is {c}
tokenizer = get_tokenizer(loaded.info)
out = zsc.evaluate(loaded.model, loader, tokenizer, meta.classes, templates, "cpu", amp=False)
print(json.dumps({"seconds": time.perf_counter() - start, "acc1": float(out["acc1"]),
                  "mean_per_class_recall": float(out["mean_per_class_recall"])}))
"""


def compare_clip_benchmark(python: str, world: Path, tmp: Path, batch_size: int) -> dict:
    """Zero-shot on world-shapes/test with CLIP_benchmark's evaluate() (in its own venv) and with ours."""
    import subprocess

    from cyclip_bench.eval import EvalConfig, evaluate

    checkpoint = _checkpoint(tmp)
    suite = tmp / "shapes.toml"
    suite.write_text(
        'name = "shapes"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
    )
    start = time.perf_counter()
    ours_path = evaluate(
        EvalConfig(
            checkpoints=(str(checkpoint),),
            suite=str(suite),
            out=tmp / "cb-out",
            data_root=world,
            batch_size=batch_size,
            workers=0,
            cache=False,
            progress=False,
        )
    )[0]
    ours_s = time.perf_counter() - start
    ours = json.loads(ours_path.read_text())["tasks"][0]["metrics"]
    repo = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.run(
        [python, "-c", CB_WORKER, str(checkpoint), str(world), repo, str(batch_size)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"CLIP_benchmark side failed:\n{proc.stderr[-3000:]}")
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "ours_s": round(ours_s, 2),
        "ours_top1": ours["top1"],
        "ours_mean_per_class_recall": ours["mean_per_class_recall"],
        "clip_benchmark_s": round(theirs["seconds"], 2),
        "clip_benchmark_acc1": theirs["acc1"],
        "clip_benchmark_mean_per_class_recall": theirs["mean_per_class_recall"],
    }


WORLD_ALL = "world-all"


def world_suites() -> list[str]:
    """Every built-in suite that runs on the generated world: the ``world`` suite and its parts."""
    from cyclip_bench.eval.suite import builtin_suite_names

    return [name for name in builtin_suite_names() if name == "world" or name.startswith("world-")]


def measure_suite(suite: str, checkpoint: Path, world: Path, tmp: Path, batch_size: int, workers: int) -> dict:
    """Floor (best of two passes: the first also warms the OS file cache), a cold run with an empty feature
    cache, and a warm re-run, for one suite."""
    from cyclip_bench.eval import EvalConfig, evaluate

    cfg = EvalConfig(
        checkpoints=(str(checkpoint),),
        suite=suite,
        out=tmp / f"out-{suite}",
        data_root=world,
        batch_size=batch_size,
        workers=workers,
        cache_dir=tmp / f"cache-{suite}",
        progress=False,
    )
    image_floor, images = min(encode_once_floor(cfg, checkpoint) for _ in range(2))
    start = time.perf_counter()
    with recording_texts() as asked:
        cold_run = json.loads(evaluate(cfg)[0].read_text())["run"]
    cold = time.perf_counter() - start
    start = time.perf_counter()
    paths = evaluate(cfg)
    warm = time.perf_counter() - start
    run = json.loads(paths[0].read_text())["run"]
    text_s, texts = min(text_floor(cfg, checkpoint, asked) for _ in range(2))
    floor = image_floor + text_s
    return {
        "suite": suite,
        "images_encoded_once": images,
        "texts_encoded_once": texts,
        "texts_asked": len(asked),
        "image_floor_s": round(image_floor, 2),
        "text_floor_s": round(text_s, 2),
        "batch_size": batch_size,
        "workers": workers,
        "floor_s": round(floor, 2),
        "cold_s": round(cold, 2),
        "warm_s": round(warm, 2),
        "cold_over_floor": round(cold / floor, 2),
        "warm_over_cold": round(warm / cold, 3),
        "cold_stage_s": cold_run["wall_time_s"],
        "warm_stage_s": run["wall_time_s"],
        "torch_threads": torch.get_num_threads(),
    }


def table(rows: list[dict]) -> str:
    """The README's table: one row per suite."""
    lines = [
        "| suite | images | texts | floor (images + texts) | cold | warm | cold / floor | warm / cold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['suite']}` | {row['images_encoded_once']:,} | {row['texts_encoded_once']:,} | "
            f"{row['floor_s']:.2f} s ({row['image_floor_s']:.2f} + {row['text_floor_s']:.2f}) | {row['cold_s']:.2f} s "
            f"| {row['warm_s']:.2f} s | {row['cold_over_floor']:.2f}x | {row['warm_over_cold']:.3f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=None, help="world folder (generated if missing)")
    parser.add_argument("--size", type=float, default=0.2, help="world size when generating")
    parser.add_argument(
        "--suite", default=WORLD_ALL, help=f"a suite name or path; {WORLD_ALL}: every built-in world suite"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--clip-benchmark-python",
        default=None,
        help="python of a venv with clip-benchmark (numpy<2.4): also compare zero-shot with it",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a trained checkpoint to evaluate (default: an untrained `tiny`); encoding speed does not depend on "
        "the weights, but the probe's fits do (an untrained tower's features need the weakest regularisation)",
    )
    args = parser.parse_args()

    from cyclip_bench.data.synth import generate_world

    tmp = Path(tempfile.mkdtemp(prefix="eval-bench-"))
    world = args.world or tmp / "world"
    if not (world / "world.json").is_file():
        generate_world(world, seed=0, size=args.size)
    if args.clip_benchmark_python:
        print(json.dumps(compare_clip_benchmark(args.clip_benchmark_python, world, tmp, args.batch_size)))
        return
    checkpoint = args.checkpoint or _checkpoint(tmp)
    suites = world_suites() if args.suite == WORLD_ALL else [args.suite]
    rows = []
    for suite in suites:
        rows.append(measure_suite(suite, checkpoint, world, tmp, args.batch_size, args.workers))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
