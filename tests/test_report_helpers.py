"""Realistic results files (docs/contracts.md) for the report tests: two or more checkpoints, every task kind
with per-example arrays, effective-robustness points, consistency and geometry metrics, fine/coarse, and
training runs with metrics.jsonl. Numbers are drawn from a seeded generator and the metrics are computed from
the per-example arrays, as eval does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHAPES = ["circle", "square", "triangle", "star", "cross", "heart", "hexagon", "ring", "arrow", "moon"]
COLOURS = ["red", "green", "blue"]
PAIRS = {"dataset": "world-retrieval", "num_pairs": 120}  # the caption pairs the geometry is measured on


def _accuracy_arrays(rng, n, n_classes, p_correct):
    labels = rng.integers(0, n_classes, size=n)
    correct = (rng.random(n) < p_correct).astype(int)
    wrong = (labels + rng.integers(1, n_classes, size=n)) % n_classes
    prediction = np.where(correct == 1, labels, wrong)
    return labels.tolist(), correct.tolist(), prediction.tolist()


def _zeroshot(rng, name, dataset, classes, p, n=200, labels=None):
    if labels is None:  # the same test examples for every checkpoint, as eval gives them
        labels = np.random.default_rng(len(name) * 1000 + n).integers(0, len(classes), size=n).tolist()
    if labels is None:
        labels, correct, prediction = _accuracy_arrays(rng, n, len(classes), p)
    else:
        correct = (rng.random(len(labels)) < p).astype(int).tolist()
        prediction = [y if c else (y + 1) % len(classes) for y, c in zip(labels, correct, strict=False)]
    top3 = [1 if c or rng.random() < 0.5 else 0 for c in correct]
    return {
        "name": name,
        "kind": "zeroshot",
        "dataset": dataset,
        "split": "test",
        "metrics": {
            "top1": float(np.mean(correct)),
            "top3": float(np.mean(top3)),
            "mean_per_class_recall": float(np.mean(correct)) - 0.01,
        },
        "metric_info": {
            "top1": {"higher_is_better": True, "unit": "fraction", "per_example": "top1"},
            "top3": {"higher_is_better": True, "unit": "fraction", "per_example": "top3"},
            "mean_per_class_recall": {"higher_is_better": True, "unit": "fraction"},
        },
        "per_example": {"top1": correct, "top3": top3, "label": labels, "prediction": prediction},
        "class_names": list(classes),
        "extra": {},
    }


def _consistency(rng, name, dataset, p, n, superclasses, gap, pairs=None):
    arrays = {f"consistency@{k}": (rng.random(n) < p + 0.01 * k).astype(int).tolist() for k in (1, 3, 5, 10)}
    metrics = {key: float(np.mean(v)) for key, v in arrays.items()}
    metrics.update(
        {
            "inmodal_gap": 0.3 * gap,
            "crossmodal_gap": 0.2 * gap,
            "inmodal_loss_per_pair": 0.01 * gap,
            "crossmodal_loss_per_pair": 0.005 * gap,
            "inmodal_rank_correlation": 0.6 - 0.2 * gap,
            "crossmodal_rank_correlation": 0.9 - 0.1 * gap,
            "inmodal_gap_normalised": 0.9 * gap,
            "crossmodal_asymmetry_normalised": 0.5 * gap,
            "modality_gap": 0.8 * gap,
            "cone_image": 0.5,
            "cone_text": 0.6,
            "align_image_text": 1.2 * gap,
            "uniform_image": -1.5 - gap,
            "uniform_text": -1.4,
            "uniform_joint": -1.6 - gap,
        }
    )
    info = {key: {"higher_is_better": True, "unit": "fraction", "per_example": key} for key in arrays}
    for key in ("inmodal_gap", "crossmodal_gap", "modality_gap", "align_image_text", "uniform_joint"):
        info[key] = {"higher_is_better": False, "unit": "value"}
    for key in ("inmodal_rank_correlation", "crossmodal_rank_correlation"):
        info[key] = {"higher_is_better": True, "unit": "rank correlation"}
    for key in ("inmodal_gap_normalised", "crossmodal_asymmetry_normalised"):
        info[key] = {"higher_is_better": False, "unit": "similarity std"}
    per_example = dict(arrays)
    if superclasses:
        fine = (rng.random(n) < p + 0.15).astype(int).tolist()
        coarse = (rng.random(n) < p + 0.25).astype(int).tolist()
        per_example.update({"fine_top1": fine, "coarse_top1": coarse})
        metrics.update({"fine_top1": float(np.mean(fine)), "coarse_top1": float(np.mean(coarse))})
        info.update(
            {k: {"higher_is_better": True, "unit": "fraction", "per_example": k} for k in ("fine_top1", "coarse_top1")}
        )
    return {
        "name": name,
        "kind": "consistency",
        "dataset": dataset,
        "split": "test",
        "metrics": metrics,
        "metric_info": info,
        "per_example": per_example,
        "class_names": None,
        "extra": {"k": [1, 3, 5, 10], **({"pairs": pairs} if pairs else {})},
    }


def make_result(label, loss, p, seed, run_dir, class_names=SHAPES, shape_labels=None):
    rng = np.random.default_rng(seed)
    fine_classes = [f"{c} {s}" for s in SHAPES for c in COLOURS]
    tasks = [
        _zeroshot(rng, "shapes-zeroshot", "world-shapes", class_names, p, labels=shape_labels),
        _zeroshot(rng, "fine-zeroshot", "world-fine", fine_classes, p - 0.15, n=300),
        _zeroshot(rng, "sketch-zeroshot", "world-sketch", class_names, p - 0.2),
    ]
    probe = (rng.random(200) < p + 0.1).astype(int).tolist()
    tasks.append(
        {
            "name": "shapes-linear-probe",
            "kind": "linear_probe",
            "dataset": "world-shapes",
            "split": "test",
            "metrics": {"top1": float(np.mean(probe)), "mean_per_class_recall": float(np.mean(probe))},
            "metric_info": {"top1": {"higher_is_better": True, "unit": "fraction", "per_example": "top1"}},
            "per_example": {"top1": probe},
            "class_names": list(class_names),
            "extra": {"C": 0.316},
        }
    )
    retrieval = {}
    for direction in ("image_to_text", "text_to_image"):
        n = 120 if direction == "image_to_text" else 600  # five captions per image
        for k in (1, 5, 10):
            retrieval[f"{direction}_R@{k}"] = (rng.random(n) < min(0.95, p * 0.5 + 0.05 * k)).astype(int).tolist()
    tasks.append(
        {
            "name": "retrieval",
            "kind": "retrieval",
            "dataset": "world-retrieval",
            "split": "test",
            "metrics": {k: float(np.mean(v)) for k, v in retrieval.items()},
            "metric_info": {k: {"higher_is_better": True, "unit": "fraction", "per_example": k} for k in retrieval},
            "per_example": retrieval,
            "class_names": None,
            "extra": {},
        }
    )
    tasks.append(
        _consistency(
            rng, "shapes-consistency", "world-shapes", p - 0.1, 200, False, 0.5 if loss == "clip" else 0.2, PAIRS
        )
    )
    tasks.append(  # measured on the same caption pairs as shapes-consistency: the same geometry
        _consistency(rng, "fine-consistency", "world-fine", p - 0.2, 300, True, 0.5 if loss == "clip" else 0.2, PAIRS)
    )
    shapes_top1 = tasks[0]["metrics"]["top1"]
    points = [
        {"dataset": d, "id_dataset": "world-shapes", "id_top1": shapes_top1, "shift_top1": shapes_top1 - drop}
        for d, drop in (("world-sketch", 0.2), ("world-hard", 0.3), ("world-rendition", 0.15))
    ]
    tasks.append(
        {
            "name": "shapes-robustness",
            "kind": "effective_robustness",
            "dataset": "world-shapes",
            "split": "test",
            "metrics": {f"{pt['dataset']}/effective_robustness": 0.01 * (seed % 5) for pt in points},
            "metric_info": {
                f"{pt['dataset']}/effective_robustness": {"higher_is_better": True, "unit": "fraction"} for pt in points
            },
            "per_example": {},
            "class_names": None,
            "extra": {"points": points, "fit": {"slope": 0.9, "intercept": -0.8}},
        }
    )
    return {
        "schema_version": 1,
        "suite": {"name": "world", "version": 1, "sha256": "ab" * 32, "source": "builtin"},
        "checkpoint": {
            "label": label,
            "path": f"/runs/{label}/checkpoints/latest.pt",
            "sha256": f"{seed:064x}",
            "format": "cyclip-bench",
            "model_name": "tiny",
            "model_config": {"embed_dim": 64},
            "preprocess": {"image_size": 32},
            "train_config": {
                "loss": loss,
                "lr": 5e-4,
                "epochs": 2,
                "batch_size": 64,
                "seed": seed % 100,
                "name": label,
                "lambda_inmodal": 0.25 if loss == "cyclip" else 0.0,
            },
            "run_dir": str(run_dir) if run_dir else None,
        },
        "run": {
            "precision": "fp32",
            "batch_size": 256,
            "device": "cpu",
            "world_size": 1,
            "versions": {"cyclip_bench": "0.1.0", "torch": "2.4.0", "open_clip": "3.3.0", "python": "3.11.2"},
            "git_commit": "0123456789abcdef",
            "templates_sha256": {},
            "started": "2025-01-01T00:00:00",
            "finished": "2025-01-01T00:01:00",
            "wall_time_s": {"encode": 1.0, "tasks": 0.5, "total": 1.6},
        },
        "tasks": tasks,
    }


def make_paper_suite(label, seed, p):
    """A suite on the paper's own datasets, so the paper column shows exact (not analogue) numbers."""
    rng = np.random.default_rng(seed + 1000)
    tasks = [
        _zeroshot(rng, "imagenet1k-zeroshot", "imagenet1k", [f"class {i}" for i in range(20)], p / 3),
        _consistency(rng, "cifar10-consistency", "cifar10", p / 2, 150, False, 0.4),
    ]
    doc = make_result(label, "clip", p, seed, None)
    doc["suite"] = {"name": "paper-sets", "version": 2, "sha256": "cd" * 32, "source": "path"}
    doc["tasks"] = tasks
    return doc


def write_run_dir(path: Path, loss: str, steps: int = 40) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    lines = []
    for step in range(1, steps + 1):
        lr = 5e-4 * min(1.0, step / 10) * (0.5 + 0.5 * np.cos(np.pi * step / steps))
        inmodal = 0.0 if loss == "clip" else 0.5 / step
        row = {
            "split": "train",
            "step": step,
            "epoch": step // 20,
            "lr": lr,
            "loss": 4.0 / np.sqrt(step) + inmodal,
            "contrastive": 4.0 / np.sqrt(step),
            "inmodal": inmodal,
            "crossmodal": inmodal / 2,
            "logit_scale": 14.3 + step * 0.05,
            "pairs_per_s": 500.0,
            "time": step * 0.1,
        }
        lines.append(json.dumps(row))
        if step % 20 == 0:
            lines.append(
                json.dumps(
                    {
                        "split": "val",
                        "step": step,
                        "epoch": step // 20,
                        "loss": 4.5 / np.sqrt(step),
                        "contrastive": 4.5 / np.sqrt(step),
                        "inmodal": inmodal,
                        "crossmodal": 0.0,
                    }
                )
            )
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return path


def write_results(
    folder: Path, label_clip: str = "clip-s0", label_cyclip: str = "cyclip-s0", class_names=SHAPES
) -> list[Path]:
    """Two checkpoints (CLIP, CyCLIP) on two suites, with training runs. Returns the result files."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = folder.parent / f"{folder.name}-runs"
    shape_labels = np.random.default_rng(7).integers(0, len(class_names), size=200).tolist()
    out = []
    for label, loss, p, seed in ((label_clip, "clip", 0.55, 0), (label_cyclip, "cyclip", 0.65, 1)):
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
        run_dir = write_run_dir(runs / stem, loss)
        doc = make_result(label, loss, p, seed, run_dir, class_names=class_names, shape_labels=shape_labels)
        path = folder / f"{stem}__world.json"
        path.write_text(json.dumps(doc))
        paper_doc = make_paper_suite(label, seed, p)
        paper_doc["checkpoint"] = doc["checkpoint"]
        paper_path = folder / f"{stem}__paper-sets.json"
        paper_path.write_text(json.dumps(paper_doc))
        out.extend([path, paper_path])
    return out


def test_seeds_of_a_configuration_share_a_hue():
    import colorsys

    from cyclip_bench.report.plots import checkpoint_colours

    labels = ["clip-s0", "clip-s1", "clip-s2", "cyclip-s0", "cyclip-s1", "other"]
    groups = {"clip-s*": labels[:3], "cyclip-s*": labels[3:5]}
    colours = checkpoint_colours(labels, groups)
    assert len(set(colours.values())) == len(labels)  # every checkpoint still distinguishable
    hue = {label: round(colorsys.rgb_to_hls(*colours[label])[0], 3) for label in labels}
    assert hue["clip-s0"] == hue["clip-s1"] == hue["clip-s2"] != hue["cyclip-s0"] == hue["cyclip-s1"]
    assert hue["other"] not in (hue["clip-s0"], hue["cyclip-s0"])
    lightness = [colorsys.rgb_to_hls(*colours[label])[1] for label in labels[:3]]
    assert lightness == sorted(lightness)  # dark → light in seed order
    assert all(0 <= c <= 1 for rgb in colours.values() for c in rgb)
    assert checkpoint_colours(["a", "b"]) == checkpoint_colours(["a", "b"], {})  # no groups: one hue each
