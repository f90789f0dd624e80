"""Fitting one model: prepare the sample, fit, run the family's diagnostics and declared remedies,
capture warnings once, and build the :class:`~c2stats.results.Result`.

The executors call :func:`fit_model` for every model of a run; :func:`c2stats.pipeline.fit` calls it
for a model declared in Python.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pandas as pd

from .data import Dataset
from . import diagnostics as diagnostic_checks
from .diagnostics import _ph_test, _separation
from .errors import (
    C2StatsWarning,
    ConvergenceWarning,
    DiagnosticWarning,
    SeparationWarning,
    SpecificationError,
)
from .families import get_family
from .families._base import make_result, prepare
from .results import Result
from .spec import ModelSpec, spec_hash


def _convergence_note(model, family, est) -> str:
    detail = [n.split(": ", 1)[-1] for n in est.notes if "converge" in n]
    reason = getattr(est.raw, "reason", None)
    why = "; ".join(dict.fromkeys([*(d for d in detail), *([reason] if reason and not detail else [])])) or \
        "the iterations stopped before the convergence criterion was met"
    remedy = family.remedy
    return (f"model {model.id!r} ({family.name}) did not converge: {why}. Its estimates and standard errors are not "
            f"reliable; tables mark the model. Remedies: {remedy}.")


def fit_with_remedies(model, data, family):
    """Fit ``model`` on prepared ``data`` and run the diagnostics of its family, applying declared remedies.

    Parameters
    ----------
    model
        The validated :class:`~c2stats.config.ModelSpec`.
    data
        The :class:`~c2stats.families._base.ModelData` from ``prepare``.
    family
        The family instance of ``model.family``.

    Returns
    -------
    (Estimate, Family, list[str])
        The estimate (with diagnostic frames, glance keys, notes and ``meta`` entries folded in),
        the family actually used (``firth`` after a Firth refit) and the notes that were added.

    Raises
    ------
    SpecificationError
        Separation with ``on_separation = "error"``, naming the model and the separating terms.
    """
    est = family.fit(model, data)
    notes: list[str] = []
    diagnostics: dict[str, Any] = {}
    glance: dict[str, Any] = {}
    frames: dict[str, pd.DataFrame] = {}
    meta: dict[str, Any] = {}

    if family.separation_check:
        terms = _separation(est, data, family, model)
        action = None
        if terms:
            listed = ", ".join(map(repr, terms))
            found = (f"model {model.id!r}: the outcome is completely or quasi-completely separated by {listed} "
                     "(linear-programming check, Konis 2007): the maximum-likelihood estimates of these terms are "
                     "infinite")
            if model.on_separation == "error":
                raise SpecificationError(
                    f"{found}. Set on_separation = 'firth' (Firth's bias-reduced logit) or 'warn' in this model, or "
                    "drop/merge the separating categories."
                )
            if model.on_separation == "warn":
                action = "warned"
                message = f"{found}; the reported values for these terms are arbitrary (on_separation = 'warn')."
                warnings.warn(message, SeparationWarning, stacklevel=3)
            else:
                action = "refitted with firth"
                firth = get_family("firth")
                est = firth.fit(model.model_copy(update={"family": "firth", "options": {}}), data)
                family = firth
                message = (f"{found}; refitted with Firth's bias-reduced logit (family 'firth', default options) as "
                           "declared by on_separation = 'firth'.")
                meta["remedy"] = "firth"
                meta["family_declared"] = model.family
                warnings.warn(message, SeparationWarning, stacklevel=3)
            notes.append(message)
        glance["separation"] = bool(terms)
        diagnostics["separation"] = {"detected": bool(terms), "terms": terms, "action": action,
                                     "on_separation": model.on_separation}

    if not bool(est.glance.get("converged", True)):
        message = _convergence_note(model, family, est)
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
        notes.append(message)
        diagnostics["convergence"] = {"converged": False, "note": message}
    else:
        diagnostics["convergence"] = {"converged": True}

    vif = diagnostic_checks.variance_inflation(data.X, data.names, data.design.term_of_column)
    if len(vif):
        frames["vif"] = vif
    computed = vif["gvif_adj"].notna()
    diagnostics["collinearity"] = {
        "dropped": list(data.dropped),
        "on_collinear": getattr(model, "on_collinear", "drop"),
        "max_vif": float(vif["gvif_adj"].max() ** 2) if computed.any() else None,
        "max_vif_term": str(vif.loc[vif["gvif_adj"].idxmax(), "term"]) if computed.any() else None,
    }
    if len(vif) and not computed.all():
        missing = ", ".join(vif.loc[~computed, "term"].astype(str))
        message = (f"model {model.id!r}: variance inflation factors could not be computed for {missing} (the "
                   "correlation matrix of the design is not finite); check those columns for extreme values.")
        diagnostics["collinearity"]["note"] = message
        warnings.warn(message, DiagnosticWarning, stacklevel=3)
        notes.append(message)

    if family.ph_test and est.raw is not None and hasattr(est.raw, "_risk"):
        ph_frames, ph_glance, info = _ph_test(est, data, model)
        frames.update(ph_frames)
        glance.update(ph_glance)
        diagnostics["proportional_hazards"] = info
        if info.get("note"):
            warnings.warn(info["note"], DiagnosticWarning, stacklevel=3)
            notes.append(info["note"])

    meta["diagnostics"] = diagnostics
    est = dataclasses.replace(
        est,
        glance={**est.glance, **glance},
        frames={**est.frames, **frames},
        notes=(*est.notes, *notes),
        meta={**est.meta, **meta},
    )
    return est, family, notes


def fit_model(model: ModelSpec, dataset: Dataset, *, config_hash: str | None = None) -> Result:
    """Fit one validated model spec on a loaded dataset."""
    family = get_family(model.family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = prepare(model, dataset.frame, family, source=dataset.name)
        estimate, family, _notes = fit_with_remedies(model, data, family)
    captured = [str(w.message) for w in caught if not issubclass(w.category, C2StatsWarning)
                and not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    for w in caught:  # re-emit so callers (and the CLI) see them
        if issubclass(w.category, C2StatsWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    return make_result(model, estimate, data, family, config_hash=config_hash, data_hash=dataset.data_hash,
                       spec_hash=spec_hash(model), captured=sorted(set(captured)))
