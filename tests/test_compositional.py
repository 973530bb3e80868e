"""Compositional consistency: SugarCrepe and Winoground read from fixtures written in their released formats, the
world's analogue made from its own captions, the scoring against naive loops and hand-made cases, and the task
end to end (catalog names, path tables, the world suite part)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from cyclip_bench.data.compositional import (
    SUGARCREPE_SUBSETS,
    build_compositional,
    load_sugarcrepe,
    load_winoground,
    world_items,
    write_sugarcrepe_fixture,
    write_winoground_fixture,
)
from cyclip_bench.errors import DataError, UserError
from cyclip_bench.eval.tasks.compositional import choice_hits, group_choices


@pytest.fixture(scope="module")
def compositional_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_ROOT with sugarcrepe/ and winoground/ in their released layouts."""
    root = tmp_path_factory.mktemp("compositional")
    write_sugarcrepe_fixture(root / "sugarcrepe", seed=0, per_subset=3)
    write_winoground_fixture(root / "winoground", seed=0, groups=4)
    return root


# --- the released formats -----------------------------------------------------------------------------------
def test_sugarcrepe_fixture_is_the_released_format_and_loads(compositional_root: Path) -> None:
    folder = compositional_root / "sugarcrepe"
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(SUGARCREPE_SUBSETS)
    entries = json.loads((folder / "swap_att.json").read_text())
    assert list(entries) == ["0", "1", "2"] and set(entries["0"]) == {"filename", "caption", "negative_caption"}
    assert (folder / "val2017" / entries["0"]["filename"]).is_file() and entries["0"]["filename"].endswith(".jpg")
    data = load_sugarcrepe(folder)
    assert len(data.choices) == 3 * 7 and not data.groups
    first = next(c for c in data.choices if c.subset == "swap_att")
    assert data.captions[first.positive] == entries["0"]["caption"]
    assert data.captions[first.negative] == entries["0"]["negative_caption"]
    assert Path(data.image_files[first.image]).name == entries["0"]["filename"]
    assert build_compositional("sugarcrepe", compositional_root).fingerprint() == data.fingerprint()


def test_winoground_fixture_is_the_released_format_and_loads(compositional_root: Path) -> None:
    folder = compositional_root / "winoground"
    lines = [json.loads(line) for line in (folder / "examples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and {"id", "image_0", "image_1", "caption_0", "caption_1", "tag"} <= set(lines[0])
    assert (folder / "images" / f"{lines[0]['image_0']}.png").is_file()
    data = load_winoground(folder)
    assert len(data.groups) == 4 and not data.choices and len(data.image_files) == 8
    group = data.groups[1]
    assert [data.captions[c] for c in group.captions] == [lines[1]["caption_0"], lines[1]["caption_1"]]
    assert Path(data.image_files[group.images[1]]).name == f"{lines[1]['image_1']}.png"
    assert group.tag == "Object"


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "replace_rel.json").unlink(), "replace_rel.json: file not found"),
        (lambda f: (f / "add_obj.json").write_text("{not json"), "add_obj.json: not valid JSON"),
        (lambda f: (f / "add_obj.json").write_text('{"0": {"filename": "x.jpg", "caption": "a"}}'),
         "add_obj.json: entry '0': 'negative_caption' must be a non-empty string"),
        (lambda f: (f / "add_obj.json").write_text(
            '{"7": {"filename": "gone.jpg", "caption": "a", "negative_caption": "b"}}'),
         "entry '7': image file"),
        (lambda f: (f / "add_obj.json").write_text(
            '{"0": {"filename": "../x.jpg", "caption": "a", "negative_caption": "b"}}'),
         "'filename' must be a file name"),
        (lambda f: (f / "add_obj.json").write_text("[]"), "expected a non-empty JSON object"),
    ],
)  # fmt: skip
def test_bad_sugarcrepe_files_are_one_line_naming_them(compositional_root, tmp_path, damage, message) -> None:
    folder = _copy(compositional_root / "sugarcrepe", tmp_path / "sc")
    damage(folder)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(".", r"\.")) as err:
        load_sugarcrepe(folder)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{bad", "line 2: not valid JSON"),
        ('{"image_0": "ex_0_img_0", "image_1": "ex_0_img_1", "caption_0": "a"}', "line 2: 'caption_1' must be"),
        ('{"image_0": "nope", "image_1": "ex_0_img_1", "caption_0": "a", "caption_1": "b"}', "nope.png not found"),
        ('{"image_0": "ex_0_img_0", "image_1": "ex_0_img_0", "caption_0": "a", "caption_1": "b"}', "two different"),
    ],
)
def test_bad_winoground_lines_name_the_line(compositional_root, tmp_path, line, message) -> None:
    folder = _copy(compositional_root / "winoground", tmp_path / "wg")
    first = (folder / "examples.jsonl").read_text().splitlines()[0]
    (folder / "examples.jsonl").write_text(first + "\n" + line + "\n")
    with pytest.raises(DataError, match=message.replace(".", r"\.")):
        load_winoground(folder)


def test_path_tables_and_refusals(compositional_root: Path) -> None:
    table = {"path": "winoground", "format": "winoground", "name": "wg"}
    assert build_compositional(table, compositional_root).name == "wg"
    with pytest.raises(UserError, match="format 'sugarcrepe' or 'winoground', not 'captions'"):
        build_compositional({"path": "winoground", "format": "captions"}, compositional_root)
    with pytest.raises(UserError, match="needs --data-root"):
        build_compositional("winoground", None)
    with pytest.raises(UserError, match="Did you mean 'winoground'"):
        build_compositional("winogrand", compositional_root)


# --- the world's analogue -----------------------------------------------------------------------------------
COLOURS = {"red": ["red", "crimson"], "blue": ["blue", "navy"], "orange": ["orange", "amber"]}
SHAPES = {"circle": ["circle", "round dot"], "square": ["square", "box"], "star": ["star", "five-pointed star"]}


def test_world_items_replace_and_swap_words_with_articles_agreeing() -> None:
    captions = [
        "A red circle next to an amber box",  # image 0: red circle (+ orange square)
        "a navy five-pointed star",  # image 1: blue star
        "a blue circle",  # image 2: blue circle
        "polka-dot thing",  # image 3: nothing named
        "a red box",  # image 4: red square
    ]
    choices, groups = world_items(captions, [0, 1, 2, 3, 4], COLOURS, SHAPES)
    got = {(image, subset): negative for image, _, negative, subset in choices}
    # colour of image 0 → the next image naming another colour and the same shape (circle): image 2, blue
    assert got[0, "replace_att"] == "A blue circle next to an amber box"
    # shape of image 0 → the next image naming another shape and the same colour (red): image 4, square
    assert got[0, "replace_obj"] == "A red square next to an amber box"
    assert got[0, "swap_att"] == "An amber circle next to a red box"  # articles follow the new words
    assert got[0, "swap_obj"] == "A red box next to an amber circle"
    # image 1 names no partner's shape in blue... image 2 is blue but a circle: the colour falls back to the list
    assert got[1, "replace_att"] == "a orange five-pointed star".replace("a orange", "an orange")
    assert (3, "replace_att") not in got and (3, "replace_obj") not in got  # nothing to replace
    assert (0, 2, captions[0], got[0, "replace_att"], "replace_att") in groups
    assert (0, 4, captions[0], got[0, "replace_obj"], "replace_obj") in groups
    assert not any(g[0] == 1 and g[4] == "replace_att" for g in groups)  # no partner: no group
    assert world_items(captions, [0, 1, 2, 3, 4], COLOURS, SHAPES) == (choices, groups)  # deterministic


def test_world_compositional_reads_the_world(world_dir: Path) -> None:
    data = build_compositional("world-compositional", world_dir)
    subsets = {c.subset for c in data.choices}
    assert {"replace_att", "replace_obj"} <= subsets <= {"replace_att", "replace_obj", "swap_att", "swap_obj"}
    for c in data.choices:
        assert data.captions[c.positive] != data.captions[c.negative]
    assert data.groups and all(g.images[0] != g.images[1] for g in data.groups)


# --- scoring ------------------------------------------------------------------------------------------------
def test_choice_hits_by_hand_ties_miss() -> None:
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=torch.float64)
    hits = choice_hits(images, texts, torch.tensor([0, 1, 0]), torch.tensor([0, 0, 1]), torch.tensor([1, 1, 1]))
    assert hits.tolist() == [True, False, False]  # the last is a tie (0 vs 0): a miss


def _naive_groups(sim: list[list[float]], pairs: list) -> dict[str, list]:
    out: dict[str, list] = {k: [] for k in ("i2t", "t2i", "text", "image", "group", "dis")}
    for (i0, i1), (c0, c1) in pairs:
        s = [[sim[i][c] for c in (c0, c1)] for i in (i0, i1)]
        i2t = [s[0][0] > s[0][1], s[1][1] > s[1][0]]
        t2i = [s[0][0] > s[1][0], s[1][1] > s[0][1]]
        out["i2t"].append(i2t)
        out["t2i"].append(t2i)
        out["text"].append(all(i2t))
        out["image"].append(all(t2i))
        out["group"].append(all(i2t) and all(t2i))
        out["dis"].append([a != b for a, b in zip(i2t, t2i, strict=True)])
    return out


def test_group_choices_match_naive_loops_and_a_hand_case() -> None:
    # Hand case, S[image, caption] = [[0.9, 0.3], [0.7, 0.6]]: image 0 picks caption 0 (0.9 > 0.3) and caption 0
    # image 0 (0.9 > 0.7); image 1 picks caption 0 (0.7 > 0.6): wrong, but caption 1 picks image 1 (0.6 > 0.3):
    # right — pair 1 disagrees; text score 0, image score 1, group 0.
    images = torch.eye(4, dtype=torch.float64)[:2]
    texts = torch.tensor([[0.9, 0.7, 0, 0], [0.3, 0.6, 0, 0]], dtype=torch.float64)
    got = group_choices(images, texts, torch.tensor([[[0, 1], [0, 1]]]))
    assert got["image_to_text"].tolist() == [[True, False]] and got["text_to_image"].tolist() == [[True, True]]
    assert got["text"].tolist() == [False] and got["image"].tolist() == [True] and got["group"].tolist() == [False]
    assert got["disagreement"].tolist() == [[False, True]]
    g = torch.Generator().manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(10, 4, generator=g, dtype=torch.float64), dim=1)
    texts = torch.nn.functional.normalize(torch.randn(12, 4, generator=g, dtype=torch.float64), dim=1)
    pairs = [((a, (a + 3) % 10), (b, (b + 5) % 12)) for a, b in zip(range(10), range(2, 12), strict=True)]
    got = group_choices(images, texts, torch.tensor([[list(i), list(c)] for i, c in pairs]))
    naive = _naive_groups((images @ texts.T).tolist(), pairs)
    for key, ours in (("i2t", "image_to_text"), ("t2i", "text_to_image"), ("text", "text"), ("image", "image"),
                      ("group", "group"), ("dis", "disagreement")):  # fmt: skip
        assert got[ours].tolist() == naive[key]


# --- the task end to end ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "random.pt"
    save_checkpoint(path, model_payload(model, info))
    return path


def _eval(checkpoint: Path, suite: str, data_root: Path, out: Path) -> dict:
    result = cli("eval", "-c", str(checkpoint), "--suite", suite, "--data-root", str(data_root), "--out", str(out),
                 "--no-cache", "--workers", "0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(next(out.glob("*.json")).read_text())


def test_compositional_suite_on_the_released_formats(random_checkpoint, compositional_root, tmp_path) -> None:
    obj = _eval(random_checkpoint, "compositional", compositional_root, tmp_path / "out")
    tasks = {t["name"]: t for t in obj["tasks"]}
    sc, wg = tasks["sugarcrepe"], tasks["winoground"]
    assert set(sc["metrics"]) == {f"image_to_text/{s}" for s in SUGARCREPE_SUBSETS} | {"image_to_text_mean"}
    assert sc["counts"]["image_to_text/swap_att"]["n"] == 3 and sc["extra"]["num_add_att"] == 3
    assert sc["metrics"]["image_to_text_mean"] == pytest.approx(
        sum(sc["metrics"][f"image_to_text/{s}"] for s in SUGARCREPE_SUBSETS) / 7
    )
    assert set(wg["metrics"]) == {
        "text_score", "image_score", "group_score", "group_image_to_text", "group_text_to_image", "disagreement",
    }  # fmt: skip
    assert wg["counts"]["group_score"]["n"] == 4 and wg["counts"]["disagreement"]["n"] == 8
    assert wg["metric_info"]["disagreement"]["higher_is_better"] is False
    i2t, t2i, dis = (wg["per_example"][k] for k in ("group_image_to_text", "group_text_to_image", "disagreement"))
    assert dis == [int(a != b) for a, b in zip(i2t, t2i, strict=True)]
    assert wg["extra"]["group_tags"] == {"Object": 4}


def test_world_compositional_part_runs_on_the_world(random_checkpoint, world_dir, tmp_path) -> None:
    obj = _eval(random_checkpoint, "world-compositional", world_dir, tmp_path / "out")
    (task,) = obj["tasks"]
    assert task["kind"] == "compositional" and task["dataset"] == "world-compositional"
    assert "image_to_text/replace_att" in task["metrics"] and "disagreement" in task["metrics"]
    assert all(0 <= v <= 1 for v in task["metrics"].values())
    assert list(task["metrics"])[:2] == ["image_to_text_mean", "group_score"]  # the summary's headline first


def test_compositional_bad_input_is_one_line_exit_2(random_checkpoint, compositional_root, tmp_path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\nversion = 1\n[[tasks]]\nname = "c"\nkind = "compositional"\n'
        'dataset = { path = "winoground", format = "sugarcrepe" }\n'
    )
    result = cli("eval", "-c", str(random_checkpoint), "--suite", str(suite), "--data-root", str(compositional_root),
                 "--out", str(tmp_path / "out"), "--no-cache")  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "val2017" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
