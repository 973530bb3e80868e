"""What a run reports: metrics.jsonl (format in docs/contracts.md), progress (cyclip_bench.progress: a bar with
ETA on a terminal, labelled plain lines at a steady cadence elsewhere), TensorBoard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cyclip_bench import progress as progress_lines
from cyclip_bench.fileio import atomic_write_text


class Monitor:
    """Only the main rank writes; the other ranks get a Monitor whose methods do nothing."""

    def __init__(
        self,
        run_dir: Path,
        enabled: bool,
        total_steps: int,
        start_step: int,
        progress: bool,
        tensorboard: bool,
        terms: tuple[str, ...],
        pairs_per_step: int = 1,
    ) -> None:
        self.enabled = enabled
        self.terms = [t for t in terms if t != "loss"]  # the objective's terms, then the cyclic ones
        self.metrics_path = run_dir / "metrics.jsonl"
        self._bar: progress_lines.Tracker | None = None
        self._tb = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        _drop_lines_after(self.metrics_path, start_step)  # a resumed run rewrites the steps it repeats
        self._file = self.metrics_path.open("a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # optional dependency, imported only when asked

            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if progress:
            self._bar = progress_lines.Tracker()
            self._task = self._bar.add_task(
                "step", total=total_steps, completed=start_step, unit="pairs", scale=pairs_per_step
            )
            self._bar.start()

    def info(self, message: str) -> None:
        if self.enabled:
            progress_lines.say(message)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in record.items():
                if key not in ("split", "step", "epoch", "time") and isinstance(value, (int, float)):
                    self._tb.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def train_step(
        self,
        step: int,
        epoch: int,
        lr: float,
        parts: dict[str, float],
        scalars: dict[str, float],
        pairs_per_s: float,
        log: bool,
    ) -> None:
        """``parts``: the loss and its terms; ``scalars``: the model's learnt scalars (logit_scale, logit_bias)."""
        if not self.enabled:
            return
        status = f"epoch {epoch} loss {parts['loss']:.4f} ({self._terms(parts, 3)}) lr {lr:.2e}"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, status=status)
        if not log:
            return
        self._write(
            {
                "split": "train",
                "step": step,
                "epoch": epoch,
                "lr": lr,
                **parts,
                **scalars,
                "pairs_per_s": pairs_per_s,
                "time": time.time(),
            }
        )

    def validation(self, step: int, epoch: int, parts: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._write({"split": "val", "step": step, "epoch": epoch, **parts})
        self.info(f"val after epoch {epoch}: loss {parts['loss']:.4f} ({self._terms(parts, 4)})")

    def _terms(self, parts: dict[str, float], digits: int) -> str:
        return " ".join(f"{term} {parts[term]:.{digits}f}" for term in self.terms)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
        if self._tb is not None:
            self._tb.close()
        self._file.close()


def _drop_lines_after(path: Path, step: int) -> None:
    if not path.exists():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= step
    ]
    atomic_write_text(path, "".join(line + "\n" for line in kept))
