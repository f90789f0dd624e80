"""Replications: ``[[replications]]`` declare a published table's numbers next to the model that
should reproduce them; the report shows reference, reproduced and difference side by side, and a
difference beyond the tolerance fails the run's check.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from .errors import SpecificationError
from .results import Result
from .spec import ReplicationSpec, suggest


def compare(spec: ReplicationSpec, result: Result) -> pd.DataFrame:
    """One row per reference number: term, quantity, reference, reproduced, difference, ok.

    Raises :class:`SpecificationError` when a reference term is not a term of the model.
    """
    tidy = result.tidy.set_index("term")
    rows = []
    for quantity, column, values in (("estimate", "estimate", spec.estimates),
                                     ("std_error", "std_error", spec.std_errors)):
        for term, ref in values.items():
            if term not in tidy.index:

                raise SpecificationError(
                    f"replication {spec.id!r}: term {term!r} is not in model {spec.model!r}"
                    f"{suggest(term, list(tidy.index))}."
                )
            got = float(tidy.loc[term, column])
            diff = got - float(ref)
            rows.append({"term": term, "quantity": quantity, "reference": float(ref), "reproduced": got,
                         "difference": diff, "ok": bool(math.isfinite(diff) and abs(diff) <= spec.tolerance)})
    if spec.nobs is not None:
        got = int(result.glance["nobs"])
        rows.append({"term": "N", "quantity": "nobs", "reference": float(spec.nobs), "reproduced": float(got),
                     "difference": float(got - spec.nobs), "ok": got == spec.nobs})
    return pd.DataFrame(rows, columns=["term", "quantity", "reference", "reproduced", "difference", "ok"])


def compare_all(specs: Sequence[ReplicationSpec], results: Mapping[str, Result]) -> dict[str, pd.DataFrame]:
    """Comparison frame of every replication, by id."""
    return {spec.id: compare(spec, results[spec.model]) for spec in specs}


def failures(comparisons: Mapping[str, pd.DataFrame]) -> list[str]:
    """Human-readable lines for every number outside its tolerance."""
    out = []
    for rid, frame in comparisons.items():
        for row in frame[~frame["ok"]].itertuples():
            out.append(f"replication {rid}: {row.term} {row.quantity} reproduced {row.reproduced:.6g}, "
                       f"reference {row.reference:.6g} (difference {row.difference:+.3g})")
    return out


def display_frame(spec: ReplicationSpec, frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The comparison laid out for a report table (numbers as fixed-decimal text)."""
    fmt = lambda v: f"{v:.{digits}f}"  # noqa: E731
    return pd.DataFrame({
        "Term": frame["term"],
        "Quantity": frame["quantity"].map({"estimate": "Coefficient", "std_error": "Std. error", "nobs": "N"}),
        f"Reference ({spec.reference})": [fmt(v) if q != "nobs" else f"{int(v)}" for v, q in zip(frame["reference"], frame["quantity"])],
        "Reproduced": [fmt(v) if q != "nobs" else f"{int(v)}" for v, q in zip(frame["reproduced"], frame["quantity"])],
        "Difference": [f"{v:+.2e}" for v in frame["difference"]],
        "Within tolerance": frame["ok"].map({True: "yes", False: "NO"}),
    })


def notes(spec: ReplicationSpec) -> list[str]:
    """Notes under the comparison table: source, where the reference comes from, tolerance."""
    origin = {"published": "the published table", "R": "R's estimates on the authors' replication data "
              "(the published numbers could not be obtained)",
              "Stata": "Stata's estimates on the authors' replication data (the published numbers could not be obtained)"}
    out = [f"Replicates {spec.source}; reference numbers from {origin[spec.reference]}; "
           f"tolerance {spec.tolerance:g} (absolute)."]
    if spec.note:
        out.append(spec.note)
    return out
