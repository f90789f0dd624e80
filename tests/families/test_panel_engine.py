"""Panel engine against plm (golden.json grunfeld_panel; engines/engines.json extras).

R calls (plm 2.6-2): plm(inv ~ value + capital, pdata.frame(Grunfeld, c("firm", "year")),
model = "within" | "pooling" | "random", effect = "individual" | "twoways");
vcovHC(fit, method = "arellano", cluster = "group" | "time", type = "HC0" | "HC1" | "sss");
vcovDC(fit, type = ...); vcovHC(fit, method = "white1", type = ...).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import SpecificationError
from c2stats.families._panel_engine import fit_panel
from c2stats.sandwich import vcov_cluster

REF = Path(__file__).resolve().parents[1] / "reference"
CASE = json.loads((REF / "golden.json").read_text())["cases"]["grunfeld_panel"]
EXTRA = json.loads((REF / "engines" / "engines.json").read_text())
NAMES = ("(Intercept)", "value", "capital")

ESTIMATORS = {
    "within_individual": ("within", ["entity"]),
    "within_twoways": ("within", ["entity", "time"]),
    "pooling": ("pooled", ["entity"]),
    "random_swar": ("random", ["entity"]),
}
VCOVS = {
    "se_model": {"vcov": "model"},
    "se_CLgroup_HC0": {"vcov": "cluster", "cluster": "entity", "hc": "HC0"},
    "se_CLgroup_HC1": {"vcov": "cluster", "cluster": "entity", "hc": "HC1"},
    "se_CLgroup_sss": {"vcov": "cluster", "cluster": "entity", "hc": "sss"},
    "se_CLtime_HC0": {"vcov": "cluster", "cluster": "time", "hc": "HC0"},
}


@pytest.fixture(scope="module")
def grunfeld():
    return pd.read_csv(REF / "data" / "grunfeld.csv")


def _fit(frame, **kw):
    X = np.column_stack([np.ones(len(frame)), frame["value"], frame["capital"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_panel(
            y=frame["inv"].to_numpy(), X=X, names=NAMES, entity=frame["firm"].to_numpy(),
            time=frame["year"].to_numpy(), **kw,
        )


def _vec(d, names):
    return np.array([d[n] for n in names])


CASES = [(case, key) for case in ESTIMATORS for key in VCOVS if key in CASE[case]]


@pytest.mark.parametrize(("case", "key"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_matches_plm(grunfeld, case, key):
    estimator, effects = ESTIMATORS[case]
    ref = CASE[case]
    fit = _fit(grunfeld, estimator=estimator, effects=effects, **VCOVS[key])
    assert fit.names == tuple(ref["coef"]) or set(fit.names) == set(ref["coef"])
    np.testing.assert_allclose(fit.coef, _vec(ref["coef"], fit.names), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, _vec(ref[key], fit.names), rtol=1e-5)
    assert fit.n == 200
    if "df_residual" in ref:
        assert fit.df_resid == ref["df_residual"]


def test_random_effects_variance_components(grunfeld):
    ref = CASE["random_swar"]
    fit = _fit(grunfeld, estimator="random")
    assert fit.sigma2_effects == pytest.approx(ref["sigma2"]["id"], rel=1e-8)
    assert fit.sigma2_idios == pytest.approx(ref["sigma2"]["idios"], rel=1e-8)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-8)


@pytest.mark.parametrize("hc", ["HC0", "HC1", "sss"])
def test_two_way_clustering_matches_vcovDC(grunfeld, hc):
    ref = EXTRA["grunfeld_extra"]["within_twoways_double"][f"se_DC_{hc}"]
    fit = _fit(grunfeld, effects=["entity", "time"], vcov="cluster", cluster=["entity", "time"], hc=hc)
    np.testing.assert_allclose(fit.se, _vec(ref, fit.names), rtol=1e-5)
    assert fit.n_clusters == (10, 20)


@pytest.mark.parametrize("hc", ["HC0", "HC1"])
def test_robust_matches_white1(grunfeld, hc):
    ref = EXTRA["grunfeld_extra"]["within_individual_white1"][f"se_white1_{hc}"]
    fit = _fit(grunfeld, vcov="robust", hc=hc)
    np.testing.assert_allclose(fit.se, _vec(ref, fit.names), rtol=1e-5)


@pytest.fixture(scope="module")
def unbalanced(grunfeld):
    g = grunfeld
    drop = ((g.firm == 1) & (g.year < 1940)) | ((g.firm == 5) & (g.year >= 1950)) | ((g.firm == 8) & (g.year % 4 == 0))
    return g[~drop].sample(frac=1.0, random_state=3)  # shuffled rows: order must not matter


def test_unbalanced_random_effects_swamy_arora(unbalanced):
    ref = EXTRA["grunfeld_unbalanced"]
    fit = _fit(unbalanced, estimator="random")
    assert fit.n == ref["n"]
    np.testing.assert_allclose(fit.coef, _vec(ref["random_swar"]["coef"], NAMES), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, _vec(ref["random_swar"]["se_model"], NAMES), rtol=1e-5)
    assert fit.sigma2_effects == pytest.approx(ref["random_swar"]["sigma2"]["id"], rel=1e-8)
    assert fit.sigma2_idios == pytest.approx(ref["random_swar"]["sigma2"]["idios"], rel=1e-8)
    np.testing.assert_allclose(fit.theta, list(ref["random_swar"]["theta"].values()), rtol=1e-8)
    cl = _fit(unbalanced, estimator="random", vcov="cluster", hc="HC0")
    np.testing.assert_allclose(cl.se, _vec(ref["random_swar"]["se_CLgroup_HC0"], NAMES), rtol=1e-5)


@pytest.mark.parametrize("key", ["se_model", "se_CLgroup_HC1", "se_CLgroup_sss"])
def test_unbalanced_within(unbalanced, key):
    ref = EXTRA["grunfeld_unbalanced"]["within_individual"]
    kw = {"se_model": {}, "se_CLgroup_HC1": {"vcov": "cluster", "hc": "HC1"}, "se_CLgroup_sss": {"vcov": "cluster", "hc": "sss"}}[key]
    fit = _fit(unbalanced, **kw)
    np.testing.assert_allclose(fit.coef, _vec(ref["coef"], fit.names), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, _vec(ref[key], fit.names), rtol=1e-5)


@pytest.mark.parametrize(("estimator", "effects"), [("within", ["entity"]), ("within", ["entity", "time"]), ("pooled", ["entity"]), ("random", ["entity"])])
def test_scores_and_bread_reproduce_cluster_hc0(unbalanced, estimator, effects):
    """The exposed transformed-regression scores feed c2stats.sandwich consistently."""
    fit = _fit(unbalanced, estimator=estimator, effects=effects, vcov="cluster", hc="HC0")
    v = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=unbalanced["firm"].to_numpy(), correction="none")
    np.testing.assert_allclose(v, fit.vcov, rtol=1e-8, atol=1e-12 * np.max(np.abs(fit.vcov)))


def test_custom_cluster_labels(grunfeld):
    by_firm = _fit(grunfeld, vcov="cluster", cluster=grunfeld["firm"].astype(str).to_numpy(), hc="sss")
    np.testing.assert_allclose(by_firm.se, _vec(CASE["within_individual"]["se_CLgroup_sss"], by_firm.names), rtol=1e-5)
    assert by_firm.cluster == ("custom",) and by_firm.n_clusters == (10,)


def test_errors(grunfeld):
    with pytest.raises(SpecificationError, match="valid: 'within', 'pooled', 'random'"):
        _fit(grunfeld, estimator="between")
    with pytest.raises(SpecificationError, match="effects must be"):
        _fit(grunfeld, effects=["time"])
    with pytest.raises(SpecificationError, match="cluster must be"):
        _fit(grunfeld, vcov="cluster", cluster="firm")
    with pytest.raises(SpecificationError, match="not unique"):
        _fit(pd.concat([grunfeld, grunfeld.iloc[:1]]))
