"""The coded dataset: formal (ATOP) and informal (DCAD) security arrangements with C2 coding.

Units
-----
arrangements
    One row per dyadic arrangement: ATOP 5.1 alliance member dyads and DCAD 1.0 agreements,
    with timing, censoring, end reasons, provisions, C2 items and indices, covariates at formation.
arrangement_years
    Counting-process spells ``(start, stop]`` per arrangement-year (default window 1980-2010).
agreements
    One row per treaty (ATOP alliance) or DCAD agreement: the unit of the choice of form, with
    covariates aggregated over its founding dyads (dyads created by later accession are joiners).
dyad_years
    Undirected dyad-years of COW system members (default 1980-2010) with status
    none / formal / informal / both and onsets.

The built units ship as package data (``built/``) and are rebuilt byte-identically from the
vendored sources (``sources/``) by :func:`build`. Definitions are in the codebook
(:func:`codebook`) and ``docs/data.md``.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from c2stats._version import __version__
from c2stats.cache import default_cache_dir
from c2stats.datasets.coding import resolve_coding_path
from c2stats.datasets.schema import read_table, validate_frame
from c2stats.datasets.stages import BuildOptions, build_all
from c2stats.errors import DataError
from c2stats.spec.dataset import FOLLOW_UP_LIMITS, WINDOW_LIMITS  # noqa: F401  (WINDOW_LIMITS: for the CLI)

__all__ = ["UNITS", "load_builtin", "codebook", "build", "read_table", "validate", "describe"]

UNITS: tuple[str, ...] = ("arrangements", "arrangement_years", "dyad_years", "agreements")

_HERE = Path(__file__).parent
BUILT_DIR = _HERE / "built"
CODEBOOK_COLUMNS = ("name", "label", "type", "unit", "source", "rule", "required", "key", "levels",
                    "digits")


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise DataError(f"unknown unit {unit!r}; the units are {list(UNITS)}", where="unit")


@lru_cache(maxsize=4)
def _codebook_json(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def codebook(unit: str, built: Path | None = None) -> pd.DataFrame:
    """Codebook of ``unit``: one row per variable (name, label, type, unit, source, rule, ...).

    ``required`` marks the columns a user-supplied dataset must have, ``key`` the row id.
    """
    _check_unit(unit)
    book = _codebook_json(str(Path(built or BUILT_DIR) / "codebook.json"))
    return pd.DataFrame(book["units"][unit], columns=list(CODEBOOK_COLUMNS))


def _restore_dtypes(frame: pd.DataFrame, book: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for entry in book.to_dict("records"):
        col = frame[entry["name"]]
        kind = entry["type"]
        if kind == "int":
            col = col.astype("int64") if not col.isna().any() else col.astype("float64")
        elif kind == "float":
            col = col.astype("float64")
        elif kind == "date":
            col = pd.to_datetime(col, format="%Y-%m-%d")
        elif kind == "category":
            col = pd.Series(pd.Categorical(col, categories=entry["levels"]), index=frame.index)
        else:
            col = col.astype("object").where(col.notna(), None)
        out[entry["name"]] = col
    return pd.DataFrame(out)


def builtin_hash(unit: str, built: Path | None = None) -> str:
    """sha256 of a built unit's file (the data hash recorded in reports)."""
    _check_unit(unit)
    return hashlib.sha256((Path(built or BUILT_DIR) / f"{unit}.csv.gz").read_bytes()).hexdigest()


def load_builtin(unit: str, built: Path | None = None) -> pd.DataFrame:
    """Load a shipped unit (or one built into ``built``) with dtypes from the codebook.

    Integer codes with missing values load as float64 (NaN), dates as datetime64, categories as
    ``Categorical`` with the codebook's levels.
    """
    _check_unit(unit)
    path = Path(built or BUILT_DIR) / f"{unit}.csv.gz"
    book = codebook(unit, built)
    types = {e["name"]: ("string" if e["type"] in ("str", "category", "date") else "float64")
             for e in book.to_dict("records")}
    frame = pd.read_csv(path, dtype=types, keep_default_na=False, na_values=[""])
    return _restore_dtypes(frame, book)


DEFAULT_WINDOW = (1980, 2010)
#: Last year any arrangement is followed, for both forms (the end of DCAD's coverage). A later year
#: follows formal arrangements longer than informal ones (ATOP runs to 2018, DCAD stops in 2010).
DEFAULT_FOLLOW_UP_END = 2010


def variant_folder(coding: Path | None, window: tuple[int, int] | None, directed: bool,
                   cache_dir: Path | None = None, follow_up_end: int | None = None) -> Path:
    """Build (once) the units for another coding, window, direction or follow-up; return their folder.

    The folder is keyed by the coding file's content, the window, the direction, the follow-up end
    and the package version, under ``<cache_dir>/datasets/`` (default ``.c2stats-cache`` in the working directory,
    or ``$C2STATS_CACHE_DIR``). Builds are deterministic, so a cached variant is the same bytes a
    rebuild would give.
    """
    import shutil
    import tempfile


    coding_path = resolve_coding_path(coding)
    win = tuple(window or DEFAULT_WINDOW)
    key = hashlib.sha256(json.dumps(
        {"coding": hashlib.sha256(coding_path.read_bytes()).hexdigest(), "window": list(win),
         "directed": bool(directed), "follow_up_end": int(follow_up_end or DEFAULT_FOLLOW_UP_END),
         "version": __version__}, sort_keys=True).encode()).hexdigest()[:20]
    root = Path(cache_dir or default_cache_dir()) / "datasets"
    folder = root / key
    if (folder / "codebook.json").exists():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        build(tmp, coding=coding_path, window=win, directed=bool(directed), follow_up_end=follow_up_end)
        try:
            tmp.rename(folder)  # atomic; a concurrent builder may have won the race
        except OSError:
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def build(dest: Path | None = None, coding: str | Path | None = None,
          window: tuple[int, int] | None = None, directed: bool = False,
          follow_up_end: int | None = None) -> dict[str, Path]:
    """Rebuild every unit from the vendored sources into ``dest`` (default: the package's ``built/``).

    Parameters
    ----------
    dest
        Output folder; created if missing.
    coding
        A coding file path or the name of a shipped coding (``default``, ``provisions_only``).
    window
        First and last year of ``arrangement_years`` and ``dyad_years`` (default 1980-2010).
    directed
        ``dyad_years`` with both directions of every dyad.
    follow_up_end
        Last calendar year arrangements of either form are followed (default 2010, the end of
        DCAD's coverage): endings after 31 December of it are censored there and arrangements
        beginning later are left out. 2018 follows formal arrangements to the end of ATOP
        (informal ones still stop in 2010). Within ``FOLLOW_UP_LIMITS`` and not before the last
        year of ``window``.

    Returns
    -------
    dict
        Unit name (and ``codebook``) -> written file. With the default coding the files are
        byte-identical to the shipped ones.
    """

    win = tuple(window or DEFAULT_WINDOW)
    follow = int(follow_up_end if follow_up_end is not None else DEFAULT_FOLLOW_UP_END)
    if not FOLLOW_UP_LIMITS[0] <= follow <= FOLLOW_UP_LIMITS[1]:
        raise DataError(f"follow_up_end {follow} is outside {FOLLOW_UP_LIMITS[0]}-{FOLLOW_UP_LIMITS[1]}; "
                        "give a year in that range (2010: both forms to the end of DCAD; 2018: formal to the "
                        "end of ATOP)", where="follow_up_end")
    if win[1] > follow:
        raise DataError(f"window ends in {win[1]} but arrangements are followed only to {follow}, so the panels "
                        f"would show every arrangement as over after {follow}; set follow_up_end to at least "
                        f"{win[1]} (formal arrangements only: DCAD stops in 2010) or end the window by {follow}",
                        where="window")
    paths = build_all(dest=dest, coding=coding,
                      options=BuildOptions(spell_window=win, dyad_window=win, directed=directed,
                                           follow_up_end=follow))
    _codebook_json.cache_clear()
    return paths


@lru_cache(maxsize=1)
def _known_ccodes() -> frozenset[int]:
    """COW state codes, plus ATOP's codes for members outside the COW system (e.g. 8152 Annam)."""
    states = pd.read_csv(_HERE / "sources" / "cow_states.csv.gz")
    members = pd.read_csv(_HERE / "sources" / "atop5_1m.csv.gz", usecols=["member"])
    return frozenset(int(c) for c in pd.concat([states["ccode"], members["member"]]).dropna())


def validate(frame: pd.DataFrame, unit: str, source: str) -> pd.DataFrame:
    """Check a user's dataset against the codebook schema of ``unit``.

    Checks: required columns present, column types (numbers, whole numbers, dates, category
    levels), required values present, unique row ids, known COW country codes, distinct dyad
    members, end not before start, positive durations and spell lengths, 0/1 indicators.

    Returns a dtype-normalised copy; the input is not modified.

    Raises
    ------
    c2stats.errors.DataError
        Naming the column, the offending rows (first few, 1-based, and their count) and the fix.
    """
    _check_unit(unit)
    return validate_frame(frame, unit, source, codebook(unit), set(_known_ccodes()))


def _guess_unit(frame: pd.DataFrame) -> str | None:
    cols = set(frame.columns)
    if "status" in cols and {"ccode1", "ccode2", "year"} <= cols:
        return "dyad_years"
    if {"start", "stop", "event"} <= cols:
        return "arrangement_years"
    if {"start_date", "form"} <= cols and "arrangement_id" not in cols and "n_dyads" in cols:
        return "agreements"
    if {"start_date", "form"} <= cols:
        return "arrangements"
    return None


def _table(counts: pd.DataFrame | pd.Series) -> str:
    return counts.to_string()


def describe(frame: pd.DataFrame, unit: str | None = None) -> str:
    """A text summary: counts by form, by decade, events and censoring."""
    unit = unit or _guess_unit(frame)
    lines = [f"{len(frame):,} rows x {frame.shape[1]} columns" + (f" ({unit})" if unit else "")]
    if unit == "arrangements":
        form = frame["form"].astype(str) if "form" in frame else pd.Series("all", index=frame.index)
        lines.append("\nArrangements by form:")
        lines.append(_table(form.value_counts().sort_index().rename("n")))
        if "start_date" in frame:
            decade = (pd.to_datetime(frame["start_date"]).dt.year // 10 * 10).rename("decade")
            lines.append("\nStarts by decade and form:")
            lines.append(_table(pd.crosstab(decade, form)))
        if "ended" in frame:
            ended = frame["ended"].astype(float)
            lines.append("\nEvents and censoring by form:")
            summary = pd.DataFrame({"n": form.value_counts().sort_index(),
                                    "ended": ended.groupby(form).sum().astype(int),
                                    "censored": (1 - ended).groupby(form).sum().astype(int)})
            if "duration" in frame:
                summary["median_duration"] = frame["duration"].groupby(form).median().round(2)
            lines.append(_table(summary))
        if "end_reason" in frame:
            lines.append("\nEnd reasons:")
            lines.append(_table(pd.crosstab(frame["end_reason"].astype(str), form)))
        if "end_type" in frame:
            lines.append("\nEnd types (competing risks):")
            lines.append(_table(pd.crosstab(frame["end_type"].astype(str), form)))
    elif unit == "agreements":
        form = frame["form"].astype(str)
        lines.append("\nTreaties and agreements by form:")
        summary = pd.DataFrame({"n": form.value_counts().sort_index()})
        for col in ("n_dyads", "n_joiner_dyads"):
            if col in frame:
                summary[col] = frame[col].groupby(form).sum().astype(int)
        lines.append(_table(summary))
        if "start_date" in frame:
            decade = (pd.to_datetime(frame["start_date"]).dt.year // 10 * 10).rename("decade")
            lines.append("\nStarts by decade and form:")
            lines.append(_table(pd.crosstab(decade, form)))
    elif unit == "arrangement_years":
        form = frame["form"].astype(str) if "form" in frame else pd.Series("all", index=frame.index)
        ids = frame["arrangement_id"] if "arrangement_id" in frame else pd.Series(np.arange(len(frame)))
        summary = pd.DataFrame({
            "spells": form.value_counts().sort_index(),
            "arrangements": ids.groupby(form).nunique(),
            "events": frame["event"].groupby(form).sum().astype(int),
        })
        if "event_violation" in frame:
            summary["violations"] = frame["event_violation"].groupby(form).sum().astype(int)
        for col, name in (("event_failure", "failures"), ("event_transformation", "transformations")):
            if col in frame:
                summary[name] = frame[col].groupby(form).sum().astype(int)
        if "source_id" in frame:
            summary["treaties"] = frame["source_id"].groupby(form).nunique()
        if "left_truncated" in frame:
            summary["left_truncated"] = ids[frame["left_truncated"] == 1].groupby(form).nunique()
        lines.append("\nSpells, arrangements and events by form:")
        lines.append(_table(summary.fillna(0).astype(int)))
        if "year" in frame:
            decade = (frame["year"] // 10 * 10).rename("decade")
            lines.append("\nSpells by decade and form:")
            lines.append(_table(pd.crosstab(decade, form)))
        censored = ids.nunique() - int(frame["event"].sum())
        lines.append(f"\nCensored arrangements (no event in window): {censored:,}")
    elif unit == "dyad_years":
        lines.append(f"\n{frame[['ccode1', 'ccode2']].drop_duplicates().shape[0]:,} dyads, years "
                     f"{int(frame['year'].min())}-{int(frame['year'].max())}")
        lines.append("\nDyad-years by status:")
        lines.append(_table(frame["status"].astype(str).value_counts().rename("n")))
        decade = (frame["year"] // 10 * 10).rename("decade")
        lines.append("\nStatus by decade:")
        lines.append(_table(pd.crosstab(decade, frame["status"].astype(str))))
        onsets = [c for c in ("onset_formal", "onset_informal", "termination_formal",
                              "termination_informal") if c in frame]
        if onsets:
            lines.append("\nOnsets and terminations:")
            lines.append(_table(frame[onsets].sum().astype(int).rename("n")))
    else:
        lines.append("\nColumns: " + ", ".join(map(str, frame.columns)))
        lines.append("(unit not recognised: pass unit='arrangements', 'arrangement_years', 'dyad_years' or "
                     "'agreements')")
    return "\n".join(lines) + "\n"
