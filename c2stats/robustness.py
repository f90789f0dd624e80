"""Robustness as config swaps: ``[[robustness]]`` overlays on a base model and a ``[grid]`` of
specifications (the multiverse), expanded into ordinary models before fitting.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._spec import Identifier, Strict


class RobustnessSpec(Strict):
    """``[[robustness]]``: one overlay, a named change to a base model."""

    id: Identifier = Field(description="Id of the model the overlay creates.")
    base: str = Field(description="Id of the model whose spec is changed.")
    label: str | None = Field(default=None, description="Column heading in the appendix table (default: the change itself).")
    set: dict[str, Any] = Field(default_factory=dict, description="Model keys replaced, e.g. {sample = 'start_year >= 1992'}.")


class GridSpec(Strict):
    """``[grid]``: axes of alternatives whose cartesian product is the set of specifications."""

    base: str = Field(description="Id of the model every specification starts from.")
    axes: dict[str, list[Any]] = Field(default_factory=dict, description="Key -> list of alternative values.")
