"""Result: schema normalisation and a CSV/JSON round trip that renders identically."""

import math

import numpy as np
import pandas as pd
import pytest

from c2stats import load_result, save_result
from c2stats.config import TableSpec
from c2stats.errors import C2StatsError
from c2stats.results import Result
from c2stats.tables import build_table, render_latex, render_markdown


def make() -> Result:
    tidy = pd.DataFrame({"term": ["a", "b_c"], "estimate": [0.1 + 0.2, -1 / 3], "std_error": [0.05, math.pi]})
    return Result(tidy=tidy, glance={"nobs": 10, "loglik": -3.2, "converged": True, "aic": float("nan")},
                  meta={"model_id": "m", "family": "logit", "scale": "log_odds", "labels": {}},
                  frames={"vcov": pd.DataFrame({"term": ["a"], "a": [1e-300]})})


def test_missing_standard_columns_filled_and_required_checked():
    r = make()
    assert list(r.tidy.columns) == ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
    assert r.tidy["p_value"].isna().all()
    with pytest.raises(C2StatsError, match="without \\['estimate'\\]"):
        Result(tidy=pd.DataFrame({"term": ["a"]}), glance={}, meta={"family": "x"})


def test_frozen():
    r = make()
    with pytest.raises(Exception):
        r.tidy = None
    with pytest.raises(TypeError):
        r.glance["nobs"] = 3


def test_round_trip_is_exact_and_renders_identically(tmp_path):
    r = make()
    save_result(r, tmp_path / "m")
    back = load_result(tmp_path / "m")
    pd.testing.assert_frame_equal(r.tidy, back.tidy)
    assert back.glance["nobs"] == 10 and math.isnan(back.glance["aic"])
    assert back.frames["vcov"]["a"].iloc[0] == 1e-300
    spec = TableSpec(id="t", models=["m"])
    for render in (render_markdown, render_latex):
        assert render(build_table([r], spec)) == render(build_table([back], spec))
    save_result(back, tmp_path / "again")
    for name in ("tidy.csv", "glance.json", "meta.json", "frames/vcov.csv"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
