"""Replications: ``[[replications]]`` declare a published table's numbers next to the model that
should reproduce them; the report shows published, reproduced and difference side by side.
"""

from __future__ import annotations

from pydantic import Field

from ._spec import Identifier, Strict


class ReplicationSpec(Strict):
    """``[[replications]]``: published estimates a model must reproduce within a tolerance."""

    id: Identifier = Field(description="Replication id; files are tables/<id>.<format>.")
    model: str = Field(description="Id of the model that reproduces the published numbers.")
    source: str = Field(description="Citation of the published table, e.g. 'Leeds & Anac (2005), Table 4'.")
    estimates: dict[str, float] = Field(description="Published coefficients by term.")
    std_errors: dict[str, float] = Field(default_factory=dict, description="Published standard errors by term.")
    tolerance: float = Field(default=0.005, gt=0, description="Largest absolute difference accepted.")
