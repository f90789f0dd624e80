"""Linear panel estimators (within, pooled, random effects) reconciled with R's plm.

Wraps linearmodels ``PanelOLS`` / ``PooledOLS`` / ``RandomEffects`` and fixes the options
under which its numbers equal plm's (reference README rule 7):

============================  =========================================  ==========================
plm (``vcovHC(method="arellano")``)  factor on the uncorrected cluster meat      linearmodels call
============================  =========================================  ==========================
``model`` (``vcov(plm)``)        σ² = e'e/(n - k - #effects)                 ``unadjusted, debiased=True``
``type="HC0"``                   1                                           ``clustered, debiased=False``
``type="HC1"``                   n/(n - k)                                   ``clustered, debiased=True``
``type="sss"`` (Stata)           G/(G-1) · (n-1)/(n-k)                       ``debiased=True, group_debias=True``
============================  =========================================  ==========================

k = number of slope coefficients (+ intercept if any); effects are never counted
(``auto_df=False, count_effects=False``): with linearmodels' defaults the clustered SEs
of a two-way within model are 8% off plm. Heteroskedasticity-robust (``"robust"``) SEs are
the single-observation cluster case (plm ``method="white1"``): HC0 = 1, HC1 = n/(n-k).
Random effects use the Swamy–Arora variance components (plm's default ``random.method``).

Pure function, arrays in, a frozen dataclass out; term names are passed through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from c2stats.errors import SpecificationError

__all__ = ["PanelFit", "fit_panel"]

Estimator = Literal["within", "pooled", "random"]
PanelVcov = Literal["model", "robust", "cluster"]
PanelHC = Literal["HC0", "HC1", "sss"]


@dataclass(frozen=True, eq=False)
class PanelFit:
    """A linear panel fit with one covariance matrix."""

    coef: np.ndarray
    """Coefficients, in the order of ``names``."""
    names: tuple[str, ...]
    """Term names (for ``within``, the intercept column is dropped as plm does)."""
    vcov: np.ndarray
    """Covariance matrix of the requested type."""
    vcov_type: str
    """``"model"``, ``"robust"`` or ``"cluster"``."""
    hc: str | None
    """``"HC0"``, ``"HC1"`` or ``"sss"`` for robust/cluster, else ``None``."""
    cluster: tuple[str, ...]
    """Cluster dimensions used (``("entity",)``, ``("time",)``, both, or ``("custom",)``)."""
    n_clusters: tuple[int, ...]
    """Number of clusters per dimension."""
    estimator: str
    """``"within"``, ``"pooled"`` or ``"random"``."""
    effects: tuple[str, ...]
    """Absorbed effects for ``within``: ``("entity",)`` or ``("entity", "time")``."""
    n: int
    """Observations."""
    n_entities: int
    """Distinct entities."""
    n_periods: int
    """Distinct time periods."""
    df_resid: int
    """Residual degrees of freedom as plm: n - k - #absorbed effect levels."""
    r2: float
    """R² of the estimated (transformed) regression, as plm's ``r.squared``."""
    sigma2_effects: float | None = None
    """Random effects: variance of the entity effect (plm ``ercomp`` ``id``)."""
    sigma2_idios: float | None = None
    """Random effects: idiosyncratic variance (plm ``ercomp`` ``idios``)."""
    theta: np.ndarray | None = None
    """Random effects: quasi-demeaning weight θ_i per entity (sorted entity order)."""
    scores: np.ndarray | None = None
    """``(n, k)`` score contributions ``x̃ ẽ`` of the transformed regression."""
    bread: np.ndarray | None = None
    """``(X̃'X̃)^{-1}``: with ``scores`` feeds ``c2stats.sandwich`` (dyadic, bootstrap)."""
    raw: Any = field(default=None, repr=False)
    """The linearmodels results object (interactive use only)."""

    @property
    def se(self) -> np.ndarray:
        """Standard errors from ``vcov``."""
        return np.sqrt(np.diag(self.vcov))


def _is_const(col: np.ndarray) -> bool:
    return bool(np.all(col == col[0]))


def _demean_effects(M: np.ndarray, codes: list[np.ndarray], tol: float = 1e-13, maxit: int = 10_000) -> np.ndarray:
    """Residuals of M on the effect dummies (alternating projections, exact for one effect)."""
    out = M.astype(float).copy()
    for _ in range(maxit):
        prev = out.copy()
        for c in codes:
            cnt = np.bincount(c)
            means = np.zeros((cnt.shape[0], out.shape[1]))
            np.add.at(means, c, out)
            out -= (means / cnt[:, None])[c]
        if len(codes) == 1 or np.max(np.abs(out - prev)) <= tol * (1.0 + np.max(np.abs(out))):
            break
    return out


def fit_panel(
    *,
    y: np.ndarray,
    X: np.ndarray,
    names: tuple[str, ...] | list[str],
    entity: np.ndarray,
    time: np.ndarray,
    estimator: Estimator = "within",
    effects: tuple[str, ...] | list[str] = ("entity",),
    vcov: PanelVcov = "model",
    cluster: str | tuple[str, ...] | list[str] | np.ndarray | None = None,
    hc: PanelHC = "HC1",
) -> PanelFit:
    """Fit a linear panel model with plm-compatible standard errors.

    Parameters
    ----------
    y
        Response, length n.
    X
        ``(n, k)`` regressors. Include an intercept column for ``pooled``/``random``; for
        ``within`` constant columns are dropped (absorbed by the effects, as in plm).
    names
        Term names of the columns of ``X``.
    entity, time
        Panel index, length n; each (entity, time) pair must be unique.
    estimator
        ``"within"`` (fixed effects), ``"pooled"`` (OLS) or ``"random"`` (Swamy–Arora GLS).
    effects
        For ``within``: ``["entity"]`` (plm ``effect="individual"``) or
        ``["entity", "time"]`` (``"twoways"``).
    vcov
        ``"model"`` (classical), ``"robust"`` (heteroskedasticity-robust) or ``"cluster"``.
    cluster
        For ``vcov="cluster"``: ``"entity"`` (default), ``"time"``, ``["entity", "time"]``
        (two-way), or a length-n array of custom cluster labels.
    hc
        Small-sample factor for robust/cluster: ``"HC0"`` (none), ``"HC1"`` (n/(n-k)) or
        ``"sss"`` (G/(G-1)·(n-1)/(n-k), Stata). See the module docstring.

    Returns
    -------
    PanelFit
    """
    from linearmodels.panel import PanelOLS, PooledOLS, RandomEffects

    if estimator not in ("within", "pooled", "random"):
        raise SpecificationError(f"unknown panel estimator {estimator!r}; valid: 'within', 'pooled', 'random'")
    effects = tuple(effects)
    if estimator == "within" and effects not in (("entity",), ("entity", "time")):
        raise SpecificationError(f"effects must be ['entity'] or ['entity', 'time'], got {list(effects)}")
    if vcov not in ("model", "robust", "cluster"):
        raise SpecificationError(f"unknown panel vcov {vcov!r}; valid: 'model', 'robust', 'cluster'")
    if hc not in ("HC0", "HC1", "sss"):
        raise SpecificationError(f"unknown hc {hc!r}; valid: 'HC0', 'HC1', 'sss'")
    if vcov == "robust" and hc == "sss":
        raise SpecificationError("hc='sss' needs clusters; use vcov='cluster' or hc='HC0'/'HC1'")
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    names = tuple(names)
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} names for {X.shape[1]} columns")
    if estimator == "within":
        keep_cols = [j for j in range(X.shape[1]) if not _is_const(X[:, j])]
        X = X[:, keep_cols]
        names = tuple(names[j] for j in keep_cols)
    index = pd.MultiIndex.from_arrays([np.asarray(entity), np.asarray(time)], names=["entity", "time"])
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise SpecificationError(f"the panel index is not unique: (entity, time) = {dup} occurs more than once")
    frame = pd.DataFrame(X, index=index, columns=list(names))
    dep = pd.Series(np.asarray(y, dtype=float), index=index, name="y")
    # linearmodels wants the time level numeric or date-like; recode to integer codes.
    t_codes = pd.factorize(np.asarray(time), sort=True)[0]
    e_codes = pd.factorize(np.asarray(entity), sort=True)[0]
    lm_index = pd.MultiIndex.from_arrays([e_codes, t_codes], names=["entity", "time"])
    frame.index = lm_index
    dep.index = lm_index
    order = np.lexsort((t_codes, e_codes))
    frame, dep = frame.iloc[order], dep.iloc[order]

    kw_fit_re: dict[str, Any] = {}
    if estimator == "within":
        model = PanelOLS(dep, frame, entity_effects=True, time_effects=("time" in effects))
    elif estimator == "pooled":
        model = PooledOLS(dep, frame)
    else:
        model = RandomEffects(dep, frame)
        # small_sample=True is plm's Swamy-Arora for unbalanced panels (identical when balanced).
        kw_fit_re = {"small_sample": True}

    kw: dict[str, Any] = {}
    cl_dims: tuple[str, ...] = ()
    n_cl: tuple[int, ...] = ()
    if vcov == "model":
        kw = {"cov_type": "unadjusted", "debiased": True}
    elif vcov == "robust":
        kw = {"cov_type": "robust", "debiased": hc == "HC1"}
    else:
        cl = "entity" if cluster is None else cluster
        kw = {"cov_type": "clustered", "debiased": hc in ("HC1", "sss"), "group_debias": hc == "sss"}
        if isinstance(cl, str):
            cl = (cl,)
        if isinstance(cl, (tuple, list)) and all(isinstance(c, str) for c in cl):
            bad = [c for c in cl if c not in ("entity", "time")]
            if bad or not cl or len(set(cl)) != len(cl):
                raise SpecificationError(
                    f"cluster must be 'entity', 'time', ['entity', 'time'] or an array of labels; got {cl!r}"
                )
            kw["cluster_entity"] = "entity" in cl
            kw["cluster_time"] = "time" in cl
            cl_dims = tuple(c for c in ("entity", "time") if c in cl)
            n_cl = tuple(len(np.unique(e_codes if c == "entity" else t_codes)) for c in cl_dims)
        else:
            labels = np.asarray(cl)
            if labels.shape != (n,):
                raise SpecificationError(f"cluster labels have {labels.shape[0]} rows but the sample has {n}")
            codes = pd.factorize(labels)[0][order]
            kw["clusters"] = pd.DataFrame({"custom": codes}, index=frame.index)
            cl_dims = ("custom",)
            n_cl = (int(codes.max()) + 1,)
    if estimator == "within" and vcov != "model":
        kw.update(auto_df=False, count_effects=False)
    if estimator == "within" and vcov == "model":
        kw.update(auto_df=True, count_effects=True)
    res = model.fit(**kw, **kw_fit_re)

    coef = res.params.reindex(list(names)).to_numpy()
    V = res.cov.reindex(index=list(names), columns=list(names)).to_numpy()
    n_obs = int(res.nobs)
    k = len(names)
    n_ent = int(len(np.unique(e_codes)))
    n_per = int(len(np.unique(t_codes)))
    absorbed = 0
    if estimator == "within":
        absorbed = n_ent + (n_per - 1 if "time" in effects else 0)
    # Transformed regression for the generic sandwich (undo the sort to input row order).
    Xs, ys = frame.to_numpy(), dep.to_numpy()
    extra: dict[str, Any] = {}
    if estimator == "within":
        codes = [e_codes[order]] + ([t_codes[order]] if "time" in effects else [])
        Xt = _demean_effects(Xs, codes)
        yt = _demean_effects(ys[:, None], codes)[:, 0]
        r2 = float(res.rsquared_within) if "time" not in effects else float(res.rsquared)
    elif estimator == "pooled":
        Xt, yt = Xs, ys
        r2 = float(res.rsquared)
    else:
        theta_e = res.theta.to_numpy().reshape(-1)
        theta_full = theta_e[e_codes[order]] if theta_e.shape[0] == n_ent else np.full(n, theta_e[0])
        ec = e_codes[order]
        cnt = np.bincount(ec)

        def qd(M: np.ndarray) -> np.ndarray:
            means = np.zeros((cnt.shape[0], M.shape[1]))
            np.add.at(means, ec, M)
            return M - theta_full[:, None] * (means / cnt[:, None])[ec]

        Xt, yt = qd(Xs), qd(ys[:, None])[:, 0]
        r2 = float(res.rsquared)
        vd = res.variance_decomposition
        extra = dict(
            sigma2_effects=float(vd["Effects"]),
            sigma2_idios=float(vd["Residual"]),
            theta=theta_full[np.unique(ec, return_index=True)[1]],
        )
    resid = yt - Xt @ coef
    inv = np.empty(n, dtype=int)
    inv[order] = np.arange(n)
    scores = (Xt * resid[:, None])[inv]
    bread = np.linalg.inv(Xt.T @ Xt)
    return PanelFit(
        coef=coef,
        names=names,
        vcov=V,
        vcov_type=vcov,
        hc=None if vcov == "model" else hc,
        cluster=cl_dims,
        n_clusters=n_cl,
        estimator=estimator,
        effects=effects if estimator == "within" else (),
        n=n_obs,
        n_entities=n_ent,
        n_periods=n_per,
        df_resid=n_obs - k - absorbed,
        r2=r2,
        scores=scores,
        bread=bread,
        raw=res,
        **extra,
    )
