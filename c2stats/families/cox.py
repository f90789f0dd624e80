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

``options.frailty = "<column>"`` fits R's shared-frailty model ``coxph(... + frailty(g))``
(:mod:`c2stats.families._frailty_engine`): gamma frailty by default (theta by R's "em" method),
``frailty_dist = "gaussian"`` for ``frailty(g, distribution = "gaussian")`` ("reml"); standard errors
are R's ``fit$var``, ``glance["frailty_variance"]`` is theta and ``frames["frailty"]`` holds the
per-group log-frailties. ``options.tt = {x = "log"}`` adds the time-varying term ``tt(x)`` as R's
``coxph(... + tt(x), tt = function(x, t, ...) x * log(t))`` (:mod:`c2stats.families._tt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

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
    frailty: str | None = Field(
        default=None,
        description="Column of groups sharing a frailty (random effect): R's coxph(... + frailty(<column>)). Standard "
                    "errors are R's fit$var; glance frailty_variance is R's theta; frames['frailty'] the group "
                    "log-frailties. Model variance only (R has no robust variance for a penalised model).",
    )
    frailty_dist: Literal["gamma", "gaussian"] = Field(
        default="gamma",
        description="Frailty distribution: 'gamma' (R's default, theta by the 'em' method: maximum marginal "
                    "likelihood) or 'gaussian' (frailty(g, distribution = 'gaussian'), theta by REML). The inner "
                    "fits use R's coxph.control defaults (eps 1e-9, 20 iterations, 10 outer iterations).",
    )
    tt: dict[str, str] | None = Field(
        default=None,
        description="Time-varying coefficients, {<term> = 'log' | 'identity' | 'step:<t1>,<t2>'}: adds tt(<term>) = "
                    "<term> * log(t), <term> * t, or period terms tt(<term>):(t1,t2], ..., (tk,Inf) = <term> * I(t in "
                    "period), as R's coxph(... + tt(x), tt = function(x, t, ...) ...). <term> must be a numeric "
                    "term of the formula.",
    )

    @model_validator(mode="after")
    def _check_frailty_dist(self):
        if "frailty_dist" in self.model_fields_set and self.frailty is None and self.frailty_dist != "gamma":
            raise ValueError("frailty_dist applies to a frailty model only; also give frailty = \"<group column>\"")
        return self

    @field_validator("tt")
    @classmethod
    def _check_tt(cls, value):
        from ._tt import parse_transform

        if value is not None:
            if not value:
                raise ValueError("give at least one {<term> = 'log' | 'identity' | 'step:<t1>,<t2>'} or leave tt out")
            for column, kind in value.items():
                try:
                    parse_transform(column, kind)
                except ValueError as exc:
                    raise ValueError(f"tt.{column}: {exc}") from None
        return value


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
        frailty = [options["frailty"]] if options.get("frailty") else []
        return [*_strata_columns(options), *frailty]

    def fit(self, spec, data: ModelData) -> Estimate:

        options = self.Options.model_validate(spec.options)
        if options.frailty is not None and options.tt:
            raise SpecificationError(
                f"model {spec.id!r}: options.frailty and options.tt cannot be combined here; fit the frailty model "
                "and the time-varying model separately."
            )
        if options.frailty is not None:
            return _fit_frailty(spec, data, options)
        if options.tt:
            return _fit_tt(spec, data, options)
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
        glance = {**_glance(fit, vcov, options.ties, strata), **extra}
        return Estimate(names, fit.coef, vcov, glance, raw=fit, notes=notes)


def _covariates(data: ModelData) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """X, names and term of each column without the intercept (a Cox model has none; R drops it silently)."""
    keep = [i for i, n in enumerate(data.names) if n != "(Intercept)"]
    return (data.X[:, keep], tuple(data.names[i] for i in keep),
            tuple(data.design.term_of_column[i] for i in keep))


def _strata_codes(spec, data: ModelData) -> np.ndarray | None:
    cols = _strata_columns(spec.options)
    if not cols:
        return None
    if len(cols) > 1:
        return pd.MultiIndex.from_frame(data.frame[cols]).factorize()[0]
    return pd.factorize(data.frame[cols[0]])[0]


def _fit_frailty(spec, data: ModelData, options: CoxOptions) -> Estimate:
    """R's ``coxph(Surv(...) ~ x + frailty(g))`` (see :mod:`._frailty_engine`)."""
    from ._frailty_engine import fit_frailty_cox

    where = f"model {spec.id!r}"
    if spec.vcov.type != "model":
        raise SpecificationError(
            f"{where}: vcov {spec.vcov.type!r} is not available with options.frailty = {options.frailty!r}. R's coxph "
            "defines no robust or cluster variance for a penalised (frailty) model (it ignores robust = TRUE with a "
            "warning); the frailty already models the within-group correlation. Use vcov = \"model\", or drop "
            "options.frailty and use vcov = {type = \"cluster\", groups = [...]} for a marginal model."
        )
    if options.frailty in _strata_columns(spec.options):
        raise SpecificationError(f"{where}: options.frailty {options.frailty!r} is also a stratum column; a frailty "
                                 "shared within strata is not identified. Use one or the other.")
    X, names, terms = _covariates(data)
    group = data.frame[options.frailty].to_numpy()
    n_groups = len(pd.unique(group))
    if n_groups < 2:
        raise SpecificationError(f"{where}: options.frailty column {options.frailty!r} has {n_groups} distinct "
                                 "value(s) in the estimation sample; a shared frailty needs at least 2 groups.")
    assign: dict[str, list[int]] = {}
    for j, term in enumerate(terms):
        assign.setdefault(term, []).append(j)
    try:
        fit = fit_frailty_cox(X, data.time, data.event, group, entry=data.entry, strata=_strata_codes(spec, data),
                              weights=data.weights, ties=options.ties, distribution=options.frailty_dist,
                              assign=[np.array(v) for v in assign.values()])
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise SpecificationError(f"{where}: the frailty model could not be fitted ({exc}).") from None
    notes: tuple[str, ...] = ()
    if fit.inner_failures:
        notes += (f"{where}: the inner Newton-Raphson loop reached its 20 iterations in outer iteration(s) "
                  f"{', '.join(map(str, fit.inner_failures))} (R gives the same warning; the outer loop over theta "
                  "carries on from there, as in R).",)
    if not fit.converged:
        notes += (f"{where}: did not converge (the search for the frailty variance stopped after R's 10 outer "
                  "iterations, or its last inner fit after 20 Newton-Raphson iterations, before the convergence "
                  "criterion was met).",)
    n_events = int(fit.n_events)
    glance = {
        "loglik": fit.loglik,
        "loglik_null": fit.loglik_null,
        "aic": fit.aic,
        "bic": float(-2 * fit.loglik + np.log(n_events) * np.sum(fit.df)),
        "n_events": n_events,
        "n_subjects": None,
        "ties": options.ties,
        "lr_test": float(2 * (fit.loglik - fit.loglik_null)),
        "frailty_variance": fit.theta,
        "frailty_distribution": fit.distribution,
        "frailty_df": float(fit.df[-1]),
        "frailty_marginal_loglik": fit.marginal_loglik,
        "loglik_penalised": fit.loglik_penalised,
        "n_frailty_groups": int(fit.groups.size),
        "df_model": float(np.sum(fit.df)),
        "converged": bool(fit.converged),
        "iterations": int(fit.inner_iterations),
        "outer_iterations": int(fit.outer_iterations),
        "n_strata": len(np.unique(_strata_codes(spec, data))) if _strata_columns(spec.options) else None,
    }
    frailty = pd.DataFrame({"group": fit.groups, "estimate": fit.frailty,
                            "std_error": np.sqrt(np.clip(fit.frailty_var, 0, None))})
    return Estimate(names, fit.coef, fit.vcov, glance, raw=fit, notes=notes, frames={"frailty": frailty})


#: Largest risk-set expansion options.tt builds (rows x columns of doubles must fit in memory).
TT_MAX_ROWS = 20_000_000


@dataclass(frozen=True)
class TimeVaryingCoxFit:
    """A Cox fit with ``tt()`` terms: the engine's fit on the data expanded at the event times."""

    fit: Any
    """:class:`~c2stats.families._cox_engine.CoxFit` on the expanded rows."""
    expansion: Any
    """:class:`~c2stats.families._tt.RiskSetExpansion` (original row of each expanded row)."""
    reason: str | None = None


def _fit_tt(spec, data: ModelData, options: CoxOptions) -> Estimate:
    """R's ``coxph(... + tt(x), tt = ...)``: a Cox fit on the data expanded at every event time."""
    from ._cox_engine import fit_cox, score_residuals
    from ._tt import expand_risk_sets, parse_transform, tt_columns

    where = f"model {spec.id!r}"
    if spec.vcov.type not in ("model", "cluster"):
        raise SpecificationError(
            f"{where}: vcov {spec.vcov.type!r} is not available with options.tt. R's coxph makes one copy of every "
            "row per risk set for tt() terms, so a 'robust' variance would treat the copies as independent; use "
            "vcov = {type = \"cluster\", groups = [\"<subject id>\"]} (rows of one subject summed) or \"model\"."
        )
    X, names, terms = _covariates(data)
    transforms = []
    for column, kind in options.tt.items():
        if column not in names:
            listed = ", ".join(map(repr, names))
            hint = (" It is categorical: tt() here takes a numeric term; use a 0/1 indicator column instead."
                    if column in terms else "")
            raise SpecificationError(
                f"{where}: options.tt.{column} names no numeric term of the formula {spec.formula!r} (terms: "
                f"{listed}).{hint} Add {column!r} to the formula (tt() gives the change of its effect over time) "
                "or fix the name."
            )
        transforms.append(parse_transform(column, kind))
    try:
        exp = expand_risk_sets(data.time, data.event, entry=data.entry, strata=_strata_codes(spec, data),
                               max_rows=TT_MAX_ROWS)
    except ValueError as exc:
        raise SpecificationError(
            f"{where}: options.tt needs the data expanded at every event time, as R's coxph does: {exc}. Fit on a "
            "subsample or a coarser time scale (tied times share one risk set), or model the change over time with "
            "a time-split dataset ((start, stop] rows) and an interaction instead."
        ) from None
    cols = [X[exp.rows]]
    tt_names: list[str] = []
    for tr in transforms:
        x = X[exp.rows, names.index(tr.column)]
        if tr.kind == "log" and np.any(exp.time <= 0):
            raise SpecificationError(f"{where}: options.tt.{tr.column} = 'log' needs positive event times; "
                                     f"{spec.time!r} has event times <= 0. Use 'identity' or 'step:...'.")
        cols.append(tt_columns(tr, x, exp.time))
        tt_names.extend(tr.names)
    Xe = np.column_stack(cols)
    all_names = (*names, *tt_names)
    w = None if data.weights is None else data.weights[exp.rows]
    fit = fit_cox(Xe, exp.time, exp.event, strata=exp.risk_set, weights=w, ties=options.ties, eps=options.eps,
                  max_iter=options.max_iter)
    _check_information(fit, all_names, spec.id)
    if spec.vcov.type == "model":
        vcov = fit.vcov_model
    else:
        groups = tuple(g[exp.rows] for g in data.groups)
        scores = score_residuals(fit, Xe, weighted=True)
        vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=scores, groups=groups,
                             n=Xe.shape[0], k=Xe.shape[1], cluster_default="none", robust_kind="none")
    notes = () if fit.converged else (f"{where}: did not converge ({fit.reason}).",)
    strata = _strata_codes(spec, data) if _strata_columns(spec.options) else None
    glance = {**_glance(fit, vcov, options.ties, strata), "n_risk_set_rows": int(Xe.shape[0])}
    raw = TimeVaryingCoxFit(fit=fit, expansion=exp, reason=fit.reason)
    return Estimate(all_names, fit.coef, vcov, glance, raw=raw, notes=notes)


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


def _glance(fit, vcov: np.ndarray, ties: str, strata: np.ndarray | None) -> dict:
    """The fit statistics every Cox fit reports (R's coxph print and summary)."""
    return {
        "loglik": fit.loglik,
        "loglik_null": fit.loglik_null,
        "n_events": int(fit.n_events),
        "n_subjects": None,
        "ties": ties,
        "lr_test": fit.lr_test,
        "wald_test": _wald(fit.coef, vcov),  # R: with the robust variance when one is requested
        "score_test": fit.score_test,
        "converged": bool(fit.converged),
        "iterations": int(fit.iterations),
        "n_strata": int(len(np.unique(strata))) if strata is not None else None,
    }


def _wald(coef: np.ndarray, vcov: np.ndarray) -> float:
    """Wald chi-square of all coefficients being zero, with the reported variance."""
    return float(coef @ np.linalg.lstsq(vcov, coef, rcond=None)[0])
