"""Multinomial logit: the choice among several unordered outcomes (e.g. none / formal / informal).

Numerics are :func:`c2stats.families._mnlogit_engine.fit_mnlogit` (exact Newton), verified
against R's ``nnet::multinom`` (to nnet's optimiser precision) and statsmodels ``MNLogit``.

Every non-base outcome category has its own equation: ``tidy`` has one row per (category, term),
with ``component`` = the category and ``estimate`` = the log relative risk (log odds of that
category against the base). The base category is declared with ``base`` (default: the first in
sorted order, R's first factor level). Sandwich variances use the score contributions
``w (1[y = j] - p_j) x`` with logit's conventions (``robust`` = HC0, cluster ``hc = "HC1"`` by
default, k = all coefficients); ``bootstrap`` refits on resampled clusters (a draw missing a
category counts as failed). The saved covariance matrix labels its rows ``"<category>: <term>"``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import SpecificationError
from ..formula import parse_formula
from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData, vcov_frame
from ._bootstrap import bootstrap_vcov
from ._mnlogit_engine import fit_mnlogit
from ._registry import register_family


class MNLogitOptions(FamilyOptions):
    """Options of the ``mnlogit`` family."""

    base: int | float | str | None = Field(
        default=None,
        description="The base (reference) outcome category; default the first category in sorted order.",
    )
    tol: float = Field(default=1e-10, gt=0, description="Convergence: the largest absolute Newton step.")
    maxit: int = Field(default=100, ge=1, description="Maximum Newton-Raphson iterations.")


def _outcome(spec, data: ModelData) -> np.ndarray:
    """The outcome categories as given in the data (not the float copy of the design)."""
    response = parse_formula(spec.formula).response
    if response is not None and response.func is None and response.label in data.frame:
        y = data.frame[response.label].to_numpy()
    else:
        y = data.y
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    return y


def _match_base(base, labels: list):
    if base is None or base in labels:
        return base
    same = [lv for lv in labels if str(lv) == str(base)]
    return same[0] if len(same) == 1 else base


@register_family("mnlogit")
class MNLogit(Family):
    """Multinomial logit with a declared base category (log relative risks)."""

    kind: ClassVar[str] = "regression"
    categorical_response: ClassVar[bool] = True
    scale: ClassVar[str] = "log_relative_risk"
    Options = MNLogitOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    outcome: ClassVar[str] = "multinomial"
    separation_check: ClassVar[bool] = True
    outcome_columns: ClassVar[bool] = True
    gof_keys: ClassVar[tuple[str, ...]] = ("pseudo_r2",)
    prediction: ClassVar[str | None] = "multinomial"
    remedy: ClassVar[str] = ("raise maxit, rescale covariates, or merge sparse outcome categories (a category may be "
                             "perfectly predicted)")

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        y = _outcome(spec, data)
        labels = sorted(pd.unique(pd.Series(y)).tolist())
        base = _match_base(options.base, labels)
        if base is not None and base not in labels:
            raise SpecificationError(
                f"model {spec.id!r}: base category {options.base!r} does not occur in the outcome; "
                f"observed categories: {labels[:20]}."
            )
        try:
            fit = fit_mnlogit(X=data.X, y=y, base=base, weights=data.weights, tol=options.tol, maxit=options.maxit)
        except SpecificationError as exc:
            raise SpecificationError(f"model {spec.id!r}: {exc.message}") from None
        n, k = data.X.shape
        p = fit.params.size
        extra: dict = {}
        if spec.vcov.type == "bootstrap":
            X, w = data.X, data.weights

            def refit(rows):
                f = fit_mnlogit(X=X[rows], y=y[rows], base=fit.base, weights=None if w is None else w[rows],
                                tol=options.tol, maxit=options.maxit)
                same = f.converged and f.categories == fit.categories  # a category may be missing in a draw
                return f.coef if same else np.full(p, np.nan)

            vcov, extra = bootstrap_vcov(spec, data, refit, p)
        else:
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=fit.vcov_model, scores=fit.scores, groups=data.groups, n=n, k=p)
        cats = [str(c) for c in fit.categories]
        names = tuple(term for _ in cats for term in data.names)
        components = tuple(c for c in cats for _ in data.names)
        labelled = [f"{c}: {t}" for c, t in zip(components, names)]
        notes = (f"model {spec.id!r}: {fit.reason}",) if fit.reason else ()
        notes += dyadic_notes(spec.vcov, data.groups, spec.id)
        glance = {
            "loglik": fit.loglik,
            "loglik_null": fit.loglik_null,
            "pseudo_r2": 1 - fit.loglik / fit.loglik_null if fit.loglik_null else None,
            "base": str(fit.base),
            "n_categories": len(cats) + 1,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
            **extra,
        }
        return Estimate(names, fit.coef, vcov, glance, components=components, raw=fit, notes=notes,
                        frames={"vcov": vcov_frame(labelled, vcov)})
