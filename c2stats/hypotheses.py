"""Declared hypotheses (``[[hypotheses]]``) and their tests: one-sided and two-sided Wald tests of
linear combinations, joint Wald tests, likelihood-ratio tests, marginal effects, and
multiple-testing corrections, summarised in a verdict table.

The test language
-----------------
``test`` is a small linear language parsed with :mod:`ast` against a whitelist and interpreted
by our own code (nothing is evaluated):

* ``"volatility > 0"`` / ``"volatility < 0"``: one-sided Wald test (z, or t with the model's
  residual degrees of freedom for ``ols``/``panel``); the hypothesis is the stated direction, the
  null its complement, and ``direction_met`` says whether the estimate lies on the stated side.
* ``"c2_depth + c2_depth:informal = 0"``, ``"maxdem = mindem"``, ``"2*a - b = 1"``: two-sided
  Wald test of one linear restriction.
* ``"a = b = 0"`` (every side equal: here a = 0 and b = 0) or a list ``["a = 0", "b = 0"]``:
  joint Wald test, chi-square on q df (F on q and the residual df for t-reference models), as
  ``car::linearHypothesis``.
* ``"lr"`` with two models: likelihood-ratio test of nested models (df from the parameter
  counts; both must be fitted on the same observations).

Terms are written as in the model's tidy table: ``age``, ``contig:power``, ``(Intercept)``,
``log(gdp)``, ``C(region)Europe``; back-quotes protect anything else (```my var```). In a
multi-equation model (``mnlogit``) a term is ``"<component>: <term>"`` (a colon then a space,
e.g. ``formal: age``) or the ``component`` key names the equation for every term.

``at`` turns the test into one on the marginal effect of a term at declared values of its
moderators: with ``test = "c2_depth > 0"`` and ``at = {informal = 1}``, the tested quantity is
``b[c2_depth] + 1 * b[c2_depth:informal]`` with its delta-method (here exact, linear) standard
error. A list of values (``at = {informal = [0, 1]}``) gives one verdict row per value.

Estimates, statistics and standard errors are on the model's scale (log hazard, log odds, ...)
even when tables exponentiate; the ``scale`` column says which.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .contrast import LinearForm, ParsedTest, parse_test
from .errors import SpecificationError
from .spec import HypothesisSpec, check_hypotheses, suggest

__all__ = [
    "HypothesisSpec",
    "ParsedTest",
    "VERDICT_COLUMNS",
    "adjust_pvalues",
    "check_hypotheses",
    "evaluate_hypotheses",
    "parse_test",
    "verdict_display",
]


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# The config section
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Corrections
# ----------------------------------------------------------------------------------------------
def adjust_pvalues(p: Sequence[float], method: Literal["none", "holm", "bh"]) -> np.ndarray:
    """Adjusted p-values, exactly R's ``p.adjust(p, method)`` (``"bh"`` = ``"BH"``); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = p.copy()
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if method == "none" or m == 0:
        return out
    if method == "holm":
        order = np.argsort(q, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    elif method == "bh":
        order = np.argsort(q, kind="stable")[::-1]
        i = np.arange(m, 0, -1)
        adj = np.minimum(1.0, np.minimum.accumulate(m / i * q[order]))
    else:
        raise ValueError(f"unknown correction {method!r}")
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------
VERDICT_COLUMNS: dict[str, str] = {
    "hypothesis": "Hypothesis id.",
    "statement": "The hypothesis in words.",
    "model": "Model id (for 'lr': '<restricted> vs <full>').",
    "test": "The declared test.",
    "kind": "one_sided, wald (one restriction, two-sided), joint, lr.",
    "at": "Moderator values of a marginal-effect test ('' otherwise).",
    "estimate": "Value of the tested linear combination (left minus right side) on the model's scale; NaN for joint/lr.",
    "std_error": "Its standard error, from the model's reported covariance (robust/cluster when declared).",
    "statistic": "z or t (one restriction), chi-square or F (joint), LR chi-square (lr).",
    "distribution": "Reference distribution: normal, t, chisq or F.",
    "df": "Numerator degrees of freedom (restrictions; parameter difference for lr).",
    "df_resid": "Denominator degrees of freedom of t and F (NaN for normal and chi-square).",
    "p_value": "Unadjusted p-value (one-sided for one_sided tests).",
    "correction": "none, holm or bh.",
    "family": "Group corrected together ('' when none).",
    "p_adjusted": "p-value after the correction within the family (= p_value without correction).",
    "alpha": "Significance level.",
    "reject": "True when p_adjusted < alpha (the null is rejected; for one_sided the stated direction is supported).",
    "decision": "'reject H0' or 'do not reject H0' ('not tested' when the p-value is missing).",
    "expected_direction": "'> 0' or '< 0' for one-sided tests ('' otherwise).",
    "direction_met": "One-sided tests: whether the estimate lies on the stated side; NA otherwise.",
    "scale": "Scale of estimate (log_hazard, log_odds, ...): never exponentiated.",
    "converged": "Whether every model used converged.",
    "note": "Warnings: non-convergence, separation, tests that ignore the declared variance (lr).",
}


@dataclass(frozen=True)
class _Params:
    labels: list[str]
    terms: list[str]
    components: list[str]
    coef: np.ndarray
    vcov: np.ndarray
    dropped: tuple[str, ...] = ()


def _params(result, where: str) -> _Params:
    tidy = result.tidy
    vc = result.vcov()
    if vc is None:
        raise SpecificationError(f"{where}: model {result.model_id!r} has no covariance matrix (frames['vcov']); "
                                 "a Wald test needs it. Refit the model with c2stats.")
    terms = tidy["term"].astype(str).tolist()
    comps = tidy["component"].fillna("").astype(str).tolist() if "component" in tidy.columns else [""] * len(terms)
    labels = [str(x) for x in vc.index]
    if len(labels) != len(terms):
        raise SpecificationError(f"{where}: model {result.model_id!r} has {len(terms)} terms but a {len(labels)}-row "
                                 "covariance matrix.")
    dropped = tuple((dict(result.meta.get("diagnostics") or {}).get("collinearity") or {}).get("dropped") or ())
    return _Params(labels, terms, comps, tidy["estimate"].to_numpy(float), vc.to_numpy(float), dropped)


def _split_interaction(term: str) -> list[str]:
    """Factors of an interaction name ``a:b:c`` (colons inside parentheses or brackets do not split)."""
    parts, depth, cur = [], 0, ""
    for ch in term:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _resolve(ref: str, params: _Params, spec: HypothesisSpec, model_id: str) -> int:
    where = f"hypothesis {spec.id!r}"
    hits = [i for i, lab in enumerate(params.labels) if lab == ref]
    if len(hits) == 1:
        return hits[0]
    if ": " in ref:
        comp, term = ref.split(": ", 1)
        hits = [i for i, (c, t) in enumerate(zip(params.components, params.terms)) if c == comp and t == term]
        if len(hits) == 1:
            return hits[0]
    hits = [i for i, t in enumerate(params.terms) if t == ref]
    if spec.component:
        hits = [i for i in hits if params.components[i] == spec.component]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        comps = ", ".join(params.components[i] for i in hits)
        raise SpecificationError(
            f"{where}: term {ref!r} is in several equations of model {model_id!r} ({comps}); write "
            f"'{params.components[hits[0]]}: {ref}' in the test, or set component = {params.components[hits[0]]!r}.",
            where=f"hypotheses (id {spec.id!r}).test",
        )
    if ref in params.dropped:
        raise SpecificationError(
            f"{where}: {ref!r} was omitted from model {model_id!r} because of collinearity, so it has no coefficient to "
            "test; remove it from the test or the collinear term from the formula.",
            where=f"hypotheses (id {spec.id!r}).test",
        )
    valid = list(dict.fromkeys([*params.terms, *params.labels]))
    if spec.component and spec.component not in set(params.components):
        comps = sorted(set(c for c in params.components if c))
        raise SpecificationError(
            f"{where}: component {spec.component!r} is not an equation of model {model_id!r} "
            f"(equations: {', '.join(comps) or 'none'}); fix the component key.",
            where=f"hypotheses (id {spec.id!r}).component",
        )
    raise SpecificationError(
        f"{where}: the test names {ref!r}, which is not a term of model {model_id!r}{suggest(ref, valid)}. Write the "
        "term exactly as in the model's table (interactions as 'a:b', back-quotes for unusual names).",
        where=f"hypotheses (id {spec.id!r}).test",
    )


def _restriction_row(form: LinearForm, params: _Params, spec: HypothesisSpec, model_id: str,
                     at: Mapping[str, float]) -> tuple[np.ndarray, float]:
    """Row of R and the right-hand side r for ``form = 0``, with ``at`` moderators expanded."""
    row = np.zeros(len(params.labels))
    for ref, c in form.coefs:
        i = _resolve(ref, params, spec, model_id)
        row[i] += c
        if not at:
            continue
        base = _split_interaction(params.terms[i])
        for j, term in enumerate(params.terms):
            if j == i or params.components[j] != params.components[i]:
                continue
            parts = _split_interaction(term)
            if len(parts) <= len(base) or any(parts.count(b) < base.count(b) for b in base):
                continue
            extra = list(parts)
            for b in base:
                extra.remove(b)
            unknown = [e for e in extra if e not in at]
            if unknown:
                raise SpecificationError(
                    f"hypothesis {spec.id!r}: {term!r} also moderates {params.terms[i]!r} in model {model_id!r}, so the "
                    f"marginal effect depends on {', '.join(map(repr, unknown))}; add "
                    f"{' and '.join(repr(u) for u in unknown)} to at.",
                    where=f"hypotheses (id {spec.id!r}).at",
                )
            row[j] += c * math.prod(at[e] for e in extra)
    return row, -form.const


def _at_combinations(spec: HypothesisSpec) -> list[dict[str, float]]:
    if not spec.at:
        return [{}]
    keys = list(spec.at)
    values = [v if isinstance(v, list) else [v] for v in spec.at.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _check_at_keys(spec: HypothesisSpec, params: _Params, model_id: str) -> None:
    factors = {f for t in params.terms for f in _split_interaction(t)}
    for key in spec.at:
        if key not in factors:
            raise SpecificationError(
                f"hypothesis {spec.id!r}: at names {key!r}, which is not part of any term of model {model_id!r}"
                f"{suggest(key, sorted(factors))}; name a moderator as it appears in the interaction terms "
                "(e.g. 'informal' in 'c2_depth:informal').",
                where=f"hypotheses (id {spec.id!r}).at",
            )


def _model_notes(result) -> tuple[bool, list[str]]:
    notes = []
    converged = bool(result.glance.get("converged", True))
    if not converged:
        notes.append(f"{result.model_id} did not converge")
    if result.glance.get("separation"):
        remedy = result.meta.get("remedy")
        notes.append(f"{result.model_id}: separation" + (f" (refitted with {remedy})" if remedy else ""))
    return converged, notes


def _wald_row(spec: HypothesisSpec, parsed: ParsedTest, result, model_id: str, at: dict[str, float]) -> dict:
    params = _params(result, f"hypothesis {spec.id!r}")
    if spec.at:
        _check_at_keys(spec, params, model_id)
    rows = [_restriction_row(f, params, spec, model_id, at) for f in parsed.restrictions]
    R = np.vstack([r for r, _ in rows])
    rhs = np.array([c for _, c in rows])
    d = R @ params.coef - rhs
    RVR = R @ params.vcov @ R.T
    df_resid = result.meta.get("df_resid")
    df_resid = float(df_resid) if df_resid is not None and np.isfinite(df_resid) else None
    q = R.shape[0]
    converged, notes = _model_notes(result)
    if q > 1 and np.linalg.matrix_rank(R) < q:
        raise SpecificationError(
            f"hypothesis {spec.id!r}: the restrictions of {parsed.text!r} are linearly dependent in model {model_id!r} "
            "(one follows from the others); remove the redundant one.",
            where=f"hypotheses (id {spec.id!r}).test",
        )
    out: dict[str, Any] = {"df": q, "df_resid": np.nan}
    if q == 1:
        se = float(np.sqrt(RVR[0, 0])) if RVR[0, 0] >= 0 else np.nan
        stat = float(d[0] / se) if se > 0 else np.nan
        dist = stats.norm if df_resid is None else stats.t(df_resid)
        if parsed.kind == "one_sided":
            p = float(dist.sf(stat) if parsed.direction == "greater" else dist.cdf(stat))
        else:
            p = float(2 * dist.sf(abs(stat)))
        out.update(estimate=float(d[0]), std_error=se, statistic=stat,
                   distribution="normal" if df_resid is None else "t")
        if df_resid is not None:
            out["df_resid"] = df_resid
    else:
        try:
            chi2 = float(d @ np.linalg.solve(RVR, d))
        except np.linalg.LinAlgError:
            chi2 = np.nan
        if df_resid is None:
            p = float(stats.chi2.sf(chi2, q))
            out.update(statistic=chi2, distribution="chisq")
        else:
            p = float(stats.f.sf(chi2 / q, q, df_resid))
            out.update(statistic=chi2 / q, distribution="F", df_resid=df_resid)
        out.update(estimate=np.nan, std_error=np.nan)
    if not np.isfinite(p):
        p = np.nan
        notes.append("the covariance of the tested combination is not positive (test not computed)")
    direction = {"greater": "> 0", "less": "< 0"}.get(parsed.direction or "", "")
    met = None
    if parsed.kind == "one_sided" and np.isfinite(out["estimate"]):
        met = bool(out["estimate"] > 0) if parsed.direction == "greater" else bool(out["estimate"] < 0)
    out.update(p_value=p, expected_direction=direction, direction_met=met, converged=converged,
               scale=str(result.meta.get("scale", "")), notes=notes,
               at=", ".join(f"{k} = {v:g}" for k, v in at.items()))
    return out


def _lr_row(spec: HypothesisSpec, results: Mapping[str, Any]) -> dict:
    a, b = (results[m] for m in spec.models)
    where = f"hypotheses (id {spec.id!r}).models"
    for res in (a, b):
        ll = res.glance.get("loglik")
        if ll is None or not np.isfinite(ll):
            raise SpecificationError(
                f"hypothesis {spec.id!r}: model {res.model_id!r} reports no log-likelihood, so a likelihood-ratio test "
                "is not possible; use a Wald test (e.g. test = 'a = b = 0').", where=where)
        if res.meta.get("family") == "firth" or res.meta.get("remedy") == "firth":
            raise SpecificationError(
                f"hypothesis {spec.id!r}: model {res.model_id!r} is a Firth (penalised) fit; its likelihood-ratio test "
                "needs the penalised profile likelihood, which c2stats does not compute. Use a Wald test.", where=where)
        if res.glance.get("reml"):
            raise SpecificationError(
                f"hypothesis {spec.id!r}: model {res.model_id!r} is fitted by REML, whose likelihoods are not comparable "
                "across fixed effects; set options.reml = false in both models for a likelihood-ratio test.",
                where=where)
    if a.meta.get("family") != b.meta.get("family"):
        raise SpecificationError(
            f"hypothesis {spec.id!r}: models {a.model_id!r} ({a.meta.get('family')}) and {b.model_id!r} "
            f"({b.meta.get('family')}) are different families, so they are not nested.", where=where)
    if int(a.glance.get("nobs")) != int(b.glance.get("nobs")):
        raise SpecificationError(
            f"hypothesis {spec.id!r}: models {a.model_id!r} ({a.glance.get('nobs')} observations) and {b.model_id!r} "
            f"({b.glance.get('nobs')}) are fitted on different samples; a likelihood-ratio test needs the same rows. "
            "Restrict both models to the complete cases of the larger one (sample key).", where=where)
    small, big = (a, b) if len(a.tidy) < len(b.tidy) else (b, a)
    if len(small.tidy) == len(big.tidy):
        raise SpecificationError(
            f"hypothesis {spec.id!r}: models {a.model_id!r} and {b.model_id!r} have the same number of parameters, so "
            "neither is nested in the other.", where=where)

    def keys(res):
        comp = res.tidy["component"].fillna("") if "component" in res.tidy.columns else [""] * len(res.tidy)
        return set(zip(comp, res.tidy["term"]))

    missing = sorted(t for _, t in keys(small) - keys(big))
    if missing:
        raise SpecificationError(
            f"hypothesis {spec.id!r}: model {small.model_id!r} has terms not in {big.model_id!r} "
            f"({', '.join(map(repr, missing[:5]))}), so it is not nested in it; a likelihood-ratio test compares a "
            "model with a restricted version of itself.", where=where)
    df = len(big.tidy) - len(small.tidy)
    stat = float(2.0 * (big.glance["loglik"] - small.glance["loglik"]))
    p = float(stats.chi2.sf(stat, df))
    notes = []
    conv = True
    for res in (small, big):
        c, n = _model_notes(res)
        conv &= c
        notes += n
    if any(dict(res.meta.get("vcov") or {}).get("type", "model") != "model" for res in (small, big)):
        notes.append("the LR test uses the likelihood and ignores the declared robust/cluster variance")
    return {"model": f"{small.model_id} vs {big.model_id}", "estimate": np.nan, "std_error": np.nan, "statistic": stat,
            "distribution": "chisq", "df": df, "df_resid": np.nan, "p_value": p, "expected_direction": "",
            "direction_met": None, "converged": conv, "scale": "", "notes": notes, "at": ""}


def evaluate_hypotheses(specs: Sequence[HypothesisSpec], results: Mapping[str, Any]) -> pd.DataFrame:
    """Run every declared test on the fitted results and decide, with corrections by family.

    Parameters
    ----------
    specs
        The ``[[hypotheses]]`` entries.
    results
        ``{model_id: Result}`` of the fitted (or reloaded) models.

    Returns
    -------
    pandas.DataFrame
        One row per hypothesis, model and ``at`` combination, in declaration order, with the columns
        of :data:`VERDICT_COLUMNS` (documented there).

    Raises
    ------
    SpecificationError
        Naming the hypothesis id, the key and the fix: a term not in its model (with the closest
        term suggested), an ambiguous multi-equation term, a moderator missing from ``at``,
        models that are not nested or not on the same observations for ``lr``.
    """
    specs = list(specs)
    check_hypotheses(specs)
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(specs):
        try:
            rows.extend(_evaluate_one(spec, results))
        except SpecificationError as exc:  # key paths as the config's: hypotheses[<position>] (id '...').<key>
            if exc.where and exc.where.startswith("hypotheses (id"):
                exc.where = f"hypotheses[{index}]" + exc.where[len("hypotheses"):]
                exc.args = (exc._compose(),)
            raise
    return _decide(rows)


def _evaluate_one(spec: HypothesisSpec, results: Mapping[str, Any]) -> list[dict[str, Any]]:
    for mid in spec.models:
        if mid not in results:
            raise SpecificationError(
                f"hypothesis {spec.id!r} uses model {mid!r}, which was not fitted{suggest(mid, list(results))}.",
                where=f"hypotheses (id {spec.id!r}).models")
    parsed = parse_test(spec.test, f"hypotheses (id {spec.id!r}).test")
    base = {"hypothesis": spec.id, "statement": spec.statement, "test": parsed.text if parsed.kind != "lr" else "lr",
            "kind": parsed.kind, "correction": spec.correction, "family": spec.family or "", "alpha": spec.alpha}
    if parsed.kind == "lr":
        return [{**base, **_lr_row(spec, results)}]
    return [{**base, "model": mid, **_wald_row(spec, parsed, results[mid], mid, at)}
            for mid in spec.models for at in _at_combinations(spec)]


def _decide(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in VERDICT_COLUMNS})
    frame["p_adjusted"] = frame["p_value"].astype(float)
    for family, idx in frame[frame["family"] != ""].groupby("family").groups.items():
        method = frame.loc[idx, "correction"].iloc[0]
        frame.loc[idx, "p_adjusted"] = adjust_pvalues(frame.loc[idx, "p_value"].to_numpy(float), method)
    p_adj = frame["p_adjusted"].to_numpy(float)
    frame["reject"] = np.where(np.isfinite(p_adj), p_adj < frame["alpha"].to_numpy(float), False)
    frame["decision"] = np.where(~np.isfinite(p_adj), "not tested",
                                 np.where(frame["reject"], "reject H0", "do not reject H0"))
    frame["note"] = ["; ".join(n) for n in frame["notes"]]
    frame["direction_met"] = frame["direction_met"].astype(object).where(frame["direction_met"].notna(), None)
    frame["reject"] = frame["reject"].astype(bool)
    frame["df"] = frame["df"].astype(int)
    for col in ("estimate", "std_error", "statistic", "df_resid", "p_value", "p_adjusted", "alpha"):
        frame[col] = frame[col].astype(float)
    return frame[list(VERDICT_COLUMNS)].reset_index(drop=True)


def verdict_display(verdicts: pd.DataFrame, digits: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """The verdict table as shown in reports: (display frame, notes) for ``tables.frame_table``.

    Columns: Hypothesis, Model, Test, Estimate, Statistic, p-value (adjusted when corrected),
    Decision, Direction met. The notes say which scale estimates are on and how p-values were
    corrected, and repeat every row's warning.
    """
    def p_text(p):
        if not np.isfinite(p):
            return ""
        return f"<0.{'0' * (digits - 1)}1" if p < 10 ** -digits else f"{p:.{digits}f}"

    def num(x):
        return "" if not np.isfinite(x) else f"{x:.{digits}f}"

    shown = pd.DataFrame({
        "Hypothesis": verdicts["hypothesis"],
        "Model": verdicts["model"],
        "Test": [t + (f" at {a}" if a else "") for t, a in zip(verdicts["test"], verdicts["at"])],
        "Estimate": [num(x) for x in verdicts["estimate"]],
        "Statistic": [
            ("" if not np.isfinite(s) else f"{'z' if d == 'normal' else 'chi2' if d == 'chisq' else d} = {s:.{digits}f}")
            for s, d in zip(verdicts["statistic"], verdicts["distribution"])
        ],
        "p-value": [p_text(p) + ("" if c == "none" else f" ({c})") for p, c in
                    zip(verdicts["p_adjusted"], verdicts["correction"])],
        "Decision": verdicts["decision"],
        "Direction met": ["" if m is None or (isinstance(m, float) and not np.isfinite(m)) else ("yes" if m else "no")
                          for m in verdicts["direction_met"]],
    })
    notes = []
    scales = sorted(set(s for s in verdicts["scale"] if s))
    if scales:
        notes.append(f"Estimates are on the model scale ({', '.join(scales)}), not exponentiated.")
    if (verdicts["kind"] == "one_sided").any():
        notes.append("One-sided tests: p-values are one-sided; 'Direction met' says whether the estimate has the "
                     "stated sign.")
    corrected = verdicts[verdicts["correction"] != "none"]
    for family, grp in corrected.groupby("family", sort=True):
        notes.append(f"Family {family}: {grp['correction'].iloc[0]} correction over {len(grp)} tests, "
                     f"alpha = {grp['alpha'].iloc[0]:g}.")
    for h, n in zip(verdicts["hypothesis"], verdicts["note"]):
        if n:
            notes.append(f"{h}: {n}.")
    return shown, notes
