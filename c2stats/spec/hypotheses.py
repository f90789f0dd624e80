"""``[[hypotheses]]``: declared hypotheses and their tests (the language: :mod:`c2stats.contrast`)."""

from __future__ import annotations

from typing import Literal, Sequence

from pydantic import Field, field_validator, model_validator

from ..contrast import parse_test
from ..errors import ConfigError
from ._base import Identifier, Strict


class HypothesisSpec(Strict):
    """``[[hypotheses]]``: a declared hypothesis and its test."""

    id: Identifier = Field(description="Hypothesis id, e.g. 'H1'.")
    statement: str = Field(description="The hypothesis in words, shown in the verdict table.")
    models: list[str] = Field(
        min_length=1,
        description=(
            "Model id(s) the test uses: for a Wald test, each model listed gets its own verdict row; for 'lr', "
            "exactly two nested models fitted on the same observations (order does not matter)."
        ),
    )
    test: str | list[str] = Field(
        description=(
            "The test: 'x > 0' or 'x < 0' (one-sided Wald), 'a + a:b = 0' or 'a = b' (two-sided Wald of one linear "
            "restriction), 'a = b = 0' or a list ['a = 0', 'b = 0'] (joint Wald), or 'lr' (likelihood-ratio test of "
            "two nested models). Terms as in the model's table; back-quote odd names; '<component>: <term>' in "
            "multi-equation models."
        )
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level of the decision (after correction).")
    correction: Literal["none", "holm", "bh"] = Field(
        default="none",
        description=(
            "Multiple-testing correction across the hypotheses sharing 'family': 'holm' (Holm 1979, family-wise "
            "error) or 'bh' (Benjamini-Hochberg 1995, false discovery rate), as R's p.adjust."
        ),
    )
    family: str | None = Field(
        default=None,
        description=(
            "Name of the group of hypotheses corrected together (every verdict row of every hypothesis with this "
            "family counts as one test); required when correction is not 'none', and all members must declare "
            "the same correction and alpha."
        ),
    )
    component: str | None = Field(
        default=None,
        description="Multi-equation models (mnlogit): the equation (outcome category) the terms of the test belong to.",
    )
    at: dict[str, float | list[float]] = Field(
        default_factory=dict,
        description=(
            "Marginal effect at declared moderator values: {moderator = value or [values]}; each term t of the test "
            "becomes b[t] + sum(value * b[t:moderator]) over its interactions with the moderators (every moderator "
            "interacting with t must be given). One verdict row per combination of values."
        ),
    )

    @field_validator("test")
    @classmethod
    def _check_test(cls, value):
        parse_test(value, "test")
        return value

    @model_validator(mode="after")
    def _check_combination(self):
        parsed = parse_test(self.test, "test")
        if parsed.kind == "lr":
            if len(self.models) != 2 or self.models[0] == self.models[1]:
                raise ValueError(f"a likelihood-ratio test ('lr') compares exactly two different models; got models = {self.models}.")
            if self.at or self.component:
                raise ValueError("'at' and 'component' apply to Wald tests, not to test = 'lr'.")
        if self.correction != "none" and not self.family:
            raise ValueError(
                f"correction = {self.correction!r} needs family = \"<name>\" naming the hypotheses corrected together."
            )
        for key, value in self.at.items():
            if isinstance(value, list) and not value:
                raise ValueError(f"at.{key} is an empty list; give at least one value.")
        return self


def check_hypotheses(specs: Sequence[HypothesisSpec]) -> None:
    """Rules across hypotheses (call once at config time): a family shares one correction and one alpha.

    Raises
    ------
    ConfigError
        ``where`` = ``hypotheses (id 'H3').correction`` (or ``.alpha``).
    """
    first: dict[str, HypothesisSpec] = {}
    for spec in specs:
        if not spec.family:
            continue
        ref = first.setdefault(spec.family, spec)
        for key in ("correction", "alpha"):
            if getattr(spec, key) != getattr(ref, key):
                raise ConfigError(
                    f"hypothesis {spec.id!r} is in family {spec.family!r} with {key} = {getattr(spec, key)!r}, but "
                    f"{ref.id!r} in the same family has {key} = {getattr(ref, key)!r}; a family is corrected as one "
                    f"group, so give every member the same {key}.",
                    where=f"hypotheses (id {spec.id!r}).{key}",
                )
