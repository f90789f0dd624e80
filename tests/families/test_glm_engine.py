"""Binary GLM (IRLS) and Firth engines against R (tests/reference/golden.json).

R calls (R 4.2.2, see tests/reference/PROVENANCE.md):
  glm(conflict ~ major + contig + power + maxdem + mindem + years, binomial(link), data = mid,
      control = glm.control(epsilon = 1e-14, maxit = 100))
  sandwich::vcovHC(fit, type = "HC0" / "HC1")
  brglm2: glm(HG ~ NV + PI + EH, binomial, endometrial, method = "brglmFit", type = "AS_mean")
  glm(HG ~ NV + PI + EH, binomial, endometrial)            # default epsilon 1e-8
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import SpecificationError
from c2stats.families._glm_engine import detect_separation, fit_binary_glm, fit_firth_logit
from c2stats.sandwich import vcov_hc

REF = Path(__file__).resolve().parents[1] / "reference"
GOLDEN = json.loads((REF / "golden.json").read_text())["cases"]

COEF_ATOL = 1e-6
SE_RTOL = 1e-5
LL_ATOL = 1e-6

MID_TERMS = ["(Intercept)", "major", "contig", "power", "maxdem", "mindem", "years"]
ENDO_TERMS = ["(Intercept)", "NV", "PI", "EH"]


def _design(frame: pd.DataFrame, terms: list[str]) -> np.ndarray:
    return np.column_stack([np.ones(len(frame))] + [frame[t].to_numpy(float) for t in terms[1:]])


def _vec(d: dict, terms: list[str]) -> np.ndarray:
    return np.array([d[t] for t in terms])


@pytest.fixture(scope="module")
def mid():
    frame = pd.read_csv(REF / "data" / "mid.csv")
    return _design(frame, MID_TERMS), frame["conflict"].to_numpy(float)


@pytest.fixture(scope="module")
def endometrial():
    frame = pd.read_csv(REF / "data" / "endometrial.csv")
    return _design(frame, ENDO_TERMS), frame["HG"].to_numpy(float)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_mid_binary_matches_glm(mid, link):
    X, y = mid
    ref = GOLDEN["mid_binary"][link]
    fit = fit_binary_glm(X=X, y=y, link=link, epsilon=1e-14)
    assert fit.converged and fit.reason is None and not fit.separation
    assert fit.n == ref["n"]
    assert fit.iterations == ref["iter"]
    np.testing.assert_allclose(fit.coef, _vec(ref["coef"], MID_TERMS), rtol=0, atol=COEF_ATOL)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=LL_ATOL)
    assert fit.deviance == pytest.approx(ref["deviance"], abs=LL_ATOL)
    np.testing.assert_allclose(fit.se_model, _vec(ref["se_model"], MID_TERMS), rtol=SE_RTOL)
    for kind in ("HC0", "HC1"):
        se = np.sqrt(np.diag(vcov_hc(bread=fit.bread, scores=fit.scores, kind=kind)))
        np.testing.assert_allclose(se, _vec(ref[f"se_{kind}"], MID_TERMS), rtol=SE_RTOL)


def test_firth_matches_brglm2(endometrial):
    X, y = endometrial
    ref = GOLDEN["endometrial_firth"]["firth"]
    fit = fit_firth_logit(X=X, y=y)
    assert fit.converged and fit.n == ref["n"]
    np.testing.assert_allclose(fit.coef, _vec(ref["coef"], ENDO_TERMS), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.se_model, _vec(ref["se_model"], ENDO_TERMS), rtol=1e-10)
    assert fit.loglik == pytest.approx(ref["loglik_unpenalized"], abs=1e-10)
    assert fit.loglik_penalized == pytest.approx(ref["loglik_penalized"], abs=1e-10)
    # Same estimate as maximising the Jeffreys-penalised likelihood (brglm2 type="MPL_Jeffreys").
    jeff = GOLDEN["endometrial_firth"]["firth_mpl_jeffreys"]
    np.testing.assert_allclose(fit.coef, _vec(jeff["coef"], ENDO_TERMS), rtol=0, atol=1e-10)
    # The modified score vanishes at the estimate.
    np.testing.assert_allclose(fit.scores.sum(axis=0), 0, atol=1e-9)


def test_ml_glm_under_separation_reproduces_r_and_flags_it(endometrial):
    X, y = endometrial
    ref = GOLDEN["endometrial_firth"]["ml_glm"]
    fit = fit_binary_glm(X=X, y=y, epsilon=1e-8, column_names=tuple(ENDO_TERMS))
    # glm stops at a large finite NV after its default tolerance; R's path is reproduced.
    np.testing.assert_allclose(fit.coef, _vec(ref["coef"], ENDO_TERMS), rtol=0, atol=COEF_ATOL)
    np.testing.assert_allclose(fit.se_model, _vec(ref["se_model"], ENDO_TERMS), rtol=SE_RTOL)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=LL_ATOL)
    assert fit.converged is ref["converged"]
    assert fit.separation and fit.separated_columns == (1,)
    assert "NV" in fit.reason and "firth" in fit.reason


def test_detect_separation_on_clean_and_complete_data(mid):
    X, y = mid
    assert detect_separation(X, y) == ()
    x = np.arange(10.0)
    Xs = np.column_stack([np.ones(10), x])
    ys = (x > 4.5).astype(float)
    assert detect_separation(Xs, ys) != ()
    fit = fit_binary_glm(X=Xs, y=ys)
    assert fit.separation and fit.reason


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_score_zero_and_weights_equal_replication(link):
    rng = np.random.default_rng(1)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.binomial(1, 0.4, n)])
    y = rng.binomial(1, 0.3, n).astype(float)
    off = rng.normal(scale=0.1, size=n)
    w = rng.integers(1, 4, size=n).astype(float)
    fit = fit_binary_glm(X=X, y=y, link=link, weights=w, offset=off, epsilon=1e-14)
    assert fit.converged
    # R's estfun mixes last-step working weights with final residuals: zero to ~tolerance.
    np.testing.assert_allclose(fit.scores.sum(axis=0), 0, atol=1e-6)
    rep = np.repeat(np.arange(n), w.astype(int))
    fit_rep = fit_binary_glm(X=X[rep], y=y[rep], link=link, offset=off[rep], epsilon=1e-14)
    np.testing.assert_allclose(fit.coef, fit_rep.coef, atol=1e-10)
    # vcov uses last-step weights (as R), so agreement is to the convergence tolerance.
    np.testing.assert_allclose(fit.vcov_model, fit_rep.vcov_model, rtol=1e-6)
    assert fit.loglik == pytest.approx(fit_rep.loglik, abs=1e-8)
    # Zero weights drop a row from n and from the fit.
    w0 = w.copy()
    w0[:10] = 0
    fit0 = fit_binary_glm(X=X, y=y, link=link, weights=w0, offset=off, epsilon=1e-14)
    fit_drop = fit_binary_glm(X=X[10:], y=y[10:], link=link, weights=w[10:], offset=off[10:], epsilon=1e-14)
    assert fit0.n == n - 10
    np.testing.assert_allclose(fit0.coef, fit_drop.coef, atol=1e-10)


def test_firth_weights_and_offset_match_replication():
    rng = np.random.default_rng(2)
    n = 60
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.binomial(1, 0.2, n).astype(float)
    w = rng.integers(1, 3, size=n).astype(float)
    off = rng.normal(scale=0.2, size=n)
    fit = fit_firth_logit(X=X, y=y, weights=w, offset=off)
    rep = np.repeat(np.arange(n), w.astype(int))
    fit_rep = fit_firth_logit(X=X[rep], y=y[rep], offset=off[rep])
    np.testing.assert_allclose(fit.coef, fit_rep.coef, atol=1e-10)
    assert fit.loglik_penalized == pytest.approx(fit_rep.loglik_penalized, abs=1e-9)


def test_rank_deficient_design_names_the_term(mid):
    X, y = mid
    Xd = np.column_stack([X, X[:, 1] + X[:, 2]])
    with pytest.raises(SpecificationError, match="rank deficient.*dup"):
        fit_binary_glm(X=Xd, y=y, column_names=tuple(MID_TERMS + ["dup"]))


def test_bad_link_and_response_are_clear_errors(mid):
    X, y = mid
    with pytest.raises(SpecificationError, match="valid: 'logit', 'probit', 'cloglog'"):
        fit_binary_glm(X=X, y=y, link="loglog")
    with pytest.raises(SpecificationError, match="0/1"):
        fit_binary_glm(X=X, y=y * 2)


def test_nonconvergence_is_reported(mid):
    X, y = mid
    fit = fit_binary_glm(X=X, y=y, link="probit", maxit=2)
    assert not fit.converged and "did not converge" in fit.reason


def test_ill_conditioned_design_reaches_the_exact_fixed_point():
    """Increment-form IRLS: Cholesky rounding perturbs steps, not the solution (year, year²)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n = 3000
    year = rng.integers(1816, 2015, n).astype(float)
    X = np.column_stack([np.ones(n), year, year**2, rng.normal(size=n)])
    eta = -1 + 0.004 * (year - 1900) - 0.00002 * (year - 1900) ** 2 + 0.5 * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    fit = fit_binary_glm(X=X, y=y, epsilon=1e-14)
    ref = sm.GLM(y, X, family=sm.families.Binomial()).fit(method="irls", tol=1e-14)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(fit.se_model, ref.bse, rtol=1e-6)
    # the score (from residuals) vanishes on the natural scale of each column
    np.testing.assert_allclose(fit.scores.sum(axis=0) / np.abs(X).max(axis=0), 0, atol=1e-7)
