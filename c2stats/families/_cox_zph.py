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

from ._cox_engine import CoxFit, _aeq_surv, _seg_cumsum_padded, fit_matrix

__all__ = ["CoxZph", "ZphResiduals", "cox_zph", "scaled_schoenfeld"]


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


@dataclass(frozen=True)
class _ZphCore:
    keep: np.ndarray  # columns not aliased in the fit
    q: int  # number of kept columns
    ttimes: np.ndarray  # transformed time of every row
    xs: np.ndarray  # kept columns, centred and scaled (fit's internal scale), active-row order
    u_gamma: np.ndarray  # score of the time-interaction block
    imat: np.ndarray  # 2q x 2q information at (beta, gamma = 0), internal scale


def _transformed_times(stop, status, start, transform) -> np.ndarray:
    if transform == "identity":
        return stop
    if transform == "log":
        return np.log(stop)
    if transform == "rank":
        return stats.rankdata(stop, method="average")
    return _km_left(stop, status, start)


def _zph_core(fit: CoxFit, X, time, event, entry, transform) -> _ZphCore:
    x, rs, state = fit_matrix(fit, X)
    if transform not in ("km", "identity", "rank", "log"):
        raise ValueError(f"transform must be 'km', 'identity', 'rank' or 'log', got {transform!r}")
    stop = np.asarray(time, dtype=float)
    start = None if entry is None else np.asarray(entry, dtype=float)
    status = np.asarray(event).astype(bool)
    if fit._timefix:
        start, stop = _aeq_surv(start, stop, np.argsort(stop))
    ttimes = _transformed_times(stop, status, start, transform)
    gtime = ttimes - ttimes[status].mean()

    keep = ~fit.aliased
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
    return _ZphCore(keep=keep, q=q, ttimes=ttimes, xs=xs, u_gamma=u_gamma, imat=imat)


def _kept_terms(terms: dict[str, list[int]] | None, keep: np.ndarray, X) -> dict[str, list[int]]:
    """Term -> kept column positions (aliased columns dropped and the rest renumbered, as R)."""
    p = keep.size
    if terms is None:
        terms = {f"x{j}": [j] for j in range(p)}
    new_index = np.cumsum(keep) - 1
    out = {}
    for name, cols in terms.items():
        cols = [int(new_index[c]) for c in cols if keep[c]]
        if cols:
            out[name] = cols
    return out


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``solve(a, b)`` refusing, as R's ``solve``, a system whose reciprocal condition number is below
    machine epsilon ("system is computationally singular"), where numpy would return noise.

    Raises
    ------
    numpy.linalg.LinAlgError
        Singular or computationally singular ``a``.
    """
    x = np.linalg.solve(a, b)
    rcond = 1.0 / np.linalg.cond(a, 1) if a.size else 1.0
    if not rcond >= np.finfo(float).eps:
        raise np.linalg.LinAlgError(f"system is computationally singular: reciprocal condition number = {rcond:.3g}")
    return x


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

    Raises
    ------
    numpy.linalg.LinAlgError
        When the information matrix of a test is (computationally) singular; R's ``cox.zph`` stops there too.

    Notes
    -----
    With ``g_k`` the centred transformed time of event group ``k``, the score for the
    interaction block is ``sum_k g_k sum_j w_kj (x_death - xbar_kj)`` and the information blocks
    are ``sum_k g_k^l sum_j w_kj V_kj`` for ``l = 0, 1, 2``; each is one weighted cross product
    over the rows, as in the fit.
    """
    core = _zph_core(fit, X, time, event, entry, transform)
    q, u_gamma, imat = core.q, core.u_gamma, core.imat
    term_cols = _kept_terms(terms, core.keep, X)

    names = list(term_cols)
    chisq, df = [], []
    for name in names:
        jj = np.asarray(term_cols[name])
        kk = np.concatenate([np.arange(q), jj + q])
        u = np.concatenate([np.zeros(q), u_gamma[jj]])
        chisq.append(float(_solve(imat[np.ix_(kk, kk)], u) @ u))
        df.append(len(jj))
    if global_test:
        u = np.concatenate([np.zeros(q), u_gamma])
        chisq.append(float(_solve(imat, u) @ u))
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


@dataclass(frozen=True)
class ZphResiduals:
    """Scaled Schoenfeld residuals as R's ``cox.zph(fit)$y`` (one row per event)."""

    terms: tuple[str, ...]
    """Term names (columns of ``y``)."""
    time: np.ndarray
    """Event time of each row (``$time``)."""
    x: np.ndarray
    """Transformed event time (``$x``), the abscissa of the residual plot."""
    strata: np.ndarray | None
    """Stratum label of each event (``$strata``), or None when unstratified."""
    y: np.ndarray
    """Scaled Schoenfeld residuals plus the coefficient (``$y``): an estimate of beta(t)."""
    var: np.ndarray
    """``$var``: inverse of the mean information per event (used for the smooth's band)."""
    transform: str
    """Time transform."""


def scaled_schoenfeld(
    fit: CoxFit,
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    entry: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    transform: Literal["km", "identity", "rank", "log"] = "km",
    terms: dict[str, list[int]] | None = None,
) -> ZphResiduals:
    """Scaled Schoenfeld residuals ``beta + r_i V^{-1}`` of R's ``cox.zph`` (survival >= 3.0).

    Parameters
    ----------
    fit, X, time, event, entry, transform, terms
        As :func:`cox_zph`.
    strata
        Stratum label of each row (the fit's strata), or None.

    Notes
    -----
    The Schoenfeld residual of a death is ``x_i - xbar(t_i)`` (under Efron ties ``xbar`` is the
    mean of the ``d`` partial risk-set means of the tied deaths, ``zph1.c``). Residuals are scaled
    by ``V``, the information matrix divided element-wise by the number of events that inform it
    (per stratum, only events of strata where the covariate varies count), and the coefficient is
    added (1 for a multi-column term, whose residual is first combined with the coefficients).
    Rows are ordered as R: by stratum (sorted labels), time, then row (right-censored data) or
    reverse row order ((start, stop] data, R's ``rev(order(-strata, -stop))``).
    """
    core = _zph_core(fit, X, time, event, entry, transform)
    rs, state = fit._risk, fit._state
    keep, q = core.keep, core.q
    x = np.asarray(X, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    status = np.asarray(event).astype(bool)
    scale = np.asarray(fit._scale, dtype=float)[keep]

    xbar = state.xbar[:, keep]
    if rs.efron:
        mbar = np.add.reduceat(xbar, rs.pair_starts, axis=0) / rs.n_death[:, None]
    else:
        mbar = xbar
    dp, dg = rs.death_pos, rs.death_group
    resid = (core.xs[dp] - mbar[dg]) / scale
    rows = rs.rows[dp]
    info = core.imat[:q, :q] / np.outer(scale, scale)  # xs = (x - center) * scale

    if strata is None:
        codes = np.zeros(x.shape[0], dtype=np.intp)
        labels = None
    else:
        labels, codes = np.unique(np.asarray(strata), return_inverse=True)
        codes = codes.ravel()
    stop = np.asarray(time, dtype=float)
    tie = -rows if entry is not None else rows
    order = np.lexsort((tie, stop[rows], codes[rows]))
    resid, rows = resid[order], rows[order]
    ev_codes = codes[rows]

    n_strata = int(codes.max()) + 1
    xk = x[:, keep]
    used = np.zeros((n_strata, q))
    for s in range(n_strata):
        in_s = codes == s
        varies = (xk[in_s] != xk[in_s][:1]).any(axis=0) if in_s.any() else np.zeros(q, bool)
        used[s] = np.where(varies, status[in_s].sum(), 0)
    wtmat = np.zeros((q, q))
    for s in range(n_strata):
        wtmat += np.minimum.outer(used[s], used[s])
    vmean = info / np.where(wtmat == 0, 1.0, wtmat)

    term_cols = _kept_terms(terms, keep, X)
    names = list(term_cols)
    coef = np.asarray(fit.coef, dtype=float)[keep]
    multi = any(len(c) > 1 for c in term_cols.values())
    if multi:
        temp = np.zeros((q, len(names)))
        for i, name in enumerate(names):
            jj = term_cols[name]
            temp[jj, i] = 1.0 if len(jj) == 1 else coef[jj]
        resid = resid @ temp
        vmean = temp.T @ vmean @ temp
        used = used[:, [term_cols[name][0] for name in names]]
    else:
        resid = resid[:, [term_cols[name][0] for name in names]]
        idx = [term_cols[name][0] for name in names]
        vmean = vmean[np.ix_(idx, idx)]
        used = used[:, idx]
    y = np.full_like(resid, np.nan)
    for s in range(n_strata):
        kk = np.flatnonzero(used[s] > 0)
        ev = ev_codes == s
        if kk.size and ev.any():
            y[np.ix_(ev, kk)] = np.linalg.solve(vmean[np.ix_(kk, kk)], resid[np.ix_(ev, kk)].T).T
    for i, name in enumerate(names):
        jj = term_cols[name]
        y[:, i] += coef[jj[0]] if len(jj) == 1 else 1.0
    return ZphResiduals(
        terms=tuple(names),
        time=stop[rows],
        x=core.ttimes[rows],
        strata=None if labels is None else labels[ev_codes],
        y=y,
        var=np.linalg.inv(vmean),
        transform=transform,
    )
