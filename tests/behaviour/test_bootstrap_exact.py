"""The bootstrap covariance is exactly the ddof = 1 covariance of refits on the drawn rows.

The resampler (``c2stats.sandwich.cluster_bootstrap``) draws cluster indices with
``numpy.random.default_rng(seed).integers(0, G, size=G)``; clusters are numbered in order of first
appearance of their labels and rows are resampled one per "cluster" when ``groups`` is not given.
Here the generator is replaced, for one sentinel seed, by one that returns draws fixed by the test,
so the replicate estimates can be recomputed independently: weighted least squares in closed form,
``(X'WX)^{-1} X'Wy`` on the drawn rows (a cluster drawn twice contributes its rows twice). The
covariance reported through ``c2stats.fit`` must equal ``np.cov(replicates, ddof=1)`` to 1e-12
relative. A ``ddof = 0`` covariance is smaller by (B - 1)/B = 24/25, a 4% error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import c2stats
import c2stats.sandwich

SENTINEL_SEED = 918_273_645
B = 25
REAL_DEFAULT_RNG = np.random.default_rng


class FixedDraws:
    """Stands in for ``numpy.random.Generator``: ``integers`` returns the prescribed draws in turn."""

    def __init__(self, picks: list[np.ndarray]):
        self.picks = list(picks)
        self.used = 0

    def integers(self, low, high=None, size=None, **kwargs):
        pick = self.picks[self.used]
        assert (low, high, size) == (0, len(pick), len(pick)), (low, high, size)  # draw G of G clusters
        self.used += 1
        return pick.copy()


@pytest.fixture
def fixed_draws(monkeypatch):
    """Install a factory so ``default_rng(SENTINEL_SEED)`` returns the draws set by the test."""
    holder: dict[str, FixedDraws] = {}

    def factory(seed=None, *args, **kwargs):
        if seed == SENTINEL_SEED:
            return holder["draws"]
        return REAL_DEFAULT_RNG(seed, *args, **kwargs)

    monkeypatch.setattr(c2stats.sandwich.np.random, "default_rng", factory)
    return holder


def make_data() -> pd.DataFrame:
    rng = REAL_DEFAULT_RNG(20261206)
    n = 46
    # 9 clusters of unequal size, rows interleaved, labels whose sorted order is not their order of
    # first appearance (the resampler numbers clusters by first appearance)
    labels = np.array(["k7", "k2", "k9", "k0", "k5", "k1", "k8", "k3", "k4"])
    g = labels[np.r_[np.arange(9), rng.integers(0, 9, size=n - 9)]]
    x1 = rng.normal(size=n)
    x2 = rng.exponential(size=n) + 0.3 * x1
    y = 1.0 + 0.5 * x1 - 0.8 * x2 + rng.standard_t(4, size=n)
    w = 1.0 + (np.arange(n) % 3)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": g, "w": w})


def wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    XtW = X.T * w
    return np.linalg.solve(XtW @ X, XtW @ y)


@pytest.mark.parametrize("groups, weights", [(None, None), ("g", None), ("g", "w"), (None, "w")],
                         ids=["rows", "clusters", "clusters-weighted", "rows-weighted"])
def test_bootstrap_vcov_is_ddof1_covariance_of_refits_on_the_drawn_rows(fixed_draws, groups, weights):
    data = make_data()
    n = len(data)
    if groups is None:
        members = [np.array([i]) for i in range(n)]
    else:
        members = [np.flatnonzero(data[groups].to_numpy() == label) for label in pd.unique(data[groups])]
    G = len(members)
    picks = [REAL_DEFAULT_RNG(100 + b).integers(0, G, size=G) for b in range(B)]
    fixed_draws["draws"] = FixedDraws(picks)

    vcov = {"type": "bootstrap", "reps": B, "seed": SENTINEL_SEED}
    if groups is not None:
        vcov["groups"] = groups
    spec = {"family": "ols", "formula": "y ~ x1 + x2", "vcov": vcov}
    if weights is not None:
        spec["weights"] = weights
    result = c2stats.fit(spec, data)
    assert fixed_draws["draws"].used == B  # every prescribed draw was used, no other

    X = np.column_stack([np.ones(n), data["x1"], data["x2"]])
    y = data["y"].to_numpy()
    w = np.ones(n) if weights is None else data[weights].to_numpy(float)
    replicates = []
    for pick in picks:
        rows = np.concatenate([members[j] for j in pick])
        replicates.append(wls(X[rows], y[rows], w[rows]))
    expected = np.cov(np.array(replicates), rowvar=False, ddof=1)

    got = result.vcov().to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(result.tidy["std_error"], np.sqrt(np.diag(expected)), rtol=1e-12)
    assert result.glance["n_boot"] == B and result.glance["n_boot_failed"] == 0
    if groups is not None:
        assert result.glance["n_clusters"] == G
    # the point estimate is the full-sample fit, not a bootstrap mean
    np.testing.assert_allclose(result.tidy["estimate"], wls(X, y, w), rtol=1e-12)


def test_the_fixed_draws_change_the_answer(fixed_draws):
    # the test above depends on the draws: different fixed draws give a different covariance
    data = make_data()
    G = data["g"].nunique()
    spec = {"family": "ols", "formula": "y ~ x1 + x2", "vcov": {"type": "bootstrap", "groups": "g", "reps": B,
                                                                  "seed": SENTINEL_SEED}}
    out = []
    for offset in (0, 1000):
        fixed_draws["draws"] = FixedDraws([REAL_DEFAULT_RNG(offset + b).integers(0, G, size=G) for b in range(B)])
        out.append(c2stats.fit(spec, data).vcov().to_numpy())
    assert not np.allclose(out[0], out[1], rtol=1e-3)


def newton_logit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logit MLE by Newton-Raphson to machine precision (independent of the package's IRLS)."""
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-X @ beta))
        step = np.linalg.solve((X.T * (p * (1 - p))) @ X, X.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-15:
            break
    return beta


def test_logit_cluster_bootstrap_is_ddof1_covariance_of_newton_refits(fixed_draws):
    # the same check through another family's refit: the package's IRLS stops on a relative deviance
    # change of epsilon = 1e-14; the replicates then agree with Newton to near machine precision (the
    # covariance passes at 1e-12 here) and 1e-10 leaves room for another platform's rounding
    rng = REAL_DEFAULT_RNG(7)
    G, size = 40, 5
    g = np.repeat(np.arange(G), size)
    x = rng.normal(size=G)[g] + rng.normal(size=G * size)
    y = (rng.random(G * size) < 1 / (1 + np.exp(0.3 - 0.8 * x))).astype(int)
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    picks = [REAL_DEFAULT_RNG(500 + b).integers(0, G, size=G) for b in range(B)]
    fixed_draws["draws"] = FixedDraws(picks)
    spec = {"family": "logit", "formula": "y ~ x", "options": {"epsilon": 1e-14},
            "vcov": {"type": "bootstrap", "groups": "g", "reps": B, "seed": SENTINEL_SEED}}
    result = c2stats.fit(spec, data)
    assert fixed_draws["draws"].used == B and result.glance["n_boot_failed"] == 0
    X = np.column_stack([np.ones(len(data)), x])
    replicates = [newton_logit(X[rows], y[rows]) for rows in
                  (np.concatenate([np.flatnonzero(g == j) for j in pick]) for pick in picks)]
    expected = np.cov(np.array(replicates), rowvar=False, ddof=1)
    np.testing.assert_allclose(result.vcov().to_numpy(), expected, rtol=1e-10, atol=0)
