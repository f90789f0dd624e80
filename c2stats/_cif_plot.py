"""Cumulative incidence curves: a pure plot of :func:`~c2stats.families._cif_engine.cumulative_incidence` frames.

:func:`plot_cif` draws what the frame holds and computes nothing: one step curve per (group,
cause) starting at (0, 0), with its pointwise band. The figure kind ``cif`` in
:mod:`c2stats.figures` calls it (tests inspect the Axes under Agg).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_REQUIRED = ("group", "cause", "time", "estimate", "conf_low", "conf_high")
_LINESTYLES = ("-", "--", ":", "-.")


def plot_cif(frame: pd.DataFrame, ax: Axes | None = None, *, causes: Sequence[Any] | None = None,
             groups: Sequence[Any] | None = None, conf_int: bool = True, x_max: float | None = None,
             cause_labels: Mapping[str, str] | None = None, group_labels: Mapping[str, str] | None = None,
             xlabel: str = "Time", ylabel: str = "Cumulative incidence") -> Axes:
    """Step curves of cumulative incidence with pointwise bands, one per group and cause.

    Parameters
    ----------
    frame
        Long frame with columns ``group, cause, time, estimate, conf_low, conf_high`` (as returned
        by :func:`~c2stats.families._cif_engine.cumulative_incidence`).
    ax
        Axes to draw on; a new figure's when None.
    causes, groups
        Which causes and groups to draw, in this order (default: all, in the frame's order).
    conf_int
        Draw the pointwise bands (a missing limit, where the estimate is 0, is drawn as 0).
    x_max
        Right end of the x axis (curves are cut there); default the last time.
    cause_labels, group_labels
        Display names keyed by the text of a cause or group value.

    Returns
    -------
    matplotlib.axes.Axes
        Groups take colours (``C0``, ``C1``...), causes line styles. Each curve is a Line2D
        (``steps-post``) labelled ``"<group>: <cause>"`` (only the cause when there is one group,
        only the group when there is one cause), starting at (0, 0); its band is a PolyCollection
        with gid ``band:<label>``.

    Raises
    ------
    ValueError
        A required column is missing, or a requested cause or group is not in the frame.
    """
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"the cumulative incidence frame lacks column(s) {missing}; expected {list(_REQUIRED)}")
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6.0, 4.0), dpi=100, layout="constrained").add_subplot()
    causes = list(pd.unique(frame["cause"])) if causes is None else list(causes)
    groups = list(pd.unique(frame["group"])) if groups is None else list(groups)
    for name, wanted, present in (("cause", causes, frame["cause"]), ("group", groups, frame["group"])):
        absent = [v for v in wanted if not (present == v).any()]
        if absent:
            raise ValueError(f"{name}(s) {absent} not in the frame (it has {list(pd.unique(present))})")
    cause_labels, group_labels = dict(cause_labels or {}), dict(group_labels or {})
    upper = float(frame["time"].max()) if x_max is None else float(x_max)
    top = 0.0
    from matplotlib.colors import to_hex

    for g_index, group in enumerate(groups):
        color = to_hex(f"C{g_index}")
        for c_index, cause in enumerate(causes):
            part = frame[(frame["group"] == group) & (frame["cause"] == cause)].sort_values("time")
            part = part[part["time"] <= upper]
            g_text, c_text = str(group), str(cause)
            g_name, c_name = group_labels.get(g_text, g_text), cause_labels.get(c_text, c_text)
            label = c_name if len(groups) == 1 else g_name if len(causes) == 1 else f"{g_name}: {c_name}"
            x = np.concatenate([[0.0], part["time"].to_numpy(dtype=float), [upper]])
            y = part["estimate"].to_numpy(dtype=float)
            y = np.concatenate([[0.0], y, y[-1:] if y.size else [0.0]])
            ax.plot(x, y, drawstyle="steps-post", color=color, linestyle=_LINESTYLES[c_index % len(_LINESTYLES)],
                    linewidth=1.5, label=label)
            top = max(top, float(np.nanmax(y)))
            if conf_int:
                est = part["estimate"].to_numpy(dtype=float)
                low = np.where(np.isnan(part["conf_low"].to_numpy(dtype=float)), est, part["conf_low"])
                high = np.where(np.isnan(part["conf_high"].to_numpy(dtype=float)), est, part["conf_high"])
                low = np.concatenate([[0.0], low, low[-1:] if low.size else [0.0]])
                high = np.concatenate([[0.0], high, high[-1:] if high.size else [0.0]])
                ax.fill_between(x, low, high, step="post", color=color, alpha=0.15, linewidth=0, gid=f"band:{label}")
                top = max(top, float(np.nanmax(high)))
    ax.set_xlim(0, upper)
    ax.set_ylim(0, min(1.0, top * 1.05) if top > 0 else 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(groups) * len(causes) > 1:
        ax.legend(loc="upper left")
    return ax
