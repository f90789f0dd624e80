"""Data rules repaired after the methodologist's audit (docs/study-audit-data.md), pinned on named
cases of the raw sources.

Every expected value is read from the vendored source files (DCAD, ATOP, MME) or from the source
codebooks, never from the build under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats.datasets as ds
from c2stats.datasets import stages as B
from c2stats.datasets.coding import load_coding

SOURCES = Path(ds.__file__).parent / "sources"
BUILT = Path(ds.__file__).parent / "built"
END_OF_DCAD = pd.Timestamp("2010-12-31")


def source(name: str) -> pd.DataFrame:
    return pd.read_csv(SOURCES / name, low_memory=False)


@pytest.fixture(scope="module")
def arrangements() -> pd.DataFrame:
    return ds.load_builtin("arrangements").set_index("arrangement_id", drop=False)


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return ds.load_builtin("arrangement_years")


@pytest.fixture(scope="module")
def log() -> dict:
    return json.loads((BUILT / "codebook.json").read_text(encoding="utf-8"))["build_log"]


@pytest.fixture(scope="module")
def dcad() -> pd.DataFrame:
    return source("DCAD-v1.0-main.csv.gz").set_index("DCAid")


def atop_sources(*atopids: int) -> dict[str, pd.DataFrame]:
    """The ATOP files restricted to some alliances (enough for the formal-dyad stage)."""
    out = {"atop_m": source("atop5_1m.csv.gz"), "atop_aph": source("atop5_1aph.csv.gz"),
           "atop_inst": source("atopinst5_1.csv.gz"), "atop_a": source("atop5_1a.csv.gz")}
    return {k: v[v["atopid"].isin(atopids)].reset_index(drop=True) for k, v in out.items()}


# ------------------------------------------------------------------ 2: DCAD endings

def test_dcad_0009_ended_after_coverage_so_it_is_censored(arrangements, dcad):
    raw = dcad.loc["DCADv1.0-0009"]
    assert raw["terminated"] == 1 and raw["signYear"] == 1983 and raw["durationActual"] == 29
    assert raw["endYearEstimate"] == 2010  # DCAD's estimate is capped at its last year
    row = arrangements.loc["DCADv1.0-0009"]
    assert row["ended"] == 0 and row["end_type"] == "censored" and row["end_reason"] == "in_effect"
    assert row["stop_date"] == END_OF_DCAD
    assert row["dcad_duration_actual"] == 29


def test_dcad_terminated_agreements_end_in_sign_year_plus_duration(arrangements, dcad, log):
    term = dcad[dcad["terminated"] == 1]
    end_year = term["signYear"] + term["durationActual"]
    late = sorted(term.index[end_year > 2010])
    assert len(term) == 43 and len(late) == 15  # DCAD 1.0; the audit's count
    assert log["dcad_end_dating"]["censored_ended_after_2010"] == late
    inside = term.index[end_year <= 2010]
    built = arrangements.loc[inside]
    assert (built["ended"] == 1).all() and (built["end_reason"] == "unknown").all()
    assert (built["end_year"].to_numpy() == end_year[inside].to_numpy()).all()
    assert (built["end_type"] == "failure").all()
    assert (arrangements.loc[late, "ended"] == 0).all()


def test_unknown_status_stays_censored_and_kinne_variant_is_a_coding(arrangements, dcad):
    unknown = dcad.index[dcad["terminated"].isin([-88, -99])].intersection(arrangements.index)
    assert len(unknown) == 1097  # the audit's count (two of 1,099 are excluded rows)
    assert (arrangements.loc[unknown, "end_reason"] == "status_unknown").all()
    assert (arrangements.loc[unknown, "stop_date"] == END_OF_DCAD).all()
    kinne, default = load_coding("kinne_event"), load_coding("default")
    assert kinne.options["dcad_unknown_status"] == "kinne_event"
    assert [it.name for it in kinne.items] == [it.name for it in default.items]


# ------------------------------------------------------------------ 3, 6: follow-up and end types

def test_weu_renegotiation_is_a_transformation_after_the_common_follow_up(arrangements):
    alliance = source("atop5_1a.csv.gz").set_index("atopid").loc[3130]
    assert (alliance["endyr"], alliance["endmo"], alliance["endday"]) == (2011, 6, 30)
    termmode = source("atop5_1m.csv.gz").query("atopid == 3130 and yrexit == 2011")["termmode"]
    assert set(termmode) == {2}  # ATOP TERMMODE 2: renegotiated / replaced
    weu = arrangements[arrangements["source_id"] == "3130"]
    last = weu[weu["source_end_reason"] == "renegotiated"]
    assert len(last) > 0 and (last["source_end_type"] == "transformation").all()
    # default follow-up ends with DCAD's coverage: the 2011 dissolution is not observed
    assert (last["ended"] == 0).all() and (last["stop_date"] == END_OF_DCAD).all()
    assert (last["end_type"] == "censored").all()
    # followed to 2018 (the option), the same dyads end in 2011 as transformations
    frame = B.atop_dyads(atop_sources(3130), load_coding())
    frame["form"] = "formal"
    frame["source_end_reason"] = frame["end_reason"]
    late, _ = B.apply_follow_up(frame, 2018)
    ended = late[late["end_reason"] == "renegotiated"]
    assert len(ended) == len(last)
    assert (ended["stop_date"] == pd.Timestamp("2011-06-30")).all()
    assert (B.end_types(ended["end_reason"]) == "transformation").all()
    early, log = B.apply_follow_up(frame, 2010)
    assert (early.loc[early["source_end_reason"] == "renegotiated", "end_reason"] == "in_effect").all()
    assert log["endings_censored"]["formal"] == len(last)


def test_follow_up_is_common_to_both_forms(arrangements, log):
    assert (arrangements["stop_date"] <= END_OF_DCAD + pd.Timedelta(days=1)).all()
    assert (arrangements["data_end"] == END_OF_DCAD).all()
    alliances = source("atop5_1a.csv.gz")
    formal = set(arrangements.loc[arrangements["form"] == "formal", "source_id"])
    left_out = set(log["follow_up"]["left_out_alliances"])
    assert formal | left_out == set(alliances["atopid"].astype(str)) and not formal & left_out
    # an alliance is left out exactly when ATOP dates its beginning after 2010
    assert left_out == set(alliances.loc[alliances["begyr"] > 2010, "atopid"].astype(str))


def test_end_types_follow_the_source_reasons(arrangements):
    members = source("atop5_1m.csv.gz")
    pact = members[members["atopid"] == 2470]  # German-Soviet pact: both members TERMMODE 3
    assert set(pact["termmode"]) == {3}
    assert arrangements.loc["ATOP2470-255-365", "end_type"] == "failure"
    ended = arrangements[arrangements["ended"] == 1]
    assert set(ended["end_type"]) <= {"failure", "transformation", "other"}
    assert (ended.loc[ended["end_reason"] == "renegotiated", "end_type"] == "transformation").all()
    assert (ended.loc[ended["end_reason"].isin(["violation", "unknown"]), "end_type"] == "failure").all()
    assert (arrangements.loc[arrangements["ended"] == 0, "end_type"] == "censored").all()


def test_spells_carry_the_treaty_id_and_competing_events(arrangements, spells):
    assert spells["source_id"].notna().all()
    ids = arrangements.set_index("arrangement_id")["source_id"]
    assert (spells["source_id"].to_numpy() == ids.reindex(spells["arrangement_id"]).to_numpy()).all()
    nato = spells[spells["source_id"] == "3180"]
    assert nato["arrangement_id"].nunique() > 100  # many dyads, one cluster
    assert (spells["event_failure"] + spells["event_transformation"] <= spells["event"]).all()
    last = spells[spells["event"] == 1]
    expected = arrangements.set_index("arrangement_id").loc[last["arrangement_id"], "end_type"]
    assert (last["end_type"].astype(str).to_numpy() == expected.astype(str).to_numpy()).all()


# ------------------------------------------------------------------ 4: behaviour before signature

def _mme_count(first: str, second: str, years: tuple[int, int]) -> int:
    mme = source("mme_v7.csv.gz")
    cols = [c for c in mme.columns if c.startswith("State")]
    names = mme[cols].apply(lambda s: s.astype(str).str.strip())
    both = names.eq(first).any(axis=1) & names.eq(second).any(axis=1)
    return int((both & mme["s.year"].between(*years)).sum())


def test_exercises_after_signature_no_longer_count(arrangements):
    row = arrangements.loc["DCADv1.0-0087"]  # United States - Finland, signed 1991-10-24
    assert (row["ccode1"], row["ccode2"], row["start_year"]) == (2, 375, 1991)
    before, after = _mme_count("United States", "Finland", (1986, 1990)), _mme_count(
        "United States", "Finland", (1991, 1995))
    assert before == 0 and after > 0
    assert row["mme_exercises_pre"] == before and row["mme_exercises_post"] == after
    assert row["c2i_mme_exercise"] == 0.0  # the former measure scored 1


def test_behaviour_window_must_be_covered(arrangements):
    early = arrangements[arrangements["start_year"].between(1980, 1984)]
    assert len(early) > 0 and early["mme_exercises_pre"].isna().all()  # MME starts in 1980
    later = arrangements[arrangements["start_year"].between(1985, 2010)]
    assert later["mme_exercises_pre"].notna().all()
    dropped = load_coding("no_behaviour")
    assert {it.name for it in load_coding().items} - {it.name for it in dropped.items} == {
        "mme_exercise", "sipri_transfer"}


# ------------------------------------------------------------------ 5: crosswalk

def test_no_dcad_topic_scores_above_its_atop_counterpart():
    coding = load_coding()
    for cell in {(it.dimension, it.level) for it in coding.items}:
        items = [it for it in coding.items if (it.dimension, it.level) == cell]
        top = {form: max((max(it.scores.values()) if it.scores else 1.0) for it in items
                         if it.form == form and it.variable.startswith(("dcad", "organ", "milcon",
                                                                          "intcom", "subord", "contrib",
                                                                          "base", "consul", "armred",
                                                                          "milaid")))
               for form in ("formal", "informal") if any(it.form == form for it in items)}
        if "informal" in top:
            assert top["informal"] <= top.get("formal", 0.0), cell
    commission = next(it for it in coding.items if it.name == "dcad_commission")
    assert commission.scores[1.0] == pytest.approx(1 / 3, abs=1e-6)  # ATOP ORGAN 1, not 3


def test_information_distribution_is_comparable_across_forms(arrangements):
    informal = arrangements[arrangements["form"] == "informal"]
    dca = informal["dcad_dca"] == 1
    assert (informal.loc[dca, "c2_common_information_distribution"] == 1).all()
    assert (informal.loc[~dca, "c2_common_information_distribution"] == 0).all()


# ------------------------------------------------------------------ 8: treaties and joiners

def test_a_later_accession_to_the_african_union_is_a_joiner():
    members = source("atop5_1m.csv.gz").query("atopid == 4953")
    south_sudan = members[members["member"] == 626]
    assert south_sudan["yrent"].tolist() == [2013]  # acceded 2013-01-24
    first = members.assign(d=pd.to_datetime(dict(year=members["yrent"], month=members["moent"],
                                                 day=members["dayent"]))).d.min()
    assert first == pd.Timestamp("2000-07-12")
    dyads = B.atop_dyads(atop_sources(4953), load_coding())
    dyads["form"] = "formal"
    dyads["joiner"] = B.flag_joiners(dyads)
    with_626 = (dyads["ccode1"] == 626) | (dyads["ccode2"] == 626)
    assert dyads.loc[with_626, "joiner"].eq(1).all() and with_626.sum() == 52
    # signatories of 2000-07-12 .. 2001-03-02 are founders, not joiners
    assert dyads.loc[~with_626, "joiner"].eq(0).all()


def test_weu_accessions_are_joiners_and_the_treaty_is_one_agreement(arrangements):
    members = source("atop5_1m.csv.gz").query("atopid == 3130")
    later = set(members.loc[members["yrent"] >= 1954, "member"])
    assert {230, 235} <= later  # Spain and Portugal acceded in 1990
    weu = arrangements[arrangements["source_id"] == "3130"]
    spain = weu[(weu["ccode1"] == 230) | (weu["ccode2"] == 230)]
    assert spain["joiner"].eq(1).all()
    agreements = ds.load_builtin("agreements").set_index("source_id")
    row = agreements.loc["3130"]
    assert row["n_dyads"] + row["n_joiner_dyads"] == len(weu)
    assert row["start_date"] == pd.Timestamp("1948-03-17")  # ATOP begin date of the Brussels Treaty
    assert row["n_members"] == len(set(members.loc[members["yrent"] == 1948, "member"]))


def test_agreements_unit_is_one_row_per_treaty_or_dca(arrangements, dcad):
    agreements = ds.load_builtin("agreements")
    assert agreements["source_id"].is_unique
    informal = agreements[agreements["form"] == "informal"].set_index("source_id")
    assert len(informal) == len(dcad) - 2  # two DCAD rows name one state twice
    assert (informal["n_dyads"] == 1).all() and (informal["n_joiner_dyads"] == 0).all()
    dyad = arrangements.set_index("arrangement_id").loc[informal.index]
    for col in ("log_cap_ratio", "joint_democracy", "c2_common", "mps_log_rel_max"):
        np.testing.assert_allclose(informal[col].to_numpy(dtype=float), dyad[col].to_numpy(dtype=float),
                                   atol=1e-5, equal_nan=True)
    au = agreements.set_index("source_id").loc["4953"]
    assert au["n_members"] == 52 and au["n_dyads"] == 52 * 51 // 2


def test_dyad_year_onsets_name_their_treaty(arrangements):
    dy = ds.load_builtin("dyad_years")
    onset = dy["onset"].astype(str) != "none"
    assert dy.loc[onset, "onset_source_id"].notna().all()
    assert dy.loc[~onset, "onset_source_id"].isna().all()
    row = dy[(dy["ccode1"] == 2) & (dy["ccode2"] == 375) & (dy["year"] == 1991)].iloc[0]
    assert row["onset_source_id"] == "DCADv1.0-0087"
