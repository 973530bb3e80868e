"""Progress of long work — world generation, data decoding, training steps, feature encoding, task fitting —
shown the same way everywhere.

On a terminal a ``Tracker`` draws rich progress bars with a rate and an ETA. When stderr is not a terminal (CI,
``nohup``, a log file) it writes one plain line per stage at a steady cadence instead (``interval_s()``, 15 s by
default; ``CYCLIP_BENCH_PROGRESS_S`` sets it), e.g. ``[clip-s0] step 800/2000 (40%) 312 pairs/s eta 3m10s``,
plus a background heartbeat so a stage whose counter does not move still says so. Every line carries the
process's label (``set_label``: the demo's worker processes label themselves with their run), and plain lines
are never wrapped. A ``Tracker`` has the part of rich's ``Progress`` interface the code uses (``add_task``,
``advance``, ``update``, ``remove_task``, ``start``, ``stop``), so either can be passed where a progress is taken.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console

INTERVAL_ENV = "CYCLIP_BENCH_PROGRESS_S"
DEFAULT_INTERVAL_S = 15.0

_label: str | None = None  # this process's label (a run name in a demo worker)
_plain_only = False  # a worker process beside others: plain lines even on a terminal (bars would collide)


def interval_s() -> float:
    """Seconds between two plain progress lines of one stage (``CYCLIP_BENCH_PROGRESS_S``, default 15)."""
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


def set_label(label: str | None) -> None:
    """Label every line this process prints through this module (``[label] …``); None removes it."""
    global _label
    _label = label


def current_label() -> str | None:
    return _label


def set_plain_only(plain: bool = True) -> None:
    """Plain lines instead of bars in this process even on a terminal: several worker processes share one
    terminal, and their live bars would overwrite each other."""
    global _plain_only
    _plain_only = plain


def labelled(text: str, label: str | None = None) -> str:
    """``[label] text`` (the given label, else the process's; the text alone when there is none)."""
    label = label if label is not None else _label
    return f"[{label}] {text}" if label else text


def say(message: str, label: str | None = None, stream: IO[str] | None = None) -> None:
    """One labelled status line on stderr, flushed at once. One ``write`` of text and newline together: ``print``
    writes them separately, and stderr (write-through) passes each on at once, so two worker processes' lines
    would join mid-line."""
    stream = stream or sys.stderr
    stream.write(labelled(message, label) + "\n")
    stream.flush()


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is a terminal this process may draw live bars on."""
    stream = stream or sys.stderr
    return not _plain_only and bool(getattr(stream, "isatty", lambda: False)())


def make_console(stderr: bool = True) -> Console:
    """A rich Console that, writing to a file or pipe, neither wraps lines at 80 columns nor adds colour codes."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=160, no_color=True, highlight=False)


def rule(console: Console, text: str) -> None:
    """A stage heading: a rule on a terminal, one ``== text ==`` line (labelled) elsewhere."""
    if console.is_terminal:
        console.rule(f"[bold]{text}")
    else:
        console.print(labelled(f"== {text} =="), markup=False, highlight=False)


def duration(seconds: float) -> str:
    """``45s``, ``3m10s``, ``1h02m``: short enough for a status line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    first: float  # completed at the start, so a resumed run's rate counts only this process's work
    started: float
    unit: str
    scale: float  # units per count (pairs per step)
    status: str = ""
    last_line: float = 0.0
    rich_id: Any = None

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return (self.completed - self.first) * self.scale / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float) -> float | None:
        rate = self.rate(now) / self.scale if self.scale else 0.0
        if self.total is None or rate <= 0:
            return None
        return max(0.0, self.total - self.completed) / rate

    def line(self, now: float, done: bool = False) -> str:
        count = f"{self.completed:.0f}"
        if self.total:
            count += f"/{self.total:.0f} ({100 * self.completed / self.total:.0f}%)"
        parts = [self.description, count, f"{self.rate(now):.0f} {self.unit}/s"]
        if done:
            parts.append(f"done in {duration(now - self.started)}")
        else:
            eta = self.eta(now)
            parts.append(f"eta {duration(eta)}" if eta is not None else f"elapsed {duration(now - self.started)}")
        if self.status:
            parts.append(self.status)
        return " ".join(parts)


class Tracker:
    """Progress of one or more stages: rich bars on a terminal, labelled plain lines at a steady cadence
    elsewhere (see the module docstring). ``enabled=False`` makes every method a no-op."""

    def __init__(
        self,
        label: str | None = None,
        *,
        enabled: bool = True,
        interval: float | None = None,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
        transient: bool = False,
    ) -> None:
        self.label = label if label is not None else _label
        self.enabled = enabled
        self.interval = interval_s() if interval is None else interval
        self.stream = stream
        self.terminal = is_terminal(stream) if terminal is None else terminal
        self._tasks: dict[int, _Task] = {}
        self._next = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._rich: Any = None
        if enabled and self.terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            prefix = f"[bold]{self.label}[/] " if self.label else ""
            self._rich = Progress(
                TextColumn(prefix + "{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(file=stream or sys.stderr),
                transient=transient,
            )

    # -- the rich-like interface -------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.start()
        elif self.interval >= 1 and self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="progress-heartbeat", daemon=True)
            self._heartbeat.start()

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None

    def __enter__(self) -> Tracker:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def add_task(
        self,
        description: str,
        total: float | None = None,
        completed: float = 0,
        *,
        unit: str = "it",
        scale: float = 1.0,
        status: str = "",
        **_: Any,
    ) -> int:
        """A new stage; ``unit``/``scale``: what the rate counts (e.g. pairs, ``scale`` pairs per step)."""
        with self._lock:
            task_id, self._next = self._next, self._next + 1
            now = time.perf_counter()
            task = _Task(description, total, completed, completed, now, unit, scale, status, last_line=now)
            self._tasks[task_id] = task
            if self._rich is not None and self.enabled:
                task.rich_id = self._rich.add_task(
                    description, total=total, completed=completed, rate="", status=status
                )
            return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        task = self._tasks.get(task_id)
        if task is not None:
            self.update(task_id, completed=task.completed + advance)

    def update(self, task_id: int, *, completed: float | None = None, status: str | None = None, **_: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return
            if completed is not None:
                task.completed = completed
            if status is not None:
                task.status = status
            now = time.perf_counter()
            if self._rich is not None:
                rate = f"{task.rate(now):.0f} {task.unit}/s"
                self._rich.update(task.rich_id, completed=task.completed, status=task.status, rate=rate)
                return
            finished = task.total is not None and task.completed >= task.total
            if finished:
                self._finish(task_id, now)
            elif now - task.last_line >= self.interval:
                self._emit(task, now)

    def remove_task(self, task_id: int) -> None:
        with self._lock:
            task = self._tasks.pop(task_id, None)
            if task is not None and self._rich is not None and self.enabled:
                self._rich.remove_task(task.rich_id)

    # -- plain lines -------------------------------------------------------------------------------------------
    def _emit(self, task: _Task, now: float, done: bool = False) -> None:
        task.last_line = now
        say(task.line(now, done), self.label or "", self.stream)

    def _finish(self, task_id: int, now: float) -> None:
        """A finished stage: one closing line if it lasted at least one interval (short ones stay silent)."""
        task = self._tasks.pop(task_id)
        if now - task.started >= self.interval:
            self._emit(task, now, done=True)

    def _beat(self) -> None:
        """Every second: a line for each stage that printed nothing for an interval (a stalled counter too)."""
        while not self._stop.wait(min(1.0, self.interval)):
            now = time.perf_counter()
            with self._lock:
                for task in list(self._tasks.values()):
                    if now - task.last_line >= self.interval:
                        self._emit(task, now)


def tracker(enabled: bool, label: str | None = None, transient: bool = False) -> Tracker | None:
    """A started-later Tracker when progress is wanted, else None (callers test ``if progress``)."""
    return Tracker(label, transient=transient) if enabled else None
