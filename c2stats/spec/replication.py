"""``[[replications]]``: published numbers a model must reproduce."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Identifier, Strict


class ReplicationSpec(Strict):
    """``[[replications]]``: reference estimates a model must reproduce within a tolerance."""

    id: Identifier = Field(description="Replication id; its comparison table is tables/<id>.<format>.")
    model: str = Field(description="Id of the model that reproduces the reference numbers.")
    source: str = Field(description="Citation of the table replicated, e.g. 'Leeds & Anac (2005), Table 4'.")
    reference: Literal["published", "R", "Stata"] = Field(
        default="published",
        description=(
            "Where the reference numbers come from: the published table, or (when it cannot be had) "
            "R's or Stata's estimates on the authors' replication data; shown in the table's note."
        ),
    )
    estimates: dict[str, float] = Field(min_length=1, description="Reference coefficients by term name.")
    std_errors: dict[str, float] = Field(default_factory=dict, description="Reference standard errors by term name.")
    nobs: int | None = Field(default=None, ge=1, description="Reference number of observations (must match exactly).")
    tolerance: float = Field(
        default=0.005, gt=0,
        description="Largest absolute difference accepted (published tables round to 2-3 decimals; use 1e-6 for R).",
    )
    formats: list[Literal["md", "tex", "html", "csv", "docx"]] = Field(
        default_factory=lambda: ["md"], description="Formats of the comparison table."
    )
    note: str = Field(default="", description="Free text printed under the comparison table.")
    digits: int | None = Field(
        default=None, ge=0, le=8,
        description=(
            "Decimals the table prints. When set, every number is compared to the printed digit: the "
            "reproduced value, rounded to this many decimals, must equal the printed one (a difference of "
            "at most half a unit in the last printed place); 'tolerance' is then not used."
        ),
    )
    stars: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Printed significance stars by term, e.g. {x = '***', z = ''}; reproduced from the model's "
            "p-values with 'star_levels'."
        ),
    )
    star_levels: dict[str, float] = Field(
        default_factory=lambda: {"*": 0.1, "**": 0.05, "***": 0.01},
        description=(
            "Star symbols and the p-value each marks (p below the level), as the table's note states; "
            "default stargazer/esttab-style {'*' = 0.1, '**' = 0.05, '***' = 0.01}."
        ),
    )
    fit: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Printed fit rows by glance key, e.g. {r2 = 0.453, adj_r2 = 0.440, n_clusters = 180}; "
            "compared like the coefficients."
        ),
    )
    fit_digits: dict[str, int] = Field(
        default_factory=dict,
        description="Decimals printed for a fit row when they differ from 'digits', e.g. {aic = 1}.",
    )
