"""Power and recovery by simulation (``[[simulations]]``): draw outcomes from a fitted model, refit, summarise.

A simulation starts from a fitted model: its estimation sample, its coefficients (with the
declared ``effects`` replacing the named ones) and its outcome model. Each replicate resamples
covariate rows from the estimation sample with replacement, draws outcomes from the model, refits
the declared model through :func:`c2stats.fitting.fit_model` on an executor
(:mod:`c2stats.executors`: one :class:`~c2stats.executors.FitTask` per replicate) and tests the
declared quantity. Per setting (sample size or event count) it reports power, bias, RMSE and the
coverage of the confidence interval, with Monte Carlo standard errors, next to the analytic
power where one exists.

Outcomes per family (the table :data:`OUTCOME_MODELS`):

* ``gaussian`` (ols): ``y = X b + sigma e / sqrt(w)``, ``e ~ N(0, 1)``, sigma the fitted residual SE.
* ``bernoulli`` (logit, probit, firth, discrete_hazard): ``y ~ Bernoulli(g^-1(X b))`` with the
  model's link; discrete_hazard rows are person-periods, each an independent Bernoulli draw (the
  factorised likelihood the model maximises).
* ``cox``: event times by inverse-transform sampling of ``S(t|x) = exp(-H0(t) exp((x - xbar) b))``,
  ``H0`` the Breslow cumulative hazard of the fitted model (interpolated linearly between event
  times, so the baseline hazard is piecewise constant and times are untied).
* ``survreg`` (weibull, exponential): ``T = (E exp(-X b))^(1/p)`` (PH form, p = exp(log_shape))
  or ``T = exp(X b) E^sigma`` (AFT form, sigma = exp(log_scale)), ``E ~ Exp(1)``.

Survival outcomes are censored administratively at a follow-up time drawn from the observed
follow-up distribution (the reverse Kaplan-Meier estimate of the censoring distribution; mass
beyond the last censoring time goes to the end of the observed follow-up).

Replicate ``r`` of setting ``s`` draws from ``numpy.random.PCG64(SeedSequence([seed, s, r]))``,
so results do not depend on the executor, the number of workers or the order fits finish in.

Analytic power: :func:`ols_power` (noncentral t) and :func:`schoenfeld_power` (Schoenfeld 1983;
Hsieh & Lavori 2000 for a covariate of any distribution).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .cache import Payload
from .contrast import parse_test
from .data import Dataset
from .errors import SpecificationError
from .executors import Executor, FitTask, SerialExecutor
from .families import get_family
from .families._base import needed_columns, prepare
from .formula import parse_formula
from .spec import MAX_REPS, HypothesisSpec, ModelSpec, SimulationSpec, suggest

__all__ = [
    "MAX_REPS", "OUTCOME_MODELS", "OutcomeModel", "SimulationRun", "TestedQuantity", "breslow_cumulative_hazard",
    "draw_sample", "follow_up_distribution", "ols_power", "outcome_model", "run_simulation", "schoenfeld_events",
    "schoenfeld_power",
]

OUTCOME_MODELS: dict[str, Literal["gaussian", "bernoulli", "cox", "survreg"]] = {
    "ols": "gaussian",
    "logit": "bernoulli",
    "probit": "bernoulli",
    "firth": "bernoulli",
    "discrete_hazard": "bernoulli",
    "cox": "cox",
    "weibull": "survreg",
    "exponential": "survreg",
}
"""Families that can be simulated and how their outcomes are drawn."""

SIM_RESPONSE = "c2stats_sim_y"
"""Column the simulated response of a regression family is written to (the formula's response is replaced)."""

_BATCH = 256  # replicates generated and fitted at a time: bounds the memory of the simulated datasets


# ----------------------------------------------------------------------------------------------
# Analytic power
# ----------------------------------------------------------------------------------------------
def ols_power(ncp: float, df: float, alpha: float, direction: str = "two-sided") -> float:
    """Power of the t test of one coefficient: ``P(|T| > t_{1-alpha/2, df})`` with ``T ~ t(df, ncp)``.

    ``ncp`` is the true value divided by the standard error of its estimate; one-sided tests use
    ``t_{1-alpha}`` and the tail of ``direction`` ('greater' or 'less').
    """
    if direction == "two-sided":
        crit = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))
    crit = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(crit, df, ncp) if direction == "greater" else stats.nct.cdf(-crit, df, ncp))


def schoenfeld_power(events: float, variance: float, log_hr: float, alpha: float, direction: str = "two-sided") -> float:
    """Power of the Cox (logrank) test of one log hazard ratio with ``events`` events (Schoenfeld 1983).

    ``power = Phi(sqrt(d * variance) * |log HR| - z_{1-alpha/2})`` (one-sided: ``z_{1-alpha}`` and the
    signed effect), ``variance`` = p(1-p) for a binary covariate with allocation p, or the variance
    of the covariate given the others (Hsieh & Lavori 2000). Inverts :func:`schoenfeld_events`.
    """
    shift = math.sqrt(events * variance) * log_hr
    if direction == "two-sided":
        z = stats.norm.ppf(1 - alpha / 2)
        return float(stats.norm.cdf(abs(shift) - z) + stats.norm.cdf(-abs(shift) - z))
    z = stats.norm.ppf(1 - alpha)
    return float(stats.norm.cdf((shift if direction == "greater" else -shift) - z))


def schoenfeld_events(power: float, variance: float, log_hr: float, alpha: float, two_sided: bool = True) -> float:
    """Events required: ``d = (z_{1-alpha/2} + z_power)^2 / (variance * log(HR)^2)`` (Schoenfeld 1983)."""
    z_alpha = stats.norm.ppf(1 - alpha / 2 if two_sided else 1 - alpha)
    return float((z_alpha + stats.norm.ppf(power)) ** 2 / (variance * log_hr ** 2))


# ----------------------------------------------------------------------------------------------
# The outcome model
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestedQuantity:
    """``sum(coef * b[term]) + const``, tested against 0 in ``direction``."""

    label: str
    coefs: tuple[tuple[str, float], ...]
    const: float
    direction: Literal["two-sided", "greater", "less"]

    def value(self, beta: Mapping[str, float]) -> float:
        return float(sum(c * beta[t] for t, c in self.coefs) + self.const)


@dataclass(frozen=True)
class OutcomeModel:
    """Everything needed to draw a simulated dataset from a fitted model (built by :func:`outcome_model`)."""

    kind: Literal["gaussian", "bernoulli", "cox", "survreg"]
    frame: pd.DataFrame  #: estimation sample, the columns a refit reads, rows 0..n-1
    X: np.ndarray  #: design of the estimation sample
    names: tuple[str, ...]
    beta: np.ndarray  #: true coefficients, aligned with names
    n_parameters: int  #: coefficients estimated by a refit (ancillary included)
    link: str | None = None
    sigma: float | None = None  #: gaussian residual SE
    weights: np.ndarray | None = None
    shape: float | None = None  #: survreg: PH shape p (AFT: 1 / sigma)
    center: np.ndarray | None = None  #: cox: the estimation-sample mean of X
    baseline: tuple[np.ndarray, np.ndarray] | None = None  #: cox: knots (time, cumulative hazard) from 0
    follow_up: tuple[np.ndarray, np.ndarray] | None = None  #: censoring times and their cumulative probabilities
    response: str | None = None  #: column the regression response is written to
    time: str | None = None
    event: str | None = None
    refit: ModelSpec | None = None  #: the model refitted on each simulated dataset


def inverse_link(link: str, eta: np.ndarray) -> np.ndarray:
    """Mean of a binary outcome given the linear predictor."""
    if link == "logit":
        return 1.0 / (1.0 + np.exp(-eta))
    if link == "probit":
        return stats.norm.cdf(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    raise ValueError(f"no inverse link for {link!r}")


def breslow_cumulative_hazard(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                              weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Breslow's cumulative baseline hazard at the distinct event times.

    ``H0(t_k) = sum_{j <= k} d_j / sum_{i: t_i >= t_j} w_i risk_i`` with ``d_j`` the (weighted)
    events at ``t_j`` and ``risk = exp((x - xbar) b)``; returns the knots ``(0, t_1, ...)`` and
    ``(0, H0(t_1), ...)``.
    """
    w = np.ones_like(time, dtype=float) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(time, kind="stable")
    t, d, wr = time[order], event[order].astype(float) * w[order], (w * risk)[order]
    at_risk = np.cumsum(wr[::-1])[::-1]  # sum over t_i >= t (before ties are merged)
    times, first = np.unique(t, return_index=True)
    deaths = np.add.reduceat(d, first)
    keep = deaths > 0
    increments = deaths[keep] / at_risk[first][keep]
    return np.concatenate([[0.0], times[keep]]), np.concatenate([[0.0], np.cumsum(increments)])


def follow_up_distribution(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reverse Kaplan-Meier estimate of the censoring distribution: times and ``P(C <= t)``.

    Censorings are the "events" and events censor; the risk set at ``t`` is everyone followed to
    ``t`` or later. Mass the estimate leaves beyond the last censoring time is put at the largest
    observed time (the end of follow-up), so every simulated subject is censored by then.
    """
    time = np.asarray(time, dtype=float)
    censored = np.asarray(event, dtype=float) == 0
    end = float(time.max())
    times, counts = np.unique(time[censored], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), times, side="left")
    cdf = 1 - np.cumprod(1 - counts / at_risk)
    if not len(times) or times[-1] < end:
        times, cdf = np.append(times, end), np.append(cdf, 1.0)
    cdf[-1] = 1.0
    return times, cdf


def _draw_follow_up(follow_up: tuple[np.ndarray, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    times, cdf = follow_up
    idx = np.searchsorted(cdf, rng.random(size), side="left")
    return times[np.minimum(idx, len(times) - 1)]


def _draw_outcomes(om: OutcomeModel, rows: np.ndarray, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Outcome columns for the resampled ``rows``, and the event indicator (None for gaussian)."""
    X = om.X[rows]
    if om.kind == "gaussian":
        eta = X @ om.beta
        sd = om.sigma if om.weights is None else om.sigma / np.sqrt(om.weights[rows])
        return {om.response: eta + sd * rng.standard_normal(len(rows))}, None
    if om.kind == "bernoulli":
        y = (rng.random(len(rows)) < inverse_link(om.link, X @ om.beta)).astype(float)
        return {om.response: y}, y
    e = rng.exponential(size=len(rows))
    if om.kind == "cox":
        target = e * np.exp(-((X - om.center) @ om.beta))
        knots_t, knots_h = om.baseline
        t = np.where(target <= knots_h[-1], np.interp(target, knots_h, knots_t), np.inf)
    else:
        t = (e * np.exp(-(X @ om.beta))) ** (1.0 / om.shape)
    c = _draw_follow_up(om.follow_up, len(rows), rng)
    event = (t <= c).astype(float)
    # a zero time (a draw at or below the first knot) is not a valid survival time
    observed = np.maximum(np.minimum(t, c), np.finfo(float).tiny)
    return {om.time: observed, om.event: event}, event


def draw_sample(om: OutcomeModel, size: int, size_key: Literal["n", "events"], rng: np.random.Generator) -> pd.DataFrame:
    """One simulated dataset: ``size`` rows, or rows drawn until exactly ``size`` events occurred."""
    n_est = len(om.frame)
    if size_key == "n":
        rows = rng.integers(0, n_est, size=size)
        outcomes, _ = _draw_outcomes(om, rows, rng)
    else:
        parts_rows, parts_out, found, drawn = [], [], 0, 0
        batch = max(64, 2 * size)
        while found < size:
            if drawn > 1000 * size + 100_000:
                raise SpecificationError(f"after {drawn} simulated rows only {found} of {size} events occurred: the model "
                                         "rarely produces events; declare n instead of events, or fewer events.")
            rows = rng.integers(0, n_est, size=batch)
            out, event = _draw_outcomes(om, rows, rng)
            parts_rows.append(rows)
            parts_out.append(out)
            found += int(event.sum())
            drawn += batch
        rows = np.concatenate(parts_rows)
        outcomes = {k: np.concatenate([o[k] for o in parts_out]) for k in parts_out[0]}
        event = outcomes[om.event if om.kind in ("cox", "survreg") else om.response]
        cut = int(np.flatnonzero(event)[size - 1]) + 1  # up to the row bringing the size-th event
        rows = rows[:cut]
        outcomes = {k: v[:cut] for k, v in outcomes.items()}
    frame = om.frame.iloc[rows].reset_index(drop=True)
    for column, values in outcomes.items():
        frame[column] = values
    return frame


def _fail(index: int, spec: SimulationSpec, key: str, message: str) -> SpecificationError:
    return SpecificationError(f"simulation {spec.id!r}: {message}", where=f"simulations[{index}] (id {spec.id!r}).{key}")


def _tested_quantity(spec: SimulationSpec, index: int, terms: list[str],
                     hypotheses: Sequence[HypothesisSpec]) -> TestedQuantity:
    if spec.term is not None:
        if spec.term not in terms:
            raise _fail(index, spec, "term", f"term {spec.term!r} is not a coefficient of model {spec.model!r}"
                        f"{suggest(spec.term, terms)}; name it as in the model's table.")
        shown = {"two-sided": "= 0 (two-sided)", "greater": "> 0", "less": "< 0"}[spec.direction]
        return TestedQuantity(f"{spec.term} {shown}", ((spec.term, 1.0),), 0.0, spec.direction)
    hyp = next(h for h in hypotheses if h.id == spec.hypothesis)
    parsed = parse_test(hyp.test, "test")
    if parsed.kind not in ("wald", "one_sided") or len(parsed.restrictions) != 1 or hyp.at or hyp.component:
        raise _fail(index, spec, "hypothesis", f"hypothesis {hyp.id!r} ({parsed.text!r}) is not one linear restriction "
                    "without 'at' or 'component'; simulations test one restriction ('x > 0', 'a + a:b = 0'). Use term "
                    "and direction, or a hypothesis with such a test.")
    form = parsed.restrictions[0]
    for ref, _ in form.coefs:
        if ref not in terms:
            raise _fail(index, spec, "hypothesis", f"hypothesis {hyp.id!r} names {ref!r}, which is not a coefficient of "
                        f"model {spec.model!r}{suggest(ref, terms)}.")
    direction = parsed.direction or "two-sided"
    return TestedQuantity(f"{hyp.id}: {parsed.text}", tuple(form.coefs), float(form.const), direction)


def outcome_model(spec: SimulationSpec, index: int, model: ModelSpec, result, frame: pd.DataFrame) -> OutcomeModel:
    """The outcome model of ``spec``: the fitted design and coefficients with ``effects`` applied.

    Raises
    ------
    SpecificationError
        A family that cannot be simulated, a model feature the simulation does not reproduce
        (strata, frailty, tt, delayed entry, absorbed fixed effects, competing risks), an effect
        naming no coefficient, or sizes not above the number of parameters; ``where`` names the key.
    """
    family = get_family(model.family)
    kind = OUTCOME_MODELS.get(model.family)
    if kind is None:
        raise _fail(index, spec, "model", f"model {model.id!r} is a {model.family} model; simulations draw outcomes for "
                    f"{', '.join(sorted(OUTCOME_MODELS))} only.")
    options = dict(model.options or {})
    unsupported = [k for k in ("strata", "frailty", "tt") if options.get(k)]
    if model.start is not None:
        unsupported.append("start")
    if model.event_value is not None:
        unsupported.append("event_value")
    if parse_formula(model.formula).absorb:
        unsupported.append("absorbed fixed effects ('|' in the formula)")
    if unsupported:
        raise _fail(index, spec, "model", f"model {model.id!r} uses {', '.join(unsupported)}, which simulations do not "
                    "reproduce; simulate from a model without them.")
    if spec.events is not None and kind == "gaussian":
        raise _fail(index, spec, "events", f"model {model.id!r} ({model.family}) has no events; give n (sample sizes).")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit already reported dropped rows
        data = prepare(model, frame, family, source=None)
    tidy = result.tidy
    ancillary = tidy["component"].fillna("").astype(str).eq("ancillary") if "component" in tidy.columns else \
        pd.Series(False, index=tidy.index)
    fitted = dict(zip(tidy.loc[~ancillary, "term"].astype(str), tidy.loc[~ancillary, "estimate"].astype(float)))
    terms = list(fitted)
    for term in spec.effects:
        if term not in fitted:
            raise _fail(index, spec, f"effects.{term}", f"effects names {term!r}, which is not a coefficient of model "
                        f"{model.id!r}{suggest(term, terms)}; name terms as in the model's table.")
    truth = {**fitted, **spec.effects}
    names = tuple(data.names)
    beta = np.array([truth.get(n, 0.0) for n in names])  # 0: a Cox model's intercept column
    n_parameters = len(tidy)
    for size in spec.sizes:
        if size <= n_parameters:
            raise _fail(index, spec, spec.size_key, f"{spec.size_key} = {size} is not above the {n_parameters} parameters of "
                        f"model {model.id!r}; a refit needs more {'rows' if spec.size_key == 'n' else 'events'} than "
                        "parameters. Raise it.")

    updates: dict[str, Any] = {"sample": None}
    common: dict[str, Any] = dict(kind=kind, X=np.asarray(data.X, dtype=float), names=names, beta=beta,
                                  n_parameters=n_parameters, weights=data.weights)
    if kind in ("gaussian", "bernoulli"):
        rhs = model.formula.split("~", 1)[1]
        updates["formula"] = f"{SIM_RESPONSE} ~{rhs}"
        common["response"] = SIM_RESPONSE
        if kind == "gaussian":
            common["sigma"] = float(result.glance["sigma"])
        else:
            common["link"] = family.link_of(options) or "logit"
    else:
        time, event = np.asarray(data.time, dtype=float), np.asarray(data.event, dtype=float)
        common.update(time=model.time, event=model.event, follow_up=follow_up_distribution(time, event))
        if kind == "cox":
            center = common["X"].mean(axis=0)
            beta_fit = np.array([fitted.get(n, 0.0) for n in names])
            risk = np.exp((common["X"] - center) @ beta_fit)
            common.update(center=center, baseline=breslow_cumulative_hazard(time, event, risk, data.weights))
        else:
            anc = dict(zip(tidy.loc[ancillary, "term"].astype(str), tidy.loc[ancillary, "estimate"].astype(float)))
            if "log_scale" in anc:
                common["shape"] = float(np.exp(-anc["log_scale"]))
                common["beta"] = -beta * common["shape"]  # AFT coefficients on log time -> PH: -b / sigma
            else:
                common["shape"] = float(np.exp(anc.get("log_shape", 0.0)))  # exponential: p = 1
    refit = model.model_copy(update=updates)
    keep = [c for c in needed_columns(refit, family) if c in data.frame.columns]
    frame_out = data.frame[list(dict.fromkeys(keep))].reset_index(drop=True)
    return OutcomeModel(frame=frame_out, refit=refit, **common)


# ----------------------------------------------------------------------------------------------
# Running and summarising
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationRun:
    """A finished simulation: one summary row per setting and one row per replicate."""

    spec: SimulationSpec
    family: str
    test: str  #: label of the tested quantity
    truth: float
    summary: pd.DataFrame  #: see docs/simulations.md for the columns
    replicates: pd.DataFrame  #: setting, rep, estimate, std_error, p_value, conf_low, conf_high, events, error
    analytic: str | None = None  #: the analytic power formula of the ``analytic_power`` column
    notes: tuple[str, ...] = field(default_factory=tuple)


def _replicate_row(payload: Payload, quantity: TestedQuantity, conf_level: float) -> dict[str, Any]:
    if not payload.ok:
        return {"error": f"{type(payload.error).__name__}: {payload.error}"}
    result = payload.result
    if not bool(result["glance"].get("converged", True)):
        return {"error": "did not converge"}
    vc = result["frames"].get("vcov")
    tidy = result["tidy"]
    terms = tidy["term"].astype(str).tolist()
    missing = [t for t, _ in quantity.coefs if t not in terms]
    if missing or vc is None:
        return {"error": f"{missing[0]!r} was dropped (collinear in this sample)" if missing else "no covariance"}
    labels = vc["term"].astype(str).tolist()
    row = np.zeros(len(labels))
    for t, c in quantity.coefs:
        row[labels.index(t)] += c
    coef = dict(zip(terms, tidy["estimate"].astype(float)))
    estimate = quantity.value(coef)
    V = vc.drop(columns="term").to_numpy(float)
    se = float(np.sqrt(row @ V @ row)) if row @ V @ row >= 0 else np.nan
    df_resid = result["meta"].get("df_resid")
    dist = stats.norm if df_resid is None or not np.isfinite(df_resid) else stats.t(float(df_resid))
    stat = estimate / se if se > 0 else np.nan
    if quantity.direction == "two-sided":
        p = 2 * dist.sf(abs(stat))
    else:
        p = dist.sf(stat) if quantity.direction == "greater" else dist.cdf(stat)
    q = dist.ppf(1 - (1 - conf_level) / 2)
    return {"estimate": estimate, "std_error": se, "p_value": float(p), "conf_low": estimate - q * se,
            "conf_high": estimate + q * se, "nobs": int(result["glance"].get("nobs", 0) or 0), "error": ""}


def _analytic(om: OutcomeModel, quantity: TestedQuantity, truth: float, alpha: float, size_key: str,
              size: int, mean_events: float) -> float:
    index = {n: i for i, n in enumerate(om.names)}
    c = np.zeros(len(om.names))
    for t, w in quantity.coefs:
        c[index[t]] += w
    if om.kind == "gaussian":
        W = np.ones(len(om.X)) if om.weights is None else om.weights
        XtWX_inv = np.linalg.pinv((om.X * W[:, None]).T @ om.X)
        # (X'WX)^-1 of the estimation sample, rescaled to n resampled rows: E[X'WX] = n/n_est X'WX
        se = om.sigma * math.sqrt(float(c @ XtWX_inv @ c) * len(om.X) / size)
        return ols_power(truth / se, size - om.n_parameters, alpha, quantity.direction)
    if om.kind == "cox":
        events = size if size_key == "events" else mean_events
        keep = np.ptp(om.X, axis=0) > 0  # the intercept column is constant
        sigma = np.atleast_2d(np.cov(om.X[:, keep], rowvar=False, bias=True))
        variance = 1.0 / float(c[keep] @ np.linalg.pinv(sigma) @ c[keep])  # Var(x_c | other covariates)
        return schoenfeld_power(events, variance, truth, alpha, quantity.direction)
    return np.nan


def run_simulation(spec: SimulationSpec, index: int, model: ModelSpec, results: Mapping[str, Any],
                   frames: Mapping[str, pd.DataFrame], hypotheses: Sequence[HypothesisSpec] = (),
                   executor: Executor | None = None) -> SimulationRun:
    """Simulate ``spec`` (the ``index``-th ``[[simulations]]`` entry) from the fitted ``model``.

    Parameters
    ----------
    results, frames
        Model id -> Result, and -> the dataset it was fitted on (before its sample restriction).
    hypotheses
        The analysis' ``[[hypotheses]]`` (for ``spec.hypothesis``).
    executor
        Where the refits run (default serial); results are identical on every executor.

    Raises
    ------
    SpecificationError
        The model has no converged fit, or :func:`outcome_model` refuses the declaration.
    """
    result = results.get(spec.model)
    if result is None or spec.model not in frames:
        raise _fail(index, spec, "model", f"model {spec.model!r} has no fitted result (it failed to fit, or is a [grid] "
                    "specification); simulate from a model of [[models]] or [[robustness]] that fitted.")
    if not bool(result.glance.get("converged", True)):
        raise _fail(index, spec, "model", f"model {spec.model!r} did not converge, so its coefficients are no basis for "
                    "a simulation; fix the model first.")
    if spec.reps > MAX_REPS:  # validated in the spec; a programmatic spec may skip it
        raise _fail(index, spec, "reps", f"reps = {spec.reps} is above the cap of {MAX_REPS} (MAX_REPS).")
    om = outcome_model(spec, index, model, result, frames[spec.model])
    fitted_terms = [n for n in om.names if n in set(result.tidy["term"].astype(str))]
    quantity = _tested_quantity(spec, index, fitted_terms, hypotheses)
    truth = quantity.value(dict(zip(om.names, _reported_beta(om, model))))
    executor = executor or SerialExecutor()

    jobs = [(s, r) for s in range(len(spec.sizes)) for r in range(spec.reps)]
    rows: list[dict[str, Any]] = []
    for start in range(0, len(jobs), _BATCH):
        batch = jobs[start:start + _BATCH]
        sources: dict[str, Dataset] = {}
        tasks: list[FitTask] = []
        events: list[float] = []
        for k, (s, r) in enumerate(batch):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([spec.seed, s, r])))
            sample = draw_sample(om, spec.sizes[s], spec.size_key, rng)
            key = f"{spec.id}:{s}:{r}"
            sources[key] = Dataset(sample, f"simulation {spec.id!r}", f"simulated:{key}")
            tasks.append(FitTask(k, om.refit, key))
            column = om.event if om.kind in ("cox", "survreg") else om.response
            events.append(float(sample[column].sum()) if om.kind != "gaussian" else np.nan)
        payloads = executor.run(tasks, sources)
        for (s, r), ev, payload in zip(batch, events, payloads):
            rows.append({"setting": s, spec.size_key: spec.sizes[s], "rep": r, "n_events": ev,
                         **_replicate_row(payload, quantity, model.conf_level)})
    columns = ["setting", spec.size_key, "rep", "n_events", "estimate", "std_error", "p_value", "conf_low", "conf_high",
               "nobs", "error"]
    replicates = pd.DataFrame(rows).reindex(columns=columns)
    replicates["error"] = replicates["error"].fillna("")
    summary = _summarise(spec, om, quantity, truth, replicates)
    analytic = {"gaussian": "noncentral t with the design's (X'X)^-1 scaled to n",
                "cox": "Schoenfeld (1983) / Hsieh & Lavori (2000), with the events of the setting (n: their mean)"}.get(om.kind)
    notes = _notes(spec, model, quantity, truth, analytic, replicates)
    return SimulationRun(spec, model.family, quantity.label, truth, summary, replicates, analytic, tuple(notes))


def _reported_beta(om: OutcomeModel, model: ModelSpec) -> np.ndarray:
    """The true coefficients on the scale the model reports (AFT coefficients for form = 'aft')."""
    if om.kind == "survreg" and dict(model.options or {}).get("form") == "aft":
        return -om.beta / om.shape
    return om.beta


def _summarise(spec: SimulationSpec, om: OutcomeModel, quantity: TestedQuantity, truth: float,
               replicates: pd.DataFrame) -> pd.DataFrame:
    out = []
    for s, size in enumerate(spec.sizes):
        part = replicates[replicates["setting"] == s]
        ok = part[part["error"] == ""]
        m = len(ok)
        est = ok["estimate"].to_numpy(float)
        power = float(np.mean(ok["p_value"].to_numpy(float) < spec.alpha)) if m else np.nan
        mean_events = float(part["n_events"].mean()) if om.kind != "gaussian" else np.nan
        out.append({
            spec.size_key: int(size),
            "reps": len(part),
            "failed": int(len(part) - m),
            "mean_events": mean_events,
            "truth": truth,
            "mean_estimate": float(est.mean()) if m else np.nan,
            "bias": float(est.mean() - truth) if m else np.nan,
            "rmse": float(np.sqrt(np.mean((est - truth) ** 2))) if m else np.nan,
            "mean_se": float(ok["std_error"].mean()) if m else np.nan,
            "empirical_se": float(est.std(ddof=1)) if m > 1 else np.nan,
            "coverage": float(np.mean((ok["conf_low"] <= truth) & (truth <= ok["conf_high"]))) if m else np.nan,
            "power": power,
            "power_mcse": float(math.sqrt(power * (1 - power) / m)) if m else np.nan,
            "analytic_power": _analytic(om, quantity, truth, spec.alpha, spec.size_key, int(size), mean_events),
        })
    return pd.DataFrame(out)


def _notes(spec: SimulationSpec, model: ModelSpec, quantity: TestedQuantity, truth: float, analytic: str | None,
           replicates: pd.DataFrame) -> list[str]:
    effects = ", ".join(f"{k} = {v:g}" for k, v in spec.effects.items()) or "none (all coefficients as fitted)"
    notes = [
        (f"Simulated from model {model.id!r} ({model.family}): covariates resampled from its estimation sample, "
         f"outcomes from the fitted model; declared effects: {effects}. Test: {quantity.label} at alpha = "
         f"{spec.alpha:g}; true value {truth:.4g}."),
        (f"{spec.reps} replicates per setting, seed {spec.seed}; coverage of the {model.conf_level:.0%} interval; "
         "power_mcse is the Monte Carlo SE of power, sqrt(p(1-p)/replicates)."),
    ]
    if analytic:
        notes.append(f"analytic_power: {analytic}.")
    failed = replicates[replicates["error"] != ""]
    if len(failed):
        reasons = failed["error"].str.slice(0, 80).value_counts()
        top = "; ".join(f"{reason} ({count})" for reason, count in reasons.head(3).items())
        notes.append(f"{len(failed)} replicate fit(s) failed and are left out of the summaries: {top}.")
    return notes
