"""Sandwich estimators: R conventions (golden.json) and algebraic identities.

HC0/HC1 against R's sandwich on mid_binary live in test_glm_engine.py as well; here they are
checked through the public pieces, together with the cluster, two-way and dyadic identities
(no R reference exists for dyadic-robust; see Aronow, Samii & Assenova 2015).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from c2stats.families._glm_engine import fit_binary_glm
from c2stats.sandwich import cluster_bootstrap, meat, vcov_cluster, vcov_dyadic, vcov_hc

REF = Path(__file__).resolve().parents[1] / "reference"
GOLDEN = json.loads((REF / "golden.json").read_text())["cases"]
MID_TERMS = ["(Intercept)", "major", "contig", "power", "maxdem", "mindem", "years"]


@pytest.fixture(scope="module")
def mid_logit():
    frame = pd.read_csv(REF / "data" / "mid.csv")
    X = np.column_stack([np.ones(len(frame))] + [frame[t].to_numpy(float) for t in MID_TERMS[1:]])
    y = frame["conflict"].to_numpy(float)
    return frame, X, y, fit_binary_glm(X=X, y=y, link="logit", epsilon=1e-14)


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("kind", ["HC0", "HC1"])
def test_hc_matches_sandwich_vcovHC(mid_logit, link, kind):
    _, X, y, _ = mid_logit
    fit = fit_binary_glm(X=X, y=y, link=link, epsilon=1e-14)
    ref = GOLDEN["mid_binary"][link][f"se_{kind}"]
    se = np.sqrt(np.diag(vcov_hc(bread=fit.bread, scores=fit.scores, kind=kind)))
    np.testing.assert_allclose(se, [ref[t] for t in MID_TERMS], rtol=1e-5)


def test_singleton_clusters_reduce_to_hc(mid_logit):
    _, X, y, fit = mid_logit
    n, k = X.shape
    ids = np.arange(n)
    hc0 = vcov_hc(bread=fit.bread, scores=fit.scores, kind="HC0")
    hc1 = vcov_hc(bread=fit.bread, scores=fit.scores, kind="HC1")
    np.testing.assert_allclose(vcov_cluster(bread=fit.bread, scores=fit.scores, groups=ids, correction="none"), hc0)
    # vcovCL(type="HC0") with G = n keeps G/(G-1); type="HC1" adds (n-1)/(n-k) -> n/(n-k).
    np.testing.assert_allclose(
        vcov_cluster(bread=fit.bread, scores=fit.scores, groups=ids, correction="HC0"), hc0 * n / (n - 1)
    )
    np.testing.assert_allclose(vcov_cluster(bread=fit.bread, scores=fit.scores, groups=ids, correction="HC1"), hc1)


def test_cluster_corrections_match_statsmodels_logit(mid_logit):
    """statsmodels' default cluster = vcovCL(type="HC1"); use_correction=False = no factor.

    For the canonical logit link the observed and expected information coincide, so
    statsmodels' Logit is a valid second implementation here (reference README rule 6).
    """
    frame, X, y, fit = mid_logit
    groups = frame["years"].to_numpy()
    def sm_cov(**kw):
        model = sm.Logit(y, X)
        return model.fit(disp=0, method="newton", tol=1e-12, cov_type="cluster", cov_kwds={"groups": groups, **kw})

    hc1_sm = sm_cov().cov_params()
    raw_sm = sm_cov(use_correction=False).cov_params()
    v_hc1 = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=groups, correction="HC1")
    v_none = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=groups, correction="none")
    v_hc0 = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=groups, correction="HC0")
    scale = np.max(np.abs(v_none))
    np.testing.assert_allclose(v_hc1, hc1_sm, rtol=1e-6, atol=1e-7 * scale)
    np.testing.assert_allclose(v_none, raw_sm, rtol=1e-6, atol=1e-7 * scale)
    G = len(np.unique(groups))
    np.testing.assert_allclose(v_hc0, v_none * G / (G - 1), rtol=1e-10, atol=1e-14 * scale)


def _brute_meat(scores, linked):
    """Σ_{i,j} 1[linked(i, j)] s_i s_j' by explicit double loop (small n only)."""
    n, k = scores.shape
    m = np.zeros((k, k))
    for i in range(n):
        for j in range(n):
            if linked(i, j):
                m += np.outer(scores[i], scores[j])
    return m


def _toy(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, k))
    a = rng.normal(size=(k, k))
    bread = np.linalg.inv(a @ a.T + k * np.eye(k))
    return s, bread


def test_two_way_is_cgm_with_per_term_adjustment():
    s, bread = _toy()
    n, k = s.shape
    rng = np.random.default_rng(3)
    g1 = rng.integers(0, 7, n)
    g2 = rng.integers(0, 5, n)
    inter = pd.factorize(pd.Series(g1).astype(str) + "_" + pd.Series(g2).astype(str))[0]
    G1, G2, G12 = (len(np.unique(g)) for g in (g1, g2, inter))
    v = lambda m: bread @ m @ bread  # noqa: E731
    m1, m2, m12 = meat(s, g1), meat(s, g2), meat(s, inter)
    # Brute-force definition of the uncorrected two-way meat: pairs sharing either label.
    brute = _brute_meat(s, lambda i, j: g1[i] == g1[j] or g2[i] == g2[j])
    np.testing.assert_allclose(m1 + m2 - m12, brute, atol=1e-10)
    got = vcov_cluster(bread=bread, scores=s, groups=(g1, g2), correction="none")
    np.testing.assert_allclose(got, v(brute), atol=1e-12)
    # sandwich::meatCL: each term its own G/(G-1); HC1 multiplies the total by (n-1)/(n-k).
    hc0 = v(G1 / (G1 - 1) * m1 + G2 / (G2 - 1) * m2 - G12 / (G12 - 1) * m12)
    np.testing.assert_allclose(vcov_cluster(bread=bread, scores=s, groups=(g1, g2), correction="HC0"), hc0)
    np.testing.assert_allclose(
        vcov_cluster(bread=bread, scores=s, groups=np.column_stack([g1, g2]), correction="HC1"),
        hc0 * (n - 1) / (n - k),
    )
    frame = pd.DataFrame({"a": g1, "b": g2})
    np.testing.assert_allclose(vcov_cluster(bread=bread, scores=s, groups=frame, correction="HC0"), hc0)


def _dyads(n_nodes, n_obs, seed, repeats=True):
    rng = np.random.default_rng(seed)
    pairs = np.array(list(itertools.combinations(range(n_nodes), 2)))
    idx = rng.integers(0, len(pairs), n_obs) if repeats else rng.choice(len(pairs), n_obs, replace=False)
    a, b = pairs[idx].T
    flip = rng.random(n_obs) < 0.5  # direction must not matter
    return np.where(flip, b, a), np.where(flip, a, b)


def test_dyadic_equals_its_definition():
    s, bread = _toy(n=80)
    a, b = _dyads(12, 80, seed=1)
    brute = _brute_meat(s, lambda i, j: len({a[i], b[i]} & {a[j], b[j]}) > 0)
    got = vcov_dyadic(bread=bread, scores=s, node_a=a, node_b=b)
    np.testing.assert_allclose(got, bread @ brute @ bread, atol=1e-12)


def test_dyadic_decomposition_of_aronow_samii_assenova():
    """V = Σ_i V_C,i − V_D − (N−2) V_0 (ASA 2015, section 3), all without corrections."""
    s, bread = _toy(n=90, seed=4)
    a, b = _dyads(10, 90, seed=5)
    nodes = np.unique(np.concatenate([a, b]))
    N = len(nodes)
    v_sum = np.zeros_like(bread)
    for node in nodes:
        groups = np.where((a == node) | (b == node), -1, np.arange(len(a)))
        v_sum += vcov_cluster(bread=bread, scores=s, groups=groups, correction="none")
    dyad = pd.factorize(pd.Series(np.minimum(a, b)).astype(str) + "-" + pd.Series(np.maximum(a, b)).astype(str))[0]
    v_d = vcov_cluster(bread=bread, scores=s, groups=dyad, correction="none")
    v_0 = vcov_hc(bread=bread, scores=s, kind="HC0")
    got = vcov_dyadic(bread=bread, scores=s, node_a=a, node_b=b)
    np.testing.assert_allclose(got, v_sum - v_d - (N - 2) * v_0, atol=1e-11)


def test_dyadic_equals_dyad_clustering_when_nodes_are_in_one_dyad():
    s, bread = _toy(n=40, seed=6)
    # 10 disjoint pairs (0,1), (2,3), ..., each observed 4 times: no node is in two dyads.
    pair = np.repeat(np.arange(10), 4)
    a, b = 2 * pair, 2 * pair + 1
    got = vcov_dyadic(bread=bread, scores=s, node_a=a, node_b=b)
    np.testing.assert_allclose(got, vcov_cluster(bread=bread, scores=s, groups=pair, correction="none"), atol=1e-12)
    nodes_corr = vcov_dyadic(bread=bread, scores=s, node_a=a, node_b=b, correction="nodes")
    np.testing.assert_allclose(nodes_corr, got * 20 / 19)


def test_dyadic_rejects_self_dyads_and_bad_lengths():
    s, bread = _toy(n=5)
    with pytest.raises(ValueError, match="same node on both sides"):
        vcov_dyadic(bread=bread, scores=s, node_a=[1, 2, 3, 4, 5], node_b=[2, 3, 3, 5, 1])
    with pytest.raises(ValueError, match="one label per observation"):
        vcov_dyadic(bread=bread, scores=s, node_a=[1, 2], node_b=[2, 3])


def test_cluster_errors_are_clear():
    s, bread = _toy(n=10)
    with pytest.raises(ValueError, match="10 rows but the estimation sample has"):
        vcov_cluster(bread=bread, scores=s[:9], groups=np.arange(10))
    with pytest.raises(ValueError, match="valid: 'HC1', 'HC0', 'none'"):
        vcov_cluster(bread=bread, scores=s, groups=np.arange(10), correction="CR2")
    with pytest.raises(ValueError, match="at least 2 clusters"):
        vcov_cluster(bread=bread, scores=s, groups=np.zeros(10))
    with pytest.raises(ValueError, match="missing values"):
        vcov_cluster(bread=bread, scores=s, groups=np.array([1.0] * 9 + [np.nan]))


def _ols_refit(X, y):
    def refit(rows):
        return np.linalg.lstsq(X[rows], y[rows], rcond=None)[0]

    return refit


def test_cluster_bootstrap_is_reproducible_and_sane():
    rng = np.random.default_rng(7)
    G, m = 40, 5
    g = np.repeat(np.arange(G), m)
    X = np.column_stack([np.ones(G * m), rng.normal(size=G * m) + rng.normal(size=G)[g]])
    y = X @ [1.0, 0.5] + rng.normal(size=G)[g] + rng.normal(size=G * m)
    labels = np.array([f"c{j:02d}" for j in g])
    b1 = cluster_bootstrap(refit=_ols_refit(X, y), groups=labels, n_obs=len(y), n_boot=400, seed=11)
    b2 = cluster_bootstrap(refit=_ols_refit(X, y), groups=labels, n_obs=len(y), n_boot=400, seed=11)
    np.testing.assert_array_equal(b1.draws, b2.draws)
    assert b1.n_clusters == G and b1.n_failed == 0 and b1.draws.shape == (400, 2)
    # Close to the analytic cluster-robust variance (same target, Monte Carlo error ~ 1/sqrt(2B)).
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    bread = np.linalg.inv(X.T @ X)
    scores = X * (y - X @ beta)[:, None]
    v_cl = vcov_cluster(bread=bread, scores=scores, groups=labels, correction="HC0")
    ratio = np.sqrt(np.diag(b1.vcov) / np.diag(v_cl))
    assert np.all(np.abs(ratio - 1) < 0.15)


def test_cluster_bootstrap_counts_failures():
    calls = {"n": 0}

    def refit(rows):
        calls["n"] += 1
        if calls["n"] % 10 == 0:
            raise np.linalg.LinAlgError("singular")
        return np.array([rows.mean()])

    out = cluster_bootstrap(refit=refit, groups=None, n_obs=50, n_boot=100, seed=1, max_failed_share=0.2)
    assert out.n_failed == 10 and out.draws.shape == (90, 1)
    with pytest.raises(RuntimeError, match="10 of 100 bootstrap replicates failed"):
        calls["n"] = 0
        cluster_bootstrap(refit=refit, groups=None, n_obs=50, n_boot=100, seed=1)


# --------------------------------------------------------------------------- vcovCL in R
# tests/reference/engines/engines.json, generated by engines/make_engines_reference.R:
#   vcovCL(glm, cluster = ~years, type = "HC0"/"HC1"); cluster = ~years + maxdem (two-way)
EXTRA = json.loads((REF / "engines" / "engines.json").read_text())


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_cluster_one_and_two_way_match_vcovCL(mid_logit, link):
    frame, X, y, _ = mid_logit
    ref = EXTRA["mid_glm"][link]
    fit = fit_binary_glm(X=X, y=y, link=link, epsilon=1e-14)
    assert fit.iterations == ref["iter"]
    np.testing.assert_allclose(fit.coef, [ref["coef"][t] for t in MID_TERMS], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se_model, [ref["se_model"][t] for t in MID_TERMS], rtol=1e-5)
    for kind in ("HC0", "HC1"):
        se = np.sqrt(np.diag(vcov_hc(bread=fit.bread, scores=fit.scores, kind=kind)))
        np.testing.assert_allclose(se, [ref[f"se_{kind}"][t] for t in MID_TERMS], rtol=1e-5)
        one = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=frame["years"], correction=kind)
        np.testing.assert_allclose(np.sqrt(np.diag(one)), [ref[f"se_CL_years_{kind}"][t] for t in MID_TERMS], rtol=1e-5)
        two = vcov_cluster(
            bread=fit.bread, scores=fit.scores, groups=(frame["years"], frame["maxdem"]), correction=kind
        )
        np.testing.assert_allclose(
            np.sqrt(np.diag(two)), [ref[f"se_CL2_years_maxdem_{kind}"][t] for t in MID_TERMS], rtol=1e-5
        )


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_weighted_offset_glm_matches_r(mid_logit, link):
    frame, X, y, _ = mid_logit
    ref = EXTRA["mid_glm_weighted"][link]
    w = 1.0 + (np.arange(1, len(y) + 1) % 3)
    off = 0.1 * frame["mindem"].to_numpy(float)
    fit = fit_binary_glm(X=X, y=y, link=link, weights=w, offset=off, epsilon=1e-14)
    assert fit.n == ref["n"]
    np.testing.assert_allclose(fit.coef, [ref["coef"][t] for t in MID_TERMS], rtol=0, atol=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    np.testing.assert_allclose(fit.se_model, [ref["se_model"][t] for t in MID_TERMS], rtol=1e-5)
    hc0 = vcov_hc(bread=fit.bread, scores=fit.scores, kind="HC0")
    np.testing.assert_allclose(np.sqrt(np.diag(hc0)), [ref["se_HC0"][t] for t in MID_TERMS], rtol=1e-5)
    cl = vcov_cluster(bread=fit.bread, scores=fit.scores, groups=frame["years"], correction="HC1")
    np.testing.assert_allclose(np.sqrt(np.diag(cl)), [ref["se_CL_years_HC1"][t] for t in MID_TERMS], rtol=1e-5)


# --------------------------------------------------------------------------- coverage (slow)


@pytest.mark.slow
@pytest.mark.parametrize("design", ["dyadic_ols", "dyadic_logit", "cluster_bootstrap_ols"])
def test_coverage_slow(design):
    """95% intervals cover the truth 93.5–96.5% of the time (benchmarks/coverage.py)."""
    import importlib.util
    import sys

    name = "c2stats_benchmarks_coverage"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parents[2] / "benchmarks" / "coverage.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    result = module.DESIGNS[design]()
    assert 0.935 <= result.coverage <= 0.965, result.row()
    assert result.coverage_naive < 0.9  # the design really has the dependence
