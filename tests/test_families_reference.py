"""The families reproduce R through the public path (``c2stats.fit``).

Reference values: ``tests/reference/golden.json`` (R 4.2.2; survival 3.5-3, brglm2 0.9, nnet 7.3-18,
plm 2.6-2; see PROVENANCE.md) and ``tests/reference/engines/engines.json`` (survreg robust/cluster,
plm double clustering and white1). Tolerances: coefficients 1e-6 absolute, standard errors 1e-5
relative, log-likelihoods 1e-6 absolute, N and events exact.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import c2stats
from c2stats.errors import SpecificationError

from .conftest import reference_data

REF = Path(__file__).parent / "reference"
ENGINES = json.loads((REF / "engines" / "engines.json").read_text())


def fit(spec, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, frame)


def assert_matches(result, coef, se, *, component=None, coef_atol=1e-6, se_rtol=1e-5):
    tidy = result.tidy
    if component is not None:
        tidy = tidy[tidy["component"] == component]
    tidy = tidy.set_index("term")
    assert sorted(tidy.index) == sorted(coef)
    for term, value in coef.items():
        assert tidy.loc[term, "estimate"] == pytest.approx(value, abs=coef_atol), term
        assert tidy.loc[term, "std_error"] == pytest.approx(se[term], rel=se_rtol), term


# ----------------------------------------------------------------------------------------------
# weibull / exponential: survival::survreg and Stata's streg (PH by the delta method)
# ----------------------------------------------------------------------------------------------
OVARIAN = {"formula": "~ age + ecog_ps", "time": "futime", "event": "fustat"}


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
@pytest.mark.parametrize("form", ["ph", "aft"])
def test_parametric_survival_matches_survreg(golden, dist, form):
    ref = golden["ovarian_param"][dist]
    result = fit({"family": dist, **OVARIAN, "options": {"form": form, "tol": 1e-12}}, reference_data("ovarian.csv"))
    if form == "ph":
        coef, se = dict(ref["ph"]["coef"]), dict(ref["ph"]["se_model"])
    else:
        coef, se = dict(ref["coef_aft"]), dict(ref["se_model_aft"])
        if dist == "weibull":
            coef["log_scale"] = np.log(ref["scale"])
            se["log_scale"] = se.pop("Log(scale)")
    assert_matches(result, coef, se)
    assert result.meta["scale"] == ("log_hazard" if form == "ph" else "log_time")
    if dist == "weibull":
        ancillary = "log_shape" if form == "ph" else "log_scale"
        tidy = result.tidy.set_index("term")
        assert tidy.loc[ancillary, "component"] == "ancillary"
        assert (tidy.drop(index=ancillary)["component"] == "").all()
        assert result.glance["shape"] == pytest.approx(1 / ref["scale"], abs=1e-6)
    else:
        assert "component" not in result.tidy.columns
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_intercept_only"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_events"] == ref["nevent"]


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
@pytest.mark.parametrize("vcov, key", [("robust", "se_robust"), ({"type": "cluster", "groups": "cl"}, "se_cluster")])
def test_parametric_survival_robust_and_cluster_match_survreg(dist, vcov, key):
    # engines.json: survreg(..., robust = TRUE) and cluster(resid_ds * 10 + rx): dfbeta sums, no correction
    ref = ENGINES["ovarian_survreg"][dist]
    frame = reference_data("ovarian.csv").assign(cl=lambda d: d["resid_ds"] * 10 + d["rx"])
    aft = fit({"family": dist, **OVARIAN, "options": {"form": "aft", "tol": 1e-12}, "vcov": vcov}, frame)
    np.testing.assert_allclose(aft.tidy["std_error"], ref[key], rtol=1e-5)
    if key == "se_cluster":
        np.testing.assert_allclose(aft.vcov().to_numpy(), ref["vcov_cluster"], rtol=1e-5, atol=1e-12)
        assert aft.glance["n_clusters"] == frame["cl"].nunique()
    # the PH form carries the same robust covariance through the delta method
    ph = fit({"family": dist, **OVARIAN, "options": {"form": "ph", "tol": 1e-12}, "vcov": vcov}, frame)
    fit_aft = aft.raw
    from c2stats.families._survreg_engine import to_ph

    expected = to_ph(fit_aft, aft.vcov().to_numpy())
    np.testing.assert_allclose(ph.tidy["std_error"], expected.se, rtol=1e-12)
    assert ph.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)


def test_parametric_survival_rejects_start(golden):
    frame = reference_data("ovarian.csv").assign(entry=0.0)
    with pytest.raises(SpecificationError, match="does not support start"):
        fit({"family": "weibull", **OVARIAN, "start": "entry"}, frame)


# ----------------------------------------------------------------------------------------------
# firth: brglm2::brglmFit(type = "AS_mean") on endometrial (NV quasi-completely separates)
# ----------------------------------------------------------------------------------------------
def test_firth_matches_brglm2(golden):
    ref = golden["endometrial_firth"]["firth"]
    result = fit({"family": "firth", "formula": "HG ~ NV + PI + EH"}, reference_data("endometrial.csv"))
    assert_matches(result, ref["coef"], ref["se_model"])
    assert result.glance["loglik"] == pytest.approx(ref["loglik_unpenalized"], abs=1e-6)
    assert result.glance["loglik_penalized"] == pytest.approx(ref["loglik_penalized"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"]
    assert result.glance["converged"] is True and result.meta["scale"] == "log_odds"


# ----------------------------------------------------------------------------------------------
# discrete_hazard: glm(binomial(link)) + sandwich (engines.json mid_glm; golden mid_binary)
# ----------------------------------------------------------------------------------------------
MID = "conflict ~ major + contig + power + maxdem + mindem + years"
MID_VCOV = {
    "se_model": "model",
    "se_HC0": "HC0",
    "se_HC1": "HC1",
    "se_CL_years_HC0": {"type": "cluster", "groups": "years", "hc": "HC0"},
    "se_CL_years_HC1": {"type": "cluster", "groups": "years"},
    "se_CL2_years_maxdem_HC1": {"type": "cluster", "groups": ["years", "maxdem"]},
}


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
@pytest.mark.parametrize("se_key", list(MID_VCOV))
def test_discrete_hazard_matches_glm(link, se_key):
    ref = ENGINES["mid_glm"][link]
    spec = {"family": "discrete_hazard", "formula": MID, "options": {"link": link, "epsilon": 1e-14},
            "vcov": MID_VCOV[se_key]}
    result = fit(spec, reference_data("mid.csv"))
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"]
    assert result.meta["scale"] == {"logit": "log_odds", "probit": "probit", "cloglog": "log_hazard"}[link]
    assert result.glance["link"] == link


# ----------------------------------------------------------------------------------------------
# mnlogit: exact Newton (golden mnlogit_newton; nnet::multinom agrees to its BFGS precision)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("base", [None, 1, "1"])
def test_mnlogit_matches_multinom(golden, base):
    case = golden["mexico_mnl"]
    ref = case["mnlogit_newton"]
    options = {} if base is None else {"base": base}
    result = fit({"family": "mnlogit", "formula": case["formula"], "options": options}, reference_data("mexico.csv"))
    assert sorted(result.tidy["component"].unique()) == sorted(ref["coef"])
    for category in ref["coef"]:
        assert_matches(result, ref["coef"][category], ref["se_model"][category], component=category)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["nobs"] == case["n"]
    assert result.glance["base"] == str(case["base_category"])
    assert result.meta["scale"] == "log_relative_risk"
    V = result.vcov()
    assert list(V.index[:2]) == ["2: (Intercept)", "2: pristr"]


def test_mnlogit_other_base_is_a_reparameterisation(golden):
    case = golden["mexico_mnl"]
    ref = case["mnlogit_newton"]["coef"]
    result = fit({"family": "mnlogit", "formula": case["formula"], "options": {"base": 3}}, reference_data("mexico.csv"))
    tidy = result.tidy.set_index(["component", "term"])["estimate"]
    for term, value in ref["2"].items():  # beta_{2 vs 3} = beta_{2 vs 1} - beta_{3 vs 1}
        assert tidy[("2", term)] == pytest.approx(value - ref["3"][term], abs=1e-6)
        assert tidy[("1", term)] == pytest.approx(-ref["3"][term], abs=1e-6)
    assert result.glance["loglik"] == pytest.approx(case["mnlogit_newton"]["loglik"], abs=1e-6)
    with pytest.raises(SpecificationError, match="base category 7"):
        fit({"family": "mnlogit", "formula": case["formula"], "options": {"base": 7}}, reference_data("mexico.csv"))
