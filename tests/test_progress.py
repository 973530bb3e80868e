"""Progress where stderr is not a terminal (CI, nohup, a log file): one labelled plain line per stage at a steady
cadence with counts, rate and ETA; reuse lines on a re-run; a finished run is not decoded again."""

from __future__ import annotations

import io
import re
import time

import pytest

from cyclip_bench import progress
from tests.tiny_inputs import write_random_pairs
from tests.train_helpers import train_config

PROGRESS_LINE = r"\[{label}\] {what} (\d+)/(\d+) \((\d+)%\) \d+ {unit}/s (eta \S+|done in \S+)"


@pytest.fixture
def every_update(monkeypatch):
    """A progress line at every update (cadence 0 s) and the label a demo worker gives its run."""
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    monkeypatch.setattr(progress, "_label", None)


def test_plain_lines_carry_the_label_the_count_the_rate_and_the_eta():
    out = io.StringIO()
    with progress.Tracker("clip-s0", interval=0, stream=out, terminal=False) as bar:
        task = bar.add_task("step", total=2000, completed=0, unit="pairs", scale=64)
        for step in (400, 800):
            time.sleep(0.01)
            bar.update(task, completed=step, status="loss 3.2100")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first = re.fullmatch(PROGRESS_LINE.format(label="clip-s0", what="step", unit="pairs") + " loss 3.2100", lines[1])
    assert first is not None, lines[1]
    assert first.group(1, 2, 3) == ("800", "2000", "40")


def test_plain_lines_come_at_the_cadence_and_a_heartbeat_covers_a_stalled_counter():
    out = io.StringIO()
    with progress.Tracker("eval", interval=1, stream=out, terminal=False) as bar:
        task = bar.add_task("tasks", total=3, unit="tasks")
        bar.advance(task)  # within the first interval: no line yet
        assert out.getvalue() == ""
        # nothing advances: the heartbeat still says where the stage is (its first beat is due after 1 s; waited
        # for up to 20 s, since a loaded machine may wake the heartbeat thread late)
        deadline = time.monotonic() + 20
        while not out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert re.search(r"^\[eval\] tasks 1/3 \(33%\) \d+ tasks/s eta \S+$", out.getvalue(), re.M), out.getvalue()


def test_a_short_stage_ends_silently_and_a_disabled_tracker_prints_nothing():
    out = io.StringIO()
    with progress.Tracker("x", interval=60, stream=out, terminal=False) as bar:
        task = bar.add_task("decode", total=2)
        bar.advance(task, 2)
    with progress.Tracker("x", enabled=False, interval=0, stream=out, terminal=False) as bar:
        bar.update(bar.add_task("decode", total=2), completed=1)
    assert out.getvalue() == ""


def test_durations_read_as_a_person_writes_them():
    assert [progress.duration(s) for s in (4.4, 190, 3720)] == ["4s", "3m10s", "1h02m"]


def test_a_console_writing_to_a_file_does_not_wrap_at_80_columns(capsys):
    console = progress.make_console()
    sentence = "word " * 40
    console.print(sentence.strip())
    assert capsys.readouterr().err.strip() == sentence.strip()


def test_training_lines_are_labelled_and_a_finished_run_is_reused_without_decoding(tmp_path, every_update, capsys):
    from cyclip_bench.train import train

    data = write_random_pairs(tmp_path, n=32)
    progress.set_label("clip-s0")
    cfg = train_config(data, tmp_path / "logs", progress=True, epochs=2, name="r", data_cache="memory")
    train(cfg)
    err = capsys.readouterr().err
    steps = re.findall(PROGRESS_LINE.format(label="clip-s0", what="step", unit="pairs"), err)
    assert [s[:2] for s in steps] == [
        ("1", "8"),
        ("2", "8"),
        ("3", "8"),
        ("4", "8"),
        ("5", "8"),
        ("6", "8"),
        ("7", "8"),
        ("8", "8"),
    ]
    assert re.search(PROGRESS_LINE.format(label="clip-s0", what="decode", unit="pairs"), err), err
    assert all(line.startswith("[clip-s0] ") for line in err.splitlines()), err

    again = train(
        train_config(data, tmp_path / "logs", progress=True, epochs=2, name="r", data_cache="memory", resume="latest")
    )
    err = capsys.readouterr().err
    assert again == tmp_path / "logs" / "r" / "checkpoints" / "latest.pt"
    assert f"[clip-s0] reusing finished run {tmp_path / 'logs' / 'r'} (8/8 steps)" in err
    assert "decod" not in err and "step" not in err.replace("8/8 steps", "")

    more = train_config(
        data,
        tmp_path / "logs",
        progress=True,
        epochs=3,
        name="r",
        data_cache="memory",
        resume="latest",
        allow_resume_changes=("schedule",),
    )
    train(more)
    err = capsys.readouterr().err
    assert "[clip-s0] resuming " in err and "from step 8 (epoch 2)" in err


def test_world_generation_reports_images_rendered(tmp_path, every_update, capsys):
    from cyclip_bench.data.synth import generate_world

    generate_world(tmp_path / "w", size=0.03, workers=1)
    err = capsys.readouterr().err
    counts = re.findall(PROGRESS_LINE.format(label="world", what="images", unit="images"), err)
    assert counts and counts[-1][0] == counts[-1][1] and counts[-1][2] == "100", err


def test_eval_reports_task_fitting_and_reuses_cached_tasks_on_a_rerun(
    world_dir, same_label_checkpoints, tmp_path, every_update, capsys
):
    from cyclip_bench.eval import EvalConfig, evaluate

    def run() -> str:
        cfg = EvalConfig(
            checkpoints=(f"m={same_label_checkpoints['exp1']}",),
            suite="world-consistency",
            out=tmp_path / "results",
            data_root=world_dir,
            cache_dir=tmp_path / "cache",
            resume=True,
            workers=0,
        )
        evaluate(cfg)
        return capsys.readouterr().err

    first = run()
    tasks = re.findall(PROGRESS_LINE.format(label="eval", what="m tasks", unit="tasks"), first)
    assert tasks and tasks[-1][:2] == ("2", "2"), first
    assert "reusing" not in first
    assert "[eval] m: reusing 2 cached task(s) of" in run()


def test_a_status_line_is_one_write_so_worker_lines_never_join_mid_line(monkeypatch):
    """Two demo workers share stderr, which passes every write on at once: a line written as text, then newline
    (as ``print`` does) let another worker's line in between ("...steps)[i-cyclip-s100] reusing ...")."""

    class Recording(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[str] = []

        def write(self, text: str) -> int:
            self.writes.append(text)
            return super().write(text)

    monkeypatch.setattr(progress, "_label", "clip-s101")
    stream = Recording()
    progress.say("reusing finished run runs/clip-s101 (2000/2000 steps)", stream=stream)
    assert stream.writes == ["[clip-s101] reusing finished run runs/clip-s101 (2000/2000 steps)\n"]
