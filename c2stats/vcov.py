"""The variance vocabulary shared by every family.

Each variance type has a name, the options it accepts and a short definition; a family declares
which types it supports (``Family.vcov_types``). :func:`check_vcov` rejects an unsupported type or
an option the type does not take, listing the valid choices. The numerical work lives with the
families and in :mod:`c2stats.sandwich`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from . import sandwich
from .errors import ConfigError, DataError, FewNodesWarning, SpecificationError


@dataclass(frozen=True)
class VcovType:
    """One variance type: its name in config, the options it takes, and how tables label it."""

    name: str
    options: frozenset[str]
    required: frozenset[str]
    summary: str
    label: str


#: The one table of variance types; the config's ``Literal``, the labels and the checks derive from it.
VCOV_TYPES: dict[str, VcovType] = {
    v.name: VcovType(v.name, v.options | {"ssc"}, v.required, v.summary, v.label)
    for v in (
        VcovType("model", frozenset(), frozenset(), "inverse of the (expected) information matrix", "Model-based"),
        VcovType("robust", frozenset(), frozenset(), "the family's robust sandwich (coxph robust; HC0 for GLMs)",
                 "Robust"),
        VcovType("HC0", frozenset(), frozenset(), "sandwich HC0", "HC0"),
        VcovType("HC1", frozenset(), frozenset(), "sandwich HC1 = n/(n-k) HC0", "HC1"),
        VcovType("cluster", frozenset({"groups", "hc"}), frozenset({"groups"}), "one- or two-way cluster-robust",
                 "Clustered"),
        VcovType("dyadic", frozenset({"groups"}), frozenset({"groups"}), "dyadic-robust (Aronow, Samii & Assenova 2015)",
                 "Dyadic-robust"),
        VcovType("bootstrap", frozenset({"groups", "reps", "seed"}), frozenset({"seed"}), "seeded (cluster) bootstrap",
                 "Bootstrap"),
    )
}

#: The names as a ``Literal`` (the type of ``vcov.type`` in :class:`~c2stats.spec.VcovSpec`).
VcovName = Literal[tuple(VCOV_TYPES)]  # type: ignore[valid-type]

#: Label shown in tables for each type.
VCOV_LABELS = {name: v.label for name, v in VCOV_TYPES.items()}


#: Dyadic-robust SEs warn below this many distinct nodes. In simulations with dependence through
#: both members of every dyad (benchmarks/dyadic_nodes.py: all pairs of N nodes, OLS and logit,
#: 1000 replications per N), 95% intervals covered 87-88% at N = 30, 90% at 40, 92-93% at 60-100,
#: and 93.5-94.5% (inside the 93.5-96.5% band, Monte Carlo SE 0.7 points) from about 120 nodes.
MIN_DYADIC_NODES = 120


def dyadic_notes(vcov, groups, model_id: str) -> tuple[str, ...]:
    """Warn (:class:`~c2stats.errors.FewNodesWarning`) and return the note when dyadic SEs rest on few nodes."""
    if vcov.type != "dyadic" or len(groups) != 2:
        return ()
    n_nodes = int(pd.unique(np.concatenate([np.asarray(groups[0]), np.asarray(groups[1])])).size)
    if n_nodes >= MIN_DYADIC_NODES:
        return ()
    columns = " and ".join(repr(c) for c in group_columns(vcov))
    message = (
        f"model {model_id!r}: dyadic-robust standard errors rest on only {n_nodes} distinct nodes in {columns} "
        f"(fewer than {MIN_DYADIC_NODES}); with few nodes they are too small (simulated 95% intervals covered "
        "about 87% at 30 nodes, 90% at 40 and 92% at 60-100). Read the p-values as optimistic, or compare "
        "with a bootstrap or cluster variance."
    )
    warnings.warn(message, FewNodesWarning, stacklevel=3)
    return (message,)


def group_columns(vcov) -> list[str]:
    """The grouping columns of a vcov spec, as a list."""
    if vcov.groups is None:
        return []
    return [vcov.groups] if isinstance(vcov.groups, str) else list(vcov.groups)


def check_vcov(vcov, family) -> None:
    """Validate a :class:`~c2stats.config.VcovSpec` against the vocabulary and ``family``."""
    if vcov.type not in family.vcov_types:
        raise ConfigError(
            f"type {vcov.type!r} is not available for the {family.name} family; choose one of: "
            f"{', '.join(family.vcov_types)}."
        )
    kind = VCOV_TYPES[vcov.type]
    given = {k for k in ("groups", "hc", "reps", "seed") if getattr(vcov, k) is not None}
    if getattr(vcov, "ssc", "R") != "R":
        given.add("ssc")
        if vcov.ssc not in getattr(family, "ssc_conventions", ("R",)):
            raise ConfigError(f"ssc {vcov.ssc!r} is not offered by the {family.name} family; remove ssc (R's "
                              "conventions apply).")
    extra = given - kind.options
    if extra:
        allowed = ", ".join(sorted(kind.options)) or "no options"
        raise ConfigError(f"{vcov.type!r} takes {allowed}; remove {', '.join(sorted(extra))}.")
    missing = kind.required - given
    if missing:
        raise ConfigError(f"{vcov.type!r} needs {', '.join(sorted(missing))}, e.g. {{type = \"{vcov.type}\", groups = \"dyad\"}}.")
    groups = group_columns(vcov)
    if vcov.type == "cluster" and len(groups) not in (1, 2):
        raise ConfigError("cluster takes one column (one-way) or two (two-way) in groups.")
    if vcov.type == "dyadic" and len(groups) != 2:
        raise ConfigError("dyadic needs groups = [\"<state A column>\", \"<state B column>\"], the two members of each dyad.")
    if vcov.hc is not None and vcov.hc not in getattr(family, "cluster_hc", ("HC0", "HC1")):
        raise ConfigError(f"hc {vcov.hc!r} is not offered by the {family.name} family.")


def _hc1_rows(n: int, k: int, what: str, where: str) -> None:
    if n <= k:
        raise SpecificationError(
            f"{where}{n} rows for {k} coefficients leave no residual degrees of freedom, so the HC1 small-sample "
            f"factor of {what} (a division by n - k) is undefined; with as many coefficients as rows the model fits "
            "the data exactly. Add rows (check the sample restriction and the rows dropped for missing values) or "
            "remove terms from the formula."
        )


def check_clusters(vcov, groups, where: str = "") -> None:
    """Refuse cluster-robust variance on a grouping column with fewer than two clusters.

    ``groups`` are the label arrays of ``vcov.groups`` on the estimation sample, in order;
    ``where`` prefixes the message (e.g. ``"model 'm1': "``).
    """
    for column, labels in zip(group_columns(vcov), groups):
        values = pd.unique(np.asarray(labels))
        if len(values) >= 2:
            continue
        which = f" (every row is {values[0]!r})" if len(values) else ""
        other = ("leave groups out to resample rows" if vcov.type == "bootstrap"
                 else "use vcov = \"robust\" (each row its own cluster)")
        raise SpecificationError(
            f"{where}{vcov.type} standard errors need at least 2 clusters, but the groups column {column!r} has "
            f"{len(values)} distinct value(s) in the estimation sample{which}, and the variation between clusters "
            f"cannot be estimated from one. Cluster on a column that varies in the sample (e.g. the dyad or country), "
            f"or {other}."
        )


def sandwich_vcov(vcov, *, bread, scores, groups, n: int, k: int, cluster_default: str = "HC1",
                  robust_kind: str = "HC0", model_id: str | None = None):
    """Map a vcov spec onto :mod:`c2stats.sandwich` for families with score contributions.

    ``robust`` means ``robust_kind`` (HC0 for GLMs, as sandwich's default ``vcovHC(type="HC0")``
    in Stata's ``vce(robust)`` spirit; Cox passes its own). Cluster SEs use ``vcov.hc`` or the
    family's ``cluster_default`` convention.

    Raises
    ------
    SpecificationError
        Cluster variance with fewer than 2 clusters in a groups column, or an HC1 factor with no
        residual degrees of freedom (``n <= k``); the message names ``model_id`` and the column.
    DataError
        Dyadic variance with a row whose two members are the same.
    """

    where = f"model {model_id!r}: " if model_id else ""
    if vcov.type == "model":
        return bread
    if vcov.type in ("HC0", "HC1", "robust"):
        kind = robust_kind if vcov.type == "robust" else vcov.type
        if kind == "none":
            return sandwich.sandwich(bread=bread, meat=sandwich.meat(scores))
        if kind == "HC1":
            _hc1_rows(n, k, f"vcov = {vcov.type!r}, n/(n - k),", where)
        return sandwich.vcov_hc(bread=bread, scores=scores, kind=kind, n=n, k=k)
    if vcov.type == "cluster":
        correction = vcov.hc or cluster_default
        check_clusters(vcov, groups, where)
        if correction == "HC1":
            _hc1_rows(np.shape(scores)[0], k, "the cluster variance, (n - 1)/(n - k),", where)
        return sandwich.vcov_cluster(bread=bread, scores=scores, groups=list(groups), correction=correction, k=k)
    if vcov.type == "dyadic":
        check_dyads(vcov, groups, where)
        return sandwich.vcov_dyadic(bread=bread, scores=scores, node_a=groups[0], node_b=groups[1])
    raise ConfigError(f"vcov type {vcov.type!r} needs a refitting estimator; not available here.")


def check_dyads(vcov, groups, where: str = "") -> None:
    """Refuse dyadic variance when a row has the same member on both sides (a dyad needs two members)."""
    a, b = (np.asarray(g) for g in groups[:2])
    same = np.flatnonzero(a == b)
    if not len(same):
        return
    col_a, col_b = group_columns(vcov)[:2]
    shown = ", ".join(str(int(i) + 1) for i in same[:5]) + (", ..." if len(same) > 5 else "")
    raise DataError(
        f"{where}dyadic standard errors need two different members in every row, but {len(same)} row(s) of the "
        f"estimation sample (rows {shown}) have the same value in {col_a!r} and {col_b!r} (e.g. {a[same[0]]!r}). "
        "Drop those rows with a sample restriction (sample = \"" + f"{col_a} != {col_b}" + "\") or fix the coding."
    )
