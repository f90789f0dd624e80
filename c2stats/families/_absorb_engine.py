"""Absorbing fixed effects: within-group demeaning by alternating projections (fixest's ``|``).

By the Frisch-Waugh-Lovell theorem the slope estimates of ``y ~ x | fe1 + fe2`` equal those of the
regression with a dummy for every level, and so do the residuals; the sandwich of the slopes is the
slope block of the dummy regression's sandwich when the scores use the demeaned covariates. What
differs between R (``lm`` with factor dummies), fixest and Stata is only how many parameters the
fixed effects count for in small-sample factors (see :func:`fe_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FixedEffects:
    """Integer codes of each absorbed column on the estimation sample."""

    columns: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    n_levels: tuple[int, ...]


def fixed_effects(frame: pd.DataFrame, columns: tuple[str, ...]) -> FixedEffects:
    """Codes 0..L-1 of every absorbed column (missing values were dropped by ``prepare``)."""
    codes = tuple(pd.factorize(frame[c], sort=True)[0].astype(np.intp) for c in columns)
    return FixedEffects(tuple(columns), codes, tuple(int(c.max()) + 1 if c.size else 0 for c in codes))


def _group_means(M: np.ndarray, code: np.ndarray, w: np.ndarray, wsum: np.ndarray) -> np.ndarray:
    sums = np.zeros((wsum.size, M.shape[1]))
    np.add.at(sums, code, M * w[:, None])
    return sums / wsum[:, None]


def demean(M: np.ndarray, fe: FixedEffects, weights: np.ndarray | None = None, *, tol: float = 1e-14,
           max_iter: int = 100_000) -> tuple[np.ndarray, int]:
    """Columns of ``M`` with every fixed effect projected out (weighted), and the sweeps it took.

    One fixed effect is exact in one sweep; with several, sweeps repeat until no entry moves by
    more than ``tol`` times the column's scale (alternating projections, Gaure 2013).
    """
    M = np.array(M, dtype=float, copy=True)
    if M.ndim == 1:
        M = M[:, None]
    w = np.ones(M.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    wsums = [np.bincount(code, weights=w, minlength=L) for code, L in zip(fe.codes, fe.n_levels)]
    scale = np.maximum(np.abs(M).max(axis=0), 1.0) if M.size else np.ones(M.shape[1])
    for sweep in range(1, max_iter + 1):
        moved = 0.0
        for code, wsum in zip(fe.codes, wsums):
            means = _group_means(M, code, w, wsum)
            M -= means[code]
            moved = max(moved, float(np.max(np.abs(means) / scale)) if means.size else 0.0)
        if len(fe.codes) == 1 or moved <= tol:
            return M, sweep
    raise RuntimeError(f"demeaning did not converge in {max_iter} sweeps (last change {moved:.2e})")


def nested(code: np.ndarray, clusters: np.ndarray) -> bool:
    """Whether every level of a fixed effect lies within one cluster (fixest's "nested")."""
    pairs = pd.DataFrame({"fe": code, "cl": pd.factorize(clusters)[0]}).drop_duplicates()
    return bool(pairs["fe"].is_unique)


def fe_parameters(fe: FixedEffects, *, exact: bool = True, exclude: tuple[int, ...] = ()) -> int:
    """How many free parameters the fixed effects are.

    ``exact``: the rank of the dummy matrix of all fixed effects (what ``lm`` with factor dummies
    estimates): the levels of each, less one per further fixed effect for every connected component
    of the levels they share (exact for one or two fixed effects; with three or more, each further
    fixed effect is counted as regular). Otherwise fixest's default (``fixef.force_exact = FALSE``):
    the first fixed effect's levels and each further one's levels less one. ``exclude`` drops
    fixed effects by position (fixest's ``fixef.K = "nested"``: those nested in the clusters).
    """
    kept = [i for i in range(len(fe.codes)) if i not in exclude]
    if not kept:
        return 0
    total = sum(fe.n_levels[i] for i in kept)
    if len(kept) == 1:
        return total
    if exact and len(kept) >= 2:
        first, second = kept[0], kept[1]
        redundant = _components(fe.codes[first], fe.codes[second], fe.n_levels[first], fe.n_levels[second])
        return total - redundant - (len(kept) - 2)
    return total - (len(kept) - 1)


def _components(a: np.ndarray, b: np.ndarray, na: int, nb: int) -> int:
    """Connected components of the bipartite graph of levels of ``a`` and ``b`` that share a row."""
    parent = np.arange(na + nb)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y in set(zip(a.tolist(), (b + na).tolist())):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[rx] = ry
    return len({find(i) for i in range(na + nb)})
