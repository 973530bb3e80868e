"""Real-data suites at the real class counts, through the CLI, on a real-layout fixture: the time split (text heads,
image encoding, tasks, report), images/s and prompts/s, peak RSS of each command, and the size of the results JSON
and of the report.

    .venv/bin/python bench/real_layout_bench.py [--data DIR | --per-class N | --real-sizes …] [--suite shifts …]
        [--model tiny | --checkpoint PATH] [--batch-size 256] [--workers 2] [--device auto] [--out DIR]
        [--formats [--format-suite zeroshot]]

Without --data it writes the fixture first (`cyclip-bench data fixture DIR --suite S … --per-class N`), timed too.
Without --checkpoint the model is a random-init `--model` (any preset or open_clip name, e.g. RN50-quickgelu at its
own 224 px): speed does not depend on the weights. Each command runs in its own process and writes its own peak RSS
(VmHWM) at exit, eval with `--no-cache`, so every figure is a cold run. Prints one JSON line and writes it to
OUT/real_layout_bench.json (figures recorded in bench/README.md).

--formats: the same random weights are also saved as an open_clip state dict and in the official CyCLIP release's
layout ({epoch, name, state_dict with DDP's ``module.`` prefix, optimizer}); each of the three files is evaluated on
--format-suite (default: CIFAR-10 zero-shot) and the script fails unless every format gives the same metrics and is
recognised as the format it is. The two foreign files are written one at a time and deleted once evaluated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# The CLI in a process that writes its own peak RSS (VmHWM of its own address space) to $RLB_PEAK_RSS at exit.
# os.wait4's ru_maxrss is no use here: Linux carries the forking process's high-water mark across exec into the
# child's, so every command would report at least this script's own RSS (1.4 GB once torch is imported).
PEAK_RSS_MAIN = r"""
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(os.environ["RLB_PEAK_RSS"], "w") as out:
        out.write(str(kib))
atexit.register(_peak)
sys.argv = ["cyclip-bench", *sys.argv[1:]]
runpy.run_module("cyclip_bench", run_name="__main__", alter_sys=True)
"""


def run(args: list[str]) -> dict:
    """Run one CLI command in its own process: its wall time and its own peak RSS (MiB, the process's VmHWM; data
    loader workers are processes of their own and not counted). A failure prints the command's stderr and exits."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak_rss_kib"
        env = {**os.environ, "RLB_PEAK_RSS": str(peak)}
        proc = subprocess.run(
            [sys.executable, "-c", PEAK_RSS_MAIN, *args], stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(args[:2])} failed ({proc.returncode}):\n{err.read().decode()[-3000:]}")
        kib = int(peak.read_text())
    return {"wall_s": round(time.perf_counter() - start, 2), "peak_rss_mib": round(kib / 1024, 1)}


def _checkpoint(model: str, folder: Path) -> Path:
    import torch

    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    net, info = create_model(model)
    path = folder / f"{model}.pt"
    save_checkpoint(path, model_payload(net, info))
    return path


def _foreign_checkpoints(model: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """The seed-0 random weights of ``model`` as an open_clip state dict, then in the official CyCLIP layout: each
    file is written when its turn comes and deleted after it (an RN50 file is 390 MB; the tests run this on CI)."""
    import torch

    from cyclip_bench.models import create_model

    torch.manual_seed(0)
    net, _ = create_model(model)
    state = net.state_dict()
    official = {"epoch": 0, "name": "bench", "state_dict": {f"module.{k}": v for k, v in state.items()}}
    for fmt, payload in (("open_clip", state), ("cyclip-official", {**official, "optimizer": {}})):
        path = folder / f"{model}.{fmt}.pt"
        torch.save(payload, path)
        try:
            yield fmt, path
        finally:
            path.unlink(missing_ok=True)


FORMAT_SUITE = 'name = "formats"\nversion = 1\n\n[[tasks]]\nname = "cifar10-zeroshot"\nkind = "zeroshot"\n'
FORMAT_SUITE += 'dataset = "cifar10"\nsplit = "test"\n'


def check_formats(args: argparse.Namespace, data: Path, ours: Path, out: Path) -> dict:
    """Evaluate ours / open_clip / official-CyCLIP files of the same weights on one suite: equal metrics required."""
    suite = args.format_suite
    if suite is None:
        suite = out / "formats.toml"
        suite.write_text(FORMAT_SUITE)
    found: dict = {}
    for fmt, path in itertools.chain([("cyclip-bench", ours)], _foreign_checkpoints(args.model, out)):
        results = out / f"results-format-{fmt}"
        cmd = ["eval", "--checkpoint", str(path), "--suite", str(suite), "--data-root", str(data)]
        cmd += ["--out", str(results), "--batch-size", str(args.batch_size), "--workers", str(args.workers)]
        cmd += ["--device", args.device, "--precision", args.precision, "--no-cache", "-q"]
        if fmt == "open_clip":
            cmd += ["--model", args.model]
        ran = run(cmd)
        (doc_path,) = sorted(results.glob("*.json"))
        doc = json.loads(doc_path.read_text())
        metrics = {t["name"]: {k: v for k, v in t["metrics"].items() if isinstance(v, float)} for t in doc["tasks"]}
        found[fmt] = {**ran, "loaded_as": doc["checkpoint"]["format"], "model": doc["checkpoint"]["model_name"]}
        found[fmt]["metrics"] = metrics
    reference = found["cyclip-bench"]["metrics"]
    for fmt, row in found.items():
        if row["loaded_as"] != fmt or row["metrics"] != reference:
            sys.exit(f"checkpoint format {fmt}: loaded as {row['loaded_as']}, metrics {row['metrics']} != {reference}")
    return found


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an existing fixture (or real data) folder; else one is written")
    parser.add_argument("--suite", action="append", help="real-data suite(s) (default: shifts)")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--train-per-class", type=int)
    parser.add_argument("--cifar-test-size", type=int)
    parser.add_argument("--retrieval-images", type=int, default=100)
    parser.add_argument("--real-sizes", action="store_true", help="every test set at its released size")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--model", default="tiny", help="random-init model (preset or open_clip name)")
    parser.add_argument("--checkpoint", type=Path, help="evaluate this checkpoint instead of a random --model")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--out", type=Path, help="folder for results, reports and the figures (default: a temp dir)")
    parser.add_argument("--formats", action="store_true", help="also check the open_clip and official CyCLIP files")
    parser.add_argument("--format-suite", help="suite name or TOML for --formats (default: CIFAR-10 zero-shot)")
    args = parser.parse_args(argv)
    suites = args.suite or ["shifts"]
    out = args.out or Path(tempfile.mkdtemp(prefix="real-layout-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {"suites": {}, "model": str(args.checkpoint or args.model)}
    threads = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")} if os.environ.get("OMP_NUM_THREADS") else {}
    figures["env"] = {"cpus": os.cpu_count(), **threads}

    data = args.data
    if data is None:
        data = out / "data"
        from cyclip_bench.eval import suite_datasets

        needed: dict[str, set[str]] = {}
        for suite in suites:
            for name, splits in suite_datasets(suite).items():
                needed.setdefault(name, set()).update(splits)
        fixture = ["data", "fixture", str(data), "--image-size", str(args.image_size)]
        if args.real_sizes:
            fixture += ["--real-sizes"]
        else:
            fixture += ["--per-class", str(args.per_class), "--retrieval-images", str(args.retrieval_images)]
        fixture += [a for name in needed for a in ("--dataset", name)]
        if args.train_per_class is None and not any("train" in splits for splits in needed.values()):
            fixture += ["--train-per-class", "0"]
        if args.train_per_class is not None:
            fixture += ["--train-per-class", str(args.train_per_class)]
        if args.cifar_test_size is not None and not args.real_sizes:
            fixture += ["--cifar-test-size", str(args.cifar_test_size)]
        figures["fixture"] = {**run([*fixture, "--overwrite"]), "bytes": _size(data)}
        figures["fixture"]["images"] = json.loads((data / "fixture.json").read_text())["images"]
    checkpoint = args.checkpoint or _checkpoint(args.model, out)

    for suite in suites:
        results, report = out / f"results-{suite}", out / f"report-{suite}"
        common = ["--batch-size", str(args.batch_size), "--workers", str(args.workers), "--device", args.device]
        eval_args = ["eval", "--checkpoint", str(checkpoint), "--suite", suite, "--data-root", str(data)]
        ran = run([*eval_args, "--out", str(results), *common, "--precision", args.precision, "--no-cache", "-q"])
        (doc_path,) = sorted(results.glob(f"*__{suite}.json"))
        record = json.loads(doc_path.read_text())["run"]
        seconds, encoded = record["wall_time_s"], record["encoded"]
        reported = run(["report", str(doc_path), "--out", str(report)])
        figures["suites"][suite] = {
            "eval": ran,
            "encode_texts_s": seconds["encode_texts"],
            "encode_images_s": seconds["encode_images"],
            "tasks_s": seconds["tasks"],
            "total_s": seconds["total"],
            "texts": encoded["texts"],
            "images": encoded["images"],
            "prompts_per_s": round(encoded["texts"] / seconds["encode_texts"], 1) if seconds["encode_texts"] else None,
            "images_per_s": round(encoded["images"] / seconds["encode_images"], 1)
            if seconds["encode_images"]
            else None,
            "results_json_bytes": doc_path.stat().st_size,
            "report": {**reported, "bytes": _size(report)},
        }
    if args.formats:
        if args.checkpoint:
            sys.exit("--formats saves random weights of --model; it does not take --checkpoint")
        figures["formats"] = check_formats(args, data, checkpoint, out)
    line = json.dumps(figures)
    (out / "real_layout_bench.json").write_text(line + "\n")
    print(line)
    return figures


if __name__ == "__main__":
    main()
