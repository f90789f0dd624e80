"""Specification curves: the focal estimate across a grid of specifications, its summary and how
much each axis of choices moves it.

The functions compute on plain DataFrames; :func:`plot_specification_curve` takes ``ax=None``,
returns the Figure and never shows or saves (the report saves). Estimates stay on each model's
own scale (``meta['scale']``): hazard ratios from Cox, Weibull (PH form) and cloglog discrete-time
models share the log-hazard scale; a grid mixing scales (log odds from logit links, log time from
AFT forms) is drawn with one marker per scale and summarised per scale as well as overall.

References: Simonsohn, Simmons & Nelson (2020), "Specification curve analysis", *Nature Human
Behaviour* 4, 1208-1214; Steegen et al. (2016), "Increasing transparency through a multiverse
analysis", *Perspectives on Psychological Science* 11, 702-712.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from .figures import finish_figure, set_log_axis, themed
from .tables import TableModel, TableRow

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .results import Result
    from .tables import TableModel

SPEC_COLUMNS = ("family", "scale", "estimate", "std_error", "conf_low", "conf_high", "p_value", "nobs", "status",
                "error", "spec_hash")
SCALE_NAMES = {
    "log_hazard": ("log hazard ratio", "hazard ratio"),
    "log_odds": ("log odds ratio", "odds ratio"),
    "log_relative_risk": ("log relative risk", "relative-risk ratio"),
    "log_time": ("log time ratio", "time ratio"),
    "probit": ("probit coefficient", "exp(probit coefficient)"),
    "identity": ("coefficient", "exp(coefficient)"),
}
#: Colours: expected sign and significant, opposite sign and significant, not significant.
COLOURS = {"expected": "#1f5f99", "opposite": "#b2182b", "neutral": "#8c8c8c"}
_MARKERS = ("o", "s", "^", "D", "v", "P")


def focal_row(result: "Result", focal: str) -> dict | None:
    """The tidy row of ``focal`` among the regression terms (not ancillary or other components)."""
    tidy = result.tidy
    hits = np.flatnonzero(tidy["term"].to_numpy(dtype=object) == focal)
    if len(hits) > 1 and "component" in tidy.columns:
        comp = tidy["component"].to_numpy(dtype=object)[hits]
        plain = hits[[c is None or (isinstance(c, float) and math.isnan(c)) or c == "" for c in comp]]
        hits = plain if len(plain) else hits
    if not len(hits):
        return None
    i = int(hits[0])
    return {col: tidy[col].iat[i] for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value")}


def specification_frame(design: pd.DataFrame, results: Mapping[str, "Result"], failures: Mapping[str, str], *,
                        focal: str) -> pd.DataFrame:
    """One row per specification of ``design`` (``spec`` + one column per axis) with its focal estimate.

    ``status`` is ``ok``, ``failed`` (``error`` holds the message), ``no focal term`` (the fit
    has no row ``focal``, e.g. dropped as collinear) or ``not fitted``.
    """
    records = []
    for spec in design["spec"]:
        rec: dict[str, Any] = dict.fromkeys(SPEC_COLUMNS)
        result = results.get(spec)
        if result is None:
            rec["status"] = "failed" if spec in failures else "not fitted"
            rec["error"] = failures.get(spec)
        else:
            rec.update(family=result.meta.get("family"), scale=result.meta.get("scale"),
                       nobs=result.glance.get("nobs"), spec_hash=result.meta.get("spec_hash"))
            row = focal_row(result, focal)
            if row is None:
                rec["status"] = "no focal term"
            else:
                rec["status"] = "ok"
                for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
                    rec[col] = float(row[col])
        records.append(rec)
    out = pd.concat([design.reset_index(drop=True), pd.DataFrame(records, columns=list(SPEC_COLUMNS))], axis=1)
    for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
        out[col] = out[col].astype(float)
    out["nobs"] = out["nobs"].astype("Int64")
    return out


def _classify(est: np.ndarray, p: np.ndarray, expected_sign: str | None, alpha: float) -> np.ndarray:
    sig = p < alpha
    if expected_sign is None:
        return np.where(sig, "expected", "neutral")
    right = est < 0 if expected_sign == "negative" else est > 0
    return np.where(sig & right, "expected", np.where(sig & ~right, "opposite", "neutral"))


def _shares(est: np.ndarray, p: np.ndarray, expected_sign: str | None, alpha: float) -> dict[str, float]:
    n = len(est)
    if n == 0:
        return {k: math.nan for k in ("share_expected_sign", "share_expected_significant", "share_opposite_significant",
                                      "share_significant", "share_positive", "share_negative")}
    sig = p < alpha
    out = {
        "share_significant": float(sig.mean()),
        "share_positive": float((est > 0).mean()),
        "share_negative": float((est < 0).mean()),
    }
    if expected_sign is None:
        out.update(share_expected_sign=math.nan, share_expected_significant=math.nan, share_opposite_significant=math.nan)
    else:
        right = est < 0 if expected_sign == "negative" else est > 0
        wrong = est > 0 if expected_sign == "negative" else est < 0
        out.update(share_expected_sign=float(right.mean()), share_expected_significant=float((right & sig).mean()),
                   share_opposite_significant=float((wrong & sig).mean()))
    return out


def summarise(specs: pd.DataFrame, *, expected_sign: Literal["positive", "negative"] | None = None,
              alpha: float = 0.05, exponentiate: bool = False) -> pd.DataFrame:
    """The grid's summary: one row overall (``group = 'all'``) and, if scales are mixed, one per scale.

    Columns: ``group``, ``specifications``, ``estimated``, ``failed``, ``no_focal``,
    ``median_estimate`` (and ``median_ratio`` = exp(median) with ``exponentiate``), ``q25``,
    ``q75``, ``min``, ``max`` (log scale), and shares among estimated specifications:
    ``share_expected_sign``, ``share_expected_significant`` (expected sign and p < alpha),
    ``share_opposite_significant``, ``share_significant``, ``share_positive``, ``share_negative``
    (the expected-sign shares are NaN without ``expected_sign``).
    """
    ok = specs[specs["status"] == "ok"]
    scales = sorted(ok["scale"].dropna().unique().tolist())
    groups = [("all", specs)] + ([(s, specs[specs["scale"] == s]) for s in scales] if len(scales) > 1 else [])
    rows = []
    for name, frame in groups:
        done = frame[frame["status"] == "ok"]
        est = done["estimate"].to_numpy(dtype=float)
        p = done["p_value"].to_numpy(dtype=float)
        q = np.quantile(est, [0.0, 0.25, 0.5, 0.75, 1.0]) if len(est) else [math.nan] * 5
        row = {
            "group": name,
            "specifications": int(len(frame)),
            "estimated": int(len(done)),
            "failed": int((frame["status"] == "failed").sum()),
            "no_focal": int((frame["status"] == "no focal term").sum()),
            "median_estimate": float(q[2]),
        }
        if exponentiate:
            row["median_ratio"] = float(math.exp(q[2])) if len(est) else math.nan
        row.update(q25=float(q[1]), q75=float(q[3]), min=float(q[0]), max=float(q[4]))
        row.update(_shares(est, p, expected_sign, alpha))
        rows.append(row)
    return pd.DataFrame(rows)


def axis_influence(specs: pd.DataFrame, axes: Mapping[str, Sequence[str]], *,
                   expected_sign: Literal["positive", "negative"] | None = None,
                   alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How much each axis moves the focal estimate (on the log scale), among estimated specifications.

    Returns ``(influence, choices)``. ``influence`` has one row per axis: ``axis``, ``choices``
    (alternatives with estimates), ``range`` (largest minus smallest of the per-choice median
    estimates) and ``eta_squared`` (share of the variance of the estimates between the axis'
    choices: between-choice sum of squares over total sum of squares). ``choices`` has one row per
    axis and choice: ``n``, ``median_estimate``, ``shift`` (choice median minus the overall median)
    and ``share_expected_significant`` (``share_significant`` without an expected sign).
    """
    ok = specs[specs["status"] == "ok"]
    est_all = ok["estimate"].to_numpy(dtype=float)
    overall = float(np.median(est_all)) if len(est_all) else math.nan
    total_ss = float(((est_all - est_all.mean()) ** 2).sum()) if len(est_all) else math.nan
    share_key = "share_expected_significant" if expected_sign else "share_significant"
    infl, rows = [], []
    for axis, labels in axes.items():
        medians, between = [], 0.0
        for label in labels:
            sub = ok[ok[axis] == label]
            est = sub["estimate"].to_numpy(dtype=float)
            p = sub["p_value"].to_numpy(dtype=float)
            med = float(np.median(est)) if len(est) else math.nan
            if len(est):
                medians.append(med)
                between += len(est) * (float(est.mean()) - float(est_all.mean())) ** 2
            rows.append({"axis": axis, "choice": label, "n": int(len(est)), "median_estimate": med,
                         "shift": med - overall, share_key: _shares(est, p, expected_sign, alpha)[share_key]})
        infl.append({
            "axis": axis,
            "choices": int(len(medians)),
            "range": float(max(medians) - min(medians)) if medians else math.nan,
            "eta_squared": float(between / total_ss) if total_ss and total_ss > 0 else (0.0 if len(est_all) else math.nan),
        })
    return pd.DataFrame(infl), pd.DataFrame(rows)


def plot_specification_curve(specs: pd.DataFrame, axes: Mapping[str, Sequence[str]], *, focal: str,
                             alpha: float = 0.05, expected_sign: Literal["positive", "negative"] | None = None,
                             exponentiate: bool = False, title: str = "", dpi: int = 200,
                             ax: "tuple[Axes, Axes] | None" = None) -> "Figure":
    """Specification curve: the focal estimate and interval of every estimated specification,
    sorted, above an indicator panel marking each specification's choice on every axis.

    Parameters
    ----------
    specs
        :func:`specification_frame` output (``status == 'ok'`` rows are drawn).
    axes
        Axis name -> choice labels, in the order the panel lists them.
    dpi
        Resolution of the new Figure (PNG output); save it as pdf or svg for vector output.
    ax
        ``(curve_axes, panel_axes)`` to draw on; by default a new Figure with both, at least 7in wide,
        the title wrapped over its width and the legends above the curve (never over the estimates).

    Returns
    -------
    matplotlib.figure.Figure
        Points are coloured by ``COLOURS``: expected sign (any sign without ``expected_sign``) and
        p < alpha, opposite sign and p < alpha, not significant. Sorting is by estimate, ties by
        spec id, so the figure is deterministic.
    """
    with themed():
        fig = _draw_curve(specs, axes, focal=focal, alpha=alpha, expected_sign=expected_sign,
                          exponentiate=exponentiate, title=title, dpi=dpi, ax=ax)
        return finish_figure(fig)


def _draw_curve(specs, axes, *, focal, alpha, expected_sign, exponentiate, title, dpi, ax) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ok = specs[specs["status"] == "ok"].sort_values(["estimate", "spec"], kind="mergesort").reset_index(drop=True)
    n = len(ok)
    rows = [(axis, label) for axis, labels in axes.items() for label in labels]
    if ax is None:
        fig = Figure(figsize=(max(7.0, min(14.0, 4 + n / 80)), 3.6 + 0.2 * len(rows)), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2, 1, height_ratios=[3.0, max(1.0, 0.2 * len(rows))])
        top = fig.add_subplot(grid[0])
        bottom = fig.add_subplot(grid[1], sharex=top)
    else:
        top, bottom = ax
        fig = top.figure
    x = np.arange(1, n + 1, dtype=float)
    est = ok["estimate"].to_numpy(dtype=float)
    lo, hi = ok["conf_low"].to_numpy(dtype=float), ok["conf_high"].to_numpy(dtype=float)
    if exponentiate:
        est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
    kind = _classify(ok["estimate"].to_numpy(dtype=float), ok["p_value"].to_numpy(dtype=float), expected_sign, alpha)
    colours = np.array([COLOURS[k] for k in kind], dtype=object)
    top.vlines(x, lo, hi, colors=list(colours), linewidth=0.6 if n > 200 else 1.0, alpha=0.7, zorder=1)
    scales = ok["scale"].fillna("identity").tolist()
    distinct = sorted(set(scales))
    size = 6 if n > 500 else 14 if n > 100 else 24
    for k, scale in enumerate(distinct):
        mask = np.array([s == scale for s in scales], dtype=bool)
        top.scatter(x[mask], est[mask], c=list(colours[mask]), s=size, marker=_MARKERS[k % len(_MARKERS)], zorder=2,
                    linewidths=0, label=SCALE_NAMES.get(scale, (scale, scale))[1 if exponentiate else 0])
    top.axhline(1.0 if exponentiate else 0.0, color="black", linewidth=0.8, zorder=0)
    if exponentiate:
        set_log_axis(top, "y")
    names = [SCALE_NAMES.get(s, (s, s))[1 if exponentiate else 0] for s in distinct] or ["estimate"]
    top.set_ylabel(f"{focal}\n({', '.join(names)})")
    if len(distinct) > 1:
        scales_legend = top.legend(loc="lower right", bbox_to_anchor=(1.0, 1.02), fontsize="small",
                                   title="scale (not comparable)", title_fontsize="small",
                                   markerscale=max(1.0, 24 / size), borderaxespad=0.0, frameon=False)
        top.add_artist(scales_legend)
    legend = [Line2D([], [], marker="o", linestyle="", color=COLOURS["expected"],
                     label=(f"{expected_sign} and p < {alpha:g}" if expected_sign else f"p < {alpha:g}")),
              Line2D([], [], marker="o", linestyle="", color=COLOURS["neutral"], label=f"p ≥ {alpha:g}")]
    if expected_sign:
        legend.insert(1, Line2D([], [], marker="o", linestyle="", color=COLOURS["opposite"],
                                label=f"opposite sign and p < {alpha:g}"))
    top.legend(handles=legend, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=1 if len(distinct) > 1 else 3,
               fontsize="small", frameon=False, borderaxespad=0.0)
    if title:
        if ax is None:
            fig.suptitle(title, fontsize="medium")
        else:
            top.set_title(title, pad=40)
    top.tick_params(labelbottom=False)
    # indicator panel: one row per (axis, choice), top to bottom in declared order
    ypos = {row: len(rows) - i for i, row in enumerate(rows)}
    for axis, labels in axes.items():
        for label in labels:
            mask = (ok[axis] == label).to_numpy()
            bottom.scatter(x[mask], np.full(int(mask.sum()), ypos[(axis, label)], dtype=float), marker="|",
                           c=list(colours[mask]), s=30 if n <= 200 else 12, linewidths=0.8)
    boundaries = np.cumsum([len(labels) for labels in axes.values()])[:-1]
    for b in boundaries:
        bottom.axhline(len(rows) - b + 0.5, color="#cccccc", linewidth=0.6)
    bottom.set_yticks([ypos[r] for r in rows])
    bottom.set_yticklabels([f"{a}: {c}" for a, c in rows], fontsize="small")
    bottom.set_ylim(0.5, len(rows) + 0.5)
    bottom.set_xlim(0.5, max(n, 1) + 0.5)
    bottom.set_xlabel(f"specification (sorted by estimate; {n} estimated of {len(specs)})")
    return fig


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------
def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{float(value):.{digits}f}"
    return "0." + "0" * digits if text.startswith("-") and float(text) == 0 else text


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{100 * float(value):.1f}%"


def grid_tables(grid_id: str, title: str, summary: pd.DataFrame, influence: pd.DataFrame, choices: pd.DataFrame, *,
                alpha: float = 0.05, exponentiate: bool = False) -> dict[str, "TableModel"]:
    """``<id>_summary``, ``<id>_influence`` and ``<id>_choices`` as TableModels (rendered by any renderer)."""
    a = f"{alpha:g}"
    stats: list[tuple[str, str, Any]] = [
        ("Specifications", "int", "specifications"),
        ("Estimated", "int", "estimated"),
        ("Failed", "int", "failed"),
        ("Without the focal term", "int", "no_focal"),
        ("Median estimate", "num", "median_estimate"),
    ]
    if exponentiate:
        stats.append(("Median (ratio scale)", "num", "median_ratio"))
    stats += [
        ("25th-75th percentile", "iqr", None),
        ("Minimum - maximum", "range", None),
    ]
    if summary["share_expected_sign"].notna().any():
        stats += [
            ("Share with the expected sign", "pct", "share_expected_sign"),
            (f"Share with the expected sign and p < {a}", "pct", "share_expected_significant"),
            (f"Share with the opposite sign and p < {a}", "pct", "share_opposite_significant"),
        ]
    stats += [(f"Share with p < {a}", "pct", "share_significant"), ("Share positive", "pct", "share_positive")]
    rows = []
    for label, kind, key in stats:
        cells = []
        for rec in summary.to_dict("records"):
            if kind == "int":
                cells.append(f"{int(rec[key]):,}")
            elif kind == "num":
                cells.append(_num(rec[key]))
            elif kind == "pct":
                cells.append(_pct(rec[key]))
            elif kind == "iqr":
                cells.append(f"{_num(rec['q25'])} to {_num(rec['q75'])}" if rec["estimated"] else "")
            else:
                cells.append(f"{_num(rec['min'])} to {_num(rec['max'])}" if rec["estimated"] else "")
        rows.append(TableRow("coef", label, tuple(cells), key))
    groups = tuple("All" if g == "all" else f"Scale: {g}" for g in summary["group"])
    notes = ("Estimates of the focal term on the models' log scale (hazard ratios from Cox, Weibull PH and cloglog "
             "discrete-time models share the log-hazard scale); shares are among estimated specifications.",)
    if len(summary) > 1:
        notes += ("The grid mixes scales, which are not directly comparable; see the per-scale columns.",)
    summary_table = TableModel(f"{grid_id}_summary", title, groups, tuple(rows), notes)
    infl_rows = tuple(
        TableRow("coef", rec["axis"], (str(rec["choices"]), _num(rec["range"]), _num(rec["eta_squared"])), rec["axis"])
        for rec in influence.to_dict("records")
    )
    influence_table = TableModel(
        f"{grid_id}_influence", f"{title}: influence of each choice", ("Choices", "Range of medians", "η²"), infl_rows,
        ("Range of medians: largest minus smallest median estimate across the axis' choices (log scale). η²: share of "
         "the variance of the estimates between the axis' choices.",))
    share_key = "share_expected_significant" if "share_expected_significant" in choices.columns else "share_significant"
    share_head = f"Expected sign, p < {a}" if share_key == "share_expected_significant" else f"p < {a}"
    choice_rows = tuple(
        TableRow("coef", f"{rec['axis']}: {rec['choice']}",
                 (f"{int(rec['n']):,}", _num(rec["median_estimate"]), _num(rec["shift"]), _pct(rec[share_key])),
                 f"{rec['axis']}:{rec['choice']}")
        for rec in choices.to_dict("records")
    )
    choices_table = TableModel(
        f"{grid_id}_choices", f"{title}: estimates by choice", ("N", "Median", "Shift", share_head), choice_rows,
        ("Shift: the choice's median estimate minus the median of all estimated specifications (log scale).",))
    return {t.id: t for t in (summary_table, influence_table, choices_table)}
