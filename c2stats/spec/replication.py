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
