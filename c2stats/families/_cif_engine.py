"""Cumulative incidence of competing events (Aalen-Johansen), as R's multi-state ``survfit``.

:func:`cumulative_incidence` returns, overall or by group, the probability of having had each
cause by time ``t`` with R's standard errors and pointwise intervals: the numbers of
``survfit(Surv(time, factor(status)) ~ group)`` (survival 3.5-3) whose first factor level is
censoring, i.e. its ``pstate``, ``std.err``, ``lower``, ``upper`` and the ``n.risk`` of the
event-free state.

Notes
-----
With everyone event-free at the start and each cause absorbing, the Aalen-Johansen estimate is
``F_k(t) = sum_{s <= t} S(s-) d_k(s) / Y(s)`` with ``S`` the all-cause Kaplan-Meier, ``d_k(s)``
the (weighted) events of cause ``k`` at ``s`` and ``Y(s)`` the (weighted) number at risk
(``time >= s``). The variance is survfit's only multi-state variance, the infinitesimal
jackknife: each subject's influence ``U_i`` on the state probabilities is carried through the
product of transition matrices (``survfitci.c``: ``U <- U H``, then ``-H[0, ] p0 / Y`` for every
subject at risk and ``+p0 / Y`` on the state a subject moves to), and
``var F_k(t) = sum_i w_i^2 U_ik(t)^2``, accumulated in closed form (see ``_aalen_johansen``). The intervals are survfit's default ``conf.type = "log"``
applied to the probability itself: ``F exp(+-z se / F)``, the upper limit capped at 1 and both
missing where ``F = 0`` (``survfit_confint(logse = FALSE)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ._cox_engine import _aeq_surv

__all__ = ["CIF_COLUMNS", "cumulative_incidence"]

#: Columns of the frame :func:`cumulative_incidence` returns (one row per group, cause and time).
CIF_COLUMNS = ("group", "cause", "time", "estimate", "std_error", "conf_low", "conf_high", "n_risk")


def cumulative_incidence(
    time: Sequence[float],
    status: Sequence[Any],
    *,
    censor_value: Any | Sequence[Any],
    group: Sequence[Any] | None = None,
    weights: Sequence[float] | None = None,
    causes: Sequence[Any] | None = None,
    conf_level: float = 0.95,
    conf_type: Literal["log", "log-log", "plain"] = "log",
    timefix: bool = True,
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause, as R's multi-state ``survfit``.

    Parameters
    ----------
    time
        Follow-up time of each subject (one row per subject, everyone at risk from time 0).
    status
        The outcome category of each row: a censoring value, or the cause that ended follow-up.
    censor_value
        The value, or list of values, of ``status`` that mean censored.
    group
        Optional labels: a separate curve per group (R's ``~ group``); None gives one curve,
        labelled ``"All"``.
    weights
        Optional positive case weights (R's ``weights =``); ``n_risk`` stays a count of rows.
    causes
        The causes to report, in this order; default: every non-censoring value, sorted.
    conf_level, conf_type
        Pointwise intervals: R's ``conf.int`` and ``conf.type`` (``"log"`` by default).
    timefix
        Merge times equal up to round-off first, as ``survfit(timefix = TRUE)``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CIF_COLUMNS`: for every group, cause and distinct time of the group (R's
        ``fit$time``), the estimate, its standard error, the interval and the number at risk
        (``time >= t``). Groups come in the order of a categorical's categories, else sorted.

    Raises
    ------
    ValueError
        On mismatched lengths, missing or non-positive times, non-positive weights, or when no
        row has a cause other than ``censor_value``.
    """
    t = np.asarray(time, dtype=float)
    st = pd.Series(np.asarray(status, dtype=object))
    n = t.size
    if st.size != n:
        raise ValueError(f"status has {st.size} values but time has {n}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("time must be finite and positive")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.size != n or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("weights must be finite, positive and one per row")
    censored = st.isin(list(np.atleast_1d(np.asarray(censor_value, dtype=object)))).to_numpy()
    if causes is None:
        causes = sorted(pd.unique(st[~censored]).tolist(), key=lambda v: (str(type(v)), v))
    causes = list(causes)
    if not causes:
        raise ValueError("no row has an event: every status is a censoring value")
    # 0 = censored, k = the k-th cause; a cause not listed is still an exit from the event-free state
    code = np.zeros(n, dtype=int)
    for k, cause in enumerate(causes, start=1):
        code[(st == cause).to_numpy() & ~censored] = k
    other = ~censored & (code == 0)
    code[other] = len(causes) + 1
    if timefix:
        _, t = _aeq_surv(None, t, np.argsort(t, kind="stable"))
    if group is None:
        labels, codes = ["All"], np.zeros(n, dtype=int)
    else:
        g = pd.Series(group) if not isinstance(group, pd.Series) else group.reset_index(drop=True)
        if g.size != n:
            raise ValueError(f"group has {g.size} values but time has {n}")
        if isinstance(g.dtype, pd.CategoricalDtype):
            labels = [c for c in g.cat.categories if (g == c).any()]
        else:
            labels = sorted(pd.unique(g.dropna()).tolist(), key=lambda v: (str(type(v)), v))
        codes = np.full(n, -1)
        for j, label in enumerate(labels):
            codes[(g == label).to_numpy()] = j
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    parts = []
    for j, label in enumerate(labels):
        rows = codes == j
        curve = _aalen_johansen(t[rows], code[rows], w[rows], n_states=len(causes) + 2)
        for k, cause in enumerate(causes, start=1):
            p, se = curve["p"][:, k], curve["se"][:, k]
            lo, hi = _confint(p, se, z, conf_type)
            parts.append(pd.DataFrame({
                "group": [label] * len(curve["time"]), "cause": [cause] * len(curve["time"]), "time": curve["time"],
                "estimate": p, "std_error": se, "conf_low": lo, "conf_high": hi, "n_risk": curve["n_risk"],
            }))
    return pd.concat(parts, ignore_index=True)[list(CIF_COLUMNS)]


def _aalen_johansen(t: np.ndarray, code: np.ndarray, w: np.ndarray, *, n_states: int) -> dict[str, np.ndarray]:
    """State probabilities and IJ standard errors at each distinct time (state 0 = event-free).

    Every subject still at risk has the same influence vector ``r`` (they share their history).
    Once a subject leaves (event or censoring) at ``m_j`` its influence only evolves through the
    transition matrices: ``U_0(t) = b_j S(t)`` and ``U_k(t) = a_jk + b_j F_k(t)`` with
    ``b_j = U_0(m_j) / S(m_j)``, so the variance ``sum_j w_j^2 U_jk(t)^2`` is a quadratic in
    ``F_k(t)`` whose coefficients are running sums over the subjects who have left: O(n + times)
    instead of survfitci's O(n x times).
    """
    order = np.argsort(t, kind="stable")
    t, code, w = t[order], code[order], w[order]
    times, first = np.unique(t, return_index=True)
    ends = np.append(first[1:], t.size)
    w2 = w * w
    at_risk_w = np.cumsum(w[::-1])[::-1]  # weighted number with time >= t[i]
    at_risk_w2 = np.cumsum(w2[::-1])[::-1]
    p = np.zeros(n_states)
    p[0] = 1.0
    r = np.zeros(n_states)  # influence of each subject still at risk
    sum_aa = np.zeros(n_states)  # over subjects who have left: sum w^2 a_k^2, sum w^2 a_k b, sum w^2 b^2
    sum_ab = np.zeros(n_states)
    sum_bb = 0.0
    out_p = np.empty((times.size, n_states))
    out_se = np.empty((times.size, n_states))
    for m, (lo, hi) in enumerate(zip(first, ends)):
        ws = at_risk_w[lo]
        moves = np.bincount(code[lo:hi], weights=w[lo:hi], minlength=n_states)
        moves[0] = 0.0  # censored rows stay in state 0
        leaving = np.zeros((hi - lo, n_states))  # influence of the rows that end now, after this time
        if moves.sum() > 0:
            h = moves / ws  # row 0 of the transition matrix; the other states are absorbing
            h[0] = 1.0 - moves.sum() / ws
            step = p[0] / ws
            old0 = r[0]
            r[1:] += old0 * h[1:] - h[1:] * step
            r[0] = old0 * h[0] - h[0] * step
            leaving[:] = r
            r[0] += step  # subjects staying in state 0
            moved = code[lo:hi] > 0
            leaving[~moved, 0] = r[0]
            leaving[moved, code[lo:hi][moved]] += step
            p[1:] += p[0] * h[1:]
            p[0] *= h[0]
        else:
            leaving[:] = r
        if p[0] > 0:
            b = leaving[:, 0] / p[0]
            a = leaving - b[:, None] * p[None, :]
        else:  # nobody is left at risk: the curves stay flat from here on
            b = np.zeros(hi - lo)
            a = leaving
        ww = w2[lo:hi]
        sum_aa += ww @ (a * a)
        sum_ab += (ww * b) @ a
        sum_bb += float(ww @ (b * b))
        staying = at_risk_w2[hi] if hi < t.size else 0.0
        var = staying * r * r + sum_aa + 2 * p * sum_ab + p * p * sum_bb
        # the quadratic cancels to rounding where the variance is 0 (a curve at 1): make it exact
        scale = staying * r * r + sum_aa + p * p * sum_bb
        var[var <= 1e-13 * scale] = 0.0
        out_p[m] = p
        out_se[m] = np.sqrt(var)
    return {"time": times, "p": out_p, "se": out_se, "n_risk": (t.size - first).astype(np.int64)}


def _confint(p: np.ndarray, se: np.ndarray, z: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit_confint(p, se, logse = FALSE, conf.type)``."""
    with np.errstate(all="ignore"):
        rel = np.where(se == 0, 0.0, se / p)
    return survfit_confint(p, rel, z, conf_type)


def survfit_confint(p: np.ndarray, rel: np.ndarray, z: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit_confint(p, rel, logse = TRUE, conf.type)``: limits of a probability ``p`` whose standard
    error relative to ``p`` is ``rel`` (Kaplan-Meier, survfit(coxph), cumulative incidence)."""
    with np.errstate(all="ignore"):
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            return np.exp(np.log(xx) - z * rel), np.minimum(np.exp(np.log(xx) + z * rel), 1.0)
        if conf_type == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * rel / np.log(xx)
            return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        if conf_type == "plain":
            se2 = rel * p * z
            return np.maximum(p - se2, 0.0), np.minimum(p + se2, 1.0)
    raise ValueError(f"unknown conf_type {conf_type!r}; use 'log', 'log-log' or 'plain'")
