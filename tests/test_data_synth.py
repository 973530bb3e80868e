"""The generated world: determinism, layout, and `data check` on each part of it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli
from PIL import Image

from cyclip_bench.data.captions import CaptionDataset
from cyclip_bench.data.check import check_path
from cyclip_bench.data.synth import SHAPES, generate_world, world_counts
from cyclip_bench.errors import DataError, UserError


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_byte_identical_any_workers(tmp_path: Path) -> None:
    generate_world(tmp_path / "a", seed=0, size=0.01, workers=1)
    generate_world(tmp_path / "b", seed=0, size=0.01, workers=2)
    hashes = tree_hashes(tmp_path / "a")
    assert len(hashes) > 250 and hashes == tree_hashes(tmp_path / "b")


def test_other_seed_differs(tmp_path: Path, world_dir: Path) -> None:
    other = tmp_path / "other"
    generate_world(other, seed=1, size=0.02, workers=1)
    a = (world_dir / "shapes" / "test" / "images" / "000000.png").read_bytes()
    b = (other / "shapes" / "test" / "images" / "000000.png").read_bytes()
    assert a != b
    captions = [(w / "captions" / "train.csv").read_text()[:400] for w in (world_dir, other)]
    assert captions[0] != captions[1]


def test_world_layout_and_contents(world_dir: Path) -> None:
    info = json.loads((world_dir / "world.json").read_text())
    assert info["seed"] == 0 and info["image_size"] == 32 and info["counts"] == world_counts(0.05)
    assert world_counts(1.0)["captions/train"] == 16000
    ds = CaptionDataset(world_dir / "captions" / "train.csv")
    assert len(ds) == info["counts"]["captions/train"]
    image, caption = ds[0]
    assert image.size == (32, 32) and isinstance(caption, str) and caption
    assert len(set(ds.captions)) > 0.6 * len(ds)
    shapes = json.loads((world_dir / "shapes" / "classes.json").read_text())
    assert shapes["classes"] == SHAPES and 8 <= len(shapes["templates"]) <= 12
    fine = json.loads((world_dir / "fine" / "classes.json").read_text())
    assert len(fine["classes"]) == 80 and set(fine["superclasses"]) == set(SHAPES)
    sketch = Image.open(next((world_dir / "shifts" / "sketch" / "images").iterdir())).convert("L")
    assert np.median(np.asarray(sketch)) > 200  # mostly white paper


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "w"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty .*--overwrite"):
        generate_world(out, size=0.01, workers=1)
    assert (out / "keep.txt").read_text() == "mine"
    generate_world(out, size=0.01, workers=1, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "world.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind
    with pytest.raises(UserError, match="--image-size"):
        generate_world(tmp_path / "x", image_size=30)


def test_cli_synth(tmp_path: Path) -> None:
    proc = cli("data", "synth", str(tmp_path / "w"), "--size", "0.01", "--seed", "3", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "training captions" in proc.stdout
    assert json.loads((tmp_path / "w" / "world.json").read_text())["seed"] == 3
    one_line_error(cli("data", "synth", str(tmp_path / "w"), "--size", "0.01"), "not empty", "--overwrite")


def test_check_each_part_of_the_world(world_dir: Path) -> None:
    report = check_path(world_dir)
    assert report.ok, report.problems
    text = "\n".join(report.lines)
    for part in (
        "captions/train.csv",
        "captions/val.csv",
        "shapes/train",
        "shapes/test",
        "fine/test",
        "shifts/sketch",
        "shifts/hard",
        "shifts/noise",
        "shifts/blur",
        "shifts/rendition",
        "shifts/resampled",
        "retrieval/captions.csv",
    ):
        assert part in text
    assert "5.0 captions/image" in text and "10 superclasses" in text
    for sub in ("captions/train.csv", "shapes/test", "fine/train", "shifts/hard"):
        proc = cli("data", "check", str(world_dir / sub))
        assert proc.returncode == 0 and "ok: no problems" in proc.stdout, proc.stderr


def test_check_finds_a_corrupt_world_image(tmp_path: Path) -> None:
    world = tmp_path / "w"
    generate_world(world, size=0.01, workers=1)
    victim = world / "shapes" / "test" / "images" / "000003.png"
    victim.write_bytes(victim.read_bytes()[:40])
    report = check_path(world)
    assert len(report.problems) == 1 and "row 4" in report.problems[0] and "000003.png" in report.problems[0]
    proc = cli("data", "check", str(world))
    one_line_error(proc, "1 problem(s)", "000003.png is unreadable or corrupt")
    (world / "shapes" / "classes.json").unlink()
    with pytest.raises(DataError, match="no class metadata found"):
        check_path(world / "shapes" / "test")


def test_caption_statistics_match_the_generator_v2(world_dir: Path) -> None:
    """Generator v2 (docs/world.md): the shape is named in most captions, by its class name in ~70%; colour in
    ~30% (v1: 73%, which let contrastive training solve batches by colour and suppressed shape learning)."""
    from cyclip_bench.data.world_stats import caption_statistics

    stats = caption_statistics(world_dir, count=800)
    assert stats["captions"] == 800
    assert 0.64 < stats["class_name"] < 0.76
    assert 0.18 < stats["synonym_only"] < 0.30
    assert 0.02 < stats["unnamed"] < 0.10  # alt-text stays partial
    assert 0.24 < stats["colour_named"] < 0.38
    assert stats["other_shape_named"] < 0.12
    assert abs(stats["class_name"] + stats["synonym_only"] + stats["unnamed"] - 1) < 1e-9
