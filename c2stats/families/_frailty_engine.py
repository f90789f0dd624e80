"""Shared-frailty Cox models exactly as R's ``coxph(Surv(...) ~ x + frailty(g))`` (survival 3.5-3).

:func:`fit_frailty_cox` returns a frozen :class:`FrailtyFit`. It follows survival's
``coxpenal.fit`` step by step:

* the inner loop is ``coxfit5_b`` (right-censored) or ``agfit5b`` (``(start, stop]``): Newton-Raphson
  on the penalised partial likelihood in the coefficients and the group frailties together, with
  coxfit5's step halving and its convergence test ``|1 - plik_old/plik_new| <= eps``
  (``coxph.control()``: ``eps = 1e-9``, ``iter.max = 20``). With more than five groups R's frailty
  term is *sparse*: the frailty-by-frailty block of the information is replaced by its diagonal
  (and that diagonal, ``sum fbar (1 - fbar)`` over the event times, carries no case weight, as in
  the C code); with five groups or fewer the frailties are ordinary penalised columns (dense).
* the penalty is ``frailty.gamma``'s (``sum(exp(f) - f) / theta`` after recentring so that
  ``mean(exp(f)) = 1``) or ``frailty.gaussian``'s (``sum(f^2) / (2 theta)`` after centring).
* the outer loop over theta is ``frailty.controlgam`` (gamma, ``method = "em"``: maximise the
  marginal likelihood, the penalised partial likelihood plus ``frailty.gammacon``, over
  ``sqrt(theta)`` with ``frailty.brent``; ``eps = 1e-5``) or ``frailty.controlgauss`` (gaussian,
  ``method = "reml"``: solve ``sum(f^2) / (G - trace(H^-1_ff) / theta) = theta``), at most
  ``outer.max = 10`` rounds, each inner fit started from the fit of the closest theta so far.
* variances are ``coxpenal.df``'s: ``var`` is the coefficient block of the inverse of the
  (approximated) penalised information, ``var2`` the sandwich ``H^-1 I H^-1`` with the unpenalised
  information, ``df`` the per-term effective degrees of freedom (``AIC`` uses their sum).

Notes
-----
Risk-set sums use event-time windows: with event times grouped by stratum, a row is at risk at
the contiguous run of event times ``entry < t <= stop`` of its stratum, so every risk-set sum is
a reverse cumulative sum of +/- row contributions. The per-group risk sums form a dense
(event times x groups) matrix; memory grows with their product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ._cox_engine import _aeq_surv, _chinv2, _cholesky2, _chsolve2

__all__ = ["FrailtyFit", "fit_frailty_cox", "gamma_correction"]

_TOLER_CHOL = float(np.finfo(float).eps) ** 0.75


@dataclass(frozen=True)
class FrailtyFit:
    """A shared-frailty Cox fit (R ``coxph.penal`` conventions)."""

    coef: np.ndarray
    """Log hazard ratios of the covariates (NaN for a column found singular)."""
    vcov: np.ndarray
    """R's ``fit$var``: coefficient block of the inverse penalised information."""
    vcov2: np.ndarray
    """R's ``fit$var2``: the sandwich with the unpenalised information."""
    frailty: np.ndarray
    """Estimated log-frailty of each group (R's ``fit$frail``), in the order of ``groups``."""
    frailty_var: np.ndarray
    """Variance of each group's log-frailty (R's ``fit$fvar``)."""
    groups: np.ndarray
    """The sorted distinct group labels."""
    theta: float
    """Variance of the random effect (the theta of the last fit, as R prints it)."""
    distribution: str
    """'gamma' or 'gaussian'."""
    sparse: bool
    """True when the frailty term was sparse (more than five groups, R's default)."""
    loglik: float
    """Unpenalised partial log-likelihood at the estimates (R's ``loglik[2]``)."""
    loglik_null: float
    """Partial log-likelihood at zero coefficients and no frailty (R's ``loglik[1]``)."""
    loglik_penalised: float
    """Penalised partial log-likelihood (``loglik - penalty``)."""
    marginal_loglik: float | None
    """Gamma only: the marginal ('I-') likelihood R maximises over theta."""
    penalty: float
    """The penalty at the estimates."""
    df: np.ndarray
    """Effective degrees of freedom per term (covariate terms, then the frailty term)."""
    outer_iterations: int
    inner_iterations: int
    converged: bool
    """False when the outer loop ran out (outer.max) or the last inner fit ran out of iterations (iter.max)."""
    inner_failures: tuple[int, ...]
    """Outer iterations whose inner Newton loop hit iter.max (R's 'Inner loop failed' warning)."""
    history: np.ndarray = field(repr=False)
    """Theta history: R's ``history[[1]]$history`` (theta, then loglik/c.loglik or resid/fsum/trH)."""
    n_events: int = 0

    @property
    def se(self) -> np.ndarray:
        """Standard errors from ``vcov``."""
        return np.sqrt(np.clip(np.diag(self.vcov), 0, None))

    @property
    def aic(self) -> float:
        """R's ``AIC(fit)``: ``-2 loglik + 2 sum(df)``."""
        return float(-2 * self.loglik + 2 * np.sum(self.df))


def gamma_correction(d: np.ndarray, nu: float) -> float:
    """survival's ``frailty.gammacon``: marginal minus penalised likelihood of a gamma frailty.

    ``d`` holds the number of events of each group, ``nu = 1 / theta``.
    """
    d = np.asarray(d, dtype=float)
    maxd = int(d.max()) if d.size else 0
    if nu > 1e7 * maxd:
        term1 = float(np.sum(d * d)) / nu
    else:
        term1 = float(np.sum(d + nu * np.log(nu / (nu + d))))
    if maxd == 0:
        return term1
    di = d[d > 0].astype(int)
    tbl = np.bincount(di, minlength=maxd + 1)[1:]  # groups with exactly 1..maxd events
    ctbl = np.cumsum(tbl[::-1])[::-1]  # groups with at least 1..maxd events
    dlev = np.arange(1, maxd + 1)
    num = nu + np.repeat(dlev - 1, ctbl)
    den = nu + np.repeat(dlev, tbl * dlev)
    return term1 + float(np.sum(np.log(num)) - np.sum(np.log(den)))


def _brent(x: np.ndarray, y: np.ndarray, lower: float | None = None) -> float:
    """survival's ``frailty.brent``: next abscissa of a parabolic search for the maximum of y."""
    n = x.size
    if n < 3:
        return float(np.mean(x))
    ord_ = np.argsort(x, kind="stable")
    xx, yy = x[ord_], y[ord_]
    best = np.flatnonzero(yy == y.max())
    if best.size > 1:
        raise ValueError("frailty.brent: ties for the maximum of the likelihood")
    b = int(best[0])
    if b == 0:
        new = xx[0] - 3 * (xx[1] - xx[0])
        if lower is not None and new < lower:
            new = lower + (np.min(xx[xx > lower]) - lower) / 10
        return float(new)
    if b == n - 1:
        return float(xx[n - 1] + 3 * (xx[n - 1] - xx[n - 2]))
    xx, yy = xx[b - 1 : b + 2], yy[b - 1 : b + 2]
    t1 = (xx[1] - xx[0]) ** 2 * (yy[1] - yy[2]) - (xx[1] - xx[2]) ** 2 * (yy[1] - yy[0])
    t2 = (xx[1] - xx[0]) * (yy[1] - yy[2]) - (xx[1] - xx[2]) * (yy[1] - yy[0])
    new = xx[1] - 0.5 * t1 / t2
    # R compares with the unsorted x here (x[n], x[n-1], x[n-2]): kept as is
    if new < xx[0] or new > xx[2] or (n > 4 and (new - x[n - 1]) > 0.5 * abs(x[n - 2] - x[n - 3])):
        if (xx[1] - xx[0]) > (xx[2] - xx[1]):
            return float(xx[1] - 0.38 * (xx[1] - xx[0]))
        return float(xx[1] + 0.32 * (xx[2] - xx[1]))
    return float(new)


# --------------------------------------------------------------------------------------------
# risk sets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Risk:
    agg: sp.csr_matrix  # K x n: +1 at (last event group <= stop), -1 at (group before the first one)
    seg_starts: np.ndarray  # first event group of each stratum with events
    seg_ends: np.ndarray
    death_rows: np.ndarray  # rows with an event
    death_group: np.ndarray
    pair_group: np.ndarray  # one pair per (event group, j-th tied death)
    pair_f: np.ndarray  # Efron's j/d (0 for Breslow)
    wtave: np.ndarray  # mean death weight per event group
    deaths: sp.csr_matrix  # K x n: 1 at (event group, death row)
    n_groups_time: int


def _risk_sets(stop, event, entry, strata, efron: bool) -> _Risk:
    n = stop.size
    codes = np.zeros(n, dtype=np.intp) if strata is None else np.unique(strata, return_inverse=True)[1].ravel()
    ev = event.astype(bool)
    # event groups are the distinct (stratum, event time) pairs, as integer keys stratum * width + rank
    times = np.unique(stop[ev])
    width = times.size + 1
    keys = np.unique(codes[ev] * width + np.searchsorted(times, stop[ev], side="right"))
    k = keys.size
    s_k = keys // width
    n_strata = int(codes.max()) + 1
    first = np.searchsorted(s_k, np.arange(n_strata), side="left")
    last = np.searchsorted(s_k, np.arange(n_strata), side="right")  # one past
    # a row is at risk at the event groups of its stratum with entry < t <= stop
    hi = np.searchsorted(keys, codes * width + np.searchsorted(times, stop, side="right"), side="right") - 1
    if entry is None:
        lo = first[codes]
    else:
        lo = np.searchsorted(keys, codes * width + np.searchsorted(times, entry, side="right"), side="right")
    active = lo <= hi
    rows_a = np.flatnonzero(active)
    leaves = rows_a[lo[rows_a] > first[codes[rows_a]]]
    agg = sp.csr_matrix(
        (np.concatenate([np.ones(rows_a.size), -np.ones(leaves.size)]),
         (np.concatenate([hi[rows_a], lo[leaves] - 1]), np.concatenate([rows_a, leaves]))),
        shape=(k, n),
    )
    death_rows = np.flatnonzero(ev)
    death_group = hi[death_rows]
    n_death = np.bincount(death_group, minlength=k)
    pair_group = np.repeat(np.arange(k), n_death)
    starts = np.concatenate([[0], np.cumsum(n_death)[:-1]])
    j = np.arange(pair_group.size) - starts[pair_group]
    pair_f = j / n_death[pair_group] if efron else np.zeros(pair_group.size)
    deaths = sp.csr_matrix((np.ones(death_rows.size), (death_group, death_rows)), shape=(k, n))
    seg = np.flatnonzero(last > first)
    return _Risk(agg=agg, seg_starts=first[seg], seg_ends=last[seg], death_rows=death_rows,
                 death_group=death_group, pair_group=pair_group, pair_f=pair_f,
                 wtave=np.ones(k), deaths=deaths, n_groups_time=k)


def _rev_cumsum(a: np.ndarray, risk: _Risk) -> np.ndarray:
    out = np.empty_like(a)
    for s, e in zip(risk.seg_starts, risk.seg_ends):
        out[s:e] = np.cumsum(a[s:e][::-1], axis=0)[::-1]
    return out


@dataclass
class _Eval:
    plik: float
    u_b: np.ndarray
    u_f: np.ndarray
    h_bb: np.ndarray
    h_fb: np.ndarray  # G x p
    h_ff: np.ndarray  # G (sparse: diagonal) or G x G (dense)


def _evaluate(risk: _Risk, xs, gcode, n_groups, w, wtave, counting, beta, fb, dense: bool) -> _Eval:
    eta = xs @ beta + fb[gcode]
    eta = np.clip(eta, -200.0, 22.0)  # survival's coxsafe
    e = np.exp(eta)
    r = w * e
    k = risk.n_groups_time
    p = xs.shape[1]
    rx = r[:, None] * xs
    s0 = _rev_cumsum(risk.agg @ r, risk)
    s1 = _rev_cumsum(np.asarray(risk.agg @ rx).reshape(k, p), risk)
    dwt = r * w if counting else r  # agfit5 sums risk * weight for Efron's weight (as R)
    e0 = risk.deaths @ dwt
    e1 = np.asarray(risk.deaths @ rx).reshape(k, p)
    pg, f = risk.pair_group, risk.pair_f
    d2 = s0[pg] - f * e0[pg]
    xbar = (s1[pg] - f[:, None] * e1[pg]) / d2[:, None]
    wt = wtave[pg]
    dr = risk.death_rows
    plik = float(np.sum(w[dr] * eta[dr]) - np.sum(wt * np.log(d2)))
    u_b = w[dr] @ xs[dr] - xbar.T @ wt
    # c_i: each row's share of sum_pairs wtave / d2 (deaths: minus Efron's f part)
    h = wt / d2
    a = np.bincount(pg, h, minlength=k)
    b = np.bincount(pg, h * f, minlength=k)
    c = risk.agg.T @ _rev_cumsum_pad(a, risk)
    c[dr] -= b[risk.death_group]
    rc = r * c
    h_bb = (xs * rc[:, None]).T @ xs - (xbar * wt[:, None]).T @ xbar
    # per-group risk sums at each event time, then per pair
    gmat = sp.csr_matrix((r, (np.arange(r.size), gcode)), shape=(r.size, n_groups))
    a_g = _rev_cumsum((risk.agg @ gmat).toarray(), risk)
    fbar = a_g[pg] if pg.size != k else a_g  # pairs x G (no tied deaths: one pair per event time)
    tied = np.flatnonzero(f)
    if tied.size:  # Efron: only the 2nd.. of tied deaths see the deaths' risk downweighted
        a2_g = (risk.deaths @ gmat).tocsr()
        fbar[tied] -= f[tied, None] * a2_g[pg[tied]].toarray()
    fbar /= d2[:, None]
    u_f = np.bincount(gcode[dr], w[dr], minlength=n_groups) - np.bincount(gcode, rc, minlength=n_groups)
    h_fb = np.column_stack([np.bincount(gcode, rc * xs[:, j], minlength=n_groups) for j in range(p)]) \
        if p else np.zeros((n_groups, 0))
    h_fb = h_fb - fbar.T @ (xbar * wt[:, None])
    if dense:
        h_ff = np.diag(np.bincount(gcode, rc, minlength=n_groups)) - (fbar * wt[:, None]).T @ fbar
    else:
        h_ff = fbar.sum(axis=0) - np.einsum("ij,ij->j", fbar, fbar)  # coxfit5: no death weight on this diagonal
    return _Eval(plik, u_b, u_f, h_bb, h_fb, h_ff)


def _rev_cumsum_pad(a: np.ndarray, risk: _Risk) -> np.ndarray:
    """For each event group k: sum of a over groups k' <= k of its stratum... reversed windows.

    ``agg.T @`` this gives, per row, the sum of ``a`` over the event times at which it is at risk
    (the +1 at its last group picks the cumulative sum through it, the -1 removes those before).
    """
    out = np.empty_like(a)
    for s, e in zip(risk.seg_starts, risk.seg_ends):
        out[s:e] = np.cumsum(a[s:e])
    return out


# --------------------------------------------------------------------------------------------
# penalties (frailty.gamma / frailty.gaussian pfun)
# --------------------------------------------------------------------------------------------


def _penalty(fb: np.ndarray, theta: float, distribution: str):
    """Recentred frailties, first and second derivative of the penalty, penalty (None if theta=0)."""
    if theta == 0:
        return fb, None, None, 0.0
    if distribution == "gamma":
        fb = fb - np.log(np.mean(np.exp(fb)))
        nu = 1 / theta
        return fb, (np.exp(fb) - 1) * nu, np.exp(fb) * nu, float(-np.sum(fb) * nu)
    fb = fb - np.mean(fb)
    return fb, fb / theta, np.full(fb.size, 1 / theta), float(0.5 * np.sum(fb ** 2 / theta + np.log(2 * np.pi * theta)))


# --------------------------------------------------------------------------------------------
# linear algebra with cholesky3's conventions
# --------------------------------------------------------------------------------------------


def _abs_toler(diag: np.ndarray, toler: float) -> float:
    low = min(0.0, float(np.min(diag))) if diag.size else 0.0
    return toler if low == 0 else low * toler


def _ldl(mat: np.ndarray, eps_abs: float):
    top = float(np.max(np.diag(mat))) if mat.size else 0.0
    rel = eps_abs / top if top > 0 else eps_abs
    return _cholesky2(mat, toler=rel)


@dataclass
class _Solved:
    step_b: np.ndarray
    step_f: np.ndarray


def _newton_step(ev: _Eval, pen_ok: bool, dense: bool, toler: float) -> _Solved:
    p = ev.u_b.size
    if dense:
        full = np.block([[ev.h_ff, ev.h_fb], [ev.h_fb.T, ev.h_bb]])
        u = np.concatenate([ev.u_f, ev.u_b])
        chol, _ = _ldl(full, _abs_toler(np.diag(full), toler))
        s = _chsolve2(chol, u)
        g = ev.u_f.size
        return _Solved(s[g:], s[:g])
    dff = ev.h_ff
    eps = _abs_toler(np.concatenate([dff, np.diag(ev.h_bb)]), toler)
    ok = np.isfinite(dff) & (dff >= eps)
    inv = np.where(ok, 1 / np.where(ok, dff, 1), 0.0)
    l_fb = ev.h_fb * inv[:, None]
    schur = ev.h_bb - ev.h_fb.T @ l_fb
    y = ev.u_b - l_fb.T @ ev.u_f
    if p:
        chol, _ = _ldl(schur, eps)
        sb = _chsolve2(chol, y)
    else:
        sb = np.zeros(0)
    sf = (ev.u_f - ev.h_fb @ sb) * inv
    return _Solved(sb, sf)


def _inverse_blocks(ev: _Eval, dense: bool, toler: float):
    """Blocks of the (generalised) inverse of the penalised information: (bb, fb, diag ff, full ff|None)."""
    g = ev.u_f.size
    if dense:
        full = np.block([[ev.h_ff, ev.h_fb], [ev.h_fb.T, ev.h_bb]])
        chol, _ = _ldl(full, _abs_toler(np.diag(full), toler))
        inv = _chinv2(chol)
        return inv[g:, g:], inv[:g, g:], np.diag(inv[:g, :g]).copy(), inv
    dff = ev.h_ff
    eps = _abs_toler(np.concatenate([dff, np.diag(ev.h_bb)]), toler)
    ok = np.isfinite(dff) & (dff >= eps)
    dinv = np.where(ok, 1 / np.where(ok, dff, 1), 0.0)
    l_fb = ev.h_fb * dinv[:, None]
    schur = ev.h_bb - ev.h_fb.T @ l_fb
    if ev.u_b.size:
        chol, _ = _ldl(schur, eps)
        var = _chinv2(chol)
    else:
        var = np.zeros((0, 0))
    b = -l_fb @ var  # (H^-1)_fb
    fvar = dinv + np.einsum("gi,ij,gj->g", l_fb, var, l_fb)
    return var, b, fvar, None


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------


def fit_frailty_cox(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    group: np.ndarray,
    *,
    entry: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    distribution: Literal["gamma", "gaussian"] = "gamma",
    sparse: bool | None = None,
    assign: list[np.ndarray] | None = None,
    eps: float = 1e-9,
    max_iter: int = 20,
    outer_max: int = 10,
    toler_chol: float = _TOLER_CHOL,
    timefix: bool = True,
) -> FrailtyFit:
    """Fit ``coxph(Surv(...) ~ X + frailty(group))`` with R's defaults.

    Parameters
    ----------
    X
        Covariates, n x p (no intercept).
    time, event, entry
        Stop time, 0/1 event and, for ``(entry, time]`` data, the start time.
    group
        Frailty group of each row (any labels; sorted as R's ``factor`` does).
    strata, weights, ties
        As :func:`c2stats.families._cox_engine.fit_cox`.
    distribution
        'gamma' (``frailty.gamma``, method "em") or 'gaussian' (``frailty.gaussian``, method "reml").
    sparse
        Force the sparse (diagonal frailty block) or dense computation; R: sparse when more than
        five groups.
    assign
        Columns of each covariate term (for the per-term degrees of freedom); one per column by default.
    eps, max_iter, outer_max, toler_chol, timefix
        ``coxph.control`` settings (R's defaults).
    """
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    stop = np.asarray(time, dtype=float)
    status = np.asarray(event, dtype=float)
    start = None if entry is None else np.asarray(entry, dtype=float)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if distribution not in ("gamma", "gaussian"):
        raise ValueError(f"distribution must be 'gamma' or 'gaussian', got {distribution!r}")
    if not np.isin(status, (0, 1)).all() or not status.any():
        raise ValueError("event must be 0/1 with at least one event")
    if np.any(w <= 0):
        raise ValueError("weights must be > 0 (as R's coxph)")
    groups, gcode = np.unique(np.asarray(group), return_inverse=True)
    gcode = gcode.ravel().astype(np.intp)
    n_groups = groups.size
    dense = (n_groups <= 5) if sparse is None else not sparse
    if timefix:
        start, stop = _aeq_surv(start, stop, np.argsort(stop, kind="stable"))
    counting = start is not None
    risk = _risk_sets(stop, status, start, strata, ties == "efron")
    ev_bool = status.astype(bool)
    k = risk.n_groups_time
    wtave = np.bincount(risk.death_group, w[ev_bool], minlength=k) / np.bincount(risk.death_group, minlength=k)
    # coxfit5 centres columns that are not all in {-1, 0, 1} (nocenter), on the unweighted mean
    docenter = np.array([not np.isin(x[:, j], (-1.0, 0.0, 1.0)).all() for j in range(p)], dtype=bool)
    means = np.where(docenter, x.mean(axis=0) if n else 0.0, 0.0)
    xs = x - means
    d_group = np.bincount(gcode, status, minlength=n_groups)
    assign = [np.array([j]) for j in range(p)] if assign is None else [np.asarray(a) for a in assign]

    def inner(beta, fb, theta):
        """coxfit5_b: returns beta, fb, penalised loglik, evaluation, penalty parts, iterations, converged."""
        beta, fb = beta.copy(), fb.copy()
        old_b, old_f = beta.copy(), fb.copy()
        prev = 0.0
        halving = False
        for it in range(max_iter + 1):
            ev = _evaluate(risk, xs, gcode, n_groups, w, wtave, counting, beta, fb, dense)
            fb, first, second, pen = _penalty(fb, theta, distribution)
            if first is None:  # theta = 0: frailties held at their value (zero)
                ev.u_f = np.zeros(n_groups)
                ev.h_fb = np.zeros_like(ev.h_fb)
                ev.h_ff = np.eye(n_groups) if dense else np.ones(n_groups)
                newlk = ev.plik
            else:
                ev.u_f = ev.u_f - first
                if dense:
                    ev.h_ff = ev.h_ff + np.diag(second)
                else:
                    ev.h_ff = ev.h_ff + second
                newlk = ev.plik - pen
            if abs(newlk) < eps or (abs(1 - prev / newlk) <= eps and not halving):
                return beta, fb, newlk, ev, second, pen, it, True
            if it == max_iter:
                break
            if it > 0 and newlk < prev:
                halving = True
                beta = (old_b + beta) / 2
                fb = (old_f + fb) / 2
            else:
                halving = False
                prev = newlk
                step = _newton_step(ev, first is not None, dense, toler_chol)
                old_b, old_f = beta.copy(), fb.copy()
                beta = beta + step.step_b
                fb = fb + step.step_f
        return beta, fb, newlk, ev, second, pen, max_iter, False

    # loglik at the initial values (coxfit5_a): no frailty, beta = 0
    ev0 = _evaluate(risk, xs, gcode, n_groups, w, wtave, counting, np.zeros(p), np.zeros(n_groups), dense)
    loglik0 = ev0.plik
    theta = 0.0 if distribution == "gamma" else 1.0
    if dense and distribution == "gaussian":  # coxfit5_a adds the non-sparse penalty at the start
        loglik0 -= _penalty(np.zeros(n_groups), theta, distribution)[3]
    init_b, init_f = np.zeros(p), np.zeros(n_groups)
    thetas_used: list[float] = [theta]
    coef_save: list[np.ndarray] = []
    frail_save: list[np.ndarray] = []
    history: list[list[float]] = []
    failures: list[int] = []
    total_iter = 0
    done = False
    outer = 0
    for outer in range(1, outer_max + 1):
        beta, fb, plik_pen, ev, second, pen, iters, ok = inner(init_b, init_f, theta)
        total_iter += iters
        if iters >= max_iter:
            failures.append(outer)
        var, b_fb, fvar, full_inv = _inverse_blocks(ev, dense, toler_chol)
        # theta update (frailty.controlgam / frailty.controlgauss)
        if distribution == "gamma":
            correct = 0.0 if theta == 0 else gamma_correction(d_group, 1 / theta)
            history.append([theta, plik_pen, plik_pen + correct])
            hist = np.array(history)
            if outer == 1:
                new_theta = 1.0
            elif outer == 2:
                new_theta = float(np.mean(hist[:2, 0])) if hist[1, 2] < hist[0, 2] + 1 else 2 * hist[1, 0]
            else:
                done = abs(1 - hist[-1, 2] / hist[-2, 2]) < 1e-5
                xh, yh = hist[:, 0], hist[:, 2]
                if yh[-1] == yh.max() and xh[-1] == xh.max():
                    new_theta = 2 * float(xh.max())
                else:
                    new_theta = _brent(np.sqrt(xh), yh, lower=0.0) ** 2
        else:
            tr_h = float(np.sum(fvar))
            fsum = float(np.sum(fb ** 2))
            resid = fsum / (n_groups - tr_h / theta) - theta
            history.append([theta, resid, fsum, tr_h])
            hist = np.array(history)
            if outer == 1:
                new_theta = theta * 3 if resid > 0 else theta / 3
            elif outer == 2:
                if np.all(hist[:, 1] > 0):
                    new_theta = hist[1, 0] * 2
                elif np.all(hist[:, 1] < 0):
                    new_theta = hist[1, 0] / 2
                else:
                    new_theta = float(np.mean(hist[:2, 0]))
            else:
                done = abs(hist[-1, 1]) < np.sqrt(eps)  # R: opt$eps partially matches eps2 = sqrt(eps)
                new_theta = _gauss_next(hist)
        if done:
            break
        coef_save.append(beta)
        frail_save.append(fb)
        if outer == 1:
            init_b, init_f = beta, fb
        else:
            close = [(t - new_theta) ** 2 for t in thetas_used]
            which = int(np.argmin(close))
            init_b, init_f = coef_save[which], frail_save[which]
        thetas_used.append(new_theta)
        theta = new_theta

    # coxpenal.df
    pen1 = second if second is not None else np.zeros(n_groups)
    if dense:
        g = n_groups
        h_full = np.block([[ev.h_ff, ev.h_fb], [ev.h_fb.T, ev.h_bb]])
        imat = h_full - np.diag(np.concatenate([pen1, np.zeros(p)]))
        var2_full = full_inv @ imat @ full_inv
        var_b, var2_b = full_inv[g:, g:], var2_full[g:, g:]
        df_terms = [_term_df(full_inv[np.ix_(a + g, a + g)], var2_full[np.ix_(a + g, a + g)]) for a in assign]
        fidx = np.arange(g)
        df_terms.append(_term_df(full_inv[np.ix_(fidx, fidx)], var2_full[np.ix_(fidx, fidx)]))
        fvar = np.diag(full_inv[:g, :g]).copy()
    else:
        var_b = var
        var2_b = var - b_fb.T @ (pen1[:, None] * b_fb)
        df_terms = [_term_df(var[np.ix_(a, a)], var2_b[np.ix_(a, a)]) for a in assign]
        df_terms.append(n_groups - float(np.sum(fvar * pen1)))
    loglik1 = plik_pen + pen
    sing = np.diag(var_b) == 0 if p else np.zeros(0, dtype=bool)
    coef = np.where(sing, np.nan, beta)
    marginal = None
    if distribution == "gamma":
        marginal = float(history[-1][2])
    return FrailtyFit(
        coef=coef, vcov=var_b, vcov2=var2_b, frailty=fb, frailty_var=fvar, groups=groups,
        theta=float(history[-1][0]), distribution=distribution, sparse=not dense, loglik=float(loglik1),
        loglik_null=float(loglik0), loglik_penalised=float(plik_pen), marginal_loglik=marginal,
        penalty=float(pen), df=np.array(df_terms, dtype=float), outer_iterations=outer,
        inner_iterations=total_iter, converged=bool(done) and bool(ok), inner_failures=tuple(failures),
        history=np.array(history), n_events=int(status.sum()),
    )


def _term_df(v: np.ndarray, v2: np.ndarray) -> float:
    """``sum(diag(coxph.wtest(v, v2)$solve))``: trace of v^- v2 (generalised inverse)."""
    chol, _ = _cholesky2(v)
    return float(sum(_chsolve2(chol, v2[:, j])[j] for j in range(v.shape[0])))


def _gauss_next(hist: np.ndarray) -> float:
    """frailty.controlgauss, iteration 3 on: a safeguarded inverse-quadratic step on resid(theta) = 0."""
    it = hist.shape[0]
    ord_ = np.argsort(hist[:, 0], kind="stable")
    ty, tx = hist[ord_, 1], hist[ord_, 0]
    if np.all(ty > 0):
        return 2 * float(tx.max())
    if np.all(ty < 0):
        return 0.5 * float(tx.min())
    b1 = int(np.flatnonzero(ord_ == it - 1)[0])
    if b1 == 0:
        b1 = 1
    elif b1 == it - 1:
        b1 = it - 2
    r_ = ty[b1] / ty[b1 + 1]
    s_ = ty[b1] / ty[b1 - 1]
    u_ = r_ / s_
    p_ = s_ * (u_ * (r_ - u_) * (tx[b1 + 1] - tx[b1]) - (1 - r_) * (tx[b1] - tx[b1 - 1]))
    q_ = (u_ - 1) * (r_ - 1) * (s_ - 1)
    new = tx[b1] + p_ / q_
    if new > tx[b1 + 1]:
        new = float(np.mean(tx[b1 : b1 + 2]))
    if new < tx[b1 - 1]:
        new = float(np.mean(tx[b1 - 1 : b1 + 1]))
    return float(new)
