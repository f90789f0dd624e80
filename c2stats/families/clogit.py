"""Conditional logit: choices among matched alternatives (e.g. which of the potential partners a state allies with).

``formula = "y ~ x1 + x2"`` with ``options = {group = "set"}`` conditions on the number of cases
(``y = 1``) in each matched set, R's ``survival::clogit(y ~ x1 + x2 + strata(set))``. There is no
intercept (it is not identified within sets; an intercept in the formula is dropped, as R does),
and covariates constant within every set are not identified either. Coefficients are log odds
ratios.

``method = "exact"`` (default, as R) maximises the exact conditional likelihood
(:mod:`c2stats.families._clogit_engine`, R's ``method = "exact"``). ``"efron"`` and ``"breslow"``
are R's approximations through the Cox engine (``coxph`` with all times equal to 1); with one case
per set all three are the same likelihood. Case weights need ``efron`` or ``breslow`` (R ignores
them under ``exact``; here that is an error).

Variance: ``model`` is the inverse information. ``robust`` (each row its own cluster),
``cluster`` (one- or two-way) and ``dyadic`` are coxph's ``D'D`` (score residuals times the model
variance, summed within clusters, no small-sample factor) = ``clogit(..., cluster = id)`` /
``robust = TRUE`` with ``efron``/``breslow``. Under ``exact`` R offers none of them; here they are
available when no set has more than one case (the likelihood is then Breslow's, and so are the
residuals), and ``cluster`` also when every cluster contains whole matched sets (set scores summed
within clusters). ``bootstrap`` resamples whole matched sets, or clusters of them given in
``groups``, and refits.

``glance``: ``loglik``, ``loglik_null`` (β = 0), ``lr_test``, ``score_test``, ``wald_test``
(with the reported variance), ``n_events`` (cases), ``n_groups`` (matched sets) and
``n_groups_informative`` (sets with a case and a control); BIC counts cases as R's ``BIC(coxph)``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import DataError, SpecificationError
from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov, copy_labels, nests
from ._clogit_engine import fit_clogit
from ._cox_engine import fit_cox, score_residuals
from ._registry import register_family


class ClogitOptions(FamilyOptions):
    """Options of the ``clogit`` family."""

    group: str = Field(description="Column identifying the matched sets (R's strata(group)): one set per value.")
    method: Literal["exact", "efron", "breslow"] = Field(
        default="exact",
        description="'exact' conditional likelihood (R's clogit default), or the 'efron'/'breslow' approximations.",
    )
    eps: float = Field(default=1e-9, gt=0, description="Convergence: relative change of the log-likelihood (coxph.control eps).")
    max_iter: int = Field(default=100, ge=1, description="Maximum Newton-Raphson iterations (coxph.control iter.max).")


@register_family("clogit")
class Clogit(Family):
    """Conditional (fixed-effects) logit for matched sets (log-odds scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "log_odds"
    intercept_absorbed: ClassVar[bool] = True
    Options = ClogitOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "binary"
    gof_keys: ClassVar[tuple[str, ...]] = ()
    cluster_hc: ClassVar[tuple[str, ...]] = ()

    def extra_columns(self, options: dict) -> list[str]:
        return [options["group"]] if options.get("group") else []

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        where = f"model {spec.id!r}"
        keep = [i for i, n in enumerate(data.names) if n != "(Intercept)"]
        X, names = data.X[:, keep], tuple(data.names[i] for i in keep)
        if not names:
            raise SpecificationError(f"{where}: the clogit family needs at least one covariate (the intercept is not identified).")
        y = np.asarray(data.y, dtype=float)
        bad = np.flatnonzero((y != 0) & (y != 1))
        if len(bad):
            response = str(spec.formula).split("~")[0].strip()
            raise DataError(f"{where}: the outcome {response!r} must be 0/1 (1 = case or chosen alternative); "
                            f"rows {', '.join(str(i + 1) for i in bad[:5])} hold {sorted(set(y[bad].tolist()))[:5]}.")
        if options.method == "exact" and data.weights is not None:
            raise SpecificationError(f"{where}: case weights are not supported by the exact conditional likelihood "
                                     "(R ignores them); use options.method = 'efron' or 'breslow', or drop weights.")
        group = data.frame[options.group].to_numpy()
        codes = pd.factorize(group, sort=False)[0]
        _check_within_set_variation(X, names, codes, options.group, where)
        try:
            fit = _fit(X, y, codes, data.weights, options)
        except ValueError as exc:  # e.g. no set with both a case and a control
            raise SpecificationError(f"{where}: {exc}.") from None
        n, k = X.shape
        extra: dict = {}
        if spec.vcov.type == "model":
            vcov = fit.vcov_model
        elif spec.vcov.type == "bootstrap":
            vcov, extra = _bootstrap(spec, data, X, y, codes, options)
        elif (scores := _row_scores(fit, X)) is not None:
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=scores, groups=data.groups, n=n, k=k,
                                 cluster_default="none", robust_kind="none")
        else:
            vcov = _set_level_vcov(spec, data, fit, codes, where)
        n_sets = int(codes.max()) + 1
        cases = np.bincount(codes, weights=y, minlength=n_sets)
        sizes = np.bincount(codes, minlength=n_sets)
        informative = int(np.sum((cases > 0) & (cases < sizes)))
        notes = [] if fit.converged else [f"{where}: did not converge ({fit.reason})."]
        if informative < n_sets:
            notes.append(f"{where}: {n_sets - informative} of {n_sets} matched sets have no case or no control "
                         "and do not contribute to the conditional likelihood.")
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        n_events = int(y.sum())
        glance = {
            "loglik": fit.loglik,
            "loglik_null": fit.loglik_null,
            "lr_test": fit.lr_test,
            "score_test": fit.score_test,
            "wald_test": _wald(fit.coef, vcov),
            "n_events": n_events,
            "n_groups": n_sets,
            "n_groups_informative": informative,
            "method": options.method,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            "bic": float(-2 * fit.loglik + np.log(n_events) * k),  # R's BIC(clogit) counts events, as coxph
            **extra,
        }
        return Estimate(names, fit.coef, vcov, glance, raw=fit, notes=tuple(notes))


def _fit(X, y, codes, weights, options):
    """The exact conditional-likelihood fit, or the Cox engine's with all times equal (efron/breslow)."""
    if options.method == "exact":

        return fit_clogit(X, y, codes, eps=options.eps, max_iter=options.max_iter)

    return fit_cox(X, np.ones(len(y)), y, strata=codes, weights=weights, ties=options.method, eps=options.eps,
                   max_iter=options.max_iter)


def _row_scores(fit, X) -> np.ndarray | None:
    """Weighted score residuals (coxph's), or None under exact with several cases in a set."""
    if hasattr(fit, "row_scores"):
        return fit.row_scores

    return score_residuals(fit, X, weighted=True)


def _check_within_set_variation(X, names, codes, group: str, where: str) -> None:
    """A covariate constant within every matched set has no conditional likelihood information."""
    sums = np.zeros((int(codes.max()) + 1, X.shape[1]))
    np.add.at(sums, codes, X)
    within = X - (sums / np.bincount(codes)[:, None])[codes]
    spread = np.abs(within).max(axis=0)
    size = np.maximum(np.abs(X).max(axis=0), 1.0)
    flat = [names[j] for j in np.flatnonzero(spread <= 1e-12 * size)]
    if flat:
        raise SpecificationError(
            f"{where}: {', '.join(map(repr, flat))} is constant within every matched set of {group!r}, so the "
            "conditional logit cannot estimate it (it is absorbed by the set); remove it or interact it with a "
            "covariate that varies within sets."
        )


def _set_level_vcov(spec, data: ModelData, fit, codes, where: str) -> np.ndarray:
    """Exact method with several cases in a set: clusters of whole sets only (set scores summed)."""
    vtype = spec.vcov.type
    n_cases = int(fit.max_cases)
    if vtype == "cluster" and all(nests(g, codes) for g in data.groups):
        first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
        groups = tuple(g[first] for g in data.groups)
        scores = fit.set_scores  # sets in order of first appearance, as codes
        return sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=scores, groups=groups, n=scores.shape[0],
                             k=scores.shape[1], cluster_default="none", robust_kind="none")
    why = ("its clusters split matched sets" if vtype == "cluster"
           else "rows of one set are not separate units")
    raise SpecificationError(
        f"{where}: vcov {vtype!r} needs row score residuals, which the exact conditional likelihood does not have "
        f"when a matched set has several cases (here up to {n_cases}; R: 'robust variance plus the exact method is "
        f"not supported'), and {why}. Use vcov = {{type = \"cluster\", groups = \"{spec.options.get('group')}\"}} "
        "or a column grouping whole sets, or options.method = 'efron'."
    )


def _bootstrap(spec, data: ModelData, X, y, codes, options):
    """Resample whole matched sets (or clusters of them) and refit; a set drawn twice enters twice."""
    w = data.weights
    k = X.shape[1]

    def refit(rows):
        fit = _fit(X[rows], y[rows], copy_labels(codes, rows), None if w is None else w[rows], options)
        return fit.coef if fit.converged else np.full(k, np.nan)

    return bootstrap_vcov(spec, data, refit, k, units=codes, units_name=f"matched sets of {options.group!r}")


def _wald(coef: np.ndarray, vcov: np.ndarray) -> float:
    """Wald chi-square of all coefficients being zero, with the reported variance."""
    return float(coef @ np.linalg.lstsq(vcov, coef, rcond=None)[0])
