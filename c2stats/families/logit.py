"""Binary logit: the choice of form (formal vs informal) and other 0/1 outcomes.

Numerics follow R's ``glm(family = binomial)``: IRLS with expected information, and sandwich's
HC0/HC1 with the expected-information bread; cluster SEs default to ``vcovCL(type = "HC1")``
(= Stata's ``vce(cluster)`` for ML is ``hc = "HC0"``, which keeps G/(G-1) only).
``bootstrap`` refits on resampled rows, or on resampled clusters of ``groups`` (pairs cluster
bootstrap); a draw whose fit does not converge is dropped and counted in ``n_boot_failed``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData, check_binary_response
from ._bootstrap import bootstrap_vcov
from ._glm_engine import fit_binary_glm
from ._registry import register_family


class LogitOptions(FamilyOptions):
    """Options of the ``logit`` family."""

    epsilon: float = Field(default=1e-10, gt=0, description="IRLS convergence: relative change of the deviance (glm.control epsilon).")
    maxit: int = Field(default=100, ge=1, description="Maximum IRLS iterations.")


@register_family("logit")
class Logit(Family):
    """Logistic regression (log-odds scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "log_odds"
    link: ClassVar[str] = "logit"
    Options = LogitOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "binary"
    separation_check: ClassVar[bool] = True
    gof_keys: ClassVar[tuple[str, ...]] = ("pseudo_r2",)
    prediction: ClassVar[str | None] = "mean"
    remedy: ClassVar[str] = "raise maxit in options, rescale covariates, or check for separation (on_separation = 'firth')"

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        check_binary_response(spec, data, self.name)
        fit = fit_binary_glm(X=data.X, y=data.y, link=self.link, weights=data.weights, epsilon=options.epsilon,
                             maxit=options.maxit, column_names=data.names)
        n, k = data.X.shape
        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            X, y, w, link = data.X, data.y, data.weights, self.link

            def refit(rows):
                f = fit_binary_glm(X=X[rows], y=y[rows], link=link, weights=None if w is None else w[rows],
                                   epsilon=options.epsilon, maxit=options.maxit, check_separation=False)
                return f.coef if f.converged else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k)
        else:
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.bread, scores=fit.scores, groups=data.groups, n=n, k=k)
        ll0 = _null_loglik(data)
        notes = (f"model {spec.id!r}: {fit.reason}",) if fit.reason else ()
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        glance = {
            "loglik": fit.loglik,
            "deviance": fit.deviance,
            "pseudo_r2": 1 - fit.loglik / ll0 if ll0 else None,
            "converged": bool(fit.converged),
            "iterations": fit.iterations,
            "separation": bool(fit.separation),
            **extra,
        }
        return Estimate(data.names, fit.coef, vcov, glance, raw=fit, notes=notes)


def _null_loglik(data: ModelData) -> float:
    """McFadden's reference: the intercept-only log-likelihood (weighted)."""
    
    w = np.ones_like(data.y) if data.weights is None else data.weights
    p = np.sum(w * data.y) / np.sum(w)
    if p in (0.0, 1.0):
        return 0.0
    return float(np.sum(w * (data.y * np.log(p) + (1 - data.y) * np.log(1 - p))))
