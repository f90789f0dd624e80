"""Conditional logit engine: the exact conditional likelihood of matched sets (R's ``clogit``).

:func:`fit_clogit` returns a frozen :class:`ClogitFit`. A matched set ``s`` of ``n_s`` rows with
``d_s`` cases contributes the probability that exactly its cases, of all ``C(n_s, d_s)`` subsets
of ``d_s`` rows, are the ones observed:

``L_s(β) = exp(Σ_{i ∈ cases} x_i'β) / Σ_{|S| = d_s} exp(Σ_{i ∈ S} x_i'β)``

which is ``survival::clogit(method = "exact")`` (``coxph`` with ``Surv(rep(1, n), case)``,
``strata(set)`` and the exact partial likelihood, ``coxexact``). Sets with no case or only
cases contribute nothing (but count in ``n`` and ``n_events``, as in R).

Notes
-----
The denominator is the elementary symmetric polynomial of degree ``d_s`` in ``r_i = exp(η_i)``,
computed by the recursion of Gail, Lubin & Rubinstein (1981, Biometrika 68(3)),
``B(m, k) = B(m-1, k) + r_m B(m-1, k-1)``, together with its first and second derivatives in β,
at O(n_s d_s p²) per set. To keep it in floating-point range the recursion runs on the averages
``A(m, k) = B(m, k) / C(m, k)`` and on ``r_i = exp(η_i - c_s)`` with ``c_s`` the mean of the
``d_s`` largest ``η`` of the set, so the leading product is 1 and ``1/C(n_s, d_s) <= A <= 1``.
Covariates are centred within each set (the likelihood is invariant to it). Sets of equal size
are processed together, vectorised over sets.

The score of set ``s`` is ``Σ_{cases} x_i - E[Σ_{i ∈ S} x_i]`` and its information the covariance
of ``Σ_{i ∈ S} x_i`` under the conditional distribution of the case subset. When a set has one
case this is ``Σ_i (δ_i - p_i)(x_i - x̄_s)`` with ``p_i`` the softmax of ``η`` in the set, and the
row terms are the score residuals of ``coxph`` (Breslow and Efron coincide without ties), which
is what ``row_scores`` holds. With several cases in a set the likelihood does not split into row
terms (R: "dfbeta residuals are not available for the exact method"); ``set_scores`` then serve
clusters that contain whole sets.

Newton-Raphson on scaled covariates with coxph's step halving and convergence rule
(``|1 - loglik_old / loglik_new| <= eps``), survival's LDL' inverse (``cholesky2``/``chinv2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from ._cox_engine import _chinv2, _cholesky2, _chsolve2, _wald

__all__ = ["ClogitFit", "MatchedSets", "fit_clogit", "matched_sets", "set_loglik_terms"]

_CHUNK = 4096  # sets per vectorised block (bounds the (sets x p x p) work arrays)


@dataclass(frozen=True)
class MatchedSets:
    """Matched sets of an estimation sample, grouped by size for the vectorised recursion."""

    codes: np.ndarray  #: set code of each row (0 .. n_sets-1, order of first appearance)
    n_sets: int
    size: np.ndarray  #: rows per set
    cases: np.ndarray  #: cases per set
    informative: np.ndarray  #: 0 < cases < size
    blocks: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  #: (set ids, row index (S x n), cases (S,))


def matched_sets(group: np.ndarray, case: np.ndarray) -> MatchedSets:
    """Index the rows of each matched set (``group`` labels, ``case`` 0/1)."""
    codes, _ = pd.factorize(np.asarray(group), sort=False)
    n_sets = int(codes.max()) + 1 if codes.size else 0
    size = np.bincount(codes, minlength=n_sets)
    cases = np.bincount(codes, weights=case, minlength=n_sets).round().astype(np.int64)
    informative = (cases > 0) & (cases < size)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(size)])
    blocks = []
    for n_s in np.unique(size[informative]):
        ids = np.flatnonzero(informative & (size == n_s))
        for lo in range(0, ids.size, _CHUNK):
            chunk = ids[lo : lo + _CHUNK]
            rows = order[starts[chunk][:, None] + np.arange(n_s)[None, :]]
            blocks.append((chunk, rows, cases[chunk]))
    return MatchedSets(codes=codes, n_sets=n_sets, size=size, cases=cases, informative=informative,
                       blocks=tuple(blocks))


@dataclass(frozen=True)
class _SetTerms:
    loglik: float
    score: np.ndarray  # p
    info: np.ndarray  # p x p
    set_scores: np.ndarray  # n_sets x p (zeros for uninformative sets)
    set_loglik: np.ndarray  # n_sets


def set_loglik_terms(x: np.ndarray, case: np.ndarray, sets: MatchedSets, beta: np.ndarray,
                     want_info: bool = True) -> _SetTerms:
    """Log-likelihood, score and information of every matched set at ``beta``."""
    n, p = x.shape
    set_scores = np.zeros((sets.n_sets, p))
    set_ll = np.zeros(sets.n_sets)
    info = np.zeros((p, p))
    for ids, rows, d in sets.blocks:
        S, m_max = rows.shape
        xb = x[rows]  # S x n x p
        xb = xb - xb.mean(axis=1, keepdims=True)
        eta = xb @ beta  # S x n
        cb = case[rows]
        top = -np.sort(-eta, axis=1)
        centre = np.cumsum(top, axis=1)[np.arange(S), d - 1] / d
        r = np.exp(eta - centre[:, None])
        D = int(d.max())
        A = np.zeros((D + 1, S))
        A[0] = 1.0
        dA = np.zeros((D + 1, S, p))
        d2A = np.zeros((D + 1, S, p, p)) if want_info else None
        for m in range(1, m_max + 1):
            rm = r[:, m - 1]
            xm = xb[:, m - 1, :]
            ks = np.arange(1, min(m, D) + 1)
            keep = ((m - ks) / m)[:, None]  # K x 1
            t = (ks / m)[:, None] * rm[None, :]  # K x S
            a_prev, da_prev = A[ks - 1], dA[ks - 1]  # every k updates from the previous m's values
            if want_info:
                term = xm[None, :, :, None] * (xm[None, :, None, :] * a_prev[:, :, None, None] + da_prev[:, :, None, :])
                term += da_prev[:, :, :, None] * xm[None, :, None, :]
                term += d2A[ks - 1]
                d2A[ks] = keep[:, :, None, None] * d2A[ks] + t[:, :, None, None] * term
            dA[ks] = keep[:, :, None] * dA[ks] + t[:, :, None] * (xm[None] * a_prev[:, :, None] + da_prev)
            A[ks] = keep * A[ks] + t * a_prev
        sel = np.arange(S)
        a_d = A[d, sel]
        if not np.all(np.isfinite(a_d) & (a_d > 0)):
            raise FloatingPointError("the conditional likelihood of a matched set left floating-point range")
        mean = dA[d, sel] / a_d[:, None]
        sum_case = np.einsum("sn,snp->sp", cb, xb)
        log_c = gammaln(m_max + 1) - gammaln(d + 1) - gammaln(m_max - d + 1)
        set_ll[ids] = np.sum(cb * eta, axis=1) - d * centre - np.log(a_d) - log_c
        set_scores[ids] = sum_case - mean
        if want_info:
            second = d2A[d, sel] / a_d[:, None, None]
            info += second.sum(axis=0) - mean.T @ mean
    info = (info + info.T) / 2
    return _SetTerms(loglik=float(set_ll.sum()), score=set_scores.sum(axis=0), info=info,
                     set_scores=set_scores, set_loglik=set_ll)


@dataclass(frozen=True)
class ClogitFit:
    """A fitted conditional logit (exact conditional likelihood)."""

    coef: np.ndarray
    vcov_model: np.ndarray  #: inverse information at the estimate
    loglik: float
    loglik_null: float  #: at β = 0
    score_test: float  #: at β = 0
    lr_test: float
    wald_test: float  #: with the model variance
    score: np.ndarray  #: total score at the estimate (≈ 0)
    set_scores: np.ndarray  #: n_sets x p score of each matched set at the estimate
    row_scores: np.ndarray | None  #: n x p when no set has more than one case, else None
    set_codes: np.ndarray  #: matched set of each row (0-based, order of first appearance)
    n: int
    n_events: int
    n_sets: int
    n_informative: int  #: sets with at least one case and one control
    max_cases: int  #: most cases in an informative set
    iterations: int
    converged: bool
    reason: str | None
    infinite: np.ndarray
    aliased: np.ndarray


def fit_clogit(X: np.ndarray, case: np.ndarray, group: np.ndarray, *, eps: float = 1e-9,
               max_iter: int = 100, toler_inf: float | None = None) -> ClogitFit:
    """Fit a conditional logit by the exact conditional likelihood (R's ``clogit(method = "exact")``).

    Parameters
    ----------
    X
        Covariates, n x p (no intercept: it is not identified within sets).
    case
        1 for a case (the chosen/observed alternative), 0 for a control.
    group
        Matched-set label of each row.
    eps
        Convergence: ``|1 - loglik_old / loglik_new| <= eps`` (``coxph.control(eps=)``).
    max_iter
        Maximum Newton-Raphson iterations.
    toler_inf
        Threshold of R's infinite-coefficient check; ``sqrt(eps)`` by default.

    Raises
    ------
    ValueError
        On mismatched shapes, a case other than 0/1, or no informative set.
    """
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    y = np.asarray(case, dtype=float)
    g = np.asarray(group)
    if y.shape != (n,) or g.shape != (n,):
        raise ValueError(f"case and group need one value per row of X ({n}); got {y.shape} and {g.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("case must be 0/1 (1 = case or chosen alternative)")
    sets = matched_sets(g, y)
    n_inf = int(sets.informative.sum())
    if n_inf == 0:
        raise ValueError("no matched set has both a case and a control; the conditional likelihood is empty")
    scale = x.std(axis=0, ddof=1) if n > 1 else np.ones(p)
    scale = np.where(scale > 0, 1.0 / np.where(scale > 0, scale, 1.0), 1.0)
    xs = x * scale

    beta0 = np.zeros(p)
    t0 = set_loglik_terms(xs, y, sets, beta0)
    chol, rank = _cholesky2(t0.info)
    step = _chsolve2(chol, t0.score)
    score_test = float(t0.score @ step)
    loglik0 = t0.loglik
    beta, terms = beta0, t0
    best = loglik0
    old_beta = beta0.copy()
    new_beta = beta0 + step
    halving = 0
    converged = False
    reason = None
    iterations = 0
    last_good = (beta0, t0, chol)
    for it in range(1, max_iter + 1):
        iterations = it
        try:
            t_new = set_loglik_terms(xs, y, sets, new_beta)
            ok = np.isfinite(t_new.loglik) and np.all(np.isfinite(t_new.info))
        except FloatingPointError:
            ok = False
        if ok:
            chol_new, _ = _cholesky2(t_new.info)
            if abs(1 - best / t_new.loglik) <= eps:
                beta, terms, chol = new_beta, t_new, chol_new
                converged = True
                break
        if it == max_iter:
            reason = f"ran out of iterations (max_iter={max_iter}) and did not converge"
            beta, terms, chol = last_good
            if ok and t_new.loglik >= best:
                beta, terms, chol = new_beta, t_new, chol_new
            break
        if not ok or t_new.loglik < best:
            halving += 1
            new_beta = (new_beta + halving * old_beta) / (halving + 1.0)
        else:
            halving = 0
            best = t_new.loglik
            old_beta = new_beta
            last_good = (new_beta.copy(), t_new, chol_new)
            new_beta = new_beta + _chsolve2(chol_new, t_new.score)
    if max_iter == 0:
        reason = "max_iter=0: no iterations were run"
    vinv = _chinv2(chol)
    aliased = np.diag(vinv) == 0
    coef = beta * scale
    vcov = vinv * np.outer(scale, scale)
    u = terms.score / scale
    set_scores = terms.set_scores / scale
    infinite = np.zeros(p, dtype=bool)
    if converged and max_iter > 1:
        tinf = np.sqrt(eps) if toler_inf is None else toler_inf
        with np.errstate(invalid="ignore"):
            infs = np.abs(u @ vcov)
            infinite = ~np.isfinite(u) | ((infs > eps) & (infs > tinf * np.abs(coef)))
    if converged and infinite.any():
        converged = False
        reason = ("loglik converged before coefficient(s) " + ", ".join(str(i) for i in np.flatnonzero(infinite))
                  + " (0-based column index); the coefficient may be infinite (a covariate perfectly "
                  "predicts the cases within sets)")
    df = int(np.sum(~aliased))
    wald = _wald(vcov[np.ix_(~aliased, ~aliased)], coef[~aliased]) if df else 0.0
    max_cases = int(sets.cases[sets.informative].max())
    row_scores = _row_scores(x, y, sets, coef) if max_cases == 1 else None
    return ClogitFit(
        coef=np.where(aliased, np.nan, coef), vcov_model=vcov, loglik=terms.loglik, loglik_null=loglik0,
        score_test=score_test, lr_test=float(2 * (terms.loglik - loglik0)), wald_test=wald, score=u,
        set_scores=set_scores, row_scores=row_scores, set_codes=sets.codes, n=n, n_events=int(y.sum()),
        n_sets=sets.n_sets, n_informative=n_inf, max_cases=max_cases, iterations=iterations,
        converged=converged, reason=reason, infinite=infinite, aliased=aliased,
    )


def _row_scores(x: np.ndarray, y: np.ndarray, sets: MatchedSets, coef: np.ndarray) -> np.ndarray:
    """``(δ_i - p_i)(x_i - x̄_s)`` with ``p`` the softmax of η in set s (one case per set); 0 elsewhere."""
    codes = sets.codes
    eta = x @ np.where(np.isnan(coef), 0.0, coef)
    top = pd.Series(eta).groupby(codes).transform("max").to_numpy()
    r = np.exp(eta - top)
    den = np.bincount(codes, weights=r, minlength=sets.n_sets)
    prob = r / den[codes]
    xbar = np.zeros((sets.n_sets, x.shape[1]))
    np.add.at(xbar, codes, prob[:, None] * x)
    out = (y - prob)[:, None] * (x - xbar[codes])
    out[~sets.informative[codes]] = 0.0
    return out
