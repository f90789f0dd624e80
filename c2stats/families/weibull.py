"""Weibull regression: durations with a monotone hazard, in Stata's PH form or survreg's AFT form.

Numerics are c2stats' survreg engine (:mod:`c2stats.families._survreg_engine`), verified against
R's ``survreg(dist = "weibull")``. ``form = "ph"`` (default) reports log hazard ratios and the
ancillary ``log_shape`` = log p = -log σ (Stata's ``streg, distribution(weibull)``), with the
delta-method covariance; ``form = "aft"`` reports survreg's coefficients on log time and the
ancillary ``log_scale`` = log σ (survreg's ``Log(scale)``). The ancillary row has
``component = "ancillary"`` in ``tidy``; regression terms have an empty component.

Variance as survreg's: ``model`` is the inverse observed information; ``robust``
(``robust = TRUE``) and ``cluster`` (``cluster(id)``, one- or two-way) are ``D'D`` with D the
(weighted) dfbeta residuals summed by cluster, with no small-sample factor; ``dyadic`` uses the
same scores. Robust variances are computed on the AFT parameters and carried to the PH form by
the delta method, as the model variance. ``bootstrap`` refits on resampled clusters and takes the
covariance of the reported (PH or AFT) parameters directly.

Data are one row per subject (``time`` = duration, ``event`` = 0/1); delayed entry
(``start``) is not supported by the engine.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from ..errors import SpecificationError
from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov
from ._registry import register_family
from ._survreg_engine import fit_survreg, to_ph

_SCALES = {"ph": "log_hazard", "aft": "log_time"}


class WeibullOptions(FamilyOptions):
    """Options of the ``weibull`` family."""

    form: Literal["ph", "aft"] = Field(
        default="ph",
        description=(
            "'ph': log hazard ratios and log_shape (Stata streg; exponentiate for hazard ratios); "
            "'aft': effects on log survival time and log_scale (R survreg)."
        ),
    )
    maxit: int = Field(default=100, ge=1, description="Maximum Newton-Raphson iterations (survreg.control maxiter).")
    tol: float = Field(
        default=1e-10, gt=0, description="Convergence: the largest absolute Newton step on (coefficients, log scale)."
    )


@register_family("weibull")
class Weibull(Family):
    """Weibull proportional-hazards / accelerated-failure-time model."""

    kind: ClassVar[str] = "survival"
    scale: ClassVar[str] = "log_hazard"  # 'log_time' for form = "aft" (set per fit)
    dist: ClassVar[str] = "weibull"
    Options = WeibullOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "survival"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_events", "n_subjects")
    prediction: ClassVar[str | None] = "parametric_survival"
    cluster_hc: ClassVar[tuple[str, ...]] = ()

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        if spec.start is not None or data.entry is not None:
            raise SpecificationError(
                f"model {spec.id!r}: the {self.name} family does not support start (delayed entry or (start, stop] "
                "rows). Give one row per subject with time = the whole duration, or use the cox family for "
                "counting-process data."
            )
        # the scale of the estimates depends on the form; make_result reads it from this instance
        self.scale = _SCALES[options.form]
        X, names = data.X, data.names
        fit = fit_survreg(X=X, time=data.time, event=data.event, dist=self.dist, weights=data.weights,
                          maxit=options.maxit, step_tol=options.tol)
        n, p = fit.scores.shape
        ph = options.form == "ph"

        def estimates(f):
            return to_ph(f).params if ph else f.params

        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            w = data.weights

            def refit(rows):
                f = fit_survreg(X=X[rows], time=data.time[rows], event=data.event[rows], dist=self.dist,
                                weights=None if w is None else w[rows], maxit=options.maxit, step_tol=options.tol)
                return estimates(f) if f.converged else np.full(p, np.nan)

            params = estimates(fit)
            vcov, extra = bootstrap_vcov(spec, data, refit, p)
        else:
            if spec.vcov.type == "model":
                vcov = fit.vcov_model
            else:
                # survreg: D'D with D = weighted dfbeta (scores x model variance), no small-sample factor
                vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.bread, scores=fit.scores, groups=data.groups, n=n, k=p,
                                     cluster_default="none", robust_kind="none")
            if ph:  # delta method from the AFT parameters
                form = to_ph(fit, vcov)
                params, vcov = form.params, form.vcov
            else:
                params = fit.params
        ancillary = ()
        if self.dist == "weibull":
            ancillary = ("log_shape",) if ph else ("log_scale",)
        all_names = (*names, *ancillary)
        components = (*([""] * len(names)), *(["ancillary"] * len(ancillary))) if ancillary else None

        loglik_null = None
        if "(Intercept)" in names and len(names) > 1:
            null = fit_survreg(X=np.ones((X.shape[0], 1)), time=data.time, event=data.event, dist=self.dist,
                               weights=data.weights, maxit=options.maxit, step_tol=options.tol)
            loglik_null = null.loglik if null.converged else None
        notes = () if fit.converged else (f"model {spec.id!r}: did not converge ({fit.reason}).",)
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        glance = {
            "loglik": fit.loglik,
            "loglik_null": loglik_null,
            "lr_test": 2 * (fit.loglik - loglik_null) if loglik_null is not None else None,
            "n_events": int(fit.n_events),
            "form": options.form,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            # R's BIC(survreg) counts observations (nobs), not events as for coxph
            "bic": float(-2 * fit.loglik + np.log(fit.n) * len(params)),
        }
        glance.update(extra)
        if self.dist == "weibull":
            glance["shape"] = 1.0 / fit.scale  # Weibull shape p (Stata); survreg's scale is 1/p
            glance["aft_scale"] = fit.scale
        return Estimate(all_names, params, vcov, glance, components=components, raw=fit, notes=notes)
