"""Linear mixed model with random intercepts by one or several grouping columns, as R's ``lme4::lmer``.

``y ~ x`` with ``options = {group = "country"}`` fits ``y = Xβ + u_g + e`` with
``u_g ~ N(0, σ²_group)`` and ``e ~ N(0, σ²)``, i.e. lmer's ``y ~ x + (1 | country)``. Several
columns give crossed or nested intercepts: ``group = ["plate", "sample"]`` is
``(1 | plate) + (1 | sample)``, and ``group = ["batch", "batch:cask"]`` is lmer's
``(1 | batch/cask)`` (an entry ``"a:b"`` groups by the combinations of columns ``a`` and ``b``).

The variance components are estimated by our own profiled REML (default, as lmer) or ML deviance
(:mod:`c2stats.families._lmm_engine`, Bates et al. 2015), optimised to rounding rather than to
lmer's ``ftol_abs = 1e-8``, so estimates agree with lmer to its own precision. (statsmodels'
MixedLM, used before, can stop well short of the optimum: ``tests/reference/lmm`` has a case where
its REML log-likelihood is 0.33 below lmer's.) The fixed-effect covariance is lmer's ``vcov``:
``σ̂²(X'H⁻¹X)⁻¹`` at the estimated variance components. Tests use the normal reference (lmer
reports no p-values; Satterthwaite is not offered). ``bootstrap`` resamples whole groups of the
first grouping column (or clusters of whole groups given in ``groups``) and refits; a group drawn
twice enters as two groups, and so do the groups of a column nested in it (crossed columns keep
their labels).

``glance``: ``loglik`` (``logLik(lmer)``: the REML log-likelihood under REML), AIC/BIC counting
the variance parameters, ``reml_criterion`` (lmer's ``REMLcrit``, under REML), ``sigma2_group``
(the random-intercept variance; with several columns their sum, each also as
``sigma2_group_<column>``), ``sigma2_resid``, ``icc`` (``performance::icc``, adjusted),
``r2_marginal`` and ``r2_conditional`` (Nakagawa & Schielzeth, ``performance::r2_nakagawa``;
conditional R² and ICC are NaN for a singular fit, as performance), ``n_groups`` (levels of the
first grouping column; each as ``n_groups_<column>`` with several) and ``singular`` (lmer's
"boundary (singular) fit").

``frames["random_effects"]``: the conditional modes of the intercepts, ``ranef(lmer)`` (columns
``group``, ``level``, ``estimate``; ``level`` holds the column's values, a combination's reads ``"A:a"``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from ..errors import SpecificationError
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov, copy_labels, nests
from ._lmm_engine import LmmFit, fit_lmm
from ._registry import register_family


class MixedOptions(FamilyOptions):
    """Options of the ``mixed`` family."""

    group: str | list[str] = Field(
        description="Column(s) whose values get a random intercept each: 'country' is lmer's (1 | country); "
                    "['plate', 'sample'] crossed intercepts (1 | plate) + (1 | sample); 'a:b' the combinations of "
                    "columns a and b, so ['batch', 'batch:cask'] is (1 | batch/cask).",
    )
    reml: bool = Field(default=True, description="Restricted maximum likelihood (lmer's default); false for ML.")
    xtol: float = Field(default=1e-12, gt=0, description="Convergence: tolerance on the relative standard "
                                                         "deviations σ_group/σ being optimised.")
    gtol: float = Field(default=1e-10, gt=0, description="Convergence: projected-gradient tolerance of the "
                                                         "optimiser (several grouping columns).")
    maxiter: int = Field(default=1000, ge=1, description="Maximum optimiser iterations.")

    @field_validator("group")
    @classmethod
    def _check_group(cls, value):
        entries = [value] if isinstance(value, str) else list(value)
        if not entries:
            raise ValueError("group needs at least one column, e.g. group = \"country\"")
        for entry in entries:
            if not entry or any(not part.strip() for part in entry.split(":")):
                raise ValueError(f"group entry {entry!r} is not a column name or 'a:b' combination of columns")
        if len(set(entries)) != len(entries):
            raise ValueError(f"group lists a column twice: {entries}")
        return value

    @property
    def groups(self) -> list[str]:
        """The grouping entries as a list."""
        return [self.group] if isinstance(self.group, str) else list(self.group)


def _columns(entry: str) -> list[str]:
    return [part.strip() for part in entry.split(":")]


def _labels(frame: pd.DataFrame, entry: str) -> tuple[np.ndarray, list]:
    """Integer codes of a grouping entry (a column, or the combinations of ``a:b:...``) and the
    level labels in code order: the column's values, or ``"A:a"`` for a combination (as lmer
    names ``batch:cask``)."""
    cols = _columns(entry)
    if len(cols) == 1:
        codes, levels = pd.factorize(frame[cols[0]], sort=True)
        return codes, list(levels)
    grouped = frame.groupby(cols, sort=True, dropna=False)
    return grouped.ngroup().to_numpy(), [":".join(map(str, key)) for key in grouped.size().index]


@register_family("mixed")
class Mixed(Family):
    """Random-intercept linear mixed model (identity scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "identity"
    Options = MixedOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "bootstrap")
    link: ClassVar[str | None] = "identity"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_groups", "icc", "r2_marginal", "r2_conditional")
    prediction: ClassVar[str | None] = "mean"

    def extra_columns(self, options: dict) -> list[str]:
        group = options.get("group")
        if not group:
            return []
        entries = [group] if isinstance(group, str) else list(group)
        return list(dict.fromkeys(c for e in entries if isinstance(e, str) for c in _columns(e)))

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        where = f"model {spec.id!r}"
        if spec.weights is not None:
            raise SpecificationError(f"{where}: the mixed family does not take weights.")
        X, y = data.X, data.y
        n, k = X.shape
        entries = options.groups
        labelled = [_labels(data.frame, e) for e in entries]
        codes = [c for c, _ in labelled]
        for entry, c in zip(entries, codes):
            levels = int(c.max()) + 1
            if levels < 2:
                raise SpecificationError(f"{where}: group {entry!r} has {levels} value(s); a random intercept needs "
                                         "at least 2.")
            if levels >= n:
                raise SpecificationError(f"{where}: group {entry!r} has {levels} values for {n} rows; a random "
                                         "intercept needs fewer groups than rows (lmer's check), so that the group "
                                         "and residual variances are separable.")
        fit = _fit(X, y, codes, options, where)
        if fit.sigma2_resid <= 1e-12 * float(np.var(y)):
            # rounding noise is all that is left within groups: σ² and the θ behind every other number are noise
            raise SpecificationError(f"{where}: the residual variance is estimated as zero (σ² = {fit.sigma2_resid:.3g}): "
                                     f"the outcome does not vary within the groups of {entries} beyond rounding, so a "
                                     "random intercept is not identified; check the outcome column or the grouping.")
        vcov = fit.vcov
        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            # the first column's groups are drawn whole; a column nested in them is copied with them,
            # a crossed one keeps its labels
            nested = [i == 0 or nests(codes[0], c) for i, c in enumerate(codes)]

            def refit(rows):
                draw = [copy_labels(c, rows) if nest else c[rows] for c, nest in zip(codes, nested)]
                r = _fit(X[rows], y[rows], draw, options, where)
                return r.coef if r.converged else np.full(k, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, k, units=codes[0],
                                         units_name=f"groups of {entries[0]!r}")
        glance = {
            "loglik": fit.loglik,
            "aic": fit.aic,
            "bic": fit.bic,
            "reml": options.reml,
            **({"reml_criterion": fit.deviance} if options.reml else {}),
            "sigma2_group": float(np.sum(fit.sigma2_groups)),
            "sigma2_resid": fit.sigma2_resid,
            "icc": fit.icc,
            "r2_marginal": fit.r2_marginal,
            "r2_conditional": fit.r2_conditional,
            "n_groups": fit.n_levels[0],
            "singular": fit.boundary,
            "converged": fit.converged,
            **extra,
        }
        if len(entries) > 1:
            for entry, s2, levels in zip(entries, fit.sigma2_groups, fit.n_levels):
                glance[f"sigma2_group_{entry}"] = float(s2)
                glance[f"n_groups_{entry}"] = int(levels)
        notes: tuple[str, ...] = ()
        if fit.boundary:
            zero = [e for e, t in zip(entries, fit.theta) if t < 1e-4]
            notes += ((f"{where}: boundary (singular) fit: the random-intercept variance of "
                       f"{', '.join(map(repr, zero))} is estimated as (nearly) zero; the model reduces to one "
                       f"without it."),)
        if not fit.converged:
            notes += ((f"{where}: the variance components did not converge ({fit.message}); raise maxiter, "
                       f"loosen xtol/gtol or rescale the outcome."),)
        modes = pd.DataFrame({
            "group": np.repeat(entries, fit.n_levels),
            "level": [label for _, labels in labelled for label in labels],
            "estimate": np.concatenate(fit.ranef),
        })
        return Estimate(data.names, fit.coef, vcov, glance, raw=fit, notes=notes, frames={"random_effects": modes})


def _fit(X: np.ndarray, y: np.ndarray, codes: list[np.ndarray], options: MixedOptions, where: str) -> LmmFit:
    try:
        return fit_lmm(X=X, y=y, groups=codes, reml=options.reml, xtol=options.xtol, gtol=options.gtol,
                       maxiter=options.maxiter)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise SpecificationError(f"{where}: the mixed model cannot be fitted ({exc}); check that the formula's "
                                 "terms are not collinear, that there are more rows than coefficients and that the "
                                 "outcome varies within groups.") from None
