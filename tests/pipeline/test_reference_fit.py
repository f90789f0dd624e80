"""The public path (c2stats.fit and c2stats.run) reproduces R: survival::coxph on lung, glm logit on mid.

Reference values: tests/reference/golden.json (R 4.2.2, survival 3.5-3, sandwich 3.0-2; see PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import c2stats
from c2stats import load_result

from tests.conftest import reference_data

REPO = Path(__file__).resolve().parents[2]
COX_VCOV = {
    "se_model": "model",
    "se_robust_iid": "robust",
    "se_robust_cluster": {"type": "cluster", "groups": "inst"},
}


def assert_matches(result, golden_coef, golden_se, *, coef_atol=1e-6, se_rtol=1e-5):
    tidy = result.tidy.set_index("term")
    assert sorted(tidy.index) == sorted(golden_coef)
    for term, value in golden_coef.items():
        assert tidy.loc[term, "estimate"] == pytest.approx(value, abs=coef_atol), term
        assert tidy.loc[term, "std_error"] == pytest.approx(golden_se[term], rel=se_rtol), term


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("se_key", list(COX_VCOV))
def test_cox_lung_matches_coxph(golden, ties, se_key):
    ref = golden["lung_cox"][f"cox_{ties}"]
    spec = {"family": "cox", "formula": "~ age + sex + ph_ecog", "time": "time", "event": "event",
            "options": {"ties": ties, "eps": 1e-11}, "vcov": COX_VCOV[se_key]}
    result = c2stats.fit(spec, reference_data("lung.csv"))
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_null"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_events"] == ref["nevent"]
    if se_key == "se_robust_cluster":
        assert result.glance["n_clusters"] == 18  # length(unique(lung$inst)) on the 226 complete rows


@pytest.mark.parametrize("se_key, vcov", [("se_model", "model"), ("se_HC0", "HC0"), ("se_HC1", "HC1")])
def test_logit_mid_matches_glm_and_sandwich(golden, se_key, vcov):
    ref = golden["mid_binary"]["logit"]
    spec = {"family": "logit", "formula": "conflict ~ major + contig + power + maxdem + mindem + years",
            "vcov": vcov, "options": {"epsilon": 1e-14}}
    result = c2stats.fit(spec, reference_data("mid.csv"))
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["deviance"] == pytest.approx(ref["deviance"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"]


def example_reference() -> dict[str, dict[str, tuple[float, float]]]:
    """R's numbers for analyses/example.toml (tests/reference/example/arrangements.R -> .out)."""
    out: dict[str, dict] = {}
    for line in (Path(__file__).resolve().parents[1] / "reference" / "example" / "arrangements.out").read_text().splitlines():
        parts = line.split()
        if parts[0] in ("cox_model", "cox_cluster", "logit_cluster_hc1"):
            out.setdefault(parts[0], {})[parts[1]] = (float(parts[2]), float(parts[3]))
        elif parts[0] in ("cox_n", "logit_n"):
            out[parts[0]] = [float(v) for v in parts[1:]]
    return out


def test_example_analysis_report_matches_r(tmp_path):
    """The shipped example, run through the pipeline on the shipped dataset, saves R's numbers (after a reload)."""
    ref = example_reference()
    summary = c2stats.run(REPO / "analyses" / "example.toml", out=tmp_path / "example")

    def check(model_id: str, key: str) -> None:
        result = load_result(summary.out / "results" / model_id)
        tidy = result.tidy.set_index("term")
        for term, (coef, se) in ref[key].items():
            assert tidy.loc[term, "estimate"] == pytest.approx(coef, abs=1e-6), (model_id, term)
            assert tidy.loc[term, "std_error"] == pytest.approx(se, rel=1e-5), (model_id, term)

    check("cox_form", "cox_model")
    check("cox_form_cluster", "cox_cluster")
    check("logit_form", "logit_cluster_hc1")
    cox = load_result(summary.out / "results" / "cox_form")
    n, events, loglik = ref["cox_n"]
    assert (cox.glance["nobs"], cox.glance["n_events"]) == (n, events)
    assert cox.glance["loglik"] == pytest.approx(loglik, abs=1e-6)
    logit = load_result(summary.out / "results" / "logit_form")
    assert logit.glance["nobs"] == ref["logit_n"][0]
    assert logit.glance["loglik"] == pytest.approx(ref["logit_n"][1], abs=1e-6)
    # exponentiated table cells are exp() of R's estimates, rounded
    table = (summary.out / "tables" / "cox.md").read_text()
    assert f"{np.exp(ref['cox_model']['joint_democracy'][0]):.3f}" in table


@pytest.mark.parametrize("se_key, vcov", [("se_model", "model"), ("se_HC0", "HC0"), ("se_HC1", "HC1")])
def test_probit_mid_matches_glm_and_sandwich(golden, se_key, vcov):
    # statsmodels' Probit uses the observed Hessian (up to 6% off R); c2stats uses R's expected information
    ref = golden["mid_binary"]["probit"]
    spec = {"family": "probit", "formula": "conflict ~ major + contig + power + maxdem + mindem + years",
            "vcov": vcov, "options": {"epsilon": 1e-14}}
    result = c2stats.fit(spec, reference_data("mid.csv"))
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
