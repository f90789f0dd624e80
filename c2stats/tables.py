"""Publication tables: one neutral table model, one small renderer per format.

:func:`build_table` turns Results (it reads only ``tidy``, ``glance`` and ``meta``) and a
``[[tables]]`` spec into a :class:`TableModel` of formatted strings; :func:`frame_table` does the
same for any DataFrame (hypothesis verdicts, replication comparisons, robustness summaries).
Renderers only lay a ``TableModel`` out: :data:`RENDERERS` maps ``md``, ``tex``, ``html``, ``csv``
(text) and ``docx`` (bytes; needs the optional extra ``c2stats[docx]``) to them. Every renderer is
deterministic: the same model gives the same bytes.

Layout follows R's modelsummary and Stata's esttab: one column per model (one per outcome
category for multinomial models), the estimate with significance stars and beneath it the
standard error, confidence interval, test statistic or p-value, then fit statistics chosen per
family through :data:`GOF_MAP`, then notes saying what scale the numbers are on.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import math
import numbers
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import ValidationError

from . import escape
from .diagnostics import diagnostics_notes
from .errors import C2StatsError, ConfigError
from .families import FAMILIES, Family
from .results import Result
from .spec import TableSpec, suggest

DEFAULT_STARS = {"*": 0.05, "**": 0.01, "***": 0.001}

#: Fit statistics (modelsummary's ``gof_map``): glance key, row label, digits (0 = a count with
#: thousands separators, ``None`` = text, ``"p"`` = a p-value: 3 decimals, "<0.001" below) and the
#: scope: "*" = shown for every family, "family" = shown for families that list the key in
#: ``Family.gof_keys``. A row is shown when its key applies to a model and that model's glance has a value.
GOF_MAP = pd.DataFrame(
    [
        ("nobs", "N", 0, "*"),
        ("n_events", "Events", 0, "family"),
        ("n_subjects", "Subjects", 0, "family"),
        ("n_clusters", "Clusters", 0, "*"),
        ("n_strata", "Strata", 0, "family"),
        ("n_entities", "Entities", 0, "family"),
        ("n_periods", "Periods", 0, "family"),
        ("n_groups", "Groups", 0, "family"),
        ("loglik", "Log-likelihood", 2, "*"),
        ("aic", "AIC", 1, "*"),
        ("bic", "BIC", 1, "*"),
        ("pseudo_r2", "Pseudo R²", 3, "family"),
        ("r2", "R²", 3, "family"),
        ("adj_r2", "Adj. R²", 3, "family"),
        ("r2_within", "R² (within)", 3, "family"),
        ("rmse", "RMSE", 3, "family"),
        ("icc", "ICC", 3, "family"),
        ("r2_marginal", "R² (marginal)", 3, "family"),
        ("r2_conditional", "R² (conditional)", 3, "family"),
        ("ph_global_p", "PH test p (global)", "p", "family"),
        ("ties", "Ties", None, "family"),
        ("n_boot", "Bootstrap draws", 0, "*"),
        ("vcov_type", "Std. errors", None, "*"),
    ],
    columns=["key", "label", "digits", "scope"],
).astype({"digits": object})

#: What ``exp(estimate)`` is called on each scale (``Result.meta["scale"]``); others: exponentiated coefficients.
RATIO_NAMES = {
    "log_hazard": "hazard ratios",
    "log_odds": "odds ratios",
    "log_relative_risk": "relative-risk ratios",
    "log_time": "time ratios",
}
#: What the raw estimates are on each scale.
SCALE_NAMES = {
    "log_hazard": "log hazard",
    "log_odds": "log odds",
    "log_relative_risk": "log relative risk",
    "log_time": "log time",
    "probit": "probit index",
}

DAGGER = "†"

#: LaTeX width policies (``[[tables]] fit``): see :func:`render_latex`.
FIT_POLICIES = ("auto", "resize", "landscape", "none")


# ----------------------------------------------------------------------------------------------
# The neutral table model
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableRow:
    """One row: ``kind`` is "coef" (an estimate), "stat" (beneath it), "gof" (fit statistic) or "row" (generic).

    ``marks`` holds, per cell, the significance-star suffix of that cell's text ("" if none), so
    renderers can typeset stars as superscripts; ``term`` is the row's key (term or glance key).
    """

    kind: str
    label: str
    cells: tuple[str, ...]
    term: str | None = None
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableModel:
    """A format-neutral table: header, body rows, fit-statistic rows and notes, all as strings.

    Attributes
    ----------
    id, title
        Table id (LaTeX label, HTML id) and caption.
    columns
        Flat header of the data columns (e.g. ``"MNL: 2"`` for an outcome column of a multinomial model).
    rows
        Body rows ("coef", "stat", "row") then fit-statistic rows ("gof").
    notes
        Lines printed under the table.
    stub
        Header of the label column (empty for regression tables).
    groups, subcolumns
        Optional two-level header: ``groups`` is ``(label, span)`` pairs covering ``columns`` and
        ``subcolumns`` the lower header cells; tex, html and docx use it, md and csv use ``columns``.
    align
        Per data column ``"l"``, ``"c"`` or ``"r"`` (default: centred).
    spanners
        Header lines above the model names (``(label, span)`` pairs covering ``columns``): column groups.
    numbers
        A header line under the model names, e.g. ``(("(1)", 1), ("(2)", 2))``.
    leaf
        The lowest header cells when they differ from ``columns`` (which md and csv show, flattened).
    fit, label_width
        LaTeX width policy (``"auto"``, ``"resize"``, ``"landscape"`` or ``"none"``; see
        :func:`render_latex`) and the width in inches at which long row labels wrap (``None``: 2.2).
    """

    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    notes: tuple[str, ...] = field(default=())
    stub: str = ""
    groups: tuple[tuple[str, int], ...] = ()
    subcolumns: tuple[str, ...] = ()
    align: tuple[str, ...] = ()
    fit: str = "auto"
    label_width: float | None = None
    spanners: tuple[tuple[tuple[str, int], ...], ...] = ()
    numbers: tuple[tuple[str, int], ...] = ()
    leaf: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.columns)
        for row in self.rows:
            if len(row.cells) != n or (row.marks and len(row.marks) != n):
                raise C2StatsError(f"table {self.id!r}: row {row.label!r} has {len(row.cells)} cells for {n} columns.")
        if self.groups and (sum(span for _, span in self.groups) != n or len(self.subcolumns) != n):
            raise C2StatsError(f"table {self.id!r}: the header groups do not cover the {n} columns.")
        for line in (*self.spanners, *((self.numbers,) if self.numbers else ())):
            if sum(span for _, span in line) != n:
                raise C2StatsError(f"table {self.id!r}: a header line does not cover the {n} columns.")
        if self.leaf and len(self.leaf) != n:
            raise C2StatsError(f"table {self.id!r}: leaf headers give {len(self.leaf)} cells for {n} columns.")
        if self.align and (len(self.align) != n or set(self.align) - {"l", "c", "r"}):
            raise C2StatsError(f"table {self.id!r}: align must give 'l', 'c' or 'r' for each of the {n} columns.")
        if self.fit not in FIT_POLICIES:
            raise C2StatsError(f"table {self.id!r}: fit is {self.fit!r}; use one of {', '.join(FIT_POLICIES)}.")

    @property
    def body(self) -> tuple[TableRow, ...]:
        return tuple(r for r in self.rows if r.kind not in ("add", "gof"))

    @property
    def gof(self) -> tuple[TableRow, ...]:
        """Added rows ("add") and fit statistics ("gof"): the block under the estimates."""
        return tuple(r for r in self.rows if r.kind in ("add", "gof"))

    def alignment(self) -> tuple[str, ...]:
        """Alignment of each data column ("c" unless set)."""
        return self.align or ("c",) * len(self.columns)

    def header_rows(self) -> list[list[tuple[str, int]]]:
        """Header lines as ``(text, span)`` cells, the first cell being the label column.

        Spanner lines, then the model names (with outcome groups above outcome columns), then the
        model numbers; :meth:`leaf_level` is the index of the line of one cell per column.
        """
        lines = [[("", 1), *line] for line in self.spanners]
        if self.groups:
            lines.append([("", 1), *self.groups])
            lines.append([(self.stub, 1), *((s, 1) for s in self.subcolumns)])
        else:
            lines.append([(self.stub, 1), *((c, 1) for c in (self.leaf or self.columns))])
        if self.numbers:
            lines.append([("", 1), *self.numbers])
        return lines

    def leaf_level(self) -> int:
        """Index in :meth:`header_rows` of the line with one cell per column (lines above it are spanners)."""
        return len(self.spanners) + (1 if self.groups else 0)


# ----------------------------------------------------------------------------------------------
# Formatting helpers
# ----------------------------------------------------------------------------------------------
def _family_facts(result: Result) -> type[Family]:
    """The family class of a result (its facts: GOF keys, column layout); the base class if unknown."""
    return FAMILIES.get(str(result.meta.get("family")), Family)


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and not math.isfinite(float(value))


def _fmt(value, digits: int) -> str:
    if _missing(value):
        return ""
    text = f"{float(value):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _fmt_number(value, digits: int, significant: int | None = None, thousands: bool = False) -> str:
    """A number with ``digits`` decimals, or ``significant`` significant digits; commas between thousands."""
    if _missing(value):
        return ""
    x = float(value)
    if significant is not None:
        digits = 0 if x == 0 else max(0, significant - 1 - int(math.floor(math.log10(abs(x)))))
    text = f"{x:{',' if thousands else ''}.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def _fmt_p(p, digits: int = 3) -> str:
    if _missing(p):
        return ""
    return f"<{10.0 ** -digits:.{digits}f}" if p < 10.0 ** -digits else _fmt(p, digits)


def star_scheme(stars: bool | Mapping[str, float]) -> dict[str, float]:
    """The ``{symbol: threshold}`` table of a ``stars`` setting, loosest threshold first."""
    scheme = DEFAULT_STARS if stars is True else ({} if stars is False else dict(stars))
    return dict(sorted(scheme.items(), key=lambda kv: -kv[1]))


def _stars(p, scheme: dict[str, float]) -> str:
    if _missing(p):
        return ""
    best = ""
    for symbol, threshold in scheme.items():  # loosest first: the last one passed is the strictest
        if p < threshold:
            best = symbol
    return best


def _gof_value(value, digits) -> str:
    if _missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if digits is None or not isinstance(value, numbers.Real):
        return str(value)
    if digits == "p":
        return _fmt_p(float(value))
    if digits == 0:
        return f"{int(round(float(value))):,}"
    return f"{float(value):,.{int(digits)}f}"


def _converged(result: Result) -> bool:
    value = result.glance.get("converged")
    return True if _missing(value) else bool(value)


def _term_labels(results: Sequence[Result], spec_labels: Mapping[str, str], codebook: Mapping[str, str]) -> dict[str, str]:
    labels = dict(codebook)
    for r in results:
        labels.update(r.meta.get("labels", {}) or {})
    labels.update(spec_labels)
    return labels


def _term_label(term: str, labels: Mapping[str, str]) -> str:
    """A term's display name; an interaction without its own label joins its parts' labels with ×."""
    if term in labels or ":" not in term:
        return labels.get(term, _transformed_label(term, labels))
    return " × ".join(labels.get(part, _transformed_label(part, labels)) for part in term.split(":"))


_ONE_ARG_CALL = re.compile(r"^(log|log1p|log2|log10|exp|sqrt|abs|center|standardize|scale)\(([A-Za-z_.][A-Za-z0-9_.]*)\)$")


def _transformed_label(term: str, labels: Mapping[str, str]) -> str:
    """``log1p(x)`` of a labelled column reads ``<label of x> (log1p)``; anything else stays as written."""
    match = _ONE_ARG_CALL.match(term)
    if match and match.group(2) in labels:
        return f"{labels[match.group(2)]} ({match.group(1)})"
    return term


# ----------------------------------------------------------------------------------------------
# Regression tables
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    result: Result
    header: str  #: model label (with a dagger if it did not converge)
    outcome: str | None  #: outcome category of a multinomial model
    frame: pd.DataFrame  #: tidy rows indexed by row key
    ancillary: frozenset  #: row keys of ancillary components (never exponentiated)
    first: bool  #: first column of its model (fit statistics are shown there)


def _columns(results: Sequence[Result]) -> list[_Column]:
    out: list[_Column] = []
    for r in results:
        header = str(r.meta.get("label") or r.model_id) + ("" if _converged(r) else DAGGER)
        tidy = r.tidy
        comp = tidy["component"].fillna("").astype(str) if "component" in tidy.columns else None
        if comp is not None and _family_facts(r).outcome_columns and (comp != "").all():
            for i, outcome in enumerate(dict.fromkeys(comp)):
                part = tidy[comp == outcome]
                out.append(_Column(r, header, outcome, part.set_index("term"), frozenset(), i == 0))
            continue
        if comp is None:
            keys = tidy["term"].tolist()
        else:
            keys = [f"{c}: {t}" if c else t for c, t in zip(comp, tidy["term"])]
        ancillary = frozenset(k for k, c in zip(keys, comp if comp is not None else [""] * len(keys)) if c)
        out.append(_Column(r, header, None, tidy.assign(term=keys).set_index("term"), ancillary, True))
    return out


def _display_labels(cols: list[_Column], labels: Mapping[str, str]) -> dict[str, str]:
    display: dict[str, str] = {}
    for col in cols:
        frame = col.frame
        comps = frame["component"].fillna("").astype(str) if "component" in frame.columns and col.outcome is None else None
        for i, key in enumerate(frame.index):
            if key in display:
                continue
            if key in labels:
                display[key] = labels[key]
            elif comps is not None and comps.iloc[i]:
                term = key.split(": ", 1)[1]
                display[key] = f"{comps.iloc[i]}: {_term_label(term, labels)}"
            else:
                display[key] = _term_label(key, labels)
    return display


def _beneath(statistic: str, se, lo, hi, z, p, num: Callable[[Any], str]) -> str:
    if statistic == "std_error":
        return f"({num(se)})" if not _missing(se) else ""
    if statistic == "conf_int":
        return f"[{num(lo)}, {num(hi)}]" if not (_missing(lo) or _missing(hi)) else ""
    if statistic == "statistic":
        return f"({_fmt(z, 2)})" if not _missing(z) else ""
    if statistic == "p_value":
        return f"({_fmt_p(p)})" if not _missing(p) else ""
    return ""


def statistics_of(spec: TableSpec) -> list[str]:
    """The statistics shown beneath each estimate, in order ("none" and repeats removed)."""
    wanted = [spec.statistic] if isinstance(spec.statistic, str) else list(spec.statistic)
    return [s for s in dict.fromkeys(wanted) if s != "none"]


def _plain_label(label: str) -> str:
    """A codebook label as it reads inside a sentence: 'State 1 (COW code)' -> 'state 1'."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", str(label)).strip() or str(label)
    return text[0].lower() + text[1:] if len(text) > 1 and not text[1].isupper() else text


def vcov_description(result: Result, labels: Mapping[str, str]) -> str:
    """The 'Std. errors' cell naming the cluster variables: 'Clustered by treaty', 'Two-way: state 1, state 2'.

    Reads ``meta["vcov"]`` (the model's vcov spec: type and groups); falls back to ``glance["vcov_type"]``.
    """
    kind = result.glance.get("vcov_type")
    base = "" if _missing(kind) else str(kind)
    spec = result.meta.get("vcov") or {}
    groups = spec.get("groups") if isinstance(spec, Mapping) else None
    if not groups:
        return base
    names = [_plain_label(labels.get(g, g)) for g in ([groups] if isinstance(groups, str) else list(groups))]
    vtype = spec.get("type")
    if vtype == "cluster":
        return f"Clustered by {names[0]}" if len(names) == 1 else f"{'Two' if len(names) == 2 else len(names)}-way: " + ", ".join(names)
    return f"{base or vtype}: " + ", ".join(names)


def build_table(results: Sequence[Result], spec: TableSpec, codebook_labels: Mapping[str, str] | None = None) -> TableModel:
    """Lay out ``results`` side by side as ``spec`` asks.

    Parameters
    ----------
    results
        The table's Results, in column order (``spec.models`` resolved by the caller).
    spec
        The ``[[tables]]`` entry.
    codebook_labels
        ``{variable: label}`` from the dataset codebook; model ``labels`` and ``spec.labels`` override it.

    Returns
    -------
    TableModel
        Estimates (exp-transformed with ``spec.exponentiate``: ratio, exp of both confidence
        limits, delta-method SE ``exp(b)·se``), the chosen statistic beneath, fit statistics and notes.

    Raises
    ------
    ConfigError
        A term named in ``spec.terms`` is in none of the models.
    """
    scheme = star_scheme(spec.stars)
    statistics = statistics_of(spec)
    labels = _term_labels(results, spec.labels, codebook_labels or {})
    cols = _columns(results)
    seen = list(dict.fromkeys(key for col in cols for key in col.frame.index))
    if spec.terms is not None:
        for term in spec.terms:
            if term not in seen:
                raise ConfigError(
                    f"term {term!r} is in none of the table's models{suggest(term, seen)}; the models have: "
                    f"{', '.join(seen)}.", where=f"tables (id {spec.id!r}).terms")
        order = list(spec.terms)
    else:
        order = seen
    if spec.drop:
        patterns = [re.compile(p) for p in spec.drop]
        order = [t for t in order if not any(p.search(t) for p in patterns)]
    display = _display_labels(cols, labels)
    fmt = spec.fmt

    def number(term: str) -> Callable[[Any], str]:
        digits = fmt.terms.get(term.split(": ", 1)[-1], fmt.terms.get(term, spec.digits))
        significant = None if term in fmt.terms or term.split(": ", 1)[-1] in fmt.terms else fmt.significant
        return lambda v: _fmt_number(v, digits, significant, fmt.thousands)

    rows: list[TableRow] = []
    ancillary_shown = False
    for term in order:
        num = number(term)
        est_cells, marks = [], []
        sub_cells: list[list[str]] = [[] for _ in statistics]
        for col in cols:
            if term not in col.frame.index:
                est_cells.append("")
                marks.append("")
                for sub in sub_cells:
                    sub.append("")
                continue
            row = col.frame.loc[term]
            b, se, lo, hi = row["estimate"], row["std_error"], row["conf_low"], row["conf_high"]
            if spec.exponentiate and term not in col.ancillary:
                with np.errstate(over="ignore", invalid="ignore"):
                    b, se, lo, hi = float(np.exp(b)), float(np.exp(b) * se), float(np.exp(lo)), float(np.exp(hi))
            ancillary_shown |= term in col.ancillary
            mark = _stars(row["p_value"], scheme) if not _missing(b) else ""
            est_cells.append(num(b) + mark)
            marks.append(mark)
            for sub, statistic in zip(sub_cells, statistics):
                sub.append(_beneath(statistic, se, lo, hi, row["statistic"], row["p_value"], num))
        rows.append(TableRow("coef", display.get(term, term), tuple(est_cells), term, tuple(marks)))
        for sub in sub_cells:
            rows.append(TableRow("stat", "", tuple(sub), term))
    model_index = {id(r): i for i, r in enumerate(results)}
    for label, cells in spec.add_rows.items():
        rows.append(TableRow("add", label, tuple(str(cells[model_index[id(c.result)]]) if c.first else "" for c in cols),
                             label))
    for key, label, gof_digits in _gof_rows(results, spec.gof):
        if key == "vcov_type" and spec.vcov_detail:
            cells = tuple(vcov_description(col.result, labels) if col.first else "" for col in cols)
        else:
            cells = tuple(_gof_value(col.result.glance.get(key), gof_digits) if col.first else "" for col in cols)
        rows.append(TableRow("gof", label, cells, key))

    auto = spec.notes != "none"
    notes = [_scale_note(results, spec)] if auto else []
    if scheme and auto:
        notes.append(", ".join(f"{s} p < {v:g}" for s, v in scheme.items()) + ".")
    if spec.exponentiate and ancillary_shown and auto:
        notes.append("Ancillary parameters (component rows) are on their own scale, not exponentiated.")
    for r in results:
        if auto and _family_facts(r).outcome_columns and any(c.result is r and c.outcome is not None for c in cols):
            base = r.glance.get("base")
            against = f"the base category {str(base)!r}" if not _missing(base) else "the base category"
            notes.append(f"{r.meta.get('label') or r.model_id}: one column per outcome category, each against "
                         f"{against}; fit statistics are for the whole model.")
    failed = [str(r.meta.get("label") or r.model_id) for r in results if not _converged(r)]
    if failed:
        notes.append(f"{DAGGER} Did not converge ({', '.join(failed)}): the estimates are from the last iteration "
                     "and are not reliable.")
    if isinstance(spec.notes, list):
        notes += list(spec.notes)

    numbers_of = {id(r): f"({i + 1})" for i, r in enumerate(results)}
    group_of: dict[int, str] = {}
    for label, members in spec.groups.items():
        for m in members:
            for r in results:
                if r.model_id == m:
                    group_of[id(r)] = label

    def flat(c: _Column) -> str:
        parts = [group_of.get(id(c.result), "")] if spec.groups else []
        parts.append(f"{numbers_of[id(c.result)]} {c.header}" if spec.numbers else c.header)
        if c.outcome is not None:
            parts.append(c.outcome)
        return ": ".join(p for p in parts if p)

    columns = tuple(flat(c) for c in cols)
    groups: tuple[tuple[str, int], ...] = ()
    subcolumns: tuple[str, ...] = ()
    spans = _model_spans(cols)
    if any(c.outcome is not None for c in cols):
        groups = tuple((cols[start].header, n) for start, n in spans)
        subcolumns = tuple(c.outcome or "" for c in cols)
    spanners: tuple[tuple[tuple[str, int], ...], ...] = ()
    if spec.groups:
        line: list[list] = []
        for c in cols:
            text = group_of.get(id(c.result), "")
            if line and line[-1][0] == text and (text or False):
                line[-1][1] += 1
            else:
                line.append([text, 1])
        spanners = (tuple((t, n) for t, n in line),)
    number_line = tuple((numbers_of[id(cols[start].result)], n) for start, n in spans) if spec.numbers else ()
    leaf = tuple(c.header for c in cols) if (spec.groups or spec.numbers) and not groups else ()
    return TableModel(spec.id, spec.title, columns, tuple(rows), tuple(n for n in notes if n),
                      groups=groups, subcolumns=subcolumns, fit=spec.fit, label_width=spec.label_width,
                      spanners=spanners, numbers=number_line, leaf=leaf)


def regression_table(results: Sequence[Result], spec: TableSpec,
                     codebook_labels: Mapping[str, str] | None = None) -> TableModel:
    """:func:`build_table` plus the models' diagnostics notes (PH test, separation ...), as reports show it.

    ``spec.notes = "none"`` leaves the diagnostics notes out too. ``c2stats.table`` and the report's
    ``[[tables]]`` both go through here, so a table renders the same bytes either way.
    """
    model = build_table(results, spec, codebook_labels)
    if spec.notes == "none":
        return model
    extra = [n for n in diagnostics_notes(list(results)) if n not in model.notes]
    if not extra:
        return model
    return dataclasses.replace(model, notes=(*model.notes, *extra))


def _model_spans(cols: list[_Column]) -> list[tuple[int, int]]:
    """``(first column, number of columns)`` of each model."""
    spans: list[list[int]] = []
    for i, c in enumerate(cols):
        if c.first:
            spans.append([i, 0])
        spans[-1][1] += 1
    return [(a, n) for a, n in spans]


def _gof_rows(results: Sequence[Result], wanted: list[str] | None) -> list[tuple[str, str, Any]]:
    gmap = {row.key: (row.label, row.digits, row.scope) for row in GOF_MAP.itertuples()}
    if wanted is not None:
        out = []
        for key in wanted:
            label, digits, _ = gmap.get(key, (key, 3, []))
            out.append((key, label, digits))
        return out
    keys = []
    for key, (label, digits, scope) in gmap.items():
        if any((scope == "*" or key in _family_facts(r).gof_keys) and not _missing(r.glance.get(key)) for r in results):
            keys.append((key, label, digits))
    return keys


def _scale_note(results: Sequence[Result], spec: TableSpec) -> str:
    by_scale: dict[str, list[str]] = {}
    for r in results:
        by_scale.setdefault(str(r.meta.get("scale", "identity")), []).append(str(r.meta.get("label") or r.model_id))
    if spec.exponentiate:
        names = {s: RATIO_NAMES.get(s, "exponentiated coefficients") for s in by_scale}
        if len(set(names.values())) == 1:
            name = next(iter(names.values()))
            text = name[0].upper() + name[1:] + (" (exponentiated coefficients)" if name != "exponentiated coefficients" else "")
        else:
            text = "Exponentiated coefficients: " + "; ".join(f"{names[s]} ({', '.join(m)})" for s, m in by_scale.items())
    else:
        names = {s: SCALE_NAMES.get(s, "") for s in by_scale}
        if len(set(names.values())) == 1:
            name = next(iter(names.values()))
            text = f"Coefficients ({name})" if name else "Coefficients"
        else:
            text = "Coefficients: " + "; ".join(f"{names[s] or 'identity'} scale ({', '.join(m)})" for s, m in by_scale.items())
    levels = sorted({float(r.meta.get("conf_level", 0.95)) for r in results})
    level = "/".join(f"{100 * lv:g}%" for lv in levels)
    describe = {
        "std_error": "delta-method standard errors of the ratios in parentheses" if spec.exponentiate
        else "standard errors in parentheses",
        "conf_int": f"{level} confidence intervals in brackets" + (" (exp of the limits)" if spec.exponentiate else ""),
        "statistic": "z or t statistics (of the coefficients) in parentheses",
        "p_value": "p-values in parentheses",
    }
    shown = [describe[s] for s in statistics_of(spec)]
    if len(shown) > 1:
        shown = [", then ".join(shown)]
        shown[0] = "beneath each estimate: " + shown[0]
    beneath = shown[0] if shown else ""
    return f"{text}; {beneath}." if beneath else f"{text}."


# ----------------------------------------------------------------------------------------------
# Generic tables from a DataFrame
# ----------------------------------------------------------------------------------------------
def _frame_cell(value, digits: int) -> str:
    if _missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (numbers.Integral, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _fmt(value, digits)
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return str(value)


def frame_table(frame: pd.DataFrame, title: str = "", notes: Sequence[str] = (), *,
                digits: int | Mapping[str, int] = 3, table_id: str = "table") -> TableModel:
    """A :class:`TableModel` of any DataFrame, renderable in every format by :data:`RENDERERS`.

    The first column (after moving a named or non-default index into the columns) becomes the
    label column, its name the stub header; the other columns are the data columns.

    Parameters
    ----------
    frame
        The table, e.g. hypothesis verdicts, a replication comparison or a robustness summary.
    title
        Caption.
    notes
        Lines printed under the table.
    digits
        Decimal places of float cells: one number for all columns, or ``{column: digits}`` (others: 3).
    table_id
        Id of the table (LaTeX label, HTML id).

    Returns
    -------
    TableModel
        Strings kept as they are; floats with ``digits`` decimals; integers as they are; booleans as
        yes/no; missing values empty. Text columns are left-aligned, numeric ones centred.

    Examples
    --------
    >>> verdicts = pd.DataFrame({"hypothesis": ["H1"], "estimate": [0.42], "p_value": [0.003], "verdict": ["supported"]})
    >>> model = frame_table(verdicts, "Hypotheses", digits={"estimate": 2, "p_value": 3}, table_id="hypotheses")
    >>> RENDERERS["md"](model).splitlines()[2]
    '| hypothesis | estimate | p_value | verdict |'
    """
    if not isinstance(frame, pd.DataFrame):
        raise C2StatsError(f"frame_table needs a pandas DataFrame, got {type(frame).__name__}.")
    if not isinstance(frame.index, pd.RangeIndex) or any(n is not None for n in frame.index.names):
        frame = frame.reset_index()
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise C2StatsError(f"frame_table: duplicate column names in {names}; rename them first.")
    if len(names) < 2:
        raise C2StatsError(f"frame_table: needs a label column and at least one data column, got {names}.")
    per_column = (lambda c: int(digits.get(c, 3))) if isinstance(digits, Mapping) else (lambda c: int(digits))
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = [_frame_cell(v, per_column(c)) for v, c in zip(values, names)]
        rows.append(TableRow("row", cells[0], tuple(cells[1:]), cells[0]))
    align = tuple("c" if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) else "l"
                  for c in frame.columns[1:])
    return TableModel(table_id, title, tuple(names[1:]), tuple(rows), tuple(str(n) for n in notes if str(n)),
                      stub=names[0], align=align)


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Escape what would break a pipe table or start emphasis (intraword underscores are literal in GFM)."""
    return escape.markdown(text)  # also [ ] and tag-opening < (links, raw HTML), control characters


def _md_cell(text: str, mark: str = "") -> str:
    # a trailing run of star symbols after a number cannot open emphasis, so stars stay readable
    return _md_escape(text[: len(text) - len(mark)]) + mark.replace("|", "\\|") if mark else _md_escape(text)


def render_markdown(table: TableModel) -> str:
    """GitHub-flavoured Markdown pipe table with the caption above and the notes below."""
    lines = []
    if table.title:
        lines += [f"**{_md_escape(table.title)}**", ""]
    rule = {"l": ":--", "c": ":-:", "r": "--:"}
    lines.append("| " + " | ".join(_md_escape(h) for h in (table.stub, *table.columns)) + " |")
    lines.append("|:--|" + "|".join(rule[a] for a in table.alignment()) + "|")
    for row in table.rows:
        marks = row.marks or ("",) * len(row.cells)
        lines.append("| " + " | ".join([_md_escape(row.label), *(_md_cell(c, m) for c, m in zip(row.cells, marks))]) + " |")
    if table.notes:
        lines.append("")
        lines += [_md_escape(n) + "  " for n in table.notes]
        lines[-1] = lines[-1].rstrip()
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# LaTeX
# ----------------------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\u00a0": "~",
    "¹": r"\textsuperscript{1}",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}",
    "±": r"\ensuremath{\pm}",
    "−": r"\ensuremath{-}",
    "–": "--",
    "—": "---",
    "…": r"\ldots{}",
    "→": r"\ensuremath{\rightarrow}",
    "←": r"\ensuremath{\leftarrow}",
    "↔": r"\ensuremath{\leftrightarrow}",
    "≤": r"\ensuremath{\leq}",
    "≥": r"\ensuremath{\geq}",
    "≠": r"\ensuremath{\neq}",
    "≈": r"\ensuremath{\approx}",
    "∞": r"\ensuremath{\infty}",
    "°": r"\ensuremath{^{\circ}}",
    "†": r"\ensuremath{^{\dagger}}",
    "‡": r"\ensuremath{^{\ddagger}}",
    "§": r"\S{}",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "α": r"\ensuremath{\alpha}",
    "β": r"\ensuremath{\beta}",
    "γ": r"\ensuremath{\gamma}",
    "δ": r"\ensuremath{\delta}",
    "Δ": r"\ensuremath{\Delta}",
    "ε": r"\ensuremath{\varepsilon}",
    "θ": r"\ensuremath{\theta}",
    "λ": r"\ensuremath{\lambda}",
    "μ": r"\ensuremath{\mu}",
    "π": r"\ensuremath{\pi}",
    "ρ": r"\ensuremath{\rho}",
    "σ": r"\ensuremath{\sigma}",
    "τ": r"\ensuremath{\tau}",
    "φ": r"\ensuremath{\phi}",
    "χ": r"\ensuremath{\chi}",
    "ψ": r"\ensuremath{\psi}",
    "ω": r"\ensuremath{\omega}",
}


def latex_escape(text: str) -> str:
    """Escape every LaTeX special character and the non-ASCII symbols tables use (², ×, →, †, Greek ...).

    Other non-ASCII letters (é, ü ...) are left for LaTeX's default UTF-8 input encoding.
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in " ".join(str(text).splitlines()))


#: Everything a c2stats ``.tex`` table needs in the document preamble (docs/latex.md explains each line).
LATEX_PREAMBLE = "\n".join([
    r"\usepackage{booktabs}        % \toprule, \midrule, \cmidrule, \bottomrule",
    r"\usepackage{threeparttable}  % notes under the table, as wide as the table",
    r"\usepackage{siunitx}         % S columns: numbers aligned on the decimal mark, real minus signs",
    r"\usepackage{array}           % p{} label columns that wrap (ragged right)",
    r"\usepackage{adjustbox}       % fit: shrink a table to the line width only when it is wider",
    r"\usepackage{rotating}        % fit = 'landscape' (and 'auto' for very wide tables): sidewaystable",
]) + "\n"

#: Text width (pt) the width policy plans for: US letter with 1in margins (6.5in), and landscape (9in).
PORTRAIT_WIDTH_PT = 6.5 * 72.27
LANDSCAPE_WIDTH_PT = 9.0 * 72.27
#: Default width (inches) at which long row labels wrap.
LABEL_WIDTH_IN = 2.2
_FONT_STEPS = (("", 1.0), ("\\small", 0.9), ("\\footnotesize", 0.8), ("\\scriptsize", 0.7))
_CHAR_PT = 5.2  #: mean advance of a character of Computer Modern 10pt, for planning widths only
_COLSEP_PT = 12.0  #: 2 \tabcolsep

_NUMBER = re.compile(r"^(\()?(-?)(\d+)(?:\.(\d+))?(\))?$")
_MINUS = re.compile(r"(?<![\w.])-(?=\.?\d)")


def _latex_number(core: str):
    """``(pre, sign, int, dec, post)`` when ``core`` is a plain number or one in parentheses, else None."""
    m = _NUMBER.match(core)
    if not m or bool(m.group(1)) != bool(m.group(5)):
        return None
    return m.groups()


def _latex_text_cell(text: str, mark: str = "") -> str:
    """A data cell typeset as text: escaped, with a real minus sign before numbers and superscript stars."""
    core = text[: len(text) - len(mark)] if mark else text
    body = _MINUS.sub("\x00", core)
    out = latex_escape(body).replace("\x00", "\\ensuremath{-}")
    return out + (f"\\textsuperscript{{{latex_escape(mark)}}}" if mark else "")


@dataclass(frozen=True)
class _LatexColumn:
    numeric: bool  #: an siunitx S column
    spec: str  #: its column specification


def _latex_columns(table: TableModel) -> list[_LatexColumn]:
    """One column spec per data column: ``S`` aligned on the decimal mark when the body cells are numbers."""
    out = []
    for j, a in enumerate(table.alignment()):
        ints = decs = 0
        neg = paren = False
        marks: set[str] = set()
        n_num = n_text = 0
        for row in table.body:
            text = row.cells[j]
            mark = row.marks[j] if row.marks else ""
            core = text[: len(text) - len(mark)] if mark else text
            if not core:
                continue
            parsed = _latex_number(core)
            if parsed is None:
                n_text += 1
                continue
            n_num += 1
            pre, sign, integer, dec, _ = parsed
            ints, decs = max(ints, len(integer)), max(decs, len(dec or ""))
            neg |= bool(sign)
            paren |= bool(pre)
            if mark:
                marks.add(mark)
        if n_num == 0 or n_text > n_num:
            out.append(_LatexColumn(False, a))
            continue
        opts = [f"table-format={'-' if neg else ''}{ints}" + (f".{decs}" if decs else ""),
                "table-align-text-before=false", "table-align-text-after=false", "group-digits=false"]
        if paren:
            opts.append("table-space-text-pre={(}")
        post = (")" if paren else "") + (f"\\textsuperscript{{{latex_escape(_widest_mark(marks))}}}" if marks else "")
        if post:
            opts.append(f"table-space-text-post={{{post}}}")
        out.append(_LatexColumn(True, "S[" + ",".join(opts) + "]"))
    return out


def _widest_mark(marks: set[str]) -> str:
    """A string at least as wide as every mark: the longest count of the widest symbol used."""
    chars = {ch for m in marks for ch in m}
    widest = next((ch for ch in "+#†‡" if ch in chars), max(chars))
    return widest * max(len(m) for m in marks)


def _latex_data_cell(text: str, mark: str, column: _LatexColumn, span_align: str = "c") -> str:
    if not column.numeric:
        return _latex_text_cell(text, mark)
    core = text[: len(text) - len(mark)] if mark else text
    if not core:
        return ""
    parsed = _latex_number(core)
    if parsed is None:  # text in an S column: its own cell, outside the alignment
        return f"\\multicolumn{{1}}{{{span_align}}}{{{_latex_text_cell(text, mark)}}}"
    pre, sign, integer, dec, post = parsed
    number = f"{sign}{integer}" + (f".{dec}" if dec is not None else "")
    tail = ("{)}" if post else "") + (f"{{\\textsuperscript{{{latex_escape(mark)}}}}}" if mark else "")
    return ("{(}" if pre else "") + number + tail


def _wrap_words(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _wrap_phrases(text: str, width: int) -> list[str]:
    """Lines of about ``width`` characters, breaking after ':' ',' ';' before breaking between words."""
    lines: list[str] = []
    for chunk in re.split(r"(?<=[:,;])\s+", text):
        if lines and len(lines[-1]) + 1 + len(chunk) <= width:
            lines[-1] += " " + chunk
        elif len(chunk) <= width:
            lines.append(chunk)
        else:
            lines += _wrap_words(chunk, width)
    return lines or [""]


def _header_lines(text: str, width: int) -> list[str]:
    """Header lines: :func:`_wrap_phrases`, and an identifier like ``mean_estimate`` breaks after '_'."""
    out: list[str] = []
    for line in _wrap_phrases(text, width):
        if len(line) <= width or not re.fullmatch(r"[A-Za-z0-9.]+(_[A-Za-z0-9.]+)+", line):
            out.append(line)
            continue
        parts = [p + "_" for p in line.split("_")[:-1]] + [line.split("_")[-1]]
        start = len(out)
        for part in parts:
            if len(out) > start and len(out[-1]) + len(part) <= width:
                out[-1] += part
            else:
                out.append(part)
    return out


def _latex_header_cell(text: str, width: int) -> str:
    """A header cell, broken into lines of about ``width`` characters (a nested tabular, no package needed)."""
    lines = _header_lines(text, width)
    if len(lines) == 1:
        return latex_escape(text)
    return "\\begin{tabular}[b]{@{}c@{}}" + "\\\\".join(latex_escape(line) for line in lines) + "\\end{tabular}"


def _caption_number(title: str) -> tuple[str | None, str]:
    """``"Table 1b. Duration"`` -> ``("1b", "Duration")``: a number written in the title replaces LaTeX's own."""
    m = re.match(r"^\s*Table\s+([0-9]+[A-Za-z]?|[A-Z]\.?[0-9]+)\s*[.:]\s+(.+)$", title, flags=re.S)
    return (m.group(1), m.group(2)) if m else (None, title)


def _plan_width(table: TableModel, label_pt: float, wrap: list[int], gof_wrap: list[int]) -> float:
    """The table's width in pt at 10pt (an estimate from character counts, good to about 15%), with
    headers wrapped at ``wrap[j]`` and fit-statistic text at ``gof_wrap[j]`` characters."""
    width = label_pt + _COLSEP_PT
    leaf = table.header_rows()[table.leaf_level()][1:]
    for j in range(len(table.columns)):
        lines = [len(r.cells[j]) for r in table.body]
        lines += [len(line) for r in table.gof for line in _wrap_phrases(r.cells[j], gof_wrap[j])]
        lines += [len(line) for line in _header_lines(leaf[j][0], wrap[j])]
        width += _CHAR_PT * max([*lines, 1]) + _COLSEP_PT
    return width


def render_latex(table: TableModel) -> str:
    """A booktabs table with decimal-aligned ``S`` columns (siunitx) and ``threeparttable`` notes.

    Needs :data:`LATEX_PREAMBLE` in the document (docs/latex.md). ``table.fit`` sets the width policy:

    - ``"auto"`` (default): long row labels wrap at ``label_width`` inches and long headers over
      several lines; the font steps down (small, footnotesize) until the planned width fits a
      US-letter text width of 6.5in, else the table turns landscape (``sidewaystable``, 9in, down to
      scriptsize); a last ``adjustbox`` guard shrinks it only if it is still wider than the line.
    - ``"resize"``: labels wrap, and the table is scaled down to the line width when wider.
    - ``"landscape"``: labels wrap, the table is set on its own landscape page (guarded the same way).
    - ``"none"``: no wrapping, no scaling: the table is as wide as its content.

    A title starting "Table 1b. ..." keeps its number: the caption reads "Table 1b: ..." rather than
    LaTeX's count followed by the title's own number.
    """
    ncol = len(table.columns)
    fit = table.fit
    columns = _latex_columns(table)
    label_in = table.label_width if table.label_width is not None else LABEL_WIDTH_IN
    label_chars = max([len(table.stub), *(len(r.label) for r in table.rows), 1])
    wrap = fit != "none" and label_chars * _CHAR_PT > label_in * 72.27
    label_pt = label_in * 72.27 if wrap else label_chars * _CHAR_PT
    body_chars = [max([len(r.cells[j]) for r in table.body] + [6]) for j in range(ncol)]
    head_width = [max(12, body_chars[j]) if fit != "none" else 10**6 for j in range(ncol)]
    gof_width = [max(16, w) for w in head_width]  # 'Dyadic-robust: state 1, state 2' breaks after the colon
    planned = _plan_width(table, label_pt, head_width, gof_width)
    size, landscape, guard = "", fit == "landscape", fit in ("auto", "resize", "landscape")
    if fit == "auto":
        for name, factor in _FONT_STEPS[:3]:  # portrait down to footnotesize; smaller reads better turned
            if planned * factor <= PORTRAIT_WIDTH_PT:
                size = name
                break
        else:
            landscape = True
            size = next((n for n, f in _FONT_STEPS if planned * f <= LANDSCAPE_WIDTH_PT), _FONT_STEPS[-1][0])
    env = "sidewaystable" if landscape else "table"
    out = [f"% c2stats table {table.id}: needs c2stats.tables.LATEX_PREAMBLE (booktabs, threeparttable, siunitx, "
           "array, adjustbox, rotating; see docs/latex.md)",
           f"\\begin{{{env}}}" + ("" if landscape else "[htbp]"),
           "\\centering"]
    if table.title:
        number, caption = _caption_number(table.title)
        if number:
            out.append(f"\\renewcommand{{\\thetable}}{{{latex_escape(number)}}}")
        out.append(f"\\caption{{{latex_escape(caption)}}}")
        out.append(f"\\label{{tab:{table.id}}}")  # ids are letters, digits, '_', '.', '-': safe in labels
    if size:
        out.append(size)
    if guard:
        out.append("\\begin{adjustbox}{max width=\\linewidth}")
    out.append("\\begin{threeparttable}")
    label_spec = f">{{\\raggedright\\arraybackslash}}p{{{label_in:g}in}}" if wrap else "l"
    out.append("\\begin{tabular}{@{}" + label_spec + "".join(c.spec for c in columns) + "@{}}")
    out.append("\\toprule")
    header = table.header_rows()
    leaf = table.leaf_level()
    for level, cells in enumerate(header):
        parts, rules, col = [], [], 0
        for text, span in cells:
            if col == 0:
                parts.append(latex_escape(text))
            elif level != leaf:
                parts.append(f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(text)}}}")
                if text and level < leaf:
                    rules.append(f"\\cmidrule(lr){{{col + 1}-{col + span}}}")
            else:
                cell = _latex_header_cell(text, head_width[col - 1])
                parts.append(f"\\multicolumn{{1}}{{c}}{{{cell}}}" if columns[col - 1].numeric and text else cell)
            col += span
        out.append(" & ".join(parts) + " \\\\")
        if rules:
            out.append(" ".join(rules))
    out.append("\\midrule")
    for row in table.body:
        marks = row.marks or ("",) * ncol
        cells = [_latex_data_cell(c, m, col) for c, m, col in zip(row.cells, marks, columns)]
        out.append(" & ".join([latex_escape(row.label), *cells]) + " \\\\")
    if table.gof:
        out.append("\\midrule")
        for row in table.gof:
            cells = []
            for c, col, width in zip(row.cells, columns, gof_width):
                lines = _wrap_phrases(c, width)
                text = _latex_text_cell(c) if len(lines) == 1 else \
                    "\\begin{tabular}[t]{@{}c@{}}" + "\\\\".join(_latex_text_cell(x) for x in lines) + "\\end{tabular}"
                cells.append(f"\\multicolumn{{1}}{{c}}{{{text}}}" if c and (col.numeric or len(lines) > 1) else text)
            out.append(" & ".join([latex_escape(row.label), *cells]) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    if table.notes:
        out.append("\\begin{tablenotes}[flushleft]")
        out.append("\\footnotesize")
        out += [f"\\item[] {latex_escape(n)}" for n in table.notes]
        out.append("\\end{tablenotes}")
    out.append("\\end{threeparttable}")
    if guard:
        out.append("\\end{adjustbox}")
    out.append(f"\\end{{{env}}}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------
def _html(text: str) -> str:
    """HTML-escaped, non-ASCII as character references (so the fragment works in any page encoding)."""
    escaped = html.escape(str(text), quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return "<br/>".join(escaped.splitlines()) if "\n" in escaped or "\r" in escaped else escaped


def _html_cell(text: str, mark: str = "") -> str:
    core = _MINUS.sub("\u2212", text[: len(text) - len(mark)] if mark else text)  # a real minus sign
    return _html(core) + (f"<sup>{_html(mark)}</sup>" if mark else "")


_HTML_ALIGN = {"l": "left", "c": "center", "r": "right"}
_HTML_PAD = "padding:1px 0.6em"  #: neighbouring columns never touch


def render_html(table: TableModel) -> str:
    """A self-contained ``<table>`` fragment (well-formed XHTML, inline styles): caption, thead, tbody, tfoot."""
    ncol = len(table.columns)
    align = [_HTML_ALIGN[a] for a in table.alignment()]
    rule = "border-bottom:1px solid"
    out = [f'<table class="c2stats-table" id="tab-{_html(table.id)}" '
           'style="border-collapse:collapse;border-top:2px solid;border-bottom:2px solid">']
    if table.title:
        out.append(f"<caption>{_html(table.title)}</caption>")
    out.append("<thead>")
    header = table.header_rows()
    leaf = table.leaf_level()
    for level, cells in enumerate(header):
        parts, col = [], 0
        for text, span in cells:
            style = ("text-align:left" if col == 0 else "text-align:center") + ";" + _HTML_PAD
            if level == len(header) - 1 or (text and col > 0 and level < leaf):
                style += ";" + rule
            colspan = f' colspan="{span}"' if span > 1 else ""
            scope = ' scope="col"' if col > 0 else ""
            parts.append(f'<th{colspan}{scope} style="{style}">{_html(text)}</th>')
            col += span
        out.append("<tr>" + "".join(parts) + "</tr>")
    out.append("</thead>")
    for section, rows in (("body", table.body), ("gof", table.gof)):
        if not rows:
            continue
        style = ' style="border-top:1px solid"' if section == "gof" and table.body else ""
        out.append(f'<tbody class="{section}"{style}>')
        for row in rows:
            marks = row.marks or ("",) * ncol
            cells = [f'<th scope="row" style="text-align:left;font-weight:normal;{_HTML_PAD}">{_html(row.label)}</th>']
            cells += [f'<td style="text-align:{a};{_HTML_PAD}{";white-space:nowrap" if row.kind in ("coef", "stat") else ""}">'
                      f'{_html_cell(c, m)}</td>' for c, m, a in zip(row.cells, marks, align)]
            out.append(f'<tr class="{row.kind}">' + "".join(cells) + "</tr>")
        out.append("</tbody>")
    if table.notes:
        out.append('<tfoot style="border-top:1px solid">')
        out += [f'<tr><td colspan="{ncol + 1}" style="text-align:left;font-size:smaller">{_html(n)}</td></tr>'
                for n in table.notes]
        out.append("</tfoot>")
    out.append("</table>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------
def render_csv(table: TableModel) -> str:
    """Machine-readable CSV: columns ``kind, key, label`` (or the stub name), then one per data column.

    One line per table row, in order; ``kind`` is coef, stat, gof or row; ``key`` is the term or
    glance key. A caption is a leading ``title`` line and each note a trailing ``note`` line (text
    in the label column), so the file can be filtered by ``kind``. Cells are the displayed strings.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(map(escape.csv_cell, ["kind", "key", table.stub or "label", *table.columns]))
    blank = [""] * len(table.columns)
    if table.title:
        writer.writerow(map(escape.csv_cell, ["title", "", table.title, *blank]))
    for row in table.rows:
        writer.writerow(map(escape.csv_cell, [row.kind, row.term or "", row.label, *row.cells]))
    for note in table.notes:
        writer.writerow(map(escape.csv_cell, ["note", "", note, *blank]))
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# Word (docx)
# ----------------------------------------------------------------------------------------------
_FIXED_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _import_docx():
    try:
        import docx  # noqa: F401
    except ImportError:
        raise ConfigError(
            "format 'docx' needs the optional package python-docx: pip install 'c2stats[docx]' "
            "(or remove 'docx' from the table's formats).") from None
    return docx


def _set_borders(cell, **edges: int) -> None:
    """Set cell borders, e.g. ``top=12`` (eighths of a point; booktabs-like rules)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge in ("top", "bottom"):  # schema order
        if edge in edges:
            el = borders.find(qn(f"w:{edge}"))
            if el is None:
                el = OxmlElement(f"w:{edge}")
                borders.append(el)
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), str(edges[edge]))
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")


def _docx_write(cell, text: str, mark: str, align: str, bold: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    para = cell.paragraphs[0]
    para.alignment = {"l": WD_ALIGN_PARAGRAPH.LEFT, "c": WD_ALIGN_PARAGRAPH.CENTER, "r": WD_ALIGN_PARAGRAPH.RIGHT}[align]
    para.paragraph_format.space_after = 0
    core = text[: len(text) - len(mark)] if mark else text
    if core:
        run = para.add_run(core)
        run.bold = bold or None
    if mark:
        para.add_run(mark).font.superscript = True


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with sorted entries ([Content_Types].xml first) and fixed timestamps/attributes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(source.namelist(), key=lambda n: (n != "[Content_Types].xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(name), compresslevel=9)
    return out.getvalue()


def _docx_widths(table: TableModel) -> tuple[float, float, bool]:
    """Label and data column widths (inches) and whether the page turns landscape: a 6.5in text width
    (US letter, 1in margins), labels 1-2.4in wide, data columns at least 0.75in; 9in in landscape."""
    ncol = max(len(table.columns), 1)
    longest = max([len(table.stub), *(len(r.label) for r in table.rows), 1])
    label_in = min(2.4, max(1.0, 0.075 * longest))
    for page, landscape in ((6.5, False), (9.0, True)):
        data_in = (page - label_in) / ncol
        if data_in >= 0.75:
            return label_in, round(data_in, 3), landscape
    return label_in, round(max(0.5, (9.0 - label_in) / ncol), 3), True


def render_docx(table: TableModel) -> bytes:
    """A Word document holding the table (caption, booktabs-like rules, superscript stars, notes); deterministic bytes.

    Needs python-docx (``pip install 'c2stats[docx]'``), imported only when called.
    """
    docx = _import_docx()
    from docx.shared import Inches, Pt

    table = escape.map_text(table, escape.xml_text)  # Word refuses control characters

    document = docx.Document()
    props = document.core_properties
    props.author = "c2stats"
    props.last_modified_by = "c2stats"
    props.comments = ""
    props.title = table.title
    props.created = props.modified = props.last_printed = _FIXED_TIME
    props.revision = 1
    label_in, data_in, landscape = _docx_widths(table)
    section = document.sections[0]
    if landscape:
        from docx.enum.section import WD_ORIENT

        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Inches(11), Inches(8.5)
    else:
        section.page_width, section.page_height = Inches(8.5), Inches(11)
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Inches(1)
    if table.title:
        document.add_paragraph(table.title, style="Caption")
    header = table.header_rows()
    leaf = table.leaf_level()
    align = ("l", *table.alignment())
    grid = document.add_table(rows=len(header) + len(table.rows), cols=len(table.columns) + 1)
    for level, cells in enumerate(header):
        col = 0
        for text, span in cells:
            cell = grid.cell(level, col)
            if span > 1:
                cell = cell.merge(grid.cell(level, col + span - 1))
            _docx_write(cell, text, "", align[col] if span == 1 else "c")
            edges = {"top": 12} if level == 0 else {}
            if level == len(header) - 1 or (text and col > 0 and level < leaf):
                edges["bottom"] = 6
            _set_borders(cell, **edges)
            col += span
    n_body = len(table.body)
    for i, row in enumerate(table.rows):
        marks = row.marks or ("",) * len(row.cells)
        r = len(header) + i
        for j, (text, mark) in enumerate(zip((row.label, *row.cells), ("", *marks))):
            cell = grid.cell(r, j)
            _docx_write(cell, _MINUS.sub("\u2212", text) if j else text, mark, align[j])
            edges = {}
            if i == n_body and n_body:
                edges["top"] = 6
            if i == len(table.rows) - 1:
                edges["bottom"] = 12
            if edges:
                _set_borders(cell, **edges)
    grid.autofit = False
    for j, column in enumerate(grid.columns):
        width = Inches(label_in if j == 0 else data_in)
        column.width = width
        for cell in column.cells:
            cell.width = width
    for note in table.notes:
        para = document.add_paragraph()
        para.paragraph_format.space_after = 0
        para.add_run(note).font.size = Pt(9)
    buffer = io.BytesIO()
    document.save(buffer)
    return _deterministic_zip(buffer.getvalue())


#: Format -> renderer(TableModel); text for md/tex/html/csv, bytes for docx.
RENDERERS: dict[str, Callable[[TableModel], str | bytes]] = {
    "md": render_markdown,
    "tex": render_latex,
    "html": render_html,
    "csv": render_csv,
    "docx": render_docx,
}


# ----------------------------------------------------------------------------------------------
# Python / notebook API
# ----------------------------------------------------------------------------------------------
_SUFFIX_FORMAT = {".md": "md", ".tex": "tex", ".html": "html", ".htm": "html", ".csv": "csv", ".docx": "docx"}


@dataclass(frozen=True)
class Table:
    """A rendered-on-demand table: what :func:`table` returns (``model`` is the neutral :class:`TableModel`).

    In Jupyter it displays as HTML (``_repr_html_``); ``to_latex``, ``to_markdown``, ``to_html``,
    ``to_csv`` return text and ``to_docx`` bytes, each exactly what a report writes for the same spec.
    """

    model: TableModel

    def to_latex(self) -> str:
        """LaTeX (needs :data:`LATEX_PREAMBLE`; docs/latex.md)."""
        return render_latex(self.model)

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown pipe table."""
        return render_markdown(self.model)

    def to_html(self) -> str:
        """A self-contained ``<table>`` fragment."""
        return render_html(self.model)

    def to_csv(self) -> str:
        """Machine-readable CSV (see :func:`render_csv`)."""
        return render_csv(self.model)

    def to_docx(self, path: str | None = None) -> bytes:
        """A Word document (needs ``pip install 'c2stats[docx]'``); written to ``path`` when given."""
        data = render_docx(self.model)
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def save(self, path) -> None:
        """Write the table in the format its suffix names (.md, .tex, .html, .csv, .docx)."""
        target = Path(path)
        fmt = _SUFFIX_FORMAT.get(target.suffix.lower())
        if fmt is None:
            raise ConfigError(f"cannot tell the table format from {target.name!r}; use a suffix among "
                              f"{', '.join(_SUFFIX_FORMAT)}.")
        content = RENDERERS[fmt](self.model)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="\n")

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def table(results: Result | Sequence[Result] | Mapping[str, Result], *,
          codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> Table:
    """A regression table of ``results`` with the keys of a ``[[tables]]`` entry.

    Parameters
    ----------
    results
        One Result, a list of them, or ``{model id: Result}`` (e.g. ``c2stats.run(...).results``).
        ``models`` (optional) picks and orders them by id; by default all, in the order given.
    codebook_labels
        ``{variable: label}`` as reports use them (the dataset codebook); table ``labels`` override.
    **keys
        Any :class:`~c2stats.spec.TableSpec` key: ``exponentiate``, ``statistic``, ``stars``,
        ``digits``, ``terms``, ``labels``, ``gof``, ``notes``, ``groups``, ``add_rows``, ``drop``,
        ``fmt``, ``numbers``, ``fit``, ``label_width``, ``title``, ``id`` (default "table").

    Returns
    -------
    Table
        The same bytes the TOML path writes for the same spec and labels (both go through
        :func:`regression_table`).

    Examples
    --------
    >>> t = c2stats.table(fits, exponentiate=True, groups={"Duration": ["cox", "weibull"]})  # doctest: +SKIP
    >>> t.save("table2.tex")  # doctest: +SKIP
    """
    if isinstance(results, Result):
        by_id = {results.model_id: results}
    elif isinstance(results, Mapping):
        by_id = dict(results)
    else:
        by_id = {}
        for r in results:
            if not isinstance(r, Result):
                raise ConfigError(f"table: results must be Result objects (from c2stats.fit or run), got "
                                  f"{type(r).__name__}.")
            by_id[r.model_id] = r
    models = list(keys.pop("models", by_id))
    missing = [m for m in models if m not in by_id]
    if missing:
        raise ConfigError(f"table: model {missing[0]!r} is not among the results{suggest(missing[0], list(by_id))}; "
                          f"they are: {', '.join(by_id)}.")
    try:
        spec = TableSpec(id=keys.pop("id", "table"), models=models, **keys)
    except ValidationError as exc:  # pydantic's message names the bad key and what it expects
        raise ConfigError(f"table: {exc}", where="c2stats.table") from None
    return Table(regression_table([by_id[m] for m in models], spec, codebook_labels))
