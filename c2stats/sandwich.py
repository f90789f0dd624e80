"""Sandwich covariance estimators shared by every likelihood family.

Every estimator here has the form ``V = B · M · B`` where

- ``B`` (the *bread*) is the **unscaled** inverse information of the fit, i.e. the model
  covariance: ``(X'WX)^{-1}`` for a GLM with the expected information (as R's ``glm`` and
  ``sandwich::bread`` divided by n), ``(X'X)^{-1}`` for OLS, the inverse negative Hessian for
  a parametric survival model;
- ``M`` (the *meat*) is built from the per-observation score contributions ``S`` (rows =
  observations, columns = parameters), the derivatives of each observation's log-likelihood
  (or estimating-equation) contribution at the estimate, prior weights included. For a GLM
  these are ``sandwich::estfun.glm``: working residual × working weight × x.

The small-sample conventions follow R's *sandwich* package (3.0-2), which is what the
reference values in ``tests/reference/golden.json`` were computed with:

=============================  ===========================================================
call                           factor on ``B (S'S) B`` (or on the clustered meat)
=============================  ===========================================================
``vcovHC(type="HC0")``         1
``vcovHC(type="HC1")``         n / (n - k)
``vcovCL(type="HC0")``         G / (G - 1)                      (Stata's ML ``vce(cluster)``)
``vcovCL(type="HC1")``         G / (G - 1) · (n - 1) / (n - k)  (Stata's ``regress``)
survreg / coxph ``cluster()``  1                                 (``correction="none"``)
=============================  ===========================================================

(k = number of estimated parameters, columns of ``S``; n = rows of ``S``; G = number of
clusters.) Two-way clustering is Cameron, Gelbach & Miller (2011) ``V1 + V2 - V12`` with, as
in ``sandwich::meatCL`` (``multi0 = FALSE``), each of the three meats carrying its *own*
``G_j / (G_j - 1)`` and the HC1 factor ``(n - 1)/(n - k)`` applied once to the total.

All functions are pure: arrays in, arrays out; names (terms) are handled by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as _sparse

__all__ = [
    "meat",
    "sandwich",
    "vcov_hc",
    "vcov_cluster",
    "vcov_dyadic",
    "cluster_bootstrap",
    "BootstrapDraws",
    "n_clusters",
    "se",
]

HCKind = Literal["HC0", "HC1"]
ClusterCorrection = Literal["HC0", "HC1", "none"]
DyadicCorrection = Literal["none", "nodes"]


def _as_2d(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-d array (observations × parameters), got ndim={s.ndim}")
    return s


def _check_bread(bread: np.ndarray, k: int) -> np.ndarray:
    b = np.atleast_2d(np.asarray(bread, dtype=float))
    if b.shape != (k, k):
        raise ValueError(f"bread has shape {b.shape} but scores have {k} columns; expected ({k}, {k})")
    return b


def sandwich(*, bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """Return ``bread @ meat @ bread'``, symmetrised."""
    v = bread @ meat @ bread.T
    return (v + v.T) / 2.0


def meat(scores: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Outer product of (cluster-summed) scores, ``Σ_g s_g s_g'`` with no correction.

    Parameters
    ----------
    scores
        ``(n, k)`` per-observation score contributions.
    groups
        Optional length-n cluster labels (any hashable dtype). ``None`` means every
        observation is its own cluster (the HC0 meat ``S'S``).
    """
    s = _as_2d(scores)
    if groups is None:
        return s.T @ s
    codes = _codes(groups, s.shape[0])
    summed = _sum_by(s, codes)
    return summed.T @ summed


def _codes(groups: object, n: int) -> np.ndarray:
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"cluster labels must be 1-d, got shape {g.shape}")
    if g.shape[0] != n:
        raise ValueError(
            f"cluster labels have {g.shape[0]} rows but the estimation sample has {n}; "
            "pass the labels of the rows actually used in the fit"
        )
    if pd.isna(pd.Series(g)).any():
        raise ValueError("cluster labels contain missing values; drop those rows before fitting")
    codes, _ = pd.factorize(g, sort=False)
    return codes


def _sum_by(s: np.ndarray, codes: np.ndarray) -> np.ndarray:
    # a 0/1 cluster-by-row sparse matrix times the scores: one pass over the rows, each cluster's
    # sum taken in row order (the same sums as np.add.at, an order of magnitude faster)
    ng = int(codes.max()) + 1 if codes.size else 0
    n = codes.size
    indicator = _sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(ng, n))
    return np.asarray(indicator @ np.ascontiguousarray(s))


def n_clusters(groups: object) -> int:
    """Number of distinct labels in ``groups``."""
    return int(pd.Series(np.asarray(groups)).nunique(dropna=False))


def vcov_hc(
    *,
    bread: np.ndarray,
    scores: np.ndarray,
    kind: HCKind = "HC0",
    n: int | None = None,
    k: int | None = None,
) -> np.ndarray:
    """Heteroskedasticity-robust (White/Huber) covariance, as ``sandwich::vcovHC``.

    Parameters
    ----------
    bread
        ``(k, k)`` unscaled inverse information (the model covariance).
    scores
        ``(n, k)`` per-observation score contributions at the estimate.
    kind
        ``"HC0"``: ``B S'S B``. ``"HC1"``: ``n/(n-k)`` times HC0.
    n, k
        Override the sample size and parameter count used by HC1 (default: rows and
        columns of ``scores``).

    Notes
    -----
    For GLMs this equals ``sandwich::vcovHC(fit, type=...)`` when ``bread`` is the
    expected-information inverse ``(X'WX)^{-1}`` and ``scores`` are
    ``sandwich::estfun.glm`` (working residuals × working weights × X). statsmodels'
    Probit/cloglog robust SEs use the observed Hessian instead and differ (reference README
    rule 6).
    """
    s = _as_2d(scores)
    b = _check_bread(bread, s.shape[1])
    n = s.shape[0] if n is None else int(n)
    k = s.shape[1] if k is None else int(k)
    v = sandwich(bread=b, meat=s.T @ s)
    if kind == "HC0":
        return v
    if kind == "HC1":
        if n <= k:
            raise ValueError(f"HC1 needs n > k, got n={n}, k={k}")
        return v * (n / (n - k))
    raise ValueError(f"unknown HC kind {kind!r}; valid: 'HC0', 'HC1'")


def _normalise_groups(groups: object, n: int) -> list[np.ndarray]:
    if isinstance(groups, pd.DataFrame):
        cols = [groups.iloc[:, j].to_numpy() for j in range(groups.shape[1])]
    elif isinstance(groups, (list, tuple)):
        cols = [np.asarray(g) for g in groups]
    else:
        arr = np.asarray(groups)
        if arr.ndim == 1:
            cols = [arr]
        elif arr.ndim == 2:
            cols = [arr[:, j] for j in range(arr.shape[1])]
        else:
            raise ValueError(f"groups must be 1-d, 2-d, or a sequence of 1-d arrays; got shape {arr.shape}")
    if not 1 <= len(cols) <= 2:
        raise ValueError(f"one- or two-way clustering only; got {len(cols)} cluster variables")
    return [_codes(c, n) for c in cols]


def vcov_cluster(
    *,
    bread: np.ndarray,
    scores: np.ndarray,
    groups: object,
    correction: ClusterCorrection = "HC1",
    k: int | None = None,
) -> np.ndarray:
    """Cluster-robust covariance, one- or two-way, as ``sandwich::vcovCL``.

    Parameters
    ----------
    bread
        ``(k, k)`` unscaled inverse information (the model covariance).
    scores
        ``(n, k)`` per-observation score contributions.
    groups
        Length-n cluster labels (one-way), or two of them as a tuple/list, an ``(n, 2)``
        array or a two-column DataFrame (two-way).
    correction
        ``"HC1"`` (default, ``vcovCL(type="HC1")``): ``G/(G-1) · (n-1)/(n-k)``.
        ``"HC0"`` (``vcovCL(type="HC0")``, Stata's ML ``vce(cluster)``): ``G/(G-1)``.
        ``"none"``: no factor at all (survreg/coxph ``cluster()``, statsmodels
        ``use_correction=False``).
    k
        Parameter count for the HC1 factor (default: columns of ``scores``).

    Notes
    -----
    Two-way (Cameron, Gelbach & Miller 2011, eq. 2.13):
    ``V = V_1 + V_2 - V_12`` where ``V_12`` clusters on the intersection of the two
    variables. Matching ``sandwich::meatCL(multi0=FALSE)``, each term carries its own
    ``G_j/(G_j-1)`` (unless ``correction="none"``) and ``(n-1)/(n-k)`` multiplies the total
    for HC1. The result need not be positive semi-definite; it is returned as computed
    (R's ``fix=FALSE``).
    """
    s = _as_2d(scores)
    n, kk = s.shape
    b = _check_bread(bread, kk)
    k = kk if k is None else int(k)
    if correction not in ("HC0", "HC1", "none"):
        raise ValueError(f"unknown cluster correction {correction!r}; valid: 'HC1', 'HC0', 'none'")
    codes = _normalise_groups(groups, n)
    if len(codes) == 2:
        inter = pd.factorize(pd.MultiIndex.from_arrays(codes), sort=False)[0]
        parts = [(codes[0], 1.0), (codes[1], 1.0), (inter, -1.0)]
    else:
        parts = [(codes[0], 1.0)]
    m = np.zeros((kk, kk))
    for c, sign in parts:
        g = int(c.max()) + 1
        summed = _sum_by(s, c)
        adj = 1.0
        if correction != "none":
            if g < 2:
                raise ValueError("cluster-robust variance needs at least 2 clusters; got 1")
            adj = g / (g - 1.0)
        m += sign * adj * (summed.T @ summed)
    if correction == "HC1":
        if n <= k:
            raise ValueError(f"HC1 needs n > k, got n={n}, k={k}")
        m *= (n - 1.0) / (n - k)
    return sandwich(bread=b, meat=m)


def vcov_dyadic(
    *,
    bread: np.ndarray,
    scores: np.ndarray,
    node_a: object,
    node_b: object,
    correction: DyadicCorrection = "none",
) -> np.ndarray:
    """Dyadic-robust covariance of Aronow, Samii & Assenova (2015).

    Two observations (dyads) are dependent whenever they share a member, so the meat is
    ``Σ_{d, d'} 1[{a_d, b_d} ∩ {a_d', b_d'} ≠ ∅] s_d s_d'`` (diagonal included; repeated
    observations of the same pair, e.g. a dyad-year panel or both directions of a directed
    dyad, are dependent too).

    Parameters
    ----------
    bread
        ``(k, k)`` unscaled inverse information (the model covariance).
    scores
        ``(n, k)`` per-observation (per-dyad) score contributions.
    node_a, node_b
        Length-n labels of the two members of each dyad (e.g. ``ccode1``, ``ccode2``).
        Order within a dyad does not matter. A dyad whose two members are equal is an error.
    correction
        ``"none"`` (default): the estimator as published. ``"nodes"``: multiply by
        ``N/(N-1)`` with N the number of distinct nodes, the analogue of ``G/(G-1)`` with
        nodes as clusters (Cameron & Miller 2014).

    Notes
    -----
    Computed in O(n·k²) as

    ``M = Σ_i S_i S_i' - Σ_p S_p S_p'``

    where ``S_i`` sums the scores of all dyads containing node i and ``S_p`` those of the
    unordered pair p. A pair (d, d') sharing exactly one node is counted once by the first
    term; a pair of observations of the same unordered dyad (including d = d') is counted
    twice by the first and once by the second.

    This satisfies the decomposition given by Aronow, Samii & Assenova (2015, Political
    Analysis 23(4), section 3, computing the estimator with ordinary cluster-robust routines),

    ``V_dyadic = Σ_{i=1}^{N} V_{C,i} - V_D - (N - 2) V_0``,

    with ``V_{C,i}`` the (uncorrected) cluster-robust variance that puts the dyads
    containing node i in one cluster and every other dyad in its own, ``V_D`` the cluster
    variance by unordered dyad, and ``V_0`` HC0; and, when every node belongs to exactly
    one dyad, ``V_dyadic = V_D``. Both identities are tested in ``tests/core/test_sandwich.py``.
    """
    s = _as_2d(scores)
    n, kk = s.shape
    b = _check_bread(bread, kk)
    a = np.asarray(node_a)
    c = np.asarray(node_b)
    if a.shape != (n,) or c.shape != (n,):
        raise ValueError(
            f"node_a and node_b must have one label per observation ({n}); got {a.shape} and {c.shape}"
        )
    if correction not in ("none", "nodes"):
        raise ValueError(f"unknown dyadic correction {correction!r}; valid: 'none', 'nodes'")
    both = pd.factorize(np.concatenate([a, c]), sort=False)[0]
    ia, ib = both[:n], both[n:]
    if np.any(ia == ib):
        bad = int(np.flatnonzero(ia == ib)[0])
        raise ValueError(
            f"dyad at row {bad} has the same node on both sides ({a[bad]!r}); "
            "dyadic-robust variance needs two distinct members per dyad"
        )
    n_nodes = int(both.max()) + 1
    node_sum = np.zeros((n_nodes, kk))
    np.add.at(node_sum, ia, s)
    np.add.at(node_sum, ib, s)
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    pair = pd.factorize(lo.astype(np.int64) * n_nodes + hi, sort=False)[0]
    pair_sum = _sum_by(s, pair)
    m = node_sum.T @ node_sum - pair_sum.T @ pair_sum
    if correction == "nodes":
        m *= n_nodes / (n_nodes - 1.0)
    return sandwich(bread=b, meat=m)


@dataclass(frozen=True, eq=False)
class BootstrapDraws:
    """Cluster-bootstrap replicates of a coefficient vector."""

    vcov: np.ndarray
    """Sample covariance (ddof=1) of the successful replicates."""
    draws: np.ndarray
    """``(n_success, k)`` replicate estimates, in draw order."""
    n_boot: int
    """Replicates requested."""
    n_failed: int
    """Replicates whose refit raised or returned non-finite values (dropped)."""
    n_clusters: int
    """Number of clusters resampled."""
    seed: int
    """Seed of ``numpy.random.default_rng`` used for the draws."""


def cluster_bootstrap(
    *,
    refit: Callable[[np.ndarray], np.ndarray],
    groups: object | None,
    n_obs: int,
    n_boot: int = 999,
    seed: int,
    max_failed_share: float = 0.05,
    catch: tuple[type[BaseException], ...] = (ArithmeticError, ValueError, np.linalg.LinAlgError),
) -> BootstrapDraws:
    """Pairs cluster bootstrap: resample whole clusters with replacement and refit.

    Parameters
    ----------
    refit
        ``refit(rows) -> coef``: fits the model on the rows ``rows`` (an int array of row
        positions of the estimation sample, with repeats; a cluster drawn twice appears
        twice) and returns the coefficient vector.
    groups
        Length-``n_obs`` cluster labels, or ``None`` for the i.i.d. (observation) bootstrap.
    n_obs
        Rows in the estimation sample.
    n_boot
        Number of replicates.
    seed
        Seed for ``numpy.random.default_rng``; the same seed, data and ``refit`` give
        identical draws.
    max_failed_share
        Raise ``RuntimeError`` if more than this share of replicates fail.
    catch
        Exception types from ``refit`` counted as a failed replicate; others propagate.

    Notes
    -----
    Cameron, Gelbach & Miller (2008), "pairs cluster bootstrap". The covariance is the
    sample covariance of the replicates with divisor ``B - 1`` (Stata's ``vce(bootstrap)``
    convention). Clusters are drawn in the order of first appearance of their labels, so
    the draws do not depend on how the labels sort.
    """
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    if groups is None:
        codes = np.arange(n_obs)
    else:
        codes = _codes(groups, n_obs)
    g = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(g + 1))
    members = [order[starts[j] : starts[j + 1]] for j in range(g)]
    rng = np.random.default_rng(seed)
    draws: list[np.ndarray] = []
    failed = 0
    for _ in range(n_boot):
        pick = rng.integers(0, g, size=g)
        rows = np.concatenate([members[j] for j in pick])
        try:
            est = np.asarray(refit(rows), dtype=float)
        except catch:
            failed += 1
            continue
        if not np.all(np.isfinite(est)):
            failed += 1
            continue
        draws.append(est)
    if failed > max_failed_share * n_boot or len(draws) < 2:
        raise RuntimeError(
            f"{failed} of {n_boot} bootstrap replicates failed to fit (limit {max_failed_share:.0%}); "
            "check for separation or too few clusters, or raise max_failed_share"
        )
    d = np.vstack(draws)
    v = np.atleast_2d(np.cov(d, rowvar=False, ddof=1))
    return BootstrapDraws(vcov=v, draws=d, n_boot=n_boot, n_failed=failed, n_clusters=g, seed=seed)


def se(vcov: np.ndarray) -> np.ndarray:
    """Standard errors ``sqrt(diag(vcov))``."""
    return np.sqrt(np.diag(np.asarray(vcov, dtype=float)))
