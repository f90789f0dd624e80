"""What every family shares: preparing the estimation sample and turning estimates into a Result.

Families implement the fewest hooks: ``fit(spec, data: ModelData) -> Estimate``. Everything
else (sample restriction, missing values, design matrix, rank checks, tidy/glance/meta) is here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from ..errors import (
    CollinearityWarning,
    DataError,
    FormulaError,
    RowsDroppedWarning,
    SpecificationError,
    suggest,
)
from ..formula import Design, design_matrix, parse_formula
from ..provenance import library_versions
from ..restrict import evaluate_restriction, parse_restriction, undecided_rows
from ..results import Result
from ..spec import ModelSpec
from ..vcov import VCOV_LABELS, group_columns


class FamilyOptions(BaseModel):
    """Base of each family's ``Options`` (strict: unknown options are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ModelData:
    """The estimation sample of one model, ready for a family's numerical engine."""

    frame: pd.DataFrame  #: rows used (after restriction and missing values), original index kept
    design: Design
    y: np.ndarray | None = None  #: regression response
    time: np.ndarray | None = None  #: survival: follow-up (stop) time
    event: np.ndarray | None = None  #: survival: 1 = event, 0 = censored
    entry: np.ndarray | None = None  #: survival: start time of (start, stop] rows
    weights: np.ndarray | None = None
    groups: tuple[np.ndarray, ...] = ()  #: vcov grouping columns, as given in vcov.groups
    n_input: int = 0
    notes: tuple[str, ...] = ()  #: warnings about the sample (dropped rows ...)
    dropped: tuple[str, ...] = ()  #: design columns omitted as collinear (``on_collinear = "drop"``)

    @property
    def X(self) -> np.ndarray:
        return self.design.matrix

    @property
    def names(self) -> tuple[str, ...]:
        return self.design.names


@dataclass(frozen=True)
class Estimate:
    """What a family's fit returns; :func:`make_result` turns it into a :class:`~c2stats.Result`."""

    names: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    glance: dict[str, Any]
    df_resid: float | None = None  #: t reference distribution when given, else normal
    components: tuple[str, ...] | None = None
    raw: Any = None
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  #: extra ``Result.meta`` entries (diagnostics, remedies)


class Family:
    """Base class of families (see ``cox.py`` and ``logit.py`` for the shape)."""

    name: ClassVar[str]
    kind: ClassVar[Literal["survival", "regression"]]
    categorical_response: ClassVar[bool] = False  #: the outcome may be a text/categorical column
    #: The intercept is absorbed (Cox's baseline hazard, clogit's matched sets): no coefficient, but it
    #: still takes a row, so p coefficients need p + 1 rows.
    intercept_absorbed: ClassVar[bool] = False
    scale: ClassVar[str]
    Options: ClassVar[type[FamilyOptions]] = FamilyOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model",)

    # Facts the other stages read instead of branching on a family's name ------------------------
    #: What the outcome is: continuous, binary, multinomial or survival.
    outcome: ClassVar[Literal["continuous", "binary", "multinomial", "survival"]] = "continuous"
    #: The inverse link of a single-index mean (a key of ``c2stats.predict.LINKS``), or None.
    link: ClassVar[str | None] = None
    #: Fits are checked for (quasi-)complete separation (``on_separation`` applies).
    separation_check: ClassVar[bool] = False
    #: ``tidy.component`` names an outcome category: tables lay out one column per category.
    outcome_columns: ClassVar[bool] = False
    #: Family-specific fit statistics (``c2stats.tables.GOF_MAP`` keys) shown by default.
    gof_keys: ClassVar[tuple[str, ...]] = ()
    #: What ``c2stats.predict`` can compute: "mean" (one linear predictor through ``link``),
    #: "multinomial", "cox" (survival from the baseline hazard), "parametric_survival", or None.
    prediction: ClassVar[Literal["mean", "multinomial", "cox", "parametric_survival"] | None] = None
    #: Fits get the proportional-hazards test (cox.zph) as a diagnostic.
    ph_test: ClassVar[bool] = False
    #: Small-sample conventions the family can follow (``vcov.ssc``).
    ssc_conventions: ClassVar[tuple[str, ...]] = ("R",)
    #: The family absorbs fixed effects given after ``|`` in the formula.
    absorbs_fixed_effects: ClassVar[bool] = False
    #: Remedies named when a fit does not converge.
    remedy: ClassVar[str] = "raise the iteration limit in options, rescale covariates, or simplify the model"

    def link_of(self, options: Mapping[str, Any]) -> str | None:
        """The link of a model with these (validated) options (a family with a link option overrides it)."""
        return self.link

    def extra_columns(self, options: dict) -> list[str]:
        """Data columns the family reads besides formula, outcome, weights and vcov groups."""
        return []

    def check_spec(self, spec: ModelSpec) -> None:
        """Cross-key rules of the family that need no data (checked when the analysis file loads)."""

    def fit(self, spec: ModelSpec, data: ModelData) -> Estimate:  # pragma: no cover - interface
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# Preparing the sample
# ----------------------------------------------------------------------------------------------
def needed_columns(spec, family: Family) -> list[str]:
    formula = parse_formula(spec.formula)
    cols = list(formula.columns)
    for key in ("time", "event", "start", "weights"):
        value = getattr(spec, key)
        if value is not None:
            cols.append(value)
    cols += group_columns(spec.vcov)
    cols += family.extra_columns(spec.options)
    return list(dict.fromkeys(cols))


def _rows(index: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i) + 1) for i in index[:limit])
    return shown + (", ..." if len(index) > limit else "")


def prepare(spec, frame: pd.DataFrame, family: Family, source: str | None = None) -> ModelData:
    """Restrict, drop incomplete rows (warning with counts), build the design matrix, check the outcome."""

    where = f"model {spec.id!r}"
    columns = needed_columns(spec, family)
    formula = parse_formula(spec.formula)
    filled = set(formula.columns) - set(formula.complete_columns)  # read only inside fillna(): NA is handled
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        hints = "; ".join(f"{m!r}{suggest(m, list(map(str, frame.columns)))}" for m in missing)
        raise DataError(f"{where} uses column(s) not in the dataset: {hints}.", source=source)
    n_input = len(frame)
    notes: list[str] = []
    data = frame
    if spec.sample:
        restriction = parse_restriction(spec.sample)
        mask = evaluate_restriction(restriction, frame)
        data = frame.loc[mask]
        undecided = undecided_rows(restriction, frame)
        if undecided:
            message = (f"{where}: the sample restriction {spec.sample!r} dropped {undecided} of {n_input} rows on "
                       f"which it is missing (a column it compares is missing: {', '.join(restriction.columns)}); "
                       "write 'x is missing' or 'x is not missing' to decide on them.")
            notes.append(message)
            warnings.warn(message, RowsDroppedWarning, stacklevel=3)
        if len(data) == 0:
            raise SpecificationError(
                f"{where}: the sample restriction {spec.sample!r} keeps no rows of {n_input}; loosen it.",
                source=source,
            )
    complete = [c for c in columns if c not in filled]
    incomplete = data[complete].isna()
    if incomplete.any(axis=None):
        counts = incomplete.sum()
        detail = ", ".join(f"{c} ({int(n)})" for c, n in counts.items() if n)
        n_drop = int(incomplete.any(axis=1).sum())
        message = f"{where}: dropped {n_drop} of {len(data)} rows with missing values in: {detail}."
        notes.append(message)
        warnings.warn(message, RowsDroppedWarning, stacklevel=3)
        data = data.loc[~incomplete.any(axis=1)]
    if len(data) == 0:
        raise SpecificationError(f"{where}: no complete rows remain (every row misses one of {columns}).", source=source)
    numeric = [c for c in columns if pd.api.types.is_float_dtype(data[c])]
    infinite = [c for c in numeric if np.isinf(data[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise DataError(f"{where}: column {infinite[0]!r} has infinite values; replace them or restrict the sample.", source=source)

    try:
        design = design_matrix(formula, data, categorical_response=family.categorical_response)
    except FormulaError as exc:
        raise DataError(f"{where}: {exc.message}", source=source) from None
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: cannot build the design matrix ({exc}); check column types.", source=source) from None
    _check_rows(design, family, where, source)
    _check_magnitude(design, data, where, source)
    design, dropped = _check_rank(design, where, source, getattr(spec, "on_collinear", "error"))
    if dropped:

        message = (f"{where}: {', '.join(map(repr, dropped))} omitted because of collinearity (a linear combination "
                   "of earlier terms, or constant); no coefficient is estimated for it.")
        notes.append(message)
        warnings.warn(message, CollinearityWarning, stacklevel=3)
    kwargs: dict[str, Any] = {}
    if family.kind == "survival":
        kwargs.update(_survival_outcome(spec, data, where, source))
    else:
        kwargs["y"] = design.response
    if spec.weights:
        w = _numeric(data, spec.weights, where, source)
        if np.any(w < 0):
            raise DataError(f"{where}: weights column {spec.weights!r} has negative values in rows {_rows(np.flatnonzero(w < 0))}.", source=source)
        if not np.any(w > 0) or (family.name == "cox" and np.any(w == 0)):  # R's coxph: weights must be > 0
            which = "all zero" if not np.any(w > 0) else f"zero in rows {_rows(np.flatnonzero(w == 0))}"
            raise DataError(f"{where}: weights column {spec.weights!r} is {which}; weights must be positive "
                            "(drop those rows with a sample restriction).", source=source)
        kwargs["weights"] = w
    groups = tuple(data[c].to_numpy() for c in group_columns(spec.vcov))
    return ModelData(frame=data, design=design, groups=groups, n_input=n_input, notes=tuple(notes), dropped=dropped,
                     **kwargs)


def _numeric(data: pd.DataFrame, col: str, where: str, source: str | None) -> np.ndarray:
    try:
        return data[col].to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise DataError(f"{where}: column {col!r} must be numeric (found {data[col].dtype}).", source=source) from None


def _survival_outcome(spec, data: pd.DataFrame, where: str, source: str | None) -> dict[str, np.ndarray]:
    time = _numeric(data, spec.time, where, source)
    raw_event = data[spec.event]
    if spec.event_value is not None:
        event = (raw_event == spec.event_value).to_numpy(dtype=float)
        if not event.any():
            present = sorted(map(str, pd.unique(raw_event.dropna())))
            shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
            raise SpecificationError(
                f"{where}: event_value {spec.event_value!r} does not occur in {spec.event!r} in the estimation "
                f"sample (values: {shown}); give one of them (numbers as numbers, text in quotes).",
                source=source, where="event_value")
    else:
        values = raw_event.to_numpy()
        try:
            event = values.astype(float)
        except (ValueError, TypeError):
            raise DataError(
                f"{where}: event column {spec.event!r} must be 0/1 or true/false; for a column of causes set "
                "event_value to the cause of interest.", source=source
            ) from None
        bad = np.flatnonzero(~np.isin(event, (0.0, 1.0)))
        if len(bad):
            raise DataError(
                f"{where}: event column {spec.event!r} must be 0/1 (rows {_rows(bad)} hold "
                f"{sorted(set(event[bad].tolist()))[:5]}); for competing risks set event_value.", source=source
            )
    out = {"time": time, "event": event}
    if spec.start is not None:
        entry = _numeric(data, spec.start, where, source)
        bad = np.flatnonzero(time <= entry)
        if len(bad):
            raise DataError(
                f"{where}: {len(bad)} row(s) end before or when they start ({spec.time!r} <= {spec.start!r}; rows "
                f"{_rows(bad)}); each (start, stop] interval must have stop > start.", source=source
            )
        out["entry"] = entry
    else:
        bad = np.flatnonzero(time <= 0)
        if len(bad):
            raise DataError(
                f"{where}: {len(bad)} row(s) have zero or negative time in {spec.time!r} (rows {_rows(bad)}); "
                "durations must be positive.", source=source
            )
    if event.sum() == 0:
        raise SpecificationError(f"{where}: the estimation sample has no events; a survival model needs at least one.", source=source)
    return out


def collinear_columns(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Columns that are linear combinations of earlier columns, found left to right as R's ``lm``.

    A column is dropped when the norm of its residual on the kept earlier columns is below
    ``tol`` times its own norm (LINPACK ``dqrdc2``'s limited pivoting with ``lm``'s
    ``tol = 1e-7``), so the later of two collinear terms goes, as in R (NA coefficient) and
    Stata ("omitted because of collinearity"). An all-zero column is always dropped.
    """
    from scipy.linalg import qr

    X = np.asarray(X, dtype=float)
    n, k = X.shape
    if k == 0:
        return []
    if n >= k:
        r, _ = qr(X, mode="r", pivoting=True)  # R only: forming Q would double the cost on long data
        diag = np.abs(np.diag(r))
        if diag.min() > diag.max() * max(n, k) * np.finfo(float).eps * 1e3:
            return []  # full rank: the usual case costs one pivoted QR
    norms = np.linalg.norm(X, axis=0)
    basis = np.empty((n, 0))
    dropped = []
    for j in range(k):
        v = X[:, j].copy()
        for _ in range(2):  # Gram-Schmidt twice: orthogonal to rounding
            v -= basis @ (basis.T @ v)
        size = np.linalg.norm(v)
        if norms[j] == 0 or size < tol * norms[j]:
            dropped.append(j)
        else:
            basis = np.column_stack([basis, v / size])
    return dropped


def _listed(names, limit: int = 6) -> str:
    shown = ", ".join(map(repr, list(names)[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_rows(design: Design, family: Family, where: str, source: str | None) -> None:
    """Refuse fewer rows than the model has parameters, before any column is omitted as collinear.

    With too few rows the design is necessarily rank deficient; omitting columns
    (``on_collinear = "drop"``) would then fit a different model than the one asked for, only for
    lack of data.
    """
    n = design.matrix.shape[0]
    absorbed = getattr(family, "intercept_absorbed", False)
    coefs = [c for c in design.names if not (absorbed and c == "(Intercept)")]
    needed = len(coefs) + 1 if absorbed else len(coefs)
    if n >= needed:
        return
    rows = f"{n} row{'s' if n != 1 else ''}"
    fix = ("Add rows (check the sample restriction and the rows dropped for missing values) or remove terms from "
           "the formula.")
    if absorbed:
        raise SpecificationError(
            f"{where}: {rows} for {len(coefs)} coefficient(s) ({_listed(coefs)}); a {family.name} model needs at least "
            f"{needed} rows, one more than its coefficients (its baseline takes the intercept's place). {fix}",
            source=source,
        )
    raise SpecificationError(
        f"{where}: {rows} for {len(coefs)} coefficient(s) ({_listed(coefs)}); the model is not identified. {fix}",
        source=source,
    )


def _check_magnitude(design: Design, data: pd.DataFrame, where: str, source: str | None) -> None:
    """Refuse design columns so large that sums of their squares overflow double precision.

    Estimators form cross products (X'X, X'WX, information matrices); beyond ``sqrt(max / n)``
    these overflow to infinity and the fit fails in ways that name no column (a spurious rank
    deficiency, NaN estimates).
    """
    X = design.matrix
    n = X.shape[0]
    if not n or not X.shape[1]:
        return
    limit = float(np.sqrt(np.finfo(float).max / n))
    top = np.max(np.abs(X), axis=0)
    over = np.flatnonzero(top > limit)
    if not len(over):
        return
    j = int(over[0])
    name = design.names[j]
    rows_over = np.flatnonzero(np.abs(X[:, j]) > limit)
    index = data.index
    rows = f"data rows {_rows(index[rows_over].to_numpy())}" if pd.api.types.is_integer_dtype(index) else \
        f"rows {_rows(rows_over)} of the estimation sample"
    raise DataError(
        f"{where}: {name!r} has values as large as {top[j]:.3g} in absolute value ({rows}); with {n} rows, squares "
        f"and cross products beyond about {limit:.2g} overflow double precision, so the model cannot be fitted. "
        f"Rescale {name!r} (divide it by a power of ten, or take its log) or check those rows for a coding error.",
        source=source,
    )


def check_binary_response(spec, data: ModelData, family_name: str) -> None:
    """Raise :class:`~c2stats.errors.DataError` naming the response column when it is not 0/1.

    Values in [0, 1] pass (proportions, as R's binomial family); anything else is a coding mistake
    (a count, a -1/1 or 1/2 coding, a continuous variable).
    """
    y = np.asarray(data.y, dtype=float)
    bad = np.flatnonzero((y < 0) | (y > 1))
    formula = parse_formula(spec.formula)
    column = formula.response.label if formula.response is not None else str(spec.formula).split("~")[0].strip()
    if not len(bad) and y.size and np.all(y == y[0]):  # not separation: there is nothing to separate
        raise DataError(
            f"model {spec.id!r}: the outcome {column!r} is {y[0]:g} in every one of the {y.size} rows of the "
            f"estimation sample, so the {family_name} model has nothing to explain. Check the sample restriction "
            "and the rows dropped for missing values; an indicator coded 1/missing (missing meaning 0) loses all "
            f"its zeros that way: recode it with I(fillna({column}, 0)) or restrict with '{column} is missing'."
        )
    if not len(bad):
        return
    values = sorted(set(y[bad].tolist()))
    shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
    index = data.frame.index
    rows = f"data rows {_rows(index[bad].to_numpy())}" if pd.api.types.is_integer_dtype(index) else \
        f"rows {_rows(bad)} of the estimation sample"
    raise DataError(
        f"model {spec.id!r}: the {family_name} model needs a 0/1 response, but {column!r} has {len(bad)} value(s) "
        f"outside [0, 1] ({rows} hold {shown}). Recode {column!r} to 0/1 (1 = the outcome happened), or use a "
        "family for its kind of outcome (ols for a continuous one).",
    )


def _check_rank(design: Design, where: str, source: str | None,
                on_collinear: str = "error") -> tuple[Design, tuple[str, ...]]:
    """Omit (``on_collinear = "drop"``) or refuse collinear columns; returns the design and the omitted names."""
    from dataclasses import replace

    X = design.matrix
    drop = collinear_columns(X)
    names = tuple(design.names[i] for i in drop)
    if drop and on_collinear != "drop":
        raise SpecificationError(
            f"{where}: the design matrix is rank deficient; {', '.join(map(repr, names))} is a linear combination of "
            "earlier terms (or constant). Remove it from the formula, or set on_collinear = \"drop\" to omit it "
            "with a note.",
            source=source,
        )
    if drop:
        keep = [i for i in range(X.shape[1]) if i not in set(drop)]
        design = replace(design, matrix=X[:, keep], names=tuple(design.names[i] for i in keep),
                         term_of_column=tuple(design.term_of_column[i] for i in keep))
    n, k = design.matrix.shape
    if n < k:
        raise SpecificationError(f"{where}: {n} rows for {k} coefficients; the model is not identified.", source=source)
    return design, names


# ----------------------------------------------------------------------------------------------
# Estimate -> Result
# ----------------------------------------------------------------------------------------------


def tidy_frame(names, coef, vcov, conf_level: float, df_resid: float | None = None, components=None) -> pd.DataFrame:
    """Wald statistics, p-values and intervals (normal, or t with ``df_resid``)."""
    coef = np.asarray(coef, dtype=float)
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = coef / se
    dist = stats.norm if df_resid is None else stats.t(df_resid)
    p = 2 * dist.sf(np.abs(stat))
    q = dist.ppf(0.5 + conf_level / 2)
    tidy = pd.DataFrame({"term": list(names), "estimate": coef, "std_error": se, "statistic": stat, "p_value": p,
                         "conf_low": coef - q * se, "conf_high": coef + q * se})
    if components is not None:
        tidy.insert(1, "component", list(components))
    return tidy


def vcov_frame(names, vcov) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(vcov, dtype=float), columns=list(names))
    frame.insert(0, "term", list(names))
    return frame


def make_result(spec, est: Estimate, data: ModelData, family: Family, *, config_hash: str | None,
                data_hash: str | None, spec_hash: str, captured: list[str] | None = None):

    tidy = tidy_frame(est.names, est.coef, est.vcov, spec.conf_level, est.df_resid, est.components)
    glance = {
        "nobs": int(len(data.frame)),
        "vcov_type": VCOV_LABELS[spec.vcov.type],
        "n_clusters": int(len(pd.unique(data.groups[0]))) if spec.vcov.type == "cluster" and data.groups else None,
        **est.glance,
    }
    k = len(est.coef)
    ll = glance.get("loglik")
    if ll is not None and np.isfinite(ll):
        glance.setdefault("aic", float(-2 * ll + 2 * k))
        # R's BIC for coxph counts events, not rows, as the sample size
        n_bic = glance.get("n_events") if family.kind == "survival" else glance["nobs"]
        glance.setdefault("bic", float(-2 * ll + np.log(n_bic) * k))
    glance.setdefault("converged", True)
    meta = {
        "model_id": spec.id,
        "label": spec.label or spec.id,
        "family": family.name,
        "formula": spec.formula,
        "depvar": spec.event if family.kind == "survival" else str(spec.formula).split("~")[0].strip(),
        "scale": family.scale,
        "conf_level": spec.conf_level,
        "vcov": spec.vcov.model_dump(mode="json", exclude_none=True),
        "options": dict(spec.options),
        "sample": spec.sample,
        "labels": dict(spec.labels),
        "spec_hash": spec_hash,
        "config_hash": config_hash,
        "data_hash": data_hash,
        "versions": library_versions(),
        "warnings": [*data.notes, *est.notes, *(captured or [])],
        "model_spec": spec.model_dump(mode="json") if hasattr(spec, "model_dump") else None,  # figures re-prepare the sample
        "design_state": data.design.state,  # formula transform state (design_matrix(..., state=)) for predictions
        "df_resid": est.df_resid,  # reference distribution of Wald tests: t(df_resid), or normal when None
        **est.meta,
    }
    frames = {"vcov": vcov_frame(est.names, est.vcov), **est.frames}
    return Result(tidy=tidy, glance=glance, meta=meta, frames=frames, raw=est.raw)
