"""Linear mixed models with random intercepts, as R's ``lme4::lmer``.

Pure functions, numpy in, frozen dataclasses out. The model is

    y = Xβ + Z b + e,   b ~ N(0, σ² Λθ Λθ'),   e ~ N(0, σ² I),

with one random intercept per level of each grouping factor (``(1 | a)``, or crossed/nested
``(1 | a) + (1 | b)``); ``Λθ`` is diagonal with the relative standard deviation ``θ_f = σ_f / σ``
of factor ``f`` on that factor's columns of ``Z``.

Method (Bates, Mächler, Bolker & Walker 2015, "Fitting linear mixed-effects models using lme4",
J. Stat. Softw. 67(1), §3.2-3.4): for given θ the penalised least squares problem
``min_{u,β} ‖y − Xβ − ZΛθu‖² + ‖u‖²`` is solved by the blocked Cholesky factorisation

    Lθ Lθ' = Λθ'Z'ZΛθ + I,   Lθ RZX = Λθ'Z'X,   RX'RX = X'X − RZX'RZX,

giving the penalised residual sum of squares r²(θ) and the profiled deviances (eqs. 34, 41)

    ML:    −2ℓ(θ)   = log|Lθ|² + n [1 + log(2π r²(θ) / n)]
    REML:  −2ℓR(θ)  = log|Lθ|² + log|RX|² + (n − p) [1 + log(2π r²(θ) / (n − p))].

Only θ (one number per grouping factor) is optimised, under θ ≥ 0. lmer does this with a
derivative-free BOBYQA to ``ftol_abs = 1e-8``; here the analytic gradient is used to reach the
optimum to rounding: with ``s_f = θ_f²`` and ``P = H⁻¹ − H⁻¹X(X'H⁻¹X)⁻¹X'H⁻¹``, ``H = I + ZΛΛ'Z'``,

    ∂(−2ℓR)/∂s_f = tr(Z_f' P Z_f) − (n − p) ‖Z_f' P y‖² / y'Py
    ∂(−2ℓ)/∂s_f  = tr(Z_f' H⁻¹ Z_f) − n ‖Z_f' H⁻¹ (y − Xβ̂)‖² / r²

(``y'Py = r²``). One factor: Brent root-finding on this derivative in a bracket found by a scan of
the deviance, or θ = 0 when the deviance increases from the boundary. Several factors: L-BFGS-B on
s = θ² ≥ 0 from lmer's start θ = 1 (in θ the slope vanishes at the boundary whatever its sign), a
check that no factor left at θ = 0 could still lower the deviance, and Newton steps on the interior
θ. The factor with most levels has a diagonal block in Λ'Z'ZΛ + I, so L is built by blocks and only
the other factors' block is dense (see ``_Design``); memory and time grow with q1·q2², not q³.

At θ̂: σ̂² = r²/(n − p) (REML) or r²/n (ML), as ``sigma(lmer)``; ``vcov`` is ``σ̂² (RX'RX)⁻¹``, as
``vcov(lmer)`` (conditional on θ̂); the variance components are ``σ̂² θ̂_f²``; ``loglik`` is
``logLik(lmer)`` (the REML log-likelihood under REML, ``−REMLcrit/2``) with ``p + m + 1``
parameters for AIC and BIC. The R² are Nakagawa & Schielzeth's (2013) for random intercepts, as
``performance::r2_nakagawa``: with ``σ²_f = var(Xβ̂)`` (``n − 1`` denominator) and
``σ²_r = Σ_f σ̂²_f``, marginal ``σ²_f / (σ²_f + σ²_r + σ̂²)`` and conditional
``(σ²_f + σ²_r) / (σ²_f + σ²_r + σ̂²)``; the ICC is ``performance::icc``'s adjusted
``σ²_r / (σ²_r + σ̂²)``. Like performance, when some θ̂_f < 1e-5 (a singular fit) the random
variances count as unavailable: the conditional R² and the ICC are NaN and the marginal R² is
``σ²_f / (σ²_f + σ̂²)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

__all__ = ["LmmFit", "fit_lmm", "profiled_deviance"]

_LOG_2PI = float(np.log(2.0 * np.pi))
_GRADIENT_OK = 1e-6  #: |∂dev/∂θ| per unit deviance accepted as stationary (lme4 warns above 2e-3, scaled)
_THETA_MAX = 1e10  #: σ_group/σ beyond which the residual variance counts as zero (no finite optimum)
_SINGULAR_LME4 = 1e-4  #: lme4::isSingular's tol on θ
_SINGULAR_PERFORMANCE = 1e-5  #: insight's .is_singular tolerance, below which performance drops random variances


@dataclass(frozen=True)
class LmmFit:
    """A random-intercept linear mixed model at the optimum of its (REML or ML) profiled deviance."""

    coef: np.ndarray  #: fixed effects β̂
    vcov: np.ndarray  #: ``vcov(lmer)``: σ̂² (X'H⁻¹X)⁻¹ at θ̂
    theta: np.ndarray  #: relative standard deviations σ_f / σ, one per grouping factor
    sigma2_resid: float  #: σ̂², ``sigma(lmer)^2``
    sigma2_groups: np.ndarray  #: σ̂² θ̂_f², the random-intercept variances (``VarCorr``)
    ranef: tuple[np.ndarray, ...]  #: conditional modes of the intercepts, per factor (``ranef(lmer)``)
    reml: bool
    deviance: float  #: the optimised criterion: REML criterion (``REMLcrit``) or ML deviance
    loglik: float  #: ``logLik(lmer)``: −deviance / 2
    df: int  #: parameters counted by AIC/BIC: p + m + 1
    aic: float
    bic: float
    r2_marginal: float  #: Nakagawa & Schielzeth, as ``performance::r2_nakagawa``
    r2_conditional: float  #: NaN for a singular fit, as performance
    icc: float  #: adjusted ICC, ``performance::icc``; NaN for a singular fit
    nobs: int
    n_levels: tuple[int, ...]  #: levels of each grouping factor
    converged: bool
    boundary: bool  #: some θ̂_f < 1e-4: lmer's "boundary (singular) fit" (``isSingular``)
    gradient: np.ndarray  #: ∂deviance/∂θ at θ̂ (zero for a factor at the boundary)
    n_evaluations: int
    message: str


# ----------------------------------------------------------------------------------------------
# The design: cross-products computed once, every θ reuses them
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Design:
    """Cross-products computed once; factors reordered by decreasing number of levels (as lmer).

    ``Z = [Z1 | Z2]``: Z1 the indicator columns of the factor with most levels (its block of Z'Z is
    diagonal, ``n1``), Z2 those of all other factors (``N12 = Z1'Z2``, ``N22 = Z2'Z2``, dense). Every
    step is then O(q1·q2² + q2³), not O(q³): a thousand dyads crossed with 50 years costs little.
    """

    X: np.ndarray
    y: np.ndarray
    order: np.ndarray  #: internal factor i is the caller's factor ``order[i]``
    codes: tuple[np.ndarray, ...]  #: per factor (internal order), 0..levels-1
    offsets: np.ndarray  #: first column of each factor in Z
    factor: np.ndarray  #: factor index of each column of Z
    q1: int
    n1: np.ndarray  #: level counts of the first factor
    N12: np.ndarray  #: q1 × q2
    N22: np.ndarray  #: q2 × q2
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    def ztz_times(self, v: np.ndarray) -> np.ndarray:
        """Z'Z v for a q-vector or q×k matrix."""
        q1 = self.q1
        v1, v2 = v[:q1], v[q1:]
        top = (self.n1 * v1.T).T + self.N12 @ v2
        return np.concatenate([top, self.N12.T @ v1 + self.N22 @ v2])


def _design(X: np.ndarray, y: np.ndarray, groups: Sequence[np.ndarray]) -> _Design:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != len(y):
        raise ValueError(f"X must be n×p and y of length n; got X {X.shape}, y {y.shape}")
    if not len(groups):
        raise ValueError("at least one grouping factor is needed")
    codes, sizes = [], []
    for g in groups:
        c = np.asarray(g)
        if c.shape != y.shape:
            raise ValueError(f"each grouping factor needs one code per row; got {c.shape} for n = {len(y)}")
        c = np.unique(c, return_inverse=True)[1].astype(np.intp).ravel()
        codes.append(c)
        sizes.append(int(c.max()) + 1)
    order = np.argsort(-np.asarray(sizes), kind="stable")
    codes = [codes[i] for i in order]
    sizes = [sizes[i] for i in order]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    q, q1 = int(sum(sizes)), sizes[0]
    factor = np.repeat(np.arange(len(sizes)), sizes)
    cols = [c + o for c, o in zip(codes, offsets)]
    ZtX = np.zeros((q, X.shape[1]))
    Zty = np.zeros(q)
    for col in cols:
        for j in range(X.shape[1]):
            ZtX[:, j] += np.bincount(col, weights=X[:, j], minlength=q)
        Zty += np.bincount(col, weights=y, minlength=q)
    q2 = q - q1
    N12, N22 = np.zeros((q1, q2)), np.zeros((q2, q2))
    for a in cols[1:]:
        np.add.at(N12, (cols[0], a - q1), 1.0)
        for b in cols[1:]:
            np.add.at(N22, (a - q1, b - q1), 1.0)
    return _Design(X=X, y=y, order=order, codes=tuple(codes), offsets=offsets, factor=factor, q1=q1,
                   n1=np.bincount(cols[0], minlength=q1).astype(float), N12=N12, N22=N22,
                   ZtX=ZtX, Zty=Zty, XtX=X.T @ X, Xty=X.T @ y)


@dataclass(frozen=True)
class _State:
    deviance: float
    dev_ds: np.ndarray  #: ∂deviance/∂(θ_f²), internal factor order
    beta: np.ndarray
    M: np.ndarray  #: RX'RX = X'H⁻¹X
    pwrss: float  #: r²(θ)
    u: np.ndarray  #: spherical random effects


class _Factor:
    """The Cholesky factor L of A = Λ'Z'ZΛ + I in blocks: L11 = diag(s1), L21, L22 (dense)."""

    def __init__(self, d: _Design, lam: np.ndarray):
        q1 = d.q1
        self.q1 = q1
        d1 = lam[:q1] ** 2 * d.n1 + 1.0
        self.s1 = np.sqrt(d1)
        self.logdet = float(np.sum(np.log(d1)))
        self.dense = d.N22.shape[0] > 0
        if self.dense:
            lam2 = lam[q1:]
            self.L21 = (lam2[:, None] * d.N12.T) * (lam[:q1] / self.s1)[None, :]
            S = lam2[:, None] * d.N22 * lam2[None, :] - self.L21 @ self.L21.T
            S[np.diag_indices_from(S)] += 1.0
            self.L22 = linalg.cholesky(S, lower=True, check_finite=False)
            self.logdet += 2.0 * float(np.sum(np.log(np.diag(self.L22))))

    def solve(self, b: np.ndarray) -> np.ndarray:
        """L⁻¹ b."""
        v1 = (b[:self.q1].T / self.s1).T
        if not self.dense:
            return v1
        v2 = linalg.solve_triangular(self.L22, b[self.q1:] - self.L21 @ v1, lower=True, check_finite=False)
        return np.concatenate([v1, v2])

    def solve_t(self, c: np.ndarray) -> np.ndarray:
        """L'⁻¹ c."""
        if not self.dense:
            return (c.T / self.s1).T
        w2 = linalg.solve_triangular(self.L22, c[self.q1:], lower=True, trans="T", check_finite=False)
        return np.concatenate([((c[:self.q1] - self.L21.T @ w2).T / self.s1).T, w2])

    def diag_w(self, d: _Design, lam: np.ndarray) -> np.ndarray:
        """diag(Z'H⁻¹Z) = diag(Z'Z) − column sums of squares of L⁻¹ΛZ'Z, block by block."""
        q1 = self.q1
        g11 = lam[:q1] * d.n1 / self.s1  # L⁻¹ΛZ'Z, block-1 columns, block-1 rows: diagonal
        out1 = d.n1 - g11**2
        if not self.dense:
            return out1
        lam2 = lam[q1:]
        # block-1 columns, block-2 rows; block-2 columns, block-1 then block-2 rows
        g21 = linalg.solve_triangular(self.L22, (lam2[:, None] * d.N12.T) - self.L21 * g11[None, :], lower=True,
                                      check_finite=False)
        g12 = (lam[:q1, None] * d.N12) / self.s1[:, None]
        g22 = linalg.solve_triangular(self.L22, lam2[:, None] * d.N22 - self.L21 @ g12, lower=True,
                                      check_finite=False)
        out1 = out1 - np.sum(g21**2, axis=0)
        out2 = np.diag(d.N22) - np.sum(g12**2, axis=0) - np.sum(g22**2, axis=0)
        return np.concatenate([out1, out2])


def _evaluate(d: _Design, theta: np.ndarray, reml: bool, gradient: bool = True) -> _State:
    """Deviance (and its slopes in θ²) at θ in the internal factor order."""
    n, p = d.n, d.p
    lam = np.asarray(theta, dtype=float)[d.factor]
    L = _Factor(d, lam)
    solved = L.solve(np.column_stack([lam * d.Zty, lam[:, None] * d.ZtX]))
    cu, RZX = solved[:, 0], solved[:, 1:]
    M = d.XtX - RZX.T @ RZX
    M = (M + M.T) / 2
    RX = linalg.cholesky(M, lower=False, check_finite=False)
    beta = linalg.cho_solve((RX, False), d.Xty - RZX.T @ cu, check_finite=False)
    u = L.solve_t(cu - RZX @ beta)
    # r² from the residuals rather than y'y − ‖cu‖² − ‖cβ‖², which cancels badly when r² ≪ y'y
    b = lam * u
    fitted = d.X @ beta
    for c, o in zip(d.codes, d.offsets):
        fitted = fitted + b[o + c]
    pwrss = float(np.sum((d.y - fitted) ** 2) + u @ u)
    dof = n - p if reml else n
    deviance = L.logdet + dof * (1.0 + _LOG_2PI + np.log(pwrss / dof))
    if reml:
        deviance += 2.0 * np.sum(np.log(np.abs(np.diag(RX))))
    dev_ds = np.full(len(d.offsets), np.nan)
    if gradient:
        # Z'H⁻¹X = Z'X − Z'ZΛA⁻¹ΛZ'X = Z'X − Z'Z(Λ L'⁻¹ RZX); likewise Z'H⁻¹y with cu
        back = L.solve_t(np.column_stack([cu, RZX]))
        corr = d.ztz_times(lam[:, None] * back)
        k, K = d.Zty - corr[:, 0], d.ZtX - corr[:, 1:]
        zpy = k - K @ beta  # Z'Py = Z'H⁻¹(y − Xβ̂)
        diag_p = L.diag_w(d, lam)
        if reml:
            diag_p = diag_p - np.sum(K * linalg.cho_solve((RX, False), K.T, check_finite=False).T, axis=1)
        m = len(d.offsets)
        dev_ds = (np.bincount(d.factor, weights=diag_p, minlength=m)
                  - dof * np.bincount(d.factor, weights=zpy * zpy, minlength=m) / pwrss)
    return _State(deviance=float(deviance), dev_ds=dev_ds, beta=beta, M=M, pwrss=pwrss, u=u)


def profiled_deviance(theta: Sequence[float] | float, *, X: np.ndarray, y: np.ndarray,
                      groups: Sequence[np.ndarray], reml: bool = True) -> float:
    """The profiled REML criterion or ML deviance at ``theta`` (lmer's ``devFunOnly = TRUE`` function)."""
    d = _design(X, y, groups)
    return _evaluate(d, np.atleast_1d(np.asarray(theta, dtype=float))[d.order], reml, gradient=False).deviance


# ----------------------------------------------------------------------------------------------
# Optimising θ
# ----------------------------------------------------------------------------------------------
def _optimise_scalar(d: _Design, reml: bool, xtol: float, maxiter: int) -> tuple[float, bool, int, str]:
    evaluations = 0

    def dev(t):
        nonlocal evaluations
        evaluations += 1
        return _evaluate(d, np.array([t]), reml, gradient=False).deviance

    def slope(t):  # ∂dev/∂θ² : its sign is that of ∂dev/∂θ for θ > 0
        nonlocal evaluations
        evaluations += 1
        return float(_evaluate(d, np.array([t]), reml).dev_ds[0])

    # θ is σ_group/σ: scan 1e-4..1e4 on a log grid (the profiled deviance may have a local
    # minimum at θ = 0 besides an interior one, so the boundary is one more grid point)
    grid = list(np.concatenate([[0.0], np.logspace(-4, 4, 33)]))
    values = [dev(t) for t in grid]
    while int(np.argmin(values)) == len(grid) - 1 and grid[-1] < _THETA_MAX:
        grid.append(grid[-1] * 10 ** 0.25)  # residual variance tiny next to the group variance: look further
        values.append(dev(grid[-1]))
    i = int(np.argmin(values))
    if i == len(grid) - 1:
        return float(grid[-1]), False, evaluations, f"the optimum lies beyond θ = {grid[-1]:.3g} (group variance ≫ residual variance)"
    if i == 0:
        if slope(0.0) >= 0:
            return 0.0, True, evaluations, "boundary: θ = 0 (the group variance is estimated as zero)"
        lo, hi = 0.0, grid[1]
    else:
        lo, hi = grid[i - 1], grid[i + 1]
    s_lo, s_hi = slope(lo), slope(hi)
    if s_lo < 0 < s_hi:
        root, info = optimize.brentq(slope, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=maxiter,
                                     full_output=True, disp=False)
        return float(root), bool(info.converged), evaluations, info.flag
    res = optimize.minimize_scalar(dev, bounds=(lo, hi), method="bounded", options={"xatol": xtol, "maxiter": maxiter})
    return float(res.x), bool(res.success), evaluations, str(res.message)


def _optimise_vector(d: _Design, reml: bool, xtol: float, gtol: float, maxiter: int) -> tuple[np.ndarray, bool, int, str]:
    m = len(d.offsets)
    evaluations = 0

    def state(theta):
        nonlocal evaluations
        evaluations += 1
        return _evaluate(d, theta, reml)

    def objective(s2):
        s = state(np.sqrt(s2))
        return s.deviance, s.dev_ds

    # L-BFGS-B on s = θ², where the slope at the boundary is ∂dev/∂θ² itself: in θ it is 2θ ∂dev/∂θ²,
    # zero at θ = 0 whatever the sign, and a step projected onto θ = 0 would stop there
    s2 = np.ones(m)  # lmer's start θ = 1
    message = ""
    for _ in range(m + 1):
        res = optimize.minimize(objective, s2, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * m,
                                options={"ftol": 1e-15, "gtol": gtol, "maxiter": maxiter, "maxcor": 20})
        s2 = np.maximum(res.x, 0.0)
        message = str(res.message)
        slope = state(np.sqrt(s2)).dev_ds
        stuck = (s2 <= xtol**2) & (slope < 0)
        if not stuck.any():
            break
        s2 = np.where(stuck, 0.01, s2)
    theta = np.sqrt(s2)
    free = theta > xtol
    theta = np.where(free, theta, 0.0)
    current = state(theta)
    # L-BFGS-B stops on a relative reduction of the deviance; Newton steps on ∂dev/∂θ (central-difference
    # Jacobian of the analytic gradient) take the interior θ to rounding when it stopped short
    for _ in range(20):
        g = 2.0 * theta * current.dev_ds
        idx = np.flatnonzero(free)
        if not len(idx) or np.max(np.abs(g[idx])) <= gtol:
            break
        h = 1e-5 * np.maximum(theta[idx], 1e-3)
        J = np.empty((len(idx), len(idx)))
        for j, (col, step) in enumerate(zip(idx, h)):
            up, down = theta.copy(), theta.copy()
            up[col] += step
            down[col] -= step
            J[:, j] = (2 * up * state(up).dev_ds - 2 * down * state(down).dev_ds)[idx] / (2 * step)
        try:
            step = np.linalg.solve((J + J.T) / 2, g[idx])
        except np.linalg.LinAlgError:
            break
        trial = theta.copy()
        trial[idx] = np.maximum(theta[idx] - step, 0.0)
        candidate = state(trial)
        if candidate.deviance > current.deviance + 1e-12 * max(1.0, abs(current.deviance)):
            break
        theta, current = trial, candidate
        if np.max(np.abs(step)) <= xtol * max(1.0, np.max(theta)):
            break
    # converged: a stationary point in the free θ and no descent into the interior from the boundary
    g = 2.0 * theta * current.dev_ds
    stationary = np.all(np.abs(g[theta > 0]) <= _GRADIENT_OK * max(1.0, abs(current.deviance)))
    interior_descent = np.any((theta == 0) & (current.dev_ds < 0))
    return theta, bool(stationary and not interior_descent), evaluations, message


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread in the block (no-op without threadpoolctl).

    The q×q steps of several factors are small: OpenBLAS threads cost far more than they give,
    50× on a busy machine (0.5 ms vs 25 ms per deviance for Penicillin).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def fit_lmm(*, X: np.ndarray, y: np.ndarray, groups: Sequence[np.ndarray], reml: bool = True,
            xtol: float = 1e-12, gtol: float = 1e-10, maxiter: int = 1000) -> LmmFit:
    """Fit ``y ~ X + (1 | g1) + (1 | g2) + ...`` by REML (default, as lmer) or ML.

    Parameters
    ----------
    X
        n×p fixed-effects design, intercept column included, full column rank.
    y
        The n responses.
    groups
        One array of n labels per grouping factor (any hashable values; nested factors must be
        given with unique labels across their parents, e.g. ``batch:cask``, as in lmer).
    reml
        REML (lmer's default) or ML.
    xtol, gtol, maxiter
        Optimiser tolerances: θ to ``xtol``; the projected gradient of L-BFGS-B (several factors)
        to ``gtol``; at most ``maxiter`` iterations.
    """
    d = _design(X, y, groups)
    n, p = d.n, d.p
    m = len(d.offsets)
    if n <= p:
        raise ValueError(f"{n} observations for {p} fixed effects")
    if m == 1:
        t, converged, evaluations, message = _optimise_scalar(d, reml, xtol, maxiter)
        theta = np.array([t])
    else:
        with _single_threaded_blas():
            theta, converged, evaluations, message = _optimise_vector(d, reml, xtol, gtol, maxiter)
    state = _evaluate(d, theta, reml)
    sigma2 = state.pwrss / (n - p if reml else n)
    vcov = sigma2 * linalg.inv(state.M)
    vcov = (vcov + vcov.T) / 2
    b = theta[d.factor] * state.u
    sizes = [len(np.unique(c)) for c in d.codes]
    back = np.argsort(d.order)  # caller's factor i is internal factor back[i]
    ranef = tuple(b[d.offsets[i]:d.offsets[i] + sizes[i]] for i in back)
    gradient = (2.0 * theta * state.dev_ds)[back]
    sizes = [sizes[i] for i in back]
    theta = theta[back]
    sigma2_groups = sigma2 * theta**2
    loglik = -state.deviance / 2.0
    df = p + m + 1
    var_fixed = float(np.var(d.X @ state.beta, ddof=1))
    if np.any(theta < _SINGULAR_PERFORMANCE):
        r2_marginal, r2_conditional, icc = var_fixed / (var_fixed + sigma2), np.nan, np.nan
    else:
        var_random = float(np.sum(sigma2_groups))
        total = var_fixed + var_random + sigma2
        r2_marginal, r2_conditional = var_fixed / total, (var_fixed + var_random) / total
        icc = var_random / (var_random + sigma2)
    return LmmFit(
        coef=state.beta, vcov=vcov, theta=theta, sigma2_resid=float(sigma2), sigma2_groups=sigma2_groups,
        ranef=ranef, reml=reml, deviance=state.deviance, loglik=loglik, df=df,
        aic=-2.0 * loglik + 2.0 * df, bic=-2.0 * loglik + np.log(n) * df,
        r2_marginal=float(r2_marginal), r2_conditional=float(r2_conditional), icc=float(icc),
        nobs=n, n_levels=tuple(sizes), converged=converged, boundary=bool(np.any(theta < _SINGULAR_LME4)),
        gradient=gradient, n_evaluations=evaluations, message=message,
    )
