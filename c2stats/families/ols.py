"""Ordinary (and weighted) least squares, as R's ``lm`` with sandwich standard errors.

Coefficients by a QR decomposition of ``W^{1/2} X``; the model variance is
``σ² (X'WX)^{-1}`` with ``σ² = Σ w e² / (n - k)``. Sandwich variances use the bread
``(X'WX)^{-1}`` and scores ``w e x`` (``sandwich::estfun.lm``): ``HC0``, ``HC1`` = n/(n-k) HC0,
``robust`` = HC1 (Stata's ``regress, vce(robust)``), ``cluster`` as ``vcovCL`` (``hc = "HC1"``
by default, G/(G-1)·(n-1)/(n-k) = Stata's ``regress, vce(cluster)``; ``"HC0"`` keeps G/(G-1)),
one- or two-way, ``dyadic``, and ``bootstrap`` (pairs/cluster bootstrap of the coefficients).
Tests and intervals use the t distribution with n - k degrees of freedom (R's ``summary.lm`` / ``coeftest``) unless ``reference = "normal"``.

``glance``: ``r2`` and ``adj_r2`` (centred when the model has an intercept, as R), ``sigma``,
``df_resid``, the Gaussian ``loglik`` of ``logLik.lm`` and AIC/BIC counting σ as a parameter.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy import linalg

from ..errors import SpecificationError
from ..vcov import dyadic_notes, sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._bootstrap import bootstrap_vcov
from ._registry import register_family


class OLSOptions(FamilyOptions):
    """Options of the ``ols`` family."""

    reference: Literal["t", "normal"] = Field(
        default="t",
        description="Reference distribution of tests and intervals: 't' with n - k degrees of freedom (R's lm) or 'normal'.",
    )


@register_family("ols")
class OLS(Family):
    """Linear regression by (weighted) least squares (identity scale)."""

    kind: ClassVar[str] = "regression"
    scale: ClassVar[str] = "identity"
    Options = OLSOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap")
    link: ClassVar[str | None] = "identity"
    gof_keys: ClassVar[tuple[str, ...]] = ("r2", "adj_r2")
    prediction: ClassVar[str | None] = "mean"

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        X, y = data.X, data.y
        w = np.ones_like(y) if data.weights is None else data.weights
        keep = w > 0
        if not np.all(keep):  # zero-weight rows do not count (R's lm)
            X, y, w = X[keep], y[keep], w[keep]
            groups = tuple(g[keep] for g in data.groups)
        else:
            groups = data.groups
        n, k = X.shape
        if n <= k:
            raise SpecificationError(f"model {spec.id!r}: {n} observations for {k} coefficients leave no residual degrees of freedom.")
        sw = np.sqrt(w)
        q, r = linalg.qr(X * sw[:, None], mode="economic")
        coef = linalg.solve_triangular(r, q.T @ (y * sw))
        fitted = X @ coef
        resid = y - fitted
        rss = float(np.sum(w * resid**2))
        df_resid = n - k
        sigma2 = rss / df_resid
        rinv = linalg.solve_triangular(r, np.eye(k))
        bread = rinv @ rinv.T
        extra: dict = {}
        if spec.vcov.type == "model":
            vcov = sigma2 * bread
        elif spec.vcov.type == "bootstrap":
            Xa, ya, wa = data.X, data.y, np.ones_like(data.y) if data.weights is None else data.weights

            def refit(rows):
                sw_b = np.sqrt(wa[rows])
                return np.linalg.lstsq(Xa[rows] * sw_b[:, None], ya[rows] * sw_b, rcond=None)[0]

            vcov, extra = bootstrap_vcov(spec, data, refit, k)
        else:
            scores = (w * resid)[:, None] * X
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=bread, scores=scores, groups=groups, n=n, k=k, robust_kind="HC1")
        if "(Intercept)" in data.names:
            centre = np.sum(w * fitted) / np.sum(w)
            mss, df_int = float(np.sum(w * (fitted - centre) ** 2)), 1
        else:
            mss, df_int = float(np.sum(w * fitted**2)), 0
        r2 = mss / (mss + rss) if mss + rss > 0 else np.nan
        loglik = 0.5 * (np.sum(np.log(w)) - n * (np.log(2 * np.pi) + 1 - np.log(n) + np.log(rss)))
        glance = {
            "r2": r2,
            "adj_r2": 1 - (1 - r2) * (n - df_int) / df_resid,
            "sigma": float(np.sqrt(sigma2)),
            "df_resid": int(df_resid),
            "loglik": float(loglik),
            "aic": float(-2 * loglik + 2 * (k + 1)),  # σ counts, as R's AIC(lm)
            "bic": float(-2 * loglik + np.log(n) * (k + 1)),
            **extra,
        }
        df = float(df_resid) if options.reference == "t" else None
        return Estimate(data.names, coef, vcov, glance, df_resid=df, notes=dyadic_notes(spec.vcov, groups, spec.id))
