"""Proportional-hazards test of a Cox fit, as R's ``survival::cox.zph`` (survival >= 3.0).

The test is the exact score test of ``gamma = 0`` in the expanded model with covariates
``X`` and ``X * g(t)`` (``g`` the transformed, centred event time), evaluated at the fitted
``beta`` with ``gamma = 0``, using the full ``2p x 2p`` information matrix and the fit's tie
method (Efron partial risk sets under Efron ties). lifelines' and pre-2019 survival's
approximation (scaled Schoenfeld residuals with ``var(beta)``) is *not* what is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from ._cox_engine import CoxFit, _aeq_surv, _seg_cumsum_padded

__all__ = ["CoxZph", "cox_zph"]


@dataclass(frozen=True)
class CoxZph:
    """Result of :func:`cox_zph`: one row per term, then the global test."""

    terms: tuple[str, ...]
    """Term names, in table order (without 'GLOBAL')."""
    chisq: np.ndarray
    """Score statistic per term (and, last, the global one when computed)."""
    df: np.ndarray
    """Degrees of freedom per row."""
    p_value: np.ndarray
    """Upper-tail chi-square p-values."""
    transform: str
    """Time transform used ('km', 'identity', 'rank' or 'log')."""
    has_global: bool
    """Whether the last row is the global test."""

    def as_dict(self) -> dict:
        """``{'terms': {name: {chisq, df, p}}, 'global': {...}}`` like golden.json's cox_zph."""
        out = {"terms": {}}
        for i, name in enumerate(self.terms):
            out["terms"][name] = {"chisq": float(self.chisq[i]), "df": int(self.df[i]), "p": float(self.p_value[i])}
        if self.has_global:
            out["global"] = {"chisq": float(self.chisq[-1]), "df": int(self.df[-1]), "p": float(self.p_value[-1])}
        return out


def _km_left(stop: np.ndarray, event: np.ndarray, entry: np.ndarray | None) -> np.ndarray:
    """``1 - S(t-)`` at each row's stop time, S the pooled unweighted Kaplan-Meier (survfitKM)."""
    ev_times, d = np.unique(stop[event], return_counts=True)
    n = stop.size
    at_risk = n - np.searchsorted(np.sort(stop), ev_times, side="left")
    if entry is not None:
        at_risk = at_risk - (n - np.searchsorted(np.sort(entry), ev_times, side="left"))
    surv = np.cumprod(1.0 - d / at_risk)
    # S(t-) = S at the last event time strictly before t (findInterval(..., left.open=TRUE))
    idx = np.searchsorted(ev_times, stop, side="left")
    return 1.0 - np.concatenate([[1.0], surv])[idx]


def cox_zph(
    fit: CoxFit,
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    entry: np.ndarray | None = None,
    transform: Literal["km", "identity", "rank", "log"] = "km",
    terms: dict[str, list[int]] | None = None,
    global_test: bool = True,
) -> CoxZph:
    """Test proportional hazards for each term and globally (R's ``cox.zph(fit, transform)``).

    Parameters
    ----------
    fit
        The :func:`~c2stats.families._cox_engine.fit_cox` result for these data.
    X, time, event, entry
        The covariates and survival data the fit was computed from (same rows, same order).
    transform
        Time transform: 'km' (1 - left-continuous pooled Kaplan-Meier, R's default), 'identity',
        'rank' (average ranks of all stop times) or 'log'.
    terms
        Term name -> column indices, for multi-column terms (e.g. factor dummies); default one
        term per column named ``x0, x1, ...``.
    global_test
        Append the global test over all columns.

    Notes
    -----
    With ``g_k`` the centred transformed time of event group ``k``, the score for the
    interaction block is ``sum_k g_k sum_j w_kj (x_death - xbar_kj)`` and the information blocks
    are ``sum_k g_k^l sum_j w_kj V_kj`` for ``l = 0, 1, 2``; each is one weighted cross product
    over the rows, as in the fit.
    """
    rs, state = fit._risk, fit._state
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if rs is None or state is None or x.shape[0] != rs.n:
        raise ValueError(f"X has {x.shape[0]} rows but the fit has {fit.n}")
    if transform not in ("km", "identity", "rank", "log"):
        raise ValueError(f"transform must be 'km', 'identity', 'rank' or 'log', got {transform!r}")
    stop = np.asarray(time, dtype=float)
    start = None if entry is None else np.asarray(entry, dtype=float)
    status = np.asarray(event).astype(bool)
    if fit._timefix:
        start, stop = _aeq_surv(start, stop, np.argsort(stop))
    if transform == "identity":
        ttimes = stop
    elif transform == "log":
        ttimes = np.log(stop)
    elif transform == "rank":
        ttimes = stats.rankdata(stop, method="average")
    else:
        ttimes = _km_left(stop, status, start)
    gtime = ttimes - ttimes[status].mean()

    p = x.shape[1]
    keep = ~fit.aliased
    if terms is None:
        terms = {f"x{j}": [j] for j in range(p)}
    # drop aliased columns, renumbering the kept ones (R drops NA coefficients)
    new_index = np.cumsum(keep) - 1
    term_cols = {}
    for name, cols in terms.items():
        cols = [new_index[c] for c in cols if keep[c]]
        if cols:
            term_cols[name] = cols
    xs = (x[rs.rows] - fit._center) * fit._scale
    xs = xs[:, keep]
    xbar = state.xbar[:, keep]
    q = xs.shape[1]

    # g per event group: every death row of a group has the same (fixed) stop time
    g_group = np.empty(rs.group_time.size)
    g_group[rs.death_group] = gtime[rs.rows[rs.death_pos]]
    g_pair = g_group[rs.pair_group]
    wt = rs.pair_wt
    wd = rs.weights[rs.death_pos]
    u_gamma = (wd * g_group[rs.death_group]) @ xs[rs.death_pos] - xbar.T @ (wt * g_pair)

    h = wt / state.den
    r = rs.weights * np.exp(state.eta)
    k = rs.group_time.size
    blocks = []
    for power in range(3):
        gl = g_pair**power
        a = np.bincount(rs.pair_group, h * gl, minlength=k)
        fa = _seg_cumsum_padded(a, rs.seg_starts, rs.seg_ends, rs.seg_of_group)
        c = fa[rs.hi_ref] - fa[rs.lo_ref]
        if rs.efron:
            b = np.bincount(rs.pair_group, h * gl * rs.pair_f, minlength=k)
            c[rs.death_pos] -= b[rs.death_group]
        c *= r
        blocks.append((xs * c[:, None]).T @ xs - (xbar * (wt * gl)[:, None]).T @ xbar)
    imat = np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])

    names = list(term_cols)
    chisq, df = [], []
    for name in names:
        jj = np.asarray(term_cols[name])
        kk = np.concatenate([np.arange(q), jj + q])
        u = np.concatenate([np.zeros(q), u_gamma[jj]])
        chisq.append(float(np.linalg.solve(imat[np.ix_(kk, kk)], u) @ u))
        df.append(len(jj))
    if global_test:
        u = np.concatenate([np.zeros(q), u_gamma])
        chisq.append(float(np.linalg.solve(imat, u) @ u))
        df.append(q)
    chisq_a, df_a = np.array(chisq), np.array(df)
    return CoxZph(
        terms=tuple(names),
        chisq=chisq_a,
        df=df_a,
        p_value=stats.chi2.sf(chisq_a, df_a),
        transform=transform,
        has_global=global_test,
    )
