"""What a newcomer sees first on the command line: bare `cyclip-bench` is the help, every --help names values in
words (no Python type names), required flags say so, the objective names are one table for demo and train, a
wrong delimiter gets a hint, and `suites` lists every dataset a task reads."""

from __future__ import annotations

import re

import pytest
import typer

from cyclip_bench.cli import app
from tests.cli_runner import cli

# A Python type name where a reader expects a value's description: `<int>`, `<list[str]>`, `<Path>`, `<str>` …
TYPE_NAME = re.compile(r"<\s*(list\[|tuple\[|dict\[)?\s*(int|float|str|bool|path|Path)\b[^>]*>", re.I)


def _help_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command of the app, as argument lists."""
    paths: list[tuple[str, ...]] = [()]

    def walk(command, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


def test_bare_command_shows_the_help_and_exits_0():
    for args in ((), ("data",)):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("Usage: cyclip-bench"), result.stdout
        assert "error" not in result.stderr and "error:" not in result.stdout


@pytest.mark.parametrize("path", _help_paths(), ids=lambda p: " ".join(p) or "root")
def test_no_help_text_holds_a_python_type_name(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli(*path, "--help")
    assert result.returncode == 0, result.stderr
    found = TYPE_NAME.findall(result.stdout)
    assert not found, f"{' '.join(path)} --help shows {found}:\n{result.stdout}"


def test_the_type_name_check_sees_one():
    assert TYPE_NAME.search("  RESULTS <list[Path]>  Result files") and TYPE_NAME.search("--epochs <int>")
    assert not TYPE_NAME.search("--out DIR  Output folder for <label>__<suite>.json")


def test_flags_read_as_words(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = cli("train", "--help").stdout
    for shown in ("--train-data PATH", "--epochs N", "--lr NUMBER", "--logs DIR", "--precision auto|", "--loss NAME"):
        assert shown in text, shown
    flat = " ".join(text.split())
    assert re.search(r"--train-data PATH Caption CSV/TSV[^[]*\[required\] --val-data", flat), flat
    synth = cli("data", "synth", "--help").stdout
    assert "OUT_DIR  Folder to write the world into" in synth and "--seed N" in synth


def test_readable_type_words():
    from cyclip_bench.cli.app import _readable_type

    assert [_readable_type(t) for t in ("<int>", "<int range>", "<float>", "<str>", "<path>")] == [
        "N",
        "N",
        "NUMBER",
        "TEXT",
        "PATH",
    ]
    assert _readable_type("<list[Path]>") == "PATH..." and _readable_type("<fp32|bf16>") == "fp32|bf16"


def test_train_takes_the_demos_objective_names_with_their_lambdas(tmp_path):
    from cyclip_bench.demo import OBJECTIVES
    from cyclip_bench.objective_names import NAMED_OBJECTIVES
    from cyclip_bench.train import TrainConfig

    assert list(OBJECTIVES) == list(NAMED_OBJECTIVES)
    for name in ("c-cyclip", "i-cyclip"):
        cfg = TrainConfig.from_sources(None, train_data="x.csv", loss=name, logs=str(tmp_path))
        loss, lam_in, lam_cross = OBJECTIVES[name]
        assert (cfg.loss, cfg.lambda_inmodal, cfg.lambda_crossmodal) == (loss, lam_in, lam_cross)
        assert cfg.run_name == f"{name}-tiny-s0"
    given = TrainConfig.from_sources(None, train_data="x.csv", loss="c-cyclip", lambda_inmodal=0.0, name="n")
    assert (given.lambda_inmodal, given.lambda_crossmodal, given.run_name) == (0.0, 0.25, "n")
    siglip = TrainConfig.from_sources(None, train_data="x.csv", loss="siglip-cyclic")  # a registered objective
    assert siglip.loss == "siglip-cyclic"


def test_a_lambda_that_contradicts_the_named_setting_is_one_line(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("image,caption\n")
    result = cli("train", "--train-data", str(data), "--loss", "c-cyclip", "--lambda-inmodal", "0.5")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --lambda-inmodal 0.5: --loss c-cyclip sets it to 0.0; drop --lambda-inmodal or use --loss cyclip "
        "with both λ"
    )


def test_a_tab_separated_csv_whose_rows_do_not_tokenise_gets_a_delimiter_hint(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("image\tcaption\na.png\ta red, round circle\nb.png\ta, b, c\n")
    result = cli("data", "check", str(table))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("; the header looks tab-separated: try --delimiter tab"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_suites_lists_every_dataset_a_task_reads(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    result = cli("suites")
    assert result.returncode == 0
    rows: dict[str, str] = {}  # task → datasets read, first listing wins (other suites reuse task names)
    for line in result.stdout.splitlines():
        if "│" in line:
            rows.setdefault(line.split("│")[3].strip(), line.split("│")[5].strip())
    assert rows["cifar10-consistency"] == "cifar10 (test, train), mscoco (test)"
    assert rows["cifar10-linear-probe"] == "cifar10 (train, test)"
    assert rows["shapes-zeroshot"] == "world-shapes (test)"
