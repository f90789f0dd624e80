"""cox.zph (survival >= 3 exact score test) against every golden.json Cox fit and transform."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.families._cox_engine import fit_cox
from c2stats.families._cox_zph import cox_zph

REF = Path(__file__).resolve().parents[1] / "reference"
GOLDEN = json.loads((REF / "golden.json").read_text())["cases"]
CASES = {  # case -> csv, stop time, event, start time, strata
    "lung_cox": ("lung.csv", "time", "event", None, None),
    "veteran_strat": ("veteran.csv", "time", "status", None, "celltype"),
    "ovarian_param": ("ovarian.csv", "futime", "fustat", None, None),
    "heart_tvc": ("heart.csv", "stop", "event", "start", None),
    "cgd_tvc_strat": ("cgd.csv", "tstop", "status", "tstart", "hos_cat"),
}
ZPH = [
    (case, key, tr)
    for case in CASES
    for key, ref in GOLDEN[case].items()
    if key.startswith("cox_")
    for tr in ref["cox_zph"]
]


@functools.cache
def _fit(case: str, key: str):
    csv, stop, event, start, strata = CASES[case]
    d = pd.read_csv(REF / "data" / csv)
    names = sorted(GOLDEN[case][key]["coef"])
    data = {
        "X": d[names].to_numpy(float),
        "time": d[stop].to_numpy(float),
        "event": d[event].to_numpy(),
        "entry": None if start is None else d[start].to_numpy(float),
    }
    strata_arr = None if strata is None or "unstratified" in key else d[strata].to_numpy()
    fit = fit_cox(data["X"], data["time"], data["event"], entry=data["entry"], strata=strata_arr,
                  ties=GOLDEN[case][key]["ties"])
    return fit, data, names


@pytest.mark.parametrize(("case", "key", "transform"), ZPH, ids=[f"{c}-{k}-{t}" for c, k, t in ZPH])
def test_cox_zph_matches_r(case, key, transform):
    fit, data, names = _fit(case, key)
    zph = cox_zph(fit, data["X"], data["time"], data["event"], entry=data["entry"], transform=transform,
                  terms={name: [i] for i, name in enumerate(names)}).as_dict()
    ref = GOLDEN[case][key]["cox_zph"][transform]
    for name in names:
        assert zph["terms"][name]["chisq"] == pytest.approx(ref["terms"][name]["chisq"], abs=1e-6)
        assert zph["terms"][name]["df"] == ref["terms"][name]["df"]
        assert zph["terms"][name]["p"] == pytest.approx(ref["terms"][name]["p"], abs=1e-6)
    assert zph["global"]["chisq"] == pytest.approx(ref["global"]["chisq"], abs=1e-6)
    assert zph["global"]["df"] == ref["global"]["df"]
    assert zph["global"]["p"] == pytest.approx(ref["global"]["p"], abs=1e-6)


def test_multi_column_term_and_default_names():
    fit, data, names = _fit("lung_cox", "cox_efron")
    per_col = cox_zph(fit, data["X"], data["time"], data["event"])
    assert per_col.terms == ("x0", "x1", "x2") and per_col.has_global
    joint = cox_zph(fit, data["X"], data["time"], data["event"], terms={"all": [0, 1, 2]}, global_test=False)
    assert joint.df.tolist() == [3] and not joint.has_global
    np.testing.assert_allclose(joint.chisq[0], per_col.chisq[-1], rtol=1e-12)  # one term with every column = global


def test_bad_transform_raises():
    fit, data, _ = _fit("lung_cox", "cox_efron")
    with pytest.raises(ValueError, match="transform must be"):
        cox_zph(fit, data["X"], data["time"], data["event"], transform="loglog")
