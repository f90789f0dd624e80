"""Large input through the command line (slow): the benchmark of benchmarks/large_input.py on fewer rows.

Asserts the memory target (peak RSS of the ``c2stats run`` process under 2 GB) and that the Cox
estimates recover the simulation's true coefficients (within 4 cluster standard errors); times
are printed by the benchmark, never asserted. Run with ``pytest -m slow tests/behaviour/test_large_input.py``;
the full 1,000,000 rows: ``python benchmarks/large_input.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "large_input.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("large_input", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_arrangement_years_cox_through_the_cli_within_memory(tmp_path):
    bench = load_benchmark()
    out = bench.run_benchmark(200_000, tmp_path)
    assert out["rows"] == 200_000 and out["events"] > 5_000
    assert out["peak_mb"] < bench.TARGET_MB
    for term, truth in bench.TRUTH.items():
        assert abs(out["estimates"][term] - truth) < 4 * out["std_errors"][term], term


def test_simulated_data_has_the_schema_and_exact_size():
    bench = load_benchmark()
    frame = bench.simulate(5_000)
    assert len(frame) == 5_000
    assert not frame.duplicated(["arrangement_id", "year"]).any()
    assert (frame["stop"] > frame["start"]).all() and set(frame["event"]) <= {0, 1}
    last = frame.groupby("arrangement_id", sort=False).tail(1)
    assert frame["event"].sum() == last["event"].sum()  # events only in an arrangement's last year
    assert (frame["ccode1"] != frame["ccode2"]).all()
