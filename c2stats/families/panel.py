"""Linear panel models (fixed effects, pooled, random effects) with plm-compatible variances.

Numerics are :func:`c2stats.families._panel_engine.fit_panel` (linearmodels, reconciled to R's
``plm``). ``index = [entity, time]`` names the two columns that identify a row;
``estimator = "within"`` absorbs ``effects`` (``["entity"]`` = plm ``effect = "individual"``,
``["entity", "time"]`` = ``"twoways"``; the intercept and other constant columns drop out),
``"pooled"`` is OLS, ``"random"`` Swamy–Arora GLS (plm's default).

Variance (plm ``vcovHC``): ``model`` = ``vcov(plm)``; ``cluster`` = ``method = "arellano"``
clustered by the given column — the entity column (plm's default ``cluster = "group"``), the
time column, both index columns (two-way, ``vcovDC``) or any other column (one-way) — with ``hc``
``"HC0"`` (no factor; plm's default type), ``"HC1"`` (n/(n-k)) or ``"sss"``
(G/(G-1)·(n-1)/(n-k), Stata's); ``robust``/``HC0``/``HC1`` = ``method = "white1"``
(heteroskedasticity only; ``robust`` is HC0); ``dyadic`` applies the dyadic-robust meat to the
scores of the transformed regression. k counts the slope coefficients (+ intercept), never the
absorbed effects. ``bootstrap`` resamples whole entities (or clusters of whole entities given in
``groups``) and refits; an entity drawn twice enters as two entities. Tests use the t distribution
with plm's residual degrees of freedom.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from .. import sandwich
from ..errors import SpecificationError
from ..vcov import check_clusters, check_dyads, dyadic_notes, group_columns
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov, copy_labels
from ._panel_engine import fit_panel
from ._registry import register_family


class PanelOptions(FamilyOptions):
    """Options of the ``panel`` family."""

    estimator: Literal["within", "pooled", "random"] = Field(
        default="within",
        description="'within' (fixed effects), 'pooled' (OLS) or 'random' (random effects, Swamy-Arora).",
    )
    index: list[str] = Field(
        min_length=2, max_length=2,
        description="The two columns identifying a row: [entity, time], e.g. ['dyad', 'year'].",
    )
    effects: list[Literal["entity", "time"]] = Field(
        default=["entity"],
        description="Effects absorbed by 'within': ['entity'] (one-way) or ['entity', 'time'] (two-way).",
    )

    @model_validator(mode="after")
    def _check(self):
        if self.index[0] == self.index[1]:
            raise ValueError("index needs two different columns, [entity, time]")
        if self.effects not in (["entity"], ["entity", "time"]):
            raise ValueError("effects must be ['entity'] or ['entity', 'time']")
        if self.effects != ["entity"] and self.estimator != "within":
            raise ValueError(f"effects = {self.effects} applies to estimator 'within' only")
        return self


@register_family("panel")
class Panel(Family):
    """Linear panel regression (identity scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "identity"
    Options = PanelOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    link: ClassVar[str | None] = "identity"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_entities", "n_periods", "r2_within")
    prediction: ClassVar[str | None] = "mean"
    cluster_hc: ClassVar[tuple[str, ...]] = ("HC0", "HC1", "sss")

    def extra_columns(self, options: dict) -> list[str]:
        return list(options.get("index") or [])

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        where = f"model {spec.id!r}"
        if spec.weights is not None:
            raise SpecificationError(f"{where}: the panel family does not take weights.")
        entity_col, time_col = options.index
        kw: dict = {"vcov": "model"}
        vtype = spec.vcov.type
        if vtype in ("robust", "HC0", "HC1"):
            kw = {"vcov": "robust", "hc": "HC0" if vtype == "robust" else vtype}
        elif vtype == "cluster":
            check_clusters(spec.vcov, data.groups, f"{where}: ")
            groups = group_columns(spec.vcov)
            kw = {"vcov": "cluster", "hc": spec.vcov.hc or "HC0"}
            dims = {entity_col: "entity", time_col: "time"}
            if all(g in dims for g in groups):
                kw["cluster"] = [dims[g] for g in groups]
            elif len(groups) == 1:
                kw["cluster"] = data.groups[0]
            else:
                raise SpecificationError(
                    f"{where}: two-way clustering in the panel family is by the two index columns "
                    f"(groups = {list(options.index)}); cluster by one other column or by the index."
                )
        entity, time = data.frame[entity_col].to_numpy(), data.frame[time_col].to_numpy()
        try:
            fit = fit_panel(y=data.y, X=data.X, names=data.names, entity=entity, time=time,
                            estimator=options.estimator, effects=options.effects, **kw)
        except SpecificationError as exc:
            raise SpecificationError(f"{where}: {exc.message}") from None
        vcov = fit.vcov
        extra: dict = {}
        if vtype == "bootstrap":
            y, X, k = data.y, data.X, len(fit.coef)

            def refit(rows):
                f = fit_panel(y=y[rows], X=X[rows], names=data.names, entity=copy_labels(entity, rows), time=time[rows],
                              estimator=options.estimator, effects=options.effects, vcov="model")
                return f.coef if tuple(f.names) == tuple(fit.names) else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k, units=entity, units_name=f"entities of {entity_col!r}")
        elif vtype == "dyadic":
            check_dyads(spec.vcov, data.groups, f"{where}: ")
            vcov = sandwich.vcov_dyadic(bread=fit.bread, scores=fit.scores, node_a=data.groups[0],
                                        node_b=data.groups[1])
        raw = fit.raw
        theta = None
        if fit.theta is not None and np.allclose(fit.theta, fit.theta[0], rtol=0, atol=1e-14):
            theta = float(fit.theta[0])
        glance = {
            "r2": fit.r2,
            "r2_within": float(raw.rsquared_within),
            "n_entities": fit.n_entities,
            "n_periods": fit.n_periods,
            "df_resid": int(fit.df_resid),
            "estimator": options.estimator,
            "effects": list(fit.effects),
            "sigma2_effects": fit.sigma2_effects,
            "sigma2_idios": fit.sigma2_idios,
            "theta": theta,
            **extra,
        }
        return Estimate(fit.names, fit.coef, vcov, glance, df_resid=float(fit.df_resid), raw=fit,
                        notes=dyadic_notes(spec.vcov, data.groups, spec.id))
