"""Crash safety: a run killed with SIGKILL while it writes the report leaves the previous report
intact, no temporaries inside it, and nothing the next run does not clean up; an interrupted grid
resumes from the fit cache.

Each killed run is a real ``c2stats run`` in a subprocess that SIGKILLs *itself* at a chosen point
(:data:`WRAPPER` wraps one internal function to do so), so the point of death is exact and the
test is not a race: after every artefact is staged but before publication, half-way through
writing the results, and between the two renames of :func:`c2stats.report.publish`. One more test
kills an unmodified run from outside as soon as its staging folder appears.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from c2stats.cli import main
from c2stats.report import recover
from tests.behaviour.test_bad_inputs import BASE, arrangements, tree

V2 = BASE.replace('event = "ended"', 'event = "ended"\nvcov = "robust"')  # the new run: a different report
GRID = """
[grid]
id = "g"
base = "cox_base"
focal = "c2_index"

[grid.axes]
vcov = ["model", "robust"]
restrict = ["", "n_members >= 3", "c2_index > -1"]
"""

WRAPPER = r'''
"""Run the c2stats CLI, SIGKILLing this process at the point named by argv[1]."""
import os, signal, sys
from pathlib import Path

mode, k, log = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
argv = sys.argv[4:]


def die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


import c2stats.executors as executors
executors.make_executor = lambda *a, **kw: executors.SerialExecutor()  # fits in this process, in order

if mode == "staged":  # every artefact is in the staging folder; publication has not started
    import c2stats.pipeline as pipeline
    original = pipeline.write_report_files

    def hooked(*a, **kw):
        original(*a, **kw)
        die()

    pipeline.write_report_files = hooked
elif mode == "mid-write":  # after the k-th model's results are saved into the staging folder
    import c2stats.report as report
    original = report.save_result
    calls = []

    def hooked(*a, **kw):
        out = original(*a, **kw)
        calls.append(1)
        if len(calls) >= k:
            die()
        return out

    report.save_result = hooked
elif mode == "between-renames":  # the old report is moved aside, the new one not yet in place
    real_replace = os.replace

    def hooked(src, dst, *a, **kw):
        real_replace(src, dst, *a, **kw)
        if ".old-" in Path(dst).name:
            die()

    os.replace = hooked
elif mode == "fits":  # log every model fit; die when fit number k + 1 starts (k = 0: never)
    from c2stats.families import FAMILIES

    def counting(original):
        def fit(self, spec, data):
            done = len(log.read_text().splitlines()) if log.exists() else 0
            if k and done >= k:
                die()
            out = original(self, spec, data)
            with open(log, "a") as fh:
                fh.write(spec.id + "\n")
            return out
        return fit

    for name in ("cox", "logit"):
        FAMILIES[name].fit = counting(FAMILIES[name].fit)

from c2stats.cli import main
sys.exit(main(argv))
'''


def write_case(folder: Path, text: str = BASE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrangements().to_csv(folder / "arr.csv", index=False)
    (folder / "analysis.toml").write_text(text, encoding="utf-8")
    (folder / "wrapper.py").write_text(WRAPPER, encoding="utf-8")
    return folder


def killed_run(folder: Path, mode: str, k: int = 0, *args: str, log: str = "fits.log") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "wrapper.py", mode, str(k), log, "run", "analysis.toml", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg", "C2STATS_CACHE_DIR": str(folder / "cache")})


def leftovers(reports: Path) -> list[str]:
    """Temporary or moved-aside folders beside the report."""
    return sorted(p.name for p in reports.iterdir() if p.name.startswith("."))


def in_process_run(folder: Path, monkeypatch, *args: str) -> int:
    monkeypatch.chdir(folder)
    monkeypatch.setenv("C2STATS_CACHE_DIR", str(folder / "cache"))
    return main(["run", "analysis.toml", *args])


@pytest.fixture(scope="module")
def new_report(tmp_path_factory) -> dict:
    """The report the V2 analysis gives when nothing goes wrong (the bytes a finished rerun must give)."""
    folder = write_case(tmp_path_factory.mktemp("reference"), V2)
    with pytest.MonkeyPatch.context() as mp:
        assert in_process_run(folder, mp) == 0
    return tree(folder / "reports" / "battery")


@pytest.fixture
def previous(tmp_path, monkeypatch) -> dict:
    """A folder with a finished V1 report, and the analysis already edited to V2."""
    write_case(tmp_path)
    assert in_process_run(tmp_path, monkeypatch) == 0
    (tmp_path / "analysis.toml").write_text(V2, encoding="utf-8")
    return tree(tmp_path / "reports" / "battery")


@pytest.mark.parametrize("mode, k", [("staged", 0), ("mid-write", 1)])
def test_kill_while_writing_leaves_previous_report_intact(tmp_path, monkeypatch, previous, new_report, mode, k):
    proc = killed_run(tmp_path, mode, k)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    reports = tmp_path / "reports"
    assert tree(reports / "battery") == previous  # untouched, and no temporary file inside it
    staged = [p for p in reports.iterdir() if p.name.startswith(".battery.tmp-")]
    assert len(staged) == 1 and any(staged[0].iterdir())  # the kill did land while the new report was being written
    assert previous != new_report
    # the next run cleans up after the dead one and publishes the complete new report
    assert in_process_run(tmp_path, monkeypatch) == 0
    assert leftovers(reports) == []
    assert tree(reports / "battery") == new_report


def test_kill_between_the_two_renames_is_recovered(tmp_path, monkeypatch, previous, new_report):
    proc = killed_run(tmp_path, "between-renames")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    reports = tmp_path / "reports"
    assert not (reports / "battery").exists()
    moved = [p for p in reports.iterdir() if p.name.startswith(".battery.old-")]
    assert len(moved) == 1 and tree(moved[0]) == previous  # the previous report, whole, one rename away
    recover(reports / "battery")  # what the next run does first
    assert tree(reports / "battery") == previous
    assert leftovers(reports) == []
    assert in_process_run(tmp_path, monkeypatch) == 0
    assert tree(reports / "battery") == new_report and leftovers(reports) == []


def test_kill_from_outside_as_soon_as_staging_starts(tmp_path, monkeypatch, previous, new_report):
    """No hook: an ordinary run killed by another process the moment its staging folder appears."""
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "c2stats", "run", "analysis.toml"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MPLBACKEND": "Agg", "C2STATS_CACHE_DIR": str(tmp_path / "cache")})
    deadline = time.monotonic() + 300
    try:
        while proc.poll() is None and not any(p.name.startswith(".battery.tmp-") for p in reports.iterdir()):
            if time.monotonic() > deadline:
                raise AssertionError("the run never started staging its report")
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    recover(reports / "battery")
    assert tree(reports / "battery") in (previous, new_report)  # one whole report or the other, never a mix
    assert leftovers(reports) == []


def test_interrupted_grid_resumes_from_the_cache(tmp_path):
    clean = write_case(tmp_path / "clean", BASE + GRID)
    assert killed_run(clean, "fits", 0).returncode == 0
    total = (clean / "fits.log").read_text().splitlines()
    assert len(total) >= 8  # 2 main models + 6 grid specifications
    done = 5

    folder = write_case(tmp_path / "interrupted", BASE + GRID)
    proc = killed_run(folder, "fits", done)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len((folder / "fits.log").read_text().splitlines()) == done
    assert not (folder / "reports" / "battery").exists()

    resumed = killed_run(folder, "fits", 0, log="resumed.log")
    assert resumed.returncode == 0, resumed.stderr
    refitted = (folder / "resumed.log").read_text().splitlines()
    assert len(refitted) == len(total) - done  # the fits finished before the kill come from the cache
    assert sorted((folder / "fits.log").read_text().splitlines() + refitted) == sorted(total)
    assert tree(folder / "reports" / "battery") == tree(clean / "reports" / "battery")
