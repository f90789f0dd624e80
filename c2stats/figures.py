"""Figures declared in ``[[figures]]``: coefficient plots, Kaplan-Meier curves, predicted survival,
predicted probabilities and marginal effects.

Plotting functions take ``ax=None``, return the Axes and never show or save; :mod:`c2stats.report`
saves them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._spec import Identifier, Strict


class FigureSpec(Strict):
    """``[[figures]]``: a figure drawn from fitted models or the data."""

    id: Identifier = Field(description="Figure id; files are figures/<id>.<format>.")
    kind: Literal["coefplot", "km", "survival", "predicted", "marginal"] = Field(
        description="coefplot, km (Kaplan-Meier by group), survival (predicted curves), predicted (probabilities), marginal (effects)."
    )
    models: list[str] = Field(default_factory=list, description="Model ids the figure uses.")
    title: str = Field(default="", description="Figure caption.")
    formats: list[Literal["png", "pdf", "svg"]] = Field(default_factory=lambda: ["png"], description="Output formats.")
    exponentiate: bool = Field(default=False, description="coefplot: hazard/odds-ratio scale.")
    terms: list[str] | None = Field(default=None, description="coefplot: terms to show (default: all but the intercept).")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific options (see c2stats.figures).")
