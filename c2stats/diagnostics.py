"""Diagnostics that gate results: separation, collinearity, proportional hazards, convergence.

Run automatically by :func:`c2stats.pipeline.fit_model` (through :func:`fit_with_remedies`) for the
families they concern, and recorded in the :class:`~c2stats.Result` so that a result reloaded from
disk still carries them:

* **separation** (binary families ``logit``, ``probit``, ``discrete_hazard``; ``mnlogit``): the
  linear program of Konis (2007) decides whether the maximum-likelihood estimate exists. The
  model's ``on_separation`` decides what happens when it does not: ``"error"`` raises
  :class:`~c2stats.errors.SpecificationError` naming the model and the separating term(s),
  ``"warn"`` keeps the (meaningless, huge) estimates with a :class:`SeparationWarning` and marks
  the result, ``"firth"`` refits with the ``firth`` family (Firth's bias-reduced logit, whose
  estimate always exists) and marks the result. ``glance["separation"]`` records the finding;
  ``meta["remedy"]`` is ``"firth"`` after a refit.
* **collinearity**: perfectly collinear columns are omitted by
  :func:`c2stats.families._base.prepare` (``on_collinear = "drop"``, the default, naming each as
  R's NA coefficients and Stata's "omitted because of collinearity") or refused
  (``on_collinear = "error"``). Variance inflation factors (``frames["vif"]``) are computed for
  every model with two or more terms.
* **proportional hazards** (``cox``): R's ``cox.zph`` (survival >= 3 exact score test, ``km``
  transform) per term and globally in ``frames["ph_test"]`` and ``glance["ph_global_p"]``; the
  scaled Schoenfeld residuals in ``frames["ph_residuals"]`` (up to
  :data:`MAX_RESIDUAL_EVENTS` events) for :func:`plot_schoenfeld`. When the test cannot be
  computed (its information matrix is singular, e.g. as many events as coefficients; R's
  ``cox.zph`` stops there) the fit stands: ``glance["ph_global_p"]`` is NaN,
  ``meta["diagnostics"]["proportional_hazards"]`` has ``computable = False`` and a ``note``, and a
  :class:`DiagnosticWarning` is issued. Variance inflation factors that cannot be computed are
  handled the same way (``max_vif`` None, a ``note``).
* **convergence**: a fit that did not converge is never silent: ``glance["converged"]`` is False,
  a :class:`~c2stats.errors.ConvergenceWarning` is issued and ``meta["warnings"]`` and
  ``meta["diagnostics"]["convergence"]`` explain it with remedies.

:func:`diagnostics_summary` turns a set of results into the report's diagnostics table (one row
per model and diagnostic) and :func:`diagnostics_notes` into short table notes.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import (  # noqa: F401
    C2StatsWarning,
    CollinearityWarning,
    ConfigError,
    ConvergenceWarning,
    DiagnosticWarning,
    SeparationWarning,
    SpecificationError,
)
from .families._cox_zph import cox_zph, scaled_schoenfeld
from .families._glm_engine import detect_separation
from .families.mnlogit import _outcome
from .spec import suggest

__all__ = [
    "CollinearityWarning",
    "DiagnosticWarning",
    "SeparationWarning",
    "detect_multinomial_separation",
    "diagnostics_notes",
    "diagnostics_summary",
    "plot_schoenfeld",
    "variance_inflation",
]

#: Scaled Schoenfeld residuals are kept in ``frames["ph_residuals"]`` up to this many events.
MAX_RESIDUAL_EVENTS = 20_000
#: A variance inflation factor above this flags a term (the usual rule of thumb).
VIF_FLAG = 10.0
#: A global proportional-hazards p-value below this flags the model.
PH_FLAG = 0.05


# ----------------------------------------------------------------------------------------------
# Separation
# ----------------------------------------------------------------------------------------------
def detect_multinomial_separation(X: np.ndarray, y: np.ndarray, categories: list, base,
                                  weights: np.ndarray | None = None) -> list[tuple[Any, int]]:
    """(category, column) pairs along which a multinomial logit's ML estimate diverges.

    Returns an empty list when the ML estimate exists.

    Notes
    -----
    Albert & Anderson (1984): the estimate does not exist iff some ``β = (β_c)_{c ≠ base}``
    (``β_base = 0``), not zero, has ``(β_{y_i} - β_j)' x_i ≥ 0`` for every row ``i`` and category
    ``j``. As Konis (2007) for the binary case, maximise the sum of these margins over the box
    ``-1 ≤ β ≤ 1`` with a linear program (HiGHS through :func:`scipy.optimize.linprog`): the
    optimum is 0 iff the estimate exists, and the non-zero entries of the solution name the
    diverging coefficients. Columns are scaled to unit maximum so the tolerance is scale free.
    """
    import scipy.sparse as sp
    from scipy import optimize

    X = np.asarray(X, dtype=float)
    keep = np.ones(X.shape[0], bool) if weights is None else np.asarray(weights) > 0
    X, y = X[keep], np.asarray(y)[keep]
    n, k = X.shape
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    order = [base, *categories]
    code = pd.Index(order).get_indexer(pd.Series(y).to_numpy())
    if (code < 0).any():
        return []
    J = len(order)
    m = J - 1
    blocks_rows, blocks_cols, vals = [], [], []
    row = 0
    rows_i = np.arange(n)
    for j in range(J):
        other = code != j  # constraint (β_{y_i} - β_j)' x_i >= 0 for rows not in category j
        idx = rows_i[other]
        r = row + np.arange(idx.size)
        yi = code[idx]
        for c, sign in ((yi, 1.0), (np.full(idx.size, j), -1.0)):
            nonbase = c > 0
            rr = np.repeat(r[nonbase], k)
            cc = ((c[nonbase] - 1)[:, None] * k + np.arange(k)[None, :]).ravel()
            blocks_rows.append(rr)
            blocks_cols.append(cc)
            vals.append((sign * Xs[idx[nonbase]]).ravel())
        row += idx.size
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(blocks_rows), np.concatenate(blocks_cols))),
                      shape=(row, m * k))
    res = optimize.linprog(c=-np.asarray(A.sum(axis=0)).ravel(), A_ub=-A, b_ub=np.zeros(row),
                           bounds=[(-1.0, 1.0)] * (m * k), method="highs")
    if res.status != 0 or -res.fun <= 1e-8 * row:
        return []
    hits = np.flatnonzero(np.abs(res.x) > 1e-7)
    return [(categories[i // k], int(i % k)) for i in hits]


def _separation(est, data, family, model) -> list[str]:
    """Separating terms ('' list when the ML estimate exists)."""

    names = list(data.names)
    if family.outcome == "binary":
        raw = est.raw
        cols = getattr(raw, "separated_columns", None)
        if cols is None:  # engine without its own check: run the linear program here
            cols = detect_separation(data.X, data.y, data.weights)
        return [names[j] for j in cols]
    raw = est.raw
    probs = getattr(raw, "probabilities", None)
    suspicious = (not bool(est.glance.get("converged", True))) or probs is None or \
        bool(np.any(np.asarray(probs) < 1e-8)) or not np.all(np.isfinite(est.vcov))
    if not suspicious:
        return []

    y = _outcome(model, data)
    hits = detect_multinomial_separation(data.X, y, list(raw.categories), raw.base, data.weights)
    return [f"{c}: {names[j]}" for c, j in hits]


# ----------------------------------------------------------------------------------------------
# Collinearity
# ----------------------------------------------------------------------------------------------
def _correlation(X: np.ndarray, cols: list[int], chunk: int = 65536) -> np.ndarray:
    """Correlation matrix of ``X[:, cols]``, centred chunk by chunk (no n x k copy of a large design).

    Each column is first divided by the power of two at or below its largest absolute value (exact
    in floating point, so ordinary data give the same bits), so that cross products of very large
    values (1e200) do not overflow.
    """
    top = np.max([np.max(np.abs(X[i : i + chunk, cols]), axis=0) for i in range(0, X.shape[0], chunk)], axis=0)
    _, exponent = np.frexp(np.where(top > 0, top, 1.0))
    scale = np.ldexp(1.0, exponent - 1)
    mean = (X[:, cols] / scale).mean(axis=0) if X.shape[0] <= chunk else \
        sum((X[i : i + chunk, cols] / scale).sum(axis=0) for i in range(0, X.shape[0], chunk)) / X.shape[0]
    cross = np.zeros((len(cols), len(cols)))
    for i in range(0, X.shape[0], chunk):
        block = X[i : i + chunk, cols] / scale - mean
        cross += block.T @ block
    sd = np.sqrt(np.diag(cross))
    return cross / np.outer(sd, sd)


def variance_inflation(X: np.ndarray, names, term_of_column) -> pd.DataFrame:
    """Generalised variance inflation factors of each term (Fox & Monette 1992), as ``car::vif``.

    Columns named ``(Intercept)`` and constant columns are left out; each remaining term (all its
    columns, e.g. a factor's dummies) gets ``GVIF = det(R_11) det(R_22) / det(R)`` with ``R`` the
    correlation matrix of the columns and ``R_11`` the block of the term; ``gvif_adj =
    GVIF^{1/(2 df)}`` is comparable across terms (its square is the classical VIF for one column).

    The factors describe the design (unweighted), so they equal ``car::vif`` on the ``lm`` with
    the same right-hand side; ``car::vif`` on a ``glm`` or ``coxph`` instead uses the model's
    weighted covariance.

    Returns
    -------
    pandas.DataFrame
        ``term, gvif, df, gvif_adj``; empty when fewer than two terms remain.
    """
    X = np.asarray(X, dtype=float)
    cols = [j for j, n in enumerate(names) if n != "(Intercept)" and np.ptp(X[:, j]) > 0]
    terms = list(dict.fromkeys(term_of_column[j] for j in cols))
    empty = pd.DataFrame({"term": pd.Series(dtype=str), "gvif": pd.Series(dtype=float),
                          "df": pd.Series(dtype=int), "gvif_adj": pd.Series(dtype=float)})
    if len(terms) < 2:
        return empty
    R = _correlation(X, cols)
    sign, logdet = np.linalg.slogdet(R)
    term_arr = np.array([term_of_column[j] for j in cols])
    rows = []
    for term in terms:
        inside = term_arr == term
        _, ld11 = np.linalg.slogdet(R[np.ix_(inside, inside)])
        _, ld22 = np.linalg.slogdet(R[np.ix_(~inside, ~inside)])
        gvif = float(np.exp(ld11 + ld22 - logdet)) if sign > 0 else float("inf")
        df = int(inside.sum())
        rows.append({"term": term, "gvif": gvif, "df": df, "gvif_adj": gvif ** (1.0 / (2 * df))})
    return pd.DataFrame(rows, columns=["term", "gvif", "df", "gvif_adj"])


# ----------------------------------------------------------------------------------------------
# Proportional hazards
# ----------------------------------------------------------------------------------------------
def _cox_inputs(est, data, model):
    names = list(data.names)
    pos = [names.index(n) for n in est.names]
    X = data.X[:, pos]
    term_of = [data.design.term_of_column[i] for i in pos]
    terms: dict[str, list[int]] = {}
    for j, term in enumerate(term_of):
        terms.setdefault(term, []).append(j)
    strata_opt = dict(model.options or {}).get("strata")
    strata = None
    if strata_opt:
        cols = [strata_opt] if isinstance(strata_opt, str) else list(strata_opt)
        frame = data.frame[cols].astype(str)
        strata = frame.iloc[:, 0].to_numpy() if len(cols) == 1 else frame.agg("\x1f".join, axis=1).to_numpy()
    return X, terms, strata


def _ph_not_computable(model, reason: str) -> tuple[dict, dict, dict]:
    """The PH diagnostic when ``cox.zph`` cannot be computed: NaN p-value and a note, no frames."""
    note = (f"model {model.id!r}: the proportional-hazards test (cox.zph) could not be computed: {reason}. The fit "
            "itself is reported; check proportional hazards another way (e.g. a time interaction) or with more data.")
    info = {"transform": "km", "global_chisq": float("nan"), "global_df": 0, "global_p": float("nan"),
            "terms_p_below": [], "residuals_kept": False, "computable": False, "note": note}
    return {}, {"ph_global_p": float("nan")}, info


def _ph_test(est, data, model) -> tuple[dict, dict, dict]:

    fit = est.raw
    X, terms, strata = _cox_inputs(est, data, model)
    try:
        zph = cox_zph(fit, X, data.time, data.event, entry=data.entry, transform="km", terms=terms)
    except np.linalg.LinAlgError as exc:
        return _ph_not_computable(model, f"its information matrix is singular ({exc}; "
                                         f"{fit.n_events} events for {X.shape[1]} coefficient(s))")
    resid = None
    if fit.n_events <= MAX_RESIDUAL_EVENTS:
        try:
            resid = scaled_schoenfeld(fit, X, data.time, data.event, entry=data.entry, strata=strata,
                                      transform="km", terms=terms)
        except np.linalg.LinAlgError:
            resid = None  # the test stands; only the residual plot is lost ("residuals_kept": False)
    var = np.full(len(zph.terms) + 1, np.nan)
    if resid is not None:
        var[: len(resid.terms)] = np.diag(resid.var)
    table = pd.DataFrame({"term": [*zph.terms, "GLOBAL"], "chisq": zph.chisq, "df": zph.df.astype(int),
                          "p_value": zph.p_value, "beta_var": var})
    frames = {"ph_test": table}
    if resid is not None:
        long = pd.DataFrame({
            "event": np.tile(np.arange(resid.y.shape[0]), len(resid.terms)),
            "term": np.repeat(list(resid.terms), resid.y.shape[0]),
            "time": np.tile(resid.time, len(resid.terms)),
            "x": np.tile(resid.x, len(resid.terms)),
            "residual": resid.y.T.ravel(),
        })
        if resid.strata is not None:
            long.insert(4, "stratum", np.tile(resid.strata.astype(str), len(resid.terms)))
        frames["ph_residuals"] = long
    p_global = float(zph.p_value[-1])
    flagged = [t for t, p in zip(zph.terms, zph.p_value[:-1]) if p < PH_FLAG]
    info = {"transform": "km", "global_chisq": float(zph.chisq[-1]), "global_df": int(zph.df[-1]),
            "global_p": p_global, "terms_p_below": flagged,
            "residuals_kept": resid is not None}
    return frames, {"ph_global_p": p_global}, info


# ----------------------------------------------------------------------------------------------
# The hook called by pipeline.fit_model
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Summaries for the report and the tables
# ----------------------------------------------------------------------------------------------
SUMMARY_COLUMNS = ("model_id", "diagnostic", "status", "value", "detail")


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 else f"{x:.1e}"


def diagnostics_summary(results: Mapping[str, Any] | list) -> pd.DataFrame:
    """One row per model and diagnostic, for the report's diagnostics section.

    Parameters
    ----------
    results
        ``{model_id: Result}`` (or a list of Results), e.g. as fitted by the pipeline or reloaded.

    Returns
    -------
    pandas.DataFrame
        Columns ``model_id``; ``diagnostic`` (``convergence``, ``separation``, ``collinearity``,
        ``vif``, ``proportional_hazards``); ``status`` (``ok``, ``flag`` or ``remedied``);
        ``value`` (the max VIF, the global PH p-value, else NA); ``detail`` (a sentence).
        Models are in the given order; diagnostics that do not apply to a family are left out.
    """
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    rows = []
    for res in items:
        mid = res.meta["model_id"]
        diag = dict(res.meta.get("diagnostics") or {})
        conv = bool(res.glance.get("converged", True))
        conv_note = (diag.get("convergence") or {}).get("note")
        rows.append((mid, "convergence", "ok" if conv else "flag", np.nan,
                     "converged" if conv else (conv_note or "did not converge; estimates not reliable")))
        sep = diag.get("separation")
        if sep is not None:
            if not sep.get("detected"):
                rows.append((mid, "separation", "ok", np.nan, "no separation (the ML estimate exists)"))
            else:
                terms = ", ".join(sep.get("terms") or [])
                if sep.get("action") == "refitted with firth":
                    rows.append((mid, "separation", "remedied", np.nan,
                                 f"separation (infinite ML estimates of {terms}); refitted with Firth's bias-reduced "
                                 "logit"))
                else:
                    rows.append((mid, "separation", "flag", np.nan,
                                 f"separation: infinite ML estimates of {terms}; the reported values are arbitrary"))
        col = diag.get("collinearity")
        if col is not None:
            dropped = col.get("dropped") or []
            rows.append((mid, "collinearity", "remedied" if dropped else "ok", np.nan,
                         f"omitted because of collinearity: {', '.join(dropped)}" if dropped
                         else "full rank (no term omitted)"))
            vmax = col.get("max_vif")
            if vmax is not None:
                flag = vmax > VIF_FLAG
                rows.append((mid, "vif", "flag" if flag else "ok", float(vmax),
                             f"largest VIF {_fmt(vmax)} ({col.get('max_vif_term')})"
                             + (f" exceeds {VIF_FLAG:g}" if flag else "")))
        ph = diag.get("proportional_hazards")
        if ph is not None and ph.get("computable") is False:
            rows.append((mid, "proportional_hazards", "flag", np.nan,
                         "cox.zph could not be computed; proportional hazards not checked"))
        elif ph is not None:
            p = float(ph["global_p"])
            below = ph.get("terms_p_below") or []
            detail = (f"cox.zph ({ph.get('transform', 'km')} transform): global chi2 = {_fmt(ph['global_chisq'])} on "
                      f"{ph['global_df']} df, p = {_fmt(p)}")
            if below:
                detail += (f"; terms with p < {PH_FLAG:g}: {', '.join(below)} (a time-varying effect: "
                           f"options.tt = {{{below[0]} = \"log\"}})")
            rows.append((mid, "proportional_hazards", "flag" if (p < PH_FLAG or below) else "ok", p, detail))
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame["value"] = frame["value"].astype(float)
    return frame


def diagnostics_notes(results: Mapping[str, Any] | list) -> list[str]:
    """Short notes for a table's footer: every diagnostic whose status is not ``ok``, one line each."""
    summary = diagnostics_summary(results)
    out = []
    for row in summary.itertuples(index=False):
        if row.status != "ok":
            out.append(f"{row.model_id}: {row.detail}.")
    return out


# ----------------------------------------------------------------------------------------------
# Scaled Schoenfeld residual plot
# ----------------------------------------------------------------------------------------------
def _natural_spline_basis(x: np.ndarray, df: int = 4) -> np.ndarray:
    """A basis of R's ``ns(x, df, intercept = TRUE)`` space (same column space, so same fits)."""
    from scipy.interpolate import BSpline
    from scipy.linalg import null_space

    n_inner = df - 2
    probs = np.linspace(0, 1, n_inner + 2)[1:-1]
    inner = np.quantile(x, probs)
    lo, hi = float(np.min(x)), float(np.max(x))
    t = np.concatenate([[lo] * 4, inner, [hi] * 4])
    nb = len(t) - 4
    basis = np.empty((x.size, nb))
    const = np.empty((2, nb))
    for j in range(nb):
        c = np.zeros(nb)
        c[j] = 1.0
        spl = BSpline(t, c, 3, extrapolate=True)
        v = spl(x)
        v[x == hi] = 1.0 if j == nb - 1 else 0.0
        basis[:, j] = v
        const[:, j] = spl.derivative(2)(np.array([lo, hi]))
    return basis @ null_space(const)


def schoenfeld_smooth(x: np.ndarray, y: np.ndarray, var: float, df: int = 4, n_points: int = 40):
    """The smooth of ``plot.cox.zph``: natural-spline fit of y on x with a ±2 SE band.

    Returns ``(grid, fit, lower, upper)`` on ``n_points`` equally spaced values of x.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = np.isfinite(y)
    grid = np.linspace(x.min(), x.max(), n_points)
    lmat = _natural_spline_basis(np.concatenate([grid, x]), df)
    pmat, xmat = lmat[:n_points], lmat[n_points:][keep]
    coef, *_ = np.linalg.lstsq(xmat, y[keep], rcond=None)
    fit = pmat @ coef
    xtx_inv = np.linalg.inv(xmat.T @ xmat)
    seval = np.einsum("ij,jk,ik->i", pmat, xtx_inv, pmat)
    half = 2.0 * np.sqrt(var * seval)
    return grid, fit, fit - half, fit + half


def plot_schoenfeld(result, term: str, ax=None, *, resid: bool = True, se: bool = True, df: int = 4):
    """Scaled Schoenfeld residuals of ``term`` against transformed time, as R's ``plot(cox.zph(fit))``.

    Parameters
    ----------
    result
        A Cox :class:`~c2stats.Result` (with ``frames["ph_residuals"]`` and ``frames["ph_test"]``),
        or a data frame shaped like ``frames["ph_residuals"]`` (``term, time, x, residual``; then
        ``se`` needs a ``beta_var`` column).
    term
        The term to draw.
    ax
        Matplotlib Axes to draw on (a new figure's when None).
    resid, se
        Draw the residual points; draw the ±2 standard-error band of the smooth.
    df
        Degrees of freedom of the natural-spline smooth (R's default 4).

    Returns
    -------
    matplotlib.axes.Axes
        Points (``ax.collections[0]``), the smooth (``ax.lines[0]``) and the band (``lines[1:3]``);
        a horizontal line at the model's coefficient (``lines[-1]``) marks proportional hazards.
    """
    import matplotlib.pyplot as plt

    var = np.nan
    if isinstance(result, pd.DataFrame):
        frame = result
        if "beta_var" in frame.columns:
            var = float(frame.loc[frame["term"] == term, "beta_var"].iloc[0])
        coef = np.nan
        title = term
    else:
        frame = result.frames.get("ph_residuals")
        if frame is None:
            raise SpecificationError(
                f"model {result.meta.get('model_id')!r} has no scaled Schoenfeld residuals (only Cox models with at "
                f"most {MAX_RESIDUAL_EVENTS} events keep them in frames['ph_residuals'])."
            )
        table = result.frames.get("ph_test")
        if table is not None and term in set(table["term"]):
            var = float(table.loc[table["term"] == term, "beta_var"].iloc[0])
        coefs = result.tidy.set_index("term")["estimate"]
        coef = float(coefs[term]) if term in coefs.index else np.nan
        title = f"{result.meta.get('model_id')}: {term}"
    terms = list(dict.fromkeys(frame["term"].astype(str)))
    if term not in terms:

        raise SpecificationError(f"term {term!r} has no Schoenfeld residuals{suggest(term, terms)}.")
    sub = frame[frame["term"].astype(str) == term]
    x = sub["x"].to_numpy(float)
    y = sub["residual"].to_numpy(float)
    if ax is None:
        _, ax = plt.subplots()
    grid, fit, lower, upper = schoenfeld_smooth(x, y, var if np.isfinite(var) else 0.0, df=df)
    if resid:
        ax.scatter(x, y, s=8, color="0.4", label="scaled Schoenfeld residual")
    ax.plot(grid, fit, color="C0", label="smooth (natural spline)")
    if se and np.isfinite(var):
        ax.plot(grid, upper, color="C0", linestyle="--")
        ax.plot(grid, lower, color="C0", linestyle="--")
    if np.isfinite(coef):
        ax.axhline(coef, color="0.6", linestyle=":", label="estimate (proportional hazards)")
    times = sub["time"].to_numpy(float)
    order = np.argsort(x, kind="stable")
    ticks = np.linspace(x.min(), x.max(), 6)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{v:.3g}" for v in np.interp(ticks, x[order], times[order])])
    ax.set_xlabel("Time (axis spaced by the transformed time)")
    ax.set_ylabel(f"Beta(t) for {term}")
    ax.set_title(title)
    return ax
