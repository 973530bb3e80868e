"""Atomic writes: a failed write leaves the old file and no temp files behind."""

from __future__ import annotations

import hashlib
import json

import pytest

from cyclip_bench.fileio import atomic_open, atomic_write_json, atomic_write_text, sha256_file


def test_atomic_write_replaces_and_hashes(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sha256_file(target) == hashlib.sha256(b"new").hexdigest()
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_atomic_files_get_normal_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode == plain.stat().st_mode
