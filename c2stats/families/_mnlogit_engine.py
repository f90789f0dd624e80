"""Multinomial logit with a declared base category, by exact Newton-Raphson.

Pure function, numpy in, frozen dataclass out; names are handled upstream.

``P(y = j | x) = exp(x'β_j) / Σ_l exp(x'β_l)`` with ``β_base = 0``. Parameters are stored
category-major: ``params`` is ``(J-1, k)`` with one row per non-base category (in the order
of ``categories``), and ``vcov_model``/``scores`` use ``params.ravel()`` order — all
coefficients of the first non-base category, then the next (``nnet::multinom``'s
``vcov`` order and ``coef`` rows). Reference README rule 8: exact Newton (and statsmodels
``MNLogit``) agree with R to 1e-14; nnet's BFGS only to ~3e-9.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from c2stats.errors import SpecificationError

__all__ = ["MNLogitFit", "fit_mnlogit"]


@dataclass(frozen=True, eq=False)
class MNLogitFit:
    """A multinomial logit fit."""

    params: np.ndarray
    """``(J-1, k)`` coefficients, one row per non-base category."""
    vcov_model: np.ndarray
    """``((J-1)k, (J-1)k)`` inverse information, in ``params.ravel()`` order."""
    loglik: float
    """Log-likelihood."""
    loglik_null: float
    """Log-likelihood of the intercept-only model (observed shares)."""
    n: int
    """Observations with positive weight."""
    iterations: int
    """Newton iterations."""
    converged: bool
    """Whether ``max|step| < tol`` was reached within ``maxit``."""
    reason: str | None
    """Why the fit is unreliable, or ``None``."""
    base: object
    """The base (reference) category."""
    categories: tuple
    """Non-base categories, in the row order of ``params``."""
    probabilities: np.ndarray
    """``(n, J)`` fitted probabilities, columns ``(base, *categories)``."""
    _X: np.ndarray
    """The design the fit used (a reference, not a copy), for :attr:`scores`."""
    _y_code: np.ndarray
    """Outcome of each row as a column of ``probabilities`` (0 = base)."""
    _w: np.ndarray
    """Case weights the fit used."""

    @cached_property
    def scores(self) -> np.ndarray:
        """``(n, (J-1)k)`` score contributions ``w (1[y=j] - p_j) x``, ``params.ravel()`` order (formed
        on first use: only sandwich variances need this n x (J-1)k array)."""
        n = self._X.shape[0]
        m = self.probabilities.shape[1] - 1
        R = np.empty((n, m))
        for j in range(m):
            R[:, j] = (self._y_code == j + 1).astype(float) - self.probabilities[:, j + 1]
        R *= self._w[:, None]
        return (R[:, :, None] * self._X[:, None, :]).reshape(n, -1)

    @property
    def coef(self) -> np.ndarray:
        """Flattened coefficients in ``params.ravel()`` order."""
        return self.params.ravel()

    @property
    def bread(self) -> np.ndarray:
        """Sandwich bread: the model covariance."""
        return self.vcov_model

    @property
    def se_model(self) -> np.ndarray:
        """Model standard errors, ``(J-1, k)`` like ``params``."""
        return np.sqrt(np.diag(self.vcov_model)).reshape(self.params.shape)


def _row_blocks(n: int, k: int):
    """Row blocks of about 4 MB of doubles when each row holds ``k`` of them."""
    step = max(1024, (1 << 19) // max(k, 1))
    for s in range(0, n, step):
        yield s, min(n, s + step)


def _pieces(beta: np.ndarray, X: np.ndarray, y_code: np.ndarray, w: np.ndarray, *, hessian: bool = True,
            probabilities: bool = False):
    """Log-likelihood, score ``sum_i w (y_i - p_i) x_i`` (``params.ravel()`` order), Hessian, P.

    Accumulated over blocks of rows, so no temporary grows with n: the Hessian blocks
    ``-X' diag(w p_j (1[j=l] - p_l)) X`` and the score ``R'X`` are sums of per-block products, and
    the ``(n, J)`` probabilities are only formed when asked for (once, after the last step).
    """
    n, k = X.shape
    m = beta.shape[0]
    ll_parts = []
    score = np.zeros((m, k))
    pairs = [(j, l) for j in range(m) for l in range(j, m)]
    G = np.zeros((len(pairs) * k, k)) if hessian else None
    P_all = np.empty((n, m + 1)) if probabilities else None
    for s, e in _row_blocks(n, 4 * k):
        xb, wb, yb = X[s:e], w[s:e], y_code[s:e]
        rows = np.arange(e - s)
        eta = np.empty((e - s, m + 1))
        eta[:, 0] = 0.0
        np.matmul(xb, beta.T, out=eta[:, 1:])
        # log-sum-exp by the row maximum (scipy's logsumexp costs several times more per element)
        top = eta.max(axis=1)
        P = eta - top[:, None]
        np.exp(P, out=P)
        total = P.sum(axis=1)
        P /= total[:, None]
        lse = np.log(total)
        lse += top
        ll_parts.append(np.sum(wb * (eta[rows, yb] - lse)))
        if probabilities:
            P_all[s:e] = P
        R = -P[:, 1:]
        hit = yb > 0
        R[rows[hit], yb[hit] - 1] += 1.0
        R *= wb[:, None]
        score += R.T @ xb
        if hessian:
            # all blocks of the Hessian from one product: [x c_11, x c_12, ...]' x
            Pm = P[:, 1:]
            C = np.empty((e - s, len(pairs)))
            for i, (j, l) in enumerate(pairs):
                np.multiply(wb * Pm[:, j], (1.0 if j == l else 0.0) - Pm[:, l], out=C[:, i])
            Z = (C[:, :, None] * xb[:, None, :]).reshape(e - s, -1)
            G += Z.T @ xb
    H = None
    if hessian:
        H = np.empty((m * k, m * k))
        for i, (j, l) in enumerate(pairs):
            blk = -G[i * k : (i + 1) * k]
            H[j * k : (j + 1) * k, l * k : (l + 1) * k] = blk
            H[l * k : (l + 1) * k, j * k : (j + 1) * k] = blk.T
    return float(np.sum(ll_parts)), score.ravel(), H, P_all


def _rank(X: np.ndarray) -> int:
    """``np.linalg.matrix_rank(X)`` without an n x k copy of X.

    The cross product's eigenvalues are the squared singular values up to ``eps * s_max^2``: when
    the smallest is far above R's threshold (``s_max * max(n, k) * eps``) the design has full rank.
    Otherwise the singular values come from the R factor of a blocked QR (the same singular values).
    """
    n, k = X.shape
    g = X.T @ X
    ev = np.linalg.eigvalsh((g + g.T) / 2.0)
    if ev.size and ev[0] > 1e-6 * ev[-1]:
        return k
    r = np.zeros((0, k))
    for s, e in _row_blocks(n, k):
        r = np.linalg.qr(np.vstack([r, X[s:e]]), mode="r")
    sv = np.linalg.svd(r, compute_uv=False)
    if not sv.size:
        return 0
    return int(np.sum(sv > sv.max() * max(n, k) * np.finfo(float).eps))


def fit_mnlogit(
    *,
    X: np.ndarray,
    y: np.ndarray,
    base: object | None = None,
    weights: np.ndarray | None = None,
    tol: float = 1e-10,
    maxit: int = 100,
) -> MNLogitFit:
    """Fit a multinomial logit by Newton-Raphson with a declared base category.

    Parameters
    ----------
    X
        ``(n, k)`` design (intercept column included if wanted), full column rank.
    y
        Category labels (any hashable values).
    base
        The reference category; default the smallest label (R's first factor level).
        Other categories are ordered by sorted label.
    weights
        Case weights (default 1).
    tol, maxit
        Stop when the largest absolute Newton step is below ``tol``.

    Returns
    -------
    MNLogitFit

    Notes
    -----
    Exact Newton from β = 0 with the analytic Hessian
    ``-Σ_i w_i (diag(p_i) - p_i p_i') ⊗ x_i x_i'`` (observed = expected information for this
    canonical model), halving a step while it lowers the log-likelihood. Non-convergence
    (e.g. a category perfectly predicted: separation) is reported in ``converged``/``reason``.
    """
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    yv = pd.Series(np.asarray(y)).reset_index(drop=True)
    if yv.shape[0] != n:
        raise ValueError(f"y has {yv.shape[0]} rows but X has {n}")
    if yv.isna().any():
        raise ValueError("y has missing values; drop them upstream")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if np.any(w < 0):
        raise SpecificationError("weights must be non-negative")
    labels = sorted(pd.unique(yv[w > 0]).tolist())
    if base is None:
        base = labels[0]
    if base not in labels:
        raise SpecificationError(f"base category {base!r} does not occur in the outcome; observed: {labels}")
    if len(labels) < 3:
        raise SpecificationError(
            f"a multinomial logit needs at least 3 outcome categories, got {len(labels)} ({labels}); use 'logit'"
        )
    cats = tuple(c for c in labels if c != base)
    order = [base, *cats]
    y_code = np.zeros(n, dtype=np.int8 if len(order) < 128 else np.int64)
    for j, c in enumerate(order[1:], start=1):
        y_code[(yv == c).to_numpy()] = j
    keep = w > 0
    if _rank(X if keep.all() else X[keep]) < k:
        raise SpecificationError(f"the design matrix is rank deficient (rank < {k} terms); remove collinear terms")
    m = len(cats)
    beta = np.zeros((m, k))
    ll, score, H, _ = _pieces(beta, X, y_code, w)
    conv = False
    reason = None
    it = 0
    for it in range(1, maxit + 1):
        try:
            step = np.linalg.solve(-H, score).reshape(m, k)
        except np.linalg.LinAlgError:
            reason = "singular information matrix (a category may be perfectly predicted)"
            break
        for _ in range(60):
            new = _pieces(beta + step, X, y_code, w)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
        beta = beta + step
        ll, score, H, _ = new
        if np.max(np.abs(step)) < tol:
            conv = True
            break
    if not conv and reason is None:
        reason = f"Newton iterations did not converge in {maxit} iterations (separation?)"
    try:
        vcov = np.linalg.inv(-H)
        vcov = (vcov + vcov.T) / 2.0
    except np.linalg.LinAlgError:
        vcov = np.full_like(H, np.nan)
    P = _pieces(beta, X, y_code, w, hessian=False, probabilities=True)[3]
    shares = np.bincount(y_code, weights=w, minlength=m + 1) / w.sum()
    with np.errstate(divide="ignore"):
        ll_null = float(np.sum(w * np.log(shares)[y_code]))
    return MNLogitFit(
        params=beta,
        vcov_model=vcov,
        loglik=ll,
        loglik_null=ll_null,
        n=int(keep.sum()),
        iterations=it,
        converged=conv,
        reason=reason,
        base=base,
        categories=cats,
        probabilities=P,
        _X=X,
        _y_code=y_code,
        _w=w,
    )
