"""Known-truth simulations sized for CI (run by default; the full versions are marked ``slow``).

Each check is a smaller, seeded run of a design whose truth is known by construction, through
``c2stats.fit``:

* dyadic-robust intervals, OLS and logit (the ``dyadic_ols`` / ``dyadic_logit`` designs of
  ``benchmarks/coverage.py``, full version ``tests/core/test_sandwich.py::test_coverage_slow``);
* cluster-bootstrap intervals: the engine-level OLS design ``cluster_bootstrap_ols`` of
  ``benchmarks/coverage.py`` (the logit and Cox CI variants sit beside their slow versions in
  ``tests/behaviour/test_bootstrap_coverage.py``, to keep each file's run short);
* size of cluster-robust Wald tests of a true null (logit and Cox), at alpha = 0.05.

Acceptance band for a proportion ``p`` estimated from ``reps`` replications with nominal ``p0``:
``p0 - 3.5 * sqrt(p0 (1 - p0) / reps) - bias <= p <= p0 + 3.5 * sqrt(p0 (1 - p0) / reps)`` for
coverage (and the mirror image for a rejection rate), where ``bias`` is the known one-sided
small-sample shortfall of the estimator in that design, stated per check below with its source.
Because every run is seeded the outcome is deterministic; the band is what makes a pass mean "this
is what a correct estimator produces", and 3.5 Monte Carlo standard errors keeps a correct
estimator from being rejected by an unlucky seed (two-sided 5e-4) when the seed or numpy changes.
Each check also shows that the design has the dependence it is meant to have: the naive interval
(HC1 or model-based) covers significantly less than 95% (more than 3.5 Monte Carlo SEs below), or the
naive test rejects significantly more than 5%.

The calibration runs quoted below (``python -m tests.test_coverage_ci`` prints them) were made on the
project's 2-core machine with the same designs and seeds.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats

from tests.behaviour.test_bootstrap_coverage import BETA
from tests.behaviour.test_bootstrap_coverage import DESIGNS as BOOT_DESIGNS
from tests.behaviour.test_bootstrap_coverage import band, simulate

Z95 = 1.959963984540054


def benchmarks():
    """``benchmarks/coverage.py`` as a module (designs shared with the slow runs)."""
    name = "c2stats_benchmarks_coverage"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "benchmarks" / "coverage.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[name]


def quiet_fit(spec, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, data)


def slope(result, term: str = "x") -> pd.Series:
    return result.tidy.set_index("term").loc[term]


# ------------------------------------------------------------------------------- dyadic


def hc1_slope_se(family: str, x: np.ndarray, y: np.ndarray, coef: np.ndarray) -> float:
    """HC1 standard error of the slope at ``coef`` (the naive comparison; numpy, to save a second fit)."""
    X = np.column_stack([np.ones_like(x), x])
    if family == "ols":
        weight, resid = np.ones_like(x), y - X @ coef
    else:
        p = 1.0 / (1.0 + np.exp(-X @ coef))
        weight, resid = p * (1 - p), y - p
    bread = np.linalg.inv((X.T * weight) @ X)
    scores = X * resid[:, None]
    n, k = X.shape
    return float(np.sqrt((n / (n - k) * bread @ (scores.T @ scores) @ bread)[1, 1]))


def dyadic_coverage(family: str, *, reps: int, n_nodes: int = 200, seed: int = 20150703) -> dict:
    """Share of dyadic-robust (and HC1) 95% intervals covering the slope, all pairs of ``n_nodes``.

    OLS: ``y = 1 + 0.5 x + u_a + u_b + e`` with ``x = z_a + z_b + v``; logit: ``_logit_draw`` of
    benchmarks/coverage.py, whose target is the population logit slope (``_logit_target``).
    """
    bench = benchmarks()
    rng = np.random.default_rng(seed)
    a, b = bench._pairs(n_nodes)
    beta = 0.5
    target = beta if family == "ols" else bench._logit_target(beta, rng)
    hit = hit_naive = 0
    t0 = time.perf_counter()
    for _ in range(reps):
        if family == "ols":
            z, u = rng.normal(size=n_nodes), rng.normal(size=n_nodes)
            x = z[a] + z[b] + rng.normal(size=a.size)
            y = 1.0 + beta * x + u[a] + u[b] + rng.normal(size=a.size)
        else:
            X, y = bench._logit_draw(rng, n_nodes, a, b, beta)
            x = X[:, 1]
        data = pd.DataFrame({"y": y, "x": x, "a": a, "b": b})
        result = quiet_fit({"family": family, "formula": "y ~ x", "vcov": {"type": "dyadic", "groups": ["a", "b"]}}, data)
        dyadic = slope(result)
        naive_se = hc1_slope_se(family, x, y, result.tidy["estimate"].to_numpy())
        hit += abs(dyadic["estimate"] - target) <= Z95 * dyadic["std_error"]
        hit_naive += abs(dyadic["estimate"] - target) <= Z95 * naive_se
    return {"design": f"dyadic_{family}", "reps": reps, "n_nodes": n_nodes, "coverage": hit / reps,
            "coverage_naive": hit_naive / reps, "seconds": time.perf_counter() - t0}


# Known bias: the dyadic estimator is consistent in the number of nodes and too small with few
# (benchmarks/coverage.py: variance ratio 0.91 / 0.97 at 120 / 240 nodes; benchmarks/dyadic_nodes.py:
# coverage 0.930 (OLS) and 0.945 (logit) at 200 nodes, Monte Carlo SE 0.007). Calibration of this check
# (600 replications, 200 nodes, through c2stats.fit): OLS 0.947, logit 0.932 (MC SE 0.009); HC1 0.22 and
# 0.51. Allowance 0.02 below.
DYADIC_BIAS = 0.02


@pytest.mark.parametrize("family", ["ols", "logit"])
def test_dyadic_interval_coverage_ci(family):
    reps = 150
    result = dyadic_coverage(family, reps=reps)
    low, high = band(reps, 0.95, low=DYADIC_BIAS)
    assert low <= result["coverage"] <= high, result
    assert result["coverage_naive"] < band(reps, 0.95)[0], result  # node dependence: HC1 intervals too short


# ---------------------------------------------------------------------- cluster bootstrap
# (the CI-sized logit and Cox bootstrap coverage checks are in tests/behaviour/test_bootstrap_coverage.py)


def test_cluster_bootstrap_ols_engine_coverage_ci():
    # benchmarks/coverage.py cluster_bootstrap_ols (60 clusters of 5, the resampler itself); the slow run
    # (1500 x 199 draws) is in the band; calibration with 99 draws (1000 replications, this seed): 0.935
    # (MC SE 0.007; HC0 0.841), so allowance 0.02 below.
    reps = 200
    result = benchmarks().cluster_bootstrap_ols(reps=reps, n_boot=99, seed=2026)
    low, high = band(reps, 0.95, low=0.02)
    assert low <= result.coverage <= high, result.row()
    assert result.coverage_naive < band(reps, 0.95)[0], result.row()


# ------------------------------------------------------------------- size under the null


def null_rejection(design: str, *, reps: int, seed: int = 20261207) -> dict:
    """Rejection rate at alpha = 0.05 of the Wald test of the true null ``x = 0`` (cluster-robust and model)."""
    rng = np.random.default_rng(seed)
    spec = BOOT_DESIGNS[design]
    reject = reject_model = 0
    t0 = time.perf_counter()
    for _ in range(reps):
        data = simulate(rng, beta=0.0)
        reject += slope(quiet_fit({**spec, "vcov": {"type": "cluster", "groups": "g"}}, data))["p_value"] < 0.05
        reject_model += slope(quiet_fit(spec, data))["p_value"] < 0.05
    return {"design": design, "reps": reps, "rate": reject / reps, "rate_model": reject_model / reps,
            "seconds": time.perf_counter() - t0}


# Known bias: with 100 clusters the cluster-robust (HC1-type, G/(G-1)) Wald test over-rejects slightly
# (Cameron & Miller 2015, sec. VI). Calibration of this check (1000 replications): logit 0.054, Cox 0.058
# (MC SE 0.007); model-based 0.172 and 0.173. Allowance 0.01 above.
WALD_BIAS = 0.01


@pytest.mark.parametrize("design", ["logit", "cox"])
def test_cluster_robust_wald_size_at_the_null_ci(design):
    reps = 200
    result = null_rejection(design, reps=reps)
    low, high = band(reps, 0.05, high=WALD_BIAS)
    assert low <= result["rate"] <= high, result
    assert result["rate_model"] > band(reps, 0.05)[1], result  # the model-based test over-rejects here


def test_designs_have_known_truth():
    # the slope of the bootstrap designs is the stated BETA (see test_bootstrap_coverage.py); the null
    # designs are the same with BETA = 0, so the null is true by construction
    assert BETA == 0.7
    data = simulate(np.random.default_rng(3), beta=0.0, n_clusters=4000)
    for design in BOOT_DESIGNS:
        row = slope(quiet_fit({**BOOT_DESIGNS[design], "vcov": {"type": "cluster", "groups": "g"}}, data))
        assert abs(row["estimate"]) < 3.5 * row["std_error"], (design, row)


if __name__ == "__main__":  # calibration runs quoted above
    for family in ("ols", "logit"):
        print(dyadic_coverage(family, reps=600), flush=True)
    for design in BOOT_DESIGNS:
        print(null_rejection(design, reps=1000), flush=True)
    print(benchmarks().cluster_bootstrap_ols(reps=1000, n_boot=99, seed=2026).row(), flush=True)
