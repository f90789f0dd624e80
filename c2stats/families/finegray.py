"""Fine-Gray subdistribution hazards: the effect of covariates on the cumulative incidence of one cause.

``family = "finegray"`` with ``time``, ``event`` = a column of outcome categories, ``event_value``
= the cause of interest and ``options = {censor_value = ...}`` = the value(s) of ``event`` meaning
censored; every other value is a competing event. The numbers are R's

    fg <- finegray(Surv(time, factor(event)) ~ ., data, etype = event_value)
    coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, data = fg)

(survival 3.5-3; the censoring level first in the factor), computed by
:mod:`c2stats.families._finegray_engine`: the data are expanded so that subjects with a competing
event stay in the risk sets, weighted by the censoring Kaplan-Meier, and the weighted Cox partial
likelihood is maximised with the Cox engine (Efron ties by default, as coxph). Coefficients are log
subdistribution hazard ratios.

Variance: ``model`` is coxph's inverse information on the expanded data (R: ``robust = FALSE``;
with fractional weights coxph's default is a robust variance with every *expanded* row its own
cluster, which splits subjects and is not offered). ``robust`` clusters the expanded rows of each
subject (each input row, or with ``options.id`` each subject's rows): R's ``cluster(id)`` on the
expanded data, Fine and Gray's sandwich, and the variance to report. ``{type = "cluster", groups =
"g"}`` is R's ``cluster(g)`` on the expanded data (each expanded row keeps the ``g`` of its input
row). No small-sample factor, as coxph. ``cmprsk::crr`` gives the same model up to its handling of times tied between
censoring and events (tests/reference/finegray/README.md records how close).

``options.censoring_strata`` gives each stratum its own censoring distribution (R: ``strata()`` in
the finegray formula; the rows of a stratum without the event of interest are left out, as R
does, with a note); ``options.strata`` gives each its own baseline (R: ``strata()`` in coxph).

``glance``: ``loglik`` (the weighted partial likelihood, ``loglik_null`` at zero), ``lr_test``,
``score_test``, ``wald_test`` (with the reported variance), ``n_events`` (rows with the cause of
interest), ``n_competing``, ``n_censored``, ``n_expanded`` (rows of the expanded data),
``n_dropped``, ``n_subjects``; ``nobs`` counts the input rows used.

``frames["cumulative_incidence"]`` (right-censored data): the Aalen-Johansen cumulative incidence
of the cause of interest and of each competing cause on the rows used, with R's multi-state
``survfit`` standard errors and log intervals (:mod:`c2stats.families._cif_engine`; columns
``group`` ("All"), ``cause``, ``time``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``,
``n_risk``), for a ``cif`` figure drawn from the Result alone.

(start, stop] data (``start``, e.g. time-varying covariates) need ``options.id``, the subject
column (R's ``finegray(..., id = id)``): a subject's rows must join without gaps and only its last
row may end in an event; only a subject's last row is extended after a competing event, and when
subjects enter late (delayed entry) the weights include the reverse-time Kaplan-Meier of entry
times, as R. (R decides whether entry is delayed from the first row of each subject after sorting by
subject and time, but indexes the unsorted data with those positions; on data sorted by subject and
time, as tmerge writes them, the two agree; here the sorted rows are used.)
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import DataError, SpecificationError
from ..vcov import sandwich_vcov
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._cif_engine import cumulative_incidence
from ._registry import register_family

Scalar = int | float | str


class FinegrayOptions(FamilyOptions):
    """Options of the ``finegray`` family."""

    censor_value: Scalar | list[Scalar] | None = Field(
        default=None,
        description=(
            "The value, or list of values, of the event column that mean censored (R: the first level of "
            "factor(status)); every value other than this and event_value is a competing event."
        ),
    )
    id: str | None = Field(
        default=None,
        description=(
            "Column identifying the subject of (start, stop] rows (R's finegray id =); required with start. "
            "vcov = 'robust' then clusters by subject."
        ),
    )
    censoring_strata: str | list[str] | None = Field(
        default=None,
        description=(
            "Column(s) with a separate censoring distribution per value (R: strata() in the finegray formula); "
            "rows of a stratum without the event of interest are left out, as R does."
        ),
    )
    strata: str | list[str] | None = Field(
        default=None,
        description="Column(s) with a separate baseline subdistribution hazard per value (R: strata() in the coxph formula).",
    )
    ties: Literal["efron", "breslow"] = Field(default="efron", description="Tie handling of the weighted Cox fit: 'efron' (R's default) or 'breslow'.")
    eps: float = Field(default=1e-9, gt=0, description="Convergence: relative change of the log partial likelihood (coxph.control eps).")
    max_iter: int = Field(default=100, ge=1, description="Maximum Newton-Raphson iterations (coxph.control iter.max).")


def censor_values(spec) -> list[Any]:
    """The censoring value(s) of a model spec (a top-level ``censor_value`` when ModelSpec has one)."""
    value = getattr(spec, "censor_value", None)
    if value is None:
        value = dict(spec.options or {}).get("censor_value")
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_spec(spec) -> None:
    """Refuse a finegray declaration that cannot describe competing risks (no data needed).

    Raises
    ------
    SpecificationError
        ``where`` names the key: ``event_value`` missing, ``censor_value`` missing or equal to
        ``event_value``, or ``start`` given without ``options.id``.
    """
    where = f"model {spec.id!r}"
    event = spec.event or "<event column>"
    if spec.event_value is None:
        raise SpecificationError(
            f"{where}: the finegray family needs event_value, the cause of interest among the values of {event!r} "
            f"(e.g. event_value = 1); the other non-censoring values are competing events.", where="event_value")
    censored = censor_values(spec)
    if not censored:
        raise SpecificationError(
            f"{where}: the finegray family needs censor_value, the value(s) of {event!r} that mean censored, e.g. "
            "options = {censor_value = 0} (R: the first level of factor(status)).", where="censor_value")
    if any(_same(spec.event_value, v) for v in censored):
        raise SpecificationError(
            f"{where}: censor_value {censored!r} includes event_value {spec.event_value!r}; a row cannot be both "
            "censored and the event of interest. Give the censoring code(s) in censor_value and the cause of interest "
            "in event_value.", where="censor_value")
    if spec.start is not None and not dict(spec.options or {}).get("id"):
        raise SpecificationError(
            f"{where}: (start, stop] data (start = {spec.start!r}) need the subject of each row: set options.id to "
            "the subject column, e.g. options = {id = \"dyad\", censor_value = 0} (R: finegray(..., id = id) "
            "requires it too).", where="options.id")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or str(a) == str(b)
    except (TypeError, ValueError):
        return False


def _columns(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _strata_codes(frame: pd.DataFrame, value) -> np.ndarray | None:
    """Integer codes in R's factor-level order (sorted; several columns: the first varies slowest)."""
    columns = _columns(value)
    if not columns:
        return None
    if len(columns) == 1:
        return pd.factorize(frame[columns[0]], sort=True)[0]
    return pd.MultiIndex.from_frame(frame[columns]).factorize(sort=True)[0]


def _incidence(spec, data: ModelData, used: np.ndarray) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of every cause on the rows used (R's multi-state survfit)."""
    raw = data.frame[spec.event].to_numpy()[used]
    censored = pd.Series(raw).isin(censor_values(spec)).to_numpy()
    others = sorted({v for v in pd.unique(raw[~censored]) if not _same(v, spec.event_value)},
                    key=lambda v: (str(type(v)), v))
    return cumulative_incidence(data.time[used], raw, censor_value=censor_values(spec),
                                weights=None if data.weights is None else data.weights[used],
                                causes=[spec.event_value, *others], conf_level=spec.conf_level)


def cause_codes(spec, frame: pd.DataFrame) -> np.ndarray:
    """0 = censored, 1 = the cause of interest, 2 = a competing event, for each row of ``frame``.

    Raises
    ------
    SpecificationError
        ``event_value`` absent from the column (naming the values present).
    """
    where = f"model {spec.id!r}"
    raw = frame[spec.event]
    present = pd.unique(raw)
    shown = ", ".join(map(repr, sorted(present.tolist(), key=lambda v: (str(type(v)), v))[:10]))
    is_event = (raw == spec.event_value).to_numpy()
    if not is_event.any():
        raise SpecificationError(
            f"{where}: event_value {spec.event_value!r} does not occur in {spec.event!r} in the estimation sample "
            f"(its values: {shown}); set event_value to the code of the cause of interest.", where="event_value")
    is_censored = raw.isin(censor_values(spec)).to_numpy()
    return np.where(is_event, 1, np.where(is_censored, 0, 2))


@register_family("finegray")
class Finegray(Family):
    """Fine-Gray subdistribution hazards (log subdistribution hazard scale)."""

    kind: ClassVar[str] = "survival"
    scale: ClassVar[str] = "log_hazard"
    intercept_absorbed: ClassVar[bool] = True
    Options = FinegrayOptions
    vcov_types: ClassVar[tuple[str, ...]] = ("model", "robust", "cluster")
    cluster_hc: ClassVar[tuple[str, ...]] = ()
    outcome: ClassVar[str] = "survival"
    gof_keys: ClassVar[tuple[str, ...]] = ("n_events", "n_subjects", "n_strata", "ties")
    #: predict's "cox" would give 1 - cumulative incidence labelled as survival; curves come from
    #: :func:`~c2stats.families._finegray_engine.predicted_incidence` instead
    prediction: ClassVar[str | None] = None

    check_spec = staticmethod(check_spec)

    def extra_columns(self, options: dict) -> list[str]:
        return _columns(options.get("id")) + _columns(options.get("censoring_strata")) + _columns(options.get("strata"))

    def fit(self, spec, data: ModelData) -> Estimate:
        from ._cox_engine import score_residuals
        from ._finegray_engine import fit_finegray

        check_spec(spec)
        options = self.Options.model_validate(spec.options)
        keep = [i for i, n in enumerate(data.names) if n != "(Intercept)"]  # absorbed by the baseline, as coxph
        X, names = data.X[:, keep], tuple(data.names[i] for i in keep)
        codes = cause_codes(spec, data.frame)
        subject = None if options.id is None else data.frame[options.id].to_numpy()
        try:
            fit = fit_finegray(X, data.time, codes, entry=data.entry, subject=subject, weights=data.weights,
                               censoring_strata=_strata_codes(data.frame, options.censoring_strata),
                               strata=_strata_codes(data.frame, options.strata), ties=options.ties, eps=options.eps,
                               max_iter=options.max_iter)
        except ValueError as exc:  # a subject's rows that do not form one follow-up
            if subject is None:
                raise
            raise DataError(
                f"model {spec.id!r}: the (start, stop] rows of {options.id!r} must form one follow-up per subject: "
                f"{exc}. A subject's rows must join ({spec.start!r} of a row = {spec.time!r} of the one before) and "
                f"all but the last must have {spec.event!r} = censor_value.") from None
        cox, rows = fit.cox, fit.expansion.row
        n, k = X.shape
        if spec.vcov.type == "model":
            vcov = cox.vcov_model
        else:
            scores = score_residuals(cox, X[rows], weighted=True)
            # a subject's expanded rows are one cluster: sum them (over its input rows too, with
            # options.id), then R's D'D with no factor
            units = np.arange(n) if subject is None else pd.factorize(subject)[0]
            unit_scores = np.zeros((int(units.max()) + 1, k))
            np.add.at(unit_scores, units[rows], scores)
            if spec.vcov.type == "robust":
                vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=cox.vcov_model, scores=unit_scores,
                                     groups=(), n=n, k=k, cluster_default="none", robust_kind="none")
            else:
                vcov = sandwich_vcov(spec.vcov, model_id=spec.id, bread=cox.vcov_model, scores=scores,
                                     groups=tuple(g[rows] for g in data.groups), n=rows.size, k=k,
                                     cluster_default="none", robust_kind="none")
        notes = [] if cox.converged else [f"model {spec.id!r}: did not converge ({cox.reason})."]
        used = np.unique(rows)
        if fit.n_dropped:
            notes.append(f"model {spec.id!r}: {fit.n_dropped} of {n} rows left out: their censoring stratum "
                         f"({_columns(options.censoring_strata)}) has no event of interest (as R's finegray).")
        if not fit.n_censored:
            notes.append(f"model {spec.id!r}: no row of {spec.event!r} has censor_value {censor_values(spec)!r}; every "
                         "row is the event of interest or a competing event. Check censor_value if the data have "
                         "censored rows.")
        glance = {
            "loglik": cox.loglik,
            "loglik_null": cox.loglik_null,
            "n_events": fit.n_events,
            "n_competing": fit.n_competing,
            "n_censored": fit.n_censored,
            "n_expanded": int(rows.size),
            "n_subjects": int(used.size if subject is None else len(pd.unique(subject[used]))),
            "n_dropped": fit.n_dropped,
            "nobs": int(used.size),
            "n_strata": None if options.strata is None else len(np.unique(_strata_codes(data.frame, options.strata))),
            "ties": options.ties,
            "lr_test": cox.lr_test,
            "wald_test": float(cox.coef @ np.linalg.lstsq(vcov, cox.coef, rcond=None)[0]),
            "score_test": cox.score_test,
            "converged": bool(cox.converged),
            "iterations": int(cox.iterations),
        }
        if spec.vcov.type == "cluster" and data.groups:  # R counts the clusters of the rows it fits
            glance["n_clusters"] = len(pd.unique(data.groups[0][used]))
        frames = {} if data.entry is not None else {"cumulative_incidence": _incidence(spec, data, used)}
        return Estimate(names, cox.coef, vcov, glance, raw=fit, notes=tuple(notes), frames=frames)
