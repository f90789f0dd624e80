"""Linear mixed model with a random intercept by a grouping column, as R's ``lme4::lmer``.

``y ~ x`` with ``options = {group = "country"}`` fits ``y = Xβ + u_g + e`` with
``u_g ~ N(0, σ²_group)`` and ``e ~ N(0, σ²)``, i.e. lmer's ``y ~ x + (1 | country)``. The
variance components are estimated by statsmodels ``MixedLM`` (REML by default, as lmer; ML with
``reml = false``) with BFGS run to a tight gradient tolerance, which reproduces lmer's estimates.
The fixed-effect covariance is lmer's ``vcov``: ``(X'V⁻¹X)⁻¹`` at the estimated variance
components (statsmodels' own ``cov_params`` inverts the joint Hessian and differs slightly).
Tests use the normal reference (lmer reports no p-values; Satterthwaite is not offered).
``bootstrap`` resamples whole groups (or clusters of whole groups given in ``groups``) and refits
the fixed effects (at ``gtol`` of at least 1e-6); a group drawn twice enters as two groups.

``glance``: ``loglik`` (the REML criterion's log-likelihood under REML, as ``logLik(lmer)``),
AIC/BIC counting the two variance parameters, ``sigma2_group``, ``sigma2_resid``, ``icc`` and
``n_groups``.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import SpecificationError
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov, copy_labels
from ._registry import register_family


class MixedOptions(FamilyOptions):
    """Options of the ``mixed`` family."""

    group: str = Field(description="Column whose values get a random intercept each (lmer's (1 | group)).")
    reml: bool = Field(default=True, description="Restricted maximum likelihood (lmer's default); false for ML.")
    gtol: float = Field(default=1e-10, gt=0, description="Convergence: gradient tolerance of the BFGS optimiser.")
    maxiter: int = Field(default=1000, ge=1, description="Maximum optimiser iterations.")


@register_family("mixed")
class Mixed(Family):
    """Random-intercept linear mixed model (identity scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "identity"
    Options = MixedOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "bootstrap")
    link: ClassVar[str | None] = "identity"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_groups", "icc")
    prediction: ClassVar[str | None] = "mean"

    def extra_columns(self, options: dict) -> list[str]:
        return [options["group"]] if options.get("group") else []

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        where = f"model {spec.id!r}"
        if spec.weights is not None:
            raise SpecificationError(f"{where}: the mixed family does not take weights.")
        X, y = data.X, data.y
        codes, levels = pd.factorize(data.frame[options.group], sort=True)
        n_groups = len(levels)
        if n_groups < 2:
            raise SpecificationError(f"{where}: group column {options.group!r} has {n_groups} value(s); a random intercept needs at least 2.")
        n, k = X.shape
        res, caught = _fit_mixedlm(X, y, codes, options)
        coef = np.asarray(res.fe_params, dtype=float)
        sigma2 = float(res.scale)
        tau2 = float(np.asarray(res.cov_re)[0, 0])
        # lmer's vcov: (X' V^-1 X)^-1 with V_g = sigma2 I + tau2 J
        gamma = tau2 / sigma2
        sizes = np.bincount(codes, minlength=n_groups).astype(float)
        sums = np.zeros((n_groups, k))
        np.add.at(sums, codes, X)
        shrink = gamma / (1.0 + sizes * gamma)
        info = (X.T @ X - (sums * shrink[:, None]).T @ sums) / sigma2
        vcov = np.linalg.inv(info)
        vcov = (vcov + vcov.T) / 2
        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            # BFGS at gtol 1e-10 sometimes stops on round-off ("|grad| = 0.000000", not converged);
            # replicates need far less precision than their spread
            loose = options.model_copy(update={"gtol": max(options.gtol, 1e-6)})

            def refit(rows):
                r, _ = _fit_mixedlm(X[rows], y[rows], copy_labels(codes, rows), loose)
                return np.asarray(r.fe_params, dtype=float) if r.converged else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k, units=codes, units_name=f"groups of {options.group!r}")
        loglik = float(res.llf)
        n_par = k + 2
        glance = {
            "loglik": loglik,
            "aic": -2 * loglik + 2 * n_par,
            "bic": -2 * loglik + np.log(n) * n_par,
            "reml": options.reml,
            "sigma2_group": tau2,
            "sigma2_resid": sigma2,
            "icc": tau2 / (tau2 + sigma2),
            "n_groups": int(n_groups),
            "converged": bool(res.converged),
            **extra,
        }
        notes = tuple(f"{where}: {m}" for m in caught)
        if not res.converged:
            notes += (f"{where}: the variance components did not converge; raise maxiter or rescale covariates.",)
        return Estimate(data.names, coef, vcov, glance, raw=res, notes=notes)


def _fit_mixedlm(X, y, codes, options):
    """statsmodels MixedLM with a random intercept per code; the fit and its (non-deprecation) warnings."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = MixedLM(y, X, groups=codes).fit(reml=options.reml, method="bfgs", gtol=options.gtol,
                                              maxiter=options.maxiter)
    caught = sorted({str(w.message) for w in record if not issubclass(w.category, (DeprecationWarning, FutureWarning))})
    return res, caught
