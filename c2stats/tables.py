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
import html
import io
import math
import numbers
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

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

    def __post_init__(self) -> None:
        n = len(self.columns)
        for row in self.rows:
            if len(row.cells) != n or (row.marks and len(row.marks) != n):
                raise C2StatsError(f"table {self.id!r}: row {row.label!r} has {len(row.cells)} cells for {n} columns.")
        if self.groups and (sum(span for _, span in self.groups) != n or len(self.subcolumns) != n):
            raise C2StatsError(f"table {self.id!r}: the header groups do not cover the {n} columns.")
        if self.align and (len(self.align) != n or set(self.align) - {"l", "c", "r"}):
            raise C2StatsError(f"table {self.id!r}: align must give 'l', 'c' or 'r' for each of the {n} columns.")

    @property
    def body(self) -> tuple[TableRow, ...]:
        return tuple(r for r in self.rows if r.kind != "gof")

    @property
    def gof(self) -> tuple[TableRow, ...]:
        return tuple(r for r in self.rows if r.kind == "gof")

    def alignment(self) -> tuple[str, ...]:
        """Alignment of each data column ("c" unless set)."""
        return self.align or ("c",) * len(self.columns)

    def header_rows(self) -> list[list[tuple[str, int]]]:
        """Header lines as ``(text, span)`` cells, the first cell being the label column."""
        if self.groups:
            return [[("", 1), *self.groups], [(self.stub, 1), *((s, 1) for s in self.subcolumns)]]
        return [[(self.stub, 1), *((c, 1) for c in self.columns)]]


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


def _beneath(statistic: str, se, lo, hi, z, p, digits: int) -> str:
    if statistic == "std_error":
        return f"({_fmt(se, digits)})" if not _missing(se) else ""
    if statistic == "conf_int":
        return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]" if not (_missing(lo) or _missing(hi)) else ""
    if statistic == "statistic":
        return f"({_fmt(z, 2)})" if not _missing(z) else ""
    if statistic == "p_value":
        return f"({_fmt_p(p)})" if not _missing(p) else ""
    return ""


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
    digits = spec.digits
    scheme = star_scheme(spec.stars)
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
    display = _display_labels(cols, labels)
    rows: list[TableRow] = []
    ancillary_shown = False
    for term in order:
        est_cells, marks, sub_cells = [], [], []
        for col in cols:
            if term not in col.frame.index:
                est_cells.append("")
                marks.append("")
                sub_cells.append("")
                continue
            row = col.frame.loc[term]
            b, se, lo, hi = row["estimate"], row["std_error"], row["conf_low"], row["conf_high"]
            if spec.exponentiate and term not in col.ancillary:
                with np.errstate(over="ignore", invalid="ignore"):
                    b, se, lo, hi = float(np.exp(b)), float(np.exp(b) * se), float(np.exp(lo)), float(np.exp(hi))
            ancillary_shown |= term in col.ancillary
            mark = _stars(row["p_value"], scheme) if not _missing(b) else ""
            est_cells.append(_fmt(b, digits) + mark)
            marks.append(mark)
            sub_cells.append(_beneath(spec.statistic, se, lo, hi, row["statistic"], row["p_value"], digits))
        rows.append(TableRow("coef", display.get(term, term), tuple(est_cells), term, tuple(marks)))
        if spec.statistic != "none":
            rows.append(TableRow("stat", "", tuple(sub_cells), term))
    for key, label, gof_digits in _gof_rows(results, spec.gof):
        cells = tuple(_gof_value(col.result.glance.get(key), gof_digits) if col.first else "" for col in cols)
        rows.append(TableRow("gof", label, cells, key))

    notes = [_scale_note(results, spec)]
    if scheme:
        notes.append(", ".join(f"{s} p < {v:g}" for s, v in scheme.items()) + ".")
    if spec.exponentiate and ancillary_shown:
        notes.append("Ancillary parameters (component rows) are on their own scale, not exponentiated.")
    for r in results:
        if _family_facts(r).outcome_columns and any(c.result is r and c.outcome is not None for c in cols):
            base = r.glance.get("base")
            against = f"the base category {str(base)!r}" if not _missing(base) else "the base category"
            notes.append(f"{r.meta.get('label') or r.model_id}: one column per outcome category, each against "
                         f"{against}; fit statistics are for the whole model.")
    failed = [str(r.meta.get("label") or r.model_id) for r in results if not _converged(r)]
    if failed:
        notes.append(f"{DAGGER} Did not converge ({', '.join(failed)}): the estimates are from the last iteration "
                     "and are not reliable.")
    notes += list(spec.notes)

    columns = tuple(c.header if c.outcome is None else f"{c.header}: {c.outcome}" for c in cols)
    groups: tuple[tuple[str, int], ...] = ()
    subcolumns: tuple[str, ...] = ()
    if any(c.outcome is not None for c in cols):
        spans: list[list] = []
        for c in cols:
            if c.first:
                spans.append([c.header, 0])
            spans[-1][1] += 1
        groups = tuple((h, n) for h, n in spans)
        subcolumns = tuple(c.outcome or "" for c in cols)
    return TableModel(spec.id, spec.title, columns, tuple(rows), tuple(n for n in notes if n),
                      groups=groups, subcolumns=subcolumns)


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
    beneath = {
        "std_error": "delta-method standard errors of the ratios in parentheses" if spec.exponentiate
        else "standard errors in parentheses",
        "conf_int": f"{level} confidence intervals in brackets" + (" (exp of the limits)" if spec.exponentiate else ""),
        "statistic": "z or t statistics (of the coefficients) in parentheses",
        "p_value": "p-values in parentheses",
        "none": "",
    }[spec.statistic]
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
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md_escape(text: str) -> str:
    """Escape what would break a pipe table or start emphasis (intraword underscores are literal in GFM)."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")
    return _MD_UNDERSCORE.sub(r"\\_", " ".join(text.splitlines()))


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


def _latex_cell(text: str, mark: str = "") -> str:
    if not mark:
        return latex_escape(text)
    return latex_escape(text[: len(text) - len(mark)]) + f"\\textsuperscript{{{latex_escape(mark)}}}"


def render_latex(table: TableModel) -> str:
    """A booktabs ``table`` float in a ``threeparttable`` (notes under the rule, as wide as the table)."""
    ncol = len(table.columns)
    out = [
        f"% c2stats table {table.id}: needs \\usepackage{{booktabs}} and \\usepackage{{threeparttable}}",
        "\\begin{table}[htbp]",
        "\\centering",
        "\\begin{threeparttable}",
    ]
    if table.title:
        out.append(f"\\caption{{{latex_escape(table.title)}}}")
        out.append(f"\\label{{tab:{table.id}}}")  # ids are letters, digits, '_', '.', '-': safe in labels
    out.append("\\begin{tabular}{l" + "".join(table.alignment()) + "}")
    out.append("\\toprule")
    header = table.header_rows()
    for level, cells in enumerate(header):
        parts, rules, col = [], [], 0
        for text, span in cells:
            if span > 1 or (len(header) > 1 and level == 0 and col > 0):
                parts.append(f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(text)}}}")
                if text:
                    rules.append(f"\\cmidrule(lr){{{col + 1}-{col + span}}}")
            else:
                parts.append(latex_escape(text))
            col += span
        out.append(" & ".join(parts) + " \\\\")
        if level < len(header) - 1 and rules:
            out.append(" ".join(rules))
    out.append("\\midrule")
    for row in table.body:
        marks = row.marks or ("",) * ncol
        out.append(" & ".join([latex_escape(row.label), *(_latex_cell(c, m) for c, m in zip(row.cells, marks))]) + " \\\\")
    if table.gof:
        out.append("\\midrule")
        for row in table.gof:
            out.append(" & ".join([latex_escape(row.label), *(latex_escape(c) for c in row.cells)]) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    if table.notes:
        out.append("\\begin{tablenotes}[flushleft]")
        out.append("\\footnotesize")
        out += [f"\\item[] {latex_escape(n)}" for n in table.notes]
        out.append("\\end{tablenotes}")
    out.append("\\end{threeparttable}")
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------
def _html(text: str) -> str:
    """HTML-escaped, non-ASCII as character references (so the fragment works in any page encoding)."""
    escaped = html.escape(str(text), quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return "<br/>".join(escaped.splitlines()) if "\n" in escaped or "\r" in escaped else escaped


def _html_cell(text: str, mark: str = "") -> str:
    return _html(text[: len(text) - len(mark)]) + f"<sup>{_html(mark)}</sup>" if mark else _html(text)


_HTML_ALIGN = {"l": "left", "c": "center", "r": "right"}


def render_html(table: TableModel) -> str:
    """A self-contained ``<table>`` fragment (well-formed XHTML, inline styles): caption, thead, tbody, tfoot."""
    ncol = len(table.columns)
    align = [_HTML_ALIGN[a] for a in table.alignment()]
    rule = "border-bottom:1px solid"
    out = [f'<table class="c2stats-table" id="{_html(table.id)}" '
           'style="border-collapse:collapse;border-top:2px solid;border-bottom:2px solid">']
    if table.title:
        out.append(f"<caption>{_html(table.title)}</caption>")
    out.append("<thead>")
    header = table.header_rows()
    for level, cells in enumerate(header):
        parts, col = [], 0
        for text, span in cells:
            style = "text-align:left" if col == 0 else "text-align:center"
            if level == len(header) - 1 or (text and col > 0):
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
            cells = [f'<th scope="row" style="text-align:left;font-weight:normal">{_html(row.label)}</th>']
            cells += [f'<td style="text-align:{a}">{_html_cell(c, m)}</td>' for c, m, a in zip(row.cells, marks, align)]
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
    writer.writerow(["kind", "key", table.stub or "label", *table.columns])
    blank = [""] * len(table.columns)
    if table.title:
        writer.writerow(["title", "", table.title, *blank])
    for row in table.rows:
        writer.writerow([row.kind, row.term or "", row.label, *row.cells])
    for note in table.notes:
        writer.writerow(["note", "", note, *blank])
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


def render_docx(table: TableModel) -> bytes:
    """A Word document holding the table (caption, booktabs-like rules, superscript stars, notes); deterministic bytes.

    Needs python-docx (``pip install 'c2stats[docx]'``), imported only when called.
    """
    docx = _import_docx()
    from docx.shared import Pt

    document = docx.Document()
    props = document.core_properties
    props.author = "c2stats"
    props.last_modified_by = "c2stats"
    props.comments = ""
    props.title = table.title
    props.created = props.modified = props.last_printed = _FIXED_TIME
    props.revision = 1
    if table.title:
        document.add_paragraph(table.title, style="Caption")
    header = table.header_rows()
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
            if level == len(header) - 1 or (text and col > 0):
                edges["bottom"] = 6
            _set_borders(cell, **edges)
            col += span
    n_body = len(table.body)
    for i, row in enumerate(table.rows):
        marks = row.marks or ("",) * len(row.cells)
        r = len(header) + i
        for j, (text, mark) in enumerate(zip((row.label, *row.cells), ("", *marks))):
            cell = grid.cell(r, j)
            _docx_write(cell, text, mark, align[j])
            edges = {}
            if i == n_body and n_body:
                edges["top"] = 6
            if i == len(table.rows) - 1:
                edges["bottom"] = 12
            if edges:
                _set_borders(cell, **edges)
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
