"""Measurement check of the C2 coding: item descriptives by form and drop-one-item sensitivity.

Both tables are computed from the built ``arrangements`` unit (the item source columns ship with
it), so they can be rerun for any coding::

    c2stats data measurement --out DIR            # writes c2_items.csv and c2_drop_one.csv

``item_table`` says how often each item is scored and how high, separately for formal and informal
arrangements; ``drop_one_table`` rescores the arrangements once without each item and reports the
comparable index (``c2_common``) by form, its correlation with the full index and the
informal-minus-formal gap. An item whose removal moves the gap a lot carries the comparison of forms.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from c2stats.datasets.coding import LEVEL_ABBREV, Coding, apply_coding, load_coding

#: Arrangements formed in these years enter the check (the years both sources observe).
CHECK_YEARS = (1980, 2010)


def _sample(arr: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Arrangements formed in ``years``, with every C2 column removed (they are rescored)."""
    keep = arr[arr["start_year"].between(*years)]
    return keep.drop(columns=[c for c in keep.columns if c.startswith("c2")]).reset_index(drop=True)


def item_table(arr: pd.DataFrame, coding: Coding | None = None,
               years: tuple[int, int] = CHECK_YEARS) -> pd.DataFrame:
    """One row per item: dimension, level, form it applies to, and by form the number of
    arrangements scored (``n_*``), the share scored above 0 (``share_*``) and the mean (``mean_*``)."""
    coding = coding or load_coding()
    base = _sample(arr, years)
    scored = apply_coding(base, coding)
    rows = []
    for it in coding.items:
        col = scored[f"c2i_{it.name}"]
        row = {"item": it.name, "dimension": it.dimension, "level": LEVEL_ABBREV[it.level],
               "applies_to": it.form, "variable": it.variable}
        for form in ("formal", "informal"):
            values = col[scored["form"].astype(str) == form].dropna()
            row[f"n_{form}"] = int(values.size)
            row[f"share_{form}"] = round(float((values > 0).mean()), 3) if values.size else np.nan
            row[f"mean_{form}"] = round(float(values.mean()), 3) if values.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _gap(frame: pd.DataFrame, col: str) -> tuple[float, float]:
    means = frame.groupby(frame["form"].astype(str))[col].mean()
    return float(means.get("formal", np.nan)), float(means.get("informal", np.nan))


def drop_one_table(arr: pd.DataFrame, coding: Coding | None = None,
                   years: tuple[int, int] = CHECK_YEARS, index: str = "c2_common") -> pd.DataFrame:
    """``index`` by form with all items (first row, ``dropped = "(none)"``) and without each item.

    Columns: ``dropped``, ``mean_formal``, ``mean_informal``, ``gap`` (informal - formal),
    ``corr_full`` (Pearson correlation with the full index over arrangements scored by both) and
    ``n_cells`` (cells both forms can score after the drop).
    """
    from c2stats.datasets.coding import common_cells

    coding = coding or load_coding()
    base = _sample(arr, years)
    full = apply_coding(base, coding)[index]
    rows = []
    for name in ("(none)", *(it.name for it in coding.items)):
        items = tuple(it for it in coding.items if it.name != name)
        variant = dataclasses.replace(coding, items=items)
        values = apply_coding(base, variant)[index]
        formal, informal = _gap(base.assign(_v=values), "_v")
        both = values.notna() & full.notna()
        corr = float(np.corrcoef(values[both], full[both])[0, 1]) if both.sum() > 2 else np.nan
        rows.append({"dropped": name, "mean_formal": round(formal, 3), "mean_informal": round(informal, 3),
                     "gap": round(informal - formal, 3), "corr_full": round(corr, 3),
                     "n_cells": len(common_cells(variant))})
    return pd.DataFrame(rows)
