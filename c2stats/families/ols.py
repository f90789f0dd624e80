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

Fixed effects after ``|`` (``y ~ x | firm + year``, fixest's syntax) are absorbed: the slopes,
residuals, R², model and sandwich variances are those of ``lm`` with a dummy for every level (FWL),
with K = slopes + the rank of the dummies in every small-sample factor and in n - K; ``r2`` and
``adj_r2`` are the full ones (fixest's ``r2``/``ar2``), ``r2_within`` the R² of the demeaned
regression (fixest's ``wr2``). Fixed-effect coefficients are not reported. ``vcov.ssc`` switches
to fixest's or Stata's conventions (see :class:`~c2stats.spec.VcovSpec`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy import linalg

from .. import sandwich
from ..errors import SpecificationError
from ..formula import parse_formula
from ..vcov import check_clusters, dyadic_notes, sandwich_vcov
from ._absorb_engine import demean, fe_parameters, fixed_effects, nested
from ._base import Estimate, Family, FamilyOptions, ModelData, collinear_columns
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
    gof_keys: ClassVar[tuple[str, ...]] = ("r2", "adj_r2", "r2_within", "rmse")
    prediction: ClassVar[str | None] = "mean"
    ssc_conventions: ClassVar[tuple[str, ...]] = ("R", "fixest", "stata")
    absorbs_fixed_effects: ClassVar[bool] = True

    def fit(self, spec, data: ModelData) -> Estimate:
        options = self.Options.model_validate(spec.options)
        X, y = data.X, data.y
        names = data.names
        w = np.ones_like(y) if data.weights is None else data.weights
        keep = w > 0
        frame = data.frame
        if not np.all(keep):  # zero-weight rows do not count (R's lm)
            X, y, w = X[keep], y[keep], w[keep]
            groups = tuple(g[keep] for g in data.groups)
            frame = frame.loc[keep]
        else:
            groups = data.groups
        absorb = parse_formula(spec.formula).absorb
        fe = fixed_effects(frame, absorb) if absorb else None
        y_raw = y
        notes: tuple[str, ...] = ()
        if fe is not None:
            X, y, names, notes = _within(X, y, w, fe, names, spec.id)
        n, k = X.shape
        k_fe = fe_parameters(fe) if fe is not None else 0
        if n <= k + k_fe:
            raise SpecificationError(f"model {spec.id!r}: {n} observations for {k + k_fe} parameters (slopes and "
                                     "absorbed fixed effects) leave no residual degrees of freedom.")
        sw = np.sqrt(w)
        q, r = linalg.qr(X * sw[:, None], mode="economic")
        coef = linalg.solve_triangular(r, q.T @ (y * sw))
        fitted = X @ coef
        resid = y - fitted
        rss = float(np.sum(w * resid**2))
        df_resid = n - k - k_fe
        sigma2 = rss / df_resid
        rinv = linalg.solve_triangular(r, np.eye(k))
        bread = rinv @ rinv.T
        extra: dict = {}
        t_df: float = float(df_resid)
        if spec.vcov.type == "model":
            vcov = sigma2 * bread
        elif spec.vcov.type == "cluster" and spec.vcov.ssc != "R":
            scores = (w * resid)[:, None] * X
            vcov, t_df = _cluster_convention(spec, bread, scores, groups, n, k, fe)
        elif fe is not None and spec.vcov.type == "bootstrap":
            raise SpecificationError(f"model {spec.id!r}: the bootstrap does not yet redo the absorption of fixed "
                                     "effects in each draw; use a cluster variance.")
        elif spec.vcov.type == "bootstrap":
            Xa, ya, wa = data.X, data.y, np.ones_like(data.y) if data.weights is None else data.weights

            def refit(rows):
                sw_b = np.sqrt(wa[rows])
                return np.linalg.lstsq(Xa[rows] * sw_b[:, None], ya[rows] * sw_b, rcond=None)[0]

            vcov, extra = bootstrap_vcov(spec, data, refit, k)
        else:
            scores = (w * resid)[:, None] * X
            vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=bread, scores=scores, groups=groups, n=n,
                                 k=k + k_fe, robust_kind="HC1")
        if fe is not None:  # the full R² of the dummy regression: total sum of squares about the mean
            centre = np.sum(w * y_raw) / np.sum(w)
            tss, df_int = float(np.sum(w * (y_raw - centre) ** 2)), 1
        elif "(Intercept)" in names:
            centre = np.sum(w * fitted) / np.sum(w)
            tss, df_int = float(np.sum(w * (fitted - centre) ** 2)) + rss, 1
        else:
            tss, df_int = float(np.sum(w * fitted**2)) + rss, 0
        r2 = 1 - rss / tss if tss > 0 else np.nan
        loglik = 0.5 * (np.sum(np.log(w)) - n * (np.log(2 * np.pi) + 1 - np.log(n) + np.log(rss)))
        n_params = k + k_fe + (1 if spec.vcov.ssc == "R" else 0)  # R's logLik.lm counts σ; fixest and Stata do not
        glance = {
            "r2": r2,
            "adj_r2": 1 - (1 - r2) * (n - df_int) / df_resid,
            "sigma": float(np.sqrt(sigma2)),
            "rmse": float(np.sqrt(rss / np.sum(w))),
            "df_resid": int(df_resid),
            "loglik": float(loglik),
            "aic": float(-2 * loglik + 2 * n_params),
            "bic": float(-2 * loglik + np.log(n) * n_params),
            **extra,
        }
        if fe is not None:
            within_tss = float(np.sum(w * y**2))  # y is demeaned here
            glance["r2_within"] = 1 - rss / within_tss if within_tss > 0 else np.nan
            glance["n_fixed_effects"] = int(k_fe)
        df = t_df if options.reference == "t" else None
        return Estimate(names, coef, vcov, glance, df_resid=df, notes=notes + dyadic_notes(spec.vcov, groups, spec.id))


def _within(X, y, w, fe, names, model_id: str):
    """Covariates and response with the fixed effects projected out; covariates that the fixed effects
    absorb (constant within a level) are dropped with a note, as fixest does."""
    keep = [j for j, name in enumerate(names) if name != "(Intercept)"]  # absorbed with the fixed effects
    X, names = X[:, keep], tuple(names[j] for j in keep)
    demeaned, _ = demean(np.column_stack([y, X]), fe, w)
    yd, Xd = demeaned[:, 0], demeaned[:, 1:]
    scale = np.maximum(np.abs(X).max(axis=0), 1.0) if X.size else np.ones(0)
    gone = [j for j in range(Xd.shape[1]) if np.abs(Xd[:, j]).max(initial=0.0) <= 1e-10 * scale[j]]
    gone += [j for j in collinear_columns(np.delete(Xd, gone, axis=1)) if j not in gone] if Xd.shape[1] > len(gone) else []
    notes: tuple[str, ...] = ()
    if gone:
        dropped = [names[j] for j in sorted(set(gone))]
        notes = (f"model {model_id!r}: {', '.join(map(repr, dropped))} removed: collinear with the fixed effects "
                 f"({', '.join(fe.columns)}).",)
        kept = [j for j in range(Xd.shape[1]) if j not in set(gone)]
        Xd, names = Xd[:, kept], tuple(names[j] for j in kept)
    if not names:
        raise SpecificationError(f"model {model_id!r}: every covariate is absorbed by the fixed effects "
                                 f"({', '.join(fe.columns)}); nothing is left to estimate.")
    return Xd, yd, names, notes


def _cluster_convention(spec, bread, scores, groups, n: int, k: int, fe):
    """Clustered variance and t degrees of freedom under fixest's or Stata's small-sample conventions."""
    vcov_spec = spec.vcov
    check_clusters(vcov_spec, groups, f"model {spec.id!r}: ")
    raw = sandwich.vcov_cluster(bread=bread, scores=scores, groups=list(groups), correction="none", k=k)
    sizes = [int(len(np.unique(np.asarray(g)))) for g in groups]
    g_min = min(sizes)
    if vcov_spec.ssc == "fixest":  # fixef.K = "nested", cluster.df = t.df = "min"
        exclude = tuple(i for i, code in enumerate(fe.codes) if any(nested(code, np.asarray(g)) for g in groups)) \
            if fe is not None else ()
        # the constant the fixed effects absorbed still counts when every one of them is nested (as fixest)
        k_total = k + (max(fe_parameters(fe, exact=False, exclude=exclude), 1) if fe is not None else 0)
    else:  # Stata regress / areg: every parameter counts
        k_total = k + (fe_parameters(fe) if fe is not None else 0)
    factor = g_min / (g_min - 1) * (n - 1) / (n - k_total)
    return raw * factor, float(g_min - 1)
