"""Bad input: a DataError with one line naming the file/row/flag, and exit code 2 from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import cli
from PIL import Image

from cyclip_bench.data.captions import CaptionDataset, read_caption_table
from cyclip_bench.data.catalog import build_dataset
from cyclip_bench.data.metadata import load_class_metadata
from cyclip_bench.errors import DataError, UserError


def png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)
    return path


def test_console_entry_point_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cyclip_bench", "data", "check", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_line_error(proc, "x.csv", "not found")


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def good_csv(tmp_path: Path) -> Path:
    png(tmp_path / "a.png")
    png(tmp_path / "b.png")
    path = tmp_path / "ok.csv"
    path.write_text("image,caption\na.png,one\nb.png,two\n")
    return path


CASES = {
    "missing image row": (
        "image,caption\na.png,one\nmissing.png,two\n",
        r"bad\.csv: row 2: image file .*missing\.png",
    ),
    "empty file": ("", r"bad\.csv: file is empty"),
    "header only": ("image,caption\n", r"bad\.csv: has a header but no rows"),
    "missing column": (
        "image,text\na.png,one\n",
        r"missing column\(s\) 'caption'; columns found: 'image', 'text'",
    ),
    "wrong delimiter": (
        "image\tcaption\na.png\tone\n",
        r"tab-delimited — wrong delimiter\? pass --delimiter",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_caption_table_errors(tmp_path: Path, case: str) -> None:
    text, pattern = CASES[case]
    png(tmp_path / "a.png")
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=pattern) as info:
        CaptionDataset(tmp_path / "bad.csv")
    assert "\n" not in str(info.value)


def test_corrupt_image_names_file(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "c.csv").write_text("image,caption\nbroken.png,x\n")
    ds = CaptionDataset(tmp_path / "c.csv")  # exists: passes the up-front check
    with pytest.raises(DataError, match=r"image file .*broken\.png is unreadable or corrupt"):
        ds[0]


def test_missing_file_and_tsv_keys(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_caption_table(tmp_path / "nope.csv")
    png(tmp_path / "a.png")
    (tmp_path / "d.tsv").write_text("filepath\ttitle\na.png\tx\n")
    with pytest.raises(DataError, match="columns found: 'filepath', 'title'"):
        read_caption_table(tmp_path / "d.tsv")
    (tmp_path / "e.csv").write_text("filepath,title\na.png,x\n")
    with pytest.raises(DataError, match="comma-delimited — wrong delimiter"):
        read_caption_table(tmp_path / "e.csv", "filepath", "title", delimiter="\t")


def labelled(tmp_path: Path, labels: str, classes: list[str]) -> Path:
    folder = tmp_path / "set"
    png(folder / "x.png")
    png(folder / "y.png")
    (folder / "labels.csv").write_text(labels)
    (folder / "classes.json").write_text(json.dumps({"classes": classes, "templates": ["a {}."]}))
    return folder


def test_label_out_of_range_names_row(tmp_path: Path) -> None:
    folder = labelled(tmp_path, "image,label\nx.png,0\ny.png,2\n", ["a", "b"])
    pattern = r"labels\.csv: row 2: label 2 out of range 0\.\.1 \(2 classes in .*classes\.json"
    with pytest.raises(DataError, match=pattern):
        build_dataset({"path": str(folder)}, None)


def test_non_integer_label_and_missing_labelled_image(tmp_path: Path) -> None:
    folder = labelled(tmp_path, "image,label\nx.png,cat\n", ["a", "b"])
    with pytest.raises(DataError, match=r"row 1: label 'cat' is not an integer"):
        build_dataset({"path": str(folder)}, None)
    (folder / "labels.csv").write_text("image,label\nx.png,0\nz.png,1\n")
    with pytest.raises(DataError, match=r"labels\.csv: row 2: image file .*z\.png not found"):
        build_dataset({"path": str(folder)}, None)


def test_class_metadata_count_mismatch_and_bad_json(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for c in ("0", "1", "2"):
        png(tree / c / "i.png")
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"classes": ["a", "b"], "templates": ["{}"]}))
    with pytest.raises(DataError, match="sub-folder '2' matches no class"):
        build_dataset({"path": str(tree), "format": "imagefolder", "metadata": str(meta)}, None)
    meta.write_text(json.dumps({"classes": ["a", "b", "c", "d"], "templates": ["{}"]}))
    with pytest.raises(DataError, match="3 class folders but the class metadata lists 4 classes"):
        build_dataset({"path": str(tree), "format": "imagefolder", "metadata": str(meta)}, None)
    with pytest.raises(DataError, match="lists 4 classes but the dataset has 3"):
        load_class_metadata(meta, expected_classes=3)
    meta.write_text(json.dumps({"classes": ["a"], "templates": ["no placeholder"]}))
    with pytest.raises(DataError, match="has no '{}' placeholder"):
        load_class_metadata(meta)
    meta.write_text(json.dumps({"classes": ["a"], "classses": []}))
    with pytest.raises(DataError, match="unknown key"):
        load_class_metadata(meta)
    meta.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_class_metadata(meta)


def test_unknown_dataset_did_you_mean(tmp_path: Path) -> None:
    pattern = "unknown dataset 'world-shape'. Did you mean 'world-shapes'.*Known: .*cifar10"
    with pytest.raises(UserError, match=pattern):
        build_dataset("world-shape", tmp_path, "test")
    with pytest.raises(DataError, match="folder not found"):
        build_dataset("imagenet-a", tmp_path, "test")


def test_cli_check_exits_2_with_one_line(tmp_path: Path, good_csv: Path) -> None:
    ok = cli("data", "check", str(good_csv))
    assert ok.returncode == 0 and "2 rows, 2 images" in ok.stdout and "ok: no problems" in ok.stdout
    (tmp_path / "bad.csv").write_text("image,caption\na.png,one\nmissing.png,two\n")
    one_line_error(cli("data", "check", str(tmp_path / "bad.csv")), "bad.csv: row 2", "missing.png not found")
    (tmp_path / "cols.csv").write_text("img,text\na.png,one\n")
    one_line_error(cli("data", "check", str(tmp_path / "cols.csv")), "columns found: 'img', 'text'")
    ok = cli("data", "check", str(tmp_path / "cols.csv"), "--image-key", "img", "--caption-key", "text")
    assert ok.returncode == 0, ok.stderr
    one_line_error(cli("data", "check", str(tmp_path / "nothing-here")), "not found")
