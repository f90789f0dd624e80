"""``[[tables]]``: regression tables of several models side by side."""

from __future__ import annotations

from typing import Literal

import re

from pydantic import Field, field_validator, model_validator

from ._base import Identifier, Strict
from .dataset import DatasetField

#: Fit statistics every family reports (shown for any model); family-specific keys are each family's
#: ``gof_keys``. ``tables.GOF_MAP`` rows of scope "*" are exactly these (tests/renderers/test_describe.py checks).
CORE_GOF_KEYS = ("nobs", "n_clusters", "loglik", "aic", "bic", "n_boot", "vcov_type")

Statistic = Literal["std_error", "conf_int", "statistic", "p_value", "none"]


class TableFormat(Strict):
    """``fmt``: how numbers are written (estimates, standard errors, intervals)."""

    significant: int | None = Field(
        default=None, ge=1, le=15,
        description="Significant digits instead of a fixed number of decimals (e.g. 3: 0.00123, 1.23, 123).",
    )
    thousands: bool = Field(default=False, description="Group thousands with commas (12,345.678).")
    terms: dict[str, int] = Field(
        default_factory=dict,
        description="Decimal places per term, overriding digits, e.g. { c2_common = 4, '(Intercept)' = 1 }.",
    )

    @field_validator("terms")
    @classmethod
    def _check_terms(cls, value):
        for term, digits in value.items():
            if not 0 <= digits <= 10:
                raise ValueError(f"fmt.terms[{term!r}] = {digits}; decimal places are 0 to 10")
        return value


class TableSpec(Strict):
    """``[[tables]]``: a regression table of several models side by side."""

    id: Identifier = Field(description="Table id; files are tables/<id>.<format>.")
    models: list[str] = Field(
        default_factory=list,
        description="Model ids, one column each (one per outcome for multinomial models), in order; required "
                    "for regression tables (kind = 'regression'), not used by descriptive ones.",
    )
    title: str = Field(default="", description="Caption of the table.")
    formats: list[Literal["md", "tex", "html", "csv", "docx"]] = Field(
        default_factory=lambda: ["md", "tex"],
        description="Output formats: md, tex (booktabs + threeparttable), html (a <table> fragment), csv, "
                    "docx (needs the optional extra: pip install 'c2stats[docx]').",
    )
    exponentiate: bool = Field(
        default=False,
        description="Show exp(estimate) (hazard/odds ratios) with exp-transformed confidence limits and "
                    "delta-method standard errors; ancillary parameters stay on their own scale.",
    )
    statistic: Statistic | list[Statistic] = Field(
        default="std_error",
        description="What is shown beneath each estimate: std_error, conf_int, statistic, p_value or none; a list "
                    "shows several, one line each, e.g. ['std_error', 'conf_int'].",
    )
    stars: bool | dict[str, float] = Field(
        default=True,
        description="Significance stars: true = {'*'=0.05, '**'=0.01, '***'=0.001}; false = none; or a custom "
                    "table of symbol = p-value threshold, e.g. { '+' = 0.1, '*' = 0.05 }.",
    )
    digits: int = Field(default=3, ge=0, le=10, description="Decimal places of estimates and their statistics.")
    terms: list[str] | None = Field(
        default=None,
        description="Terms to show, in this order (default: all, first-seen order); ancillary terms are "
                    "written '<component>: <term>', e.g. 'ancillary: log_shape'.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Display names of terms (override model labels and codebook labels)."
    )
    gof: list[str] | None = Field(
        default=None,
        description="Fit statistics (glance keys, e.g. nobs, n_events, aic, ph_global_p) to show, in order; "
                    "default: those of GOF_MAP that apply to the models' families.",
    )
    notes: Literal["auto", "none"] | list[str] = Field(
        default_factory=list,
        description="Notes under the table: a list of lines printed after the automatic ones (scale, stars, "
                    "diagnostics); 'auto' = the automatic ones only; 'none' = no automatic notes (a "
                    "non-convergence note is kept).",
    )
    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Column groups (spanners) over adjacent models, in order, e.g. { Formation = ['form_logit'], "
                    "Duration = ['dur_cox', 'dur_weibull'] }.",
    )
    add_rows: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Extra rows above the fit statistics, one cell per model, e.g. { 'Year FE' = ['Yes', 'No'] }.",
    )
    drop: list[str] = Field(
        default_factory=list,
        description="Regular expressions: terms matching any (re.search on the term, ancillary ones as "
                    "'<component>: <term>') are not shown, e.g. ['^year_', 'Intercept'].",
    )
    fmt: TableFormat = Field(default_factory=TableFormat,
                             description="Number format: significant digits, thousands separators, decimals per term.")
    numbers: bool = Field(default=False, description="Number the models (1), (2) ... in a header line under their names.")
    vcov_detail: bool = Field(
        default=True,
        description="The 'Std. errors' row names the cluster variables (codebook labels), e.g. 'Clustered by "
                    "treaty' or 'Two-way: state 1, state 2'; false shows the variance type only.",
    )
    fit: Literal["auto", "resize", "landscape", "none"] = Field(
        default="auto",
        description="LaTeX width policy: auto (wrap long labels and headers, step the font down, turn landscape "
                    "when still wider than a 6.5in text width, shrink only as a last resort), resize (scale down "
                    "to the line width when wider), landscape (a sidewaystable page), none (as wide as the content).",
    )
    label_width: float | None = Field(
        default=None, gt=0, le=10,
        description="LaTeX: width in inches at which long row labels wrap (default 2.2); with fit = 'none' labels never wrap.",
    )

    @field_validator("drop")
    @classmethod
    def _check_drop(cls, value):
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"drop pattern {pattern!r} is not a regular expression ({exc}); escape "
                                 "brackets and parentheses with a backslash, e.g. '\\\\(Intercept\\\\)'") from None
        return value

    @model_validator(mode="after")
    def _check_groups_and_rows(self) -> "TableSpec":
        where = {m: i for i, m in enumerate(self.models)}
        seen: set[str] = set()
        for label, members in self.groups.items():
            unknown = [m for m in members if m not in where]
            if unknown:
                raise ValueError(f"groups[{label!r}] names {unknown}, not in this table's models {self.models}")
            positions = sorted(where[m] for m in members)
            if not members or positions != list(range(positions[0], positions[0] + len(positions))):
                raise ValueError(f"groups[{label!r}] must list adjacent models of 'models' (a spanner covers "
                                 f"neighbouring columns); got {members}")
            if seen & set(members):
                raise ValueError(f"groups[{label!r}] repeats a model already in another group")
            seen |= set(members)
        for label, cells in self.add_rows.items():
            if len(cells) != len(self.models):
                raise ValueError(f"add_rows[{label!r}] has {len(cells)} cells for {len(self.models)} models; give "
                                 "one per model, in the order of 'models'")
        return self

    @field_validator("stars")
    @classmethod
    def _check_stars(cls, value):
        if isinstance(value, dict):
            for symbol, threshold in value.items():
                if not symbol.strip():
                    raise ValueError("a star symbol is empty; use e.g. { '*' = 0.05, '**' = 0.01 }")
                if not 0 < threshold < 1:
                    raise ValueError(f"star {symbol!r} has threshold {threshold}; thresholds are p-values in (0, 1)")
            if len(set(value.values())) != len(value):
                raise ValueError("two star symbols share a threshold; give each its own p-value")
        return value

    kind: Literal["regression", "summary", "crosstab"] = Field(
        default="regression",
        description="What the table shows: 'regression' (models side by side, the default), 'summary' (N, mean, "
                    "SD, min, max and missing count of each of 'variables', optionally 'by' a group) or "
                    "'crosstab' (counts of 'rows' by 'columns' with row and column shares).",
    )
    dataset: DatasetField | None = Field(
        default=None,
        description="Descriptive tables: the dataset described (default [analysis].dataset); a shipped name, a "
                    "file path or {path = ...}.",
    )
    sample: str | None = Field(
        default=None,
        description="Descriptive tables: rows described, a restriction like a model's sample, e.g. 'year >= 1980'.",
    )
    variables: list[str] = Field(
        default_factory=list,
        description="Summary tables: the columns summarised, in order (numeric or 0/1; text columns are refused).",
    )
    by: str | None = Field(
        default=None,
        description="Summary tables: a grouping column; the statistics are given for each of its values and overall.",
    )
    rows: str | None = Field(default=None, description="Crosstab tables: the column whose values are the rows.")
    columns: str | None = Field(
        default=None,
        description="Crosstab tables: the column whose values are the columns (omit for a one-way frequency table).",
    )
    missing: bool = Field(
        default=False,
        description="Crosstab tables: show missing values as their own category ('(missing)') instead of dropping them.",
    )

    @model_validator(mode="after")
    def _check_kind(self):
        if self.kind == "regression":
            if not self.models:
                raise ValueError("a regression table needs 'models' (model ids, one column each); for a "
                                 "descriptive table set kind = 'summary' or 'crosstab'")
            used = [k for k in ("dataset", "sample", "by", "rows", "columns") if getattr(self, k) is not None]
            used += ["variables"] if self.variables else []
            used += ["missing"] if self.missing else []
            if used:
                raise ValueError(f"{', '.join(used)} apply to descriptive tables only; set kind = 'summary' or "
                                 "'crosstab', or remove them")
            return self
        if self.models:
            raise ValueError(f"a {self.kind} table describes data, not models; remove 'models' (or set kind = 'regression')")
        if self.kind == "summary":
            if not self.variables:
                raise ValueError("a summary table needs 'variables', the columns to summarise, e.g. variables = ['age', 'gdp']")
            misplaced = [k for k in ("rows", "columns") if getattr(self, k) is not None] + (["missing"] if self.missing else [])
            if misplaced:
                raise ValueError(f"{', '.join(misplaced)} apply to crosstab tables; a summary table takes 'variables' and 'by'")
        else:
            if self.rows is None:
                raise ValueError("a crosstab table needs 'rows', the column whose values are the rows")
            misplaced = (["variables"] if self.variables else []) + (["by"] if self.by is not None else [])
            if misplaced:
                raise ValueError(f"{', '.join(misplaced)} apply to summary tables; a crosstab takes 'rows', 'columns' and 'missing'")
        return self

