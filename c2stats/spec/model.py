"""``[[models]]`` and their ``vcov``: what a model is and how its variance is estimated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ..provenance import canonical_json, sha256
from ..vcov import VcovName
from ._base import Identifier, Strict, string_to_table
from .dataset import DatasetField

_Strict = Strict


class VcovSpec(_Strict):
    """``vcov``: the variance estimator. A plain string is shorthand for ``{type = ...}``."""

    type: VcovName = Field(
        description=(
            "model: inverse information; robust: the family's robust default (R's coxph robust, sandwich HC0); "
            "HC0/HC1: heteroskedasticity-consistent (sandwich conventions); cluster: one- or two-way cluster-robust "
            "(groups = one or two columns); dyadic: dyadic-robust (groups = the two state columns); bootstrap: "
            "seeded cluster bootstrap."
        )
    )
    groups: str | list[str] | None = Field(
        default=None, description="Cluster column(s): one or two for cluster; the two member columns for dyadic."
    )
    ssc: Literal["R", "fixest", "stata"] = Field(
        default="R",
        description=(
            "Whose small-sample conventions (ols): 'R' (default: sandwich's vcovCL HC1, G/(G-1)(n-1)/(n-K) with K "
            "every parameter including absorbed fixed effects, t(n-K); AIC counts sigma), 'fixest' (feols: fixed "
            "effects nested in a cluster not counted in K, G_min/(G_min-1), t(G_min-1) for clustered tests; AIC "
            "without sigma) or 'stata' (regress/areg: K counts every fixed effect, G/(G-1), t(G-1); estat ic "
            "without sigma)."
        ),
    )
    hc: Literal["HC0", "HC1", "sss"] | None = Field(
        default=None,
        description=(
            "Small-sample convention of cluster SEs where the family offers one: HC1 = sandwich vcovCL "
            "type='HC1' / Stata, HC0 = G/(G-1) only. panel follows plm's vcovHC: HC0 = no factor, "
            "HC1 = n/(n-k), sss = G/(G-1)(n-1)/(n-k) (Stata). Default is the family's (R's) default."
        ),
    )
    reps: int | None = Field(default=None, ge=2, description="Bootstrap replications (bootstrap only).")
    seed: int | None = Field(default=None, description="Random seed for the bootstrap (bootstrap only).")


VcovField = Annotated[VcovSpec, string_to_table("type")]


class ModelSpec(_Strict):
    """``[[models]]``: one model to fit."""

    id: Identifier = Field(description="Model id, used by tables, figures and hypotheses.")
    family: str | None = Field(default=None, description="Model family, e.g. 'cox', 'logit' (see c2stats.families).")
    formula: str | None = Field(
        default=None,
        description=(
            "Wilkinson formula: 'y ~ x1 + x2' (regression) or '~ x1 + x2' (survival: the outcome comes from "
            "time/event). Allowed: + - : * / ( ), C(), I() arithmetic, log, log1p, exp, sqrt, center, "
            "standardize, poly, bs."
        ),
    )
    dataset: DatasetField | None = Field(default=None, description="Dataset of this model; default [analysis].dataset.")
    time: str | None = Field(
        default=None, description="Survival: column of the follow-up time (the stop time when start is given)."
    )
    event: str | None = Field(default=None, description="Survival: event indicator column (1/True = event).")
    start: str | None = Field(
        default=None, description="Survival: entry time column for (start, stop] counting-process data."
    )
    event_value: int | float | str | None = Field(
        default=None,
        description=(
            "Competing risks: the value of the event column that counts as the event (cause-specific hazard); "
            "other non-zero values are censored."
        ),
    )
    censor_value: int | float | str | list[int | float | str] | None = Field(
        default=None,
        description=(
            "Competing risks (finegray): the value(s) of the event column that mean censored; every value other "
            "than event_value and these is a competing event, e.g. event = 'end_type', event_value = 'failure', "
            "censor_value = 'censored'."
        ),
    )
    weights: str | None = Field(default=None, description="Column of case weights.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Family options, e.g. {ties = 'breslow'} for cox; see each family."
    )
    vcov: VcovField = Field(default=VcovSpec(type="model"), description="Variance estimator, e.g. 'HC1' or {type='cluster', groups='dyad'}.")
    sample: str | None = Field(
        default=None,
        description="Sample restriction, e.g. 'year >= 1991 and form == \"informal\"' (comparisons, and/or/not, in).",
    )
    conf_level: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    label: str | None = Field(default=None, description="Column heading of the model in tables (default: its id).")
    labels: dict[str, str] = Field(default_factory=dict, description="Display names of terms, e.g. {age = 'Age (years)'}.")
    extends: str | None = Field(
        default=None, description="Id of a model to inherit from; keys given here override (options/labels merge key by key)."
    )
    description: str = Field(default="", description="Free text about the model, shown in the report.")
    on_separation: Literal["error", "warn", "firth"] = Field(
        default="error",
        description=(
            "Binary and multinomial families: what to do when the outcome is (quasi-)completely separated: "
            "'error' (stop), 'warn' (report the fit, marked), or 'firth' (refit with the Firth bias-reduced logit, marked)."
        ),
    )
    on_collinear: Literal["drop", "error"] = Field(
        default="drop",
        description=(
            "Perfectly collinear terms: 'drop' them with a note naming each (as R and Stata do), or 'error'."
        ),
    )


def spec_hash(model: ModelSpec | dict) -> str:
    """Hash of what determines a fit (not its id, label, description or inheritance)."""
    body = model.model_dump(mode="json") if isinstance(model, BaseModel) else dict(model)
    for key in ("id", "label", "labels", "extends", "description"):
        body.pop(key, None)
    return sha256(canonical_json(body))
