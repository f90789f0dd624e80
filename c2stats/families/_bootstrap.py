"""``vcov = {type = "bootstrap", seed = ..., groups = ..., reps = ...}`` for families that can refit.

A family passes ``refit(rows) -> estimates`` (the same parameter vector as its estimate, fitted on
the rows ``rows`` of the estimation sample, repeats included); this runs
:func:`c2stats.sandwich.cluster_bootstrap`: whole clusters of ``groups`` (one column) are
resampled with replacement — every row its own cluster when ``groups`` is not given — and the
covariance is that of the replicates (divisor B - 1). The seed makes the draws reproducible.
A replicate whose refit fails or does not converge is dropped; more than 5% failures is an error.

Families whose rows come in units the estimator needs whole (matched sets of clogit, panel
entities, groups of a mixed model) pass ``units``: the units are resampled when ``groups`` is not
given, and a ``groups`` column must contain whole units. In a draw, a unit drawn twice must enter
as two units; :func:`copy_labels` gives the refit those labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import sandwich
from ..errors import SpecificationError
from ..vcov import check_clusters
from ._base import ModelData

DEFAULT_REPS = 999


def guarded(refit: Callable[[np.ndarray], np.ndarray], size: int) -> Callable[[np.ndarray], np.ndarray]:
    """``refit`` with user-input errors (a resample without events, collinear) counted as failures."""

    def run(rows: np.ndarray) -> np.ndarray:
        try:
            out = np.asarray(refit(rows), dtype=float)
        except SpecificationError as exc:
            raise ValueError(exc.message) from None
        if out.shape != (size,):
            return np.full(size, np.nan)
        return out

    return run


def nests(clusters: np.ndarray, units: np.ndarray) -> bool:
    """Every unit (label in ``units``) lies within one cluster of ``clusters``."""
    frame = pd.DataFrame({"unit": pd.factorize(units)[0], "cluster": pd.factorize(clusters)[0]})
    return bool((frame.groupby("unit")["cluster"].nunique() == 1).all())


def copy_labels(labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Unit labels of the rows ``rows`` of a draw, the k-th copy of a unit relabelled as a unit of its own.

    Whole units are drawn (clusters contain whole units), so the k-th appearance of a row belongs
    to the k-th copy of its unit.
    """
    codes, uniques = pd.factorize(np.asarray(labels))
    copy = pd.Series(rows).groupby(rows).cumcount().to_numpy()
    return codes[rows] + len(uniques) * copy


def bootstrap_vcov(spec, data: ModelData, refit: Callable[[np.ndarray], np.ndarray], size: int, *,
                   units: np.ndarray | None = None, units_name: str = "units") -> tuple[np.ndarray, dict]:
    """The bootstrap covariance of a ``size``-vector of estimates and its glance entries.

    ``units``: labels of the units that must stay whole (resampled when ``groups`` is not given).
    """
    if len(data.groups) > 1:
        raise SpecificationError(
            f"model {spec.id!r}: the bootstrap resamples clusters of one column; give groups = \"<column>\"."
        )
    groups = data.groups[0] if data.groups else None
    if groups is not None:
        check_clusters(spec.vcov, data.groups, f"model {spec.id!r}: ")
    if units is not None:
        if groups is None:
            groups = units
        elif not nests(groups, units):
            raise SpecificationError(
                f"model {spec.id!r}: the bootstrap draws whole {units_name}, and groups = {spec.vcov.groups!r} "
                f"splits some of them; give a column whose clusters contain whole {units_name}, or leave groups "
                f"out to resample the {units_name} themselves."
            )
    try:
        draws = sandwich.cluster_bootstrap(refit=guarded(refit, size), groups=groups, n_obs=len(data.frame),
                                           n_boot=spec.vcov.reps or DEFAULT_REPS, seed=spec.vcov.seed)
    except RuntimeError as exc:
        raise SpecificationError(f"model {spec.id!r}: {exc}.") from None
    glance = {
        "n_boot": int(draws.n_boot),
        "n_boot_failed": int(draws.n_failed),
        "n_clusters": int(draws.n_clusters) if groups is not None else None,
        "seed": int(draws.seed),
    }
    return draws.vcov, glance
