"""Predictions from fitted models, with delta-method intervals, and Kaplan-Meier estimates.

Everything here works from a :class:`~c2stats.Result` (``tidy`` and the ``vcov`` frame) plus the
model's estimation sample, which :func:`estimation_sample` rebuilds from the full dataset with the
model's own spec (``meta["model_spec"]``). New data are turned into design rows with the
estimation sample's transform state (:func:`c2stats.formula.design_matrix` with ``state=``), so
``center``/``scale``/``poly``/``bs`` and factor codings are those of the fit, as in R's ``predict``.

Conventions (each verified against R in ``tests/renderers/test_predict.py``):

- Linear predictors ``eta = x'b`` with ``se = sqrt(x' V x)`` (R ``predict(type = "link",
  se.fit = TRUE)``), ``V`` the model's reported covariance (robust when the model asked for it).
- Probabilities of binary models: ``linkinv(eta)``; ``std_error`` is the delta-method standard error
  on the probability scale (R ``predict(type = "response", se.fit = TRUE)``). Intervals are by
  default computed on the link scale and transformed (``linkinv(eta +- z se)``: they stay inside
  [0, 1]); ``interval = "response"`` gives ``p +- z se_p``.
- Multinomial logit: category probabilities (base category included) with delta-method intervals
  on the probability scale.
- Marginal effects: the derivative of the linear predictor (or of the probability) with respect
  to one variable, by a central difference of the design rows (exact for terms linear in the
  variable), with the delta-method variance ``g' V g`` of that derivative's gradient ``g``.
- Kaplan-Meier: R ``survfit`` defaults (Greenwood variance, ``conf.type = "log"``).
- Cox predicted survival: R ``survfit(coxph, newdata)`` through the Cox engine's
  :func:`~c2stats.families._cox_engine.survival_curves`.
- Weibull/exponential predicted survival: ``S = exp(-H)`` with the interval computed on
  ``log H`` (``exp(-exp(log H +- z se))``).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, replace
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from .errors import C2StatsWarning, SpecificationError
from .families import FAMILIES, Family, get_family
from .families._base import prepare
from .families._cif_engine import survfit_confint
from .families._cox_engine import CoxFit, survival_curves
from .formula import Formula, design_matrix, parse_formula
from .results import Result
from .spec import ModelSpec

#: Inverse link and its derivative d mu / d eta.
LINKS: dict[str, tuple[Any, Any]] = {
    "identity": (lambda e: e, lambda e: np.ones_like(e)),
    "logit": (expit, lambda e: expit(e) * (1 - expit(e))),
    "probit": (stats.norm.cdf, stats.norm.pdf),
    "cloglog": (lambda e: -np.expm1(-np.exp(e)), lambda e: np.exp(e - np.exp(e))),
}


def family_facts(name: str | None) -> type[Family]:
    """The registered family class ``name`` (its prediction facts); the base class when unknown."""
    return FAMILIES.get(str(name), Family)


def predictable(kinds: tuple[str, ...]) -> list[str]:
    """Names of the registered families whose ``prediction`` is one of ``kinds`` (for messages)."""
    return sorted(n for n, f in FAMILIES.items() if f.prediction in kinds)


# ----------------------------------------------------------------------------------------------
# The model, the sample and profiles
# ----------------------------------------------------------------------------------------------
def model_spec(result: Result, models: Mapping[str, Any] | None = None):
    """The :class:`~c2stats.config.ModelSpec` of ``result``: from ``models`` or ``meta["model_spec"]``."""

    mid = result.meta.get("model_id")
    if models is not None and mid in models:
        return models[mid]
    stored = result.meta.get("model_spec")
    if not stored:
        raise SpecificationError(
            f"model {mid!r}: the result does not record its model spec (meta['model_spec']); refit it with this "
            "version of c2stats or pass the ModelSpec (build_figure(..., models={id: spec}))."
        )
    return ModelSpec.model_validate(stored)


def estimation_sample(result: Result, frame: pd.DataFrame, spec=None):
    """Re-apply the model's sample restriction and complete-case rule to ``frame``: a ModelData."""

    spec = model_spec(result) if spec is None else spec
    with warnings.catch_warnings():  # the fit already reported dropped rows
        warnings.simplefilter("ignore", C2StatsWarning)
        data = prepare(spec, frame, get_family(spec.family))
    if len(data.frame) != result.glance.get("nobs", len(data.frame)):
        raise SpecificationError(
            f"model {spec.id!r}: the data give {len(data.frame)} estimation rows but the result has "
            f"{result.glance.get('nobs')}; pass the dataset the model was fitted on."
        )
    return data


@dataclass(frozen=True)
class Predictor:
    """Coefficients, covariance and formula of a fitted model, ready to evaluate on new data."""

    model_id: str
    family: str
    formula: Formula
    state: dict  #: design state of the estimation sample (formula.design_matrix(..., state=))
    coef: np.ndarray  #: every parameter, in tidy order (NaN estimates as 0)
    vcov: np.ndarray  #: covariance of ``coef`` (the model's reported one)
    equations: dict  #: equation ('' or the component) -> (positions in coef, design column names)
    link: str | None  #: inverse link for the response scale (None: no single-index mean)
    base: str | None  #: multinomial logit: the base category
    multinomial: bool  #: one equation per non-base outcome category (mnlogit)
    conf_level: float
    df_resid: float | None  #: t reference distribution of intervals when given (ols)

    @property
    def categories(self) -> list[str]:
        """Multinomial logit: every outcome category, base first."""
        return [str(self.base), *[c for c in self.equations]]

    def quantile(self, conf_level: float | None = None) -> float:
        """The two-sided critical value at ``conf_level`` (normal, or t(df_resid))."""
        level = self.conf_level if conf_level is None else conf_level
        dist = stats.norm if self.df_resid is None else stats.t(self.df_resid)
        return float(dist.ppf(0.5 + level / 2))


def predictor(result: Result, state: Mapping | None = None) -> Predictor:
    """Build a :class:`Predictor` from ``result`` (tidy, vcov frame, meta) and a design ``state``.

    ``state`` defaults to ``meta["design_state"]``; pass ``estimation_sample(...).design.state``
    for results saved without it.
    """
    meta = result.meta
    mid = meta.get("model_id", "?")
    state = meta.get("design_state") if state is None else state
    if not state:
        raise SpecificationError(f"model {mid!r}: no design state; pass estimation_sample(result, frame).design.state.")
    tidy = result.tidy
    frame = result.frames.get("vcov")
    if frame is None:
        raise SpecificationError(f"model {mid!r}: the result has no vcov frame; predictions need the covariance matrix.")
    vcov = frame.drop(columns=["term"]).to_numpy(dtype=float)
    if vcov.shape != (len(tidy), len(tidy)):
        raise SpecificationError(f"model {mid!r}: the vcov frame is {vcov.shape} for {len(tidy)} tidy rows.")
    family = meta.get("family", "?")
    components = tidy["component"].fillna("").astype(str).to_numpy() if "component" in tidy else np.full(len(tidy), "")
    equations: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
    regression = [c for c in dict.fromkeys(components) if c != "ancillary"]
    for comp in regression:
        pos = np.flatnonzero(components == comp)
        equations[comp] = (pos, tuple(tidy["term"].iloc[pos]))
    facts = family_facts(family)
    link = facts().link_of(dict(meta.get("options", {}))) if facts.prediction == "mean" else None
    multinomial = facts.prediction == "multinomial"
    base = str(result.glance.get("base")) if multinomial else None
    df_resid = meta.get("df_resid")
    return Predictor(
        model_id=mid, family=family, formula=parse_formula(meta["formula"]), state=dict(state),
        coef=np.nan_to_num(tidy["estimate"].to_numpy(dtype=float)), vcov=np.nan_to_num(vcov), equations=equations,
        link=link, base=base, multinomial=multinomial, conf_level=float(meta.get("conf_level", 0.95)),
        df_resid=None if df_resid is None or not np.isfinite(df_resid) else float(df_resid),
    )


def categorical_levels(state: Mapping) -> dict[str, list]:
    """Data columns coded as factors in ``state``, with their levels (reference first)."""
    out: dict[str, list] = {}
    for entry in state.get("factors", {}).values():
        if entry.get("type") == "categorical":
            out.setdefault(entry["column"], list(entry["levels"]))
    return out


def covariate_columns(formula: Formula) -> list[str]:
    """Data columns on the right-hand side of ``formula``, in order of appearance."""
    seen: dict[str, None] = {}
    for term in formula.terms:
        for f in term.factors:
            seen.update(dict.fromkeys(sorted(f.columns)))
    return list(seen)


def coerce_level(value: Any, levels: Sequence, column: str, where: str) -> Any:
    """``value`` as one of ``levels`` (matching by text, so 1 and "1" both name level 1)."""
    for lv in levels:
        if value == lv and type(value) is not bool:
            return lv
    same = [lv for lv in levels if str(lv) == str(value)]
    if len(same) == 1:
        return same[0]
    raise SpecificationError(f"{where}: {value!r} is not a level of {column!r} (levels: {list(levels)[:20]}).")


def typical_values(sample: pd.DataFrame, formula: Formula, state: Mapping, at: Mapping | None = None,
                   where: str = "prediction", extra: Sequence[str] = ()) -> dict[str, Any]:
    """Covariate values of a profile: means of numeric columns over ``sample``, reference levels of
    factors, overridden by ``at``. ``extra`` names further columns ``at`` may set (e.g. strata)."""
    levels = categorical_levels(state)
    columns = covariate_columns(formula)
    values: dict[str, Any] = {}
    for col in columns:
        if col in levels:
            values[col] = levels[col][0]
        else:
            values[col] = float(pd.to_numeric(sample[col]).astype(float).mean())
    for col, value in (at or {}).items():
        if col not in columns and col not in extra:
            raise SpecificationError(
                f"{where}: {col!r} is not a covariate of the model (its covariates: {', '.join(columns) or 'none'})."
            )
        values[col] = coerce_level(value, levels[col], col, where) if col in levels else value
    return values


def profile_frame(base: Mapping[str, Any], vary: Mapping[str, Sequence] | None = None) -> pd.DataFrame:
    """One row per combination of the ``vary`` values (first key slowest), other columns at ``base``."""
    vary = dict(vary or {})
    keys = list(vary)
    rows = []
    for combo in itertools.product(*(list(vary[k]) for k in keys)) if keys else [()]:
        row = dict(base)
        row.update(zip(keys, combo))
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in frame.columns:  # keep factor values as objects, numbers as floats
        if frame[col].map(lambda v: isinstance(v, str)).any():
            frame[col] = frame[col].astype(object)
    return frame


# ----------------------------------------------------------------------------------------------
# Linear predictors, probabilities and their Jacobians
# ----------------------------------------------------------------------------------------------
def _design(pred: Predictor, newdata: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    design = design_matrix(pred.formula, newdata, categorical_response=True, state=pred.state)
    return design.matrix, {n: i for i, n in enumerate(design.names)}


def linear_predictor(pred: Predictor, newdata: pd.DataFrame, equation: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``eta = x'b`` of one equation at each row of ``newdata``, and its Jacobian (rows x all parameters)."""
    if equation not in pred.equations:
        raise SpecificationError(
            f"model {pred.model_id!r} has no equation {equation!r} (equations: {list(pred.equations)})."
        )
    X, index = _design(pred, newdata)
    pos, names = pred.equations[equation]
    J = np.zeros((X.shape[0], pred.coef.size))
    for p, name in zip(pos, names):
        if name in index:
            J[:, p] = X[:, index[name]]
    return J @ pred.coef, J


def _mnlogit_probabilities(pred: Predictor, newdata: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """Category probabilities (n x K, base first) and their Jacobians (one n x P per category)."""
    etas, jacs = zip(*(linear_predictor(pred, newdata, eq) for eq in pred.equations))
    eta = np.column_stack([np.zeros(len(newdata)), *etas])
    eta_max = eta.max(axis=1, keepdims=True)
    ex = np.exp(eta - eta_max)
    prob = ex / ex.sum(axis=1, keepdims=True)
    jac_eta = [np.zeros_like(jacs[0]), *jacs]
    mean_jac = sum(prob[:, [j]] * jac_eta[j] for j in range(prob.shape[1]))
    return prob, [prob[:, [k]] * (jac_eta[k] - mean_jac) for k in range(prob.shape[1])]


def response(pred: Predictor, newdata: pd.DataFrame, category: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The mean (probability) at each row and its Jacobian; ``category`` for multinomial models."""
    if pred.multinomial:
        cats = pred.categories
        if category is None or str(category) not in cats:
            raise SpecificationError(f"model {pred.model_id!r}: choose a category of the outcome: {cats}.")
        prob, jac = _mnlogit_probabilities(pred, newdata)
        k = cats.index(str(category))
        return prob[:, k], jac[k]
    if pred.link is None:
        raise SpecificationError(
            f"model {pred.model_id!r} ({pred.family}) has no response scale here; predicted probabilities need "
            f"one of the families {', '.join(predictable(('mean', 'multinomial')))}."
        )
    eta, J = linear_predictor(pred, newdata)
    inv, deriv = LINKS[pred.link]
    return inv(eta), deriv(eta)[:, None] * J


def _se(J: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", J, vcov, J), 0, None))


def predict(pred: Predictor, newdata: pd.DataFrame, *, scale: Literal["link", "response"] = "response",
            interval: Literal["link", "response"] | None = None, category: str | None = None,
            conf_level: float | None = None) -> pd.DataFrame:
    """Predictions at each row of ``newdata`` with ``estimate, std_error, conf_low, conf_high``.

    ``scale = "link"`` gives the linear predictor (the log relative risk of ``category`` against the
    base for multinomial models). On the response scale ``std_error`` is the delta-method SE of the
    mean; ``interval`` = "link" (default for single-index models) transforms the link-scale
    interval, "response" uses ``mean +- z std_error`` (the only choice for multinomial models).
    """
    z = pred.quantile(conf_level)
    if scale == "link":
        eq = "" if not pred.multinomial else _equation_of(pred, category)
        eta, J = linear_predictor(pred, newdata, eq)
        se = _se(J, pred.vcov)
        return pd.DataFrame({"estimate": eta, "std_error": se, "conf_low": eta - z * se, "conf_high": eta + z * se})
    interval = interval or ("response" if pred.multinomial else "link")
    mu, J = response(pred, newdata, category)
    se = _se(J, pred.vcov)
    if interval == "response":
        lo, hi = mu - z * se, mu + z * se
    else:
        if pred.multinomial:
            raise SpecificationError(
                f"model {pred.model_id!r}: multinomial probabilities have no single link; use interval = 'response'."
            )
        eta, Jeta = linear_predictor(pred, newdata)
        se_eta = _se(Jeta, pred.vcov)
        inv = LINKS[pred.link][0]
        lo, hi = inv(eta - z * se_eta), inv(eta + z * se_eta)
    return pd.DataFrame({"estimate": mu, "std_error": se, "conf_low": lo, "conf_high": hi})


def _equation_of(pred: Predictor, category: str | None) -> str:
    if category is None or str(category) not in pred.equations:
        raise SpecificationError(
            f"model {pred.model_id!r}: the link scale of a multinomial model is one non-base category's log relative "
            f"risk; choose one of {list(pred.equations)}."
        )
    return str(category)


def marginal_effect(pred: Predictor, newdata: pd.DataFrame, variable: str, *,
                    scale: Literal["link", "response"] = "link", category: str | None = None,
                    conf_level: float | None = None, step: float | None = None) -> pd.DataFrame:
    """d(prediction)/d(variable) at each row of ``newdata``, with delta-method intervals.

    The derivative is a central difference of the design rows at ``variable +- step`` (default
    ``1e-5`` times the larger of 1 and the largest absolute value), so it is exact up to rounding
    for terms linear in the variable (including interactions) and accurate to O(step^2) for
    ``poly``/``bs``/``log`` terms. Its gradient with respect to the coefficients is differenced the
    same way; ``std_error = sqrt(g' V g)``.
    """
    if variable not in newdata:
        raise SpecificationError(f"model {pred.model_id!r}: {variable!r} is not a column of the new data.")
    if variable in categorical_levels(pred.state):
        raise SpecificationError(
            f"model {pred.model_id!r}: {variable!r} is a factor; a derivative needs a numeric variable (compare "
            "levels with kind = 'predicted' instead)."
        )
    x = newdata[variable].to_numpy(dtype=float)
    h = step if step is not None else 1e-5 * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    up, down = newdata.copy(), newdata.copy()
    up[variable] = x + h
    down[variable] = x - h
    if scale == "link":
        eq = "" if not pred.multinomial else _equation_of(pred, category)
        (f_up, j_up), (f_down, j_down) = linear_predictor(pred, up, eq), linear_predictor(pred, down, eq)
    else:
        (f_up, j_up), (f_down, j_down) = response(pred, up, category), response(pred, down, category)
    effect = (f_up - f_down) / (2 * h)
    se = _se((j_up - j_down) / (2 * h), pred.vcov)
    z = pred.quantile(conf_level)
    return pd.DataFrame({"estimate": effect, "std_error": se, "conf_low": effect - z * se, "conf_high": effect + z * se})


# ----------------------------------------------------------------------------------------------
# Survival: Kaplan-Meier, Cox and parametric predicted curves
# ----------------------------------------------------------------------------------------------
def survival_confint(surv: np.ndarray, std_err: np.ndarray, conf_type: str, conf_level: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit_confint`` for ``std_err`` = SE of the cumulative hazard (log S).

    ``log``: ``S exp(+-z se)`` (upper capped at 1); ``log-log``: on ``log(-log S)``; ``plain``:
    ``S +- z se S`` clipped to [0, 1]. NaN where undefined (S = 0, or S in {0, 1} for log-log).
    """
    z = stats.norm.ppf(0.5 + conf_level / 2)
    return survfit_confint(np.asarray(surv, dtype=float), np.asarray(std_err, dtype=float), z, conf_type)


def kaplan_meier(time: np.ndarray, event: np.ndarray, *, entry: np.ndarray | None = None,
                 weights: np.ndarray | None = None, conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate at every distinct (stop) time, as R's ``survfit(Surv(...) ~ 1)``.

    Returns ``time, n_risk, n_event, n_censor, surv, std_err, conf_low, conf_high`` with
    ``std_err`` the Greenwood SE of ``-log S`` (R's ``std.err``: ``sqrt(sum d / (n (n - d)))``),
    counts weighted when ``weights`` are given, and R's risk set ``entry < t <= time`` for
    delayed entry.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    w = np.ones_like(time) if weights is None else np.asarray(weights, dtype=float)
    times = np.unique(time)
    order = np.argsort(time, kind="stable")
    ts, ws, es = time[order], w[order], event[order]
    idx = np.searchsorted(times, ts)
    n_event = np.bincount(idx, weights=ws * es, minlength=times.size)
    n_exit = np.bincount(idx, weights=ws, minlength=times.size)
    n_censor = n_exit - n_event
    if entry is None:
        n_risk = np.cumsum(n_exit[::-1])[::-1]
    else:  # at risk at t: entry < t <= time
        n_risk = number_at_risk(time, times, entry=entry, weights=w)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n_risk > 0, 1 - n_event / n_risk, 1.0))
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        std_err = np.sqrt(np.cumsum(term))
    std_err = np.where(surv == 0, np.nan, std_err)
    lo, hi = survival_confint(surv, std_err, conf_type, conf_level)
    return pd.DataFrame({"time": times, "n_risk": n_risk, "n_event": n_event, "n_censor": n_censor, "surv": surv,
                         "std_err": std_err, "conf_low": lo, "conf_high": hi})


def number_at_risk(time: np.ndarray, at: Sequence[float], *, entry: np.ndarray | None = None,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """How many (weighted) rows are at risk at each time in ``at``: ``time >= t`` (and ``entry < t``),
    R's ``summary(survfit, times = at, extend = TRUE)$n.risk``."""
    time = np.asarray(time, dtype=float)
    w = np.ones_like(time) if weights is None else np.asarray(weights, dtype=float)
    at = np.asarray(at, dtype=float)
    risk = time[None, :] >= at[:, None]
    if entry is not None:
        risk &= np.asarray(entry, dtype=float)[None, :] < at[:, None]
    return (risk * w[None, :]).sum(axis=1)


def _cox_fit(result: Result, sample, spec):
    """The engine's CoxFit of ``result`` (refitted on ``sample`` when the result was loaded from disk),
    carrying the result's reported covariance (survfit uses the robust one when the model has it)."""

    options = dict(spec.options or {})
    for key, what in (("frailty", "a shared-frailty"), ("tt", "a time-varying-coefficient (tt)")):
        if options.get(key):
            raise SpecificationError(f"model {spec.id!r} is {what} Cox model; predicted survival curves are not "
                                     f"available for it (R's survfit refuses them too). Draw them from the model "
                                     f"without options.{key}.")
    fit = result.raw
    if not isinstance(fit, CoxFit):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = get_family(spec.family).fit(spec, sample).raw
        if not np.allclose(np.nan_to_num(fit.coef), np.nan_to_num(result.tidy["estimate"].to_numpy(dtype=float)),
                           rtol=1e-6, atol=1e-9):
            raise SpecificationError(
                f"model {spec.id!r}: refitting on the given data does not reproduce the saved coefficients; rerun "
                "the analysis so the result and the data match."
            )
    vcov = result.frames["vcov"].drop(columns=["term"]).to_numpy(dtype=float)
    return replace(fit, vcov_robust=vcov)


def cox_survival(result: Result, sample, spec, newdata: pd.DataFrame, *, conf_level: float | None = None
                 ) -> pd.DataFrame:
    """Predicted survival of a Cox model for each row of ``newdata``, as R's ``survfit(fit, newdata)``.

    ``sample`` is the estimation sample (:func:`estimation_sample`); with strata, ``newdata`` must
    give each row's stratum value(s) and the curve is that stratum's. Returns one row per (curve,
    event time): ``curve, time, estimate, std_error, conf_low, conf_high`` (``std_error`` of the
    cumulative hazard; log intervals).
    """

    fit = _cox_fit(result, sample, spec)
    pred = predictor(result, sample.design.state)
    _, J = linear_predictor(pred, newdata)
    strata_cols = _strata_columns(spec)
    codes = None
    if strata_cols:
        missing = [c for c in strata_cols if c not in newdata]
        if missing:
            raise SpecificationError(f"model {spec.id!r} is stratified by {strata_cols}; give {missing} in each profile.")
        keys = sample.frame[strata_cols]
        uniques = pd.MultiIndex.from_frame(keys).factorize()[1] if len(strata_cols) > 1 \
            else pd.Index(pd.factorize(keys[strata_cols[0]])[1])
        wanted = pd.MultiIndex.from_frame(newdata[strata_cols]) if len(strata_cols) > 1 \
            else pd.Index(newdata[strata_cols[0]])
        codes = np.asarray(uniques.get_indexer(wanted))
        if (codes < 0).any():
            bad = wanted[int(np.flatnonzero(codes < 0)[0])]
            shown = [_plain(v) for v in uniques[:20]]
            raise SpecificationError(
                f"model {spec.id!r}: stratum {_plain(bad)!r} of {strata_cols} is not in the estimation sample "
                f"(strata: {shown})."
            )
    curves = survival_curves(fit, J, strata=codes, conf_level=conf_level or pred.conf_level)
    return pd.DataFrame({"curve": curves.curve, "time": curves.time, "estimate": curves.surv,
                         "std_error": curves.std_err, "conf_low": curves.conf_low, "conf_high": curves.conf_high})


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _strata_columns(spec) -> list[str]:
    strata = dict(spec.options).get("strata")
    if strata is None:
        return []
    return [strata] if isinstance(strata, str) else list(strata)


def parametric_survival(result: Result, sample, newdata: pd.DataFrame, times: Sequence[float], *,
                        conf_level: float | None = None) -> pd.DataFrame:
    """Predicted survival of a Weibull or exponential model (PH or AFT form) at ``times`` (> 0).

    ``log H(t | x)`` is ``x'b + p log t`` (PH, ``p = exp(log_shape)``, 1 for exponential) or
    ``(log t - x'b) / sigma`` (AFT, ``sigma = exp(log_scale)``); its SE is the delta method with the
    model's covariance and the interval is ``exp(-exp(log H +- z se))`` (so it stays in [0, 1]).
    Returns ``curve, time, estimate, std_error`` (SE of log H), ``conf_low, conf_high``.
    """
    pred = predictor(result, sample.design.state)
    eta, J = linear_predictor(pred, newdata)
    times = np.asarray(times, dtype=float)
    if np.any(times <= 0):
        raise SpecificationError(f"model {pred.model_id!r}: survival times must be positive.")
    tidy = result.tidy
    anc = np.flatnonzero(tidy["component"].fillna("").astype(str).to_numpy() == "ancillary") \
        if "component" in tidy else np.array([], dtype=int)
    aft = result.meta.get("scale") == "log_time"
    log_t = np.log(times)
    theta = float(pred.coef[anc[0]]) if anc.size else 0.0
    z = pred.quantile(conf_level)
    rows = []
    for i in range(len(newdata)):
        G = np.repeat(J[[i]], times.size, axis=0)
        if aft:  # log H = (log t - eta) / sigma
            sigma = np.exp(theta)
            log_h = (log_t - eta[i]) / sigma
            G = -G / sigma
            if anc.size:
                G[:, anc[0]] = -log_h
        else:  # log H = eta + p log t
            p = np.exp(theta)
            log_h = eta[i] + p * log_t
            if anc.size:
                G[:, anc[0]] = p * log_t
        se = _se(G, pred.vcov)
        rows.append(pd.DataFrame({"curve": i, "time": times, "estimate": np.exp(-np.exp(log_h)), "std_error": se,
                                  "conf_low": np.exp(-np.exp(log_h + z * se)),
                                  "conf_high": np.exp(-np.exp(log_h - z * se))}))
    return pd.concat(rows, ignore_index=True)
