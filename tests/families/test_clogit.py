"""The clogit family reproduces R's ``survival::clogit``; its engine reproduces the exact likelihood by enumeration.

Reference values: ``tests/reference/clogit/clogit.json`` from ``make_clogit_reference.R`` (R 4.2.2,
survival 3.5-3; raw output ``make_clogit_reference.Rout``) on ``infert.csv`` (datasets::infert, one
case per set) and ``matched.csv`` (seeded simulation: several cases per set, uninformative sets, one
set of 40 rows with 15 cases). Tolerances: coefficients 1e-6 absolute, standard errors 1e-5
relative, log-likelihoods 1e-6 absolute, N and events exact.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats.errors import ConfigError, DataError, SpecificationError
from c2stats.families._clogit_engine import fit_clogit, matched_sets, set_loglik_terms

REF = Path(__file__).resolve().parents[1] / "reference" / "clogit"
R = json.loads((REF / "clogit.json").read_text())
INFERT = pd.read_csv(REF / "infert.csv")
MATCHED = pd.read_csv(REF / "matched.csv")
CASES = {
    "infert": (INFERT, "case ~ spontaneous + induced", "stratum"),
    "matched": (MATCHED, "case ~ x1 + x2 + x3", "set"),
}


def fit(case: str, method: str = "exact", vcov="model", **extra):
    frame, formula, group = CASES[case]
    spec = {"family": "clogit", "formula": formula, "options": {"group": group, "method": method, "eps": 1e-12},
            "vcov": vcov, **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, frame)


def assert_matches_r(result, ref, *, terms, se_key="se"):
    tidy = result.tidy
    assert list(tidy["term"]) == terms
    np.testing.assert_allclose(tidy["estimate"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], ref[se_key], rtol=1e-5)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_events"] == ref["nevent"]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", ["exact", "efron", "breslow"])
def test_model_variance_matches_clogit(case, method):
    ref = R[case][method]
    result = fit(case, method)
    assert_matches_r(result, ref, terms=R[case]["terms"])
    np.testing.assert_allclose(result.vcov().to_numpy(), ref["vcov"], rtol=1e-5)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_null"], abs=1e-6)
    assert result.glance["score_test"] == pytest.approx(ref["score_test"], rel=1e-6)
    assert result.glance["lr_test"] == pytest.approx(2 * (ref["loglik"] - ref["loglik_null"]), abs=2e-6)
    assert result.glance["bic"] == pytest.approx(-2 * ref["loglik"] + np.log(ref["nevent"]) * len(ref["coef"]), abs=1e-5)
    assert result.meta["scale"] == "log_odds" and result.glance["converged"] is True
    if method == "exact":
        assert result.glance["iterations"] == ref["iter"]  # same Newton path as coxexact


def test_one_case_per_set_methods_coincide():
    exact, efron = fit("infert", "exact"), fit("infert", "efron")
    np.testing.assert_allclose(exact.tidy["estimate"], efron.tidy["estimate"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["exact", "breslow", "efron"])
def test_cluster_one_case_per_set_matches_clogit_cluster(method):
    # R refuses cluster() with method = "exact"; with one case per set its likelihood is Breslow's
    ref = R["infert"]["breslow_cluster_pooled"]
    result = fit("infert", method, {"type": "cluster", "groups": "pooled_stratum"})
    assert_matches_r(result, ref, terms=R["infert"]["terms"])
    np.testing.assert_allclose(result.vcov().to_numpy(), ref["vcov"], rtol=1e-5)
    assert result.glance["n_clusters"] == INFERT["pooled_stratum"].nunique()


@pytest.mark.parametrize("method", ["exact", "efron"])
def test_robust_one_case_per_set_matches_clogit_robust(method):
    ref = R["infert"]["efron_robust"]
    result = fit("infert", method, "robust")
    assert_matches_r(result, ref, terms=R["infert"]["terms"])
    np.testing.assert_allclose(
        fit("infert", method).tidy["std_error"], ref["se_model"], rtol=1e-5)


@pytest.mark.parametrize("method, vcov, key, weights", [
    ("efron", {"type": "cluster", "groups": "region"}, "efron_cluster_region", None),
    ("breslow", "robust", "breslow_robust", None),
    ("efron", "model", "efron_weighted", "w"),
    ("breslow", {"type": "cluster", "groups": "region"}, "breslow_weighted_cluster_region", "w"),
])
def test_approximations_with_robust_cluster_and_weights_match_clogit(method, vcov, key, weights):
    ref = R["matched"][key]
    extra = {"weights": weights} if weights else {}
    result = fit("matched", method, vcov, **extra)
    assert_matches_r(result, ref, terms=R["matched"]["terms"])


# ----------------------------------------------------------------------------------------------
# exact method with several cases per set: by enumeration and by a different polynomial algorithm
# ----------------------------------------------------------------------------------------------
def _set_loglik_enumerated(eta: np.ndarray, case: np.ndarray) -> float:
    d = int(case.sum())
    den = sum(np.exp(eta[list(c)].sum()) for c in itertools.combinations(range(len(eta)), d))
    return float(eta[case == 1].sum() - np.log(den))


def _set_loglik_polynomial(eta: np.ndarray, case: np.ndarray) -> float:
    """log of the coefficient of t^d in prod_i (1 + r_i t), by repeated convolution."""
    d = int(case.sum())
    shift = np.sort(eta)[::-1][:d].mean()
    coef = np.array([1.0])
    for r in np.exp(eta - shift):
        coef = np.convolve(coef, [1.0, r])
    return float(eta[case == 1].sum() - d * shift - np.log(coef[d]))


def test_engine_equals_enumeration_of_subsets():
    rng = np.random.default_rng(11)
    sizes = rng.integers(2, 8, size=25)
    group = np.repeat(np.arange(25), sizes)
    case = np.concatenate([rng.permutation(np.r_[np.ones(k), np.zeros(s - k)]) for s, k in
                           zip(sizes, [rng.integers(0, s + 1) for s in sizes])])
    X = rng.normal(size=(group.size, 3))
    beta = np.array([0.4, -0.3, 0.7])
    sets = matched_sets(group, case)
    terms = set_loglik_terms(X, case, sets, beta)

    def loglik(b):
        return sum(_set_loglik_enumerated(X[group == s] @ b, case[group == s]) for s in range(25))

    assert terms.loglik == pytest.approx(loglik(beta), abs=1e-10)
    h = 1e-5
    eye = np.eye(3)
    grad = [(loglik(beta + h * e) - loglik(beta - h * e)) / (2 * h) for e in eye]
    np.testing.assert_allclose(terms.score, grad, atol=1e-7)
    hess = [[(loglik(beta + h * (e + f)) - loglik(beta + h * (e - f)) - loglik(beta - h * (e - f))
              + loglik(beta - h * (e + f))) / (4 * h * h) for f in eye] for e in eye]
    np.testing.assert_allclose(terms.info, -np.array(hess), atol=2e-4)


def test_exact_cluster_of_whole_sets_is_the_set_score_sandwich():
    # No R reference (R: "robust variance plus the exact method is not supported"). With clusters of
    # whole sets the meat is sum_c U_c U_c' of the set scores; here U_s is computed by numerical
    # differentiation of the polynomial form of each set's likelihood at R's estimate, and the
    # bread is R's model variance.
    ref = R["matched"]["exact"]
    beta = np.array(ref["coef"])
    X = MATCHED[["x1", "x2", "x3"]].to_numpy(float)
    case = MATCHED["case"].to_numpy(float)
    h = 1e-6
    region_scores = {}
    for s, rows in MATCHED.groupby("set").indices.items():
        c = case[rows]
        if c.sum() in (0, len(c)):
            continue
        u = np.array([(_set_loglik_polynomial(X[rows] @ (beta + h * e), c)
                       - _set_loglik_polynomial(X[rows] @ (beta - h * e), c)) / (2 * h) for e in np.eye(3)])
        region = MATCHED["region"].iloc[rows[0]]
        region_scores[region] = region_scores.get(region, 0) + u
    U = np.array([region_scores[r] for r in sorted(region_scores)])
    B = np.array(ref["vcov"])
    expected = B @ U.T @ U @ B
    result = fit("matched", "exact", {"type": "cluster", "groups": "region"})
    np.testing.assert_allclose(result.vcov().to_numpy(), expected, rtol=1e-5)
    assert result.glance["n_clusters"] == 12
    # two-way with nested columns: V(set) + V(region) - V(set x region) = V(region), as set x region = set
    two = fit("matched", "exact", {"type": "cluster", "groups": ["set", "region"]})
    np.testing.assert_allclose(two.vcov().to_numpy(), result.vcov().to_numpy(), rtol=1e-10)


def test_large_set_stays_in_floating_point_range():
    # one set of 300 rows with 150 cases: C(300, 150) ~ 1e89 subsets
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2)) * 5
    case = np.zeros(300)
    case[np.argsort(X @ [1.0, -0.5] + rng.gumbel(size=300))[-150:]] = 1
    fit_ = fit_clogit(X, case, np.zeros(300), eps=1e-12)
    assert fit_.converged and np.all(np.isfinite(fit_.vcov_model))
    assert np.isfinite(fit_.loglik)
    assert fit_.loglik == pytest.approx(_set_loglik_polynomial(X @ fit_.coef, case), abs=1e-6)


# ----------------------------------------------------------------------------------------------
# bootstrap and errors
# ----------------------------------------------------------------------------------------------
def test_bootstrap_resamples_whole_sets_reproducibly():
    spec = {"type": "bootstrap", "reps": 30, "seed": 5}
    first, again = fit("matched", "exact", spec), fit("matched", "exact", spec)
    pd.testing.assert_frame_equal(first.tidy, again.tidy)
    assert first.glance["n_clusters"] == MATCHED["set"].nunique()  # the sets are the resampled units
    ratio = first.tidy["std_error"].to_numpy() / np.array(R["matched"]["exact"]["se"])
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio  # 30 draws: same order as the model SE
    by_region = fit("matched", "exact", {**spec, "groups": "region"})
    assert by_region.glance["n_clusters"] == 12
    with pytest.raises(SpecificationError, match="splits some of them"):
        fit("matched", "exact", {**spec, "groups": "x2"})


def test_exact_with_several_cases_refuses_row_level_robust():
    with pytest.raises(SpecificationError, match="several cases.*up to 15"):
        fit("matched", "exact", "robust")
    with pytest.raises(SpecificationError, match="clusters split matched sets"):
        fit("matched", "exact", {"type": "cluster", "groups": "x2"})


def test_bad_input_gives_clear_errors():
    with pytest.raises(SpecificationError, match="case weights are not supported"):
        fit("matched", "exact", weights="w")
    with pytest.raises(DataError, match="must be 0/1"):
        fit("matched", "exact", formula="w ~ x1")
    with pytest.raises(SpecificationError, match="'age' is constant within every matched set"):
        fit("infert", "exact", formula="case ~ spontaneous + age")
    with pytest.raises(SpecificationError, match="no matched set has both a case and a control"):
        fit("matched", "exact", sample="case == 1")
    with pytest.raises(ConfigError, match="group"):
        c2stats.fit({"family": "clogit", "formula": "case ~ x1"}, MATCHED)
    with pytest.raises(ConfigError, match="not available for the clogit family"):
        fit("matched", "exact", "HC1")


def test_uninformative_sets_are_noted_and_intercept_dropped():
    result = fit("matched", "exact", formula="case ~ 1 + x1 + x2 + x3")
    assert list(result.tidy["term"]) == R["matched"]["terms"]
    assert result.glance["n_groups"] == R["matched"]["n_sets"]
    assert result.glance["n_groups_informative"] == R["matched"]["n_informative"]
    assert any("do not contribute" in w for w in result.meta["warnings"])
