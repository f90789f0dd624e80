"""Time-varying coefficients (``options.tt``) reproduce R's ``coxph(... + tt(x), tt = ...)``.

Reference values: tests/reference/tt/tt.json, written by make_tt_reference.R (R 4.2.2,
survival 3.5-3; see the README there), all with coxph.control(eps = 1e-12).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import c2stats
from c2stats import load_result
from c2stats.errors import SpecificationError, UserInputError
from c2stats.families._tt import expand_risk_sets, parse_transform

HERE = Path(__file__).resolve().parents[1] / "reference" / "tt"
REF = json.loads((HERE / "tt.json").read_text())
STEP = ["tt(karno):(30,90]", "tt(karno):(90,Inf)"]


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / f"{name}.csv")


# case id -> (dataset, spec keys, our term names (None: R's))
CASES = {
    "vet_log": ("veteran", {"formula": "~ trt + karno", "options": {"tt": {"karno": "log"}}}, None),
    "vet_identity": ("veteran", {"formula": "~ trt + karno", "options": {"tt": {"karno": "identity"}}}, None),
    "vet_step": ("veteran", {"formula": "~ trt + karno", "options": {"tt": {"karno": "step:30,90"}}},
                 ["trt", "karno", *STEP]),
    "vet_log_breslow": ("veteran", {"formula": "~ trt + karno", "options": {"tt": {"karno": "log"}, "ties": "breslow"}},
                        None),
    "vet_log_two": ("veteran", {"formula": "~ trt + karno + age",
                                "options": {"tt": {"karno": "log", "age": "identity"}}}, None),
    "vet_split_log": ("veteran_split", {"formula": "~ trt + karno", "start": "tstart",
                                        "options": {"tt": {"karno": "log"}}}, None),
    "vet_split_log_cluster": ("veteran_split", {"formula": "~ trt + karno", "start": "tstart",
                                                "options": {"tt": {"karno": "log"}},
                                                "vcov": {"type": "cluster", "groups": "id"}}, None),
    "lung_log_strata_weights": ("lung", {"formula": "~ age + ph_ecog", "event": "event", "weights": "w",
                                         "options": {"tt": {"ph_ecog": "log"}, "strata": "sex"}}, None),
    "lung_log_cluster": ("lung", {"formula": "~ age + ph_ecog", "event": "event",
                                  "options": {"tt": {"ph_ecog": "log"}},
                                  "vcov": {"type": "cluster", "groups": "inst"}}, None),
}


def fit_case(case: str):
    dataset, keys, _ = CASES[case]
    spec = {"family": "cox", "time": "time", "event": "status", **keys}
    spec["options"] = {"eps": 1e-12, **keys["options"]}
    return c2stats.fit(spec, data(dataset))


@pytest.mark.parametrize("case", list(CASES))
def test_tt_matches_coxph(case):
    ref = REF[case]
    result = fit_case(case)
    tidy = result.tidy.set_index("term")
    assert list(tidy.index) == (CASES[case][2] or ref["terms"])
    np.testing.assert_allclose(tidy["estimate"], ref["coef"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(tidy["std_error"], ref["se"], rtol=1e-8)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-8)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_null"], abs=1e-8)
    assert result.glance["score_test"] == pytest.approx(ref["score"], rel=1e-8)
    assert (result.glance["nobs"], result.glance["n_events"]) == (ref["n"], ref["nevent"])


def test_expansion_has_one_row_per_subject_per_risk_set():
    time = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    event = np.array([1, 1, 0, 0, 1])
    e = expand_risk_sets(time, event)
    # event times 1, 2, 5: risk sets of 5, 4 and 1 rows; at t = 2 the censored row 2 is at risk, not failing
    assert np.bincount(e.risk_set).tolist() == [5, 4, 1]
    assert e.event.sum() == 3 and e.rows[(e.risk_set == 1) & (e.event == 1)].tolist() == [1]
    entry = np.array([0.0, 0.0, 1.5, 2.5, 0.0])
    e2 = expand_risk_sets(time, event, entry=entry)  # row 2 enters at 1.5, row 3 at 2.5
    assert np.bincount(e2.risk_set).tolist() == [3, 3, 1]


def test_step_names_and_bad_transforms():
    assert parse_transform("x", "step:180,365").names == ("tt(x):(180,365]", "tt(x):(365,Inf)")
    for bad in ("square", "step:", "step:5,2", "step:a"):
        with pytest.raises(ValueError):
            parse_transform("x", bad)


def test_tt_errors_name_the_key():
    spec = {"family": "cox", "formula": "~ trt + karno", "time": "time", "event": "status"}
    with pytest.raises(SpecificationError, match=r"options\.tt\.age"):
        c2stats.fit({**spec, "options": {"tt": {"age": "log"}}}, data("veteran"))
    with pytest.raises(SpecificationError, match=r"options\.tt\.celltype.*categorical"):
        c2stats.fit({**spec, "formula": "~ trt + celltype", "options": {"tt": {"celltype": "log"}}}, data("veteran"))
    with pytest.raises(UserInputError, match="tt"):
        c2stats.fit({**spec, "options": {"tt": {"karno": "sqrt"}}}, data("veteran"))
    with pytest.raises(SpecificationError, match="options.tt"):
        c2stats.fit({**spec, "options": {"tt": {"karno": "log"}}, "vcov": "robust"}, data("veteran"))
    with pytest.raises(SpecificationError, match=r"options\.frailty and options\.tt"):
        c2stats.fit({**spec, "options": {"tt": {"karno": "log"}, "frailty": "celltype"}}, data("veteran"))


def test_tt_through_the_pipeline_and_hypotheses(tmp_path):
    """A TOML analysis with tt terms: saved results carry R's numbers and hypotheses test the tt terms by name."""
    shutil.copy(HERE / "veteran.csv", tmp_path / "veteran.csv")
    (tmp_path / "a.toml").write_text(
        '[analysis]\nid = "tt"\ntitle = "tt"\ndataset = "veteran.csv"\n\n'
        '[[models]]\nid = "vet_log"\nfamily = "cox"\nformula = "~ trt + karno"\ntime = "time"\nevent = "status"\n'
        'options = { tt = { karno = "log" }, eps = 1e-12 }\n\n'
        '[[models]]\nid = "vet_step"\nextends = "vet_log"\noptions = { tt = { karno = "step:30,90" } }\n\n'
        '[[tables]]\nid = "t"\nmodels = ["vet_log", "vet_step"]\n\n'
        '[[hypotheses]]\nid = "H1"\nstatement = "the karnofsky effect grows with time"\nmodels = ["vet_log"]\n'
        'test = "tt(karno) > 0"\n\n'
        '[[hypotheses]]\nid = "H2"\nstatement = "the karnofsky effect changes after 30 days"\nmodels = ["vet_step"]\n'
        'test = "`tt(karno):(30,90]` = `tt(karno):(90,Inf)` = 0"\n',
        encoding="utf-8")
    summary = c2stats.run(tmp_path / "a.toml", out=tmp_path / "out", executor="serial", cache=False)
    for model_id in ("vet_log", "vet_step"):
        result = load_result(summary.out / "results" / model_id)
        np.testing.assert_allclose(result.tidy["estimate"], REF[model_id]["coef"], atol=1e-9)
        np.testing.assert_allclose(result.tidy["std_error"], REF[model_id]["se"], rtol=1e-8)
    hyp = pd.read_csv(summary.out / "tables" / "hypotheses.csv")
    rows = hyp[hyp["kind"] == "row"].set_index("key")
    z = REF["vet_log"]["coef"][2] / REF["vet_log"]["se"][2]
    assert float(rows.loc["H1", "p-value"]) == pytest.approx(stats.norm.sf(z), abs=6e-4)  # table rounds to 3 digits
    assert rows.loc["H2", "Model"] == "vet_step"
    assert "tt(karno)" in (summary.out / "tables" / "t.md").read_text()


def test_tt_refuses_an_expansion_beyond_the_row_limit(monkeypatch):
    from c2stats.families import cox

    monkeypatch.setattr(cox, "TT_MAX_ROWS", 1000)  # veteran expands to 5955 rows (glance n_risk_set_rows)
    spec = {"family": "cox", "formula": "~ trt + karno", "time": "time", "event": "status",
            "options": {"tt": {"karno": "log"}}}
    with pytest.raises(SpecificationError, match=r"options\.tt.*5955 rows"):
        c2stats.fit(spec, data("veteran"))
