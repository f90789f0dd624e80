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

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._cox_engine import CoxFit, _aeq_surv, fit_cox

__all__ = ["FinegrayExpansion", "FinegrayFit", "finegray_expand", "fit_finegray"]

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


def finegray_expand(time: np.ndarray, cause: np.ndarray, *, weights: np.ndarray | None = None,
                    strata: np.ndarray | None = None, timefix: bool = True) -> FinegrayExpansion:
    """Expand right-censored competing-risks data as R's ``finegray(Surv(time, status) ~ ., etype=)``.

    Parameters
    ----------
    time
        Positive follow-up times, one row per subject.
    cause
        0 = censored, 1 = the event of interest (``etype``), 2 = a competing event.
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
        On non-positive or non-finite times, codes other than 0/1/2, or no event of interest.
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cause)
    n = t.size
    if c.shape != (n,):
        raise ValueError(f"cause has {c.size} values but time has {n}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("times must be finite and positive")
    if not np.all(np.isin(c, (CENSORED, EVENT, COMPETING))):
        raise ValueError("cause must be coded 0 (censored), 1 (event of interest) or 2 (competing)")
    if not np.any(c == EVENT):
        raise ValueError("no row has the event of interest")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if timefix:
        _, t = _aeq_surv(None, t, np.argsort(t, kind="stable"))
    codes = np.zeros(n, dtype=np.intp) if strata is None else np.asarray(strata, dtype=np.intp)
    parts = [_expand_stratum(np.flatnonzero(codes == s), t, c) for s in np.unique(codes)]
    parts = [p for p in parts if p is not None]
    row = np.concatenate([p[0] for p in parts])
    single = strata is None or len(np.unique(codes)) == 1
    return FinegrayExpansion(
        row=row, start=np.concatenate([p[1] for p in parts]), stop=np.concatenate([p[2] for p in parts]),
        status=(c[row] == EVENT).astype(float), weight=np.concatenate([p[3] for p in parts]) * w[row],
        censoring_time=parts[0][4] if single else np.array([]),
        censoring_survival=parts[0][5] if single else np.array([]),
    )


def _expand_stratum(index: np.ndarray, t_all: np.ndarray, c_all: np.ndarray):
    """finegray's ``stratfun``: rows, start, stop, weight, censoring times and G of one stratum (None without events)."""
    t, c = t_all[index], c_all[index]
    if not np.any(c == EVENT):
        return None
    zero = 0.0  # R: 0 when every time is positive (start of every row)
    # the censoring Kaplan-Meier: at a censoring time, rows with an event at that time have left
    utimes, inverse = np.unique(t, return_inverse=True)
    n_cens = np.bincount(inverse, weights=(c == CENSORED).astype(float), minlength=utimes.size)
    n_exit = np.bincount(inverse, minlength=utimes.size).astype(float)
    at_risk = np.cumsum(n_exit[::-1])[::-1] - (n_exit - n_cens)
    drops = n_cens > 0
    ctime = utimes[drops]
    cprob = np.cumprod(1.0 - n_cens[drops] / at_risk[drops])
    # R's cut points: censoring times and the last time; cp2[j] = G on the interval ending at ct2[j]
    ct2 = np.append(ctime, t.max())
    cp2 = np.append(1.0, cprob)
    event_times = np.unique(t[c == EVENT])
    # an interval (ct2[j-1], ct2[j]] is written out only when it holds an event of interest
    holds = np.zeros(ct2.size + 1, dtype=bool)
    holds[np.searchsorted(ct2, event_times, side="left")] = True  # number of cut points < t
    keep = np.concatenate([[True], holds[1:ct2.size]])
    rows, starts, stops, wts = [], [], [], []
    first_cut = np.searchsorted(ct2, t, side="left")  # first j with ct2[j] >= t
    kept_after = [np.flatnonzero(keep[j + 1:]) + j + 1 for j in range(ct2.size)]
    for i in range(t.size):
        rows.append(index[i])
        starts.append(zero)
        if c[i] != COMPETING:
            stops.append(t[i])
            wts.append(1.0)
            continue
        j = first_cut[i]
        stops.append(ct2[j])
        wts.append(1.0)
        extra = kept_after[j]
        if extra.size:
            rows.extend([index[i]] * extra.size)
            starts.extend(ct2[extra - 1])
            stops.extend(ct2[extra])
            wts.extend(cp2[extra] / cp2[j])
    return (np.asarray(rows, dtype=np.intp), np.asarray(starts, dtype=float), np.asarray(stops, dtype=float),
            np.asarray(wts, dtype=float), ctime, cprob)


def fit_finegray(X: np.ndarray, time: np.ndarray, cause: np.ndarray, *, weights: np.ndarray | None = None,
                 censoring_strata: np.ndarray | None = None, strata: np.ndarray | None = None,
                 ties: Literal["efron", "breslow"] = "efron", eps: float = 1e-9, max_iter: int = 100,
                 timefix: bool = True) -> FinegrayFit:
    """Fine-Gray model: :func:`finegray_expand`, then the weighted Cox fit on the expanded rows.

    ``X`` has one row per subject (no intercept). ``censoring_strata`` are finegray's strata (one
    censoring curve each), ``strata`` coxph's (one baseline subdistribution hazard each), both
    one code per subject. The robust variance clusters the expanded rows of each subject: see
    :func:`~c2stats.families._cox_engine.score_residuals` with ``X[row]``.
    """
    X = np.asarray(X, dtype=float)
    fg = finegray_expand(time, cause, weights=weights, strata=censoring_strata, timefix=timefix)
    cox = fit_cox(X[fg.row], fg.stop, fg.status, entry=fg.start, weights=fg.weight,
                  strata=None if strata is None else np.asarray(strata)[fg.row], ties=ties, eps=eps,
                  max_iter=max_iter, timefix=timefix)
    used = np.asarray(cause)[np.unique(fg.row)]
    return FinegrayFit(expansion=fg, cox=cox, n_events=int(np.sum(used == EVENT)),
                       n_competing=int(np.sum(used == COMPETING)), n_censored=int(np.sum(used == CENSORED)),
                       n_dropped=int(len(X) - used.size))
