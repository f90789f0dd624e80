"""Weibull and exponential regression in survreg's accelerated-failure-time form.

Pure functions, numpy in, frozen dataclasses out; names are handled upstream.

Model (R ``survival::survreg``, ``dist = "weibull"`` / ``"exponential"``):
``log T = x'β + σ W`` with W standard minimum extreme value, so with
``z = (log t - x'β - offset)/σ`` each observation contributes

``ℓ_i = w_i [ d_i (z_i - log σ - log t_i) - exp(z_i) ]``

(``d`` = 1 for an event, 0 for right censoring). The ``- log t`` Jacobian is included, so
``loglik`` equals ``survreg``'s ``loglik`` (on the time scale). The exponential is the
special case σ = 1.

Parameters are ``θ = (β, log σ)`` (survreg's ``Log(scale)``); the model covariance is the
inverse of the observed information in θ, as ``vcov(survreg)``.

The proportional-hazards form (Stata ``streg``) is a reparameterisation:
``β_PH = -β/σ``, ``log_shape = -log σ`` (shape p = 1/σ), with the delta-method covariance
``J V J'`` (reference README rule 5); see :func:`to_ph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from c2stats.errors import SpecificationError

__all__ = ["SurvregFit", "PhForm", "fit_survreg", "to_ph"]

Dist = Literal["weibull", "exponential"]


@dataclass(frozen=True, eq=False)
class SurvregFit:
    """A Weibull or exponential AFT fit (survreg parameterisation)."""

    dist: str
    """``"weibull"`` or ``"exponential"``."""
    params: np.ndarray
    """All parameters: ``(β, log σ)`` for Weibull, ``β`` for exponential."""
    vcov_model: np.ndarray
    """Inverse observed information of ``params`` (``vcov(survreg)``)."""
    loglik: float
    """Log-likelihood as survreg reports it (time scale, ``-log t`` Jacobian included)."""
    n: int
    """Observations with positive weight."""
    n_events: int
    """Events among them."""
    iterations: int
    """Newton iterations of the final fit (Weibull: after the exponential start)."""
    converged: bool
    """Whether the step criterion was met within ``maxit``."""
    reason: str | None
    """Why the fit is unreliable, or ``None``."""
    scores: np.ndarray
    """``(n, p)`` weighted score contributions for ``params`` (survreg's dfbeta = scores @ vcov)."""
    linear_predictor: np.ndarray
    """``x'β + offset`` (log-time scale)."""

    @property
    def coef(self) -> np.ndarray:
        """AFT coefficients β (effects on log time)."""
        return self.params[: self.n_coef]

    @property
    def n_coef(self) -> int:
        """Number of regression coefficients (columns of X)."""
        return self.params.shape[0] - (1 if self.dist == "weibull" else 0)

    @property
    def log_scale(self) -> float:
        """log σ (0 for the exponential)."""
        return float(self.params[-1]) if self.dist == "weibull" else 0.0

    @property
    def scale(self) -> float:
        """σ, survreg's ``scale``."""
        return float(np.exp(self.log_scale))

    @property
    def bread(self) -> np.ndarray:
        """Sandwich bread: the model covariance of ``params``."""
        return self.vcov_model

    @property
    def se_model(self) -> np.ndarray:
        """Model standard errors of ``params``."""
        return np.sqrt(np.diag(self.vcov_model))


@dataclass(frozen=True, eq=False)
class PhForm:
    """Proportional-hazards parameters of a Weibull/exponential fit with their covariance."""

    params: np.ndarray
    """``(β_PH, log_shape)`` for Weibull, ``β_PH`` for exponential."""
    vcov: np.ndarray
    """Delta-method covariance of ``params``."""
    jacobian: np.ndarray
    """``∂ params_PH / ∂ params_AFT``."""
    dist: str
    """``"weibull"`` or ``"exponential"``."""

    @property
    def shape(self) -> float:
        """Weibull shape p = 1/σ (1 for the exponential)."""
        return float(np.exp(self.params[-1])) if self.dist == "weibull" else 1.0

    @property
    def se(self) -> np.ndarray:
        """Standard errors of ``params``."""
        return np.sqrt(np.diag(self.vcov))


def _loglik_parts(
    params: np.ndarray, X: np.ndarray, logt: np.ndarray, d: np.ndarray, w: np.ndarray, off: np.ndarray, weibull: bool
):
    k = X.shape[1]
    beta = params[:k]
    logsig = params[k] if weibull else 0.0
    sig = np.exp(logsig)
    eta = X @ beta + off
    z = (logt - eta) / sig
    ez = np.exp(z)
    ll = float(np.sum(w * (d * (z - logsig - logt) - ez)))
    # First derivatives of ℓ_i (before weights): ∂/∂η = (e^z - d)/σ; ∂/∂logσ = z(e^z - d) - d.
    g_eta = (ez - d) / sig
    per_obs = [g_eta[:, None] * X]
    if weibull:
        per_obs.append((z * (ez - d) - d)[:, None])
    scores = w[:, None] * np.hstack(per_obs)
    # Second derivatives: ∂²/∂η² = -e^z/σ²; ∂²/∂η∂logσ = -(z e^z + e^z - d)/σ;
    # ∂²/∂logσ² = -z(e^z - d) - z² e^z.
    h_ee = -w * ez / sig**2
    H = (X * h_ee[:, None]).T @ X
    if weibull:
        h_es = -w * (z * ez + ez - d) / sig
        h_ss = float(np.sum(-w * (z * (ez - d) + z * z * ez)))
        col = X.T @ h_es
        H = np.block([[H, col[:, None]], [col[None, :], np.array([[h_ss]])]])
    return ll, scores, H, eta


def _newton(
    start: np.ndarray, args: tuple, maxit: int, step_tol: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray, int, bool, str | None]:
    params = start.copy()
    ll, scores, H, eta = _loglik_parts(params, *args)
    if not np.isfinite(ll):
        raise SpecificationError("the log-likelihood is not finite at the starting values; rescale the covariates")
    it = 0
    reason = None
    for it in range(1, maxit + 1):
        grad = scores.sum(axis=0)
        try:
            step = np.linalg.solve(-H, grad)
        except np.linalg.LinAlgError:
            return params, ll, scores, H, eta, it, False, "singular information matrix"
        if not np.all(np.isfinite(step)):
            return params, ll, scores, H, eta, it, False, "non-finite Newton step"
        # Step halving (as survreg) whenever the log-likelihood would decrease.
        for _ in range(60):
            cand = params + step
            new = _loglik_parts(cand, *args)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
        else:
            return params, ll, scores, H, eta, it, False, "step halving failed to increase the log-likelihood"
        params = cand
        ll, scores, H, eta = new
        if np.max(np.abs(step)) < step_tol:
            return params, ll, scores, H, eta, it, True, None
    reason = f"Newton iterations did not converge in {maxit} iterations"
    return params, ll, scores, H, eta, it, False, reason


def fit_survreg(
    *,
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    dist: Dist = "weibull",
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    maxit: int = 100,
    step_tol: float = 1e-10,
) -> SurvregFit:
    """Fit a Weibull or exponential AFT model by Newton-Raphson, as ``survival::survreg``.

    Parameters
    ----------
    X
        ``(n, k)`` design (intercept column included if wanted), full column rank.
    time
        Positive follow-up times.
    event
        1 = event, 0 = right-censored.
    dist
        ``"weibull"`` or ``"exponential"``.
    weights
        Case weights (default 1); zero-weight rows do not count in ``n``.
    offset
        Known term on the log-time scale.
    maxit, step_tol
        Newton stops when the largest absolute step is below ``step_tol`` (quadratic
        convergence puts the estimate within ~step² of the root; survreg's reference values
        used ``rel.tolerance = 1e-12`` on the log-likelihood).

    Returns
    -------
    SurvregFit

    Notes
    -----
    Analytic score and Hessian in ``(β, log σ)``. The exponential model (concave in β) is
    fitted first, from the constant ``log(Σ w t / Σ w d)``; the Weibull fit starts from it
    with ``log σ = 0`` (Newton from an OLS start diverges on ``ovarian``, reference README
    rule 5). Steps are halved while they lower the log-likelihood.

    Cluster-robust variance as survreg's ``cluster()``/``robust=TRUE`` (``D'D`` with
    ``D`` = dfbeta residuals summed by cluster, no small-sample factor) is
    ``c2stats.sandwich.vcov_cluster(bread=fit.bread, scores=fit.scores, groups=g,
    correction="none")``; apply :func:`to_ph` to it for the PH form.
    """
    if dist not in ("weibull", "exponential"):
        raise SpecificationError(f"unknown distribution {dist!r}; valid: 'weibull', 'exponential'")
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    t = np.asarray(time, dtype=float).reshape(-1)
    d = np.asarray(event, dtype=float).reshape(-1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float).reshape(-1)
    if not (t.shape[0] == d.shape[0] == w.shape[0] == off.shape[0] == n):
        raise ValueError(f"time, event, weights and offset must have {n} rows like X")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(t)) and np.all(np.isfinite(w))):
        raise ValueError("X, time and weights must be finite; drop missing values upstream")
    if np.any(t <= 0):
        raise SpecificationError(
            f"{int(np.sum(t <= 0))} survival time(s) are zero or negative; Weibull/exponential models need t > 0"
        )
    if not np.all(np.isin(d, (0.0, 1.0))):
        raise SpecificationError("the event indicator must be 0 (censored) or 1 (event)")
    if np.any(w < 0):
        raise SpecificationError("weights must be non-negative")
    keep = w > 0
    if np.sum(w * d) <= 0:
        raise SpecificationError("no events in the estimation sample; the model is not identified")
    if np.linalg.matrix_rank(X[keep]) < k:
        raise SpecificationError(f"the design matrix is rank deficient (rank < {k} terms); remove collinear terms")
    logt = np.log(t)
    base = np.log(np.sum(w * t) / np.sum(w * d))
    beta0 = np.linalg.lstsq(X[keep], np.full(int(keep.sum()), base) - off[keep], rcond=None)[0]
    args_exp = (X, logt, d, w, off, False)
    beta_exp, ll, scores, H, eta, it, conv, reason = _newton(beta0, args_exp, maxit, step_tol)
    if dist == "weibull" and conv:
        args = (X, logt, d, w, off, True)
        params, ll, scores, H, eta, it, conv, reason = _newton(np.append(beta_exp, 0.0), args, maxit, step_tol)
    elif dist == "weibull":
        params = np.append(beta_exp, 0.0)
        reason = f"exponential start did not converge: {reason}"
        ll, scores, H, eta = _loglik_parts(params, X, logt, d, w, off, True)
    else:
        params = beta_exp
    try:
        vcov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        vcov = np.full_like(H, np.nan)
        conv = False
        reason = reason or "singular information matrix at the estimate"
    vcov = (vcov + vcov.T) / 2.0
    return SurvregFit(
        dist=dist,
        params=params,
        vcov_model=vcov,
        loglik=ll,
        n=int(keep.sum()),
        n_events=int(np.sum(d[keep])),
        iterations=it,
        converged=conv,
        reason=reason,
        scores=scores,
        linear_predictor=eta,
    )


def to_ph(fit: SurvregFit, vcov: np.ndarray | None = None) -> PhForm:
    """Proportional-hazards form of a Weibull/exponential AFT fit, with delta-method covariance.

    Parameters
    ----------
    fit
        Result of :func:`fit_survreg`.
    vcov
        Covariance of ``fit.params`` to transform (model by default; pass a cluster-robust
        one to get cluster SEs in the PH form).

    Returns
    -------
    PhForm
        ``params = (-β/σ, -log σ)`` for Weibull (log hazard ratios and log shape p = 1/σ),
        ``-β`` for exponential; ``vcov = J V J'``.

    Notes
    -----
    With θ = (β, log σ): ``∂(-β e^{-log σ})/∂β = -I/σ``, ``∂(-β e^{-log σ})/∂log σ = β/σ``,
    ``∂(-log σ)/∂log σ = -1``. Matches Stata ``streg, distribution(weibull)`` and the
    delta-method values in golden.json (``ovarian_param``).
    """
    v = fit.vcov_model if vcov is None else np.asarray(vcov, dtype=float)
    k = fit.n_coef
    beta = fit.coef
    if fit.dist == "weibull":
        sig = fit.scale
        J = np.zeros((k + 1, k + 1))
        J[:k, :k] = -np.eye(k) / sig
        J[:k, k] = beta / sig
        J[k, k] = -1.0
        params = np.append(-beta / sig, -fit.log_scale)
    else:
        J = -np.eye(k)
        params = -beta
    out = J @ v @ J.T
    return PhForm(params=params, vcov=(out + out.T) / 2.0, jacobian=J, dist=fit.dist)
