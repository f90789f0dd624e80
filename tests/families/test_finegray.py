"""Fine-Gray family against R: survival::finegray + weighted coxph, and cmprsk::crr (tests/reference/finegray/).

R (survival 3.5-3): ``fg <- finegray(Surv(time, factor(status)) ~ ., data, etype = <cause>)`` then
``coxph(Surv(fgstart, fgstop, fgstatus) ~ x [+ cluster(g)], weights = fgwt, data = fg, robust = FALSE)``
on MASS::Melanoma (1 = died of melanoma, 2 = alive = censored, 3 = other death) and survival::pbc
(0 = censored, 1 = transplant, 2 = death).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats import load_result
from c2stats.errors import ConfigError, DataError, SpecificationError, UserInputError
from c2stats.families._finegray_engine import finegray_expand
from c2stats.families.finegray import Finegray, cause_codes

REF = Path(__file__).resolve().parents[1] / "reference" / "finegray"
MELANOMA = {"family": "finegray", "formula": "~ sex + age + log(thickness) + ulcer", "time": "time",
            "event": "status", "event_value": 1, "options": {"censor_value": 2, "eps": 1e-12}}
COUNTING = {"family": "finegray", "formula": "~ age + edema + log(bili) + log(albumin)", "time": "tstop",
            "start": "tstart", "event": "endpt", "event_value": 2, "options": {"censor_value": 0, "id": "id", "eps": 1e-12}}
PBC = {"family": "finegray", "formula": "~ age + log(bili) + albumin + edema", "time": "time", "event": "status",
       "event_value": 2, "options": {"censor_value": 0, "eps": 1e-12}}


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "finegray.json").read_text())


@pytest.fixture(scope="module")
def melanoma() -> pd.DataFrame:
    return pd.read_csv(REF / "melanoma.csv")


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    return pd.read_csv(REF / "pbc.csv")


@pytest.fixture(scope="module")
def pbcseq() -> pd.DataFrame:
    return pd.read_csv(REF / "pbcseq_counting.csv")


def assert_matches(result, expected: dict, *, se_key: str = "se", atol: float = 1e-6) -> None:
    tidy = result.tidy.set_index("term")
    assert sorted(tidy.index) == sorted(expected["coef"])
    for term, value in expected["coef"].items():
        assert tidy.loc[term, "estimate"] == pytest.approx(value, abs=atol), term
    se = expected[se_key]
    se = se if isinstance(se, dict) else dict(zip(expected["coef"], se))
    for term, value in se.items():
        assert tidy.loc[term, "std_error"] == pytest.approx(value, abs=atol), term
    vcov = result.frames["vcov"].set_index("term").loc[list(expected["coef"]), list(expected["coef"])].to_numpy()
    if se_key == "se":
        np.testing.assert_allclose(vcov, np.asarray(expected["vcov"]), rtol=0, atol=atol)
    assert result.glance["loglik"] == pytest.approx(expected["loglik"], abs=1e-6)
    assert result.glance["loglik_null"] == pytest.approx(expected["loglik_null"], abs=1e-6)
    assert result.glance["score_test"] == pytest.approx(expected["score_test"], abs=1e-6)
    assert result.glance["n_events"] == expected["n_events"]
    assert result.glance["n_expanded"] == expected["n_expanded"]
    if result.raw is not None:  # a fit in this session (not reloaded from disk)
        assert result.raw.expansion.weight.sum() == pytest.approx(expected["sum_fgwt"], rel=1e-12)  # R: sum(fgwt)


def test_expanded_data_is_finegrays(melanoma):
    """Rows, intervals, status and weights of R's finegray() on Melanoma, row for row."""
    expected = pd.read_csv(REF / "melanoma_expanded.csv")
    cause = melanoma["status"].map({2: 0, 1: 1, 3: 2}).to_numpy()
    fg = finegray_expand(melanoma["time"].to_numpy(), cause)
    np.testing.assert_array_equal(melanoma["id"].to_numpy()[fg.row], expected["id"])
    np.testing.assert_array_equal(fg.start, expected["fgstart"])
    np.testing.assert_array_equal(fg.stop, expected["fgstop"])
    np.testing.assert_array_equal(fg.status, expected["fgstatus"])
    np.testing.assert_allclose(fg.weight, expected["fgwt"], rtol=1e-14)


def test_expanded_data_with_censoring_strata(melanoma):
    """finegray(... + strata(ulcer)): one censoring curve per stratum, rows written stratum by stratum."""
    expected = pd.read_csv(REF / "melanoma_cstrata_expanded.csv")
    cause = melanoma["status"].map({2: 0, 1: 1, 3: 2}).to_numpy()
    fg = finegray_expand(melanoma["time"].to_numpy(), cause, strata=melanoma["ulcer"].to_numpy())
    np.testing.assert_array_equal(melanoma["id"].to_numpy()[fg.row], expected["id"])
    np.testing.assert_array_equal(fg.stop, expected["fgstop"])
    np.testing.assert_allclose(fg.weight, expected["fgwt"], rtol=1e-14)


def test_expanded_data_with_delayed_entry(pbcseq):
    """(start, stop] rows with an id, some subjects entering late: R's weights include the entry distribution."""
    frame = pbcseq[pbcseq["delayed_sample"]]
    expected = pd.read_csv(REF / "pbcseq_delayed_expanded.csv")
    cause = frame["endpt"].map({0: 0, 2: 1, 1: 2}).to_numpy()
    fg = finegray_expand(frame["tstop"].to_numpy(), cause, entry=frame["tstart"].to_numpy(),
                         subject=frame["id"].to_numpy())
    np.testing.assert_array_equal(frame["id"].to_numpy()[fg.row], expected["id"])
    np.testing.assert_array_equal(fg.start, expected["fgstart"])
    np.testing.assert_array_equal(fg.stop, expected["fgstop"])
    np.testing.assert_array_equal(fg.status, expected["fgstatus"])
    np.testing.assert_allclose(fg.weight, expected["fgwt"], rtol=1e-13)


CASES = [
    # (reference case, data, base spec, changes)
    ("melanoma_model", "melanoma", MELANOMA, {}),
    ("melanoma_cluster_id", "melanoma", MELANOMA, {"vcov": "robust"}),
    ("melanoma_cluster_id", "melanoma", MELANOMA, {"vcov": {"type": "cluster", "groups": "id"}}),
    ("melanoma_cluster_year", "melanoma", MELANOMA, {"vcov": {"type": "cluster", "groups": "year"}}),
    ("melanoma_breslow", "melanoma", MELANOMA, {"options": {"censor_value": 2, "eps": 1e-12, "ties": "breslow"}}),
    ("melanoma_breslow_cluster_id", "melanoma", MELANOMA,
     {"options": {"censor_value": 2, "eps": 1e-12, "ties": "breslow"}, "vcov": "robust"}),
    ("melanoma_other_cluster_id", "melanoma", MELANOMA, {"event_value": 3, "vcov": "robust"}),
    ("melanoma_cluster_id", "melanoma", MELANOMA,  # text categories, censoring given as a list
     {"event": "cause", "event_value": "melanoma", "options": {"censor_value": ["alive"], "eps": 1e-12},
      "vcov": "robust"}),
    ("pbc_model", "pbc", PBC, {}),
    ("pbc_cluster_id", "pbc", PBC, {"vcov": {"type": "cluster", "groups": "id"}}),
    ("pbc_weighted_cluster_id", "pbc", PBC, {"weights": "w", "vcov": "robust"}),
    ("melanoma_cstrata_ulcer_cluster_id", "melanoma", MELANOMA,
     {"options": {"censor_value": 2, "eps": 1e-12, "censoring_strata": "ulcer"}, "vcov": "robust"}),
    ("melanoma_cstrata_year_cluster_id", "melanoma", MELANOMA,  # 4 years without melanoma deaths: rows dropped
     {"options": {"censor_value": 2, "eps": 1e-12, "censoring_strata": ["year"]}, "vcov": "robust"}),
    ("pbcseq_counting_model", "pbcseq", COUNTING, {}),
    ("pbcseq_counting_cluster_id", "pbcseq", COUNTING, {"vcov": "robust"}),
    ("pbcseq_counting_cluster_id", "pbcseq", COUNTING, {"vcov": {"type": "cluster", "groups": "id"}}),
    ("pbcseq_delayed_cluster_id", "pbcseq_delayed", COUNTING, {"vcov": "robust"}),
    ("pbc_cstrata_sex_strata_sex_cluster_id", "pbc", PBC,
     {"options": {"censor_value": 0, "eps": 1e-12, "censoring_strata": "sex", "strata": "sex"},
      "vcov": {"type": "cluster", "groups": "id"}}),
]


@pytest.mark.parametrize("case, data, base, changes", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_finegray_coxph(ref, melanoma, pbc, pbcseq, case, data, base, changes):
    frame = {"melanoma": melanoma, "pbc": pbc, "pbcseq": pbcseq,
             "pbcseq_delayed": pbcseq[pbcseq["delayed_sample"]]}[data]
    result = c2stats.fit({**base, **changes}, frame)
    assert_matches(result, ref[case])
    vcov = changes.get("vcov")
    subjects = frame["id"].nunique()
    if isinstance(vcov, dict):  # R: length(unique(<cluster column>)) on the expanded data
        assert result.glance["n_clusters"] == ref[case].get("n_clusters", subjects)
    dropped = ref[case].get("dropped_ids", [])
    assert result.glance["n_dropped"] == len(dropped) and result.glance["nobs"] == len(frame) - len(dropped)
    assert result.glance["n_subjects"] == subjects - len(dropped)
    if dropped:
        assert any("4 of 205 rows left out" in w for w in result.meta["warnings"])


def test_model_se_is_coxphs_naive_variance(ref, melanoma):
    """R's default coxph on finegray data (fractional weights) reports a row-wise robust SE; ours is naive.var."""
    result = c2stats.fit(MELANOMA, melanoma)
    assert_matches(result, ref["melanoma_cluster_id"], se_key="se_model")


@pytest.mark.parametrize("case, vcov", [("melanoma_predicted_cluster_id", "robust"), ("melanoma_predicted_model", "model")])
def test_predicted_incidence_is_one_minus_survfit(ref, melanoma, case, vcov):
    """1 - survfit(fit, newdata): estimate, std.err and (turned-around) log intervals, at every time of R's curve."""
    from c2stats.families._finegray_engine import predicted_incidence

    result = c2stats.fit({**MELANOMA, "vcov": vcov}, melanoma)
    new = np.array([[0, 50, np.log(1.5), 0], [1, 65, np.log(4.0), 1]])  # sex, age, thickness, ulcer as in R's nd
    curves = predicted_incidence(result.raw, new, vcov=result.frames["vcov"].set_index("term").to_numpy())
    expected = ref[case]
    r_time = np.asarray(expected["time"])
    for c in range(2):
        sel = curves.curve == c
        # R lists every time of the expanded data; the curve steps only at event times, flat between
        at = np.searchsorted(curves.time[sel], r_time, side="right") - 1
        for ours, theirs in (("incidence", "cif"), ("std_err", "std_err"), ("conf_low", "cif_low"),
                             ("conf_high", "cif_high")):
            values = np.where(at >= 0, getattr(curves, ours)[sel][np.maximum(at, 0)], 0.0)
            np.testing.assert_allclose(values, np.asarray(expected[theirs])[:, c], rtol=0, atol=1e-8, err_msg=ours)


def test_cumulative_incidence_frame_is_survfits(melanoma):
    """frames["cumulative_incidence"]: the Aalen-Johansen curves of R's multi-state survfit (tests/reference/cif/)."""
    from .test_cif import assert_matches_r

    expected = json.loads((REF.parent / "cif" / "cif.json").read_text())["melanoma_overall"]
    frame = c2stats.fit(MELANOMA, melanoma).frames["cumulative_incidence"]
    assert list(pd.unique(frame["cause"])) == [1, 3]  # the cause of interest first
    assert_matches_r(frame, expected)


# cmprsk::crr solves Fine and Gray's estimating equation with its own handling of times tied between
# censoring and events, and its variance adds a term for the estimated censoring distribution that
# coxph's robust variance leaves out. Observed distance from finegray + coxph + cluster(id) (R output,
# tests/reference/finegray/finegray.json): Melanoma (few ties) coef <= 3.4e-7, SE <= 0.29% relative;
# pbc (tied times) coef <= 2.0e-3 absolute, SE <= 0.19% relative.
@pytest.mark.parametrize("data, spec, case, coef_atol, se_rtol", [
    ("melanoma", MELANOMA, "melanoma_crr", 1e-6, 4e-3),
    ("pbc", PBC, "pbc_crr", 3e-3, 3e-3),
])
def test_close_to_cmprsk_crr(ref, melanoma, pbc, data, spec, case, coef_atol, se_rtol):
    frame = {"melanoma": melanoma, "pbc": pbc}[data]
    tidy = c2stats.fit({**spec, "vcov": "robust"}, frame).tidy.set_index("term")
    crr = ref[case]
    for term, value in crr["coef"].items():
        assert tidy.loc[term, "estimate"] == pytest.approx(value, abs=coef_atol), term
        assert tidy.loc[term, "std_error"] == pytest.approx(crr["se"][term], rel=se_rtol), term


def test_analysis_file_end_to_end(tmp_path, ref, melanoma):
    """A TOML analysis with family = "finegray" runs through c2stats.run and saves R's numbers."""
    melanoma.to_csv(tmp_path / "melanoma.csv", index=False)
    (tmp_path / "fg.toml").write_text(
        """
[analysis]
id = "fg"
title = "Death from melanoma with other deaths competing"
dataset = "melanoma.csv"

[[models]]
id = "fg_melanoma"
family = "finegray"
formula = "~ sex + age + log(thickness) + ulcer"
time = "time"
event = "cause"
event_value = "melanoma"
options = { censor_value = "alive", eps = 1e-12 }
vcov = "robust"

[[tables]]
id = "fg"
models = ["fg_melanoma"]
exponentiate = true
formats = ["md"]
""", encoding="utf-8")
    summary = c2stats.run(tmp_path / "fg.toml", out=tmp_path / "report")
    result = load_result(summary.out / "results" / "fg_melanoma")
    assert_matches(result, ref["melanoma_cluster_id"])
    assert result.meta["family"] == "finegray"
    saved = result.frames["cumulative_incidence"]
    assert list(pd.unique(saved["cause"])) == ["melanoma", "other"]
    np.testing.assert_allclose(saved["estimate"].iloc[-1], c2stats.fit(
        {**MELANOMA, "event": "cause", "event_value": "melanoma", "options": {"censor_value": "alive"}},
        melanoma).frames["cumulative_incidence"]["estimate"].iloc[-1], rtol=1e-12)
    table = (summary.out / "tables" / "fg.md").read_text()
    assert f"{np.exp(ref['melanoma_cluster_id']['coef']['ulcer']):.3f}" in table


# ----------------------------------------------------------------------------------------------
# bad declarations
# ----------------------------------------------------------------------------------------------
def test_missing_event_value(melanoma):
    spec = {key: value for key, value in MELANOMA.items() if key != "event_value"}
    with pytest.raises(SpecificationError, match="event_value") as info:
        Finegray.check_spec(_model(spec))
    assert info.value.where == "event_value"
    with pytest.raises(UserInputError, match="event_value"):  # through fit: the event column is not 0/1
        c2stats.fit(spec, melanoma)


def test_censor_value_equal_to_event_value(melanoma):
    spec = {**MELANOMA, "options": {"censor_value": [2, 1]}}
    with pytest.raises(ConfigError, match="censor_value .* includes event_value 1") as info:  # at load time
        c2stats.fit(spec, melanoma)
    assert info.value.where.endswith(".censor_value")


def test_missing_censor_value(melanoma):
    with pytest.raises(ConfigError, match="needs censor_value") as info:
        c2stats.fit({**MELANOMA, "options": {}}, melanoma)
    assert info.value.where.endswith(".censor_value")


def test_event_value_not_in_the_column(melanoma):
    spec = _model({**MELANOMA, "event_value": 4})
    with pytest.raises(SpecificationError, match=r"event_value 4 does not occur in 'status'.*1, 2, 3") as info:
        cause_codes(spec, melanoma)
    assert info.value.where == "event_value"
    with pytest.raises(SpecificationError):  # through fit: the sample has no events (prepare's check comes first)
        c2stats.fit({**MELANOMA, "event_value": 4}, melanoma)


def test_start_needs_the_subject_id(pbcseq):
    spec = {**COUNTING, "options": {"censor_value": 0}}
    with pytest.raises(ConfigError, match="set options.id to the subject column") as info:
        c2stats.fit(spec, pbcseq)
    assert info.value.where.endswith(".options.id")


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(index=[3]), r"subject 2 has gaps in time \(a row stops at 182, the next starts at 365\)"),
    (lambda f: f.assign(endpt=np.where(f.index == 0, 2, f["endpt"])),
     r"subject 1 has a transition before their last time point \(an event at 192, then more rows\)"),
])
def test_rows_that_are_not_one_follow_up(pbcseq, change, message):
    """R: 'a subject has gaps in time', 'a subject has a transition before their last time point'."""
    with pytest.raises(DataError, match=f"must form one follow-up per subject: {message}"):
        c2stats.fit(COUNTING, change(pbcseq))


def test_unsupported_vcov_and_unknown_option(melanoma):
    with pytest.raises(ConfigError, match="not available for the finegray family"):
        c2stats.fit({**MELANOMA, "vcov": {"type": "dyadic", "groups": ["sex", "ulcer"]}}, melanoma)
    with pytest.raises(ConfigError, match="censor_valu"):
        c2stats.fit({**MELANOMA, "options": {"censor_valu": 2}}, melanoma)


def test_no_censored_row_is_noted(melanoma):
    frame = melanoma[melanoma["status"] != 2]
    result = c2stats.fit(MELANOMA, frame)
    assert any("no row of 'status' has censor_value" in w for w in result.meta["warnings"])


def _model(spec: dict):
    try:
        from c2stats.spec import ModelSpec
    except ImportError:  # before the move of the section specs out of config.py
        from c2stats.config import ModelSpec

    return ModelSpec.model_validate({"id": "model", **spec})


def test_cif_figure_draws_the_saved_cumulative_incidence(melanoma, tmp_path):
    """Figure kind 'cif' draws every cause's curve from the Result alone (saved and reloaded)."""
    import matplotlib

    matplotlib.use("Agg")
    from c2stats.figures import build_figure
    from c2stats.results import load_result, save_result
    from c2stats.spec import FigureSpec

    result = c2stats.fit({**MELANOMA, "id": "fg"}, melanoma)
    save_result(result, tmp_path / "fg")
    saved = load_result(tmp_path / "fg")
    spec = FigureSpec(id="cif", kind="cif", models=["fg"], cause_labels={"1": "Melanoma death"})
    figure = build_figure(spec, {"fg": saved}, {})
    ax = figure.axes[0]
    frame = result.frames["cumulative_incidence"]
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(lines) == frame["cause"].nunique()
    curve = frame[frame["cause"].astype(str) == "1"]
    drawn = next(line for line in lines if "Melanoma death" in line.get_label())
    assert np.isclose(np.max(drawn.get_ydata()), curve["estimate"].max())
    with pytest.raises(ConfigError, match="not in the model's event column"):
        build_figure(FigureSpec(id="cif", kind="cif", models=["fg"], causes=["9"]), {"fg": saved}, {})
