"""``[[tables]]``: regression tables of several models side by side."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ._base import Identifier, Strict


class TableSpec(Strict):
    """``[[tables]]``: a regression table of several models side by side."""

    id: Identifier = Field(description="Table id; files are tables/<id>.<format>.")
    models: list[str] = Field(min_length=1, description="Model ids, one column each (one per outcome for multinomial models), in order.")
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
    statistic: Literal["std_error", "conf_int", "statistic", "p_value", "none"] = Field(
        default="std_error", description="What is shown beneath each estimate: std_error, conf_int, statistic, p_value or none."
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
    notes: list[str] = Field(default_factory=list, description="Notes printed under the table, after the automatic ones.")
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
