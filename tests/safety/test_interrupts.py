"""Ctrl-C and SIGTERM end a process-pool run promptly: workers stopped, previous report intact,
exit status 130 / 143. A full disk while writing the report is exit 2 naming --out.

The run is a real ``python -m c2stats`` in its own session (so Ctrl-C can reach its whole process
group, as in a terminal); :data:`WRAPPER` makes every fit log its worker's pid and then sleep, so
the signal always arrives while fits are running.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.safety.conftest import LOGIT, run, snapshot

GRID = """
[grid]
id = "g"
base = "logit_a"
focal = "power"

[grid.axes]
vcov = ["model", "HC1"]
restrict = ["", "power > 0", "years > 1", "major == 0"]
"""

WRAPPER = r'''
import os, sys, time
from pathlib import Path
import c2stats.executors as executors

log = Path(sys.argv[1])
real = executors.fit_task


def slow(task, dataset):
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(60)
    return real(task, dataset)


executors.fit_task = slow
from c2stats.cli import main
sys.exit(main(sys.argv[2:]))
'''


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def started(analysis, tmp_path):
    """A process-pool grid run over a previous report, once two fits are running."""
    if not sys.platform.startswith("linux"):
        pytest.skip("uses /proc and fork")
    path = analysis(LOGIT.replace("[[tables]]", GRID + "\n[[tables]]"))
    out = tmp_path / "rep"
    assert run(path, "--out", out, "--no-cache") == 0
    before = snapshot(out)
    (tmp_path / "wrap.py").write_text(WRAPPER)
    log = tmp_path / "pids.log"
    proc = subprocess.Popen([sys.executable, str(tmp_path / "wrap.py"), str(log), "run", str(path), "--out", str(out),
                             "--no-cache", "--executor", "process", "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(Path(__file__).parents[2])})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or len(set(log.read_text().split())) < 2):
        time.sleep(0.1)
    assert log.exists(), proc.communicate(timeout=5)
    yield proc, out, before, [int(p) for p in set(log.read_text().split())]
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("how, code", [("ctrl-c", 130), ("sigterm", 143)])
def test_signal_stops_the_run_and_its_workers(started, tmp_path, how, code):
    proc, out, before, workers = started
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # a job scheduler: the main process only
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not exit within 20 s of {how}")
    assert proc.returncode == code, err
    assert "previous report is untouched" in err and "Traceback" not in err
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if alive(p)], "worker processes outlived the run"
    assert snapshot(out) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep.")]


def test_full_disk_while_writing_the_report_names_out(analysis, tmp_path, monkeypatch, capsys):
    """A patched writer raises ENOSPC half-way (no file name, as a failing write() does)."""
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0
    before = snapshot(out)
    import c2stats.results as results

    real = results.write_csv
    calls = []

    def full(frame, target):
        calls.append(target)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(frame, target)

    monkeypatch.setattr(results, "write_csv", full)
    assert run(path, "--out", out) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "disk is full" in err and "previous report is untouched" in err
    assert snapshot(out) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep.")]


def test_file_size_limit_is_an_error_not_a_kill(analysis, tmp_path):
    """Under ``ulimit -f`` a large write raises SIGXFSZ, which kills a process by default."""
    path = analysis()
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)); "
              "from c2stats.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", script, "run", str(path), "--out", str(tmp_path / "rep"),
                           "--executor", "serial", "--cache-dir", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "file-size limit" in proc.stderr and ("--out" in proc.stderr or "--cache-dir" in proc.stderr)
