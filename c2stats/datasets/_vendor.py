"""Maintainer script: copy the column subsets the build uses from a raw-data folder into ``sources/``.

Run once when a source is updated::

    python -m c2stats.datasets._vendor /path/to/raw

It is never called by the package at run time or by the tests; the build reads only
the vendored files. Every subset made here is recorded in ``sources/SOURCES.md``.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pandas as pd

from c2stats.datasets.stages import RDMC_NETECH_CLASSES

SOURCES_DIR = Path(__file__).parent / "sources"

ATOP_MEMBER_COLUMNS = [
    "atopid", "member", "phase", "yrent", "moent", "dayent", "yrexit", "moexit", "dayexit",
    "ineffect", "termmode", "termcaus", "defense", "offense", "neutral", "nonagg", "consul",
]
ATOP_PHASE_COLUMNS = [
    "atopid", "atopidphase", "phase", "maxphase", "begyr", "begmo", "begday", "endyr", "endmo",
    "endday", "ineffect", "bilat", "term", "wartime", "estmode", "pubsecr", "speclgth", "length",
    "renounce", "asymm", "conditio", "active", "milcon", "milaid", "intcom", "subord", "organ1",
    "orgpurp1", "organ2", "orgpurp2", "base", "contrib", "armred", "compag", "nomicoop", "ecaid",
]
ATOP_ALLIANCE_COLUMNS = [
    "atopid", "begyr", "begmo", "begday", "endyr", "endmo", "endday", "ineffect", "bilat",
    "maxphase", "term",
]


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as gzip CSV with a fixed header (mtime 0, fixed inner name)."""
    text = frame.to_csv(index=False, lineterminator="\n")
    buffer = io.BytesIO()
    inner = path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name
    with gzip.GzipFile(filename=inner, mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def _read_rda(path: Path) -> pd.DataFrame:
    import pyreadr  # maintainer-only dependency

    result = pyreadr.read_r(str(path))
    return next(iter(result.values()))


def rdmc_extract(path: Path) -> pd.DataFrame:
    """rDMC wide v1: ccode, year and the network-enabling platform classes, counts as integers.

    Rows and their order are the source's; a count rDMC leaves missing stays empty.
    """
    wide = _read_rda(path)
    out = wide[["ccode", "year", *RDMC_NETECH_CLASSES]].copy()
    for col in out.columns:
        values = out[col]
        if not ((values.dropna() % 1) == 0).all():
            raise ValueError(f"rDMC column {col!r} has non-integer counts; review the extract")
        out[col] = values.astype("Int64")
    return out.reset_index(drop=True)


def vendor(raw: Path, dest: Path = SOURCES_DIR) -> list[Path]:
    """Copy the column subsets used by the build from ``raw`` into ``dest``."""
    raw = Path(raw)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(frame: pd.DataFrame, name: str) -> None:
        path = dest / name
        write_csv_gz(frame, path)
        written.append(path)

    atop = raw / "atop_v5_1"
    put(pd.read_csv(atop / "atop5_1a.csv")[ATOP_ALLIANCE_COLUMNS], "atop5_1a.csv.gz")
    put(pd.read_csv(atop / "atop5_1aph.csv")[ATOP_PHASE_COLUMNS], "atop5_1aph.csv.gz")
    put(pd.read_csv(atop / "atop5_1m.csv")[ATOP_MEMBER_COLUMNS], "atop5_1m.csv.gz")
    put(pd.read_csv(atop / "atopinst5_1.csv")[["atopid", "atopidphase", "milinst", "formal"]],
        "atopinst5_1.csv.gz")

    put(pd.read_csv(raw / "dcad_kinne" / "DCAD-v1.0-main.csv"), "DCAD-v1.0-main.csv.gz")

    mme = pd.read_csv(raw / "mme_dorazio" / "mme_v7.csv")
    keep = ["MMEID", "s.year"] + [c for c in mme.columns if c.startswith("State")]
    put(mme[keep], "mme_v7.csv.gz")

    put(pd.read_csv(raw / "cow_misc" / "system2016.csv")[["ccode", "year"]], "system2016.csv.gz")
    midb = pd.read_stata(raw / "cow_misc" / "MIDB_4.3.dta")
    put(midb[["dispnum3", "ccode", "styear", "endyear", "sidea", "hostlev"]], "MIDB_4.3.csv.gz")

    ps = raw / "peacesciencer"
    states = _read_rda(ps / "cow_states.rda")
    put(states[["stateabb", "ccode", "statenme", "styear", "endyear"]], "cow_states.csv.gz")
    put(_read_rda(ps / "cow_majors.rda")[["ccode", "styear", "endyear"]], "cow_majors.csv.gz")
    nmc = _read_rda(ps / "cow_nmc.rda")
    put(nmc[["ccode", "year", "milex", "milper", "cinc"]], "cow_nmc.csv.gz")
    put(_read_rda(ps / "td_rivalries.rda")[["rivalryno", "ccode1", "ccode2", "styear", "endyear"]],
        "td_rivalries.csv.gz")
    put(_read_rda(ps / "cow_capitals.rda")[["ccode", "capital", "stdate", "enddate", "lat", "lng"]],
        "cow_capitals.csv.gz")
    put(_read_rda(ps / "cow_contdir.rda"), "cow_contdir.csv.gz")

    put(pd.read_csv(raw / "alley_misc" / "vdem-poly.csv"), "vdem-poly.csv.gz")

    sipri = _read_rda(raw / "sipri_arms" / "sipri_dyad-year.rds")
    sipri = sipri.loc[sipri["value"] > 0, ["year", "ccode1", "ccode2", "value"]]
    put(sipri.reset_index(drop=True), "sipri_dyad-year.csv.gz")

    put(rdmc_extract(raw / "gannon_dodl" / "rDMC_wide_v1.rds"), "rdmc_v1.csv.gz")
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in vendor(Path(sys.argv[1])):
        print(p, p.stat().st_size)
