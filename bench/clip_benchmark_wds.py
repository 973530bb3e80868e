"""CLIP_benchmark 1.6.2 and cyclip-bench side by side on the same webdataset ("wds") files, one checkpoint, fp32.

The fixture is CLIP_benchmark's wds layout (``DIR/wds_<name, "/" -> "-">/test/{nshards.txt,0.tar,..}``,
``classnames.txt``, ``zeroshot_classification_templates.txt``, ``dataset_type.txt``), written with the
``webdataset`` library's own ``ShardWriter`` (webp images, several shards a set) by ``cyclip-bench data fixture
--layout wds`` at the real class counts: CIFAR-10, CIFAR-100 (moved to DataComp's ``vtab/cifar100`` spelling),
Food-101, DTD (``vtab/dtd``), GTSRB, Flickr30k (retrieval, 5 captions an image) and VOC2007 multilabel (multi-hot
``.npy``). The class names and templates are the package's, written to the folders' txt files. Both tools then
read the same folder from their own CLI, in their own process: CLIP_benchmark as ``--dataset wds/<name>
--dataset_root DIR/wds_{dataset_cleaned}`` (1.6.2 strips ``wds/`` and formats ``{dataset_cleaned}`` as the name
with ``/`` -> ``-``), ours as ``cyclip-bench eval --dataset wds/<name> --data-root DIR``.
Each tool runs every dataset in one command; the wall time is that whole command.

Prints one JSON line: per dataset each tool's numbers (classification: top-1, top-5, mean per-class recall and the
share of images whose top-1 both predict alike; retrieval: image->text and text->image recall@1/5/10, which
CLIP_benchmark calls ``text_retrieval_recall@k`` and ``image_retrieval_recall@k``; multilabel: CLIP_benchmark's
``mean_average_precision`` (non-interpolated) beside ours and our main metric, 11-point mAP), whether both used the
same class names and templates, and each tool's wall time and peak RSS.

CLIP_benchmark's venv: see bench/clip_benchmark_side_by_side.py's docstring (the same /tmp/cb-venv). Then e.g.
    python bench/clip_benchmark_wds.py --cb-python /tmp/cb-venv/bin/python --model RN50 \\
        --per-class 1 --retrieval-images 20
"""

# No `from __future__ import annotations`: the tests load this file without a sys.modules entry, where a
# dataclass with string annotations cannot be built.
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clip_benchmark_side_by_side import CB_MAIN, CLI, agreement, save_checkpoint  # noqa: E402

from cyclip_bench.data.wds import WdsType  # noqa: E402

# CLIP_benchmark's process as clip_benchmark_side_by_side runs it, with where its time goes written down: model
# loads (one per dataset), zero-shot heads (text tower), classification passes and retrieval runs (image tower;
# retrieval also encodes its captions), summed over datasets into $CB_TIMING at exit. Nothing else changes.
CB_TIMING = r"""
import atexit, json, os, time
import clip_benchmark.cli as _cli
from clip_benchmark.metrics import zeroshot_classification as _zs, zeroshot_retrieval as _zr
_spent = {}
def _timed(what, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _spent[what] = _spent.get(what, 0.0) + time.perf_counter() - start
    return wrapper
_cli.load_clip = _timed("load_model", _cli.load_clip)
_zs.zero_shot_classifier = _timed("zeroshot_heads", _zs.zero_shot_classifier)
_zs.run_classification = _timed("classify_images", _zs.run_classification)
_zr.evaluate = _timed("retrieval", _zr.evaluate)
def _write():
    if os.environ.get("CB_TIMING"):
        open(os.environ["CB_TIMING"], "w").write(json.dumps({k: round(v, 2) for k, v in _spent.items()}))
atexit.register(_write)
"""

CLASSIFICATION_METRICS = {"top1": "acc1", "top5": "acc5", "mean_per_class_recall": "mean_per_class_recall"}
RECALL_AT = (1, 5, 10)
# Ours -> CLIP_benchmark's name: its "image retrieval" ranks images for each caption (text -> image).
RETRIEVAL_METRICS = {
    **{f"image_to_text_R@{k}": f"text_retrieval_recall@{k}" for k in RECALL_AT},
    **{f"text_to_image_R@{k}": f"image_retrieval_recall@{k}" for k in RECALL_AT},
}
MULTILABEL_METRICS = {"mean_average_precision": "mean_average_precision"}
METRICS = {
    WdsType.CLASSIFICATION: CLASSIFICATION_METRICS,
    WdsType.RETRIEVAL: RETRIEVAL_METRICS,
    WdsType.MULTILABEL: MULTILABEL_METRICS,
}


@dataclass(frozen=True)
class WdsCase:
    """One dataset of the comparison: its name as both CLIs take it (``wds/<name>``), what it holds, and who writes
    its fixture (the catalog name ``cyclip-bench data fixture --dataset`` takes)."""

    name: str
    kind: WdsType
    fixture: str

    @property
    def folder(self) -> str:
        """The folder CLIP_benchmark's ``--dataset_root DIR/wds_{dataset_cleaned}`` and our lookup both find."""
        return "wds_" + self.name.removeprefix("wds/").replace("/", "-")


CASES = (
    WdsCase("wds/cifar10", WdsType.CLASSIFICATION, fixture="cifar10"),
    WdsCase("wds/vtab/cifar100", WdsType.CLASSIFICATION, fixture="cifar100"),
    WdsCase("wds/food101", WdsType.CLASSIFICATION, fixture="food101"),
    WdsCase("wds/vtab/dtd", WdsType.CLASSIFICATION, fixture="dtd"),
    WdsCase("wds/gtsrb", WdsType.CLASSIFICATION, fixture="gtsrb"),
    WdsCase("wds/flickr30k", WdsType.RETRIEVAL, fixture="flickr30k"),
    WdsCase("wds/voc2007_multilabel", WdsType.MULTILABEL, fixture="voc2007_multilabel"),
)
BY_NAME = {case.name: case for case in CASES}


def select(names: str) -> list[WdsCase]:
    """The cases of a comma list of ``wds/<name>`` (``all``: every case); an unknown name exits with the known ones."""
    if names.strip() == "all":
        return list(CASES)
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in BY_NAME:
            raise SystemExit(f"--datasets: unknown {name!r} (expected some of: {', '.join(BY_NAME)})")
        chosen.append(BY_NAME[name])
    return chosen


def run_measured(cmd: list[str], env: dict[str, str]) -> dict:
    """Run a command; its wall time and its own peak RSS (wait4's rusage of that child alone). Exits with the
    command's stderr tail if it fails."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{tail}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return {"wall_s": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss * scale / 2**20, 1)}


def write_fixture(out: Path, cases: list[WdsCase], args: argparse.Namespace, env: dict[str, str]) -> dict[str, int]:
    """Every case's wds copy under ``out``, by ``cyclip-bench data fixture --layout wds`` (webdataset's
    ShardWriter), each moved to the folder its ``wds/<name>`` spelling names; returns the test images of each."""
    staging = out / ".data-fixture"
    cmd = [*CLI, "data", "fixture", str(staging), "--layout", "wds", "--train-per-class", "0"]
    cmd += ["--per-class", str(args.per_class), "--retrieval-images", str(args.retrieval_images)]
    cmd += ["--image-size", str(args.image_size), "--wds-shard-size", str(args.shard_size), "--seed", str(args.seed)]
    for case in cases:
        cmd += ["--dataset", case.fixture]
    run_measured(cmd, env)
    written = json.loads((staging / "fixture.json").read_text())["datasets"]
    images = {}
    for case in cases:
        (staging / written[case.fixture]["path"]).rename(out / case.folder)
        images[case.name] = written[case.fixture].get("test", written[case.fixture].get("images"))
    (staging / "fixture.json").rename(out / "fixture.json")
    staging.rmdir()
    return images


def ours(args: argparse.Namespace, cases: list[WdsCase], checkpoint: Path, out: Path, env: dict[str, str]) -> dict:
    """cyclip-bench's eval on every case in one command: its timing, and per dataset what the comparison needs."""
    cmd = [*CLI, "eval", "-c", str(checkpoint), "--model", args.model, "--data-root", str(args.fixture)]
    for case in cases:
        cmd += ["--dataset", case.name]
    cmd += ["--task", "zeroshot", "--task", "retrieval", "--out", str(out), "--no-cache", "--precision", "fp32"]
    cmd += ["--batch-size", str(args.batch_size), "--workers", str(args.workers), "--quiet"]
    timing = run_measured(cmd, env)
    return {"timing": timing, **read_ours(next(out.glob("*__*.json")), cases)}


def read_ours(results: Path, cases: list[WdsCase]) -> dict:
    """Per dataset, from our results JSON: the metrics both tools compute (under our names), the per-image
    predictions and labels, the class names and the templates' sha256; and the run's encode timings."""
    doc = json.loads(results.read_text())
    tasks = {t["dataset"]: t for t in doc["tasks"]}
    found = {}
    for case in cases:
        task = tasks[case.name]
        row = {k: task["metrics"][k] for k in METRICS[case.kind]}
        if case.kind is WdsType.MULTILABEL:
            row["map_11point"] = task["metrics"]["map_11point"]
        if case.kind is WdsType.CLASSIFICATION:
            row.update({k: task["per_example"][k] for k in ("prediction", "label")})
        row["classnames"] = task.get("class_names")
        row["templates_sha256"] = doc["run"]["templates_sha256"].get(f"{case.name}/test")
        row["images"] = task["extra"].get("num_examples", task["extra"].get("num_images"))
        found[case.name] = row
    return {"datasets": found, "run": doc["run"]}


def theirs(args: argparse.Namespace, cases: list[WdsCase], checkpoint: Path, out: Path, env: dict[str, str]) -> dict:
    """CLIP_benchmark's CLI on every case in one command (task ``auto``: retrieval for flickr30k, zero-shot
    classification otherwise), its top-1 predictions dumped in its own order."""
    out.mkdir()
    predictions = out / "predictions"
    predictions.mkdir()
    cmd = [args.cb_python, "-c", CB_TIMING + CB_MAIN, "eval", "--dataset", *[c.name for c in cases]]
    cmd += ["--dataset_root", str(args.fixture / "wds_{dataset_cleaned}"), "--task", "auto"]
    cmd += ["--model", args.model, "--pretrained", str(checkpoint), "--recall_k", *map(str, RECALL_AT)]
    cmd += ["--no_amp", "--batch_size", str(args.batch_size), "--num_workers", str(args.workers)]
    cmd += ["--output", str(out / "{dataset}.json"), "--dump_classnames", "--dump_templates"]
    timing = run_measured(cmd, {**env, "CB_PREDICTIONS": str(predictions), "CB_TIMING": str(out / "timing.json")})
    timing["spent_s"] = json.loads((out / "timing.json").read_text())
    return {"timing": timing, "datasets": read_theirs(out, cases)}


def read_theirs(out: Path, cases: list[WdsCase]) -> dict:
    """Per dataset, CLIP_benchmark's result file (``{dataset}`` = the name less ``wds/``, ``/`` -> ``_``) and its
    dumped predictions (one file per classifying dataset, in the order of ``--dataset``)."""
    from cyclip_bench.eval.shared import texts_sha256

    dumps = iter(sorted((out / "predictions").glob("*.json")))
    found = {}
    for case in cases:
        doc = json.loads((out / f"{case.name.removeprefix('wds/').replace('/', '_')}.json").read_text())
        row = {ours_name: doc["metrics"][cb_name] for ours_name, cb_name in METRICS[case.kind].items()}
        templates = doc.get("templates")
        row["classnames"] = doc.get("classnames")
        row["templates_sha256"] = texts_sha256([t.replace("{c}", "{}") for t in templates]) if templates else None
        if case.kind is not WdsType.RETRIEVAL:
            dump = next(dumps, None)
            if case.kind is WdsType.CLASSIFICATION and dump is not None:
                row.update(json.loads(dump.read_text()))
        found[case.name] = row
    return found


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-6


def compare(case: WdsCase, ours_row: dict, cb_row: dict) -> dict:
    """One table row: both tools' metrics (ours under our names), whether all are equal to 1e-6, whether the class
    names and templates are the same, and for classification the per-image agreement."""
    names = list(METRICS[case.kind])
    row = {
        "kind": case.kind.value,
        "images": ours_row["images"],
        **{f"ours_{k}": round(ours_row[k], 6) for k in names},
        **{f"clip_benchmark_{k}": round(cb_row[k], 6) for k in names},
        "equal": all(_close(ours_row[k], cb_row[k]) for k in names),
    }
    if "map_11point" in ours_row:
        row["ours_map_11point"] = round(ours_row["map_11point"], 6)  # our main metric; CLIP_benchmark has none
    if case.kind is not WdsType.RETRIEVAL:
        row["classes"] = len(ours_row["classnames"] or [])
        row["same_class_names"] = ours_row["classnames"] == cb_row["classnames"]
        row["same_templates"] = ours_row["templates_sha256"] == cb_row["templates_sha256"]
    if case.kind is WdsType.CLASSIFICATION and cb_row.get("prediction") is not None:
        row.update(agreement(ours_row, cb_row))
    return row


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cb-python", required=True, help="python of a venv with clip-benchmark 1.6.2")
    p.add_argument("--fixture", type=Path, default=None, help="a wds fixture folder from an earlier run (reused)")
    p.add_argument("--datasets", default="all", help=f"comma list of {', '.join(BY_NAME)} (default all)")
    p.add_argument("--per-class", type=int, default=2, help="test images per class of each classification set")
    p.add_argument("--retrieval-images", type=int, default=50, help="Flickr30k images (5 captions each)")
    p.add_argument("--image-size", type=int, default=64, help="longer side of the fixture's images")
    p.add_argument("--shard-size", type=int, default=64, help="samples per tar shard (several shards a set)")
    p.add_argument("--model", default="tiny", help="architecture of the seeded random-init checkpoint")
    p.add_argument("--checkpoint", type=Path, default=None, help="a trained cyclip-bench checkpoint instead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--rounds", type=int, default=1, help="run the two tools alternately this many times")
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for both tools")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    cases = select(args.datasets)
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="cb-wds-"))
    if args.fixture is None or not args.fixture.is_dir():
        args.fixture = args.fixture or tmp / "fixture"
        args.fixture.mkdir(parents=True)
        write_fixture(args.fixture, cases, args, env)
    checkpoint = tmp / "open_clip_state_dict.pt"
    save_checkpoint(args, checkpoint)
    # Rounds alternate which tool goes first (ours, theirs | theirs, ours | ...) so that a drift in the machine's
    # load falls on both; the numbers are the first round's, the wall times every round's, the ratio the medians'.
    rounds = []
    for r in range(args.rounds):
        order = TOOLS[::-1] if r % 2 else TOOLS
        found = {tool: run(args, cases, checkpoint, tmp / f"{tool}{r}", env) for tool, run in order}
        rounds.append((found["ours"], found["theirs"]))
    ours_found, theirs_found = rounds[0]
    rows = {c.name: compare(c, ours_found["datasets"][c.name], theirs_found["datasets"][c.name]) for c in cases}
    print(json.dumps(summary(args, rows, rounds)))


TOOLS = (("ours", ours), ("theirs", theirs))


def summary(args: argparse.Namespace, rows: dict, rounds: list[tuple[dict, dict]]) -> dict:
    """The JSON line: the rows, each tool's timings per round, the ratio of the median wall times, our run's
    encode timings (first round)."""
    ours_s = [o["timing"]["wall_s"] for o, _ in rounds]
    theirs_s = [t["timing"]["wall_s"] for _, t in rounds]
    return {
        "model": args.model,
        "fixture": str(args.fixture),
        "datasets": rows,
        "ours": [o["timing"] for o, _ in rounds],
        "clip_benchmark": [t["timing"] for _, t in rounds],
        "ours_over_theirs": round(statistics.median(ours_s) / statistics.median(theirs_s), 3),
        "ours_run": {k: rounds[0][0]["run"][k] for k in ("encoded", "wall_time_s")},
    }


if __name__ == "__main__":
    main()
