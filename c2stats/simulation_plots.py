"""Tables and power curves of ``[[simulations]]``: renderers of the summary frame of
:class:`c2stats.simulate.SimulationRun` (they read the frame only, never data or fits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from .figures import themed
from .tables import TableModel, frame_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SUMMARY_DIGITS = {"mean_events": 1, "power": 3, "power_mcse": 3, "analytic_power": 3, "coverage": 3}


def simulation_table(summary: pd.DataFrame, title: str, notes: Sequence[str] = (), *, table_id: str) -> TableModel:
    """The summary of a simulation (one row per setting) as a :class:`~c2stats.tables.TableModel`."""
    frame = summary.copy()
    if frame["mean_events"].isna().all():
        frame = frame.drop(columns="mean_events")
    if frame["analytic_power"].isna().all():
        frame = frame.drop(columns="analytic_power")
    return frame_table(frame, title, notes, digits={c: SUMMARY_DIGITS.get(c, 4) for c in frame.columns},
                       table_id=table_id)


def power_curve(summary: pd.DataFrame, *, alpha: float, ax: "Axes | None" = None) -> "Axes":
    """Simulated power (points, with 95% Monte Carlo intervals) against the setting, and the analytic
    power (dashed) where the summary has it; a dotted line marks alpha."""
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6.0, 4.0), dpi=100, layout="constrained").add_subplot()
    x_key = summary.columns[0]
    x = summary[x_key].to_numpy(float)
    power = summary["power"].to_numpy(float)
    half = 1.96 * summary["power_mcse"].to_numpy(float)
    ax.errorbar(x, power, yerr=half, marker="o", capsize=3, label="simulated", gid="simulated")
    analytic = summary["analytic_power"].to_numpy(float) if "analytic_power" in summary else np.full_like(x, np.nan)
    if np.isfinite(analytic).any():
        ax.plot(x, analytic, linestyle="--", marker="", label="analytic", gid="analytic")
    ax.axhline(alpha, linestyle=":", color="0.5", linewidth=1, gid="alpha")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("sample size (n)" if x_key == "n" else "events")
    ax.set_ylabel("power")
    ax.legend(loc="lower right")
    return ax


def power_curve_figure(summary: pd.DataFrame, *, alpha: float, title: str | None = None) -> "Figure":
    """A themed figure holding :func:`power_curve`; :func:`c2stats.figures.save_figure` writes it."""
    with themed():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 4.0), dpi=100, layout="constrained")
        ax = power_curve(summary, alpha=alpha, ax=fig.add_subplot())
        if title:
            ax.set_title(title)
    return fig
