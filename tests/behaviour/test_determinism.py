"""Determinism: the same analysis and data give byte-identical report folders

* across two runs in separate processes with different hash seeds, from different absolute folders,
  each fitting everything afresh (separate caches);
* between a fresh run and a rerun read from the fit cache;
* between serial and parallel (process pool) fitting.

The analysis has two families, four table formats, a grid of specifications (its specification
curve is a PNG) and the manifest, so every writer is covered.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.behaviour.test_bad_inputs import BASE, arrangements, tree

ANALYSIS = BASE.replace('models = ["cox_base", "logit_form"]',
                        'models = ["cox_base", "logit_form"]\nformats = ["md", "tex", "html", "csv"]') + """
[grid]
id = "g"
base = "cox_base"
focal = "c2_index"

[grid.axes]
vcov = ["model", "robust"]
restrict = ["", "n_members >= 3", "c2_index > -1"]
"""


def write_case(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrangements().to_csv(folder / "arr.csv", index=False)
    (folder / "analysis.toml").write_text(ANALYSIS, encoding="utf-8")
    return folder


def cli(folder: Path, *args: str, seed: str = "0", cache: str = "cache") -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": seed, "C2STATS_CACHE_DIR": str(folder / cache)}
    return subprocess.run([sys.executable, "-m", "c2stats", "run", "analysis.toml", *args], cwd=folder,
                          capture_output=True, text=True, timeout=600, env=env)


def report(folder: Path) -> dict:
    return tree(folder / "reports" / "battery")


def differing(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k, b"<missing>") != b.get(k, b"<missing>"))


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> dict:
    folder = write_case(tmp_path_factory.mktemp("first"))
    proc = cli(folder, seed="1")
    assert proc.returncode == 0, proc.stderr
    out = report(folder)
    assert {"manifest.json", "index.md", "tables/t1.md", "tables/t1.tex", "tables/t1.html", "tables/t1.csv",
            "figures/g.png", "results/cox_base/tidy.csv"} <= set(out)
    return out


def test_two_runs_in_separate_processes_and_folders_are_byte_identical(first, tmp_path):
    folder = write_case(tmp_path / "somewhere" / "else")
    proc = cli(folder, seed="2")
    assert proc.returncode == 0, proc.stderr
    second = report(folder)
    assert differing(first, second) == []
    assert str(tmp_path).encode() not in b"".join(v for v in second.values() if v)  # no absolute paths


def test_rerun_from_the_cache_is_byte_identical(first, tmp_path, monkeypatch):
    from c2stats.pipeline import run

    folder = write_case(tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("C2STATS_CACHE_DIR", str(folder / "cache"))
    fresh = run("analysis.toml", executor="serial")
    assert fresh.stats["fitted"] >= 8 and fresh.stats["cached"] == 0
    shutil.rmtree(folder / "reports")
    again = run("analysis.toml", executor="serial")
    assert again.stats["fitted"] == 0 and again.stats["cached"] == fresh.stats["fitted"]
    assert differing(first, report(folder)) == []


def test_serial_and_process_pool_are_byte_identical(first, tmp_path, monkeypatch):
    """Python API: the same report whether the fits run here one by one or in two worker processes."""
    from c2stats.pipeline import run

    for name, kwargs in {"serial": dict(executor="serial"), "pool": dict(executor="process", jobs=2)}.items():
        folder = write_case(tmp_path / name)
        monkeypatch.chdir(folder)
        summary = run("analysis.toml", cache=False, **kwargs)
        assert summary.stats["fitted"] >= 8  # enough tasks for the pool to be used (ProcessExecutor.min_tasks)
        assert differing(first, report(folder)) == [], name


def test_serial_and_parallel_cli_runs_are_byte_identical(first, tmp_path):
    """Command line: --executor serial and a two-worker process pool, no cache."""
    outs = {}
    for name, args in {"serial": ("--executor", "serial"), "parallel": ("--executor", "process", "--jobs", "2")}.items():
        folder = write_case(tmp_path / name)
        proc = cli(folder, *args, "--no-cache")
        assert proc.returncode == 0, proc.stderr
        outs[name] = report(folder)
    assert differing(outs["serial"], outs["parallel"]) == []
    assert differing(first, outs["parallel"]) == []
