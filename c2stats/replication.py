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


def _within(spec: ReplicationSpec, got: float, ref: float, digits: int | None) -> bool:
    """Reproduced matches reference: to the printed digit when ``digits`` is set, else within the tolerance."""
    diff = got - ref
    if not math.isfinite(diff):
        return False
    if digits is None:
        return abs(diff) <= spec.tolerance
    # half a unit in the last printed place; the slack absorbs binary representation of the printed value
    return abs(diff) <= 0.5 * 10.0 ** -digits * (1 + 1e-9) + 1e-12


def stars_for(p_value: float, levels: Mapping[str, float]) -> str:
    """The star string a table prints for ``p_value``: the symbol of the smallest level p falls below."""
    if not math.isfinite(p_value):
        return ""
    marked = [(level, symbol) for symbol, level in levels.items() if p_value < level]
    return min(marked)[1] if marked else ""


def compare(spec: ReplicationSpec, result: Result) -> pd.DataFrame:
    """One row per reference number: term, quantity, reference, reproduced, difference, ok.

    Quantities are ``estimate``, ``std_error``, ``stars`` (printed symbols; reference and reproduced are
    text, difference NaN), fit rows by glance key and ``nobs``. Raises :class:`SpecificationError` when a
    reference term is not a term of the model or a fit row is not in its glance.
    """
    tidy = result.tidy.set_index("term")
    rows = []

    def term_row(term: str) -> pd.Series:
        if term not in tidy.index:
            raise SpecificationError(
                f"replication {spec.id!r}: term {term!r} is not in model {spec.model!r}"
                f"{suggest(term, list(tidy.index))}."
            )
        return tidy.loc[term]

    for quantity, column, values in (("estimate", "estimate", spec.estimates),
                                     ("std_error", "std_error", spec.std_errors)):
        for term, ref in values.items():
            got = float(term_row(term)[column])
            rows.append({"term": term, "quantity": quantity, "reference": float(ref), "reproduced": got,
                         "difference": got - float(ref), "ok": _within(spec, got, float(ref), spec.digits)})
    for term, printed in spec.stars.items():
        got = stars_for(float(term_row(term).get("p_value", math.nan)), spec.star_levels)
        rows.append({"term": term, "quantity": "stars", "reference": printed, "reproduced": got,
                     "difference": math.nan, "ok": got == printed})
    glance = result.glance
    for key, ref in spec.fit.items():
        if key not in glance or glance[key] is None:
            raise SpecificationError(
                f"replication {spec.id!r}: fit row {key!r} is not reported by model {spec.model!r}"
                f"{suggest(key, [k for k in glance if glance[k] is not None])}."
            )
        got = float(glance[key])
        digits = spec.fit_digits.get(key, spec.digits)
        rows.append({"term": key, "quantity": "fit", "reference": float(ref), "reproduced": got,
                     "difference": got - float(ref), "ok": _within(spec, got, float(ref), digits)})
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
            if row.quantity == "stars":
                out.append(f"replication {rid}: {row.term} stars reproduced {row.reproduced or '(none)'!r}, "
                           f"printed {row.reference or '(none)'!r}")
                continue
            out.append(f"replication {rid}: {row.term} {row.quantity} reproduced {row.reproduced:.6g}, "
                       f"reference {row.reference:.6g} (difference {row.difference:+.3g})")
    return out


def display_frame(spec: ReplicationSpec, frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The comparison laid out for a report table (numbers as fixed-decimal text)."""
    shown = max(digits, (spec.digits or 0) + 2)

    def fmt(value, quantity: str) -> str:
        if quantity == "stars":
            return str(value) or "(none)"
        if quantity == "nobs":
            return f"{int(value)}"
        return f"{value:.{shown}f}"

    labels = {"estimate": "Coefficient", "std_error": "Std. error", "stars": "Stars", "fit": "Fit", "nobs": "N"}
    return pd.DataFrame({
        "Term": frame["term"],
        "Quantity": frame["quantity"].map(labels),
        f"Reference ({spec.reference})": [fmt(v, q) for v, q in zip(frame["reference"], frame["quantity"])],
        "Reproduced": [fmt(v, q) for v, q in zip(frame["reproduced"], frame["quantity"])],
        "Difference": ["" if q == "stars" else f"{v:+.2e}" for v, q in zip(frame["difference"], frame["quantity"])],
        "Within tolerance": frame["ok"].map({True: "yes", False: "NO"}),
    })


def notes(spec: ReplicationSpec) -> list[str]:
    """Notes under the comparison table: source, where the reference comes from, tolerance."""
    origin = {"published": "the published table", "R": "R's estimates on the authors' replication data "
              "(the published numbers could not be obtained)",
              "Stata": "Stata's estimates on the authors' replication data (the published numbers could not be obtained)"}
    match = (f"compared to the printed digit ({spec.digits} decimals)" if spec.digits is not None
             else f"tolerance {spec.tolerance:g} (absolute)")
    out = [f"Replicates {spec.source}; reference numbers from {origin[spec.reference]}; {match}."]
    if spec.stars:
        levels = ", ".join(f"{sym} p < {lvl:g}" for sym, lvl in sorted(spec.star_levels.items(), key=lambda kv: -kv[1]))
        out.append(f"Stars: {levels}.")
    if spec.note:
        out.append(spec.note)
    return out
