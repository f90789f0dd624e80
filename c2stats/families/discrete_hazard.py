"""Discrete-time hazard: a binary GLM on spell (person-period) data.

Each row is one period at risk of one spell; the response is 1 in the period the event occurs
and 0 before (rows after the event or censoring are not in the data). Duration dependence goes
in the formula like any covariate, e.g. ``event ~ x + log(t)``, ``event ~ x + poly(t, 3)`` or
``event ~ x + bs(t, df = 4)``.

``link = "cloglog"`` is the grouped-time proportional-hazards model (coefficients are log hazard
ratios of the underlying continuous-time model); ``"logit"`` the proportional-odds model
(Beck, Katz & Tucker 1998); ``"probit"``. Numerics and variance conventions are the logit
family's (R's ``glm(family = binomial(link))`` with expected information; sandwich HC0/HC1;
cluster ``hc = "HC1"`` by default): cluster by spell or unit to account for repeated rows;
``bootstrap`` resamples whole clusters (spells) and refits.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Mapping

import numpy as np
from pydantic import Field

from ._base import Estimate, ModelData
from ._registry import register_family
from .logit import Logit, LogitOptions

_SCALES = {"logit": "log_odds", "probit": "probit", "cloglog": "log_hazard"}


class DiscreteHazardOptions(LogitOptions):
    """Options of the ``discrete_hazard`` family."""

    link: Literal["logit", "probit", "cloglog"] = Field(
        default="logit",
        description=(
            "Link of the binary GLM: 'logit' (log odds; Beck, Katz & Tucker 1998), 'cloglog' (grouped-time "
            "proportional hazards; log hazard ratios) or 'probit'."
        ),
    )


@register_family("discrete_hazard")
class DiscreteHazard(Logit):
    """Discrete-time hazard model (binary GLM on person-period rows)."""

    scale: ClassVar[str] = "log_odds"  # of the default link; set per fit from the link option
    link: ClassVar[str] = "logit"
    Options = DiscreteHazardOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    gof_keys: ClassVar[tuple[str, ...]] = ("n_events", "n_subjects")

    def link_of(self, options: Mapping[str, Any]) -> str | None:
        return str(options.get("link", "logit"))

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        # link and scale depend on the option; make_result reads the scale from this instance
        self.link = options.link
        self.scale = _SCALES[options.link]
        est = super().fit(spec, data)  # Logit's fit, bootstrap included, with this link
        w = np.ones_like(data.y) if data.weights is None else data.weights
        glance = {**est.glance, "link": options.link, "n_events": int(round(float(np.sum(w * data.y))))}
        return Estimate(est.names, est.coef, est.vcov, glance, est.df_resid, est.components, est.raw, est.frames,
                        est.notes)
