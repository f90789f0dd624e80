"""The coded dataset: build against the sources, byte-identical rebuild, codebook, validate().

Numbers asserted here come from the vendored source files (row counts, codes) or the source
codebooks (ATOP 5.1: 789 alliances; DCAD 1.0: 1,871 agreements), never from the build itself.
"""

from __future__ import annotations

import gzip
import os
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats.datasets as ds
from c2stats.datasets import stages as B
from c2stats.datasets import UNITS, builtin_hash, load_builtin
from c2stats.datasets.coding import load_coding
from c2stats.errors import ConfigError, DataError

SOURCES = Path(ds.__file__).parent / "sources"
BUILT = Path(ds.__file__).parent / "built"


def source(name: str) -> pd.DataFrame:
    return pd.read_csv(SOURCES / name, low_memory=False)


@pytest.fixture(scope="module")
def arrangements() -> pd.DataFrame:
    return ds.load_builtin("arrangements")


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return ds.load_builtin("arrangement_years")


@pytest.fixture(scope="module")
def dyad_years() -> pd.DataFrame:
    return ds.load_builtin("dyad_years")


@pytest.fixture(scope="module")
def built_meta() -> dict:
    return json.loads((BUILT / "codebook.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ accounted for

def test_all_789_atop_alliances_are_arrangements(arrangements, built_meta):
    alliances = source("atop5_1a.csv.gz")
    assert len(alliances) == 789  # ATOP 5.1 alliance-level file
    formal = arrangements[arrangements["form"] == "formal"]
    # every alliance is built, except those ATOP dates after the follow-up end (2010), which the
    # build log lists
    left_out = {int(i) for i in built_meta["build_log"]["follow_up"]["left_out_alliances"]}
    assert set(formal["source_id"].astype(int)) | left_out == set(alliances["atopid"])
    assert left_out == set(alliances.loc[alliances["begyr"] > 2010, "atopid"])


def test_all_1871_dcad_agreements_are_accounted_for(arrangements, built_meta):
    dcad = source("DCAD-v1.0-main.csv.gz")
    assert len(dcad) == 1871  # DCAD 1.0: 1,871 bilateral agreements
    informal = arrangements[arrangements["form"] == "informal"]
    excluded = {e["id"] for e in built_meta["source_exclusions"]}
    assert informal["source_id"].is_unique
    assert set(informal["source_id"]) | excluded == set(dcad["DCAid"])
    assert not set(informal["source_id"]) & excluded
    # exclusions are exactly the rows that name one state twice
    assert excluded == set(dcad.loc[dcad["ccode1"] == dcad["ccode2"], "DCAid"]) - {
        e["id"] for e in built_meta["source_corrections"]}


def test_dcad_dates_and_censoring_follow_the_source(arrangements):
    dcad = source("DCAD-v1.0-main.csv.gz").set_index("DCAid")
    informal = arrangements[arrangements["form"] == "informal"].set_index("source_id")
    d = dcad.loc[informal.index]
    assert (informal["start_date"].dt.year == d["signYear"]).all()
    ended = informal["ended"] == 1
    # an ending is an event when DCAD records it and dates it inside its coverage
    # (signYear + durationActual <= 2010; tests/datasets/test_audit_rules.py pins the rest)
    assert (ended == ((d["terminated"] == 1) & (d["signYear"] + d["durationActual"] <= 2010))).all()
    assert (informal.loc[ended, "end_year"] == (d["signYear"] + d["durationActual"])[ended]).all()
    # default coding: unknown status (-88, -99) and in force (0) are censored at 2010-12-31
    cens = informal.loc[~ended]
    assert (cens["stop_date"] == pd.Timestamp("2010-12-31")).all()
    unknown = d["terminated"].isin([-88, -99])
    assert (informal.loc[unknown, "end_reason"] == "status_unknown").all()


# ------------------------------------------------------------------ NATO

def test_nato_is_expanded_to_member_dyads_with_its_organisation(arrangements):
    members = source("atop5_1m.csv.gz")
    phases = source("atop5_1aph.csv.gz")
    nato_members = set(members.loc[members["atopid"] == 3180, "member"])
    nato = arrangements[(arrangements["form"] == "formal") & (arrangements["source_id"] == "3180")]
    us_uk = nato[(nato["ccode1"] == 2) & (nato["ccode2"] == 200)]
    assert len(us_uk) == 1
    row = us_uk.iloc[0]
    assert row["arrangement_id"] == "ATOP3180-2-200"
    assert row["start_date"] == pd.Timestamp("1949-04-04")  # begyr/begmo/begday in atop5_1a
    assert row["end_reason"] == "in_effect" and row["ended"] == 0
    first_phase = phases[(phases["atopid"] == 3180) & (phases["phase"] == 1)].iloc[0]
    assert row["organ1"] == first_phase["organ1"] and first_phase["organ1"] >= 2
    assert row["organ_military"] >= 2 and row["c2i_organ_military"] > 0
    assert row["defense"] == 1 and row["consul"] == 1
    # the US is a member throughout, so it forms a dyad with every other member
    partners = set(nato.loc[nato["ccode1"] == 2, "ccode2"])
    by_2010 = set(members.loc[(members["atopid"] == 3180) & (members["yrent"] <= 2010), "member"])
    assert partners == by_2010 - {2}  # members entering after the follow-up end (2010) are left out
    assert nato_members - by_2010
    founders = set(members.loc[(members["atopid"] == 3180) & (members["phase"] == 1), "member"])
    pairs = set(zip(nato["ccode1"], nato["ccode2"]))
    assert all(p in pairs for p in combinations(sorted(founders), 2))


# ------------------------------------------------------------------ end reasons

def test_an_arrangement_ending_in_violation_has_that_end_reason(arrangements):
    members = source("atop5_1m.csv.gz")
    # German-Soviet pact of 1939 (ATOP 2470): both members coded TERMMODE 3 (broken)
    pact = members[members["atopid"] == 2470]
    assert set(pact["member"]) == {255, 365} and set(pact["termmode"]) == {3}
    row = arrangements.set_index("arrangement_id").loc["ATOP2470-255-365"]
    assert row["end_reason"] == "violation"
    assert row["ended"] == 1 and row["violation"] == 1
    assert row["end_date"].year == pact["yrexit"].iloc[0]


def test_every_bilateral_alliance_broken_by_both_members_is_a_violation(arrangements):
    members = source("atop5_1m.csv.gz")
    g = members.groupby("atopid")
    two = g["member"].nunique().eq(2) & g["phase"].nunique().eq(1) & g["termmode"].agg(
        lambda s: set(s) == {3})
    ended_by_2010 = g["yrexit"].max().le(2010)  # inside the follow-up
    two = two & ended_by_2010
    ids = [str(i) for i in two[two].index]
    assert len(ids) > 50
    formal = arrangements[arrangements["source_id"].isin(ids)]
    assert len(formal) == len(ids)
    assert (formal["end_reason"] == "violation").all()


def test_in_effect_alliances_are_censored_at_the_follow_up_end(arrangements):
    formal = arrangements[arrangements["form"] == "formal"]
    in_effect = formal["end_reason"] == "in_effect"
    # default follow-up: both forms to the end of DCAD's coverage, not ATOP's 2018
    assert (formal.loc[in_effect, "stop_date"] == pd.Timestamp("2010-12-31")).all()
    assert (formal.loc[in_effect, "ended"] == 0).all()
    assert formal.loc[formal["end_reason"] == "sovereignty_loss", "ended"].eq(0).all()


# ------------------------------------------------------------------ panels

def test_spells_are_contiguous_with_the_event_last(spells):
    s = spells.sort_values(["arrangement_id", "year"])
    same = s["arrangement_id"].eq(s["arrangement_id"].shift())
    assert np.allclose(s["start"][same].to_numpy(), s["stop"].shift()[same].to_numpy(), atol=2e-4)
    assert (s["stop"] > s["start"]).all()
    last = ~s["arrangement_id"].eq(s["arrangement_id"].shift(-1))
    assert (s.loc[~last, "event"] == 0).all()
    assert s["year"].between(1980, 2010).all()
    trunc = s[s["left_truncated"] == 1].groupby("arrangement_id")["start"].min()
    assert (trunc > 0).all()
    fresh = s[s["left_truncated"] == 0].groupby("arrangement_id")["start"].min()
    assert np.allclose(fresh, 0.0)
    assert (s["event_violation"] <= s["event"]).all()


def test_dyad_years_cover_all_system_dyads(dyad_years):
    system = source("system2016.csv.gz")
    n = system[system["year"].between(1980, 2010)].groupby("year").size()
    assert len(dyad_years) == int((n * (n - 1) // 2).sum())
    status = np.select([dyad_years["formal"].eq(1) & dyad_years["informal"].eq(1),
                        dyad_years["formal"].eq(1), dyad_years["informal"].eq(1)],
                       ["both", "formal", "informal"], "none")
    assert (dyad_years["status"].astype(str) == status).all()
    us_uk = dyad_years[(dyad_years["ccode1"] == 2) & (dyad_years["ccode2"] == 200)]
    assert (us_uk["formal"] == 1).all()


# ------------------------------------------------------------------ codebook and rebuild

def test_every_column_of_every_unit_has_a_codebook_entry():
    for unit in ds.UNITS:
        with gzip.open(BUILT / f"{unit}.csv.gz", "rt", encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        book = ds.codebook(unit)
        assert list(book.columns[:6]) == ["name", "label", "type", "unit", "source", "rule"]
        assert header == list(book["name"])
        assert book["label"].str.len().gt(0).all() and book["rule"].str.len().gt(0).all()
        assert book["type"].isin(["str", "int", "float", "date", "category"]).all()


def test_rebuild_is_byte_identical(tmp_path):
    paths = ds.build(dest=tmp_path)
    for unit in (*ds.UNITS, "codebook"):
        name = paths[unit].name
        assert (tmp_path / name).read_bytes() == (BUILT / name).read_bytes(), name


def test_alternative_coding_is_a_swap():
    coding = load_coding("provisions_only")
    src = B.read_sources()
    panel, tables = B.state_year_panel(src), B.dyad_year_tables(src)
    arr, _ = B.arrangements(src, coding, panel, tables)
    assert "c2i_mme_exercise" not in arr.columns
    items = arr.filter(like="c2i_")
    assert set(np.unique(items.to_numpy()[~np.isnan(items.to_numpy())])) <= {0.0, 1.0}
    nato = arr[arr["arrangement_id"] == "ATOP3180-2-200"].iloc[0]
    phases = source("atop5_1aph.csv.gz")
    assert nato["intcom"] == phases.loc[phases["atopid"] == 3180, "intcom"].max()  # "ever"
    with pytest.raises(ConfigError, match="unknown coding"):
        load_coding("no_such_coding")


# ------------------------------------------------------------------ validate

@pytest.fixture
def good(arrangements) -> pd.DataFrame:
    cols = ["arrangement_id", "form", "ccode1", "ccode2", "start_date", "stop_date", "duration", "ended"]
    frame = arrangements[cols].head(10).copy()
    frame["start_date"] = frame["start_date"].dt.strftime("%Y-%m-%d")
    frame["stop_date"] = frame["stop_date"].dt.strftime("%Y-%m-%d")
    frame["form"] = frame["form"].astype(str)
    return frame.reset_index(drop=True)


def test_validate_accepts_good_data_without_touching_it(good):
    before = good.copy()
    out = ds.validate(good, "arrangements", "mine.csv")
    pd.testing.assert_frame_equal(good, before)
    assert pd.api.types.is_datetime64_any_dtype(out["start_date"])


@pytest.mark.parametrize("case", ["missing", "type", "end_before_start", "duplicate", "duration",
                                  "ccode", "level", "empty_required", "event_flag"])
def test_validate_names_column_and_rows(good, case):
    bad = good.copy()
    if case == "missing":
        bad = bad.drop(columns=["start_date"])
        column, rows = "start_date", None
    elif case == "type":
        bad["duration"] = bad["duration"].astype(object)
        bad.loc[2, "duration"] = "long"
        column, rows = "duration", "row 3"
    elif case == "end_before_start":
        bad.loc[[1, 4], "stop_date"] = "1800-01-01"
        column, rows = "stop_date", "rows 2, 5"
    elif case == "duplicate":
        bad.loc[3, "arrangement_id"] = bad.loc[0, "arrangement_id"]
        column, rows = "arrangement_id", "rows 1, 4"
    elif case == "duration":
        bad.loc[5, "duration"] = -1.0
        column, rows = "duration", "row 6"
    elif case == "ccode":
        bad.loc[6, "ccode2"] = 9999
        column, rows = "ccode2", "row 7"
    elif case == "level":
        bad.loc[0, "form"] = "alliance"
        column, rows = "form", "row 1"
    elif case == "empty_required":
        bad.loc[8, "ended"] = np.nan
        column, rows = "ended", "row 9"
    else:
        bad.loc[7, "ended"] = 2
        column, rows = "ended", "row 8"
    with pytest.raises(DataError) as info:
        ds.validate(bad, "arrangements", "mine.csv")
    message = str(info.value)
    assert f"'{column}'" in message and "mine.csv" in message
    if rows:
        assert rows in message


def test_validate_spells_need_positive_length(spells):
    bad = spells.head(6).copy().reset_index(drop=True)
    bad.loc[4, "stop"] = bad.loc[4, "start"]
    with pytest.raises(DataError, match=r"column 'stop'.*row 5"):
        ds.validate(bad, "arrangement_years", "spells.dta")


def test_validate_suggests_renames(good):
    bad = good.rename(columns={"start_date": "startdate"})
    with pytest.raises(DataError, match="'startdate' -> 'start_date'"):
        ds.validate(bad, "arrangements", "mine.csv")


def test_validate_rejects_unknown_unit(good):
    with pytest.raises(DataError, match="unknown unit"):
        ds.validate(good, "alliances", "mine.csv")


# ------------------------------------------------------------------ read_table and describe

def test_read_table_by_extension(tmp_path, good, monkeypatch):
    good.to_csv(tmp_path / "a.csv", index=False)
    pd.testing.assert_frame_equal(ds.read_table(tmp_path / "a.csv"), good, check_dtype=False)
    good.to_stata(tmp_path / "a.dta", write_index=False)
    assert list(ds.read_table(tmp_path / "a.dta").columns) == list(good.columns)
    (tmp_path / "a.sav").touch()
    with pytest.raises(DataError, match="supported"):
        ds.read_table(tmp_path / "a.sav")
    with pytest.raises(DataError, match="does not exist"):
        ds.read_table(tmp_path / "nope.csv")
    import c2stats.datasets.schema as v

    def no_module(name):
        raise ImportError(name)

    monkeypatch.setattr(v.importlib, "import_module", no_module)
    (tmp_path / "a.parquet").touch()
    with pytest.raises(DataError, match="pip install pyarrow"):
        ds.read_table(tmp_path / "a.parquet")


def test_describe_counts_forms_decades_events(arrangements, dyad_years):
    text = ds.describe(arrangements)
    assert "formal" in text and "informal" in text and "decade" in text and "censored" in text
    n_formal = int((arrangements["form"] == "formal").sum())
    assert f"{n_formal}" in text
    assert "onset_formal" in ds.describe(dyad_years)


# ------------------------------------------------------------------ rDMC network-enabling platforms
# Numbers typed in from tests/reference/rdmc/rdmc_lookup.txt: the output of rdmc_lookup.R, base R
# reading the raw rDMC_wide_v1.rds (Gannon 2023) independently of c2stats (see PROVENANCE.md).
# "n" is the sum of the ten classes after carrying a missing count forward; netech = log1p(n).

RDMC_US_2010 = {  # USA (ccode 2) 2010, raw counts in rDMC
    "aircraft_aew": 115, "aircraft_ew": 152, "aircraft_recon-surveil": 1967, "helicopters_ew": 0,
    "unmanned aerial vehicles_recon-surveil": 5186, "unmanned aerial vehicles_combat": 185,
    "radars_air defense/early warning": 94, "radars_ISR/battlefield surveil": 312,
    "radars_communications": 9, "logistics and support_surveillance and intelligence": 8,
}
NETECH = {  # (ccode, year): (log1p(n) from R, uav from R)
    (2, 2010): (8.990815, 1), (200, 2010): (5.556828, 1), (2, 1995): (8.117611, 1),
    (365, 1995): (6.190315, 0), (200, 1995): (4.510860, 0), (666, 1995): (4.143135, 0),
    (365, 2010): (5.147494, 0), (666, 2010): (3.806662, 1), (2, 2014): (7.530480, 1),
    (200, 2014): (5.231109, 1),
}


def _expected(c1: int, c2: int, year: int) -> tuple[float, float, float]:
    (x, ux), (y, uy) = NETECH[(c1, year)], NETECH[(c2, year)]
    return round(max(x, y), 3), round(min(x, y), 3), float(max(ux, uy))


def test_rdmc_extract_matches_the_raw_file():
    r = source("rdmc_v1.csv.gz")
    assert len(r) == 6534 and r["year"].min() == 1970 and r["year"].max() == 2014
    assert not r.duplicated(["ccode", "year"]).any()
    assert list(r.columns) == ["ccode", "year", *B.RDMC_NETECH_CLASSES]
    us = r[(r["ccode"] == 2) & (r["year"] == 2010)].iloc[0]
    assert {k: int(us[k]) for k in RDMC_US_2010} == RDMC_US_2010
    uk = r[(r["ccode"] == 200) & (r["year"] == 2010)].iloc[0]
    assert np.isnan(uk["unmanned aerial vehicles_recon-surveil"])  # NA in rDMC
    assert uk["unmanned aerial vehicles_combat"] == 44 and uk["radars_air defense/early warning"] == 150
    ru = r[(r["ccode"] == 365) & (r["year"] == 1995)].iloc[0]
    assert np.isnan(ru["aircraft_recon-surveil"]) and ru["aircraft_ew"] == 60
    assert not ((r["ccode"] == 760) & (r["year"] == 2000)).any()  # Bhutan: no rDMC row


def test_rdmc_state_values_carry_missing_counts_forward():
    state = B.rdmc_netech(source("rdmc_v1.csv.gz")).set_index(["ccode", "year"])
    for key, (netech, uav) in NETECH.items():
        assert state.loc[key, "netech"] == pytest.approx(netech, abs=1e-6), key
        assert state.loc[key, "uav"] == uav, key
    # Albania 1970: every class counted 0 or missing before any count
    assert state.loc[(339, 1970), "netech"] == 0.0
    # Russia 1995: reconnaissance aircraft missing; zero-filling would give log1p(157)
    assert state.loc[(365, 1995), "netech"] > np.log1p(157) + 1


def test_netech_at_formation_and_per_year(arrangements, spells, dyad_years):
    arr = arrangements.set_index("arrangement_id")
    for aid, year in (("DCADv1.0-1302", 1995), ("DCADv1.0-1303", 2010)):  # Russia-Israel DCAs
        row = arr.loc[aid]
        assert (row["ccode1"], row["ccode2"], row["start_year"]) == (365, 666, year)
        assert (row["netech_max"], row["netech_min"], row["uav_any"]) == _expected(365, 666, year)
    nato = spells[(spells["arrangement_id"] == "ATOP3180-2-200") & (spells["year"] == 1995)].iloc[0]
    assert (nato["netech_max"], nato["netech_min"], nato["uav_any"]) == _expected(2, 200, 1995)
    dy = dyad_years.set_index(["ccode1", "ccode2", "year"])
    for c1, c2, year in ((2, 200, 2010), (2, 365, 1995), (200, 365, 1995)):
        row = dy.loc[(c1, c2, year)]
        assert (row["netech_max"], row["netech_min"], row["uav_any"]) == _expected(c1, c2, year)
    assert dy.loc[(200, 365, 1995), "uav_any"] == 0.0
    assert np.isnan(dy.loc[(2, 760, 2000), "netech_max"])  # Bhutan has no rDMC row


def test_netech_dyad_values_are_the_max_and_min_of_the_two_states(arrangements, spells, dyad_years):
    state = B.rdmc_netech(source("rdmc_v1.csv.gz")).set_index(["ccode", "year"])
    for frame, year in ((arrangements, "start_year"), (spells, "year"), (dyad_years, "year")):
        f = frame.sample(n=min(len(frame), 20000), random_state=1)
        a = state.reindex(pd.MultiIndex.from_arrays([f["ccode1"], f[year]]))
        b = state.reindex(pd.MultiIndex.from_arrays([f["ccode2"], f[year]]))
        both = a["netech"].notna().to_numpy() & b["netech"].notna().to_numpy()
        assert both.sum() > 1000
        for col in ("netech_max", "netech_min", "uav_any"):
            assert (f[col].notna().to_numpy() == both).all(), col
        hi = np.fmax(a["netech"].to_numpy(), b["netech"].to_numpy())[both]
        lo = np.fmin(a["netech"].to_numpy(), b["netech"].to_numpy())[both]
        np.testing.assert_allclose(f["netech_max"].to_numpy()[both], hi, atol=5e-4)
        np.testing.assert_allclose(f["netech_min"].to_numpy()[both], lo, atol=5e-4)
        uav = np.fmax(a["uav"].to_numpy(), b["uav"].to_numpy())[both]
        assert (f["uav_any"].to_numpy()[both] == uav).all()
        assert (f["netech_max"] >= f["netech_min"]).where(f["netech_max"].notna(), True).all()


def test_netech_is_missing_outside_1970_2014(arrangements):
    outside = ~arrangements["start_year"].between(1970, 2014)
    assert outside.sum() > 2000
    assert arrangements.loc[outside, ["netech_max", "netech_min", "uav_any"]].isna().all().all()
    src = B.read_sources()
    keys = pd.DataFrame({"ccode1": [2, 2, 2, 2], "ccode2": [200, 200, 200, 200],
                         "year": [1969, 1970, 2014, 2015]})
    cov = B.dyad_covariates(keys, B.state_year_panel(src), B.dyad_year_tables(src))
    assert cov["netech_max"].isna().tolist() == [True, False, False, True]
    assert cov.loc[2, "netech_max"] == pytest.approx(NETECH[(2, 2014)][0], abs=1e-6)
    assert cov.loc[2, "netech_min"] == pytest.approx(NETECH[(200, 2014)][0], abs=1e-6)
    assert cov.loc[1, "netech_max"] == pytest.approx(5.262690, abs=1e-6)  # US 1970, n = 192


# ------------------------------------------------------------------ comparable indices and variants

def test_common_index_averages_the_cells_both_forms_score():
    arr = load_builtin("arrangements")
    cells = ["c2_decision_rights_ps", "c2_interaction_patterns_op", "c2_information_distribution_op",
             "c2_technology_leverage_ps", "c2_technology_leverage_op"]
    expected = arr[cells].mean(axis=1)  # pandas skips missing cells, as the rule says
    np.testing.assert_allclose(arr["c2_common"].to_numpy(), expected.round(6).to_numpy(), atol=1.5e-6)
    # informal arrangements have no political-strategic information or interaction item and no
    # operational decision-rights item; c2_common averages the same five cells for both forms
    informal = arr[arr["form"] == "informal"]
    assert informal[["c2_information_distribution_ps", "c2_interaction_patterns_ps",
                     "c2_decision_rights_op"]].isna().all().all()
    assert informal["c2_common"].notna().all()


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """One non-default build: another coding, a shorter window, directed dyads."""
    from c2stats.config import DatasetRef
    from c2stats.data import load_dataset

    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("C2STATS_CACHE_DIR")
    os.environ["C2STATS_CACHE_DIR"] = str(cache)
    try:
        refs = {unit: DatasetRef(path=unit, coding="provisions_only", window=(1990, 2000),
                                 directed=(unit == "dyad_years"))
                for unit in ("arrangements", "arrangement_years", "dyad_years")}
        yield {unit: load_dataset(ref) for unit, ref in refs.items()}, refs, cache
    finally:
        if old is None:
            os.environ.pop("C2STATS_CACHE_DIR", None)
        else:
            os.environ["C2STATS_CACHE_DIR"] = old


def test_variant_window_and_direction(variant):
    loaded, _, _ = variant
    dy = loaded["dyad_years"].frame
    assert dy["year"].between(1990, 2000).all() and set(dy["year"]) == set(range(1990, 2001))
    ay = loaded["arrangement_years"].frame
    assert ay["year"].between(1990, 2000).all()
    # directed: every (a, b, year) has its mirror, and the undirected half is the shipped one in the window
    shipped = load_builtin("dyad_years")
    shipped = shipped[shipped["year"].between(1990, 2000)]
    assert len(dy) == 2 * len(shipped)
    half = dy[dy["ccode1"] < dy["ccode2"]].reset_index(drop=True)
    # (status may differ: the other coding censors DCAD agreements of unknown status differently)
    pd.testing.assert_frame_equal(half[["ccode1", "ccode2", "year"]],
                                  shipped[["ccode1", "ccode2", "year"]].reset_index(drop=True))
    key = set(zip(dy["ccode1"], dy["ccode2"], dy["year"]))
    assert all((b, a, y) in key for a, b, y in list(key)[:500])
    assert "window=1990-2000" in loaded["dyad_years"].name and "directed" in loaded["dyad_years"].name


def test_variant_coding_changes_the_indices_and_is_cached(variant):
    from c2stats.data import load_dataset

    loaded, refs, cache = variant
    arr = loaded["arrangements"].frame
    assert "c2i_mme_exercise" not in arr.columns  # provisions_only has no behavioural items
    assert loaded["arrangements"].data_hash != builtin_hash("arrangements")
    folders = sorted(p.name for p in (cache / "datasets").iterdir())
    assert len(folders) == 2  # one build for the undirected units, one for directed dyad-years
    again = load_dataset(refs["arrangements"])
    assert again.data_hash == loaded["arrangements"].data_hash
    assert sorted(p.name for p in (cache / "datasets").iterdir()) == folders


@pytest.mark.parametrize("body, message", [
    ({"path": "data.csv", "coding": "default"}, "apply to the shipped units"),
    ({"path": "arrangements", "directed": True}, "directed applies to dyad_years only"),
    ({"path": "dyad_years", "window": [1700, 2000]}, "1816 <= first <= last <= 2014"),
    ({"path": "dyad_years", "window": [2000, 1990]}, "1816 <= first <= last <= 2014"),
])
def test_variant_keys_are_validated(write_toml, body, message):
    from c2stats.config import load_analysis
    from c2stats.errors import ConfigError

    ds = ", ".join(f"{k} = {v!r}".replace("True", "true").replace("'", '"') for k, v in body.items())
    path = write_toml(f"""
[analysis]
id = "a"
title = "t"
dataset = {{ {ds} }}
""")
    with pytest.raises(ConfigError, match=message) as info:
        load_analysis(path)
    assert "analysis (id 'a').dataset (line 5)" in str(info.value)


def test_dyad_year_onset_category_matches_the_indicators():
    dy = load_builtin("dyad_years")
    expected = np.where(dy["onset_formal"].eq(1) & dy["onset_informal"].eq(1), "both",
                        np.where(dy["onset_formal"].eq(1), "formal",
                                 np.where(dy["onset_informal"].eq(1), "informal", "none")))
    assert (dy["onset"].astype(str).to_numpy() == expected).all()
    assert list(dy["onset"].cat.categories) == ["none", "formal", "informal", "both"]
