"""Fault injection: a run that fails at a random file operation (a full disk, Ctrl-C) exits 2 or
130 with the previous report intact and no temporaries left, whatever the point of failure."""

from __future__ import annotations

import errno
import os
import pathlib
import random

import pytest

from tests.safety.conftest import run, snapshot

OPERATIONS = [(pathlib.Path, "write_text"), (pathlib.Path, "write_bytes"), (pathlib.Path, "mkdir"), (os, "replace")]


def count_operations(monkeypatch, root: pathlib.Path, fail_at: int | None, error: BaseException | None) -> list:
    """Wrap the file operations under ``root``; the ``fail_at``-th raises ``error``."""
    calls: list = []
    for owner, name in OPERATIONS:
        real = getattr(owner, name)

        def wrapped(*args, _real=real, _name=name, **kwargs):
            target = str(args[1] if _name == "replace" else args[0])
            if target.startswith(str(root)):
                calls.append((_name, target))
                if fail_at is not None and len(calls) == fail_at:
                    raise error
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapped)
    return calls


@pytest.fixture
def previous(analysis, tmp_path):
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0
    return path, out, snapshot(out)


def test_fault_at_random_points(previous, tmp_path, monkeypatch):
    path, out, before = previous
    with monkeypatch.context() as m:
        calls = count_operations(m, tmp_path, None, None)
        assert run(path, "--out", out, "--no-cache") == 0
    total = len(calls)
    assert total > 10
    points = sorted(random.Random(18).sample(range(1, total - 1), 5)) + [total - 1, total]
    for k in points:
        for error, code in [(OSError(errno.ENOSPC, "No space left on device"), 2), (KeyboardInterrupt(), 130)]:
            with monkeypatch.context() as m:
                count_operations(m, tmp_path, k, error)
                got = run(path, "--out", out, "--no-cache")
            assert got == code, (k, error)
            assert snapshot(out) == before, (k, error)
            assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep.")], (k, error)
