"""Benchmark: a 1,000,000-row arrangement-year dataset through ``c2stats run`` (Cox model).

Usage::

    python benchmarks/large_input.py                   # 1,000,000 rows
    python benchmarks/large_input.py --rows 100000     # smaller
    python benchmarks/large_input.py --keep bench-large   # keep the data, analysis and report

Writes a seeded counting-process dataset in the ``arrangement_years`` schema (one row per
arrangement and year, ``(start, stop]`` spells, 20 years of follow-up at most, covariates
``c2_index`` and ``n_members`` fixed per arrangement and ``log_cap_ratio`` varying by year) to a
CSV file, and an analysis that declares it with ``unit = "arrangement_years"`` (so the whole
codebook check runs) and fits

    ~ c2_index + n_members + log_cap_ratio    (start, stop], Efron, clustered by arrangement_id

then runs ``python -m c2stats run`` in a fresh process under ``/usr/bin/time -v`` (or, without it,
reads ``resource.getrusage(RUSAGE_CHILDREN)``). Printed: rows, wall-clock seconds of the run, peak
resident memory of the run's process, and the estimates next to the true coefficients of the
simulation (a sanity check, not a test).

Target (issue "families", memory): peak RSS under 2 GB at 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: True log-hazard ratios of the simulation.
TRUTH = {"c2_index": -0.30, "n_members": 0.15, "log_cap_ratio": 0.20}
BASE_HAZARD = 0.03  #: yearly baseline hazard
MAX_YEARS = 20
COW = np.array([2, 20, 200, 220, 255, 325, 365, 640, 710, 740, 750])
TARGET_MB = 2048

ANALYSIS = """\
[analysis]
id = "large"
title = "Large-input benchmark"
dataset = {{ path = "{data}", unit = "arrangement_years" }}

[[models]]
id = "cox_large"
family = "cox"
formula = "~ c2_index + n_members + log_cap_ratio"
start = "start"
time = "stop"
event = "event"
vcov = {{ type = "cluster", groups = "arrangement_id" }}

[[tables]]
id = "large"
models = ["cox_large"]
formats = ["md"]
"""


def simulate(rows: int, seed: int = 20240601) -> pd.DataFrame:
    """Exactly ``rows`` arrangement-years; each arrangement is followed until its event or MAX_YEARS."""
    rng = np.random.default_rng(seed)
    m = rows // 8 + 10  # arrangements drawn per round; about 8 years each on average
    parts, total, first_id = [], 0, 0
    while total < rows:
        c2 = rng.normal(0.0, 1.0, m)
        members = rng.integers(2, 7, m)
        cap = rng.normal(0.0, 1.0, (m, MAX_YEARS))
        eta = TRUTH["c2_index"] * c2[:, None] + TRUTH["n_members"] * members[:, None] + TRUTH["log_cap_ratio"] * cap
        p_event = 1.0 - np.exp(-BASE_HAZARD * np.exp(eta))
        event = rng.random((m, MAX_YEARS)) < p_event
        length = np.where(event.any(axis=1), event.argmax(axis=1) + 1, MAX_YEARS)
        arr = np.repeat(np.arange(m), length)
        year_index = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        ended = event[arr, year_index] & (year_index == length[arr] - 1)
        c1 = rng.choice(COW, m)
        c2_state = COW[(np.searchsorted(COW, c1) + rng.integers(1, len(COW), m)) % len(COW)]
        start_year = rng.integers(1980, 1991, m)
        parts.append(pd.DataFrame({
            "arrangement_id": np.char.add("A", (first_id + arr).astype(str)),
            "form": np.where((first_id + arr) % 3 == 0, "informal", "formal"),
            "ccode1": c1[arr],
            "ccode2": c2_state[arr],
            "year": start_year[arr] + year_index,
            "start": year_index.astype(float),
            "stop": year_index + 1.0,
            "event": ended.astype(int),
            "c2_index": np.round(c2[arr], 6),
            "n_members": members[arr],
            "log_cap_ratio": np.round(cap[arr, year_index], 6),
        }))
        total += len(arr)
        first_id += m
    frame = pd.concat(parts, ignore_index=True).iloc[:rows]
    return frame  # the last arrangement may be cut short: it is then censored, as in real data


def _peak_from_time(stderr: str) -> float | None:
    hit = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(hit.group(1)) / 1024 if hit else None


def run_benchmark(rows: int, folder: Path) -> dict:
    """Write the data and analysis into ``folder``, run the CLI, return rows, seconds, peak MB and estimates."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = simulate(rows)
    data = folder / "arrangement_years_large.csv"
    frame.to_csv(data, index=False, quoting=csv.QUOTE_MINIMAL)
    n_events = int(frame["event"].sum())
    del frame
    (folder / "large.toml").write_text(ANALYSIS.format(data=data.name), encoding="utf-8")
    command = [sys.executable, "-m", "c2stats", "run", "large.toml", "--executor", "serial", "--no-cache"]
    timer = Path("/usr/bin/time")
    if timer.exists():
        command = [str(timer), "-v", *command]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"c2stats run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    peak = _peak_from_time(proc.stderr)
    if peak is None:  # no /usr/bin/time: the largest child this process has waited for
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tidy = pd.read_csv(folder / "reports" / "large" / "results" / "cox_large" / "tidy.csv")
    estimates = dict(zip(tidy["term"], tidy["estimate"]))
    std_errors = dict(zip(tidy["term"], tidy["std_error"]))
    return {"rows": rows, "events": n_events, "csv_mb": data.stat().st_size / 2**20, "seconds": seconds,
            "peak_mb": peak, "estimates": estimates, "std_errors": std_errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the data, analysis and report in")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="c2stats-large-"))
    try:
        out = run_benchmark(args.rows, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"rows            {out['rows']:,} ({out['events']:,} events; CSV {out['csv_mb']:.0f} MB)")
    print(f"seconds         {out['seconds']:.1f} (c2stats run, wall clock, including start-up and the report)")
    verdict = "under" if out["peak_mb"] < TARGET_MB else "OVER"
    print(f"peak RSS        {out['peak_mb']:.0f} MB ({verdict} the {TARGET_MB} MB target)")
    print("term            estimate   cluster SE   truth")
    for term, truth in TRUTH.items():
        print(f"{term:<15} {out['estimates'][term]:>8.4f}   {out['std_errors'][term]:>10.4f}   {truth:>5.2f}")
    return 0 if out["peak_mb"] < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
