"""Weibull / exponential engine against survreg (tests/reference/golden.json, ovarian_param).

R calls (R 4.2.2, survival 3.5-3):
  survreg(Surv(futime, fustat) ~ age + ecog_ps, ovarian, dist = "weibull" / "exponential",
          control = survreg.control(rel.tolerance = 1e-12))
  PH form: b_PH = -b/scale, log_shape = -log(scale), covariance by the delta method.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import SpecificationError
from c2stats.families._survreg_engine import fit_survreg, to_ph
from c2stats.sandwich import vcov_cluster

REF = Path(__file__).resolve().parents[1] / "reference"
CASE = json.loads((REF / "golden.json").read_text())["cases"]["ovarian_param"]
TERMS = ["(Intercept)", "age", "ecog_ps"]


@pytest.fixture(scope="module")
def ovarian():
    frame = pd.read_csv(REF / "data" / "ovarian.csv")
    X = np.column_stack([np.ones(len(frame)), frame["age"], frame["ecog_ps"]])
    return frame, X


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
def test_aft_matches_survreg(ovarian, dist):
    frame, X = ovarian
    ref = CASE[dist]
    fit = fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], dist=dist)
    assert fit.converged and fit.reason is None
    assert fit.n == ref["n"] and fit.n_events == ref["nevent"]
    np.testing.assert_allclose(fit.coef, [ref["coef_aft"][t] for t in TERMS], rtol=0, atol=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    assert fit.scale == pytest.approx(ref["scale"], abs=1e-6)
    se_terms = TERMS + (["Log(scale)"] if dist == "weibull" else [])
    np.testing.assert_allclose(fit.se_model, [ref["se_model_aft"][t] for t in se_terms], rtol=1e-5)
    np.testing.assert_allclose(fit.scores.sum(axis=0), 0, atol=1e-8)


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
def test_ph_form_matches_delta_method(ovarian, dist):
    frame, X = ovarian
    ref = CASE[dist]["ph"]
    fit = fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], dist=dist)
    ph = to_ph(fit)
    terms = TERMS + (["log_shape"] if dist == "weibull" else [])
    np.testing.assert_allclose(ph.params, [ref["coef"][t] for t in terms], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ph.se, [ref["se_model"][t] for t in terms], rtol=1e-5)
    assert ph.shape == pytest.approx(ref.get("shape", 1.0), abs=1e-6)


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
def test_intercept_only_loglik(ovarian, dist):
    frame, X = ovarian
    fit = fit_survreg(X=X[:, :1], time=frame["futime"], event=frame["fustat"], dist=dist)
    assert fit.loglik == pytest.approx(CASE[dist]["loglik_intercept_only"], abs=1e-6)


def test_exponential_equals_poisson_glm_with_log_time_offset(ovarian):
    """Reference README rule 5: survreg loglik = Poisson loglik − Σ d log t, β_PH = Poisson β."""
    import statsmodels.api as sm

    frame, X = ovarian
    t, d = frame["futime"].to_numpy(float), frame["fustat"].to_numpy(float)
    fit = fit_survreg(X=X, time=t, event=d, dist="exponential")
    pois = sm.GLM(d, X, family=sm.families.Poisson(), offset=np.log(t)).fit(tol=1e-14)
    np.testing.assert_allclose(to_ph(fit).params, pois.params, atol=1e-8)
    assert fit.loglik == pytest.approx(pois.llf - np.sum(d * np.log(t)), abs=1e-8)


def test_cluster_variance_is_uncorrected_dfbeta_sum_and_transforms_to_ph(ovarian):
    frame, X = ovarian
    fit = fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], dist="weibull")
    groups = frame["resid_ds"].to_numpy() * 10 + frame["rx"].to_numpy()
    v = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=groups, correction="none")
    dfbeta = fit.scores @ fit.vcov_model
    summed = pd.DataFrame(dfbeta).groupby(groups).sum().to_numpy()
    np.testing.assert_allclose(v, summed.T @ summed, atol=1e-14)
    ph = to_ph(fit, v)
    np.testing.assert_allclose(ph.vcov, ph.jacobian @ v @ ph.jacobian.T)


def test_weights_equal_replication(ovarian):
    frame, X = ovarian
    w = np.tile([1.0, 2.0, 3.0], 9)[: len(frame)]
    fit = fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], weights=w)
    rep = np.repeat(np.arange(len(frame)), w.astype(int))
    fit_rep = fit_survreg(X=X[rep], time=frame["futime"].to_numpy()[rep], event=frame["fustat"].to_numpy()[rep])
    np.testing.assert_allclose(fit.params, fit_rep.params, atol=1e-8)
    np.testing.assert_allclose(fit.vcov_model, fit_rep.vcov_model, rtol=1e-7)
    assert fit.loglik == pytest.approx(fit_rep.loglik, abs=1e-8)


def test_bad_input_is_a_clear_error(ovarian):
    frame, X = ovarian
    t = frame["futime"].to_numpy(float).copy()
    t[0] = 0
    with pytest.raises(SpecificationError, match="zero or negative"):
        fit_survreg(X=X, time=t, event=frame["fustat"])
    with pytest.raises(SpecificationError, match="valid: 'weibull', 'exponential'"):
        fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], dist="lognormal")
    with pytest.raises(SpecificationError, match="no events"):
        fit_survreg(X=X, time=frame["futime"], event=np.zeros(len(frame)))


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
def test_robust_and_cluster_variance_match_survreg(ovarian, dist):
    """engines/engines.json: survreg(..., robust = TRUE) and survreg(..., cluster = grp)."""
    extra = json.loads((REF / "engines" / "engines.json").read_text())["ovarian_survreg"][dist]
    frame, X = ovarian
    fit = fit_survreg(X=X, time=frame["futime"], event=frame["fustat"], dist=dist)
    np.testing.assert_allclose(fit.se_model, extra["se_model"], rtol=1e-5)
    robust = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=np.arange(len(frame)), correction="none")
    np.testing.assert_allclose(np.sqrt(np.diag(robust)), extra["se_robust"], rtol=1e-5)
    grp = frame["resid_ds"].to_numpy() * 10 + frame["rx"].to_numpy()
    cl = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=grp, correction="none")
    np.testing.assert_allclose(np.sqrt(np.diag(cl)), extra["se_cluster"], rtol=1e-5)
    np.testing.assert_allclose(cl, np.array(extra["vcov_cluster"]), rtol=1e-5, atol=1e-12)
