"""``[[simulations]]``: power and recovery of a declared model by Monte Carlo simulation.

What is simulated per family, and how the results are validated: ``docs/simulations.md``;
the numerics: :mod:`c2stats.simulate`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ._base import Identifier, Strict

MAX_REPS = 10_000
"""Largest ``reps`` of one simulation: every replicate is a full refit, and each setting multiplies it."""


class SimulationSpec(Strict):
    """``[[simulations]]``: simulate outcomes from a fitted model, refit, and report power and recovery."""

    id: Identifier = Field(
        description="Simulation id; its table is tables/<id>.<format> and its power curve figures/<id>_power.png."
    )
    model: str = Field(
        description="Id of the declared model to simulate from (its fitted design, coefficients and outcome model)."
    )
    title: str | None = Field(default=None, description="Title of the table and figure (default: from the id).")
    effects: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "True values of named terms on the model's scale (coefficient, log odds, log hazard ratio), e.g. "
            "{treated = 0.4}; every other coefficient keeps its fitted value."
        ),
    )
    n: list[int] | None = Field(
        default=None,
        description=(
            "Sample sizes to simulate, e.g. [100, 200, 400]: rows drawn with replacement from the estimation sample "
            "(subjects of survival models, person-period rows of discrete_hazard). Give n or events, not both."
        ),
    )
    events: list[int] | None = Field(
        default=None,
        description=(
            "Event counts to simulate (survival and binary families), e.g. [50, 100, 200]: subjects are drawn until "
            "exactly this many events (outcome = 1) occur. Give n or events, not both."
        ),
    )
    reps: int = Field(
        default=500,
        ge=2,
        description=f"Replications per setting (at most {MAX_REPS}); the Monte Carlo SE of a power p is sqrt(p(1-p)/reps).",
    )
    seed: int = Field(
        default=1,
        ge=0,
        description="Seed of the simulation; replicate r of setting s draws from numpy's PCG64 seeded with (seed, s, r).",
    )
    term: str | None = Field(
        default=None,
        description="The term whose test is simulated, named as in the model's table. Give term or hypothesis, not both.",
    )
    direction: Literal["two-sided", "greater", "less"] = Field(
        default="two-sided",
        description="Alternative of the test of term: 'two-sided' (term = 0 rejected), 'greater' (term > 0) or 'less'.",
    )
    hypothesis: str | None = Field(
        default=None,
        description=(
            "Id of a [[hypotheses]] entry whose test (one restriction: 'x > 0', 'a + a:b = 0', ...) is simulated "
            "instead of term/direction."
        ),
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level: power = share of replicates with p < alpha.")

    @field_validator("reps")
    @classmethod
    def _cap_reps(cls, value: int) -> int:
        if value > MAX_REPS:
            raise ValueError(f"reps = {value} is above the cap of {MAX_REPS} (MAX_REPS): every replicate refits the model; "
                             f"use at most {MAX_REPS} (the Monte Carlo SE of a power is then below 0.005)")
        return value

    @field_validator("n", "events")
    @classmethod
    def _check_sizes(cls, value: list[int] | None, info) -> list[int] | None:
        if value is None:
            return value
        if not value:
            raise ValueError(f"{info.field_name} is an empty list; give at least one size, e.g. {info.field_name} = [100, 200]")
        bad = [v for v in value if v < 1]
        if bad:
            raise ValueError(f"{info.field_name} must be positive counts, got {bad[0]}")
        if len(set(value)) != len(value):
            raise ValueError(f"{info.field_name} lists a size twice ({value}); give each size once")
        return value

    @field_validator("effects")
    @classmethod
    def _finite_effects(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"effects.{bad[0]} is not a finite number; give the true value on the model's scale")
        return value

    @model_validator(mode="after")
    def _check_combination(self):
        if (self.n is None) == (self.events is None):
            raise ValueError("give exactly one of n (sample sizes) and events (event counts)")
        if (self.term is None) == (self.hypothesis is None):
            raise ValueError("give exactly one of term (with direction) and hypothesis (the id of a [[hypotheses]] entry)")
        if self.hypothesis is not None and self.direction != "two-sided":
            raise ValueError("direction applies to term; a hypothesis takes its direction from its test ('x > 0')")
        return self

    @property
    def sizes(self) -> list[int]:
        """The simulated settings: sample sizes or event counts."""
        return list(self.n if self.n is not None else self.events or [])

    @property
    def size_key(self) -> Literal["n", "events"]:
        """Which of n and events the settings are."""
        return "n" if self.n is not None else "events"
