"""Fine-Gray subdistribution hazards, as R's ``survival::finegray`` + weighted ``coxph`` (survival 3.5-3).

:func:`finegray_expand` builds R's expanded data (``fgstart, fgstop, fgstatus, fgwt``);
:func:`fit_finegray` fits the weighted Cox model on it with c2stats' Cox engine
(:func:`~c2stats.families._cox_engine.fit_cox`), i.e.
``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, data = finegray(...))``.

Notes
-----
Fine and Gray (1999) keep subjects who had a competing event in the risk set of the cause of
interest, weighted by the probability of still being uncensored: at time ``t`` a subject whose
competing event came at ``T_i < t`` carries ``G(t-) / G(T_i-)``, ``G`` the Kaplan-Meier of the
censoring distribution (censorings at a time follow the events at that time). Therneau's
``finegray`` writes this as (start, stop] rows: the subject's own row is extended to the end of
the censoring interval that holds ``T_i`` (weight 1), and one more row follows for each later
censoring interval that holds an event of interest, weighted by ``G`` at its start over ``G`` at
the start of the subject's interval. The Cox partial likelihood and its robust variance on these
rows are Fine and Gray's estimating equation and sandwich when the robust variance clusters the
rows of a subject (R: ``cluster(id)``). ``cmprsk::crr`` solves the same equation with a
different treatment of times tied between censoring and events, so its estimates differ slightly
where such ties exist. The censoring curve ignores case weights, as ``finegray`` does; case
weights multiply ``fgwt``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ._cox_engine import CoxFit, _aeq_surv, fit_cox, survival_curves

__all__ = ["FinegrayExpansion", "FinegrayFit", "IncidenceCurves", "finegray_expand", "fit_finegray",
           "predicted_incidence"]

CENSORED, EVENT, COMPETING = 0, 1, 2


@dataclass(frozen=True)
class FinegrayExpansion:
    """R's ``finegray()`` data: one row per (subject, interval), in the order R writes them."""

    row: np.ndarray
    """Index (0-based) of the original row each expanded row comes from."""
    start: np.ndarray
    """``fgstart``."""
    stop: np.ndarray
    """``fgstop``."""
    status: np.ndarray
    """``fgstatus``: 1 for the event of interest, else 0."""
    weight: np.ndarray
    """``fgwt`` (times the case weights when given)."""
    censoring_time: np.ndarray
    """Times at which the censoring Kaplan-Meier drops (empty with several censoring strata)."""
    censoring_survival: np.ndarray
    """The censoring Kaplan-Meier ``G`` just after each ``censoring_time``."""


@dataclass(frozen=True)
class FinegrayFit:
    """A Fine-Gray model: the expanded data and the weighted Cox fit on it."""

    expansion: FinegrayExpansion
    cox: CoxFit
    n_events: int
    """Rows (subjects) with the event of interest."""
    n_competing: int
    """Rows with a competing event, among those used."""
    n_censored: int
    """Censored rows, among those used."""
    n_dropped: int = 0
    """Rows left out because their censoring stratum has no event of interest."""


def finegray_expand(time: np.ndarray, cause: np.ndarray, *, entry: np.ndarray | None = None,
                    subject: np.ndarray | None = None, weights: np.ndarray | None = None,
                    strata: np.ndarray | None = None, timefix: bool = True) -> FinegrayExpansion:
    """Expand competing-risks data as R's ``finegray(Surv(...) ~ ., etype=, id=)``.

    Parameters
    ----------
    time
        Positive follow-up (stop) times.
    cause
        0 = censored (or, on a subject's earlier rows, no transition), 1 = the event of interest
        (``etype``), 2 = a competing event.
    entry, subject
        (start, stop] data: the start of each row and the subject it belongs to (R's ``id``,
        required with ``entry``). A subject's rows must join without gaps, and only its last row
        may end in an event. When some subject enters after the first stop time (delayed entry),
        the weights include the reverse-time Kaplan-Meier of the entry times, as R.
    weights
        Case weights (multiplied into ``fgwt``; the censoring curve is unweighted, as in R).
    strata
        Integer codes of censoring strata (R: ``strata()`` in the finegray formula), numbered in
        R's level order: one censoring curve per stratum, rows written stratum by stratum, and the
        rows of a stratum without an event of interest left out, as R does.
    timefix
        Merge times equal up to round-off first (R's ``timefix = TRUE``, ``aeqSurv``).

    Raises
    ------
    ValueError
        On non-finite or non-positive times (stop <= start), codes other than 0/1/2, no event of
        interest, ``entry`` without ``subject``, a subject with an event before its last row or
        with gaps between its rows (R's messages).
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cause)
    n = t.size
    if c.shape != (n,):
        raise ValueError(f"cause has {c.size} values but time has {n}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if not np.all(np.isin(c, (CENSORED, EVENT, COMPETING))):
        raise ValueError("cause must be coded 0 (censored), 1 (event of interest) or 2 (competing)")
    if not np.any(c == EVENT):
        raise ValueError("no row has the event of interest")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(t, kind="stable")
    if entry is None:
        if np.any(t <= 0):
            raise ValueError("times must be positive")
        if timefix:
            _, t = _aeq_surv(None, t, order)
        start = np.zeros(n)  # R: 0 when every time is positive
        first = last = np.ones(n, dtype=bool)
        delay = False
    else:
        start = np.asarray(entry, dtype=float)
        if subject is None:
            raise ValueError("(start, stop] data requires a subject id")
        if not np.all(np.isfinite(start)) or np.any(t <= start):
            raise ValueError("every (start, stop] row needs start < stop")
        if timefix:
            start, t = _aeq_surv(start, t, order)
        first, last = _subject_rows(start, t, c, np.asarray(subject))
        delay = bool(np.any(start[first] > t.min()))
    # R works on the ranks of the distinct times; an event row ends 0.2 before its rank, so that a
    # censoring at the same time comes after it
    utime = np.unique(np.concatenate([start, t]))
    a = np.searchsorted(utime, start).astype(float)
    b = np.searchsorted(utime, t) - 0.2 * (c != CENSORED)
    codes = np.zeros(n, dtype=np.intp) if strata is None else np.asarray(strata, dtype=np.intp)
    parts = []
    for s in np.unique(codes):
        index = np.flatnonzero(codes == s)
        if np.any(c[index] == EVENT):
            parts.append(_expand_stratum(index, start, t, c, a, b, first, last, utime, delay))
    row = np.concatenate([p[0] for p in parts])
    single = len(parts) == 1 and len(np.unique(codes)) == 1
    return FinegrayExpansion(
        row=row, start=np.concatenate([p[1] for p in parts]), stop=np.concatenate([p[2] for p in parts]),
        status=(c[row] == EVENT).astype(float), weight=np.concatenate([p[3] for p in parts]) * w[row],
        censoring_time=parts[0][4] if single else np.array([]),
        censoring_survival=parts[0][5] if single else np.array([]),
    )


def _subject_rows(start: np.ndarray, stop: np.ndarray, cause: np.ndarray, subject: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each subject; refuses an early transition or a gap, as R's finegray."""
    values, ids = np.unique(subject, return_inverse=True)
    order = np.lexsort((stop, ids))
    sid = ids[order]
    is_first = np.concatenate([[True], sid[1:] != sid[:-1]])
    is_last = np.concatenate([sid[1:] != sid[:-1], [True]])
    early = np.flatnonzero(~is_last & (cause[order] != CENSORED))
    if early.size:
        k = early[0]
        raise ValueError(f"subject {_plain(values[sid[k]])!r} has a transition before their last time point (an event at "
                         f"{stop[order][k]:g}, then more rows)")
    next_start = np.append(start[order][1:], np.nan)
    gap = np.flatnonzero(~is_last & (next_start != stop[order]))
    if gap.size:
        k = gap[0]
        raise ValueError(f"subject {_plain(values[sid[k]])!r} has gaps in time (a row stops at {stop[order][k]:g}, the next "
                         f"starts at {next_start[k]:g})")
    first = np.zeros(start.size, dtype=bool)
    last = np.zeros(start.size, dtype=bool)
    first[order[is_first]] = True
    last[order[is_last]] = True
    return first, last


def _expand_stratum(index, start, stop, cause, a, b, first, last, utime, delay):
    """finegray's ``stratfun``: rows, start, stop, weight, censoring times and G of one stratum."""
    t, c, a, b = stop[index], cause[index], a[index], b[index]
    # censoring Kaplan-Meier (R: survfit(Surv(a, b, last & status == 0))): at risk at u when a < u <= b
    censor = last[index] & (c == CENSORED)
    u = np.unique(b[censor])
    a_sorted, b_sorted = np.sort(a), np.sort(b)
    n_risk = np.searchsorted(a_sorted, u, side="left") - np.searchsorted(b_sorted, u, side="left")
    d = np.bincount(np.searchsorted(u, b[censor]), minlength=u.size)
    g = np.cumprod(1.0 - d / n_risk)
    if delay:
        # entry distribution (R: survfit(Surv(-b, -a, first)), a Kaplan-Meier in reverse time): at
        # risk at an entry s when a <= s < b; dprob[m] = P(entry after dtime[m]), 1 after the last
        enters = first[index]
        dtime = np.unique(a[enters])
        at = np.searchsorted(a_sorted, dtime, side="right") - np.searchsorted(b_sorted, dtime, side="right")
        dd = np.bincount(np.searchsorted(dtime, a[enters]), minlength=dtime.size)
        h = np.cumprod((1.0 - dd / at)[::-1])[::-1]
        dprob = np.append(h[1:], 1.0)
        grid = np.unique(np.concatenate([dtime, u]))
        i1 = np.searchsorted(dtime, grid, side="right")
        i2 = np.searchsorted(u, grid, side="right")
        ctime = utime[grid.astype(np.intp)]
        cprob = dprob[i1 - 1] * np.append(1.0, g)[i2]
    else:
        ctime, cprob = utime[u.astype(np.intp)], g
    # R's cut points: censoring times and the last time; cp2[j] = G on the interval ending at ct2[j]
    ct2 = np.append(ctime, t.max())
    cp2 = np.append(1.0, cprob)
    event_times = np.unique(t[c == EVENT])
    # an interval (ct2[j-1], ct2[j]] is written out only when it holds an event of interest
    holds = np.zeros(ct2.size + 1, dtype=bool)
    holds[np.searchsorted(ct2, event_times, side="left")] = True  # number of cut points < t
    keep = np.concatenate([[True], holds[1:ct2.size]])
    expand = (c == COMPETING) & last[index]
    # each row is written once, a competing event's last row extended to the end of its censoring
    # interval (weight 1) and followed by one row per later kept interval
    cut = np.searchsorted(ct2, t, side="left")  # first j with ct2[j] >= t
    kept = np.flatnonzero(keep)
    after = np.searchsorted(kept, cut, side="right")  # the first kept interval after the row's own
    n_extra = np.where(expand, kept.size - after, 0)
    counts = 1 + n_extra
    offset = np.cumsum(counts) - counts
    total = int(counts.sum())
    rows = np.repeat(index, counts)
    out_start = np.empty(total)
    out_stop = np.empty(total)
    out_wt = np.ones(total)
    out_start[offset] = start[index]
    out_stop[offset] = np.where(expand, ct2[cut], t)
    owner = np.repeat(np.arange(t.size), n_extra)  # which row each extra row extends
    within = np.arange(owner.size) - np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
    k = kept[after[owner] + within]
    slots = offset[owner] + 1 + within
    out_start[slots] = ct2[k - 1]
    out_stop[slots] = ct2[k]
    out_wt[slots] = cp2[k] / cp2[cut[owner]]
    return rows.astype(np.intp), out_start, out_stop, out_wt, ctime, cprob


def fit_finegray(X: np.ndarray, time: np.ndarray, cause: np.ndarray, *, entry: np.ndarray | None = None,
                 subject: np.ndarray | None = None, weights: np.ndarray | None = None,
                 censoring_strata: np.ndarray | None = None, strata: np.ndarray | None = None,
                 ties: Literal["efron", "breslow"] = "efron", eps: float = 1e-9, max_iter: int = 100,
                 timefix: bool = True) -> FinegrayFit:
    """Fine-Gray model: :func:`finegray_expand`, then the weighted Cox fit on the expanded rows.

    ``X`` has one row per input row (no intercept); ``entry``/``subject`` for (start, stop] data. ``censoring_strata`` are finegray's strata (one
    censoring curve each), ``strata`` coxph's (one baseline subdistribution hazard each), both
    one code per subject. The robust variance clusters the expanded rows of each subject: see
    :func:`~c2stats.families._cox_engine.score_residuals` with ``X[row]``.
    """
    X = np.asarray(X, dtype=float)
    fg = finegray_expand(time, cause, entry=entry, subject=subject, weights=weights, strata=censoring_strata,
                         timefix=timefix)
    cox = fit_cox(X[fg.row], fg.stop, fg.status, entry=fg.start, weights=fg.weight,
                  strata=None if strata is None else np.asarray(strata)[fg.row], ties=ties, eps=eps,
                  max_iter=max_iter, timefix=timefix)
    used = np.asarray(cause)[np.unique(fg.row)]
    return FinegrayFit(expansion=fg, cox=cox, n_events=int(np.sum(used == EVENT)),
                       n_competing=int(np.sum(used == COMPETING)), n_censored=int(np.sum(used == CENSORED)),
                       n_dropped=int(len(X) - used.size))


@dataclass(frozen=True)
class IncidenceCurves:
    """Predicted cumulative incidence of the cause of interest, one row per (curve, event time)."""

    curve: np.ndarray
    """Index of the new-data row the curve is for."""
    strata: np.ndarray
    """Stratum code of the curve (Cox strata; 0 without)."""
    time: np.ndarray
    """Event time of the cause of interest."""
    incidence: np.ndarray
    """``1 - exp(-cumhaz)``: the cumulative incidence at the curve's covariates."""
    std_err: np.ndarray
    """Standard error of the cumulative subdistribution hazard (R's ``std.err``)."""
    conf_low: np.ndarray
    """Lower limit: 1 minus survfit's upper limit of ``1 - F`` (log transform)."""
    conf_high: np.ndarray
    """Upper limit: 1 minus survfit's lower limit."""


def predicted_incidence(fit: FinegrayFit, X_new: np.ndarray, *, vcov: np.ndarray | None = None,
                        strata: np.ndarray | None = None, conf_level: float = 0.95) -> IncidenceCurves:
    """Cumulative incidence curves at covariate rows, as ``1 - survfit(fg_coxph, newdata)$surv``.

    ``vcov`` is the coefficient variance entering the standard errors (R uses ``vcov(fit)``: the
    robust one with ``cluster(id)``); the model variance when None. Intervals are survfit's
    log-transformed limits of ``1 - F`` turned around.
    """
    cox = fit.cox if vcov is None else replace(fit.cox, vcov_robust=np.asarray(vcov, dtype=float))
    curves = survival_curves(cox, X_new, strata=strata, conf_level=conf_level)
    return IncidenceCurves(curve=curves.curve, strata=curves.strata, time=curves.time, incidence=1.0 - curves.surv,
                           std_err=curves.std_err, conf_low=1.0 - curves.conf_high, conf_high=1.0 - curves.conf_low)


def _plain(value):
    """A numpy scalar as the Python value (for messages)."""
    return value.item() if isinstance(value, np.generic) else value
