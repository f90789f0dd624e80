"""Inputs that used to crash (exit 3, "internal error") are bad input: exit 2 with a clear message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from c2stats import executors
from tests.safety.conftest import run

COX = """
[analysis]
id = "c"
title = "Cox"
dataset = "d.csv"

[[models]]
id = "m"
family = "cox"
formula = "~ x"
time = "time"
event = "event"
weights = "w"

[[tables]]
id = "t1"
models = ["m"]
"""


def cox_data(tmp_path, weights) -> None:
    rng = np.random.default_rng(2)
    n = 120
    pd.DataFrame({"time": rng.exponential(5, n).round(3) + 0.1, "event": rng.integers(0, 2, n),
                  "x": rng.normal(size=n), "w": weights(n)}).to_csv(tmp_path / "d.csv", index=False)


@pytest.mark.parametrize("weights, words", [
    (lambda n: np.zeros(n), "is all zero"),
    (lambda n: np.r_[0.0, np.ones(n - 1)], "is zero in rows 1"),
])
def test_cox_weights_that_are_not_positive(analysis, tmp_path, capsys, weights, words):
    cox_data(tmp_path, weights)
    assert run(analysis(COX), "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert words in err and "'w'" in err and "internal error" not in err


@pytest.mark.parametrize("address", ["not a url", "tcp://host:port:extra", "http://x/y"])
def test_malformed_scheduler(analysis, tmp_path, capsys, address):
    pytest.importorskip("distributed")
    cox_data(tmp_path, lambda n: np.ones(n))
    code = main_with_dask(analysis(COX), tmp_path, address)
    assert code == 2 and "is not a scheduler address" in capsys.readouterr().err


def test_unreachable_scheduler(analysis, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1)
    cox_data(tmp_path, lambda n: np.ones(n))
    code = main_with_dask(analysis(COX), tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect within 1 s" in err


def main_with_dask(path, tmp_path, address: str = "tcp://127.0.0.1:9") -> int:
    from c2stats.cli import main

    return main(["run", str(path), "--out", str(tmp_path / "out"), "--scheduler", address, "--no-cache"])
