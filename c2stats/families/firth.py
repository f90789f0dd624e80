"""Firth's bias-reduced logit: the remedy for separation and rare events.

Numerics are :func:`c2stats.families._glm_engine.fit_firth_logit`, verified against R's
``brglm2::brglmFit(type = "AS_mean")`` (= Firth 1993 for the logit link = logistf's maximum
Jeffreys-penalised likelihood). The estimate exists under complete or quasi-complete separation.

The model variance is ``(X'WX)^{-1}`` at the estimate (brglm2's ``summary``). Sandwich variances
(HC0/HC1, cluster, dyadic) use the contributions to the *modified* score that the estimator
solves, ``x_i [w_i (y_i - μ_i) + h_i (½ - μ_i)]``, with the same bread and logit's conventions
(``robust`` = HC0, cluster ``hc = "HC1"`` by default); ``bootstrap`` refits on resampled
clusters. ``glance`` reports the unpenalised
log-likelihood ``loglik`` (used by AIC/BIC, as brglm2's ``logLik``) and ``loglik_penalized``
(``loglik + ½ log det(X'WX)``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData, check_binary_response
from ._bootstrap import bootstrap_vcov
from ._glm_engine import fit_firth_logit
from ._registry import register_family
from .logit import _null_loglik


class FirthOptions(FamilyOptions):
    """Options of the ``firth`` family."""

    tol: float = Field(default=1e-12, gt=0, description="Convergence: the largest absolute change of a coefficient.")
    maxit: int = Field(default=200, ge=1, description="Maximum quasi-Fisher-scoring iterations.")


@register_family("firth")
class Firth(Family):
    """Firth (Jeffreys-penalised) logistic regression (log-odds scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "log_odds"
    Options = FirthOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "binary"
    link: ClassVar[str | None] = "logit"
    gof_keys: ClassVar[tuple[str, ...]] = ("pseudo_r2",)
    prediction: ClassVar[str | None] = "mean"

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        check_binary_response(spec, data, self.name)
        fit = fit_firth_logit(X=data.X, y=data.y, weights=data.weights, tol=options.tol, maxit=options.maxit,
                              column_names=data.names)
        n, k = data.X.shape
        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            X, y, w = data.X, data.y, data.weights

            def refit(rows):
                f = fit_firth_logit(X=X[rows], y=y[rows], weights=None if w is None else w[rows], tol=options.tol,
                                    maxit=options.maxit)
                return f.coef if f.converged else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k)
        else:
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=fit.scores, groups=data.groups, n=n, k=k)
        ll0 = _null_loglik(data)
        notes = (f"model {spec.id!r}: {fit.reason}",) if fit.reason else ()
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        glance = {
            "loglik": fit.loglik,
            "loglik_penalized": fit.loglik_penalized,
            "pseudo_r2": 1 - fit.loglik / ll0 if ll0 else None,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            **extra,
        }
        return Estimate(data.names, fit.coef, vcov, glance, raw=fit, notes=notes)
