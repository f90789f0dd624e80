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

from ._cox_engine import CoxFit, _aeq_surv, _blocks, _seg_cumsum_padded, fit_matrix

__all__ = ["CoxZph", "ZphResiduals", "cox_zph", "cox_zph_residuals", "scaled_schoenfeld"]


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
    tt_death: np.ndarray  # transformed time of every death (the fit's death order)
    xs_death: np.ndarray  # kept columns of the deaths, centred and scaled (fit's internal scale)
    u_gamma: np.ndarray  # score of the time-interaction block
    imat: np.ndarray  # 2q x 2q information at (beta, gamma = 0), internal scale (q x q when blocks=1)


def _transformed_times(stop, status, start, transform) -> np.ndarray:
    if transform == "identity":
        return stop
    if transform == "log":
        return np.log(stop)
    if transform == "rank":
        return stats.rankdata(stop, method="average")
    return _km_left(stop, status, start)


def _death_ttimes(fit: CoxFit, rs, time, event, entry, transform) -> np.ndarray:
    """Transformed time of each death, in the fit's death order.

    Only deaths enter the test, so identity and log use the fit's (merged) event times and the
    default 'km' transform of an unstratified fit comes from the fit's own risk-set counts
    (every row at risk at an event time is in the fit's risk sets): O(events). 'rank' and a
    stratified 'km' (pooled over strata, so rows outside their stratum's risk sets count) need
    every row's merged time.
    """
    dg = rs.death_group
    if transform == "identity":
        return rs.group_time[dg]
    if transform == "log":
        return np.log(rs.group_time[dg])
    if transform == "km" and fit._stratum_values.size == 1:
        surv = np.cumprod(1.0 - rs.n_death / rs.n_risk)
        return 1.0 - np.concatenate([[1.0], surv[:-1]])[dg]
    stop = np.asarray(time, dtype=float)
    start = None if entry is None else np.asarray(entry, dtype=float)
    status = np.asarray(event).astype(bool)
    if fit._timefix:
        start, stop = _aeq_surv(start, stop, np.argsort(stop))
    return _transformed_times(stop, status, start, transform)[rs.rows[rs.death_pos]]


def _zph_core(fit: CoxFit, X, time, event, entry, transform, blocks: int = 3) -> _ZphCore:
    x, rs, state = fit_matrix(fit, X)
    if transform not in ("km", "identity", "rank", "log"):
        raise ValueError(f"transform must be 'km', 'identity', 'rank' or 'log', got {transform!r}")
    tt_death = _death_ttimes(fit, rs, time, event, entry, transform)
    # centre at the mean over events in row order (R's mean(ttimes[event]))
    gmean = tt_death[np.argsort(rs.rows[rs.death_pos], kind="stable")].mean()

    keep = ~fit.aliased
    center, scale = fit._center, fit._scale
    xbar = state.xbar[:, keep]
    q = int(keep.sum())
    xs_death = ((x[rs.rows[rs.death_pos]] - center) * scale)[:, keep]

    # g per event group: every death row of a group has the same (fixed) stop time
    g_group = np.empty(rs.group_time.size)
    g_group[rs.death_group] = tt_death - gmean
    g_pair = g_group[rs.pair_group]
    wt = rs.pair_wt
    wd = rs.death_weights
    u_gamma = (wd * g_group[rs.death_group]) @ xs_death - xbar.T @ (wt * g_pair)

    # information blocks sum_k g_k^l sum_j w_kj V_kj (l < blocks): one streamed pass over the rows,
    # with per-row weights from per-group prefix sums, as the fit's own information
    h = wt / state.den
    k = rs.group_time.size
    seg = (rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    powers = [g_pair**power for power in range(blocks)]
    fa = [_seg_cumsum_padded(np.bincount(rs.pair_group, h * gl, minlength=k), *seg) for gl in powers]
    fb = [np.bincount(rs.pair_group, h * gl * rs.pair_f, minlength=k) for gl in powers] if rs.efron else []
    out = [np.zeros((q, q)) for _ in powers]
    dpos = rs.death_pos
    for s, e in _blocks(rs.rows.size, x.shape[1]):
        xc = ((x[rs.rows[s:e]] - center) * scale)[:, keep]
        r = np.exp(state.eta[s:e])
        if not rs.unit_weights:
            r = rs.weights[s:e] * r
        hr, lr = rs.hi_ref[s:e], rs.lo_ref[s:e]
        d0, d1 = np.searchsorted(dpos, (s, e))
        for i in range(blocks):
            c = fa[i][hr] - fa[i][lr]
            if rs.efron:
                c[dpos[d0:d1] - s] -= fb[i][rs.death_group[d0:d1]]
            c *= r
            out[i] += (xc * c[:, None]).T @ xc
    for i, gl in enumerate(powers):
        out[i] -= (xbar * (wt * gl)[:, None]).T @ xbar
    imat = out[0] if blocks == 1 else np.block([[out[0], out[1]], [out[1], out[2]]])
    return _ZphCore(keep=keep, q=q, tt_death=tt_death, xs_death=xs_death, u_gamma=u_gamma, imat=imat)


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
    return _test_from_core(core, X, transform=transform, terms=terms, global_test=global_test)


def _test_from_core(core: _ZphCore, X, *, transform: str, terms, global_test: bool) -> CoxZph:
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
    core = _zph_core(fit, X, time, event, entry, transform, blocks=1)
    return _residuals_from_core(fit, core, X, time, event, entry=entry, strata=strata, transform=transform, terms=terms)


def _residuals_from_core(fit: CoxFit, core: _ZphCore, X, time, event, *, entry, strata, transform: str, terms) -> ZphResiduals:
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
    resid = (core.xs_death - mbar[dg]) / scale
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
    resid, rows, tt = resid[order], rows[order], core.tt_death[order]
    ev_codes = codes[rows]

    n_strata = int(codes.max()) + 1
    # per stratum: its number of events where the column varies within the stratum, else 0
    kept_cols = np.flatnonzero(keep)
    if n_strata == 1:
        varies = np.array([bool((x[:, j] != x[0, j]).any()) for j in kept_cols], dtype=bool).reshape(1, -1)
    else:
        first = np.full(n_strata, x.shape[0], dtype=np.intp)
        np.minimum.at(first, codes, np.arange(x.shape[0]))
        first_row = first[codes]
        varies = np.column_stack(
            [np.bincount(codes, weights=x[:, j] != x[first_row, j], minlength=n_strata) > 0 for j in kept_cols]
        ).reshape(n_strata, q)
    n_ev = np.bincount(codes, weights=status, minlength=n_strata)
    used = np.where(varies, n_ev[:, None], 0)
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
        x=tt,
        strata=None if labels is None else labels[ev_codes],
        y=y,
        var=np.linalg.inv(vmean),
        transform=transform,
    )


def cox_zph_residuals(
    fit: CoxFit,
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    entry: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    transform: Literal["km", "identity", "rank", "log"] = "km",
    terms: dict[str, list[int]] | None = None,
    global_test: bool = True,
    residuals: bool = True,
) -> tuple[CoxZph, ZphResiduals | None]:
    """:func:`cox_zph` and (``residuals=True``) :func:`scaled_schoenfeld` from one pass over the rows.

    The residuals need only the first information block of the test, so computing both together
    costs one streamed pass instead of two. Arguments are those of the two functions.

    Returns
    -------
    tuple
        The test, and the residuals or None (not asked for, or their information matrix is
        singular: :func:`scaled_schoenfeld` would raise ``LinAlgError`` there while the test stands).

    Raises
    ------
    numpy.linalg.LinAlgError
        When the test's information matrix is (computationally) singular, as :func:`cox_zph`.
    """
    core = _zph_core(fit, X, time, event, entry, transform)
    test = _test_from_core(core, X, transform=transform, terms=terms, global_test=global_test)
    resid = None
    if residuals:
        try:
            resid = _residuals_from_core(fit, core, X, time, event, entry=entry, strata=strata,
                                         transform=transform, terms=terms)
        except np.linalg.LinAlgError:
            resid = None
    return test, resid
