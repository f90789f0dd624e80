"""``[[robustness]]`` overlays and the ``[grid]`` of specifications (see :mod:`c2stats.overlays`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from ._base import Identifier, Strict


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


TermList = Annotated[list[str], BeforeValidator(_listify)]


class _Change(Strict):
    """The keys of one change to a model (shared by overlays and inline grid overlays)."""

    set: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Model keys replaced, e.g. {family = 'weibull', vcov = 'robust', sample = 'informal == 0'}; "
            "options, labels and dataset are merged key by key ({dataset = {coding = 'provisions_only'}}). "
            "Not allowed: id, extends, label, description."
        ),
    )
    add: TermList = Field(
        default_factory=list,
        description="Terms added to the formula's right-hand side, e.g. ['polyarchy_min', 'log(n_members)'].",
    )
    drop: TermList = Field(
        default_factory=list,
        description="Terms removed from the formula's right-hand side, written as in the formula, e.g. ['bilateral'].",
    )
    restrict: str | None = Field(
        default=None,
        description=(
            "A sample restriction and-ed with the base model's sample, e.g. 'start_year >= 1992' "
            "(time windows, subsamples)."
        ),
    )
    response: str | None = Field(
        default=None,
        description=(
            "New left-hand side of the formula (the outcome column of a regression family), e.g. 'ended' "
            "when an overlay turns a Cox model into a logit; '' removes it."
        ),
    )


class RobustnessSpec(_Change):
    """``[[robustness]]``: one overlay, a named change to a base model."""

    id: Identifier = Field(description="Id of the model the overlay creates (must differ from every model id).")
    base: str = Field(description="Id of the model whose spec is changed: a [[models]] id or an earlier overlay's id.")
    label: str | None = Field(
        default=None, description="Column heading in the appendix table (default: the difference from the base)."
    )
    table: Identifier | None = Field(
        default=None, description="Id of the appendix table the overlay's column goes in (default: robustness_<base>)."
    )
    appendix: bool = Field(
        default=True, description="false: no appendix column (an overlay used only as a grid alternative)."
    )


class InlineOverlay(_Change):
    """An overlay written inside a grid axis: ``{label = 'Weibull', set = {family = 'weibull'}}``."""

    label: str = Field(description="Name of this alternative in the grid's indicator panel and tables.")


class GridSpec(Strict):
    """``[grid]``: axes of alternatives whose cartesian product is the set of specifications."""

    id: Identifier = Field(
        default="grid",
        description=(
            "Grid id: specifications are models '<id>.<hash>'; outputs are figures/<id>.png and "
            "tables/<id>_summary, <id>_influence, <id>_choices, <id>_specifications."
        ),
    )
    base: str = Field(description="Id of the model every specification starts from.")
    focal: str = Field(description="The term whose estimate is compared across specifications, e.g. 'c2_index'.")
    axes: dict[str, list[Any]] = Field(
        description=(
            "Axis name -> list of alternatives. A model key (family, vcov, sample, options, dataset, ...) or "
            "restrict/add/drop/response takes values of that key; any other name takes overlays: "
            "[[robustness]] ids, 'base' (no change) or inline tables {label = ..., set = ..., add = ...}."
        ),
    )
    filter: str | None = Field(
        default=None,
        description=(
            "Keep only the combinations where this expression holds, over axis names and choice labels, e.g. "
            "\"not (estimator == 'logit' and vcov == 'cluster (ccode1)')\"."
        ),
    )
    expected_sign: Literal["positive", "negative"] | None = Field(
        default=None, description="Sign the hypothesis predicts for the focal estimate (on the log scale)."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level of the summary shares.")
    exponentiate: bool = Field(
        default=False, description="Show exp(estimate) (hazard/odds ratios) in the figure and the summary."
    )
    title: str = Field(default="", description="Caption of the specification-curve figure and the summary table.")
    formats: list[Literal["md", "tex", "html", "csv", "docx"]] = Field(
        default_factory=lambda: ["md", "csv"], description="Formats of the grid's summary tables."
    )
