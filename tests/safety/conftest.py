"""Shared helpers of the safety battery: a small valid analysis on the shipped ``mid`` example."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2stats.cli import main

LOGIT = """
[analysis]
id = "safe"
title = "Safety test"
dataset = "mid"

[[models]]
id = "logit_a"
family = "logit"
formula = "conflict ~ major + contig + power"

[[tables]]
id = "t1"
models = ["logit_a"]
formats = ["md", "csv"]
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def analysis(tmp_path, monkeypatch):
    """Write an analysis (LOGIT by default) into a scratch folder that is also the working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("C2STATS_CACHE_DIR", str(tmp_path / "cache"))

    def write(text: str = LOGIT, name: str = "a.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def run(*args) -> int:
    return main(["run", *map(str, args), "--executor", "serial"])


def run_forked(*args, timeout: float = 30) -> tuple[object, str]:
    """``c2stats run ARGS --executor serial`` in a forked child (no re-import, so fast), killed after
    ``timeout`` seconds: a hang or a memory blow-up fails the test instead of the test session.
    Returns (exit status or "timeout", standard error)."""
    import io
    import multiprocessing
    import sys

    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)

    def child():
        err = io.StringIO()
        sys.stderr = err
        try:
            code = run(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            code = f"raised {type(exc).__name__}: {exc}"
        writer.send((code, err.getvalue()))

    proc = context.Process(target=child, daemon=True)
    proc.start()
    if reader.poll(timeout):
        code, err = reader.recv()
    else:
        code, err = "timeout", ""
    proc.kill()
    proc.join()
    return code, err
