"""Figures declared in ``[[figures]]``: coefficient plots, Kaplan-Meier curves, predicted survival,
predicted probabilities and marginal effects.

Each kind has a plotting function (:func:`coef_plot`, :func:`km_plot`, :func:`survival_plot`,
:func:`predicted_plot`, :func:`marginal_plot`) that takes ``ax=None``, draws on it (or on a new
Figure) and returns the Axes; none shows or saves. :func:`build_figure` turns a
:class:`FigureSpec` into a themed Figure, :func:`save_figure` writes it byte-reproducibly (the
report calls it). The numbers come from :mod:`c2stats.predict`, verified against R.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from . import escape
from ._cif_plot import plot_cif
from .errors import ConfigError, SpecificationError, UserInputError
from .predict import (
    _strata_columns,
    categorical_levels,
    coerce_level,
    covariate_columns,
    cox_survival,
    estimation_sample,
    family_facts,
    kaplan_meier,
    marginal_effect,
    model_spec,
    number_at_risk,
    parametric_survival,
    predict,
    predictable,
    predictor,
    profile_frame,
    typical_values,
)
from .spec import FigureSpec, suggest
from .tables import _term_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .results import Result


_LOG_SCALES = ("log_hazard", "log_odds", "log_relative_risk", "log_time")


# ----------------------------------------------------------------------------------------------
# Theme and output
# ----------------------------------------------------------------------------------------------
def theme() -> dict[str, Any]:
    """The rc parameters of every c2stats figure: seaborn's whitegrid style, paper context and
    colour-blind palette, with fonts and output settings fixed so files are reproducible."""
    import seaborn as sns
    from cycler import cycler

    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=1.15))
    rc.update({
        "axes.prop_cycle": cycler(color=sns.color_palette("colorblind")),
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib: the same glyphs everywhere
        "mathtext.fontset": "dejavusans",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "c2stats",
        "pdf.fonttype": 42,
        "savefig.dpi": "figure",
        "path.simplify": False,
    })
    return rc


@contextmanager
def themed() -> Iterator[None]:
    """Apply :func:`theme` within a ``with`` block."""
    import matplotlib as mpl

    with mpl.rc_context(theme()):
        yield


_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": None, "Date": None},
}


def save_figure(fig: "Figure", path: Path, fmt: str) -> None:
    """Write ``fig`` as png, pdf or svg with no dates or software versions in the file, so the same
    figure gives the same bytes on every run."""
    import matplotlib as mpl

    if fmt not in _METADATA:
        raise ValueError(f"unknown figure format {fmt!r}; use png, pdf or svg")
    escape.figure_text(fig)  # labels are user text: '$' is a dollar, never mathtext
    with mpl.rc_context(theme()):
        fig.savefig(Path(path), format=fmt, metadata=_METADATA[fmt], dpi="figure")


def _new_axes(width: float = 6.0, height: float = 4.0, dpi: int = 100) -> "Axes":
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout="constrained").add_subplot()


def _band(ax: "Axes", x, low, high, color, gid: str, step: bool = False, outline: bool = False,
          linestyle="-") -> None:
    """A confidence band; ``outline`` draws only its edges (thin, in the curve's line style), so that
    three or more overlapping bands stay readable instead of mixing into one tint."""
    x, low, high = (np.asarray(a, dtype=float) for a in (x, low, high))
    if outline:
        ax.fill_between(x, low, high, step="post" if step else None, facecolor="none", edgecolor=color,
                        linewidth=0.7, linestyle=linestyle, alpha=0.8, gid=gid)
    else:
        ax.fill_between(x, low, high, step="post" if step else None, color=color, alpha=0.18, linewidth=0, gid=gid)


def _color(k: int) -> str:
    """The k-th colour of the current cycle, resolved now (so saving outside the theme keeps it)."""
    from matplotlib.colors import to_hex

    return to_hex(f"C{k}")


#: Line styles and markers by series: with the colour-blind palette, series stay apart in greyscale.
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")


def _linestyle(k: int):
    return LINESTYLES[k % len(LINESTYLES)]


def _marker(k: int) -> str:
    return MARKERS[k % len(MARKERS)]


def _legend_outside(ax: "Axes", n: int, ncol: int | None = None, handles=None, labels=None) -> None:
    """A legend above the plotting area (never over the data), in up to three columns
    (:func:`finish_figure` takes columns away while it is wider than the figure)."""
    if n <= 1:
        return
    args = (handles, labels) if handles is not None else ()
    ax.legend(*args, loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=ncol or min(n, 3 if n != 4 else 2),
              borderaxespad=0.0, frameon=False, handlelength=2.6, columnspacing=1.2)


def _fit_legends(fig: "Figure", renderer) -> bool:
    """Give a legend wider than the figure one column fewer; True if one changed."""
    changed = False
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or legend.get_bbox_to_anchor() is None:
            continue
        box = _extent(legend, renderer)
        ncol = legend._ncols
        if (box.x0 < fig.bbox.x0 - 0.5 or box.x1 > fig.bbox.x1 + 0.5) and ncol > 1:
            _legend_outside(ax, len(legend.get_texts()), ncol - 1, handles=legend.legend_handles,
                            labels=[t.get_text() for t in legend.get_texts()])
            changed = True
    return changed


def log_ticks(low: float, high: float, max_ticks: int = 7) -> list[float]:
    """Major ticks of a log axis over ``[low, high]``: 1-2-5 steps on a narrow range, whole decades on a
    wider one, every k-th decade beyond that, so there are at most ``max_ticks`` labels."""
    low, high = max(low, 1e-300), max(high, 1e-300)
    lo_dec, hi_dec = int(np.floor(np.log10(low))), int(np.ceil(np.log10(high)))
    for subs in ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,)):
        ticks = [m * 10.0 ** d for d in range(lo_dec, hi_dec + 1) for m in subs if low <= m * 10.0 ** d <= high]
        if 2 <= len(ticks) <= max_ticks:
            return ticks
    decades = list(range(lo_dec, hi_dec + 1))
    step = max(1, int(np.ceil(len(decades) / max_ticks)))
    ticks = [10.0 ** d for d in decades if d % step == 0 and low <= 10.0 ** d <= high]
    return ticks or [10.0 ** lo_dec]


def log_tick_label(value: float) -> str:
    """'0.01', '1', '100' within 10^-3..10^4, else '10^k' as mathtext."""
    if value <= 0:
        return ""
    exponent = np.log10(value)
    if -3 <= exponent <= 4 or not np.isclose(exponent, round(exponent)):
        return f"{value:g}" if value >= 1e-3 else f"{value:.0e}"
    return f"$10^{{{int(round(exponent))}}}$"


def set_log_axis(ax: "Axes", axis: str = "x") -> None:
    """A log scale whose tick labels never run together (see :func:`log_ticks`)."""
    from matplotlib import ticker

    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    target.set_major_locator(ticker.FixedLocator(log_ticks(low, high)))
    target.set_major_formatter(ticker.FuncFormatter(lambda v, _: log_tick_label(v)))
    target.set_minor_locator(ticker.LogLocator(base=10, subs="auto", numticks=12))
    target.set_minor_formatter(ticker.NullFormatter())


def _extent(artist, renderer):
    return artist.get_window_extent(renderer=renderer)


def overlapping_ticks(ax: "Axes", renderer=None) -> list[tuple[str, str]]:
    """Pairs of neighbouring visible tick labels (x and y) whose boxes overlap."""
    fig = ax.figure
    renderer = renderer or fig.canvas.get_renderer()
    pairs = []
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        labels = [(t, _extent(t, renderer)) for t, loc in zip(axis.get_ticklabels(), axis.get_ticklocs())
                  if t.get_visible() and t.get_text() and lo - 1e-9 * abs(lo) <= loc <= hi + 1e-9 * abs(hi)]
        for (a, ea), (b, eb) in zip(labels, labels[1:]):
            if ea.overlaps(eb):
                pairs.append((a.get_text(), b.get_text()))
    return pairs


def _wrap_to(text_artist, max_px: float, renderer) -> None:
    import textwrap

    text = text_artist.get_text()
    if not text or "\n" in text or "$" in text:
        return
    width = _extent(text_artist, renderer).width
    if width <= max_px:
        return
    chars = max(10, int(len(text) * max_px / width * 0.95))
    text_artist.set_text(textwrap.fill(text, chars))


def finish_figure(fig: "Figure") -> "Figure":
    """Make the layout readable: wrap axis labels and titles wider than the figure, and drop every
    other tick label of an axis whose labels overlap, until none do. Returns ``fig``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:  # labels centred on the axes: no wider than the axes (constrained layout keeps these)
        _wrap_to(ax.xaxis.label, max(ax.bbox.width, 0.6 * fig.bbox.width), renderer)
        _wrap_to(ax.yaxis.label, max(ax.bbox.height, 0.6 * fig.bbox.height), renderer)
        _wrap_to(ax.title, fig.bbox.width * 0.95, renderer)
    if fig._suptitle is not None:
        _wrap_to(fig._suptitle, fig.bbox.width * 0.95, renderer)
    for _ in range(4):
        fig.draw_without_rendering()
        crowded = _fit_legends(fig, renderer)
        for ax in fig.axes:
            for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
                if not any(p for p in overlapping_ticks(ax, renderer)):
                    continue
                ticks = [t for t in axis.get_ticklocs()]
                if len(ticks) > 2 and axis.get_scale() in ("log", "linear") and name == "x":
                    from matplotlib import ticker

                    fmt = axis.get_major_formatter()
                    axis.set_major_locator(ticker.FixedLocator(ticks[::2]))
                    axis.set_major_formatter(fmt)
                    crowded = True
        if not crowded:
            break
    return fig


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ----------------------------------------------------------------------------------------------
# coefplot
# ----------------------------------------------------------------------------------------------
def _coef_rows(result: "Result", conf_level: float | None) -> pd.DataFrame:
    from scipy import stats

    tidy = result.tidy.copy()
    comp = tidy["component"].fillna("").astype(str) if "component" in tidy else pd.Series("", index=tidy.index)
    tidy["key"] = [f"{c}: {t}" if c and c != "ancillary" else t for c, t in zip(comp, tidy["term"])]
    tidy["ancillary"] = comp == "ancillary"
    if conf_level is not None and conf_level != result.meta.get("conf_level"):
        df = result.meta.get("df_resid")
        dist = stats.t(df) if df is not None and np.isfinite(df) else stats.norm
        q = dist.ppf(0.5 + conf_level / 2)
        tidy["conf_low"] = tidy["estimate"] - q * tidy["std_error"]
        tidy["conf_high"] = tidy["estimate"] + q * tidy["std_error"]
    return tidy


def coef_plot(results: Sequence["Result"], *, terms: Sequence[str] | None = None,
              labels: Mapping[str, str] | None = None, exponentiate: bool = False, conf_level: float | None = None,
              conf_int: bool = True, codebook_labels: Mapping[str, str] | None = None,
              ax: "Axes | None" = None) -> "Axes":
    """Estimates (points) and confidence intervals (horizontal lines) of ``results``, dodged by model.

    Reads ``Result.tidy`` and ``meta`` only. Terms run top to bottom in the order of ``terms``
    (default: every term but the intercept and ancillary parameters, in first-seen order). With
    ``exponentiate`` estimates and interval bounds are exp()'d (hazard/odds ratios), the x-axis is
    logarithmic and the reference line is at 1; otherwise it is at 0. Each model's points are the
    Line2D labelled with its label; its intervals the LineCollection with gid ``ci:<model id>``.
    Terms are named as in tables: ``labels``, then the models' labels, then ``codebook_labels``
    (an interaction joins its parts' labels with ×). Each model has its own colour and marker; the
    legend sits above the plot.
    """
    ax = ax if ax is not None else _new_axes()
    frames = [_coef_rows(r, conf_level) for r in results]
    if terms is None:
        keys = list(dict.fromkeys(k for f in frames for k, anc in zip(f["key"], f["ancillary"])
                                  if not anc and k != "(Intercept)" and not k.endswith(": (Intercept)")))
    else:
        available = list(dict.fromkeys(k for f in frames for k in f["key"]))
        missing = [t for t in terms if t not in available]
        if missing:

            raise SpecificationError(
                f"coefplot: term {missing[0]!r} is in none of the models{suggest(missing[0], available)}; "
                f"terms are: {', '.join(available)}."
            )
        keys = list(terms)
    if exponentiate:
        bad = [r.model_id for r in results if r.meta.get("scale") not in _LOG_SCALES]
        if bad:
            raise SpecificationError(
                f"coefplot: exponentiate = true but model {bad[0]!r} reports estimates on the "
                f"{results[[r.model_id for r in results].index(bad[0])].meta.get('scale')!r} scale, not a log scale."
            )
    names = dict(codebook_labels or {})
    for r in results:
        names.update(dict(r.meta.get("labels", {})))
    names.update(labels or {})
    n_terms, n_models = len(keys), len(results)
    height = 0.8 / max(n_models, 1)
    ypos = {k: n_terms - 1 - i for i, k in enumerate(keys)}
    for j, (result, frame) in enumerate(zip(results, frames)):
        rows = frame[frame["key"].isin(keys)].drop_duplicates("key").set_index("key")
        rows = rows.loc[[k for k in keys if k in rows.index]].reset_index()  # drawn top to bottom
        offset = (n_models - 1) / 2 * height - j * height
        y = np.array([ypos[k] + offset for k in rows["key"]], dtype=float)
        est, lo, hi = (rows[c].to_numpy(dtype=float) for c in ("estimate", "conf_low", "conf_high"))
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        color = _color(j)
        if conf_int:
            ax.hlines(y, lo, hi, color=color, linewidth=1.4, linestyles=_linestyle(j), gid=f"ci:{result.model_id}")
        ax.plot(est, y, _marker(j), color=color, markersize=5, markeredgecolor="white", markeredgewidth=0.5,
                label=str(result.meta.get("label", result.model_id)), zorder=3)
    ref = 1.0 if exponentiate else 0.0
    ax.axvline(ref, color="0.3", linewidth=0.9, linestyle="--", zorder=1.5, gid="reference")
    if exponentiate:
        set_log_axis(ax, "x")

    def display(key: str) -> str:
        if ": " in key and key not in names:
            comp, term = key.split(": ", 1)
            return f"{comp}: {_term_label(term, names)}"
        return _term_label(key, names)

    import textwrap

    ax.set_yticks([ypos[k] for k in keys], [textwrap.fill(display(k), 28) for k in keys])
    ax.set_ylim(-0.6, n_terms - 0.4)
    ax.grid(axis="y", visible=False)
    scale = results[0].meta.get("scale") if results else None
    default_x = {"log_hazard": "Hazard ratio", "log_odds": "Odds ratio", "log_relative_risk": "Relative risk ratio",
                 "log_time": "Time ratio"}.get(scale, "Estimate") if exponentiate else "Estimate"
    ax.set_xlabel(default_x)
    _legend_outside(ax, n_models)
    return ax


# ----------------------------------------------------------------------------------------------
# km
# ----------------------------------------------------------------------------------------------
def km_plot(frame: pd.DataFrame, *, time: str, event: str, group: str | None = None, entry: str | None = None,
            weights: str | None = None, event_value: Any = None, conf_type: str = "log", conf_level: float = 0.95,
            conf_int: bool = True, risk_table: bool = True, risk_times: Sequence[float] | None = None,
            censor_marks: bool = True, group_labels: Mapping[str, str] | None = None, x_max: float | None = None,
            y_range: Sequence[float] | None = None, ax: "Axes | None" = None) -> "Axes":
    """Kaplan-Meier curves of ``frame`` (one per value of ``group``) with pointwise intervals and a
    number-at-risk table, as R's ``survfit`` (Greenwood variance, ``conf_type`` transform).

    Each curve is a Line2D (``steps-post``) labelled with its group label, starting at (0, 1); its
    band is a PolyCollection with gid ``band:<label>``; the table is Text artists with gid
    ``at_risk:<label>`` (numbers) placed below the axis at ``risk_times`` (default: the x ticks).
    Censoring times are marked '+' (gid ``censor:<label>``) unless ``censor_marks=False``; ``y_range``
    sets the survival axis (default 0 to 1). Groups differ in colour and line style.
    """

    ax = ax if ax is not None else _new_axes(height=4.8)
    labels = dict(group_labels or {})
    if group is None:
        groups: list[tuple[str, pd.DataFrame]] = [("All", frame)]
    else:
        values = frame[group]
        order = list(values.cat.categories) if isinstance(values.dtype, pd.CategoricalDtype) else \
            sorted(pd.unique(values.dropna()).tolist(), key=lambda v: (str(type(v)), v))
        groups = [(labels.get(_text(v), f"{group} = {_text(v)}"), frame[values == v]) for v in order
                  if (values == v).any()]
    t_all = frame[time].to_numpy(dtype=float)
    upper = x_max if x_max is not None else float(np.nanmax(t_all))
    curves = []
    for k, (label, part) in enumerate(groups):
        t = part[time].to_numpy(dtype=float)
        ev = part[event]
        e = (ev == event_value).to_numpy(dtype=float) if event_value is not None else ev.to_numpy(dtype=float)
        start = part[entry].to_numpy(dtype=float) if entry else None
        w = part[weights].to_numpy(dtype=float) if weights else None
        km = kaplan_meier(t, e, entry=start, weights=w, conf_type=conf_type, conf_level=conf_level)
        keep = km["time"] <= upper
        km = km[keep]
        color = _color(k)
        x = np.concatenate([[0.0], km["time"]])
        ax.plot(x, np.concatenate([[1.0], km["surv"]]), drawstyle="steps-post", color=color, label=label,
                linewidth=1.5, linestyle=_linestyle(k))
        if conf_int:
            _band(ax, x, np.concatenate([[1.0], km["conf_low"]]), np.concatenate([[1.0], km["conf_high"]]), color,
                  f"band:{label}", step=True, outline=len(groups) > 2, linestyle=_linestyle(k))
        if censor_marks:
            cens = km[km["n_censor"] > 0]
            ax.plot(cens["time"], cens["surv"], linestyle="none", marker="+", color=color, markersize=4,
                    markeredgewidth=0.7, gid=f"censor:{label}")
        curves.append((label, color, t, start, w))
    ax.set_xlim(0, upper)
    ax.set_ylim(*(y_range if y_range is not None else (0, 1.02)))
    ax.set_xlabel(time)
    ax.set_ylabel("Survival probability")
    _legend_outside(ax, len(groups))
    if risk_table:
        if risk_times is None:
            risk_times = [float(v) for v in ax.get_xticks() if 0 <= v <= upper]
        ax.set_xticks(list(risk_times))
        ax.set_xlim(0, upper)
        _risk_table(ax, curves, list(risk_times), number_at_risk)
    return ax


def _risk_table(ax: "Axes", curves: list, times: list[float], number_at_risk) -> None:
    from matplotlib.transforms import offset_copy

    fig = ax.figure
    size = ax.xaxis.label.get_fontsize() * 0.9
    base = 2.6 * ax.xaxis.label.get_fontsize() + 14  # below the tick labels and the axis label, in points
    rows = [(label, color, number_at_risk(t, times, entry=start, weights=w)) for label, color, t, start, w in curves]
    texts = [[_text(float(round(n, 6))) for n in counts] for _, _, counts in rows]
    # labels end left of the widest number in the first column (centred on the y-axis)
    first = max((len(row[0]) for row in texts if row), default=1)
    left = -(0.32 * size * first + 6)
    header = offset_copy(ax.transAxes, fig=fig, x=left, y=-base, units="points")
    ax.text(0, 0, "Number at risk", transform=header, ha="right", va="top", fontsize=size, fontweight="bold",
            gid="at_risk_header", clip_on=False)
    for k, ((label, color, _), row) in enumerate(zip(rows, texts)):
        dy = -base - (k + 1) * 1.5 * size
        row_axes = offset_copy(ax.transAxes, fig=fig, x=left, y=dy, units="points")
        ax.text(0, 0, label, transform=row_axes, ha="right", va="top", fontsize=size, color=color,
                gid=f"at_risk_label:{label}", clip_on=False)
        row_data = offset_copy(ax.get_xaxis_transform(), fig=fig, x=0, y=dy, units="points")
        for x, text in zip(times, row):
            ax.text(x, 0, text, transform=row_data, ha="center", va="top", fontsize=size, color=color,
                    gid=f"at_risk:{label}", clip_on=False)


# ----------------------------------------------------------------------------------------------
# Model-based kinds: shared preparation
# ----------------------------------------------------------------------------------------------
def _sample_and_predictor(result: "Result", frame: pd.DataFrame, spec=None):

    spec = model_spec(result) if spec is None else spec
    sample = estimation_sample(result, frame, spec)
    return spec, sample, predictor(result, sample.design.state)


def _numeric_grid(sample: pd.DataFrame, column: str, x_range, n_points: int) -> np.ndarray:
    values = pd.to_numeric(sample[column]).astype(float)
    lo, hi = (float(values.min()), float(values.max())) if x_range is None else map(float, x_range)
    return np.linspace(lo, hi, n_points)


def _discrete_values(sample: pd.DataFrame, column: str, levels: dict, given, where: str, limit: int = 5) -> list | None:
    """Levels of a factor or the few distinct values of a numeric column; None for a continuous column."""

    if given is not None:
        return [coerce_level(v, levels[column], column, where) if column in levels else v for v in given]
    if column in levels:
        return list(levels[column])
    distinct = np.unique(pd.to_numeric(sample[column]).astype(float))
    return [float(v) for v in distinct] if distinct.size <= limit else None


def _axis_values(sample: pd.DataFrame, column: str, levels: dict, given, x_range, n_points: int,
                 where: str) -> tuple[list, bool]:
    """Values of the x-axis column: its levels or few distinct values, else a numeric grid (continuous)."""
    values = _discrete_values(sample, column, levels, given, where)
    if values is None:
        return list(_numeric_grid(sample, column, x_range, n_points)), True
    return values, False


def _check_column(pred, column: str, role: str) -> None:

    columns = covariate_columns(pred.formula)
    if column not in columns:

        raise SpecificationError(
            f"{role} {column!r} is not a covariate of model {pred.model_id!r}{suggest(column, columns)} "
            f"(its covariates: {', '.join(columns)})."
        )


# ----------------------------------------------------------------------------------------------
# survival
# ----------------------------------------------------------------------------------------------
def survival_plot(result: "Result", frame: pd.DataFrame, *, profiles: Mapping[str, Mapping[str, Any]],
                  at: Mapping[str, Any] | None = None, conf_level: float | None = None, conf_int: bool = True,
                  n_points: int = 100, x_max: float | None = None, y_range: Sequence[float] | None = None, spec=None,
                  ax: "Axes | None" = None) -> "Axes":
    """Predicted survival curves of a cox (R ``survfit(fit, newdata)``: steps at event times, log
    intervals) or weibull/exponential model (smooth, intervals on log cumulative hazard) for each
    named profile; ``frame`` is the model's dataset (its estimation sample gives the defaults).

    Each curve is a Line2D labelled with the profile name, starting at (0, 1); bands have gid
    ``band:<name>``.
    """
    family = result.meta.get("family")
    kind = family_facts(family).prediction
    if kind not in ("cox", "parametric_survival"):
        raise SpecificationError(f"survival curves need a {_or(predictable(('cox', 'parametric_survival')))} "
                                 f"model; {result.model_id!r} is {family!r}.")
    spec, sample, pred = _sample_and_predictor(result, frame, spec)
    strata = [] if kind != "cox" else _strata(spec)
    where = f"survival curves of {result.model_id!r}"
    base = typical_values(sample.frame, pred.formula, pred.state, at, where=where, extra=strata)
    rows = [typical_values(sample.frame, pred.formula, pred.state, {**(at or {}), **dict(p)},
                           where=f"{where}, profile {name!r}", extra=strata) for name, p in profiles.items()]
    newdata = pd.DataFrame(rows) if rows else profile_frame(base)
    names = list(profiles)
    t_max = float(np.max(sample.time))
    upper = x_max if x_max is not None else t_max
    ax = ax if ax is not None else _new_axes()
    if kind == "cox":
        curves = cox_survival(result, sample, spec, newdata, conf_level=conf_level)
    else:
        times = np.linspace(upper / n_points, upper, n_points)
        curves = parametric_survival(result, sample, newdata, times, conf_level=conf_level)
    step = kind == "cox"  # the Cox curve is a step function of the event times
    for i, name in enumerate(names):
        c = curves[curves["curve"] == i]
        c = c[c["time"] <= upper]
        x = np.concatenate([[0.0], c["time"]])
        y = np.concatenate([[1.0], c["estimate"]])
        lo = np.concatenate([[1.0], c["conf_low"]])
        hi = np.concatenate([[1.0], c["conf_high"]])
        if step and x[-1] < upper:  # survfit's curve is flat to the last follow-up time
            x, y, lo, hi = (np.append(a, b) for a, b in ((x, upper), (y, y[-1]), (lo, lo[-1]), (hi, hi[-1])))
        color = _color(i)
        ax.plot(x, y, drawstyle="steps-post" if step else "default", color=color, label=str(name), linewidth=1.6,
                linestyle=_linestyle(i), zorder=3 + len(names) - i)
        if conf_int:
            _band(ax, x, lo, hi, color, f"band:{name}", step=step, outline=len(names) > 2, linestyle=_linestyle(i))
    ax.set_xlim(0, upper)
    ax.set_ylim(*(y_range if y_range is not None else (0, 1.02)))
    ax.set_xlabel(spec.time or "Time")
    ax.set_ylabel("Predicted survival probability")
    _legend_outside(ax, len(names))
    return ax


def _or(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def _strata(spec) -> list[str]:

    return _strata_columns(spec)


# ----------------------------------------------------------------------------------------------
# predicted
# ----------------------------------------------------------------------------------------------
def predicted_plot(result: "Result", frame: pd.DataFrame, *, variable: str, x_range=None, n_points: int = 100,
                   by: str | None = None, by_values: Sequence | None = None, at: Mapping[str, Any] | None = None,
                   interval: str | None = None, categories: Sequence | None = None,
                   group_labels: Mapping[str, str] | None = None, conf_level: float | None = None,
                   conf_int: bool = True, spec=None, ax: "Axes | None" = None) -> "Axes":
    """Predicted probabilities (or values) across ``variable``, other covariates at ``at`` / their
    defaults; one curve per ``by`` value, or per outcome category for mnlogit.

    A numeric ``variable`` gives lines (Line2D labelled by group) with bands (gid ``band:<label>``);
    a factor or a variable with at most 5 values gives points with error bars (gid ``ci:<label>``).
    """

    spec, sample, pred = _sample_and_predictor(result, frame, spec)
    where = f"predicted values of {result.model_id!r}"
    _check_column(pred, variable, "variable")
    if not pred.multinomial and pred.link is None:
        raise SpecificationError(
            f"kind 'predicted' needs a model with a response scale (logit, probit, firth, discrete_hazard, mnlogit, "
            f"ols, mixed, panel); {result.model_id!r} is {pred.family!r} (use kind 'survival' for survival models)."
        )
    if by is not None:
        _check_column(pred, by, "by")
        if by == variable:
            raise SpecificationError(f"{where}: 'by' must differ from 'variable' ({by!r}).")
    levels = categorical_levels(pred.state)
    base = typical_values(sample.frame, pred.formula, pred.state, at, where=where)
    xs, continuous = _axis_values(sample.frame, variable, levels, None, x_range, n_points, where)
    groups: list[tuple[str, dict, Any]] = []
    labels = dict(group_labels or {})
    if pred.multinomial:
        if by is not None:
            raise SpecificationError(f"{where}: mnlogit figures draw one curve per outcome category; remove 'by'.")
        wanted = [str(c) for c in (categories or pred.categories)]
        unknown = [c for c in wanted if c not in pred.categories]
        if unknown:
            raise SpecificationError(f"{where}: {unknown[0]!r} is not an outcome category ({pred.categories}).")
        groups = [(labels.get(c, c), {}, c) for c in wanted]
    elif by is not None:
        values = _discrete_values(sample.frame, by, levels, by_values, where)
        if values is None:
            raise SpecificationError(f"{where}: {by!r} has many distinct values; list the ones to draw in by_values.")
        groups = [(labels.get(_text(v), f"{by} = {_text(v)}"), {by: v}, None) for v in values]
    else:
        groups = [(pred.formula.response.label if pred.formula.response is not None else "Prediction", {}, None)]
    ax = ax if ax is not None else _new_axes()
    n = len(groups)
    for k, (label, fixed, category) in enumerate(groups):
        newdata = profile_frame({**base, **fixed}, {variable: xs})
        out = predict(pred, newdata, scale="response", interval=interval, category=category, conf_level=conf_level)
        _draw_series(ax, xs, out, label, _color(k), continuous, conf_int, k, n)
    _finish_discrete_axis(ax, xs, continuous)
    ax.set_xlabel(variable)
    ylabel = "Predicted probability" if pred.multinomial or pred.link != "identity" else "Predicted value"
    ax.set_ylabel(ylabel)
    _legend_outside(ax, n)
    return ax


def _draw_series(ax, xs, out: pd.DataFrame, label: str, color: str, continuous: bool, conf_int: bool, k: int,
                 n: int) -> None:
    est, lo, hi = (out[c].to_numpy(dtype=float) for c in ("estimate", "conf_low", "conf_high"))
    if continuous:
        x = np.asarray(xs, dtype=float)
        ax.plot(x, est, color=color, label=label, linewidth=1.6, linestyle=_linestyle(k))
        if conf_int:
            _band(ax, x, lo, hi, color, f"band:{label}", outline=n > 2, linestyle=_linestyle(k))
        return
    pos = np.arange(len(xs), dtype=float) + (k - (n - 1) / 2) * (0.5 / max(n, 1))
    if conf_int:
        ax.vlines(pos, lo, hi, color=color, linewidth=1.4, linestyles=_linestyle(k), gid=f"ci:{label}")
    ax.plot(pos, est, _marker(k), color=color, label=label, markersize=5)


def _finish_discrete_axis(ax, xs, continuous: bool) -> None:
    if not continuous:
        ax.set_xticks(np.arange(len(xs)), [_text(v) for v in xs])
        ax.set_xlim(-0.6, len(xs) - 0.4)
        ax.grid(axis="x", visible=False)


# ----------------------------------------------------------------------------------------------
# marginal
# ----------------------------------------------------------------------------------------------
def marginal_plot(result: "Result", frame: pd.DataFrame, *, variable: str, moderator: str,
                  moderator_values: Sequence | None = None, x_range=None, n_points: int = 100,
                  at: Mapping[str, Any] | None = None, scale: str = "link", category: str | None = None,
                  conf_level: float | None = None, conf_int: bool = True, spec=None,
                  ax: "Axes | None" = None) -> "Axes":
    """The marginal effect of ``variable`` (d eta / d x, or d p / d x with ``scale = "response"``)
    across the values of ``moderator``, other covariates at ``at`` / their defaults, with
    delta-method intervals from the model's covariance.

    A numeric moderator with more than 5 values gives a line labelled "Marginal effect" with a band
    (gid ``band:Marginal effect``); otherwise points with error bars (gid ``ci:Marginal effect``).
    The reference line at 0 has gid ``reference``.
    """

    spec, sample, pred = _sample_and_predictor(result, frame, spec)
    where = f"marginal effect in {result.model_id!r}"
    _check_column(pred, variable, "variable")
    _check_column(pred, moderator, "moderator")
    if moderator == variable:
        raise SpecificationError(f"{where}: 'moderator' must differ from 'variable' ({variable!r}).")
    levels = categorical_levels(pred.state)
    base = typical_values(sample.frame, pred.formula, pred.state, at, where=where)
    values, continuous = _axis_values(sample.frame, moderator, levels, moderator_values, x_range, n_points, where)
    newdata = profile_frame(base, {moderator: values})
    out = marginal_effect(pred, newdata, variable, scale=scale, category=None if category is None else str(category),
                          conf_level=conf_level)
    ax = ax if ax is not None else _new_axes()
    ax.axhline(0.0, color="0.3", linewidth=0.9, linestyle="--", zorder=1.5, gid="reference")
    _draw_series(ax, values, out, "Marginal effect", _color(0), continuous, conf_int, 0, 1)
    _finish_discrete_axis(ax, values, continuous)
    ax.set_xlabel(moderator)
    what = "probability" if scale == "response" else "linear predictor"
    ax.set_ylabel(f"Effect of {variable} on the {what}")
    return ax


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------
def build_figure(spec: FigureSpec, results: Mapping[str, "Result"], data: Mapping[str, pd.DataFrame], *,
                 models: Mapping[str, Any] | None = None,
                 codebook_labels: Mapping[str, str] | None = None) -> "Figure":
    """Draw the figure declared by ``spec``.

    Parameters
    ----------
    spec
        The ``[[figures]]`` entry.
    results
        Model id -> Result (every id in ``spec.models``).
    data
        Model id -> the full dataset that model was fitted on (before its sample restriction); not
        needed for coefplot.
    models
        Optional model id -> ModelSpec; by default each result's ``meta["model_spec"]``.
    codebook_labels
        ``{variable: label}`` from the dataset codebook: coefplot terms and default axis labels
        (a column name on an axis) read as in tables.

    Returns
    -------
    matplotlib.figure.Figure
        Themed with :func:`theme`; save it with :func:`save_figure`.
    """
    height = spec.height or 4.0
    if spec.kind == "km" and spec.risk_table and spec.height is None:
        height += 0.9 + 0.25 * 3
    with themed():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(spec.width, height), dpi=spec.dpi, layout="constrained")
        draw_figure(spec, results, data, models=models, codebook_labels=codebook_labels, ax=fig.add_subplot())
    return fig


def draw_figure(spec: FigureSpec, results: Mapping[str, "Result"], data: Mapping[str, pd.DataFrame], *,
                models: Mapping[str, Any] | None = None, codebook_labels: Mapping[str, str] | None = None,
                ax: "Axes | None" = None) -> "Axes":
    """Draw ``spec`` on ``ax`` (default: a new themed Figure of ``spec.width`` x ``spec.height``);
    return the Axes. :func:`build_figure` and :mod:`c2stats.plot` both draw through here."""
    if ax is None:
        return build_figure(spec, results, data, models=models, codebook_labels=codebook_labels).axes[0]
    where = f"figures (id {spec.id!r})"
    missing = [m for m in spec.models if m not in results]
    if missing:
        raise ConfigError(f"model {missing[0]!r} has no result; fit it first.", where=f"{where}.models")
    chosen = [results[m] for m in spec.models]
    try:
        with themed():
            book = dict(codebook_labels or {})
            _draw(spec, chosen, data, models, ax, book)
            for value, setter, getter in ((spec.xlabel, ax.set_xlabel, ax.get_xlabel),
                                          (spec.ylabel, ax.set_ylabel, ax.get_ylabel)):
                if value is not None:
                    setter(value)
                elif getter() in book:
                    setter(book[getter()])
                elif spec.variable in book and getter().startswith(f"Effect of {spec.variable} "):
                    setter(getter().replace(f"Effect of {spec.variable} ", f"Effect of {book[spec.variable]} ", 1))
            finish_figure(ax.figure)
    except UserInputError as exc:
        raise type(exc)(exc.message, source=exc.source, where=exc.where or where) from None
    return ax


def _frame_of(spec: FigureSpec, data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    mid = spec.models[0]
    if mid not in data:
        raise ConfigError(f"no dataset was given for model {mid!r}; the figure needs its data.",
                          where=f"figures (id {spec.id!r})")
    return data[mid]


def _draw(spec: FigureSpec, chosen: list, data, models, ax, codebook_labels: Mapping[str, str] | None = None) -> None:
    common = {"conf_level": spec.conf_level, "conf_int": spec.conf_int, "ax": ax}
    if spec.kind == "coefplot":
        coef_plot(chosen, terms=spec.terms, labels=spec.labels, exponentiate=spec.exponentiate,
                  codebook_labels=codebook_labels, **common)
        return
    result = chosen[0]
    if spec.kind == "cif":
        _draw_cif(spec, result, ax)
        return
    frame = _frame_of(spec, data)

    mspec = model_spec(result, models)
    if spec.kind == "km":
        _draw_km(spec, result, mspec, frame, ax)
    elif spec.kind == "survival":
        survival_plot(result, frame, profiles=spec.profiles, at=spec.at, n_points=spec.n_points, x_max=spec.x_max,
                      y_range=spec.y_range, spec=mspec, **common)
    elif spec.kind == "predicted":
        predicted_plot(result, frame, variable=spec.variable, x_range=spec.x_range, n_points=spec.n_points, by=spec.by,
                       by_values=spec.by_values, at=spec.at, interval=spec.interval, categories=spec.categories,
                       group_labels=spec.group_labels, spec=mspec, **common)
    else:
        marginal_plot(result, frame, variable=spec.variable, moderator=spec.moderator,
                      moderator_values=spec.moderator_values, x_range=spec.x_range, n_points=spec.n_points,
                      at=spec.at, scale=spec.scale, category=spec.category, spec=mspec, **common)


def _draw_cif(spec: FigureSpec, result, ax) -> None:
    """Cumulative incidence of each cause from the saved Result (a finegray model's frame)."""
    frame = result.frames.get("cumulative_incidence")
    if frame is None:
        raise ConfigError(f"model {result.model_id!r} ({result.meta.get('family')}) has no cumulative incidence; "
                          "kind 'cif' draws a finegray model.", where=f"figures (id {spec.id!r}).models")
    present = list(dict.fromkeys(map(str, frame["cause"])))
    causes = [str(c) for c in spec.causes] if spec.causes else present
    unknown = [c for c in causes if c not in present]
    if unknown:
        raise ConfigError(f"cause {unknown[0]!r} is not in the model's event column (causes: {', '.join(present)}).",
                          where=f"figures (id {spec.id!r}).causes")
    plot_cif(frame.assign(cause=frame["cause"].astype(str)), ax, causes=causes, conf_int=spec.conf_int,
             x_max=spec.x_max, cause_labels=spec.cause_labels, xlabel=spec.xlabel or "Years",
             ylabel=spec.ylabel or "Cumulative incidence")
    if spec.y_range is not None:
        ax.set_ylim(*spec.y_range)


def _draw_km(spec: FigureSpec, result, mspec, frame: pd.DataFrame, ax) -> None:

    time = spec.time or mspec.time
    event = spec.event or mspec.event
    if time is None or event is None:
        raise ConfigError(
            f"model {mspec.id!r} has no time/event columns; set time = and event = in the figure.",
            where=f"figures (id {spec.id!r})",
        )
    event_value = mspec.event_value if spec.event is None else None
    for key, col in (("time", time), ("event", event), ("group", spec.group)):
        if col is not None and col not in frame:

            raise ConfigError(f"column {col!r} is not in the dataset of model {mspec.id!r}"
                              f"{suggest(col, list(map(str, frame.columns)))}.", where=f"figures (id {spec.id!r}).{key}")
    entry = weights = None
    if spec.use_model_sample:
        rows = estimation_sample(result, frame, mspec).frame
        entry, weights = mspec.start, mspec.weights
    else:
        rows = frame
    cols = [c for c in (time, event, spec.group, entry, weights) if c is not None]
    rows = rows.dropna(subset=cols)
    km_plot(rows, time=time, event=event, group=spec.group, entry=entry, weights=weights, event_value=event_value,
            conf_type=spec.conf_type, conf_level=spec.conf_level or 0.95, conf_int=spec.conf_int,
            risk_table=spec.risk_table, risk_times=spec.risk_times, censor_marks=spec.censor_marks,
            group_labels=spec.group_labels, x_max=spec.x_max, y_range=spec.y_range, ax=ax)
