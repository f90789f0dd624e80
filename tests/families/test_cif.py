"""Aalen-Johansen cumulative incidence against R's multi-state survfit (tests/reference/cif/).

R: ``survfit(Surv(time, factor(status)) ~ group)`` with censoring as the first factor level
(survival 3.5-3); its pstate, std.err (infinitesimal jackknife), lower/upper (conf.type "log" on the
probability) and n.risk of the event-free state, for every cause and every distinct time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.families._cif_engine import CIF_COLUMNS, cumulative_incidence

REF = Path(__file__).resolve().parents[1] / "reference" / "cif"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "cif.json").read_text())


@pytest.fixture(scope="module")
def melanoma() -> pd.DataFrame:
    return pd.read_csv(REF / "melanoma.csv")


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    frame = pd.read_csv(REF / "pbc.csv")
    frame["cause"] = frame["status"].map({0: "censor", 1: "transplant", 2: "death"})
    frame["edema_level"] = frame["edema"].map({0.0: "0", 0.5: "0.5", 1.0: "1"})
    return frame


def assert_matches_r(ours: pd.DataFrame, expected: dict, atol: float = 1e-8) -> None:
    assert list(ours.columns) == list(CIF_COLUMNS)
    r = pd.DataFrame(expected)
    ours = ours.assign(group=ours["group"].astype(str), cause=ours["cause"].astype(str))
    r = r.assign(group=r["group"].astype(str), cause=r["cause"].astype(str))
    keys = ["group", "cause", "time"]
    assert len(ours) == len(r)
    merged = r.merge(ours, on=keys, suffixes=("_r", ""), how="inner", validate="one_to_one")
    assert len(merged) == len(r), "the (group, cause, time) grid differs from R's"
    for column in ("estimate", "std_error", "conf_low", "conf_high", "n_risk"):
        want = merged[f"{column}_r"].astype(float).to_numpy()
        got = merged[column].astype(float).to_numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=column)  # R: NA where p = 0
        np.testing.assert_allclose(got, want, rtol=0, atol=atol, equal_nan=True, err_msg=column)


def test_melanoma_overall_with_censoring_not_the_first_code(ref, melanoma):
    # status 2 (alive) is censoring; causes 1 (melanoma) and 3 (other death)
    ours = cumulative_incidence(melanoma["time"], melanoma["status"], censor_value=2)
    assert set(ours["group"]) == {"All"} and sorted(ours["cause"].unique()) == [1, 3]
    assert_matches_r(ours, ref["melanoma_overall"])


@pytest.mark.parametrize("case, conf_level", [("melanoma_ulcer", 0.95), ("melanoma_ulcer_90", 0.90)])
def test_melanoma_by_ulcer(ref, melanoma, case, conf_level):
    ours = cumulative_incidence(melanoma["time"], melanoma["status"], censor_value=2, group=melanoma["ulcer"],
                                conf_level=conf_level)
    assert_matches_r(ours, ref[case])


def test_text_causes_give_the_same_curves(melanoma):
    by_code = cumulative_incidence(melanoma["time"], melanoma["status"], censor_value=2)
    by_name = cumulative_incidence(melanoma["time"], melanoma["cause"], censor_value="alive",
                                   causes=["melanoma", "other"])
    np.testing.assert_array_equal(by_code["estimate"].to_numpy(), by_name["estimate"].to_numpy())


def test_pbc_three_groups_with_ties(ref, pbc):
    ours = cumulative_incidence(pbc["time"], pbc["cause"], censor_value="censor", group=pbc["edema_level"])
    assert_matches_r(ours, ref["pbc_edema"])


def test_pbc_case_weights(ref, pbc):
    ours = cumulative_incidence(pbc["time"], pbc["cause"], censor_value=["censor"], group=pbc["sex"],
                                weights=pbc["w"])
    assert_matches_r(ours, ref["pbc_sex_weighted"])


def test_no_competing_event_is_one_minus_kaplan_meier(melanoma):
    """With a single cause the incidence is 1 - KM and its IJ variance is Greenwood's without ties."""
    from c2stats.predict import kaplan_meier

    died = (melanoma["status"] != 2).to_numpy()
    t = melanoma["time"].to_numpy(dtype=float) + np.arange(len(melanoma)) * 1e-3  # no ties
    ours = cumulative_incidence(t, np.where(died, "death", "alive"), censor_value="alive")
    km = kaplan_meier(t, died.astype(float))
    np.testing.assert_allclose(ours["estimate"], 1 - km["surv"], atol=1e-12)
    # Greenwood SE of S = S * sqrt(sum d / (n (n - d))); the IJ variance differs by O(1/n) terms
    greenwood = km["surv"] * km["std_err"]
    np.testing.assert_allclose(ours["std_error"], greenwood, rtol=0.05, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="no row has an event"):
        cumulative_incidence([1, 2], ["c", "c"], censor_value="c")
    with pytest.raises(ValueError, match="positive"):
        cumulative_incidence([0, 2], [1, 0], censor_value=0)


# ----------------------------------------------------------------------------------------------
# plot_cif: the Axes hold the frame's numbers (Agg)
# ----------------------------------------------------------------------------------------------
def test_plot_cif_draws_each_group_and_cause(ref, melanoma):
    from matplotlib.collections import PolyCollection

    from c2stats._cif_plot import plot_cif

    frame = cumulative_incidence(melanoma["time"], melanoma["cause"], censor_value="alive", group=melanoma["ulcer"])
    ax = plot_cif(frame, causes=["melanoma", "other"], group_labels={"0": "no ulcer", "1": "ulcer"}, xlabel="days")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["no ulcer: melanoma", "no ulcer: other", "ulcer: melanoma", "ulcer: other"]
    r = pd.DataFrame(ref["melanoma_ulcer"])
    want = r[(r["group"] == "1") & (r["cause"] == "1")]  # R's curve of melanoma deaths with ulcer
    line = lines["ulcer: melanoma"]
    assert line.get_drawstyle() == "steps-post"
    x, y = line.get_xdata(), line.get_ydata()
    assert (x[0], y[0]) == (0.0, 0.0)
    np.testing.assert_allclose(x[1:-1], want["time"], rtol=0, atol=0)
    np.testing.assert_allclose(y[1:-1], want["estimate"], rtol=0, atol=1e-8)
    assert x[-1] == melanoma["time"].max()
    assert lines["ulcer: melanoma"].get_color() == lines["ulcer: other"].get_color()
    assert lines["ulcer: melanoma"].get_linestyle() != lines["ulcer: other"].get_linestyle()
    bands = {c.get_gid(): c for c in ax.collections if isinstance(c, PolyCollection)}
    assert set(bands) == {f"band:{label}" for label in lines}
    upper = bands["band:ulcer: melanoma"].get_paths()[0].vertices[:, 1].max()
    assert upper == pytest.approx(want["conf_high"].max(), abs=1e-8)
    assert ax.get_xlabel() == "days" and ax.get_ylabel() == "Cumulative incidence"
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] <= 1


def test_plot_cif_single_group_labels_causes_and_reuses_ax(melanoma):
    from matplotlib.figure import Figure

    from c2stats._cif_plot import plot_cif

    frame = cumulative_incidence(melanoma["time"], melanoma["cause"], censor_value="alive")
    ax = Figure().add_subplot()
    out = plot_cif(frame, ax, conf_int=False, x_max=1000, cause_labels={"other": "other death"})
    assert out is ax
    assert [line.get_label() for line in ax.get_lines()] == ["melanoma", "other death"]
    assert not ax.collections
    assert max(line.get_xdata().max() for line in ax.get_lines()) == 1000
    with pytest.raises(ValueError, match="not in the frame"):
        plot_cif(frame, causes=["relapse"])
    with pytest.raises(ValueError, match="lacks column"):
        plot_cif(frame.drop(columns="conf_low"))
