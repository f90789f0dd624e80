"""Build the coded dataset from the vendored sources, one pure function per stage.

Stages (each takes frames and returns a new frame)::

    read_sources -> atop_dyads, dcad_agreements -> arrangements_frame (follow-up, end types, joiners)
    state_year_panel, dyad_year_tables -> dyad_covariates
    arrangements (+ behaviour window, covariates at formation, C2 coding)
    arrangement_years (counting-process spells)   dyad_years (status panel)
    agreements (one row per treaty or DCA, founding dyads aggregated)

``build_all`` orchestrates them and ``write_unit`` writes deterministic gzip CSV.
Definitions and censoring rules are documented in ``docs/data.md`` and in the codebook.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from c2stats.datasets.coding import Coding, apply_coding, codebook_entries, load_coding

HERE = Path(__file__).parent
SOURCES_DIR = HERE / "sources"
BUILT_DIR = HERE / "built"
CODEBOOK_FILE = HERE / "codebook.toml"

ATOP_DATA_END = pd.Timestamp("2018-12-31")
DCAD_DATA_END = pd.Timestamp("2010-12-31")
COLD_WAR_END = pd.Timestamp("1991-12-26")
DAYS_PER_YEAR = 365.25

COVERAGE = {
    "mid": (1816, 2010),        # COW MID 4.3
    "rivalry": (1816, 2010),    # Thompson-Dreyer strategic rivalries
    "mme": (1980, 2010),        # MME v7
    "sipri": (1970, 2014),      # SIPRI dyad-year TIV
    "contiguity": (1816, 2016), # COW direct contiguity 3.2
    "rdmc": (1970, 2014),       # rDMC platform inventories
}

SOURCE_FILES = {
    "atop_a": "atop5_1a.csv.gz",
    "atop_aph": "atop5_1aph.csv.gz",
    "atop_m": "atop5_1m.csv.gz",
    "atop_inst": "atopinst5_1.csv.gz",
    "dcad": "DCAD-v1.0-main.csv.gz",
    "mme": "mme_v7.csv.gz",
    "system": "system2016.csv.gz",
    "midb": "MIDB_4.3.csv.gz",
    "states": "cow_states.csv.gz",
    "majors": "cow_majors.csv.gz",
    "nmc": "cow_nmc.csv.gz",
    "rivalries": "td_rivalries.csv.gz",
    "capitals": "cow_capitals.csv.gz",
    "contdir": "cow_contdir.csv.gz",
    "vdem": "vdem-poly.csv.gz",
    "sipri": "sipri_dyad-year.csv.gz",
    "rdmc": "rdmc_v1.csv.gz",
}

# rDMC v1 platform classes ("<category>_<type>") that sense, relay or contest information for a
# military network: airborne early warning, electronic warfare and ISR aircraft, EW helicopters,
# reconnaissance and combat UAVs, early-warning, ISR and communications radars, intelligence ships.
# Rationale and exclusions in docs/data.md.
RDMC_NETECH_CLASSES = (
    "aircraft_aew", "aircraft_ew", "aircraft_recon-surveil", "helicopters_ew",
    "unmanned aerial vehicles_recon-surveil", "unmanned aerial vehicles_combat",
    "radars_air defense/early warning", "radars_ISR/battlefield surveil", "radars_communications",
    "logistics and support_surveillance and intelligence",
)
RDMC_UAV_CLASSES = ("unmanned aerial vehicles_recon-surveil", "unmanned aerial vehicles_combat")

ATOP_PROVISIONS = ("milcon", "milaid", "intcom", "subord", "base", "contrib", "armred",
                   "organ1", "orgpurp1", "organ2", "orgpurp2", "organ_military", "la_milinst",
                   "la_formal", "estmode", "pubsecr", "speclgth", "renounce", "conditio", "active",
                   "compag", "nomicoop", "ecaid", "wartime")
OBLIGATIONS = ("defense", "offense", "neutral", "nonagg", "consul")
DCAD_CATEGORIES = ("DCA", "DIC", "TREX", "PROCUREMENT", "COMMISSION", "RESEARCH")

# DCAD rows whose ccode contradicts the row's own COW abbreviation (cowName1/2): corrected.
DCAD_CORRECTIONS = {
    ("DCADv1.0-0108", "ccode2"): (652, 651, "cowName2 is EGY (651); 652 is Syria"),
    ("DCADv1.0-0297", "ccode2"): (145, 101, "cowName2 is VEN (101); 145 is Bolivia, the other party"),
}
# DCAD rows naming the same state twice: the partner is unknown, so no dyad can be formed.
DCAD_EXCLUSIONS = {
    "DCADv1.0-1625": "ccode1 = ccode2 = 541 (Mozambique); partner unknown",
    "DCADv1.0-1847": "ccode1 = ccode2 = 750 (India); partner unknown",
}

# MME participant names that differ from COW state names; (name, first year, last year) -> ccode.
MME_NAMES = {
    "United States": [(None, None, 2)],
    "Bosnia & Herzegovina": [(None, None, 346)],
    "Congo - Brazzaville": [(None, None, 484)],
    "Congo - Kinshasa": [(None, None, 490)],
    "Czechia": [(None, 1992, 315), (1993, None, 316)],
    "Côte d’Ivoire": [(None, None, 437)],
    "Eswatini": [(None, None, 572)],
    "Federal Republic of Germany": [(None, 1990, 260), (1991, None, 255)],
    "Germany": [(None, 1990, 260), (1991, None, 255)],
    "Myanmar (Burma)": [(None, None, 775)],
    "North Macedonia": [(None, None, 343)],
    "Serbia": [(None, None, 345)],
    "St. Kitts & Nevis": [(None, None, 60)],
    "st. christopher": [(None, None, 60)],
    "St. Vincent & Grenadines": [(None, None, 57)],
    "São Tomé & Príncipe": [(None, None, 403)],
    "Timor-Leste": [(None, None, 860)],
    "Trinidad & Tobago": [(None, None, 52)],
}
# Not states in the COW system: dropped from exercise dyads.
MME_NON_STATES = ("-9", "Baltic States", "Bermuda", "Hong Kong SAR China", "NATO",
                  "Netherlands Antilles", "New Caledonia")


@dataclass(frozen=True)
class BuildOptions:
    """Windows of the panel units (inclusive calendar years)."""

    spell_window: tuple[int, int] = (1980, 2010)
    dyad_window: tuple[int, int] = (1980, 2010)
    directed: bool = False  #: dyad_years: one row per ordered pair (both directions) instead of ccode1 < ccode2
    #: last calendar year any arrangement is followed (both forms); DCAD's coverage ends in 2010
    follow_up_end: int = 2010


def direct_dyads(dy: pd.DataFrame) -> pd.DataFrame:
    """Directed dyad-years: each undirected row twice, as (a, b) and (b, a).

    Every shipped dyad-year covariate is symmetric (joint, minimum, maximum or ratio of the larger
    to the smaller), so the mirrored row only swaps ``ccode1`` and ``ccode2``; it is what users
    need to merge monadic covariates of the first state.
    """
    mirror = dy.assign(ccode1=dy["ccode2"], ccode2=dy["ccode1"])
    return pd.concat([dy, mirror], ignore_index=True).sort_values(
        ["ccode1", "ccode2", "year"], kind="mergesort").reset_index(drop=True)


# ------------------------------------------------------------------ io

def read_sources(src: Path = SOURCES_DIR) -> dict[str, pd.DataFrame]:
    """Read every vendored source file into a frame keyed as in ``SOURCE_FILES``."""
    return {key: pd.read_csv(Path(src) / name, low_memory=False) for key, name in SOURCE_FILES.items()}


def column_text(col: pd.Series, kind: str | None = None) -> np.ndarray:
    """CSV text of one column: integers plain, floats '%.6g' (or shortest repr once rounded),
    missing values empty. Deterministic across platforms."""
    values = col.to_numpy(dtype=object) if col.dtype == object else col
    if kind == "int" or (kind is None and pd.api.types.is_integer_dtype(col)):
        mask = col.isna().to_numpy()
        text = col.fillna(0).astype("int64").to_numpy().astype(str).astype(object)
    elif kind in ("float", "float_rounded") or (kind is None and pd.api.types.is_float_dtype(col)):
        mask = col.isna().to_numpy()
        arr = col.fillna(0.0).to_numpy(dtype="float64")
        if kind == "float_rounded":
            text = arr.astype(str).astype(object)
        else:
            text = np.char.mod("%.6g", arr).astype(object)
    else:
        mask = pd.isna(values)
        text = np.asarray(values, dtype=object).copy()
        text = np.array([str(v) for v in text], dtype=object) if len(text) else text
    text[mask] = ""
    return text


def csv_bytes(frame: pd.DataFrame, name: str, kinds: dict[str, str] | None = None) -> bytes:
    """Deterministic gzip CSV: fixed inner file name, mtime 0, fixed number formats, LF ends."""
    kinds = kinds or {}
    text_frame = pd.DataFrame({c: column_text(frame[c], kinds.get(c)) for c in frame.columns})
    text = text_frame.to_csv(index=False, lineterminator="\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()


def write_unit(frame: pd.DataFrame, path: Path, kinds: dict[str, str] | None = None) -> Path:
    """Write ``frame`` to ``path`` (``<unit>.csv.gz``) deterministically."""
    inner = path.name[: -len(".gz")]
    path.write_bytes(csv_bytes(frame, inner, kinds))
    return path


# ------------------------------------------------------------------ helpers

def make_date(year: pd.Series, month: pd.Series | None = None, day: pd.Series | None = None
              ) -> tuple[pd.Series, pd.Series]:
    """Dates from year/month/day columns; a missing month becomes 7 and a missing day 15.

    Returns the dates and a 0/1 flag of rows where month or day was imputed.
    """
    y = pd.to_numeric(year, errors="coerce")
    m = pd.to_numeric(month, errors="coerce") if month is not None else pd.Series(np.nan, index=y.index)
    d = pd.to_numeric(day, errors="coerce") if day is not None else pd.Series(np.nan, index=y.index)
    m = m.where((m >= 1) & (m <= 12))
    d = d.where((d >= 1) & (d <= 31))
    imputed = (m.isna() | d.isna()).astype("int64")
    d = d.where(m.notna())  # a day without a month is meaningless
    m = m.fillna(7)
    d = d.fillna(15)
    frame = pd.DataFrame({"year": y, "month": m, "day": d})
    dates = pd.to_datetime(frame, errors="coerce")
    bad = dates.isna() & y.notna()
    if bad.any():  # e.g. 31 June: fall back to the last day of the month
        first = pd.to_datetime(pd.DataFrame({"year": y[bad], "month": m[bad], "day": 1}))
        dates[bad] = first + pd.offsets.MonthEnd(0)
        imputed[bad] = 1
    return dates, imputed


def years_between(start: pd.Series, stop: pd.Series) -> pd.Series:
    """Elapsed time in years of 365.25 days."""
    return (stop - start).dt.days / DAYS_PER_YEAR


def ordered_pair(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (min, max) of two code columns, as int64."""
    a = a.astype("int64")
    b = b.astype("int64")
    return np.minimum(a, b), np.maximum(a, b)


def _iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("object").where(dates.notna(), None)


# ------------------------------------------------------------------ formal: ATOP member dyads

def atop_phase_provisions(aph: pd.DataFrame, inst: pd.DataFrame) -> pd.DataFrame:
    """ATOP provisions per (atopid, phase) with ``organ_military`` and Leeds-Anac measures."""
    out = aph.copy()
    inst = inst.copy()
    inst["phase"] = ((inst["atopidphase"] - inst["atopid"]) * 10).round().astype("int64")
    # single-phase alliances are phase 0 in the member file but .0 in atopidphase too
    out = out.merge(inst[["atopid", "phase", "milinst", "formal"]]
                    .rename(columns={"milinst": "la_milinst", "formal": "la_formal"}),
                    on=["atopid", "phase"], how="left", validate="one_to_one")
    military = {1.0, 4.0}
    o1 = out["organ1"].where(out["orgpurp1"].isin(military), 0.0)
    o2 = out["organ2"].where(out["orgpurp2"].isin(military), 0.0)
    org = np.fmax(o1.fillna(0.0), o2.fillna(0.0))
    out["organ_military"] = org.where(out["organ1"].notna())
    return out


def atop_dyad_spells(members: pd.DataFrame, coding: Coding) -> pd.DataFrame:
    """Member dyads of each alliance phase with overlapping membership and exit reason."""
    m = members.copy()
    m["entry"], m["entry_imputed"] = make_date(m["yrent"], m["moent"], m["dayent"])
    exit_date, exit_imputed = make_date(m["yrexit"], m["moexit"], m["dayexit"])
    in_effect = m["ineffect"].eq(1)
    m["exit"] = exit_date.where(~in_effect, ATOP_DATA_END)
    m["exit_imputed"] = exit_imputed.where(~in_effect, 0)
    termmode = coding.end_reasons["atop_termmode"]
    reason = m["termmode"].map(termmode)
    # exited members whose TERMMODE says "in effect" (two rows of atopid 4865): reason unknown
    reason = reason.where(~(reason.eq(termmode[0]) & ~in_effect), "unknown")
    m["reason"] = reason.where(~in_effect, termmode[0])
    keep = ["atopid", "phase", "member", "entry", "exit", "entry_imputed", "exit_imputed",
            "reason", "termmode", "termcaus", *OBLIGATIONS]
    pairs = m[keep].merge(m[keep], on=["atopid", "phase"], suffixes=("_x", "_y"))
    pairs = pairs[pairs["member_x"] < pairs["member_y"]].copy()
    pairs["start"] = np.maximum(pairs["entry_x"], pairs["entry_y"])
    pairs["stop"] = np.minimum(pairs["exit_x"], pairs["exit_y"])
    pairs = pairs[pairs["start"] <= pairs["stop"]].copy()
    rank = {r: k for k, r in enumerate((*coding.end_reasons["priority"], "unknown"))}
    x_exits = pairs["exit_x"].eq(pairs["stop"])
    y_exits = pairs["exit_y"].eq(pairs["stop"])
    rx = pairs["reason_x"].map(rank).where(x_exits, np.inf)
    ry = pairs["reason_y"].map(rank).where(y_exits, np.inf)
    use_x = rx <= ry
    pairs["reason"] = pairs["reason_x"].where(use_x, pairs["reason_y"])
    pairs["termmode"] = pairs["termmode_x"].where(use_x, pairs["termmode_y"])
    pairs["termcaus"] = pairs["termcaus_x"].where(use_x, pairs["termcaus_y"])
    pairs["start_imputed"] = np.where(pairs["entry_x"] >= pairs["entry_y"],
                                      pairs["entry_imputed_x"], pairs["entry_imputed_y"])
    pairs["stop_imputed"] = pairs["exit_imputed_x"].where(use_x, pairs["exit_imputed_y"])
    for ob in OBLIGATIONS:
        pairs[ob] = np.fmax(pairs[f"{ob}_x"], pairs[f"{ob}_y"])
    pairs["asymmetric_obligations"] = np.zeros(len(pairs), dtype="int64")
    for ob in OBLIGATIONS:
        pairs["asymmetric_obligations"] |= (pairs[f"{ob}_x"] != pairs[f"{ob}_y"]).astype("int64")
    pairs = pairs.rename(columns={"member_x": "ccode1", "member_y": "ccode2"})
    # members in the alliance phase on the spell's start date
    counts = m[["atopid", "phase", "entry", "exit"]].merge(
        pairs[["atopid", "phase", "start"]].drop_duplicates(), on=["atopid", "phase"])
    counts = counts[(counts["entry"] <= counts["start"]) & (counts["exit"] >= counts["start"])]
    counts = counts.groupby(["atopid", "phase", "start"]).size().rename("n_members").reset_index()
    pairs = pairs.merge(counts, on=["atopid", "phase", "start"], how="left")
    cols = ["atopid", "phase", "ccode1", "ccode2", "start", "stop", "start_imputed", "stop_imputed",
            "reason", "termmode", "termcaus", "n_members", *OBLIGATIONS, "asymmetric_obligations"]
    return pairs[cols].sort_values(["atopid", "ccode1", "ccode2", "start", "phase"]).reset_index(drop=True)


def atop_dyads(src: dict[str, pd.DataFrame], coding: Coding) -> pd.DataFrame:
    """One row per (ATOP alliance, member dyad): the formal arrangements."""
    spells = atop_dyad_spells(src["atop_m"], coding)
    prov = atop_phase_provisions(src["atop_aph"], src["atop_inst"])
    key = ["atopid", "ccode1", "ccode2"]
    g = spells.groupby(key, sort=True)
    first = g.head(1).set_index(key)
    last = spells.sort_values([*key, "stop", "phase"]).groupby(key).tail(1).set_index(key)
    gap = (spells["start"] - g["stop"].shift()).dt.days.clip(lower=0).fillna(0)
    out = pd.DataFrame(index=first.index)
    out["start_date"] = first["start"]
    out["start_date_imputed"] = first["start_imputed"]
    out["stop_date"] = last["stop"]
    out["stop_date_imputed"] = last["stop_imputed"]
    out["end_reason"] = last["reason"]
    out["atop_termmode"] = last["termmode"]
    out["atop_termcaus"] = last["termcaus"]
    out["n_members"] = first["n_members"]
    out["atop_phase"] = first["phase"]
    out["n_phases"] = g["phase"].nunique()
    out["interrupted"] = (gap.groupby([spells[k] for k in key]).sum() > 1).astype("int64")
    for ob in (*OBLIGATIONS, "asymmetric_obligations"):
        out[ob] = g[ob].max()
    out = out.reset_index()
    phase_cols = ["atopid", "phase", "bilat", *ATOP_PROVISIONS]
    if coding.options["atop_provisions"] == "formation":
        out = out.merge(prov[phase_cols].rename(columns={"phase": "atop_phase"}),
                        on=["atopid", "atop_phase"], how="left", validate="many_to_one")
    else:
        dyad_phases = spells[[*key, "phase"]].drop_duplicates().merge(prov[phase_cols],
                                                                        on=["atopid", "phase"])
        ever = dyad_phases.groupby(key)[["bilat", *ATOP_PROVISIONS]].max().reset_index()
        out = out.merge(ever, on=key, how="left", validate="one_to_one")
    out = out.merge(src["atop_a"][["atopid", "term"]].rename(columns={"term": "atop_term"}),
                    on="atopid", how="left", validate="many_to_one")
    out["form"] = "formal"
    out["source"] = "ATOP 5.1"
    out["source_id"] = out["atopid"].astype("int64").astype(str)
    out["arrangement_id"] = ("ATOP" + out["source_id"] + "-" + out["ccode1"].astype(str) + "-"
                             + out["ccode2"].astype(str))
    out["data_end"] = ATOP_DATA_END
    out["bilateral"] = out.pop("bilat")
    return out


# ------------------------------------------------------------------ informal: DCAD

def dcad_agreements(src: dict[str, pd.DataFrame], coding: Coding) -> pd.DataFrame:
    """One row per DCAD agreement: the informal arrangements."""
    d = src["dcad"].copy()
    for (dca, col), (old, new, _why) in DCAD_CORRECTIONS.items():
        row = d["DCAid"].eq(dca)
        if not (row.sum() == 1 and d.loc[row, col].iloc[0] == old):
            raise ValueError(f"DCAD correction for {dca} no longer matches the source; review it")
        d.loc[row, col] = new
    d = d[~d["DCAid"].isin(list(DCAD_EXCLUSIONS))].reset_index(drop=True)
    out = pd.DataFrame(index=d.index)
    out["ccode1"], out["ccode2"] = ordered_pair(d["ccode1"], d["ccode2"])
    out["start_date"], out["start_date_imputed"] = make_date(d["signYear"], d["signMonth"], d["signDay"])
    eif, _ = make_date(d["EIFYear"], d["EIFMonth"], d["EIFDay"])
    out["eif_date"] = eif
    terminated = d["terminated"]
    est_end = pd.to_datetime(pd.DataFrame({"year": d["endYearEstimate"], "month": 12, "day": 31}))
    # DCAD's endYearEstimate stops at 2010 even when the agreement ended later; the end year of a
    # terminated agreement is signYear + durationActual, dated on the signature's anniversary.
    duration_actual = pd.to_numeric(d["durationActual"], errors="coerce")
    ended_in_source = terminated.eq(1) & duration_actual.notna()
    anniversary = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns]")
    anniversary[ended_in_source] = [
        start + pd.DateOffset(years=int(k)) for start, k in
        zip(out.loc[ended_in_source, "start_date"], duration_actual[ended_in_source])]
    anniversary = np.maximum(anniversary, out["start_date"] + pd.Timedelta(days=1))
    observed_end = ended_in_source & anniversary.le(DCAD_DATA_END)
    rule = coding.options["dcad_unknown_status"]
    unknown = terminated.isin([-88, -99])
    stop = pd.Series(DCAD_DATA_END, index=d.index)
    reason = pd.Series("in_effect", index=d.index, dtype="object")
    stop_imputed = pd.Series(0, index=d.index, dtype="int64")
    stop[observed_end] = anniversary[observed_end]
    reason[observed_end] = "unknown"
    stop_imputed[observed_end] = 1
    # terminated after DCAD's coverage, or terminated without a duration: in force at 2010-12-31
    reason[terminated.eq(1) & ~observed_end] = "in_effect"
    reason[unknown] = "status_unknown"
    if rule in ("kinne_censor", "kinne_event"):
        stop[unknown] = np.maximum(est_end[unknown], out.loc[unknown, "start_date"] + pd.Timedelta(days=1))
        stop_imputed[unknown] = 1
        if rule == "kinne_event":
            before = unknown & d["endYearEstimate"].lt(DCAD_DATA_END.year)
            reason[before] = "expired_estimated"
    out["stop_date"] = stop
    out["stop_date_imputed"] = stop_imputed
    out["end_reason"] = reason
    out["dcad_terminated"] = terminated
    out["dcad_end_year_estimate"] = d["endYearEstimate"]
    out["dcad_duration_actual"] = duration_actual
    out["dcad_general"] = d["type"].eq("general").astype("int64")
    cats = d[["category1", "category2", "category3"]]
    for cat in DCAD_CATEGORIES:
        out[f"dcad_{cat.lower()}"] = cats.eq(cat).any(axis=1).astype("int64")
    out["dcad_asymmetry"] = d["asymmetry"]
    out["n_members"] = 2
    out["bilateral"] = 1
    out["form"] = "informal"
    out["source"] = "DCAD 1.0"
    out["source_id"] = d["DCAid"]
    out["arrangement_id"] = d["DCAid"]
    out["data_end"] = DCAD_DATA_END
    return out


# ------------------------------------------------------------------ covariates

def _expand_years(frame: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    """One row per year from ``frame[first]`` to ``frame[last]`` (inclusive)."""
    n = (frame[last] - frame[first] + 1).clip(lower=0).astype("int64")
    rep = frame.loc[frame.index.repeat(n)].copy()
    rep["year"] = rep[first].astype("int64") + rep.groupby(level=0).cumcount()
    return rep.reset_index(drop=True)


def rdmc_counts(rdmc: pd.DataFrame) -> pd.DataFrame:
    """rDMC class counts with missing (uncounted) entries carried forward in each state's series.

    A missing count takes the same ccode's last counted value in that class (an inventory is
    taken as unchanged until it is counted again); before a state's first count in a class it is
    0, so totals are lower bounds there. Columns ``RDMC_NETECH_CLASSES``, rows as ``rdmc``.
    """
    frame = rdmc.sort_values(["ccode", "year"], kind="mergesort")
    out = {col: frame[col].astype("float64").groupby(frame["ccode"]).ffill().fillna(0.0)
           for col in RDMC_NETECH_CLASSES}
    return pd.DataFrame(out).reindex(rdmc.index)


def rdmc_netech(rdmc: pd.DataFrame) -> pd.DataFrame:
    """Network-enabling platforms per state-year from rDMC: ``netech`` and ``uav``.

    ``netech = log(1 + n)`` with ``n`` the platforms in ``RDMC_NETECH_CLASSES`` (counts filled by
    :func:`rdmc_counts`); ``uav`` is 1 if ``n`` includes a reconnaissance or combat UAV. One row
    per rDMC country-year in 1970-2014.
    """
    counts = rdmc_counts(rdmc)
    out = rdmc[["ccode", "year"]].astype("int64").copy()
    out["netech"] = np.log1p(counts.sum(axis=1))
    out["uav"] = (counts[list(RDMC_UAV_CLASSES)].sum(axis=1) > 0).astype("float64")
    out = out[out["year"].between(*COVERAGE["rdmc"])]
    if out.duplicated(["ccode", "year"]).any():
        raise ValueError("rDMC has more than one row for a ccode-year; review the extract")
    return out.reset_index(drop=True)


def state_year_panel(src: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """State-year covariates (COW codes, 1816-2018): capabilities, majors, democracy, MIDs,
    network-enabling platforms (rDMC)."""
    codes = sorted(set(src["states"]["ccode"].astype("int64")) | set(src["system"]["ccode"]))
    grid = pd.MultiIndex.from_product([codes, range(1816, 2019)], names=["ccode", "year"])
    panel = pd.DataFrame(index=grid).reset_index()
    nmc = src["nmc"].dropna(subset=["ccode", "year"]).astype({"ccode": "int64", "year": "int64"})
    nmc = nmc.drop_duplicates(["ccode", "year"])
    nmc["milex"] = nmc["milex"].where(nmc["milex"] >= 0)
    nmc["milper"] = nmc["milper"].where(nmc["milper"] >= 0)
    nmc["cinc"] = nmc["cinc"].where(nmc["cinc"] >= 0)
    nmc["mps"] = (nmc["milex"] / nmc["milper"]).where(nmc["milper"] > 0)
    logm = np.log(nmc["mps"].where(nmc["mps"] > 0))
    nmc["log_mps_rel"] = logm - logm.groupby(nmc["year"]).transform("mean")
    panel = panel.merge(nmc[["ccode", "year", "cinc", "mps", "log_mps_rel"]], on=["ccode", "year"],
                        how="left")
    majors = _expand_years(src["majors"].astype("int64"), "styear", "endyear")[["ccode", "year"]]
    majors["major"] = 1
    panel = panel.merge(majors.drop_duplicates(), on=["ccode", "year"], how="left")
    panel["major"] = panel["major"].fillna(0).astype("int64")
    vdem = src["vdem"].dropna(subset=["COWcode"]).rename(columns={"COWcode": "ccode",
                                                                   "v2x_polyarchy": "polyarchy"})
    vdem = vdem.astype({"ccode": "int64"}).groupby(["ccode", "year"], as_index=False)["polyarchy"].mean()
    panel = panel.merge(vdem, on=["ccode", "year"], how="left")
    mids = src["midb"].drop_duplicates(["dispnum3", "ccode"])
    onsets = mids.groupby(["ccode", "styear"]).size().rename("n").reset_index()
    onsets["first"], onsets["last"] = onsets["styear"] + 1, onsets["styear"] + 5
    lagged = _expand_years(onsets, "first", "last").groupby(["ccode", "year"])["n"].sum()
    panel = panel.merge(lagged.rename("mids_prior5").reset_index(), on=["ccode", "year"], how="left")
    covered = panel["year"].between(COVERAGE["mid"][0] + 5, COVERAGE["mid"][1] + 1)
    panel["mids_prior5"] = panel["mids_prior5"].fillna(0).where(covered)
    riv = src["rivalries"].dropna(subset=["ccode1", "ccode2", "styear", "endyear"])
    riv = riv.assign(styear=riv["styear"].clip(lower=1816))
    riv = _expand_years(riv[riv["endyear"] >= 1816], "styear", "endyear")
    in_riv = pd.concat([riv[["ccode1", "year"]].rename(columns={"ccode1": "ccode"}),
                        riv[["ccode2", "year"]].rename(columns={"ccode2": "ccode"})])
    in_riv = in_riv.astype("int64").drop_duplicates().assign(rival_state=1)
    panel = panel.merge(in_riv, on=["ccode", "year"], how="left")
    covered = panel["year"].between(*COVERAGE["rivalry"])
    panel["rival_state"] = panel["rival_state"].fillna(0).where(covered)
    caps = src["capitals"].copy()
    caps["first"] = pd.to_datetime(caps["stdate"]).dt.year
    caps["last"] = pd.to_datetime(caps["enddate"]).dt.year
    caps = _expand_years(caps, "first", "last").sort_values(["ccode", "year", "first"])
    caps = caps.drop_duplicates(["ccode", "year"], keep="last").astype({"ccode": "int64"})
    panel = panel.merge(caps[["ccode", "year", "lat", "lng"]], on=["ccode", "year"], how="left")
    panel = panel.merge(rdmc_netech(src["rdmc"]), on=["ccode", "year"], how="left")
    return panel


def dyad_year_tables(src: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Dyad-year event tables keyed (ccode1 < ccode2, year)."""
    out = {}
    # MIDs between the two states (opposite sides), counted over the prior five years
    midb = src["midb"].drop_duplicates(["dispnum3", "ccode"])
    pairs = midb.merge(midb, on="dispnum3")
    pairs = pairs[(pairs["ccode_x"] < pairs["ccode_y"]) & (pairs["sidea_x"] != pairs["sidea_y"])]
    pairs = pairs.assign(ccode1=pairs["ccode_x"], ccode2=pairs["ccode_y"], styear=pairs["styear_x"])
    onsets = pairs.groupby(["ccode1", "ccode2", "styear"]).size().rename("n").reset_index()
    onsets["first"], onsets["last"] = onsets["styear"] + 1, onsets["styear"] + 5
    out["dyad_mids_prior5"] = (_expand_years(onsets, "first", "last")
                               .groupby(["ccode1", "ccode2", "year"])["n"].sum().rename("dyad_mids_prior5"))
    # strategic rivalry between the two states
    riv = src["rivalries"].dropna(subset=["ccode1", "ccode2", "styear", "endyear"]).copy()
    riv["ccode1"], riv["ccode2"] = ordered_pair(riv["ccode1"], riv["ccode2"])
    riv = riv.assign(styear=riv["styear"].clip(lower=1816))
    riv = _expand_years(riv[riv["endyear"] >= 1816], "styear", "endyear")
    out["rivalry"] = riv.groupby(["ccode1", "ccode2", "year"]).size().clip(upper=1).rename("rivalry")
    # direct contiguity: smallest contiguity type in force during the year
    con = src["contdir"].copy()
    con["ccode1"], con["ccode2"] = ordered_pair(con["ccode1"], con["ccode2"])
    con["first"] = pd.to_datetime(con["stdate"]).dt.year
    con["last"] = pd.to_datetime(con["enddate"]).dt.year
    con = _expand_years(con, "first", "last")
    out["contig_type"] = con.groupby(["ccode1", "ccode2", "year"])["conttype"].min().rename("contig_type")
    # SIPRI arms transfers, both directions
    sip = src["sipri"].dropna(subset=["ccode1", "ccode2"]).copy()
    sip["ccode1"], sip["ccode2"] = ordered_pair(sip["ccode1"], sip["ccode2"])
    sip = sip[sip["ccode1"] != sip["ccode2"]].astype({"year": "int64"})
    out["sipri_tiv"] = sip.groupby(["ccode1", "ccode2", "year"])["value"].sum().rename("sipri_tiv")
    # MME joint exercises
    out["mme_exercises"] = mme_dyad_years(src["mme"], src["states"])
    return out


def mme_participants(mme: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """(MMEID, year, ccode) for every MME participant that is a COW state."""
    cols = [c for c in mme.columns if c.startswith("State")]
    long = mme.melt(id_vars=["MMEID", "s.year"], value_vars=cols, value_name="name").dropna(subset=["name"])
    long["name"] = long["name"].astype(str).str.strip()
    long = long[~long["name"].isin(MME_NON_STATES)].rename(columns={"s.year": "year"})
    cow = dict(zip(states["statenme"], states["ccode"].astype("int64")))
    codes = long["name"].map(cow)
    for name, spans in MME_NAMES.items():
        rows = long["name"].eq(name)
        for first, last, code in spans:
            sel = rows & long["year"].ge(first if first is not None else -9999) \
                & long["year"].le(last if last is not None else 9999)
            codes[sel] = code
    unmatched = sorted(long.loc[codes.isna(), "name"].unique())
    if unmatched:
        raise ValueError(f"MME participant names without a COW code: {unmatched}; add them to MME_NAMES")
    long["ccode"] = codes.astype("int64")
    return long[["MMEID", "year", "ccode"]].drop_duplicates()


def mme_dyad_years(mme: pd.DataFrame, states: pd.DataFrame) -> pd.Series:
    """Number of MME exercises held together, per undirected dyad-year."""
    part = mme_participants(mme, states)
    pairs = part.merge(part, on=["MMEID", "year"])
    pairs = pairs[pairs["ccode_x"] < pairs["ccode_y"]]
    pairs = pairs.rename(columns={"ccode_x": "ccode1", "ccode_y": "ccode2"})
    return pairs.groupby(["ccode1", "ccode2", "year"]).size().rename("mme_exercises")


def _haversine_km(lat1, lng1, lat2, lng2):
    lat1, lng1, lat2, lng2 = (np.radians(v) for v in (lat1, lng1, lat2, lng2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def dyad_covariates(keys: pd.DataFrame, panel: pd.DataFrame, tables: dict[str, pd.DataFrame]
                    ) -> pd.DataFrame:
    """Covariates for rows of ``keys`` (columns ccode1 < ccode2, year); same row order."""
    k = keys[["ccode1", "ccode2", "year"]].astype("int64").reset_index(drop=True)
    sy = panel.set_index(["ccode", "year"])
    a = sy.reindex(pd.MultiIndex.from_arrays([k["ccode1"], k["year"]])).reset_index(drop=True)
    b = sy.reindex(pd.MultiIndex.from_arrays([k["ccode2"], k["year"]])).reset_index(drop=True)
    a0 = sy.reindex(pd.MultiIndex.from_arrays([k["ccode1"], k["year"] - 1]))["cinc"].to_numpy()
    b0 = sy.reindex(pd.MultiIndex.from_arrays([k["ccode2"], k["year"] - 1]))["cinc"].to_numpy()
    out = pd.DataFrame(index=k.index)
    out["cinc_max"] = np.fmax(a["cinc"], b["cinc"])
    out["cinc_min"] = np.fmin(a["cinc"], b["cinc"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(out["cinc_max"] / out["cinc_min"])
        out["log_cap_ratio"] = ratio.where(np.isfinite(ratio))
        share = a["cinc"] / (a["cinc"] + b["cinc"])
        share0 = a0 / (a0 + b0)
        out["cap_shift"] = np.abs(share - share0)
    out["n_major"] = a["major"].fillna(0).astype("int64") + b["major"].fillna(0).astype("int64")
    out["major_any"] = (out["n_major"] > 0).astype("int64")
    out["polyarchy_min"] = np.fmin(a["polyarchy"], b["polyarchy"])
    both = a["polyarchy"].notna() & b["polyarchy"].notna()
    out["joint_democracy"] = ((a["polyarchy"] >= 0.5) & (b["polyarchy"] >= 0.5)).astype("float64").where(both)
    out["mps_log_rel_max"] = np.fmax(a["log_mps_rel"], b["log_mps_rel"])
    out["mps_log_rel_min"] = np.fmin(a["log_mps_rel"], b["log_mps_rel"])
    observed = a["netech"].notna() & b["netech"].notna()  # rDMC rows for both states
    out["netech_max"] = np.fmax(a["netech"], b["netech"]).where(observed)
    out["netech_min"] = np.fmin(a["netech"], b["netech"]).where(observed)
    out["uav_any"] = np.fmax(a["uav"], b["uav"]).where(observed)
    out["mids_prior5"] = a["mids_prior5"] + b["mids_prior5"]
    out["rival_any"] = np.fmax(a["rival_state"], b["rival_state"])
    dist = _haversine_km(a["lat"], a["lng"], b["lat"], b["lng"])
    out["capital_distance"] = dist
    out["log_capital_distance"] = np.log1p(dist)
    idx = pd.MultiIndex.from_frame(k)
    year = k["year"]

    def lookup(name: str, coverage: tuple[int, int] | None, fill: float = 0.0) -> pd.Series:
        values = tables[name].reindex(idx).to_numpy(dtype="float64")
        s = pd.Series(values, index=k.index).fillna(fill)
        if coverage is not None:
            s = s.where(year.between(*coverage))
        return s

    out["dyad_mids_prior5"] = lookup("dyad_mids_prior5", (COVERAGE["mid"][0] + 5, COVERAGE["mid"][1] + 1))
    out["rivalry"] = lookup("rivalry", COVERAGE["rivalry"])
    ctype = lookup("contig_type", COVERAGE["contiguity"], fill=6.0)
    out["contig_type"] = ctype
    out["contiguous"] = (ctype <= 3).astype("float64").where(ctype.notna())
    out["mme_exercises"] = lookup("mme_exercises", COVERAGE["mme"])
    out["sipri_tiv"] = lookup("sipri_tiv", COVERAGE["sipri"])
    out["post_cold_war"] = (year >= 1992).astype("int64")
    return out


def prior_sums(table: pd.Series, k: int, coverage: tuple[int, int]) -> pd.Series:
    """Sum of a dyad-year count over the ``k`` years before each year (t-k .. t-1).

    ``table`` is indexed (ccode1, ccode2, year). The result is indexed the same way, for the
    years t with at least one observation in t-k .. t-1; only years t whose whole window lies in
    ``coverage`` have a value (others are dropped), so a missing key means 0 inside coverage.
    """
    frame = table.rename("n").reset_index()
    frame["first"], frame["last"] = frame["year"] + 1, frame["year"] + k
    summed = _expand_years(frame.drop(columns="year"), "first", "last").groupby(
        ["ccode1", "ccode2", "year"])["n"].sum()
    years = summed.index.get_level_values("year")
    return summed[(years >= coverage[0] + k) & (years <= coverage[1] + 1)]


def behaviour_window(arr: pd.DataFrame, tables: dict[str, pd.DataFrame], window: int) -> pd.DataFrame:
    """MME exercises and SIPRI TIV of each arrangement's dyad before and after signature.

    ``*_pre``: sum over the ``window`` years before the start year (start-window .. start-1),
    missing unless all of them lie in the source's coverage, so every arrangement is measured over
    the same number of years and only before it exists. ``*_post``: the former measure, the sum
    over the first ``window`` years from the start year, over the covered years only and whether
    or not the arrangement was still in force (kept for robustness checks; not pre-treatment).
    """
    base = arr[["arrangement_id", "ccode1", "ccode2"]].copy()
    base["first"] = arr["start_date"].dt.year
    base["last"] = base["first"] + window - 1
    rows = _expand_years(base, "first", "last")
    idx = pd.MultiIndex.from_frame(rows[["ccode1", "ccode2", "year"]].astype("int64"))
    start = arr["start_date"].dt.year.astype("int64")
    keys = pd.MultiIndex.from_arrays([arr["ccode1"].astype("int64"), arr["ccode2"].astype("int64"), start])
    out = {}
    for name, col in (("mme", "mme_exercises"), ("sipri", "sipri_tiv")):
        lo, hi = COVERAGE[name]
        covered = rows["year"].between(lo, hi)
        vals = pd.Series(tables[col].reindex(idx).to_numpy(dtype="float64"), index=rows.index).fillna(0.0)
        vals = vals.where(covered)
        summed = vals.groupby(rows["arrangement_id"]).sum(min_count=1)
        out[f"{col}_post"] = summed.reindex(arr["arrangement_id"]).to_numpy()
        prior = prior_sums(tables[col], window, (lo, hi))
        pre = pd.Series(prior.reindex(keys).to_numpy(dtype="float64")).fillna(0.0)
        out[f"{col}_pre"] = pre.where(start.between(lo + window, hi + 1).to_numpy()).to_numpy()
    return pd.DataFrame(out)


#: How each end reason counts for competing risks: ``failure`` (the arrangement broke down:
#: violation or abrogation, or an ending the source does not explain), ``transformation`` (replaced
#: by a successor agreement), ``other`` (ran its course: expiry, fulfilment, lost war) and
#: ``censored`` (no ending observed).
END_TYPES = {
    "violation": "failure", "unknown": "failure",
    "renegotiated": "transformation",
    "expired": "other", "fulfilled": "other", "war_lost": "other", "expired_estimated": "other",
    "in_effect": "censored", "sovereignty_loss": "censored", "status_unknown": "censored",
}
#: A dyad entering an alliance more than this long after the alliance's first dyad is a joiner:
#: signature and ratification campaigns of the founding treaty (e.g. the AU Constitutive Act,
#: ATOP 4953, signed 2000-07-12 to 2001-03-02) stay founding dyads.
JOINER_LAG = pd.Timedelta(days=365)


def end_types(reason: pd.Series) -> pd.Series:
    """``END_TYPES`` of each end reason; an unlisted reason is an error (a new source code)."""
    out = reason.map(END_TYPES)
    if out.isna().any():
        raise ValueError(f"end reasons without an end type: {sorted(reason[out.isna()].unique())}")
    return out


def apply_follow_up(arr: pd.DataFrame, follow_up_end: int) -> tuple[pd.DataFrame, dict]:
    """Censor every arrangement at the end of its source's coverage or 31 December of
    ``follow_up_end``, whichever is earlier; drop arrangements that begin after it.

    An arrangement that ends after that date is in force on it (``end_reason = "in_effect"``);
    the ending the source records stays in ``source_end_reason``. Returns the frame and a log.
    """
    out = arr.copy()
    end = pd.Timestamp(year=int(follow_up_end), month=12, day=31)
    out["data_end"] = np.minimum(out["data_end"], end)
    late = out["start_date"] > out["data_end"]
    clipped = ~late & (out["stop_date"] > out["data_end"])
    ended_later = clipped & ~out["end_reason"].isin(["in_effect"])
    log = {
        "rule": (f"every arrangement is observed until the end of its source's coverage (ATOP 2018-12-31, "
                 f"DCAD 2010-12-31) or {end.date()}, whichever is earlier; endings after that date are "
                 "censored there (end_reason in_effect, source_end_reason keeps the source's reason); "
                 "arrangements that begin after it are left out"),
        "follow_up_end": str(end.date()),
        "left_out_starting_after": {f: int(n) for f, n in out.loc[late, "form"].value_counts().sort_index().items()},
        "left_out_alliances": sorted(set(out.loc[late, "source_id"]) - set(out.loc[~late, "source_id"]),
                                     key=lambda x: (len(x), x)),
        "endings_censored": {f: int(n) for f, n in out.loc[ended_later, "form"].value_counts().sort_index().items()},
    }
    out.loc[clipped, "stop_date"] = out.loc[clipped, "data_end"]
    out.loc[clipped, "stop_date_imputed"] = 0
    out.loc[clipped, "end_reason"] = "in_effect"
    return out[~late].reset_index(drop=True), log


def flag_joiners(arr: pd.DataFrame) -> pd.Series:
    """1 for a formal dyad that entered its alliance more than ``JOINER_LAG`` after its first dyad."""
    first = arr.groupby(["form", "source_id"])["start_date"].transform("min")
    return (arr["form"].eq("formal") & (arr["start_date"] > first + JOINER_LAG)).astype("int64")


# ------------------------------------------------------------------ units

def arrangements(src: dict[str, pd.DataFrame], coding: Coding, panel: pd.DataFrame,
                 tables: dict[str, pd.DataFrame], follow_up_end: int = 2010) -> tuple[pd.DataFrame, dict]:
    """The arrangements unit (before column selection): formal + informal, coded; and a build log."""
    arr = pd.concat([atop_dyads(src, coding), dcad_agreements(src, coding)], ignore_index=True)
    arr["ccode1"] = arr["ccode1"].astype("int64")
    arr["ccode2"] = arr["ccode2"].astype("int64")
    censoring = set(coding.end_reasons["censoring"])
    arr["joiner"] = flag_joiners(arr)
    arr["source_end_reason"] = arr["end_reason"]
    arr["source_end_type"] = end_types(arr["end_reason"])
    arr, log = apply_follow_up(arr, follow_up_end)
    # zero-length arrangements (entry and exit on one day) last one day
    arr["stop_date"] = np.maximum(arr["stop_date"], arr["start_date"] + pd.Timedelta(days=1))
    arr["ended"] = (~arr["end_reason"].isin(censoring)).astype("int64")
    arr["end_type"] = end_types(arr["end_reason"]).where(arr["ended"].eq(1), "censored")
    arr["violation"] = arr["end_reason"].eq("violation").astype("int64")
    arr["end_date"] = arr["stop_date"].where(arr["ended"].eq(1))
    arr["start_year"] = arr["start_date"].dt.year
    arr["end_year"] = arr["end_date"].dt.year
    arr["duration"] = years_between(arr["start_date"], arr["stop_date"])
    arr["post_cold_war"] = (arr["start_date"] >= COLD_WAR_END).astype("int64")
    arr["informal"] = arr["form"].eq("informal").astype("int64")
    names = src["states"].drop_duplicates("ccode").set_index(src["states"]["ccode"].drop_duplicates()
                                                             .astype("int64"))["stateabb"]
    arr["stateabb1"] = arr["ccode1"].map(names)
    arr["stateabb2"] = arr["ccode2"].map(names)
    arr = pd.concat([arr, behaviour_window(arr, tables, int(coding.options["behaviour_window"]))], axis=1)
    keys = arr[["ccode1", "ccode2"]].assign(year=arr["start_year"])
    cov = dyad_covariates(keys, panel, tables).drop(columns=["post_cold_war"])
    arr = pd.concat([arr, cov], axis=1)
    arr = apply_coding(arr, coding)
    return arr.sort_values(["form", "start_date", "arrangement_id"]).reset_index(drop=True), log


def joiner_log(arr: pd.DataFrame) -> dict:
    """How many formal dyads are joiners (for ``codebook.json``)."""
    formal = arr[arr["form"].eq("formal")]
    joined = formal[formal["joiner"].eq(1)]
    return {
        "rule": (f"a formal dyad whose start is more than {JOINER_LAG.days} days after its alliance's first "
                 "dyad is a joiner (a state acceded to an existing treaty); founding dyads are joiner = 0"),
        "formal_dyads": int(len(formal)), "joiner_dyads": int(len(joined)),
        "alliances_with_joiners": int(joined["source_id"].nunique()),
    }


def dcad_end_log(arr: pd.DataFrame) -> dict:
    """The DCAD end-dating rule and the agreements it affects (for ``codebook.json``)."""
    inf = arr[arr["form"].eq("informal")]
    terminated = inf["dcad_terminated"].eq(1)
    year = inf["start_year"] + inf["dcad_duration_actual"]
    late = terminated & year.gt(DCAD_DATA_END.year)
    no_duration = terminated & inf["dcad_duration_actual"].isna()
    return {
        "rule": ("DCAD terminated = 1: ends on the anniversary of signature durationActual years later "
                 "(its year is signYear + durationActual); endYearEstimate is not used because DCAD caps it "
                 "at 2010. An agreement whose end so dated falls after 2010-12-31, or that has no "
                 "durationActual, is censored at 2010-12-31 (end of DCAD coverage)."),
        "terminated": int(terminated.sum()),
        "events": int((terminated & inf["ended"].eq(1)).sum()),
        "censored_ended_after_2010": sorted(inf.loc[late, "arrangement_id"]),
        "censored_no_duration": sorted(inf.loc[no_duration, "arrangement_id"]),
    }


SPELL_C2_COLUMNS = (
    "c2_index", "c2_decision_rights", "c2_interaction_patterns", "c2_information_distribution",
    "c2_technology_leverage", "c2_level_ps", "c2_level_op", "c2_common", "c2_common_ps", "c2_common_op",
    "c2_common_decision_rights", "c2_common_interaction_patterns", "c2_common_information_distribution",
    "c2_common_technology_leverage")


def arrangement_years(arr: pd.DataFrame, panel: pd.DataFrame, tables: dict[str, pd.DataFrame],
                      window: tuple[int, int]) -> pd.DataFrame:
    """Counting-process spells (start, stop] per arrangement-year inside ``window``.

    Time is years since the arrangement's start. A spell ends at the earlier of the next
    1 January and the arrangement's stop date; the event (and a violation event) is on the
    spell in which an arrangement ends, provided the end falls inside the window, and
    arrangements running past the window are censored at its end. Arrangements that began
    before the window are left-truncated: their first spell starts at a positive time.
    """
    w0 = pd.Timestamp(year=window[0], month=1, day=1)
    w1 = pd.Timestamp(year=window[1] + 1, month=1, day=1)
    keep = arr[(arr["start_date"] < w1) & (arr["stop_date"] > w0)].copy()
    keep["first"] = np.maximum(keep["start_date"], w0).dt.year
    keep["last"] = (np.minimum(keep["stop_date"], w1) - pd.Timedelta(days=1)).dt.year
    keep["last"] = np.maximum(keep["last"], keep["first"])
    rows = _expand_years(keep, "first", "last")
    jan1 = pd.to_datetime(pd.DataFrame({"year": rows["year"], "month": 1, "day": 1}))
    next_jan1 = pd.to_datetime(pd.DataFrame({"year": rows["year"] + 1, "month": 1, "day": 1}))
    lo = np.maximum(rows["start_date"], jan1)
    hi = np.minimum(rows["stop_date"], next_jan1)
    out = pd.DataFrame({
        "arrangement_id": rows["arrangement_id"], "source_id": rows["source_id"], "form": rows["form"],
        "informal": rows["informal"], "joiner": rows["joiner"],
        "ccode1": rows["ccode1"], "ccode2": rows["ccode2"], "year": rows["year"],
        "start": years_between(rows["start_date"], lo), "stop": years_between(rows["start_date"], hi),
    })
    final = rows["stop_date"].le(next_jan1) & rows["stop_date"].ge(jan1) & rows["stop_date"].le(w1)
    out["event"] = (final & rows["ended"].eq(1)).astype("int64")
    out["event_violation"] = (out["event"].eq(1) & rows["violation"].eq(1)).astype("int64")
    out["end_reason"] = rows["end_reason"].where(out["event"].eq(1))
    out["end_type"] = rows["end_type"].where(out["event"].eq(1), "censored")
    out["event_failure"] = out["end_type"].eq("failure").astype("int64")
    out["event_transformation"] = out["end_type"].eq("transformation").astype("int64")
    out["left_truncated"] = (rows["start_date"] < w0).astype("int64")
    for col in ("n_members", "bilateral", *SPELL_C2_COLUMNS):
        out[col] = rows[col].to_numpy()
    cov = dyad_covariates(out[["ccode1", "ccode2", "year"]], panel, tables)
    out = pd.concat([out.reset_index(drop=True), cov], axis=1)
    idx = pd.MultiIndex.from_frame(out[["ccode1", "ccode2", "year"]].astype("int64"))
    for name, col in (("mme", "mme_exercises"), ("sipri", "sipri_tiv")):
        lo, hi = COVERAGE[name]
        prior = prior_sums(tables[col], 5, (lo, hi))
        vals = pd.Series(prior.reindex(idx).to_numpy(dtype="float64")).fillna(0.0)
        out[f"{col}_prior5"] = vals.where(out["year"].between(lo + 5, hi + 1)).to_numpy()
    out = out[out["stop"] > out["start"]]
    return out.sort_values(["arrangement_id", "year"]).reset_index(drop=True)


def dyad_years(arr: pd.DataFrame, src: dict[str, pd.DataFrame], panel: pd.DataFrame,
               tables: dict[str, pd.DataFrame], window: tuple[int, int]) -> pd.DataFrame:
    """Undirected dyad-years of COW system members in ``window`` with arrangement status."""
    system = src["system"][src["system"]["year"].between(*window)][["ccode", "year"]]
    pairs = system.merge(system, on="year")
    pairs = pairs[pairs["ccode_x"] < pairs["ccode_y"]]
    dy = pd.DataFrame({"ccode1": pairs["ccode_x"].to_numpy(), "ccode2": pairs["ccode_y"].to_numpy(),
                       "year": pairs["year"].to_numpy()})
    active = arr[["ccode1", "ccode2", "form", "source_id", "joiner", "start_date", "stop_date", "ended"]].copy()
    active["first"] = active["start_date"].dt.year
    active["last"] = active["stop_date"].dt.year
    active = active.assign(first=active["first"].clip(lower=window[0]),
                           last=active["last"].clip(upper=window[1]))
    ay = _expand_years(active, "first", "last")
    ay["onset"] = (ay["start_date"].dt.year == ay["year"]).astype("int64")
    ay["termination"] = ((ay["stop_date"].dt.year == ay["year"]) & ay["ended"].eq(1)).astype("int64")
    starts = ay[ay["onset"].eq(1)].sort_values(["start_date", "form", "source_id"], kind="mergesort")
    first_onset = starts.groupby(["ccode1", "ccode2", "year"]).head(1).set_index(["ccode1", "ccode2", "year"])
    formal_onsets = starts[starts["form"].eq("formal")].groupby(["ccode1", "ccode2", "year"])["joiner"].min()
    agg = ay.groupby(["ccode1", "ccode2", "year", "form"]).agg(
        n=("onset", "size"), onset=("onset", "max"), termination=("termination", "max")).unstack("form")
    idx = pd.MultiIndex.from_frame(dy)
    for form in ("formal", "informal"):
        for stat in ("n", "onset", "termination"):
            col = f"{stat}_{form}" if stat != "n" else f"n_{form}"
            vals = agg[(stat, form)].reindex(idx) if (stat, form) in agg.columns else np.nan
            dy[col] = pd.Series(np.asarray(vals, dtype="float64")).fillna(0).astype("int64").to_numpy()
    dy["formal"] = (dy["n_formal"] > 0).astype("int64")
    dy["informal"] = (dy["n_informal"] > 0).astype("int64")
    status = np.select([dy["formal"].eq(1) & dy["informal"].eq(1), dy["formal"].eq(1), dy["informal"].eq(1)],
                       ["both", "formal", "informal"], default="none")
    dy["status"] = status
    dy["onset"] = np.select(
        [dy["onset_formal"].eq(1) & dy["onset_informal"].eq(1), dy["onset_formal"].eq(1), dy["onset_informal"].eq(1)],
        ["both", "formal", "informal"], default="none")
    key = pd.MultiIndex.from_frame(dy[["ccode1", "ccode2", "year"]])
    dy["onset_source_id"] = first_onset["source_id"].reindex(key).to_numpy()
    joiner = formal_onsets.reindex(key).to_numpy(dtype="float64")
    dy["onset_formal_joiner"] = np.nan_to_num(joiner, nan=0.0).astype("int64")
    cov = dyad_covariates(dy, panel, tables)
    keep = ["contiguous", "log_capital_distance", "joint_democracy", "polyarchy_min", "log_cap_ratio",
            "cinc_max", "n_major", "rivalry", "dyad_mids_prior5", "mids_prior5", "mme_exercises",
            "sipri_tiv", "mps_log_rel_min", "netech_max", "netech_min", "uav_any", "post_cold_war"]
    dy = pd.concat([dy, cov[keep]], axis=1)
    cols = ["ccode1", "ccode2", "year", "status", "formal", "informal", "n_formal", "n_informal",
            "onset", "onset_formal", "onset_informal", "onset_source_id", "onset_formal_joiner",
            "termination_formal", "termination_informal", *keep]
    return dy[cols].sort_values(["ccode1", "ccode2", "year"]).reset_index(drop=True)


#: Dyad covariates aggregated over a treaty's founding dyads in ``agreements``: the mean keeps the
#: name (for a bilateral agreement it is the dyad's value), the maximum gets ``_dmax``.
AGREEMENT_COVARIATES = (
    "mids_prior5", "dyad_mids_prior5", "rival_any", "rivalry", "cap_shift", "log_cap_ratio",
    "cinc_max", "major_any", "mps_log_rel_max", "netech_max", "polyarchy_min", "joint_democracy",
    "contiguous", "log_capital_distance",
)


def agreements(arr: pd.DataFrame) -> pd.DataFrame:
    """One row per treaty (ATOP alliance) or DCAD agreement, from its founding dyads.

    Founding dyads are those with ``joiner == 0``; dyads created later by accession are counted
    (``n_joiner_dyads``) but do not enter the covariates, the C2 means or the start date.
    """
    key = ["form", "source_id"]
    founding = arr[arr["joiner"].eq(0)]
    g = founding.groupby(key, sort=True, observed=True)
    out = g.agg(source=("source", "first"), start_date=("start_date", "min"),
                bilateral=("bilateral", "max"), n_dyads=("arrangement_id", "size"))
    members = pd.concat([founding[[*key, "ccode1"]].rename(columns={"ccode1": "c"}),
                         founding[[*key, "ccode2"]].rename(columns={"ccode2": "c"})])
    out["n_members"] = members.groupby(key, observed=True)["c"].nunique()
    out["n_joiner_dyads"] = arr[arr["joiner"].eq(1)].groupby(key, observed=True).size().reindex(
        out.index).fillna(0).astype("int64")
    for col in SPELL_C2_COLUMNS:
        out[col] = g[col].mean()
    for col in AGREEMENT_COVARIATES:
        values = founding[col].astype("float64")
        out[col] = values.groupby([founding[k] for k in key], observed=True).mean()
        out[f"{col}_dmax"] = values.groupby([founding[k] for k in key], observed=True).max()
    out = out.reset_index()
    out["informal"] = out["form"].eq("informal").astype("int64")
    out["start_year"] = out["start_date"].dt.year
    out["post_cold_war"] = (out["start_date"] >= COLD_WAR_END).astype("int64")
    return out.sort_values(["form", "start_date", "source_id"]).reset_index(drop=True)


# ------------------------------------------------------------------ codebook and output

def read_codebook_spec(path: Path = CODEBOOK_FILE) -> dict:
    """The static codebook (``codebook.toml``): variables and unit column lists."""
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def unit_codebook(unit: str, spec: dict, coding: Coding) -> list[dict]:
    """Full codebook rows of ``unit`` in column order (C2 columns from the coding file)."""
    variables = dict(spec["variables"])
    c2_rows = {row["name"]: row for row in codebook_entries(coding)}
    columns = list(spec["units"][unit]["columns"])
    if unit == "arrangements":
        columns += list(c2_rows)
    required = set(spec["units"][unit]["required"])
    keys = list(spec["units"][unit]["keys"])
    rows = []
    for name in columns:
        entry = dict(c2_rows[name]) if unit == "arrangements" and name in c2_rows else None
        if entry is None:
            if name not in variables:
                raise KeyError(f"column {name!r} of unit {unit!r} has no entry in codebook.toml")
            entry = {"name": name, **variables[name]}
        entry.setdefault("levels", None)
        entry.setdefault("digits", None)
        entry["required"] = name in required
        entry["key"] = name in keys
        rows.append({k: entry[k] for k in ("name", "label", "type", "unit", "source", "rule",
                                            "required", "key", "levels", "digits")})
    return rows


def format_unit(frame: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """Select codebook columns in order; round floats to ``digits``; dates as ISO strings."""
    missing = [r["name"] for r in rows if r["name"] not in frame.columns]
    if missing:
        raise KeyError(f"built frame lacks codebook columns {missing}")
    out = {}
    for r in rows:
        col = frame[r["name"]]
        kind = r["type"]
        if kind == "date":
            col = _iso(pd.to_datetime(col))
        elif kind == "int":
            col = pd.to_numeric(col).round().astype("Int64")
        elif kind == "float":
            col = pd.to_numeric(col).astype("float64")
            if r["digits"] is not None:
                col = col.round(int(r["digits"]))
            col = col.where(col != 0, 0.0)  # no '-0'
        out[r["name"]] = col
    return pd.DataFrame(out)


def build_all(dest: Path | None = None, coding: str | Path | None = None,
              options: BuildOptions = BuildOptions(), src: Path = SOURCES_DIR) -> dict[str, Path]:
    """Build every unit from the vendored sources into ``dest``; returns unit -> file path."""
    dest = Path(dest) if dest is not None else BUILT_DIR
    dest.mkdir(parents=True, exist_ok=True)
    cod = load_coding(coding)
    sources = read_sources(src)
    panel = state_year_panel(sources)
    tables = dyad_year_tables(sources)
    arr, follow_up = arrangements(sources, cod, panel, tables, options.follow_up_end)
    frames = {
        "arrangements": arr,
        "agreements": agreements(arr),
        "arrangement_years": arrangement_years(arr, panel, tables, options.spell_window),
        "dyad_years": dyad_years(arr, sources, panel, tables, options.dyad_window),
    }
    if options.directed:
        frames["dyad_years"] = direct_dyads(frames["dyad_years"])
    spec = read_codebook_spec()
    paths: dict[str, Path] = {}
    books = {}
    for unit, frame in frames.items():
        rows = unit_codebook(unit, spec, cod)
        books[unit] = rows
        kinds = {r["name"]: ("float_rounded" if r["type"] == "float" and r["digits"] is not None
                             else r["type"]) for r in rows}
        paths[unit] = write_unit(format_unit(frame, rows), dest / f"{unit}.csv.gz", kinds)
    meta = {
        "coding": {"name": cod.name, "file": cod.path, "sha256": cod.sha256, "options": cod.options},
        "windows": {"arrangement_years": list(options.spell_window),
                    "dyad_years": list(options.dyad_window)},
        "directed": options.directed,
        "follow_up_end": options.follow_up_end,
        "build_log": {"follow_up": follow_up, "dcad_end_dating": dcad_end_log(arr),
                      "joiners": joiner_log(arr)},
        "source_corrections": [
            {"source": "DCAD 1.0", "id": dca, "column": col, "from": old, "to": new, "reason": why}
            for (dca, col), (old, new, why) in DCAD_CORRECTIONS.items()],
        "source_exclusions": [
            {"source": "DCAD 1.0", "id": dca, "reason": why} for dca, why in DCAD_EXCLUSIONS.items()],
        "units": books,
    }
    book_path = dest / "codebook.json"
    book_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["codebook"] = book_path
    return paths
