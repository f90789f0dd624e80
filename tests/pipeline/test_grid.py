"""[grid] of specifications: design (product, filter, ids), comparability of focal terms across
families (simulation with a known log hazard ratio), summary and axis influence (hand computation),
the specification-curve figure (inspected Axes) and errors."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from c2stats.config import load_analysis
from c2stats.errors import ConfigError
from c2stats.pipeline import run
from c2stats.robustness import GridSpec, RobustnessSpec, grid_design, grid_outputs
from c2stats.speccurve import COLOURS, axis_influence, plot_specification_curve, summarise

from tests.conftest import REFERENCE

BETA = -0.5  # true log hazard ratio of x
GAMMA = 0.3
SHAPE, RATE, HORIZON = 1.5, 0.05, 10


def simulate(n: int = 3000, seed: int = 20241124) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weibull proportional hazards, h(t) = RATE * SHAPE * t^(SHAPE-1) * exp(BETA x + GAMMA z), censored at
    HORIZON; and its person-period expansion (one row per started unit interval). Grouping a PH model
    into intervals gives a cloglog model with interval intercepts and the same BETA (Prentice &
    Gloeckler 1978), so Cox, Weibull-PH and cloglog discrete-time estimates share one scale."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    eta = BETA * x + GAMMA * z
    t = (-np.log(rng.uniform(size=n)) / (RATE * np.exp(eta))) ** (1 / SHAPE)
    event = (t <= HORIZON).astype(int)
    time = np.minimum(t, HORIZON)
    subjects = pd.DataFrame({"id": np.arange(n), "time": time, "event": event, "x": x, "z": z})
    last = np.ceil(time).astype(int)
    rows = np.repeat(np.arange(n), last)
    period = np.concatenate([np.arange(1, k + 1) for k in last])
    spells = pd.DataFrame({"id": rows, "period": period, "x": x[rows], "z": z[rows]})
    spells["event"] = ((period == last[rows]) & (event[rows] == 1)).astype(int)
    return subjects, spells


COMPARABLE = """
[analysis]
id = "comparable"
title = "One scale"
dataset = "subjects.csv"

[[models]]
id = "cox"
family = "cox"
formula = "~ x + z"
time = "time"
event = "event"

[[robustness]]
id = "weibull"
base = "cox"
set = { family = "weibull" }
appendix = false

[[robustness]]
id = "dt_cloglog"
base = "cox"
set = { family = "discrete_hazard", dataset = "spells.csv", options = { link = "cloglog" } }
response = "event"
add = ["C(period)"]
appendix = false

[[robustness]]
id = "dt_logit"
base = "dt_cloglog"
set = { options = { link = "logit" } }
appendix = false

[grid]
base = "cox"
focal = "x"
expected_sign = "negative"
title = "Effect of x"

[grid.axes]
estimator = ["base", "weibull", "dt_cloglog", "dt_logit"]
vcov = ["model", "robust"]
"""


@pytest.fixture(scope="module")
def comparable(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comparable")
    subjects, spells = simulate()
    subjects.to_csv(folder / "subjects.csv", index=False)
    spells.to_csv(folder / "spells.csv", index=False)
    (folder / "a.toml").write_text(COMPARABLE, encoding="utf-8")
    summary = run(folder / "a.toml", out=folder / "report", executor="serial", cache=False)
    return folder, summary


def test_hazard_ratios_of_cox_weibull_and_cloglog_share_one_scale(comparable):
    folder, summary = comparable
    cfg = load_analysis(folder / "a.toml")
    out = grid_outputs(cfg, dict(summary.results))
    specs = out.specifications
    assert (specs["status"] == "ok").all() and len(specs) == 8
    hazard = specs[specs["estimator"] != "dt_logit"]
    assert set(hazard["scale"]) == {"log_hazard"}
    assert set(hazard["family"]) == {"cox", "weibull", "discrete_hazard"}
    # each recovers the true log hazard ratio (within 4 standard errors) ...
    for rec in hazard.to_dict("records"):
        assert abs(rec["estimate"] - BETA) < 4 * rec["std_error"], rec
    # ... and they agree with each other far more closely than with the truth's sampling error
    by = hazard.groupby("estimator")["estimate"].first()
    assert by.max() - by.min() < 0.25 * hazard["std_error"].min()
    # the logit link is on the log-odds scale: reported separately
    assert set(specs.loc[specs["estimator"] == "dt_logit", "scale"]) == {"log_odds"}
    assert list(out.summary["group"]) == ["all", "log_hazard", "log_odds"]


def test_summary_and_influence_match_hand_computation(comparable):
    folder, summary = comparable
    cfg = load_analysis(folder / "a.toml")
    out = grid_outputs(cfg, dict(summary.results))
    est = {}
    for mid, r in summary.results.items():
        if mid.startswith("grid."):
            row = r.tidy[r.tidy["term"] == "x"].iloc[0]
            est[mid] = (row["estimate"], row["p_value"], r.meta["scale"])
    values = sorted(e for e, _, _ in est.values())
    overall = out.summary.set_index("group").loc["all"]
    assert overall["specifications"] == 8 and overall["estimated"] == 8
    assert overall["median_estimate"] == pytest.approx((values[3] + values[4]) / 2, rel=1e-12)
    assert overall["min"] == values[0] and overall["max"] == values[-1]
    assert overall["share_expected_significant"] == sum(e < 0 and p < 0.05 for e, p, _ in est.values()) / 8
    hazard = sorted(e for e, _, s in est.values() if s == "log_hazard")
    assert out.summary.set_index("group").loc["log_hazard", "median_estimate"] == pytest.approx(
        (hazard[2] + hazard[3]) / 2, rel=1e-12)
    # vcov does not move point estimates: zero range and zero eta-squared
    infl = out.influence.set_index("axis")
    assert infl.loc["vcov", "range"] == 0.0 and infl.loc["vcov", "eta_squared"] == pytest.approx(0.0, abs=1e-12)
    assert infl.loc["estimator", "eta_squared"] == pytest.approx(1.0, abs=1e-12)
    tables = out.tables
    assert set(tables) == {"grid_summary", "grid_influence", "grid_choices"}
    assert (folder / "report" / "figures" / "grid.png").is_file()
    assert (folder / "report" / "tables" / "grid_summary.md").is_file()


def test_summarise_and_axis_influence_by_hand():
    specs = pd.DataFrame({
        "spec": ["a", "b", "c", "d", "e"],
        "sample": ["all", "all", "post", "post", "post"],
        "vcov": ["model", "robust", "model", "robust", "model"],
        "estimate": [-1.0, -0.6, 0.2, 0.4, np.nan],
        "p_value": [0.01, 0.2, 0.03, 0.5, np.nan],
        "scale": ["log_hazard"] * 5,
        "status": ["ok", "ok", "ok", "ok", "failed"],
    })
    s = summarise(specs, expected_sign="negative", alpha=0.05, exponentiate=True).iloc[0]
    assert (s["specifications"], s["estimated"], s["failed"]) == (5, 4, 1)
    assert s["median_estimate"] == pytest.approx(-0.2)
    assert s["median_ratio"] == pytest.approx(math.exp(-0.2))
    assert s["share_expected_sign"] == 0.5
    assert s["share_expected_significant"] == 0.25  # only a
    assert s["share_opposite_significant"] == 0.25  # only c
    assert s["share_significant"] == 0.5
    infl, choices = axis_influence(specs, {"sample": ["all", "post"], "vcov": ["model", "robust"]},
                                   expected_sign="negative")
    # sample: medians -0.8 and 0.3; mean -0.25; between SS = 2*(0.55^2) + 2*(0.55^2) = 1.21;
    # total SS = 0.75^2 + 0.35^2 + 0.45^2 + 0.65^2 = 1.31
    row = infl.set_index("axis").loc["sample"]
    assert row["range"] == pytest.approx(1.1)
    assert row["eta_squared"] == pytest.approx(1.21 / 1.31)
    vc = infl.set_index("axis").loc["vcov"]  # model: -1, 0.2 (mean -0.4); robust: -0.6, 0.4 (mean -0.1)
    assert vc["eta_squared"] == pytest.approx((2 * 0.15 ** 2 + 2 * 0.15 ** 2) / 1.31)
    c = choices.set_index(["axis", "choice"])
    assert c.loc[("sample", "all"), "shift"] == pytest.approx(-0.8 - (-0.2))
    assert c.loc[("sample", "all"), "share_expected_significant"] == 0.5


def test_specification_curve_axes_hold_sorted_estimates_and_choices():
    specs = pd.DataFrame({
        "spec": ["a", "b", "c", "d"],
        "family": ["cox"] * 4,
        "vcov": ["model", "robust", "model", "robust"],
        "estimate": [0.3, -0.9, -0.2, -0.9],
        "conf_low": [0.1, -1.2, -0.5, -1.3],
        "conf_high": [0.5, -0.6, 0.1, -0.5],
        "p_value": [0.01, 0.001, 0.2, 0.02],
        "scale": ["log_hazard"] * 4,
        "status": ["ok"] * 4,
    })
    fig = plot_specification_curve(specs, {"vcov": ["model", "robust"]}, focal="x", expected_sign="negative")
    top, bottom = fig.axes
    points = top.collections[-1].get_offsets()
    assert points[:, 1].tolist() == [-0.9, -0.9, -0.2, 0.3]  # sorted; tie broken by spec id (b, d)
    assert points[:, 0].tolist() == [1, 2, 3, 4]
    colours = [tuple(np.round(c, 3)) for c in top.collections[-1].get_facecolors()[:, :3]]
    from matplotlib.colors import to_rgb

    expected = [COLOURS["expected"], COLOURS["expected"], COLOURS["neutral"], COLOURS["opposite"]]
    assert colours == [tuple(np.round(to_rgb(c), 3)) for c in expected]
    assert [t.get_text() for t in bottom.get_yticklabels()] == ["vcov: model", "vcov: robust"]
    marks = {tuple(c.get_offsets()[:, 1]): c.get_offsets()[:, 0].tolist() for c in bottom.collections}
    assert marks[(2.0, 2.0)] == [3, 4]  # vcov: model is specs c (rank 3) and a (rank 4)
    assert marks[(1.0, 1.0)] == [1, 2]
    fig2 = plot_specification_curve(specs, {"vcov": ["model", "robust"]}, focal="x", exponentiate=True)
    assert fig2.axes[0].get_yscale() == "log"
    assert fig2.axes[0].collections[-1].get_offsets()[0, 1] == pytest.approx(math.exp(-0.9))


def test_grid_design_product_filter_and_stable_ids():
    grid = GridSpec(base="m", focal="x", axes={"vcov": ["model", "robust"], "restrict": ["", "a > 1", "a > 2"]})
    design = grid_design(grid)
    frame = design.frame()
    assert frame[["vcov", "restrict"]].values.tolist() == [
        ["model", "none"], ["model", "a > 1"], ["model", "a > 2"], ["robust", "none"], ["robust", "a > 1"],
        ["robust", "a > 2"]]
    assert all(i.startswith("grid.") and len(i) == len("grid.") + 12 for i in design.ids)
    # adding an alternative keeps the ids of the existing combinations
    wider = grid_design(GridSpec(base="m", focal="x", axes={"vcov": ["model", "robust", "HC1"],
                                                             "restrict": ["", "a > 1", "a > 2"]}))
    assert set(design.ids) <= set(wider.ids) and len(wider.ids) == 9
    filtered = grid_design(GridSpec(base="m", focal="x", axes=grid.axes,
                                    filter="not (vcov == 'robust' and restrict == 'none')"))
    assert len(filtered.ids) == 5 and set(filtered.ids) < set(design.ids)
    numeric = grid_design(GridSpec(base="m", focal="x", axes={"conf_level": [0.9, 0.95]}, filter="conf_level > 0.92"))
    assert numeric.frame()["conf_level"].tolist() == ["0.95"]
    overlays = [RobustnessSpec(id="w", base="m", set={"family": "weibull"})]
    named = grid_design(GridSpec(base="m", focal="x", axes={"est": ["base", "w", {"label": "inline", "add": ["q"]}]}),
                        overlays)
    assert named.frame()["est"].tolist() == ["base", "w", "inline"]


@pytest.mark.parametrize("grid, message", [
    ('axes = { est = ["nope"] }', "'nope' is not a [[robustness]] id"),
    ('axes = { vcov = ["model", "model"] }', "two alternatives labelled 'model'"),
    ('axes = { vcov = ["model"] }\nfilter = "vcov == \'robust\'"', "rejects every specification"),
    ('axes = { vcov = ["model"] }\nfilter = "vcv == 1"', "the filter reads the axes ['vcov']"),
    ('axes = { vcov = ["model", "HC1"] }', "Filter such combinations out"),
    ('axes = { est = [{ set = { family = "weibull" } }] }', "required key 'label' is missing"),
    ('axes = { add = [3] }', "term lists"),
    ('base = "cok"\naxes = { vcov = ["model"] }', "did you mean 'cox'?"),
])
def test_grid_errors_name_the_key_and_fix(tmp_path, grid, message):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    base = '' if grid.startswith("base") else 'base = "cox"\n'
    (tmp_path / "g.toml").write_text(f"""
[analysis]
id = "g"
title = "g"
dataset = "lung.csv"

[[models]]
id = "cox"
family = "cox"
formula = "~ age + sex"
time = "time"
event = "event"

[grid]
{base}focal = "sex"
{grid}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_analysis(tmp_path / "g.toml")
    text = str(info.value)
    assert "grid" in text and message in text, text


def test_failed_specifications_are_recorded_and_the_rest_go_on(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "g.toml").write_text("""
[analysis]
id = "g"
title = "g"
dataset = "lung.csv"

[[models]]
id = "cox"
family = "cox"
formula = "~ age + sex"
time = "time"
event = "event"

[grid]
base = "cox"
focal = "sex"

[grid.axes]
add = [[], ["wt_loss"]]
restrict = ["", "age > 200"]
""", encoding="utf-8")
    summary = run(tmp_path / "g.toml", out=tmp_path / "r", executor="serial", cache=False)
    assert summary.stats["failed"] == 3
    specs = pd.read_csv(tmp_path / "r" / "tables" / "grid_specifications.csv", skiprows=[1])
    assert specs["status"].tolist() == ["ok", "failed", "failed", "failed"]
    assert "keeps no rows" in specs["error"][1] and "'wt_loss'" in specs["error"][2]
    assert not any(p.name.startswith("grid.") for p in (tmp_path / "r" / "results").iterdir())


THOUSAND = """
[analysis]
id = "big"
title = "1,024 specifications"
dataset = "lung.csv"

[[models]]
id = "logit"
family = "logit"
formula = "event ~ age + sex"

[grid]
base = "logit"
focal = "sex"
expected_sign = "negative"

[grid.axes]
add = [[], ["ph_ecog"], ["inst"], ["I(age ** 2)"], ["ph_ecog", "inst"], ["ph_ecog", "I(age ** 2)"],
       ["inst", "I(age ** 2)"], ["ph_ecog", "inst", "I(age ** 2)"]]
vcov = ["model", "robust", "HC1", { type = "cluster", groups = "inst" }]
restrict = ["", "age >= 45", "age >= 50", "age >= 55", "age <= 75", "age <= 70", "ph_ecog < 3", "inst != 1"]
conf_level = [0.9, 0.95, 0.99, 0.999]
"""


def test_a_thousand_specifications_expand_into_validated_models(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "big.toml").write_text(THOUSAND, encoding="utf-8")
    cfg = load_analysis(tmp_path / "big.toml")
    grid_ids = [m.id for m in cfg.spec.models if m.id.startswith("grid.")]
    assert len(grid_ids) == 1024 == len(set(grid_ids))
    assert cfg.model(grid_ids[-1]).formula == "event ~ age + sex + ph_ecog + inst + I(age ** 2)"
    assert cfg.model(grid_ids[-1]).sample == "inst != 1"


@pytest.mark.slow
def test_a_thousand_specification_grid_renders_its_curve_and_summary(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "big.toml").write_text(THOUSAND, encoding="utf-8")
    summary = run(tmp_path / "big.toml", out=tmp_path / "r", cache_dir=tmp_path / "cache")
    assert summary.stats["fitted"] == 1025
    table = (tmp_path / "r" / "tables" / "grid_summary.md").read_text(encoding="utf-8")
    assert "| Specifications | 1,024 |" in table
    assert (tmp_path / "r" / "figures" / "grid.png").stat().st_size > 10_000
