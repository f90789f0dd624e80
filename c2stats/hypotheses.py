"""Declared hypotheses (``[[hypotheses]]``) and their tests: one-sided and two-sided Wald tests of
linear combinations, joint Wald tests, likelihood-ratio tests, marginal effects, and
multiple-testing corrections, summarised in a verdict table.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._spec import Identifier, Strict


class HypothesisSpec(Strict):
    """``[[hypotheses]]``: a declared hypothesis and its test."""

    id: Identifier = Field(description="Hypothesis id, e.g. 'H1'.")
    statement: str = Field(description="The hypothesis in words, shown in the verdict table.")
    models: list[str] = Field(min_length=1, description="Model id(s) the test uses (two for a likelihood-ratio test).")
    test: str = Field(description="The test, e.g. 'volatility > 0', 'a + a:b = 0', 'a = b = 0', or 'lr'.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")
    correction: Literal["none", "holm", "bh"] = Field(default="none", description="Multiple-testing correction across the family.")
    family: str | None = Field(default=None, description="Name of the group of hypotheses corrected together.")
