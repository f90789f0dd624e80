"""Bring-your-own-data: read a table and check it against a unit's codebook schema."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from c2stats.errors import DataError

SHOW_ROWS = 5

READERS = {
    ".csv": ("csv", None),
    ".tsv": ("tsv", None),
    ".gz": ("csv", None),
    ".dta": ("stata", None),
    ".parquet": ("parquet", "pyarrow"),
    ".pq": ("parquet", "pyarrow"),
    ".xlsx": ("excel", "openpyxl"),
    ".xls": ("excel", "xlrd"),
    ".rds": ("rds", None),  # pyreadr, else rdata (_read_r)
    ".rda": ("rda", None),
    ".rdata": ("rda", None),
}


def _require(module: str, path: Path) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise DataError(
            f"reading {path.suffix} files needs the optional package {module!r}; "
            f"install it with `pip install {module}` or save the data as .csv",
            source=str(path),
        ) from exc


def read_table(path: str | Path, *, value_labels: bool = False) -> pd.DataFrame:
    """Read a csv, tsv, dta, parquet, xlsx or rds/rda file into a DataFrame (by extension).

    Stata files keep their numeric codes unless ``value_labels`` is true, when a labelled column becomes
    a pandas category of its labels (``pd.read_stata(convert_categoricals=...)``). R files are read with
    pyreadr, and with rdata when pyreadr is absent or cannot read the file (list columns, a data frame
    inside a list); they must hold exactly one data frame.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset file {path} does not exist; check the path (relative paths are "
                        "resolved against the current directory)", source=str(path))
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DataError(f"cannot read files ending in {path.suffix!r}; supported: "
                        f"{', '.join(sorted(READERS))}", source=str(path))
    kind, module = READERS[suffix]
    if module:
        _require(module, path)
    try:
        if kind == "csv":
            return pd.read_csv(path, low_memory=False)
        if kind == "tsv":
            return pd.read_csv(path, sep="\t", low_memory=False)
        if kind == "stata":
            return pd.read_stata(path, convert_categoricals=value_labels)
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "excel":
            return pd.read_excel(path)
        return _read_r(path, kind)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty; it needs a header row and at least one data row",
                        source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"is not UTF-8 text ({_bad_byte(path, exc)}); re-save it as UTF-8 (in Excel: "
                        "CSV UTF-8; in R: write.csv(..., fileEncoding = 'UTF-8'))", source=str(path)) from None
    except Exception as exc:  # the reader's own message is the useful part
        raise DataError(f"could not read the file as {kind}: {exc}; check that it is a valid {kind} file, "
                        "or save the data as .csv", source=str(path)) from exc


def _r_frames(objects: dict) -> dict[str, pd.DataFrame]:
    """The data frames among the objects of an R file, by name (one level into lists)."""
    out = {}
    for name, value in objects.items():
        if isinstance(value, pd.DataFrame):
            out[str(name)] = value
        elif isinstance(value, dict):
            out.update({f"{name}${k}": v for k, v in value.items() if isinstance(v, pd.DataFrame)})
    return out


def _rdata_objects(path: Path, kind: str) -> dict:
    import rdata

    def date(obj, attrs):  # R's Date: days since 1970-01-01
        return pd.to_datetime(np.asarray(obj, dtype=float), unit="D")

    def as_is(obj, attrs):  # I(): the object itself
        return obj

    constructors = {**rdata.conversion.DEFAULT_CLASS_MAP, "Date": date, "AsIs": as_is}
    with warnings.catch_warnings():  # unknown R classes come back as their underlying vectors
        warnings.simplefilter("ignore", UserWarning)
        if kind == "rds":
            obj = rdata.read_rds(path, constructor_dict=constructors)
            return obj if isinstance(obj, dict) else {"": obj}
        return rdata.read_rda(path, constructor_dict=constructors)


def _read_r(path: Path, kind: str) -> pd.DataFrame:
    """One data frame from an .rds/.rda file: pyreadr first, rdata when pyreadr is absent or fails."""
    have = [m for m in ("pyreadr", "rdata") if importlib.util.find_spec(m) is not None]
    if not have:
        raise DataError("reading R files needs the optional package pyreadr or rdata; install one with "
                        "`pip install pyreadr rdata`, or save the data as .csv (write.csv in R)", source=str(path))
    frames: dict[str, pd.DataFrame] = {}
    problems = []
    if "pyreadr" in have:
        import pyreadr

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                frames = _r_frames({k or "": v for k, v in pyreadr.read_r(str(path)).items()})
        except Exception as exc:  # librdata refuses list columns, some attributes, ...
            problems.append(f"pyreadr: {exc}")
    if len(frames) != 1 and "rdata" in have:
        try:
            frames = _r_frames(_rdata_objects(path, kind))
        except Exception as exc:
            problems.append(f"rdata: {exc}")
    if len(frames) != 1:
        if not frames and problems:
            raise DataError(f"could not read the R file ({'; '.join(problems)}); save the data frame as .csv "
                            "(write.csv in R) or with saveRDS()", source=str(path))
        names = ", ".join(repr(n) for n in frames) or "none"
        raise DataError(f"the R file holds {len(frames)} data frames ({names}); save exactly one (saveRDS(df, ...))",
                        source=str(path))
    frame = next(iter(frames.values()))
    return frame.reset_index(drop=True)


def _bad_byte(path: Path, exc: UnicodeDecodeError) -> str:
    """'byte 0xe9 on line 3' for an uncompressed file (the decoder's offset is within a chunk)."""
    where = f"byte 0x{exc.object[exc.start]:02x}"
    if path.suffix.lower() in (".csv", ".tsv"):
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as full:
            line = raw.count(b"\n", 0, full.start) + 1
            where = f"byte 0x{raw[full.start]:02x} on line {line}"
    return where


def _rows(mask: np.ndarray | pd.Series) -> str:
    """'3 rows (rows 2, 7, 9)': 1-based positions of the first offending rows."""
    pos = np.flatnonzero(np.asarray(mask, dtype=bool)) + 1
    shown = ", ".join(str(p) for p in pos[:SHOW_ROWS])
    more = ", ..." if len(pos) > SHOW_ROWS else ""
    noun = "row" if len(pos) == 1 else "rows"
    return f"{len(pos)} {noun} ({noun} {shown}{more}; counting data rows from 1)"


def _is_integral(values: pd.Series) -> pd.Series:
    return values.isna() | np.isclose(values.fillna(0) % 1, 0)


def _coerce(frame: pd.DataFrame, entry: dict, source: str) -> pd.Series:
    name, kind = entry["name"], entry["type"]
    col = frame[name]
    where = f"column '{name}'"
    if kind in ("int", "float"):
        values = pd.to_numeric(col, errors="coerce")
        bad = values.isna() & col.notna() & col.astype(str).str.strip().ne("")
        if bad.any():
            example = col[bad].iloc[0]
            raise DataError(
                f"expected numbers ({entry['label']}, {entry['unit'] or kind}) but found text such as "
                f"{example!r} in {_rows(bad)}; recode those cells as numbers or leave them empty",
                source=source, where=where)
        if kind == "int":
            frac = ~_is_integral(values)
            if frac.any():
                raise DataError(
                    f"expected whole numbers but found fractions such as {float(values[frac].iloc[0])!r} in "
                    f"{_rows(frac)}; round or recode them", source=source, where=where)
            return values if values.isna().any() else values.astype("int64")
        return values.astype("float64")
    if kind == "date":
        values = pd.to_datetime(col, errors="coerce", format="mixed") if col.dtype == object or \
            pd.api.types.is_string_dtype(col) else pd.to_datetime(col, errors="coerce")
        bad = values.isna() & col.notna() & col.astype(str).str.strip().ne("")
        if bad.any():
            raise DataError(
                f"expected dates (YYYY-MM-DD) but found {col[bad].iloc[0]!r} in {_rows(bad)}; "
                "write dates as YYYY-MM-DD", source=source, where=where)
        return values
    if kind == "category":
        levels = entry["levels"] or []
        text = col.astype("string")
        bad = text.notna() & ~text.isin(levels)
        if bad.any():
            found = sorted(text[bad].unique().tolist())[:5]
            raise DataError(
                f"unknown values {found} in {_rows(bad)}; allowed values are {levels}",
                source=source, where=where)
        return pd.Series(pd.Categorical(text, categories=levels), index=col.index)
    return col


def validate_frame(frame: pd.DataFrame, unit: str, source: str, book: pd.DataFrame,
                   known_ccodes: set[int]) -> pd.DataFrame:
    """Check ``frame`` against ``book`` (the unit's codebook); return a dtype-normalised copy."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a table (DataFrame), got {type(frame).__name__}", source=source)
    if len(frame) == 0:
        raise DataError(f"the dataset has no rows; a {unit} dataset needs at least one", source=source)
    entries = {row["name"]: row for row in book.to_dict("records")}
    required = [n for n, e in entries.items() if e["required"]]
    missing = [n for n in required if n not in frame.columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
            if close:
                hints.append(f"'{close[0]}' -> '{name}'")
        hint = f" Did you mean to rename {', '.join(hints)}?" if hints else ""
        raise DataError(
            f"a {unit} dataset needs the columns {required}; missing: {missing}.{hint}",
            source=source, where=f"column '{missing[0]}'")
    out = frame.copy()
    out = out.reset_index(drop=True)
    for name, entry in entries.items():
        if name in out.columns:
            out[name] = _coerce(out, entry, source)
    for name in required:
        empty = out[name].isna()
        if empty.any():
            raise DataError(f"required column is empty in {_rows(empty)}; fill it in or drop those rows",
                            source=source, where=f"column '{name}'")
    keys = [n for n, e in entries.items() if e["key"] and n in out.columns]
    if keys:
        dup = out.duplicated(keys, keep=False)
        if dup.any():
            what = " + ".join(keys)
            raise DataError(
                f"duplicate ids: {what} must identify each row, but {_rows(dup)} share a value "
                f"(e.g. {out.loc[dup, keys].iloc[0].tolist()}); drop or renumber the duplicates",
                source=source, where=f"column '{keys[-1]}'")
    for a in ("ccode1", "ccode2"):
        if a in out.columns and known_ccodes:
            codes = out[a]
            unknown = codes.notna() & ~codes.isin(list(known_ccodes))
            if unknown.any():
                vals = sorted(set(codes[unknown].astype("int64").tolist()))[:5]
                raise DataError(
                    f"unknown COW country codes {vals} in {_rows(unknown)}; use Correlates of War state "
                    "codes (e.g. 2 = USA, 200 = UK), not ISO or Gleditsch-Ward codes",
                    source=source, where=f"column '{a}'")
    if {"ccode1", "ccode2"} <= set(out.columns):
        same = out["ccode1"] == out["ccode2"]
        if same.any():
            raise DataError(f"ccode1 equals ccode2 in {_rows(same)}; a dyad needs two different states",
                            source=source, where="column 'ccode2'")
    for first, last in (("start_date", "stop_date"), ("start_date", "end_date")):
        if {first, last} <= set(out.columns):
            before = out[last].notna() & out[first].notna() & (out[last] < out[first])
            if before.any():
                raise DataError(
                    f"'{last}' is before '{first}' (end before start) in {_rows(before)}; "
                    "check for swapped or mistyped dates", source=source, where=f"column '{last}'")
    if "duration" in out.columns:
        nonpos = out["duration"].notna() & (out["duration"] <= 0)
        if nonpos.any():
            raise DataError(
                f"durations must be positive, but are zero or negative in {_rows(nonpos)}; "
                "an arrangement lasting under a day should have a small positive duration",
                source=source, where="column 'duration'")
    if {"start", "stop"} <= set(out.columns):
        nonpos = out["start"].notna() & out["stop"].notna() & (out["stop"] <= out["start"])
        if nonpos.any():
            raise DataError(
                f"spells (start, stop] need stop > start, but stop <= start in {_rows(nonpos)}; "
                "drop zero-length spells or fix the times", source=source, where="column 'stop'")
        negative = out["start"] < 0
        if negative.any():
            raise DataError(f"spell start times must be >= 0 but are negative in {_rows(negative)}",
                            source=source, where="column 'start'")
    for flag in ("ended", "event", "violation", "event_violation", "formal", "informal"):
        if flag in out.columns and entries.get(flag, {}).get("type") == "int":
            bad = out[flag].notna() & ~out[flag].isin([0, 1])
            if bad.any():
                raise DataError(f"must be 0 or 1 but has other values in {_rows(bad)}",
                                source=source, where=f"column '{flag}'")
    return out
