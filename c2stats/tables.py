"""Regression tables: one neutral table model, one small renderer per format.

:func:`build_table` turns Results (it reads only ``tidy``, ``glance`` and ``meta``) and a
``[[tables]]`` spec into a :class:`TableModel` of formatted strings; ``render_markdown`` and
``render_latex`` (and later formats) only lay that model out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from pydantic import Field

from ._spec import Identifier, Strict
from .results import Result

class TableSpec(Strict):
    """``[[tables]]``: a regression table of several models side by side."""

    id: Identifier = Field(description="Table id; files are tables/<id>.<format>.")
    models: list[str] = Field(min_length=1, description="Model ids, one column each, in order.")
    title: str = Field(default="", description="Caption of the table.")
    formats: list[Literal["md", "tex", "html", "csv", "docx"]] = Field(
        default_factory=lambda: ["md", "tex"], description="Output formats: md, tex, html, csv, docx."
    )
    exponentiate: bool = Field(
        default=False,
        description="Show exp(estimate) (hazard/odds ratios) with exp-transformed confidence limits.",
    )
    statistic: Literal["std_error", "conf_int", "statistic", "p_value", "none"] = Field(
        default="std_error", description="What is shown beneath each estimate."
    )
    stars: bool | dict[str, float] = Field(
        default=True,
        description="Significance stars: true = {'*'=0.05, '**'=0.01, '***'=0.001}; false = none; or a custom table.",
    )
    digits: int = Field(default=3, ge=0, le=10, description="Decimal places of estimates and their statistics.")
    terms: list[str] | None = Field(default=None, description="Terms to show, in this order (default: all, first-seen order).")
    labels: dict[str, str] = Field(default_factory=dict, description="Display names of terms (override model labels and codebook).")
    gof: list[str] | None = Field(
        default=None, description="Fit statistics (glance keys) to show, in order; default chosen per family."
    )
    notes: list[str] = Field(default_factory=list, description="Notes printed under the table.")


DEFAULT_STARS = {"*": 0.05, "**": 0.01, "***": 0.001}

#: Which glance keys are shown, how they are labelled and formatted (modelsummary's gof_map).
GOF_MAP = pd.DataFrame(
    [
        ("nobs", "N", "int"),
        ("n_events", "Events", "int"),
        ("n_subjects", "Subjects", "int"),
        ("n_clusters", "Clusters", "int"),
        ("n_strata", "Strata", "int"),
        ("loglik", "Log-likelihood", "2"),
        ("aic", "AIC", "1"),
        ("bic", "BIC", "1"),
        ("pseudo_r2", "Pseudo R²", "3"),
        ("r2", "R²", "3"),
        ("r2_within", "R² (within)", "3"),
        ("ph_global_p", "PH test p (global)", "3"),
        ("ties", "Ties", "str"),
        ("vcov_type", "Std. errors", "str"),
    ],
    columns=["key", "label", "fmt"],
)

SCALE_NOTES = {
    ("log_hazard", True): "Hazard ratios",
    ("log_hazard", False): "Coefficients (log hazard)",
    ("log_odds", True): "Odds ratios",
    ("log_odds", False): "Coefficients (log odds)",
    ("log_relative_risk", True): "Relative-risk ratios",
    ("log_relative_risk", False): "Coefficients (log relative risk)",
    ("log_time", True): "Time ratios",
    ("log_time", False): "Coefficients (log time)",
}


@dataclass(frozen=True)
class TableRow:
    kind: str  #: "coef", "stat" (beneath a coefficient), "gof"
    label: str
    cells: tuple[str, ...]
    term: str | None = None


@dataclass(frozen=True)
class TableModel:
    """A rendered-agnostic table: header, body rows, fit statistics and notes, all as strings."""

    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def body(self) -> tuple[TableRow, ...]:
        return tuple(r for r in self.rows if r.kind != "gof")

    @property
    def gof(self) -> tuple[TableRow, ...]:
        return tuple(r for r in self.rows if r.kind == "gof")


def _fmt(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text.startswith("-") and float(text) == 0 else text


def _stars(p: float, scheme: dict[str, float]) -> str:
    if p is None or not math.isfinite(p):
        return ""
    best = ""
    for symbol, threshold in sorted(scheme.items(), key=lambda kv: -kv[1]):
        if p < threshold:
            best = symbol
    return best


def _gof_value(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if fmt == "str":
        return str(value)
    if fmt == "int":
        return f"{int(value):,}"
    return f"{float(value):,.{int(fmt)}f}"


def _term_labels(results: Sequence[Result], spec_labels: dict[str, str], codebook: dict[str, str]) -> dict[str, str]:
    labels = dict(codebook)
    for r in results:
        labels.update(r.meta.get("labels", {}) or {})
    labels.update(spec_labels)
    return labels


def build_table(results: Sequence[Result], spec, codebook: dict[str, str] | None = None) -> TableModel:
    """Lay out ``results`` side by side as ``spec`` (a :class:`~c2stats.config.TableSpec`) asks."""
    digits = spec.digits
    scheme = DEFAULT_STARS if spec.stars is True else ({} if spec.stars is False else dict(spec.stars))
    labels = _term_labels(results, spec.labels, codebook or {})
    tidies = []
    display: dict[str, str] = {}
    for r in results:
        t = r.tidy.copy()
        keys = t["term"].tolist()
        if "component" in t.columns:
            comp = t["component"].fillna("").astype(str).tolist()
            keys = [f"{c}: {k}" if c else k for c, k in zip(comp, keys)]
            for key, c, term in zip(keys, comp, t["term"]):
                display.setdefault(key, f"{c}: {_term_label(term, labels)}" if c else _term_label(term, labels))
        t["term"] = keys
        tidies.append(t.set_index("term"))
    if spec.terms is not None:
        order = list(spec.terms)
    else:
        order = list(dict.fromkeys(term for t in tidies for term in t.index))
    rows: list[TableRow] = []
    for term in order:
        est_cells, sub_cells = [], []
        for r, t in zip(results, tidies):
            if term not in t.index:
                est_cells.append("")
                sub_cells.append("")
                continue
            row = t.loc[term]
            b, se, lo, hi = row["estimate"], row["std_error"], row["conf_low"], row["conf_high"]
            if spec.exponentiate:
                b, se, lo, hi = math.exp(b), math.exp(b) * se, math.exp(lo), math.exp(hi)
            est_cells.append(_fmt(b, digits) + _stars(row["p_value"], scheme))
            sub_cells.append(_beneath(spec.statistic, se, lo, hi, row["statistic"], row["p_value"], digits))
        label = labels.get(term) or display.get(term) or _term_label(term, labels)
        rows.append(TableRow("coef", label, tuple(est_cells), term))
        if spec.statistic != "none":
            rows.append(TableRow("stat", "", tuple(sub_cells), term))
    for key, label, fmt in _gof_rows(results, spec.gof):
        rows.append(TableRow("gof", label, tuple(_gof_value(r.glance.get(key), fmt) for r in results), key))
    notes = list(spec.notes)
    notes.append(_scale_note(results, spec))
    if scheme:
        notes.append(" ".join(f"{s} p < {v:g}" for s, v in sorted(scheme.items(), key=lambda kv: -kv[1])) + ".")
    columns = tuple(r.meta.get("label") or r.model_id for r in results)
    return TableModel(spec.id, spec.title, columns, tuple(rows), tuple(n for n in notes if n))


def _term_label(term: str, labels: dict[str, str]) -> str:
    """A term's display name; an interaction without its own label joins its parts' labels with ×."""
    if term in labels or ":" not in term:
        return labels.get(term, term)
    return " × ".join(labels.get(part, part) for part in term.split(":"))


def _beneath(statistic: str, se, lo, hi, z, p, digits: int) -> str:
    if statistic == "std_error":
        return f"({_fmt(se, digits)})" if math.isfinite(se) else ""
    if statistic == "conf_int":
        return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]" if math.isfinite(lo) else ""
    if statistic == "statistic":
        return f"({_fmt(z, 2)})" if math.isfinite(z) else ""
    if statistic == "p_value":
        return f"({_fmt(p, 3)})" if math.isfinite(p) else ""
    return ""


def _gof_rows(results: Sequence[Result], wanted: list[str] | None) -> list[tuple[str, str, str]]:
    gmap = {row.key: (row.label, row.fmt) for row in GOF_MAP.itertuples()}
    if wanted is None:
        keys = [k for k in GOF_MAP["key"] if any(_present(r.glance.get(k)) for r in results)]
    else:
        keys = list(wanted)
    return [(k, *gmap.get(k, (k, "3"))) for k in keys]


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _scale_note(results: Sequence[Result], spec) -> str:
    scales = sorted({r.meta.get("scale", "identity") for r in results})
    parts = [SCALE_NOTES.get((s, spec.exponentiate), "Coefficients") for s in scales]
    beneath = {
        "std_error": "standard errors in parentheses",
        "conf_int": f"{int(round(results[0].meta.get('conf_level', 0.95) * 100))}% confidence intervals in brackets",
        "statistic": "z/t statistics in parentheses",
        "p_value": "p-values in parentheses",
        "none": "",
    }[spec.statistic]
    text = "; ".join(dict.fromkeys(parts))
    if spec.exponentiate and spec.statistic == "std_error":
        beneath = "delta-method standard errors of the ratios in parentheses"
    if spec.exponentiate and spec.statistic == "conf_int":
        beneath += " (exp of the limits)"
    return f"{text}; {beneath}." if beneath else f"{text}."


# ----------------------------------------------------------------------------------------------
# Renderers
# ----------------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(table: TableModel) -> str:
    """GitHub-flavoured Markdown pipe table with caption above and notes below."""
    lines = []
    if table.title:
        lines += [f"**{_md_escape(table.title)}**", ""]
    header = ["", *table.columns]
    lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
    lines.append("|:--" + "|--:" * len(table.columns) + "|")
    for row in table.body:
        lines.append("| " + " | ".join(_md_escape(c) for c in (row.label, *row.cells)) + " |")
    for row in table.gof:
        lines.append("| " + " | ".join(_md_escape(c) for c in (row.label, *row.cells)) + " |")
    if table.notes:
        lines.append("")
        # notes carry the star legend, so '*' is escaped rather than used for emphasis
        lines += [_md_escape(n).replace("*", "\\*") + "  " for n in table.notes]
        lines[-1] = lines[-1].rstrip()
    return "\n".join(lines) + "\n"


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
    "²": r"\textsuperscript{2}",
    "×": r"\ensuremath{\times}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(text: str) -> str:
    """Escape every LaTeX special character (and the few non-ASCII symbols tables use)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_cell(text: str) -> str:
    stars = len(text) - len(text.rstrip("*"))
    core = latex_escape(text[: len(text) - stars] if stars else text)
    return core + (f"\\sym{{{'*' * stars}}}" if stars else "")


def render_latex(table: TableModel) -> str:
    """A booktabs ``table`` float; stars via ``\\sym`` (defined inline), notes under the rule."""
    ncol = len(table.columns)
    out = [
        "% Requires \\usepackage{booktabs}",
        "\\providecommand{\\sym}[1]{\\ensuremath{^{#1}}}",
        "\\begin{table}[htbp]",
        "\\centering",
    ]
    if table.title:
        out.append(f"\\caption{{{latex_escape(table.title)}}}")
    out.append(f"\\label{{tab:{latex_escape(table.id)}}}")
    out.append("\\begin{tabular}{l" + "c" * ncol + "}")
    out.append("\\toprule")
    out.append(" & ".join(["", *(latex_escape(c) for c in table.columns)]) + " \\\\")
    out.append("\\midrule")
    for row in table.body:
        out.append(" & ".join([latex_escape(row.label), *(_latex_cell(c) for c in row.cells)]) + " \\\\")
    if table.gof:
        out.append("\\midrule")
        for row in table.gof:
            out.append(" & ".join([latex_escape(row.label), *(latex_escape(c) for c in row.cells)]) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    if table.notes:
        out.append("\\par\\smallskip")
        out.append("\\begin{minipage}{0.9\\linewidth}\\footnotesize")
        out.append(" ".join(latex_escape(n) for n in table.notes))
        out.append("\\end{minipage}")
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


RENDERERS = {"md": render_markdown, "tex": render_latex}
