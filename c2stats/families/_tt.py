"""Time-varying coefficients for the Cox model as R's ``coxph(... + tt(x), tt = function(x, t, ...) ...)``.

R implements ``tt()`` by expanding the data at every event time: one row per subject per risk set
(``coxcount1`` for right-censored data, ``coxcount2`` for ``(start, stop]`` data), the event time as
the new stop time, an event only for the rows that fail then, and one stratum per risk set; the
transformed column ``f(x, t)`` is then an ordinary covariate. :func:`expand_risk_sets` builds the
same rows and :func:`tt_columns` the transforms, so that ``fit_cox`` on the expansion is R's fit.

Transforms (``options.tt = { <column> = ... }``):

* ``"log"``: ``x * log(t)`` (term ``tt(x)``);
* ``"identity"``: ``x * t`` (term ``tt(x)``);
* ``"step:<t1>,<t2>,..."``: period interactions ``x * I(t1 < t <= t2)``, ..., ``x * I(t > tk)``
  (terms ``tt(x):(t1,t2]``, ..., ``tt(x):(tk,Inf)``): with ``x`` in the formula, each is the change
  of the log hazard ratio in that period relative to ``(0, t1]``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._cox_engine import _aeq_surv

__all__ = ["RiskSetExpansion", "TimeTransform", "expand_risk_sets", "parse_transform", "tt_columns"]


@dataclass(frozen=True)
class TimeTransform:
    """One ``tt()`` term: the column, the kind and (step) the cut points."""

    column: str
    kind: str  # 'log', 'identity' or 'step'
    cuts: tuple[float, ...] = ()
    cut_labels: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Coefficient names of the term."""
        base = f"tt({self.column})"
        if self.kind != "step":
            return (base,)
        edges = [*self.cut_labels, "Inf"]
        return tuple(f"{base}:({edges[i]},{edges[i + 1]}{')' if i + 1 == len(self.cuts) else ']'}"
                     for i in range(len(self.cuts)))


def parse_transform(column: str, value: str) -> TimeTransform:
    """Read ``"log"``, ``"identity"`` or ``"step:t1,t2,..."``; ValueError with the expected forms."""
    text = str(value).strip()
    if text in ("log", "identity"):
        return TimeTransform(column, text)
    if text.startswith("step:"):
        parts = [p.strip() for p in text[5:].split(",") if p.strip()]
        try:
            cuts = tuple(float(p) for p in parts)
        except ValueError:
            cuts = ()
        if not cuts or any(not np.isfinite(c) for c in cuts) or any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError(f"{value!r} needs increasing finite cut times after 'step:', e.g. 'step:180,365'")
        return TimeTransform(column, "step", cuts, tuple(parts))
    raise ValueError(f"{value!r} is not a time transform; use \"log\" (x * log(t)), \"identity\" (x * t) "
                     "or \"step:<t1>,<t2>\" (x * I(t1 < t <= t2), ..., x * I(t > t_last))")


def tt_columns(transform: TimeTransform, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The design column(s) of ``tt(x)`` at the risk-set times ``t`` (one row per expanded row)."""
    x = np.asarray(x, dtype=float)
    if transform.kind == "log":
        return (x * np.log(t))[:, None]
    if transform.kind == "identity":
        return (x * t)[:, None]
    edges = [*transform.cuts, np.inf]
    return np.column_stack([x * ((t > edges[i]) & (t <= edges[i + 1])) for i in range(len(transform.cuts))])


@dataclass(frozen=True)
class RiskSetExpansion:
    """The data expanded at the event times (R's ``tindex``, new Y and ``istrat``)."""

    rows: np.ndarray
    """Index of the original row of each expanded row."""
    time: np.ndarray
    """The event time of the risk set (the new stop time)."""
    event: np.ndarray
    """1 for the rows failing at that time."""
    risk_set: np.ndarray
    """Risk-set number (the new strata)."""


def expand_risk_sets(time: np.ndarray, event: np.ndarray, *, entry: np.ndarray | None = None,
                     strata: np.ndarray | None = None, timefix: bool = True,
                     max_rows: int | None = None) -> RiskSetExpansion:
    """One row per subject per risk set, as ``coxph`` does for ``tt()`` terms.

    A row is in the risk set of event time ``t`` of its stratum when ``entry < t <= stop`` (no
    entry: ``t <= stop``); times equal up to round-off are merged first (``aeqSurv``). Raises
    ValueError (with the count) when the expansion would exceed ``max_rows`` rows.
    """
    stop = np.asarray(time, dtype=float)
    ev = np.asarray(event).astype(bool)
    start = None if entry is None else np.asarray(entry, dtype=float)
    if timefix:
        start, stop = _aeq_surv(start, stop, np.argsort(stop, kind="stable"))
    n = stop.size
    codes = np.zeros(n, dtype=np.intp) if strata is None else np.unique(strata, return_inverse=True)[1].ravel()
    if max_rows is not None:
        total = 0
        for c in np.unique(codes):
            members = np.flatnonzero(codes == c)
            s_sorted = np.sort(stop[members])
            t_ev = np.unique(stop[members][ev[members]])
            total += int(np.sum(s_sorted.size - np.searchsorted(s_sorted, t_ev, side="left")))
        if total > max_rows:
            raise ValueError(f"the data expanded at every event time would have {total} rows (more than {max_rows})")
    rows, times, events, sets = [], [], [], []
    set_no = 0
    for c in np.unique(codes):
        members = np.flatnonzero(codes == c)
        order = members[np.argsort(stop[members], kind="stable")]
        s_sorted = stop[order]
        for t in np.unique(stop[members][ev[members]]):
            at_risk = order[np.searchsorted(s_sorted, t, side="left"):]
            if start is not None:
                at_risk = at_risk[start[at_risk] < t]
            rows.append(at_risk)
            times.append(np.full(at_risk.size, t))
            events.append(ev[at_risk] & (stop[at_risk] == t))
            sets.append(np.full(at_risk.size, set_no))
            set_no += 1
    return RiskSetExpansion(rows=np.concatenate(rows), time=np.concatenate(times),
                            event=np.concatenate(events).astype(float), risk_set=np.concatenate(sets))
