"""``[[figures]]``: figures drawn from fitted models or their data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._base import Identifier, Strict

Value = float | int | str | bool


class FigureSpec(Strict):
    """``[[figures]]``: a figure drawn from fitted models or their data.

    Kinds and the keys each reads (besides id, kind, models, title, formats, xlabel, ylabel, width,
    height, dpi, conf_level, conf_int):

    - ``coefplot``: exponentiate, terms, labels. Estimates and intervals of every model in
      ``models``, dodged, from ``Result.tidy`` only.
    - ``km``: time, event, group, group_labels, use_model_sample, conf_type, risk_table, risk_times,
      censor_marks, x_max, y_range. Kaplan-Meier curves (R ``survfit``) of the first model's data.
    - ``survival``: profiles, at, n_points, x_max, y_range. Predicted survival of a cox, weibull or
      exponential model for named covariate profiles.
    - ``predicted``: variable, x_range, n_points, by, by_values, group_labels, at, interval,
      categories. Predicted probabilities (logit, probit, firth, discrete_hazard, mnlogit) or
      values (ols, mixed, panel) across one variable.
    - ``marginal``: variable, moderator, moderator_values, x_range, n_points, at, scale, category.
      The effect of ``variable`` across the values of ``moderator``.
    """

    id: Identifier = Field(description="Figure id; files are figures/<id>.<format>.")
    kind: Literal["coefplot", "km", "survival", "predicted", "marginal", "cif"] = Field(
        description="coefplot, km (Kaplan-Meier by group), survival (predicted curves), predicted (probabilities), "
                    "marginal (effects), cif (cumulative incidence of each cause, Aalen-Johansen, from a finegray model)."
    )
    models: list[str] = Field(
        default_factory=list,
        description="Model ids the figure uses: one or more for coefplot, exactly one for the other kinds (km uses its data).",
    )
    title: str = Field(default="", description="Figure caption (shown by the report under the figure, not drawn in it).")
    formats: list[Literal["png", "pdf", "svg"]] = Field(
        default_factory=lambda: ["png", "pdf"],
        description="Output formats: png (raster, at dpi), pdf and svg (vector, for print); default png and pdf.",
    )
    xlabel: str | None = Field(default=None, description="x-axis label (default: chosen by kind, e.g. the variable name).")
    ylabel: str | None = Field(default=None, description="y-axis label (default: chosen by kind).")
    width: float = Field(default=6.0, gt=0, le=30, description="Figure width in inches.")
    height: float | None = Field(
        default=None, gt=0, le=30, description="Figure height in inches (default 4, plus room for a km risk table)."
    )
    dpi: int = Field(default=200, ge=50, le=1200, description="Resolution of PNG output (dots per inch).")
    conf_level: float | None = Field(
        default=None, gt=0, lt=1,
        description="Confidence level of the intervals (default: each model's conf_level; 0.95 for km).",
    )
    conf_int: bool = Field(default=True, description="Draw confidence intervals (bands or bars).")
    # coefplot ------------------------------------------------------------------------------
    exponentiate: bool = Field(
        default=False,
        description="coefplot: hazard/odds-ratio scale: exp() of estimates and interval bounds, log x-axis, reference line at 1 (else 0).",
    )
    terms: list[str] | None = Field(
        default=None,
        description=(
            "coefplot: terms to show, top to bottom (default: all but the intercept and ancillary parameters); "
            "multi-equation terms are written '<component>: <term>'."
        ),
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="coefplot: display names of terms (default: the models' labels, else the term)."
    )
    # km ------------------------------------------------------------------------------------
    time: str | None = Field(default=None, description="km: follow-up time column (default: the model's time).")
    event: str | None = Field(default=None, description="km: event column, 0/1 or true/false (default: the model's event).")
    group: str | None = Field(default=None, description="km: column whose values get one curve each (default: one curve).")
    group_labels: dict[str, str] = Field(
        default_factory=dict,
        description="km, predicted: legend names of group (or by) values, keyed by the value as text, e.g. {'1' = 'Male'}.",
    )
    use_model_sample: bool = Field(
        default=True,
        description=(
            "km: use the model's estimation sample (its sample restriction and complete rows, its start and weights); "
            "false uses every row of the dataset with time, event and group present."
        ),
    )
    conf_type: Literal["log", "log-log", "plain"] = Field(
        default="log", description="km: interval transform as R survfit's conf.type (default 'log', R's default)."
    )
    risk_table: bool = Field(default=True, description="km: print the number at risk of each group below the plot.")
    risk_times: list[float] | None = Field(
        default=None, description="km: times of the number-at-risk table (default: the x-axis ticks)."
    )
    censor_marks: bool = Field(default=True, description="km: mark censoring times with '+' (false: no marks).")
    y_range: tuple[float, float] | None = Field(
        default=None,
        description="km, survival: the survival axis [low, high] (default [0, 1]), e.g. [0.5, 1] to show small differences.",
    )
    x_max: float | None = Field(default=None, gt=0, description="km, survival: the largest time shown.")
    # cif ---------------------------------------------------------------------------------
    causes: list[str | int] | None = Field(
        default=None, description="cif: the causes (values of the model's event column) to draw (default: every cause).")
    cause_labels: dict[str, str] = Field(
        default_factory=dict, description="cif: legend names of causes, keyed by the value as text, e.g. {failure = 'Failed'}.")
    # survival ------------------------------------------------------------------------------
    profiles: dict[str, dict[str, Value]] = Field(
        default_factory=dict,
        description=(
            "survival: named covariate profiles, one curve each, e.g. {formal = {informal = 0}, informal = {informal = 1}}; "
            "unset covariates are held at 'at' or their defaults (sample means; reference level of factors). A stratified "
            "cox model needs each profile's stratum value."
        ),
    )
    at: dict[str, Value] = Field(
        default_factory=dict,
        description=(
            "survival, predicted, marginal: values of covariates held fixed (default: estimation-sample means of numeric "
            "columns, reference level of factors), e.g. {c2_index = 0.2, form = 'formal'}."
        ),
    )
    n_points: int = Field(default=100, ge=2, le=5000, description="survival (parametric), predicted, marginal: grid points of a numeric x.")
    # predicted / marginal ------------------------------------------------------------------
    variable: str | None = Field(
        default=None,
        description="predicted: the column on the x-axis; marginal: the column whose effect (derivative) is shown.",
    )
    x_range: tuple[float, float] | None = Field(
        default=None,
        description="predicted: range of variable; marginal: range of a numeric moderator (default: its estimation-sample min and max).",
    )
    by: str | None = Field(default=None, description="predicted: a column giving one curve per value (e.g. informal).")
    by_values: list[Value] | None = Field(
        default=None, description="predicted: values of by (default: its levels, or its distinct values when at most 5)."
    )
    interval: Literal["link", "response"] | None = Field(
        default=None,
        description=(
            "predicted: 'link' computes intervals on the link scale and transforms them (default; they stay in [0, 1]), "
            "'response' uses p +- z SE (delta method on the probability; the only choice for mnlogit)."
        ),
    )
    categories: list[str | int] | None = Field(
        default=None, description="predicted, mnlogit: outcome categories to show (default: all)."
    )
    moderator: str | None = Field(default=None, description="marginal: the column across whose values the effect is shown.")
    moderator_values: list[Value] | None = Field(
        default=None,
        description="marginal: values of moderator (default: a grid over x_range for numeric moderators with more than 5 values, else its values).",
    )
    scale: Literal["link", "response"] = Field(
        default="link",
        description="marginal: derivative of the linear predictor ('link', e.g. log-odds) or of the probability ('response').",
    )
    category: str | int | None = Field(
        default=None, description="marginal, mnlogit: the outcome category whose log relative risk or probability is differentiated."
    )

    @model_validator(mode="after")
    def _check_kind_keys(self) -> "FigureSpec":
        allowed = _COMMON_KEYS | _KIND_KEYS[self.kind]
        stray = sorted(k for k in self.model_fields_set if k not in allowed)
        if stray:
            users = {k: [kind for kind, keys in _KIND_KEYS.items() if k in keys] for k in stray}
            detail = "; ".join(f"{k!r} is for {', '.join(v)}" for k, v in users.items())
            raise ValueError(f"key(s) not used by kind {self.kind!r}: {detail}. Remove them")
        n = len(self.models)
        if self.kind == "coefplot" and n == 0:
            raise ValueError("a coefplot needs at least one model in 'models'")
        if self.kind != "coefplot" and n != 1:
            raise ValueError(f"kind {self.kind!r} uses exactly one model; 'models' has {n}")
        if self.kind == "survival" and not self.profiles:
            raise ValueError("kind 'survival' needs 'profiles', e.g. profiles = {formal = {informal = 0}, informal = {informal = 1}}")
        if self.kind in ("predicted", "marginal") and not self.variable:
            raise ValueError(f"kind {self.kind!r} needs 'variable' (the column on the x-axis or whose effect is shown)")
        if self.kind == "marginal" and not self.moderator:
            raise ValueError("kind 'marginal' needs 'moderator' (the column across whose values the effect is shown)")
        if self.y_range is not None and not self.y_range[0] < self.y_range[1]:
            raise ValueError(f"y_range must be [low, high] with low < high, got {list(self.y_range)}")
        if self.x_range is not None and not self.x_range[0] < self.x_range[1]:
            raise ValueError(f"x_range must be [low, high] with low < high, got {list(self.x_range)}")
        return self


_COMMON_KEYS = frozenset({"id", "kind", "models", "title", "formats", "xlabel", "ylabel", "width", "height", "dpi",
                          "conf_level", "conf_int"})


_KIND_KEYS: dict[str, frozenset[str]] = {
    "coefplot": frozenset({"exponentiate", "terms", "labels"}),
    "km": frozenset({"time", "event", "group", "group_labels", "use_model_sample", "conf_type", "risk_table",
                     "risk_times", "censor_marks", "x_max", "y_range"}),
    "survival": frozenset({"profiles", "at", "n_points", "x_max", "y_range"}),
    "predicted": frozenset({"variable", "x_range", "n_points", "by", "by_values", "group_labels", "at", "interval",
                            "categories"}),
    "marginal": frozenset({"variable", "moderator", "moderator_values", "x_range", "n_points", "at", "scale",
                           "category"}),
    "cif": frozenset({"causes", "cause_labels", "x_max", "y_range"}),
}
