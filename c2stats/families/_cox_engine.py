"""Cox proportional-hazards engine matching R's ``survival::coxph`` (survival 3.5-3).

Pure numpy functions: :func:`fit_cox` returns a frozen :class:`CoxFit`; :func:`score_residuals`,
:func:`dfbeta`, :func:`baseline_hazard` and :func:`survival_curves` work from a fit. Semantics
are those of ``coxph``:

* ``(start, stop]`` risk sets: a row is at risk at an event time ``t`` of its stratum when
  ``entry < t <= stop``; rows whose interval holds no event time are ignored (``agreg.fit``).
* times closer than ``sqrt(.Machine$double.eps)`` (absolutely or relative to the mean absolute
  time) are merged first, as ``coxph.control(timefix=TRUE)`` does through ``aeqSurv``.
* Efron (default) or Breslow ties with case weights: the ``j``-th of ``d`` tied deaths sees the
  risk set with the deaths' weighted risk downweighted by ``j/d`` and carries the mean death weight.
* Newton-Raphson on centred and scaled covariates with survival's step halving
  (``coxfit6`` for right-censored data, ``agfit4`` for ``(start, stop]`` data), converged when
  ``|1 - loglik_old/loglik_new| <= eps``; the LDL' decomposition and its generalised inverse are
  survival's ``cholesky2``/``chsolve2``/``chinv2`` with ``toler.chol = eps_mach^0.75``.
* robust variance ``D'D`` with ``D`` = weighted score residuals (Efron form under Efron ties)
  times the model variance, rows summed within clusters, no small-sample factor.

Notes
-----
R's C code walks the risk sets one event time at a time, so its score residuals cost
O(n x events). Here every risk-set sum is a segmented cumulative sum over event-time groups:
with rows sorted by stop time, a row enters the sums at the last event time ``<= stop`` and
leaves after the last event time ``<= entry``. The information matrix is
``X' diag(r_i * C_i) X - sum_k w_k xbar_k xbar_k'`` where ``C_i`` sums the hazard increments over
the row's event times, so no n x p x p array is ever formed and an iteration costs O(n p^2)
(a single weighted cross product). Score residuals use the same prefix sums (O(n p)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as _sparse
from scipy.linalg import blas as _blas

__all__ = [
    "BaselineHazard",
    "CoxFit",
    "baseline_hazard",
    "dfbeta",
    "SurvivalCurves",
    "fit_cox",
    "score_residuals",
    "survival_curves",
]

_TOLER_CHOL = float(np.finfo(float).eps) ** 0.75
_TIMEFIX_TOL = float(np.sqrt(np.finfo(float).eps))
_LOOP_SEGMENTS = 256  # up to this many strata, cumulative sums are taken stratum by stratum


# --------------------------------------------------------------------------------------------
# survival's LDL' routines (cholesky2.c, chsolve2.c, chinv2.c), index for index
# --------------------------------------------------------------------------------------------


def _cholesky2(matrix: np.ndarray, toler: float = _TOLER_CHOL) -> tuple[np.ndarray, int]:
    """LDL' factor of a symmetric matrix in the lower triangle (D on the diagonal) and its rank.

    A pivot below ``toler * max(diag)`` (or non-finite) marks a redundant column: its diagonal is
    set to zero and it takes no part in later elimination. The rank is negated when the matrix is
    clearly not non-negative definite, as in survival.
    """
    m = np.array(matrix, dtype=float, copy=True)
    n = m.shape[0]
    iu = np.triu_indices(n, 1)
    m[iu[1], iu[0]] = m[iu]  # the lower triangle is filled from the upper one
    diag = np.diag(m)
    pos = diag[np.isfinite(diag)]
    eps = float(pos.max()) if pos.size else 0.0
    if not eps > 0:
        return m, 0
    eps *= toler
    rank = 0
    nonneg = 1
    for i in range(n):
        pivot = m[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            m[i, i] = 0.0
            if pivot < -8 * eps:
                nonneg = -1
        else:
            rank += 1
            if i + 1 < n:
                col = m[i + 1 :, i].copy()
                temp = col / pivot
                m[i + 1 :, i + 1 :] -= np.tril(np.outer(col, temp))
                m[i + 1 :, i] = temp
    return m, rank * nonneg


def _chsolve2(chol: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve ``A b = y`` given :func:`_cholesky2` of ``A`` (zero pivots give zero components)."""
    n = chol.shape[0]
    b = np.array(y, dtype=float, copy=True)
    for i in range(1, n):
        b[i] -= chol[i, :i] @ b[:i]
    for i in range(n - 1, -1, -1):
        if chol[i, i] == 0:
            b[i] = 0.0
        else:
            b[i] = b[i] / chol[i, i] - chol[i + 1 :, i] @ b[i + 1 :]
    return b


def _chinv2(chol: np.ndarray) -> np.ndarray:
    """Generalised inverse from :func:`_cholesky2` (zero rows and columns for redundant ones)."""
    m = np.array(chol, dtype=float, copy=True)
    n = m.shape[0]
    for i in range(n):
        if m[i, i] > 0:
            m[i, i] = 1.0 / m[i, i]
            for j in range(i + 1, n):
                m[j, i] = -m[j, i]
                if i > 0:
                    m[j, :i] += m[j, i] * m[i, :i]
    for i in range(n):
        if m[i, i] == 0:
            m[:i, i] = 0.0
            m[i, i:] = 0.0
        else:
            for j in range(i + 1, n):
                temp = m[j, i] * m[j, j]
                m[i, j] = temp
                m[i, i:j] += temp * m[j, i:j]
    upper = np.triu(m)
    return upper + np.triu(upper, 1).T


def _wald(var: np.ndarray, b: np.ndarray) -> float:
    """``b' var^- b`` as survival's ``coxph.wtest`` (generalised inverse via cholesky2)."""
    chol, _ = _cholesky2(var)
    return float(b @ _chsolve2(chol, b))


# --------------------------------------------------------------------------------------------
# data structures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineHazard:
    """Baseline hazard at each event time of each stratum (rows ordered by stratum, time)."""

    strata: np.ndarray
    """Stratum code (index into the sorted unique strata values) of each event time."""
    stratum_values: np.ndarray
    """The sorted unique strata values (``[0]`` when unstratified)."""
    time: np.ndarray
    """Event time."""
    n_risk: np.ndarray
    """Number of rows at risk (unweighted)."""
    n_event: np.ndarray
    """Number of events (unweighted)."""
    hazard: np.ndarray
    """Hazard increment (Breslow or Efron, as the fit's ties)."""
    cumhaz: np.ndarray
    """Cumulative hazard within the stratum."""

    @property
    def survival(self) -> np.ndarray:
        """Baseline survival ``exp(-cumhaz)`` (survfit's default for a Cox model)."""
        return np.exp(-self.cumhaz)


@dataclass(frozen=True)
class _RiskSets:
    """Event-time groups and each row's place in them.

    "Active" rows (those at risk at some event time) are kept sorted by (stratum, stop), so the
    rows whose last event time is group ``k`` form a contiguous block. Per-row index arrays are
    int32 below 2**31 rows.
    """

    n: int
    rows: np.ndarray  # original index of each active row, sorted by (stratum, stop)
    hi_ref: np.ndarray  # (last event group with time <= stop) + 1: index into a zero-padded forward cumsum
    lo_ref: np.ndarray  # index of the group before the row's first one in that cumsum (0 at stratum start)
    agg: object  # sparse (k or 2k) x m: +1 at (hi, row), -1 at (first group - 1, row); Efron: deaths below
    death_pos: np.ndarray  # positions of deaths among active rows (ordered by group)
    death_group: np.ndarray
    weights: np.ndarray | None  # active-order case weights (None: all 1)
    unit_weights: bool
    group_time: np.ndarray
    group_stratum: np.ndarray
    seg_starts: np.ndarray  # first group of each stratum that has events
    seg_ends: np.ndarray
    seg_of_group: np.ndarray
    n_death: np.ndarray  # deaths per group (count)
    death_weight: np.ndarray  # sum of death weights per group
    pair_group: np.ndarray  # one "pair" per (group, j): Efron's j-th partial risk set
    pair_f: np.ndarray  # j / d
    pair_wt: np.ndarray  # mean death weight (Efron) or total death weight (Breslow)
    pair_starts: np.ndarray
    n_risk: np.ndarray  # rows at risk per group
    efron: bool

    @property
    def death_weights(self) -> np.ndarray:
        """Case weight of each death (active order)."""
        return np.ones(self.death_pos.size) if self.weights is None else self.weights[self.death_pos]


@dataclass(frozen=True)
class _GroupState:
    """Per-event-time quantities at one coefficient vector (internal, centred scale)."""

    den: np.ndarray  # Efron denominators per pair
    xbar: np.ndarray  # pair means (pairs x p), centred-scaled covariates
    eta: np.ndarray | None  # active-order linear predictor minus shift (None inside the Newton loop)
    shift: float
    beta: np.ndarray | None = None  # internal-scale coefficients the state was evaluated at


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model (R ``coxph`` conventions; covariates in the order given)."""

    coef: np.ndarray
    """Log hazard ratios; NaN for columns found redundant (R's NA)."""
    vcov_model: np.ndarray
    """Inverse information (R's ``naive.var`` when robust, else ``var``); zero rows for NaN coefs."""
    vcov_robust: np.ndarray | None
    """``D'D``, D = weighted score residuals x vcov_model summed within clusters; None unless asked."""
    loglik: float
    """Partial log-likelihood at ``coef``."""
    loglik_null: float
    """Partial log-likelihood at ``init`` (zero by default)."""
    score_test: float
    """Score (log-rank) test at ``init``: ``u' I^- u``."""
    wald_test: float
    """Wald test of ``coef - init`` with the reported variance (robust when computed, as R)."""
    wald_test_model: float
    """Wald test with the model variance."""
    lr_test: float
    """Likelihood-ratio test ``2 (loglik - loglik_null)``."""
    robust_score_test: float | None
    """R's robust score test (score residuals at ``init``), when robust."""
    df: int
    """Rank of the information matrix (number of estimable coefficients)."""
    n: int
    """Number of rows."""
    n_events: int
    """Number of events (unweighted)."""
    n_clusters: int | None
    """Number of clusters, when ``cluster`` was given."""
    iterations: int
    """Newton iterations (R's ``iter``)."""
    converged: bool
    """False when iterations ran out or a coefficient appears infinite (monotone likelihood)."""
    reason: str | None
    """Why ``converged`` is False (None when it is True)."""
    step_halvings: int
    """How many times a Newton step was shortened."""
    ties: str
    """'efron' or 'breslow'."""
    score: np.ndarray
    """Score vector at ``coef`` (R's ``first``)."""
    means: np.ndarray
    """Centring values as R's ``fit$means`` (0 for columns with values in {-1, 0, 1})."""
    linear_predictors: np.ndarray
    """``X coef - means' coef + offset`` per row (R's ``linear.predictors``)."""
    infinite: np.ndarray
    """Per coefficient: R's 'Loglik converged before variable ...; beta may be infinite' flag."""
    aliased: np.ndarray
    """Per coefficient: column found redundant by the Cholesky tolerance."""
    _risk: _RiskSets | None = field(default=None, repr=False, compare=False)
    _state: _GroupState | None = field(default=None, repr=False, compare=False)
    _center: np.ndarray | None = field(default=None, repr=False, compare=False)
    _scale: np.ndarray | None = field(default=None, repr=False, compare=False)
    _stratum_values: np.ndarray | None = field(default=None, repr=False, compare=False)
    _timefix: bool = field(default=True, repr=False, compare=False)

    @property
    def se_model(self) -> np.ndarray:
        """Model-based standard errors."""
        return np.sqrt(np.diag(self.vcov_model))

    @property
    def se_robust(self) -> np.ndarray | None:
        """Robust (or cluster) standard errors, when computed."""
        return None if self.vcov_robust is None else np.sqrt(np.diag(self.vcov_robust))

    @property
    def vcov(self) -> np.ndarray:
        """The variance R reports as ``vcov(fit)``: robust when computed, else model-based."""
        return self.vcov_model if self.vcov_robust is None else self.vcov_robust


# --------------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------------


def _unique_index(a_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and, per element, the position of its value among them."""
    new = np.empty(a_sorted.size, dtype=bool)
    new[:1] = True
    np.not_equal(a_sorted[1:], a_sorted[:-1], out=new[1:])
    pos = np.cumsum(new, dtype=np.intp)
    pos -= 1
    return a_sorted[new], pos


def _timefix_map(y: np.ndarray) -> np.ndarray | None:
    """The value each of the sorted distinct times ``y`` is merged to by ``aeqSurv``; None when none merge.

    survival's rule: among the finite distinct times, ``y[i+1]`` is tied to ``y[i]`` when
    ``dy <= tol`` or ``dy / mean(|y|) <= tol`` (``tol = sqrt(.Machine$double.eps)``); the first of
    each run of ties is a cut, and ``findInterval`` maps every time to the cut at or below it
    (``+Inf`` to the last cut). ``-Inf`` and NaN, which R cannot map, are left as they are.
    """
    fin = np.isfinite(y)
    yf = y if fin.all() else y[fin]
    if yf.size < 2:
        return None
    dy = np.diff(yf)
    mean_abs = np.mean(np.abs(yf))
    with np.errstate(divide="ignore", invalid="ignore"):
        tied = (dy <= _TIMEFIX_TOL) | ((dy / mean_abs) <= _TIMEFIX_TOL)
    if not tied.any():
        return None
    cut_pos = np.flatnonzero(np.concatenate([[True], ~tied]))
    merged = np.repeat(yf[cut_pos], np.diff(np.append(cut_pos, yf.size)))
    if yf is y:
        return merged
    out = y.copy()
    out[fin] = merged
    out[y == np.inf] = yf[cut_pos[-1]]
    return out


def _time_merge(
    stop: np.ndarray, order: np.ndarray, entry: np.ndarray | None, eorder: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """``stop[order]`` and ``entry[eorder]`` (both sorted) after ``aeqSurv``, and whether any time merged.

    Linear after the two sorts: the distinct values of each sorted array are merged (a stable
    sort of two sorted runs is one linear merge), the run of round-off ties is found on the
    distinct values, and every row takes its value's replacement through the position of its value.
    """
    ss = stop[order]
    us, idx_s = _unique_index(ss)
    es = None
    if entry is None:
        y = us
        pos_s = None
    else:
        es = entry[eorder]
        ue, idx_e = _unique_index(es)
        both = np.concatenate([us, ue])
        perm = np.argsort(both, kind="stable")
        y, pos_sorted = _unique_index(both[perm])
        pos = np.empty(both.size, dtype=np.intp)
        pos[perm] = pos_sorted
        pos_s, pos_e = pos[: us.size], pos[us.size :]
        del both, perm, pos_sorted
    ymap = _timefix_map(y)
    if ymap is None:
        return ss, es, False
    new_ss = (ymap if pos_s is None else ymap[pos_s])[idx_s]
    new_es = None if entry is None else ymap[pos_e][idx_e]
    return new_ss, new_es, True


def _check_zero_length(
    entry: np.ndarray, stop: np.ndarray, new_entry: np.ndarray, new_stop: np.ndarray
) -> None:
    bad = (new_entry == new_stop) & (entry != stop)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} (start, stop] interval(s) have effective length 0 after merging "
            f"times closer than {_TIMEFIX_TOL:.3g} (R: 'aeqSurv exception'); first at row "
            f"{int(np.flatnonzero(bad)[0])}. Pass timefix=False or round the times."
        )


def _aeq_surv(
    entry: np.ndarray | None, stop: np.ndarray, order: np.ndarray, eorder: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Merge times that differ by round-off, as survival's ``aeqSurv`` (coxph timefix=TRUE).

    ``order`` sorts ``stop`` and ``eorder`` (computed when None) sorts ``entry``; the merge is
    monotone, so they still sort the merged times. O(n) after the sorts.
    """
    if entry is not None and eorder is None:
        eorder = np.argsort(entry)
    new_ss, new_es, merged = _time_merge(stop, order, entry, eorder)
    if not merged:
        return entry, stop
    new_stop = np.empty_like(stop)
    new_stop[order] = new_ss
    if entry is None:
        return None, new_stop
    new_entry = np.empty_like(entry)
    new_entry[eorder] = new_es
    _check_zero_length(entry, stop, new_entry, new_stop)
    return new_entry, new_stop


def _radix_order(ranks: np.ndarray, n_ranks: int) -> np.ndarray:
    """Stable argsort of integer ranks in ``[0, n_ranks)`` by 16-bit radix passes (linear in n)."""
    if n_ranks <= 1 << 16:
        return np.argsort(ranks.astype(np.uint16), kind="stable")
    order = np.argsort((ranks & 0xFFFF).astype(np.uint16), kind="stable")
    high = ranks[order] >> 16
    if n_ranks <= 1 << 32:
        high = high.astype(np.uint16)
    return order[np.argsort(high, kind="stable")]


def _argsort_times(t: np.ndarray) -> np.ndarray:
    """A permutation sorting ``t`` (NaN last), in linear time when ``t`` has few distinct values.

    Survival times usually come on a grid (days, months, years), so there are far fewer distinct
    times than rows: the distinct values are found by hashing, sorted, and the rows placed by a
    radix sort of their ranks (ties keep row order). A comparison sort costs O(n log n) with a
    cache miss per comparison at millions of rows; it is used when a sample of the times says
    they are mostly distinct (continuous times).
    """
    n = t.size
    if n < 1 << 16:
        return np.argsort(t)
    sample = t[:: max(1, n // 16384)]
    dup = sample.size - np.unique(sample).size
    # birthday estimate of the number of distinct values: s^2 / (2 duplicates)
    if dup == 0 or sample.size**2 / (2.0 * dup) > n / 8:
        return np.argsort(t)
    codes, uniq = pd.factorize(t, use_na_sentinel=False)
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[np.argsort(np.asarray(uniq))] = np.arange(uniq.size)
    return _radix_order(rank[codes], uniq.size)


def _segments(group_stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = group_stratum.size
    change = np.flatnonzero(np.diff(group_stratum)) + 1
    starts = np.concatenate([[0], change]).astype(np.intp)
    ends = np.concatenate([change, [k]]).astype(np.intp)
    seg_of = np.repeat(np.arange(starts.size), ends - starts)
    return starts, ends, seg_of


def _unique_sorted(a: np.ndarray) -> np.ndarray:
    if a.size == 0:
        return a
    return a[np.concatenate([[True], a[1:] != a[:-1]])]


def _load_malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _load_malloc_trim()


def _trim_heap() -> None:
    """Give freed heap memory back to the system (glibc).

    After the first large temporary is freed, glibc raises its mmap threshold (up to 32 MB), so
    the n-sized temporaries of a few million rows come from the heap and their pages stay
    resident once freed; at 3 million rows that is ~70 MB of peak RSS that holds no data.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _index_dtype(size: int) -> type:
    """int32 for indices below 2**31 (half the memory of per-row index arrays), else intp."""
    return np.int32 if size < 2**31 - 1 else np.intp


def _prepare(
    stop: np.ndarray,
    event: np.ndarray,
    entry: np.ndarray | None,
    codes: np.ndarray | None,
    n_strata: int,
    weights: np.ndarray | None,
    efron: bool,
    timefix: bool,
) -> _RiskSets:
    """Sort once, merge tied times, and index every row's risk window by event-time group."""
    n = stop.size
    order = _argsort_times(stop)
    # entries are sorted too, so that merging times and ranking entries among the event times
    # are linear passes (a binary search per row in random order is what grew faster than n)
    eorder = None if entry is None else _argsort_times(entry)
    if timefix:
        ss, es_sorted, merged = _time_merge(stop, order, entry, eorder)
        if merged and entry is not None:
            new_stop = np.empty_like(stop)
            new_stop[order] = ss
            new_entry = np.empty_like(entry)
            new_entry[eorder] = es_sorted
            _check_zero_length(entry, stop, new_entry, new_stop)
            del new_stop, new_entry
    else:
        ss = stop[order]
        es_sorted = None if entry is None else entry[eorder]
    if n_strata > 1:
        # stable, so stop times stay sorted within strata (radix sort for small integer codes)
        sc = codes[order]
        if n_strata < 2**15:
            sc = sc.astype(np.int16)
        perm = np.argsort(sc, kind="stable")
        del sc
        order = order[perm]
        ss = ss[perm]
        del perm
    evs = event[order]
    if n_strata > 1:
        cs = codes[order]
        event_times = np.unique(ss[evs])
    else:
        event_times = _unique_sorted(ss[evs])
    width = event_times.size + 1
    rank_stop = np.searchsorted(event_times, ss, side="right")
    del ss
    rank_entry = None
    if entry is not None:
        ranks_sorted = np.searchsorted(event_times, es_sorted, side="right")  # sorted keys: linear
        del es_sorted
        rank_entry = np.empty(n, dtype=ranks_sorted.dtype)
        rank_entry[eorder] = ranks_sorted
        del ranks_sorted, eorder
        rank_entry = rank_entry[order]
    if n_strata == 1:
        # groups are the event times themselves
        group_keys = np.arange(1, width)
        hi = rank_stop
        hi -= 1
        lo = np.zeros(n, dtype=np.intp) if rank_entry is None else rank_entry
        first = 0
    else:
        key_stop = cs * width + rank_stop
        del rank_stop
        group_keys = _unique_sorted(key_stop[evs])
        hi = np.searchsorted(group_keys, key_stop, side="right") - 1
        del key_stop
        base = cs * width
        first = np.searchsorted(group_keys, base, side="right")
        if rank_entry is None:
            lo = first
        else:
            base += rank_entry
            lo = np.searchsorted(group_keys, base, side="right")
        del base, rank_entry, cs
    group_stratum = group_keys // width
    group_time = event_times[(group_keys % width) - 1]
    active = lo <= hi
    if not active.all():
        # rows whose interval holds no event time of their stratum never enter a risk set
        order, hi, lo, evs = order[active], hi[active], lo[active], evs[active]
        if n_strata > 1:
            first = first[active]
    del active
    m = order.size
    k = group_keys.size
    idx_t = _index_dtype(max(n, 2 * k + 2))
    seg_starts, seg_ends, seg_of_group = _segments(group_stratum)
    leaves = lo > first
    del first
    leave_rows = np.flatnonzero(leaves)
    lo_ref = np.where(leaves, lo, 0).astype(idx_t)
    del leaves
    death_pos = np.flatnonzero(evs)
    del evs
    death_group = hi[death_pos]
    w_s = None if weights is None else weights[order]
    n_death = np.bincount(death_group, minlength=k)
    death_weight = (
        n_death.astype(float) if w_s is None else np.bincount(death_group, weights=w_s[death_pos], minlength=k)
    )
    # one sparse matrix turns row sums into per-group sums: risk-set entries (+1 at the last
    # event time, -1 after the first), then (Efron) the deaths of each group
    lo_leave = lo[leave_rows] - 1
    del lo
    rows_idx = [hi.astype(idx_t), lo_leave.astype(idx_t)]
    cols_idx = [np.arange(m, dtype=idx_t), leave_rows.astype(idx_t)]
    vals = [np.ones(m), -np.ones(leave_rows.size)]
    if efron:
        rows_idx.append((death_group + k).astype(idx_t))
        cols_idx.append(death_pos.astype(idx_t))
        vals.append(np.ones(death_pos.size))
    vals = np.concatenate(vals)
    rows_idx = np.concatenate(rows_idx)
    cols_idx = np.concatenate(cols_idx)
    agg = _sparse.csr_matrix((vals, (rows_idx, cols_idx)), shape=(2 * k if efron else k, m))
    del vals, rows_idx, cols_idx
    if efron:
        pair_group = np.repeat(np.arange(k), n_death)
        pair_starts = np.concatenate([[0], np.cumsum(n_death)[:-1]]).astype(np.intp)
        j = np.arange(pair_group.size) - pair_starts[pair_group]
        pair_f = j / n_death[pair_group]
        pair_wt = (death_weight / n_death)[pair_group]
    else:
        pair_group = np.arange(k)
        pair_starts = np.arange(k, dtype=np.intp)
        pair_f = np.zeros(k)
        pair_wt = death_weight.copy()
    counts = np.bincount(hi, minlength=k).astype(float)
    if leave_rows.size:
        counts -= np.bincount(lo_leave, minlength=k)
    del lo_leave, leave_rows
    n_risk = np.rint(_seg_rev_cumsum(counts, seg_starts, seg_ends, seg_of_group)).astype(np.int64)
    hi_ref = (hi + 1).astype(idx_t)
    del hi
    return _RiskSets(
        n=n,
        rows=order.astype(idx_t) if order.dtype != idx_t else order,
        hi_ref=hi_ref,
        lo_ref=lo_ref,
        agg=agg,
        death_pos=death_pos,
        death_group=death_group,
        weights=w_s,
        unit_weights=weights is None,
        group_time=group_time,
        group_stratum=group_stratum,
        seg_starts=seg_starts,
        seg_ends=seg_ends,
        seg_of_group=seg_of_group,
        n_death=n_death,
        death_weight=death_weight,
        pair_group=pair_group,
        pair_f=pair_f,
        pair_wt=pair_wt,
        pair_starts=pair_starts,
        n_risk=n_risk,
        efron=efron,
    )


def _seg_rev_cumsum(a: np.ndarray, starts: np.ndarray, ends: np.ndarray, seg_of: np.ndarray) -> np.ndarray:
    """Reverse cumulative sum along axis 0 restarted in each segment (stratum)."""
    if starts.size == 1:
        return np.cumsum(a[::-1], axis=0)[::-1]
    if starts.size <= _LOOP_SEGMENTS:
        out = np.empty_like(a)
        for s, e in zip(starts, ends):
            out[s:e] = np.cumsum(a[s:e][::-1], axis=0)[::-1]
        return out
    c = np.cumsum(a[::-1], axis=0)[::-1]
    tail = np.concatenate([c, np.zeros((1,) + a.shape[1:])], axis=0)
    return c - tail[ends[seg_of]]


def _seg_cumsum_padded(a: np.ndarray, starts: np.ndarray, ends: np.ndarray, seg_of: np.ndarray) -> np.ndarray:
    """Forward cumulative sum restarted per segment, with a leading zero row (index k+1 = through k)."""
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    if starts.size == 1:
        np.cumsum(a, axis=0, out=out[1:])
    elif starts.size <= _LOOP_SEGMENTS:
        for s, e in zip(starts, ends):
            np.cumsum(a[s:e], axis=0, out=out[s + 1 : e + 1])
    else:
        c = np.cumsum(a, axis=0)
        head = np.concatenate([np.zeros((1,) + a.shape[1:]), c], axis=0)
        out[1:] = c - head[starts[seg_of]]
    return out


# --------------------------------------------------------------------------------------------
# one evaluation of loglik, score and information
# --------------------------------------------------------------------------------------------


class _Work:
    """Buffers reused across Newton iterations (fresh large allocations cost page faults).

    No m x p buffer is kept: risk-set sums of ``r x`` scale the sparse aggregation matrix by
    ``r`` instead of scaling ``x``, and ``X' diag(c) X`` is accumulated over row blocks.
    """

    def __init__(self, m: int, p: int, nnz: int, weighted: bool):
        self.eta = np.empty(m)  # eta, then exp(eta) in place
        self.r = np.empty(m) if weighted else None
        self.c = np.empty(m)
        self.vals = np.empty(nnz)
        self.block = np.empty((min(m, _block_rows(p)), p))

    def scratch(self, count: int) -> list[np.ndarray]:
        """``count`` length-m buffers, taken from the Newton loop's buffers once it is over."""
        m = self.c.size
        pool = [self.c, self.eta] + [self.vals[i * m : (i + 1) * m] for i in range(self.vals.size // max(m, 1))]
        if self.r is not None:
            pool.append(self.r)
        pool += [np.empty(m) for _ in range(count - len(pool))]
        return pool[:count]


def _block_rows(p: int) -> int:
    """Rows per block of the streamed passes: about 4 MB of doubles, at least 4096 rows."""
    return max(4096, (1 << 19) // max(p, 1))


def _blocks(m: int, p: int):
    step = _block_rows(p)
    for s in range(0, m, step):
        yield s, min(m, s + step)


def _weighted_cross(xs: np.ndarray, c: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    """``X' diag(c) X`` for ``c >= 0``: rank-k updates on ``sqrt(c) X`` block by block (no m x p copy)."""
    m, p = xs.shape
    cross = np.zeros((p, p), order="F")
    if not (m and p):  # BLAS rejects an empty operand (and prints to stdout)
        return np.zeros((p, p))
    if buf is None:
        buf = np.empty((min(m, _block_rows(p)), p))
    for s, e in _blocks(m, p):
        sc = np.sqrt(c[s:e])
        wx = np.multiply(xs[s:e], sc[:, None], out=buf[: e - s])
        cross = _blas.dsyrk(1.0, wx.T, beta=1.0, c=cross, trans=0, lower=0, overwrite_c=1)
    return np.triu(cross) + np.triu(cross, 1).T


def _group_sums(agg: Any, r: np.ndarray, xs: np.ndarray, vals: np.ndarray | None = None) -> np.ndarray:
    """``[agg @ r, agg @ (r x)]``; the sparse entries are scaled by ``r`` (same products, no m x p array)."""
    sums = np.empty((agg.shape[0], xs.shape[1] + 1))
    sums[:, 0] = agg @ r
    if vals is None:
        vals = np.empty(agg.data.size)
    np.take(r, agg.indices, out=vals)
    vals *= agg.data
    scaled = _sparse.csr_matrix((vals, agg.indices, agg.indptr), shape=agg.shape, copy=False)
    sums[:, 1:] = scaled @ xs
    return sums


def _linear_predictor(
    xs: np.ndarray, beta: np.ndarray, offset: np.ndarray | None, out: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """``xs beta + offset`` minus a shift keeping ``exp`` finite (shift 0 unless the maximum exceeds 500)."""
    eta = np.dot(xs, beta, out=out)
    if offset is not None:
        eta += offset
    top = float(eta.max()) if eta.size else 0.0
    shift = top - 500.0 if top > 500.0 else 0.0
    if shift:
        eta -= shift
    return eta, shift


def _evaluate(
    rs: _RiskSets,
    xs: np.ndarray,
    offset: np.ndarray | None,
    beta: np.ndarray,
    sum_wx_death: np.ndarray,
    work: _Work,
    want_info: bool = True,
) -> tuple[float, np.ndarray, np.ndarray | None, _GroupState]:
    """Log partial likelihood, score and information at ``beta``.

    The returned state holds no per-row array: ``work.eta`` has the linear predictor until the
    next call (:func:`_state_eta` recomputes it identically).
    """
    eta, shift = _linear_predictor(xs, beta, offset, out=work.eta)
    eta_death = eta[rs.death_pos]
    with np.errstate(over="ignore"):
        e = np.exp(eta, out=work.eta)  # eta itself is needed at the deaths only
    r = e if rs.unit_weights else np.multiply(e, rs.weights, out=work.r)
    k = rs.group_time.size
    sums = _group_sums(rs.agg, r, xs, work.vals)
    s = _seg_rev_cumsum(sums[:k], rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    pg = rs.pair_group
    if rs.efron:
        ed = sums[k:]
        f = rs.pair_f
        den = s[pg, 0] - f * ed[pg, 0]
        num = s[pg, 1:] - f[:, None] * ed[pg, 1:]
    else:
        den = s[:, 0].copy()
        num = s[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        xbar = num / den[:, None]
        logden = np.log(den)
    wt = rs.pair_wt
    wd = rs.death_weights
    loglik = float(wd @ eta_death) - float(wt @ logden) + (float(wd.sum()) - float(wt.sum())) * shift
    u = sum_wx_death - xbar.T @ wt
    state = _GroupState(den=den, xbar=xbar, eta=None, shift=shift, beta=beta.copy())
    if not want_info:
        return loglik, u, None, state
    h = wt / den
    a = np.bincount(pg, h, minlength=k) if rs.efron else h
    fa = _seg_cumsum_padded(a, rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    c = np.take(fa, rs.hi_ref, out=work.c)
    for s, e_ in _blocks(c.size, 1):
        c[s:e_] -= fa[rs.lo_ref[s:e_]]
    if rs.efron:
        b = np.bincount(pg, h * rs.pair_f, minlength=k)
        c[rs.death_pos] -= b[rs.death_group]
    c *= r
    np.maximum(c, 0.0, out=c)  # c >= 0 up to round-off
    cross = _weighted_cross(xs, c, work.block)
    imat = cross - (xbar * wt[:, None]).T @ xbar
    return loglik, u, imat, state


def _state_eta(
    xs: np.ndarray, offset: np.ndarray | None, state: _GroupState, out: np.ndarray | None = None
) -> _GroupState:
    """``state`` with its linear predictor (active order), as :func:`_evaluate` computed it."""
    eta, shift = _linear_predictor(xs, state.beta, offset, out=out)
    if shift != state.shift:  # cannot happen: same product, same maximum
        raise RuntimeError("linear predictor recomputation differs from the fit's")
    return _GroupState(den=state.den, xbar=state.xbar, eta=eta, shift=shift, beta=state.beta)


# --------------------------------------------------------------------------------------------
# score residuals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ScorePieces:
    """Per-group prefix sums from which any row's score residual is O(p)."""

    fa: np.ndarray
    fg: np.ndarray
    b: np.ndarray | None
    gf: np.ndarray | None
    mbar: np.ndarray
    e: np.ndarray  # exp(eta) per active row
    is_death: np.ndarray  # per active row


def _score_pieces(rs: _RiskSets, state: _GroupState, e_out: np.ndarray | None = None) -> _ScorePieces:
    h = rs.pair_wt / state.den
    hx = state.xbar * h[:, None]
    b = gf = None
    if rs.efron:
        a = np.add.reduceat(h, rs.pair_starts)
        g = np.add.reduceat(hx, rs.pair_starts, axis=0)
        b = np.add.reduceat(h * rs.pair_f, rs.pair_starts)
        gf = np.add.reduceat(hx * rs.pair_f[:, None], rs.pair_starts, axis=0)
        mbar = np.add.reduceat(state.xbar, rs.pair_starts, axis=0) / rs.n_death[:, None]
    else:
        a, g, mbar = h, hx, state.xbar
    fa = _seg_cumsum_padded(a, rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    fg = _seg_cumsum_padded(g, rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    is_death = np.zeros(rs.rows.size, dtype=bool)
    is_death[rs.death_pos] = True
    return _ScorePieces(fa=fa, fg=fg, b=b, gf=gf, mbar=mbar, e=np.exp(state.eta, out=e_out), is_death=is_death)


def _score_rows(rs: _RiskSets, pc: _ScorePieces, xs_rows: np.ndarray, idx) -> np.ndarray:
    """Unweighted score residuals (internal scale) of the active rows ``idx`` (a slice or positions);
    ``xs_rows`` holds their centred and scaled covariates."""
    hr = rs.hi_ref[idx]
    lr = rs.lo_ref[idx]
    acum = pc.fa[hr] - pc.fa[lr]
    resid = np.take(pc.fg, hr, axis=0)
    tmp = np.take(pc.fg, lr, axis=0)
    resid -= tmp
    np.multiply(xs_rows, acum[:, None], out=tmp)
    resid -= tmp
    del tmp
    e = pc.e[idx]
    resid *= e[:, None]
    dl = np.flatnonzero(pc.is_death[idx])
    if dl.size:
        dg = hr[dl] - 1
        xd = xs_rows[dl]
        extra = xd - pc.mbar[dg]
        if rs.efron:
            extra += e[dl][:, None] * (xd * pc.b[dg][:, None] - pc.gf[dg])
        resid[dl] += extra
    return resid


def _cluster_score_sums(
    rs: _RiskSets,
    xs: np.ndarray,
    state: _GroupState,
    codes: np.ndarray,
    n_clusters: int,
    scratch: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Weighted score residuals (internal scale) summed within clusters, one column at a time.

    Each column is a few length-m passes in the rows' own (sorted) order and one ``bincount``
    into a length-``n_clusters`` vector, so neither an m x p array nor random row gathers are
    needed; the operations are those of :func:`_score_rows` column by column.
    """
    m, p = xs.shape
    e_buf, acum, v, tmp = scratch if scratch is not None else [np.empty(m) for _ in range(4)]
    pc = _score_pieces(rs, state, e_out=e_buf)
    dp, dg = rs.death_pos, rs.death_group
    e_d = pc.e[dp]
    np.take(pc.fa, rs.hi_ref, out=acum)
    acum -= np.take(pc.fa, rs.lo_ref, out=tmp)
    out = np.empty((n_clusters, p))
    for j in range(p):
        col = np.ascontiguousarray(pc.fg[:, j])
        np.take(col, rs.hi_ref, out=v)
        v -= np.take(col, rs.lo_ref, out=tmp)
        v -= np.multiply(xs[:, j], acum, out=tmp)
        v *= pc.e
        xd = xs[dp, j]
        extra = xd - pc.mbar[dg, j]
        if rs.efron:
            extra += e_d * (xd * pc.b[dg] - pc.gf[dg, j])
        v[dp] += extra
        if not rs.unit_weights:
            v *= rs.weights
        out[:, j] = np.bincount(codes, weights=v, minlength=n_clusters)
    return out


def _robust_meat(
    rs: _RiskSets,
    xs: np.ndarray,
    state: _GroupState,
    scale: np.ndarray,
    clusters: tuple[np.ndarray, int] | None,
    scratch: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``L' L`` and ``1' L`` for ``L`` = weighted score residuals (original scale), rows summed within
    clusters when ``clusters = (code per active row, n_clusters)`` is given."""
    p = xs.shape[1]
    if clusters is not None:
        lw = _cluster_score_sums(rs, xs, state, *clusters, scratch=scratch)
        lw /= scale
        return lw.T @ lw, lw.sum(axis=0)
    # each row its own cluster: streamed over blocks of rows
    pc = _score_pieces(rs, state, e_out=None if scratch is None else scratch[0])
    meat = np.zeros((p, p))
    total = np.zeros(p)
    for s, e in _blocks(*xs.shape):
        lw = _score_rows(rs, pc, xs[s:e], slice(s, e))
        if not rs.unit_weights:
            lw *= rs.weights[s:e, None]
        lw /= scale
        meat += lw.T @ lw
        total += lw.sum(axis=0)
    return meat, total


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` by hashing (linear in n) and sorting only the
    distinct values: same sorted values, same codes."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    uniq = np.asarray(uniq)
    sorted_vals, rank = np.unique(uniq, return_inverse=True)
    if sorted_vals.size != uniq.size:  # values pandas tells apart but numpy merges (e.g. -0.0, NaNs)
        return np.unique(values, return_inverse=True)
    return sorted_vals, rank.ravel()[codes]


def _cluster_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.empty((n_groups, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_groups)
    return out


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------


def _converged(old: float, new: float, eps: float) -> bool:
    """coxph's test ``|1 - old/new| <= eps``; a log partial likelihood of exactly 0 (every risk set
    of one row, so nothing to estimate) has converged when it stays 0."""
    if new == 0.0:
        return old == 0.0
    return abs(1 - old / new) <= eps


def fit_cox(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    entry: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    cluster: np.ndarray | None = None,
    robust: bool = False,
    init: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    eps: float = 1e-11,
    max_iter: int = 100,
    timefix: bool = True,
    toler_inf: float | None = None,
) -> CoxFit:
    """Fit a Cox proportional-hazards model exactly as R's ``coxph``.

    Parameters
    ----------
    X
        Covariates, n x p (no intercept column).
    time
        Stop (event or censoring) time of each row.
    event
        1 for an event at ``time``, 0 for censoring.
    entry
        Start time of ``(entry, time]`` rows (counting-process data); None for right-censored data.
    strata
        Stratum labels: separate risk sets and baseline hazards, one coefficient vector.
    weights
        Positive case weights.
    ties
        'efron' (R's default) or 'breslow'.
    cluster
        Cluster labels; implies the robust (cluster) variance, R's ``cluster(id)``.
    robust
        Robust variance with each row its own cluster (R's ``robust=TRUE`` without cluster).
    init
        Starting coefficients (also the null hypothesis of the score, Wald and LR tests).
    offset
        Known linear-predictor offset per row (centred at its mean, as coxph does).
    eps
        Convergence tolerance on ``|1 - loglik_old / loglik_new|`` (``coxph.control(eps=)``).
    max_iter
        Maximum Newton iterations (``iter.max``).
    timefix
        Merge times equal up to round-off first, as ``coxph.control(timefix=TRUE)``.
    toler_inf
        Threshold of the infinite-coefficient check; ``sqrt(eps)`` as R by default.

    Returns
    -------
    CoxFit
        ``converged`` is False, with ``reason``, when iterations ran out or a coefficient appears
        infinite (monotone likelihood, R's 'Loglik converged before variable ...' warning).

    Raises
    ------
    ValueError
        On mismatched shapes, an event other than 0/1, non-positive weights, no events, or an
        interval that collapses to length 0 when tied times are merged.
    """
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n x p); got shape {x.shape}")
    n, p = x.shape
    stop = np.asarray(time, dtype=float)
    status = np.asarray(event)

    def _check(name: str, arr: np.ndarray | None) -> None:
        if arr is not None and (arr.ndim != 1 or arr.shape[0] != n):
            raise ValueError(f"{name} has shape {arr.shape} but X has {n} rows; pass one value per row")

    _check("time", stop)
    _check("event", status)
    start = None if entry is None else np.asarray(entry, dtype=float)
    _check("entry", start)
    wts = None if weights is None else np.asarray(weights, dtype=float)
    _check("weights", wts)
    off = None if offset is None else np.asarray(offset, dtype=float)
    _check("offset", off)
    if off is not None:
        # coxph centres a non-zero offset at its mean (estimates are unaffected)
        off = None if not off.any() else off - off.mean()
    strata_arr = None if strata is None else np.asarray(strata)
    _check("strata", strata_arr)
    cluster_arr = None if cluster is None else np.asarray(cluster)
    _check("cluster", cluster_arr)
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    if status.dtype != bool:
        if not np.isin(status, (0, 1)).all():
            raise ValueError("event must be 0/1 (or boolean); found other values")
        status = status.astype(bool)
    if not status.any():
        raise ValueError("cannot fit a Cox model with 0 events")
    if wts is not None and not (wts > 0).all():
        raise ValueError("weights must be > 0 (as R's coxph)")
    if robust and start is not None and cluster_arr is None:
        raise ValueError(
            "robust variance for (start, stop] data needs cluster= (the subject id): rows of one "
            "subject are not independent (R's coxph stops with 'one of cluster or id is needed')"
        )
    if start is not None and not (start < stop).all():
        bad = int(np.flatnonzero(~(start < stop))[0])
        raise ValueError(f"entry must be < time in every row; row {bad} has entry {start[bad]} >= time {stop[bad]}")
    beta0 = np.zeros(p) if init is None else np.asarray(init, dtype=float).copy()
    if beta0.shape != (p,):
        raise ValueError(f"init has shape {beta0.shape}; expected ({p},)")
    if strata_arr is None:
        codes = None
        stratum_values = np.array([0])
    else:
        stratum_values, codes = _sorted_codes(strata_arr)
        codes = codes.astype(np.intp).ravel()
    counting = start is not None
    efron = ties == "efron"
    n_clusters = None
    if cluster_arr is not None:
        # coded before the fit (int32), so that no n-sized temporary comes on top of the fit's arrays
        cvals, ccodes = _sorted_codes(cluster_arr)
        n_clusters = int(cvals.size)
        del cvals
        ccodes = ccodes.ravel().astype(_index_dtype(n_clusters))
    rs = _prepare(stop, status, start, codes, stratum_values.size, wts, efron, timefix)
    del codes
    _trim_heap()
    cc = None
    if cluster_arr is not None:
        cc = ccodes[rs.rows]
        del ccodes

    # centring and scaling as coxfit6/agfit4 (columns with values in {-1, 0, 1} are left alone)
    zero_one = np.zeros(p, dtype=bool)
    if n:
        lo_x, hi_x = x.min(axis=0), x.max(axis=0)
        for j in np.flatnonzero((lo_x >= -1) & (hi_x <= 1)):
            col = np.abs(x[:, j])
            zero_one[j] = bool(((col == 0) | (col == 1)).all())
            del col
    if wts is None:
        w = np.ones(n)
        center = np.where(zero_one, 0.0, (w @ x) / w.sum())
        del w
    else:
        center = np.where(zero_one, 0.0, (wts @ x) / wts.sum())
    if counting:
        means = np.where(zero_one, 0.0, x.mean(axis=0))
    else:
        means = center.copy()
    xs = x[rs.rows]
    xs -= center
    if rs.unit_weights:
        mad = np.array([np.abs(xs[:, j]).sum() for j in range(p)]) / max(xs.shape[0], 1)
    else:
        mad = np.array([(np.abs(xs[:, j]) * rs.weights).sum() for j in range(p)]) / rs.weights.sum()
    # (scale from the rows at risk only: harmless, Newton-Raphson is affine invariant)
    scale = np.where(zero_one | ~(mad > 0), 1.0, 1.0 / np.where(mad > 0, mad, 1.0))
    xs *= scale
    off_s = None if off is None else off[rs.rows]
    wd = rs.death_weights
    sum_wx_death = wd @ xs[rs.death_pos]
    work = _Work(xs.shape[0], p, rs.agg.data.size, not rs.unit_weights)

    beta = beta0 / scale
    loglik0, u, imat, state0 = _evaluate(rs, xs, off_s, beta, sum_wx_death, work)
    chol, rank = _cholesky2(imat)
    step = _chsolve2(chol, u)
    score_test = float(u @ step)
    iterations = 0
    halving = 0
    n_halvings = 0
    converged = False
    reason: str | None = None
    loglik = loglik0
    state = state0
    if max_iter == 0 or not np.isfinite(loglik0):
        if not np.isfinite(loglik0):
            reason = "the log-likelihood is not finite at the initial values"
        else:
            reason = "max_iter=0: no iterations were run"
    else:
        best = loglik0
        old_beta = beta.copy()
        new_beta = beta + step
        last_good = (beta.copy(), loglik0, u, chol, state0)
        for it in range(1, max_iter + 1):
            iterations = it
            newlk, u_new, imat_new, st_new = _evaluate(rs, xs, off_s, new_beta, sum_wx_death, work)
            _trim_heap()
            chol_new, rank2 = _cholesky2(imat_new)
            fail = (
                (not np.isfinite(newlk))
                or (not np.isfinite(u_new).all())
                or (not np.isfinite(imat_new).all())
                or (counting and abs(rank2) != abs(rank))
            )
            if not fail and (halving == 0 or not counting) and _converged(best, newlk, eps):
                beta, loglik, u, chol, state = new_beta, newlk, u_new, chol_new, st_new
                converged = True
                break
            if it == max_iter:
                reason = f"ran out of iterations (max_iter={max_iter}) and did not converge"
                if fail or not counting or (newlk < best if best == 0 else (newlk - best) / abs(best) < -eps):
                    beta, loglik, u, chol, state = last_good
                else:
                    beta, loglik, u, chol, state = new_beta, newlk, u_new, chol_new, st_new
                break
            if fail or newlk < best:
                halving += 1
                n_halvings += 1
                new_beta = (new_beta + halving * old_beta) / (halving + 1.0)
            else:
                halving = 0
                best = newlk
                step = _chsolve2(chol_new, u_new)
                old_beta = new_beta
                last_good = (new_beta.copy(), newlk, u_new, chol_new, st_new)
                new_beta = new_beta + step
        if not converged and not np.isfinite(loglik):
            reason = "the log-likelihood is not finite; the fit failed"

    vinv = _chinv2(chol)
    aliased = np.diag(vinv) == 0
    coef_internal = beta
    coef = coef_internal * scale
    u_orig = u / scale
    vcov_model = vinv * np.outer(scale, scale)
    df = int(np.sum(~aliased))

    # R's infinite-coefficient check after a converged fit (coxph.fit / agreg.fit)
    infinite = np.zeros(p, dtype=bool)
    if converged and max_iter > 1:
        tinf = np.sqrt(eps) if toler_inf is None else toler_inf
        with np.errstate(invalid="ignore"):
            infs = np.abs(u_orig @ vcov_model)
            if counting:
                infinite = ~np.isfinite(u_orig) | (infs > tinf * (1 + np.abs(coef)))
            else:
                infinite = ~np.isfinite(u_orig) | ((infs > eps) & (infs > tinf * np.abs(coef)))
    if converged and infinite.any():
        converged = False
        reason = (
            "loglik converged before coefficient(s) "
            + ", ".join(str(i) for i in np.flatnonzero(infinite))
            + " (0-based column index); the coefficient may be infinite (monotone likelihood, "
            "e.g. no events in one category)"
        )

    coef_out = np.where(aliased, np.nan, coef)
    diff0 = np.where(aliased, 0.0, coef - beta0)
    wald_model = _wald(vcov_model[np.ix_(~aliased, ~aliased)], diff0[~aliased]) if df else 0.0

    vcov_robust = None
    robust_score = None
    state = _state_eta(xs, off_s, state)
    if robust or cluster_arr is not None:
        clusters = None if cc is None else (cc, n_clusters)
        scratch = work.scratch(5)
        meat, _ = _robust_meat(rs, xs, state, scale, clusters, scratch[1:])
        vcov_robust = vcov_model @ meat @ vcov_model
        # R's robust score test uses the score residuals at init (the null linear predictor)
        state0 = _state_eta(xs, off_s, state0, out=scratch[0])
        meat0, total0 = _robust_meat(rs, xs, state0, scale, clusters, scratch[1:])
        robust_score = _wald(meat0, total0)
        del clusters, scratch, state0
    del work, cc
    lp = x @ coef - float(coef @ means)
    if off is not None:
        lp = lp + off
    vcov_reported = vcov_model if vcov_robust is None else vcov_robust
    wald = (
        _wald(vcov_reported[np.ix_(~aliased, ~aliased)], diff0[~aliased]) if df else 0.0
    )

    return CoxFit(
        coef=coef_out,
        vcov_model=vcov_model,
        vcov_robust=vcov_robust,
        loglik=float(loglik),
        loglik_null=float(loglik0),
        score_test=score_test,
        wald_test=wald,
        wald_test_model=wald_model,
        lr_test=float(2 * (loglik - loglik0)),
        robust_score_test=robust_score,
        df=df,
        n=n,
        n_events=int(status.sum()),
        n_clusters=n_clusters,
        iterations=iterations,
        converged=converged,
        reason=reason,
        step_halvings=n_halvings,
        ties=ties,
        score=u_orig,
        means=means,
        linear_predictors=lp,
        infinite=infinite,
        aliased=aliased,
        _risk=rs,
        _state=state,
        _center=center,
        _scale=scale,
        _stratum_values=stratum_values,
        _timefix=timefix,
    )


# --------------------------------------------------------------------------------------------
# after the fit
# --------------------------------------------------------------------------------------------


def fit_matrix(fit: CoxFit, X: np.ndarray) -> tuple[np.ndarray, Any, Any]:
    """``X`` as a 2-d float matrix checked against ``fit``, with the fit's risk sets and state."""
    rs, state = fit._risk, fit._state
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if rs is None or state is None or x.shape[0] != rs.n:
        raise ValueError(f"X has {x.shape[0]} rows but the fit has {fit.n}")
    return x, rs, state


def score_residuals(fit: CoxFit, X: np.ndarray, *, weighted: bool = False) -> np.ndarray:
    """Score residuals (n x p) at ``fit.coef``, as R's ``residuals(fit, type = "score")``.

    ``X`` must be the covariate matrix the fit was computed from. Efron-form under Efron ties;
    rows never at risk get zeros. ``weighted=True`` multiplies by the case weights.
    """
    x, rs, state = fit_matrix(fit, X)
    pc = _score_pieces(rs, state)
    out = np.zeros((rs.n, x.shape[1]))
    for s, e in _blocks(rs.rows.size, x.shape[1]):
        rows = rs.rows[s:e]
        xs = (x[rows] - fit._center) * fit._scale
        block = _score_rows(rs, pc, xs, slice(s, e))
        block /= fit._scale
        if weighted and not rs.unit_weights:
            block *= rs.weights[s:e, None]
        out[rows] = block
    return out


def dfbeta(fit: CoxFit, X: np.ndarray, *, cluster: np.ndarray | None = None) -> np.ndarray:
    """Weighted score residuals times the model variance (R's ``residuals(fit, 'dfbeta')``).

    With ``cluster``, rows are summed within clusters (sorted cluster order), R's ``collapse=``.
    """
    d = score_residuals(fit, X, weighted=True)
    if cluster is not None:
        _, codes = np.unique(np.asarray(cluster), return_inverse=True)
        d = _cluster_sums(d, codes, int(codes.max()) + 1)
    return d @ fit.vcov_model


def baseline_hazard(fit: CoxFit, *, centered: bool = True) -> BaselineHazard:
    """Baseline (cumulative) hazard at the event times, as ``survfit(fit)``/``basehaz(fit)``.

    ``centered=True`` gives the hazard of a row with covariates at ``fit.means`` (R's default);
    ``centered=False`` that of a row with all covariates 0. Efron fits use the Efron increments
    (``sum_j wbar / (S0 - j/d E0)``), Breslow fits ``sum(w_death) / S0``.
    """
    rs, state = fit._risk, fit._state
    if rs is None or state is None:
        raise ValueError("this CoxFit carries no risk-set information")
    h = rs.pair_wt / state.den
    inc = np.add.reduceat(h, rs.pair_starts) if rs.efron else h
    # internal eta = (x - center) coef + offset - shift; R's centring: (x - means) coef + offset
    coef = np.where(fit.aliased, 0.0, fit.coef)
    ref = fit.means if centered else np.zeros_like(fit.means)
    log_ratio = float(coef @ (ref - fit._center)) - state.shift
    inc = inc * np.exp(log_ratio)
    cum = _seg_cumsum_padded(inc, rs.seg_starts, rs.seg_ends, rs.seg_of_group)[1:]
    return BaselineHazard(
        strata=rs.group_stratum.copy(),
        stratum_values=fit._stratum_values,
        time=rs.group_time.copy(),
        n_risk=rs.n_risk.copy(),
        n_event=rs.n_death.copy(),
        hazard=inc,
        cumhaz=cum,
    )


@dataclass(frozen=True)
class SurvivalCurves:
    """Predicted survival curves in long form: one row per (curve, event time of its stratum)."""

    curve: np.ndarray
    """Index of the new-data row the curve is for."""
    strata: np.ndarray
    """Stratum code of the curve (index into ``stratum_values``)."""
    stratum_values: np.ndarray
    """The sorted unique strata values of the fit."""
    time: np.ndarray
    """Event time."""
    cumhaz: np.ndarray
    """Cumulative hazard of the curve."""
    surv: np.ndarray
    """Survival ``exp(-cumhaz)``."""
    std_err: np.ndarray
    """Standard error of the cumulative hazard (R's ``std.err``, the SE of ``log S``)."""
    conf_low: np.ndarray
    """Lower confidence limit of survival (log transform, as survfit's default)."""
    conf_high: np.ndarray
    """Upper confidence limit (capped at 1)."""


def survival_curves(
    fit: CoxFit,
    X_new: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    conf_level: float = 0.95,
) -> SurvivalCurves:
    """Predicted survival curves with pointwise intervals, as ``survfit(fit, newdata)``.

    Parameters
    ----------
    fit
        A :func:`fit_cox` result.
    X_new
        Covariate rows (m x p, the fit's columns) to predict for.
    strata
        Stratum label of each new row (values as passed to :func:`fit_cox`); None gives every new
        row a curve in every stratum.
    conf_level
        Confidence level of the log-transformed intervals ``S exp(+-z se)``.

    Notes
    -----
    Hazard increments are Breslow's or Efron's as the fit's ties (survfit's default ``ctype``).
    The variance of the cumulative hazard at covariates ``x`` is
    ``r^2 (sum_k v_k + d(t)' V d(t))`` with ``r`` the relative risk at ``x``, ``v_k`` the
    hazard variance increments (``sum_j w_kj / S0_kj^2``), ``d(t) = H(t) (x - m) - sum_k
    sum_j h_kj (xbar_kj - m)`` and ``V`` the fit's variance (robust when computed), as
    survival's ``agsurv``/``coxsurv.fit``.
    """
    from scipy.stats import norm

    rs, state = fit._risk, fit._state
    if rs is None or state is None:
        raise ValueError("this CoxFit carries no risk-set information")
    xn = np.asarray(X_new, dtype=float)
    if xn.ndim == 1:
        xn = xn[None, :]
    p = fit.coef.size
    if xn.ndim != 2 or xn.shape[1] != p:
        raise ValueError(f"X_new has shape {xn.shape}; expected (m, {p}) like the fitted X")
    coef = np.where(fit.aliased, 0.0, fit.coef)
    m_ref = fit.means
    log_ratio = float(coef @ (m_ref - fit._center)) - state.shift
    factor = np.exp(log_ratio)
    h = rs.pair_wt / state.den
    xbar_orig = state.xbar / fit._scale + fit._center - m_ref  # pair means, centred at fit.means
    hx = xbar_orig * h[:, None]
    v = rs.pair_wt / state.den**2
    if rs.efron:
        h, v, hx = (np.add.reduceat(a, rs.pair_starts, axis=0) for a in (h, v, hx))
    haz = h * factor
    var_inc = v * factor**2
    hx = hx * factor
    seg = (rs.seg_starts, rs.seg_ends, rs.seg_of_group)
    cum = _seg_cumsum_padded(haz, *seg)[1:]
    cum_var = _seg_cumsum_padded(var_inc, *seg)[1:]
    cum_x = _seg_cumsum_padded(hx, *seg)[1:]
    vmat = fit.vcov  # zero rows and columns for aliased coefficients
    if strata is None:
        pairs = [(i, s) for i in range(xn.shape[0]) for s in np.unique(rs.group_stratum)]
    else:
        labels = np.asarray(strata)
        if labels.shape != (xn.shape[0],):
            raise ValueError(f"strata has shape {labels.shape}; expected ({xn.shape[0]},)")
        codes = np.searchsorted(fit._stratum_values, labels)
        codes = np.clip(codes, 0, fit._stratum_values.size - 1)
        bad = fit._stratum_values[codes] != labels
        if bad.any():
            raise ValueError(f"unknown stratum {labels[bad][0]!r}; the fit has {list(fit._stratum_values)}")
        pairs = list(enumerate(codes))
    z = norm.ppf(0.5 + conf_level / 2)
    out = {k: [] for k in ("curve", "strata", "time", "cumhaz", "std_err")}
    seg_stratum = rs.group_stratum[rs.seg_starts]
    for i, s in pairs:
        which = np.flatnonzero(seg_stratum == s)
        if which.size == 0:  # a stratum without events has no curve
            continue
        sel = slice(rs.seg_starts[which[0]], rs.seg_ends[which[0]])
        dx = xn[i] - m_ref
        risk = float(np.exp(coef @ dx))
        d = cum[sel, None] * dx[None, :] - cum_x[sel]
        var = (cum_var[sel] + np.einsum("ij,jk,ik->i", d, vmat, d)) * risk**2
        out["curve"].append(np.full(sel.stop - sel.start, i))
        out["strata"].append(np.full(sel.stop - sel.start, s))
        out["time"].append(rs.group_time[sel])
        out["cumhaz"].append(cum[sel] * risk)
        out["std_err"].append(np.sqrt(var))
    cols = {k: np.concatenate(vals) if vals else np.zeros(0) for k, vals in out.items()}
    surv = np.exp(-cols["cumhaz"])
    return SurvivalCurves(
        curve=cols["curve"].astype(np.int64),
        strata=cols["strata"].astype(np.int64),
        stratum_values=fit._stratum_values,
        time=cols["time"],
        cumhaz=cols["cumhaz"],
        surv=surv,
        std_err=cols["std_err"],
        conf_low=surv * np.exp(-z * cols["std_err"]),
        conf_high=np.minimum(1.0, surv * np.exp(z * cols["std_err"])),
    )
