"""Cox proportional hazards: the duration of arrangements (H3) and cause-specific risks (H4).

Numerics are c2stats' own engine (:mod:`c2stats.families._cox_engine`), verified against R's
``coxph``: Efron ties by default (Breslow selectable), ``(start, stop]`` risk sets with R's rule
(at risk at t when start < t <= stop), strata, case weights. The robust variance is R's: D'D with
D = score residuals x model variance (Efron-form residuals with Efron ties), summed within clusters,
with no small-sample factor. ``vcov = "robust"`` is R's ``robust = TRUE`` (each row its own cluster);
``{type = "cluster", groups = "id"}`` is ``cluster(id)``; two-way and dyadic use the same residuals.
``bootstrap`` refits on resampled rows or, with ``groups``, on resampled clusters (for
``(start, stop]`` data give the subject column, so that a subject's rows are drawn together); a
cluster drawn twice enters the risk sets twice, as two subjects.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import SpecificationError
from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov
from ._cox_engine import fit_cox, score_residuals
from ._registry import register_family


class CoxOptions(FamilyOptions):
    """Options of the ``cox`` family."""

    ties: Literal["efron", "breslow"] = Field(default="efron", description="Tie handling: 'efron' (R, Stata default) or 'breslow'.")
    strata: str | list[str] | None = Field(
        default=None, description="Column(s) defining strata: separate baseline hazards, common coefficients."
    )
    eps: float = Field(default=1e-9, gt=0, description="Convergence: relative change of the log partial likelihood (coxph.control eps).")
    max_iter: int = Field(default=100, ge=1, description="Maximum Newton-Raphson iterations (coxph.control iter.max).")


def _strata_columns(options: dict) -> list[str]:
    strata = options.get("strata")
    if strata is None:
        return []
    return [strata] if isinstance(strata, str) else list(strata)


@register_family("cox")
class Cox(Family):
    """Cox model (log-hazard scale; exponentiate for hazard ratios)."""

    kind: ClassVar[str] = "survival"
    scale: ClassVar[str] = "log_hazard"
    intercept_absorbed: ClassVar[bool] = True
    Options = CoxOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "survival"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_events", "n_subjects", "n_strata", "ph_global_p", "ties")
    prediction: ClassVar[str | None] = "cox"
    ph_test: ClassVar[bool] = True
    remedy: ClassVar[str] = ("raise max_iter or eps in options, rescale covariates, or look for a covariate that perfectly "
                             "predicts the event order (monotone likelihood: a coefficient diverges)")
    cluster_hc: ClassVar[tuple[str, ...]] = ()

    def extra_columns(self, options: dict) -> list[str]:
        return _strata_columns(options)

    def fit(self, spec, data: ModelData) -> Estimate:

        options = self.Options.model_validate(spec.options)
        X = data.X
        if "(Intercept)" in data.names:  # a Cox model has no intercept; R drops it silently
            keep = [i for i, n in enumerate(data.names) if n != "(Intercept)"]
            X, names = X[:, keep], tuple(data.names[i] for i in keep)
        else:
            names = data.names
        strata_cols = _strata_columns(spec.options)
        strata = None
        if strata_cols:
            strata = pd.MultiIndex.from_frame(data.frame[strata_cols]).factorize()[0] if len(strata_cols) > 1 \
                else pd.factorize(data.frame[strata_cols[0]])[0]
        fit = fit_cox(X, data.time, data.event, entry=data.entry, strata=strata, weights=data.weights,
                      ties=options.ties, eps=options.eps, max_iter=options.max_iter)
        _check_information(fit, names, spec.id)
        n, k = X.shape
        extra: dict = {}
        if spec.vcov.type == "model":
            vcov = fit.vcov_model
        elif spec.vcov.type == "bootstrap":
            time, event, entry, w = data.time, data.event, data.entry, data.weights

            def refit(rows):
                f = fit_cox(X[rows], time[rows], event[rows], entry=None if entry is None else entry[rows],
                            strata=None if strata is None else strata[rows], weights=None if w is None else w[rows],
                            ties=options.ties, eps=options.eps, max_iter=options.max_iter)
                return f.coef if f.converged else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k)
        else:
            # R: D'D with D = (weighted score residuals) x model variance, i.e. a sandwich with no factor
            scores = score_residuals(fit, X, weighted=True)
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=scores,
                                 groups=data.groups, n=n, k=k, cluster_default="none", robust_kind="none")
        notes = () if fit.converged else (f"model {spec.id!r}: did not converge ({fit.reason}).",)
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        glance = {
            "loglik": fit.loglik,
            "loglik_null": fit.loglik_null,
            "n_events": int(fit.n_events),
            "n_subjects": None,
            "ties": options.ties,
            "lr_test": fit.lr_test,
            "wald_test": _wald(fit.coef, vcov),  # R: with the robust variance when one is requested
            "score_test": fit.score_test,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            "n_strata": int(len(np.unique(strata))) if strata is not None else None,
            **extra,
        }
        return Estimate(names, fit.coef, vcov, glance, raw=fit, notes=notes)


def _check_information(fit, names, model_id: str) -> None:
    """Refuse a fit whose partial likelihood says nothing about any coefficient (all aliased)."""
    if not len(names) or not bool(np.all(fit.aliased)):
        return
    where = f"model {model_id!r}"
    listed = ", ".join(map(repr, names))
    if fit._risk is not None and bool(np.all(fit._risk.n_risk <= 1)):
        why = (f"no event has another row at risk at its time ({fit.n_events} event(s), each alone in its risk set), "
               "so the partial likelihood is constant")
    else:
        why = "the covariates do not vary within any risk set, so the partial likelihood does not depend on them"
    raise SpecificationError(
        f"{where}: the Cox partial likelihood carries no information on {listed}: {why}. A Cox model compares the "
        "row with the event with the rows still at risk; add rows (check the sample restriction, the time and "
        "start columns) or use a model of the durations themselves (weibull, exponential)."
    )


def _wald(coef: np.ndarray, vcov: np.ndarray) -> float:
    """Wald chi-square of all coefficients being zero, with the reported variance."""
    return float(coef @ np.linalg.lstsq(vcov, coef, rcond=None)[0])
