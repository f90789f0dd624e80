"""Descriptive tables: ``[[tables]]`` of ``kind = "summary"`` and ``kind = "crosstab"``.

A renderer like :mod:`c2stats.tables`: it reads a data frame the pipeline has already loaded and
restricted to the table's sample, and never loads data or fits. The numbers are plain pandas
(``summary_frame``, ``crosstab_frame``: numeric frames, checked against R in tests/renderers/test_describe.py);
``summary_table`` and ``crosstab_table`` lay them out as a :class:`~c2stats.tables.TableModel`, so they
render in every format.

Conventions follow R: the standard deviation has n - 1 in the denominator (``sd()``); missing values are
left out of N, mean, SD, min and max and counted apart; a crosstab drops rows with a missing value in
either variable unless ``missing = true`` (``table(useNA = "ifany")``), and its shares are of the
non-dropped rows (``prop.table(margin = 1 or 2)``).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import DataError
from .spec import suggest
from .tables import TableModel, frame_table

MISSING_LABEL = "(missing)"
ALL_LABEL = "All"
TOTAL_LABEL = "Total"
SUMMARY_COLUMNS = ["variable", "group", "n", "mean", "sd", "min", "max", "missing"]


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataError(f"{what} names column(s) {absent} that the dataset does not have"
                        f"{suggest(absent[0], list(frame.columns))}.")


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    raise DataError(f"summary table: column {column!r} is {values.dtype} (text or categories), not numeric; "
                    "describe it with kind = 'crosstab' (rows = '" + column + "') instead.")


def _group_labels(values: pd.Series) -> list:
    present = pd.unique(values.dropna())
    try:
        return sorted(present)
    except TypeError:  # mixed types: keep first-seen order
        return list(present)


def summary_frame(frame: pd.DataFrame, variables: Sequence[str], by: str | None = None) -> pd.DataFrame:
    """N, mean, SD (n - 1), min, max and missing count of each variable, by group then overall.

    Returns a frame with columns ``variable, group, n, mean, sd, min, max, missing``; ``group`` is
    :data:`ALL_LABEL` for the whole frame, each value of ``by`` (sorted; :data:`MISSING_LABEL` for rows
    where ``by`` is missing) otherwise. Statistics of a variable with no observed value are NaN.
    """
    _require(frame, [*variables, *([by] if by else [])], "summary table")
    groups: list[tuple[object, pd.DataFrame]] = []
    if by is not None:
        groups = [(value, frame[frame[by] == value]) for value in _group_labels(frame[by])]
        if frame[by].isna().any():
            groups.append((MISSING_LABEL, frame[frame[by].isna()]))
    groups.append((ALL_LABEL, frame))
    rows = []
    for variable in variables:
        values = _numeric(frame, variable)
        for label, part in groups:
            x = values.loc[part.index]
            observed = x.dropna()
            n = int(observed.size)
            rows.append({"variable": variable, "group": label, "n": n,
                         "mean": float(observed.mean()) if n else np.nan,
                         "sd": float(observed.std(ddof=1)) if n > 1 else np.nan,
                         "min": float(observed.min()) if n else np.nan,
                         "max": float(observed.max()) if n else np.nan,
                         "missing": int(x.isna().sum())})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def summary_table(frame: pd.DataFrame, variables: Sequence[str], by: str | None = None, *, title: str = "",
                  notes: Sequence[str] = (), digits: int = 3, table_id: str = "summary",
                  labels: dict[str, str] | None = None) -> TableModel:
    """The summary statistics as a :class:`TableModel` (one row per variable, and group when ``by`` is set)."""
    stats = summary_frame(frame, variables, by)
    labels = labels or {}
    shown = pd.DataFrame({"Variable": [labels.get(v, v) for v in stats["variable"]]})
    if by is not None:
        shown[labels.get(by, by)] = [str(g) for g in stats["group"]]
    shown["N"] = stats["n"].astype(int)
    for column, name in (("mean", "Mean"), ("sd", "SD"), ("min", "Min"), ("max", "Max")):
        shown[name] = stats[column]
    shown["Missing"] = stats["missing"].astype(int)
    auto = [f"{len(frame)} rows described; SD with n - 1 in the denominator; missing values are left out "
            "of N, mean, SD, min and max and counted under Missing."]
    return frame_table(shown, title, [*auto, *notes], digits=digits, table_id=table_id)


def _categories(values: pd.Series, missing: bool) -> list:
    cats = _group_labels(values)
    if missing and values.isna().any():
        cats.append(MISSING_LABEL)
    return cats


def crosstab_frame(frame: pd.DataFrame, rows: str, columns: str | None = None,
                   missing: bool = False) -> pd.DataFrame:
    """Counts of ``rows`` (by ``columns``) as a long frame: ``row, column, n, row_share, col_share``.

    ``column`` is ``None`` for a one-way table, whose ``row_share`` is each category's share of all
    counted rows (``col_share`` equals it). With ``missing`` a missing value is its own category,
    :data:`MISSING_LABEL`; otherwise rows missing either variable are dropped before counting. Shares
    are fractions (0-1); a share over an empty margin is NaN. Every pair of categories appears (zero counts
    included).
    """
    _require(frame, [rows, *([columns] if columns else [])], "crosstab table")
    used = [rows] + ([columns] if columns else [])
    data = frame[used].copy()
    if missing:
        for c in used:
            data[c] = data[c].astype(object).where(data[c].notna(), MISSING_LABEL)
    else:
        data = data.dropna()
    row_cats = _categories(frame[rows], missing)
    if columns is None:
        counts = data[rows].value_counts().reindex(row_cats, fill_value=0)
        total = counts.sum()
        share = counts / total if total else counts * np.nan
        return pd.DataFrame({"row": row_cats, "column": None, "n": counts.to_numpy(dtype=int),
                             "row_share": share.to_numpy(dtype=float), "col_share": share.to_numpy(dtype=float)})
    col_cats = _categories(frame[columns], missing)
    table = pd.crosstab(data[rows], data[columns]).reindex(index=row_cats, columns=col_cats, fill_value=0)
    row_tot = table.sum(axis=1)
    col_tot = table.sum(axis=0)
    out = []
    for r in row_cats:
        for c in col_cats:
            n = int(table.loc[r, c])
            out.append({"row": r, "column": c, "n": n,
                        "row_share": n / row_tot[r] if row_tot[r] else np.nan,
                        "col_share": n / col_tot[c] if col_tot[c] else np.nan})
    return pd.DataFrame(out, columns=["row", "column", "n", "row_share", "col_share"])


def _pct(share: float) -> float:
    return 100 * float(share) if np.isfinite(share) else np.nan


def _label(value) -> str:
    """A category as text; whole-number floats (integer codes read with missing values) without '.0'."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value)


def crosstab_table(frame: pd.DataFrame, rows: str, columns: str | None = None, missing: bool = False, *,
                   title: str = "", notes: Sequence[str] = (), table_id: str = "crosstab",
                   labels: dict[str, str] | None = None) -> TableModel:
    """The crosstab as a :class:`TableModel`: counts with row and column percentages, and totals.

    A two-way table has, under each value of ``columns``, the columns N, Row % and Col % (md and csv
    flatten the header to ``"<value>: N"``), then a Total group (N and % of all counted rows) and a Total
    row. A one-way table is a frequency table: N and %.
    """
    labels = labels or {}
    long = crosstab_frame(frame, rows, columns, missing)
    counted = int(long["n"].sum())
    dropped = len(frame) - counted
    auto = [f"{counted} rows counted" + (f"; {dropped} with a missing value dropped (missing = true counts "
                                         "them as their own category)." if dropped else ".")]
    row_cats = list(dict.fromkeys(long["row"]))
    stub = labels.get(rows, rows)
    if columns is None:
        shown = pd.DataFrame({stub: [_label(r) for r in row_cats] + [TOTAL_LABEL],
                              "N": [*long["n"].astype(int), counted],
                              "%": [*(_pct(s) for s in long["row_share"]), _pct(1.0 if counted else np.nan)]})
        return frame_table(shown, title, [*auto, "% = share of the counted rows.", *notes], digits={"%": 1},
                           table_id=table_id)
    col_cats = list(dict.fromkeys(long["column"]))
    cell = long.set_index(["row", "column"])
    row_tot = long.groupby("row", sort=False)["n"].sum()
    col_tot = long.groupby("column", sort=False)["n"].sum()
    body: dict[str, list] = {stub: [_label(r) for r in row_cats] + [TOTAL_LABEL]}
    pct_columns = []
    for c in col_cats:
        name = _label(c)
        body[f"{name}: N"] = [int(cell.loc[(r, c), "n"]) for r in row_cats] + [int(col_tot[c])]
        body[f"{name}: Row %"] = [_pct(cell.loc[(r, c), "row_share"]) for r in row_cats] + \
            [_pct(col_tot[c] / counted if counted else np.nan)]
        body[f"{name}: Col %"] = [_pct(cell.loc[(r, c), "col_share"]) for r in row_cats] + \
            [_pct(1.0 if col_tot[c] else np.nan)]
        pct_columns += [f"{name}: Row %", f"{name}: Col %"]
    body[f"{TOTAL_LABEL}: N"] = [int(row_tot[r]) for r in row_cats] + [counted]
    body[f"{TOTAL_LABEL}: %"] = [_pct(row_tot[r] / counted if counted else np.nan) for r in row_cats] + \
        [_pct(1.0 if counted else np.nan)]
    pct_columns.append(f"{TOTAL_LABEL}: %")
    model = frame_table(pd.DataFrame(body), title,
                        [*auto, f"Columns: {labels.get(columns, columns)}. Row % = share of the row, Col % = "
                                "share of the column; the Total row's Row % is the column's share of all "
                                "counted rows.", *notes], digits={c: 1 for c in pct_columns}, table_id=table_id)
    groups = tuple((_label(c), 3) for c in col_cats) + ((TOTAL_LABEL, 2),)
    subcolumns = tuple(["N", "Row %", "Col %"] * len(col_cats) + ["N", "%"])
    return dataclasses.replace(model, groups=groups, subcolumns=subcolumns)


def _kind(values: pd.Series) -> str:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_float_dtype(values):
        observed = values.dropna()
        return "integer (as float)" if len(observed) and (observed % 1 == 0).all() else "float"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    return "text"


def column_overview(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: type, missing count, distinct observed values, and mean/min/max when numeric."""
    rows = []
    for name in frame.columns:
        values = frame[name]
        kind = _kind(values)
        numeric = kind in ("integer", "integer (as float)", "float", "bool")
        x = values.astype(float) if numeric else None
        try:
            distinct = int(values.nunique(dropna=True))
        except TypeError:  # unhashable cells (an R list column)
            distinct = int(values.dropna().astype(str).nunique())
        rows.append({"column": str(name), "type": kind, "missing": int(values.isna().sum()), "distinct": distinct,
                     "mean": float(x.mean()) if numeric and x.notna().any() else np.nan,
                     "min": x.min() if numeric else (_label(values.min()) if kind == "date" else np.nan),
                     "max": x.max() if numeric else (_label(values.max()) if kind == "date" else np.nan)})
    return pd.DataFrame(rows, columns=["column", "type", "missing", "distinct", "mean", "min", "max"])


def describe_text(frame: pd.DataFrame, max_levels: int = 10) -> str:
    """Plain-text description of any data frame: the column overview, then a frequency table (counts and
    shares, missing values as their own row) for every column with at most ``max_levels`` distinct values."""
    overview = column_overview(frame)
    shown = overview.copy()
    for column in ("mean", "min", "max"):
        shown[column] = [("" if (isinstance(v, float) and np.isnan(v)) else
                          (f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)))
                         for v in overview[column]]
    lines = [f"{len(frame):,} rows x {frame.shape[1]} columns", "", shown.to_string(index=False)]
    for name, distinct in zip(overview["column"], overview["distinct"]):
        if 0 < distinct <= max_levels:
            try:
                long = crosstab_frame(frame, name, missing=True)
            except TypeError:  # unhashable cells
                continue
            table = pd.DataFrame({name: [_label(r) for r in long["row"]], "n": long["n"],
                                  "%": [f"{100 * s:.1f}" for s in long["row_share"]]})
            lines += ["", f"{name}:", table.to_string(index=False)]
    return "\n".join(lines)
