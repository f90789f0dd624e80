"""Figures: the numbers on the Axes (lines, bands, bars, risk-table texts) against R, the [[figures]]
keys, and byte-reproducible output. Values from tests/reference/predict/ (see PROVENANCE.md)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from pydantic import ValidationError  # noqa: E402

import c2stats  # noqa: E402
from c2stats.errors import ConfigError, SpecificationError  # noqa: E402
from c2stats.figures import FigureSpec, build_figure, coef_plot, save_figure  # noqa: E402
from c2stats.results import Result  # noqa: E402

from tests.conftest import REFERENCE, reference_data  # noqa: E402

REF = json.loads((REFERENCE / "predict" / "predict_reference.json").read_text())
LUNG = reference_data("lung.csv")
MID = reference_data("mid.csv")
Z95 = 1.959963984540054


def floats(values) -> np.ndarray:
    return np.array([np.nan if v is None or isinstance(v, str) else v for v in np.ravel(values)], dtype=float).reshape(
        np.shape(values))


def step_at(times, curve_x, curve_y):
    i = np.searchsorted(np.asarray(curve_x), np.asarray(times), side="right") - 1
    return np.asarray(curve_y)[np.clip(i, 0, None)]


def line(ax, label):
    found = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.lines]
    return found[0]


def collection(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


def assert_band(ax, gid, x, low, high, rtol=1e-9):
    """Every finite (x, low) and (x, high) is a vertex of the band."""
    vertices = np.concatenate([p.vertices for p in collection(ax, gid).get_paths()])
    for xs, ys in ((x, low), (x, high)):
        for xi, yi in zip(np.asarray(xs, float), np.asarray(ys, float)):
            if not np.isfinite(yi):
                continue
            close = np.isclose(vertices[:, 0], xi, rtol=1e-12, atol=1e-12) & np.isclose(vertices[:, 1], yi, rtol=rtol)
            assert close.any(), f"{gid}: no vertex at ({xi}, {yi})"


def segments(ax, gid) -> np.ndarray:
    return np.array(collection(ax, gid).get_segments())


@pytest.fixture(scope="module")
def fitted():
    cox = c2stats.fit({"id": "cox", "family": "cox", "formula": "~ age + sex + ph_ecog", "time": "time",
                       "event": "event", "options": {"eps": 1e-12}}, LUNG)
    weib = c2stats.fit({"id": "weib", "family": "weibull", "formula": "~ age + sex + ph_ecog", "time": "time",
                        "event": "event", "options": {"tol": 1e-12}}, LUNG)
    logit = c2stats.fit({"id": "logit", "family": "logit", "formula": "conflict ~ major + contig + power + maxdem + "
                         "mindem + years", "options": {"epsilon": 1e-14}}, MID)
    inter = c2stats.fit({"id": "inter", "family": "logit", "formula": "conflict ~ power * maxdem + contig + years",
                         "options": {"epsilon": 1e-14}}, MID)
    mexico = reference_data("mexico.csv")
    mnl = c2stats.fit({"id": "mnl", "family": "mnlogit", "formula": "vote88 ~ pristr + othcok + othsocok + female + age "
                       "+ school", "options": {"tol": 1e-12}}, mexico)
    results = {r.model_id: r for r in (cox, weib, logit, inter, mnl)}
    data = {"cox": LUNG, "weib": LUNG, "logit": MID, "inter": MID, "mnl": mexico}
    return results, data


def draw(fitted, **spec):
    results, data = fitted
    fig = build_figure(FigureSpec.model_validate(spec), results, data)
    return fig, fig.axes[0]


# ----------------------------------------------------------------------------------------------
# coefplot: from Result.tidy only
# ----------------------------------------------------------------------------------------------
def tidy_only(model_id, terms, est, low, high, scale="log_hazard", labels=None):
    tidy = pd.DataFrame({"term": terms, "estimate": est, "std_error": np.nan, "conf_low": low, "conf_high": high})
    return Result(tidy=tidy, glance={}, meta={"model_id": model_id, "label": model_id.upper(), "scale": scale,
                                              "labels": labels or {}})


def test_coefplot_draws_tidy_values_dodged():
    a = tidy_only("a", ["(Intercept)", "x", "z"], [0.1, 0.5, -0.3], [0.0, 0.2, -0.6], [0.2, 0.8, 0.0],
                  labels={"x": "Exposure"})
    b = tidy_only("b", ["x", "w"], [0.4, 1.0], [0.1, 0.7], [0.7, 1.3])
    ax = coef_plot([a, b])
    # default terms: all but the intercept, first-seen order, top to bottom
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Exposure", "z", "w"]
    pa, pb = line(ax, "A"), line(ax, "B")
    np.testing.assert_allclose(pa.get_xdata(), [0.5, -0.3])
    np.testing.assert_allclose(pb.get_xdata(), [0.4, 1.0])
    ya, yb = pa.get_ydata(), pb.get_ydata()
    assert ya[0] > yb[0]  # model a above model b within the term 'x'
    np.testing.assert_allclose(ya[0] - yb[0], 0.4)
    seg = segments(ax, "ci:a")
    np.testing.assert_allclose(seg[:, 0, 0], [0.2, -0.6])
    np.testing.assert_allclose(seg[:, 1, 0], [0.8, 0.0])
    assert [ln for ln in ax.lines if ln.get_gid() == "reference"][0].get_xdata()[0] == 0.0
    assert ax.get_xscale() == "linear"


def test_coefplot_exponentiated_with_selected_and_renamed_terms():
    a = tidy_only("a", ["x", "z"], [0.5, -0.3], [0.2, -0.6], [0.8, 0.0])
    ax = coef_plot([a], terms=["z", "x"], labels={"z": "Zeta"}, exponentiate=True)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Zeta", "x"]
    np.testing.assert_allclose(line(ax, "A").get_xdata(), np.exp([-0.3, 0.5]))
    seg = segments(ax, "ci:a")
    np.testing.assert_allclose(seg[:, 0, 0], np.exp([-0.6, 0.2]))
    np.testing.assert_allclose(seg[:, 1, 0], np.exp([0.0, 0.8]))
    assert [ln for ln in ax.lines if ln.get_gid() == "reference"][0].get_xdata()[0] == 1.0
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Hazard ratio"
    with pytest.raises(SpecificationError, match="term 'zz' is in none of the models"):
        coef_plot([a], terms=["zz"])
    with pytest.raises(SpecificationError, match="'identity' scale"):
        coef_plot([tidy_only("o", ["x"], [1.0], [0.0], [2.0], scale="identity")], exponentiate=True)


def test_coefplot_of_fitted_models_and_multi_equation_terms(fitted):
    results, _ = fitted
    fig, ax = draw(fitted, id="c", kind="coefplot", models=["cox", "weib"], exponentiate=True, conf_level=0.9)
    cox = results["cox"].tidy.set_index("term")
    np.testing.assert_allclose(line(ax, "cox").get_xdata(), np.exp(cox.loc[["age", "sex", "ph_ecog"], "estimate"]))
    # conf_level 0.9 recomputes the intervals from estimate and SE
    low = cox.loc[["age", "sex", "ph_ecog"], "estimate"] - 1.6448536269514722 * cox.loc[["age", "sex", "ph_ecog"], "std_error"]
    np.testing.assert_allclose(segments(ax, "ci:cox")[:, 0, 0], np.exp(low), rtol=1e-12)
    # weibull: the ancillary log_shape is left out by default; terms of a multinomial model carry the category
    assert len(line(ax, "weib").get_xdata()) == 3
    fig, ax = draw(fitted, id="m", kind="coefplot", models=["mnl"], terms=["2: age", "3: age"])
    mnl = results["mnl"].tidy
    expected = [mnl[(mnl.component == c) & (mnl.term == "age")]["estimate"].item() for c in ("2", "3")]
    np.testing.assert_allclose(line(ax, "mnl").get_xdata(), expected)


# ----------------------------------------------------------------------------------------------
# km
# ----------------------------------------------------------------------------------------------
def test_km_curves_bands_and_risk_table_match_survfit(fitted):
    ref, risk = REF["km_sex_log"], REF["km_sex_risk"]
    fig, ax = draw(fitted, id="k", kind="km", models=["cox"], group="sex", group_labels={"1": "Male", "2": "Female"},
                   risk_times=risk["times"])
    strata, rstrata = np.array(ref["strata"]), np.array(risk["strata"])
    for sex, label in ((1, "Male"), (2, "Female")):
        sel = strata == f"sex={sex}"
        curve = line(ax, label)
        assert curve.get_drawstyle() == "steps-post"
        np.testing.assert_array_equal(curve.get_xdata(), np.concatenate([[0.0], floats(ref["time"])[sel]]))
        np.testing.assert_allclose(curve.get_ydata(), np.concatenate([[1.0], floats(ref["surv"])[sel]]), rtol=1e-13)
        assert_band(ax, f"band:{label}", floats(ref["time"])[sel], floats(ref["lower"])[sel], floats(ref["upper"])[sel])
        texts = [t for t in ax.texts if t.get_gid() == f"at_risk:{label}"]
        assert [t.get_position()[0] for t in texts] == risk["times"]
        assert [int(t.get_text()) for t in texts] == np.array(risk["n_risk"])[rstrata == f"sex={sex}"].tolist()
    assert [t.get_text() for t in ax.texts if t.get_gid() == "at_risk_header"] == ["Number at risk"]


def test_km_options(fitted):
    ref = REF["km_sex_loglog"]
    fig, ax = draw(fitted, id="k", kind="km", models=["cox"], group="sex", conf_type="log-log", risk_table=False,
                   censor_marks=True, x_max=500)
    sel = (np.array(ref["strata"]) == "sex=1") & (floats(ref["time"]) <= 500)
    t = floats(ref["time"])[sel]
    assert_band(ax, "band:sex = 1", t, floats(ref["lower"])[sel], floats(ref["upper"])[sel])
    assert not [t for t in ax.texts if (t.get_gid() or "").startswith("at_risk")]
    censored = (floats(ref["n_censor"])[sel] > 0)
    np.testing.assert_array_equal([c for c in ax.lines if c.get_gid() == "censor:sex = 1"][0].get_xdata(), t[censored])
    assert ax.get_xlim() == (0.0, 500.0)
    # explicit columns and the whole dataset; one curve without a group
    fig, ax = draw(fitted, id="k2", kind="km", models=["cox"], time="time", event="event", use_model_sample=False,
                   conf_level=0.9)
    ref90 = REF["km_all_90"]
    np.testing.assert_allclose(line(ax, "All").get_ydata()[1:], floats(ref90["surv"]), rtol=1e-13)
    assert_band(ax, "band:All", floats(ref90["time"]), floats(ref90["lower"]), floats(ref90["upper"]))


# ----------------------------------------------------------------------------------------------
# survival (predicted curves)
# ----------------------------------------------------------------------------------------------
def test_cox_survival_profiles_match_survfit(fitted):
    ref = REF["cox_curves"]  # age and ph_ecog at their sample means, sex 1 and 2
    fig, ax = draw(fitted, id="s", kind="survival", models=["cox"], profiles={"Male": {"sex": 1}, "Female": {"sex": 2}})
    for i, label in enumerate(("Male", "Female")):
        curve = line(ax, label)
        x, y = curve.get_xdata(), curve.get_ydata()
        assert (x[0], y[0]) == (0.0, 1.0) and x[-1] == LUNG["time"].max()
        np.testing.assert_allclose(step_at(ref["time"], x, y), floats(ref["surv"])[:, i], rtol=1e-9)
        events = np.isin(floats(ref["time"]), x)
        assert_band(ax, f"band:{label}", floats(ref["time"])[events], floats(ref["lower"])[events, i],
                    floats(ref["upper"])[events, i])


def test_weibull_survival_profiles_match_survreg_by_hand(fitted):
    ref = REF["weibull_curves"]  # times 50, 100, 200, 400, 800
    fig, ax = draw(fitted, id="w", kind="survival", models=["weib"], x_max=800, n_points=16,
                   profiles={"Male": {"sex": 1}, "Female": {"sex": 2}})
    for label, r in zip(("Male", "Female"), ref["curves"]):
        curve = line(ax, label)
        x, y = curve.get_xdata(), curve.get_ydata()
        pick = np.searchsorted(x, r["time"])
        np.testing.assert_allclose(x[pick], r["time"])
        np.testing.assert_allclose(y[pick], r["surv"], rtol=1e-9)
        assert_band(ax, f"band:{label}", r["time"], r["lower"], r["upper"])


# ----------------------------------------------------------------------------------------------
# predicted
# ----------------------------------------------------------------------------------------------
def test_predicted_probabilities_match_r(fitted):
    ref = REF["predicted_logit"]
    fig, ax = draw(fitted, id="p", kind="predicted", models=["logit"], variable="power", x_range=[0, 1], n_points=11)
    curve = line(ax, "conflict")
    np.testing.assert_allclose(curve.get_xdata(), ref["power"], atol=1e-15)
    np.testing.assert_allclose(curve.get_ydata(), ref["prob"], rtol=1e-10)
    assert_band(ax, "band:conflict", ref["power"], ref["lower_link"], ref["upper_link"])
    fig, ax = draw(fitted, id="p", kind="predicted", models=["logit"], variable="power", x_range=[0, 1], n_points=11,
                   interval="response")
    assert_band(ax, "band:conflict", ref["power"], ref["lower_response"], ref["upper_response"])


def test_predicted_by_groups_and_discrete_x(fitted):
    results, _ = fitted
    fig, ax = draw(fitted, id="p", kind="predicted", models=["logit"], variable="contig", by="major",
                   group_labels={"0": "Minor", "1": "Major"})
    # by hand: logit^-1 of x'b at contig 0/1, major 0/1, other covariates at sample means
    b = results["logit"].tidy.set_index("term")["estimate"]
    means = MID.mean()
    for major, label in ((0, "Minor"), (1, "Major")):
        eta = (b["(Intercept)"] + b["major"] * major + b["contig"] * np.array([0, 1])
               + sum(b[c] * means[c] for c in ("power", "maxdem", "mindem", "years")))
        points = line(ax, label)
        np.testing.assert_allclose(points.get_ydata(), 1 / (1 + np.exp(-eta)), rtol=1e-12)
        assert points.get_linestyle() == "None"
        bars = segments(ax, f"ci:{label}")
        assert np.all(bars[:, 0, 1] < points.get_ydata()) and np.all(points.get_ydata() < bars[:, 1, 1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]


def test_predicted_mnlogit_categories_match_multinom(fitted):
    ref = REF["mnlogit"]
    fig, ax = draw(fitted, id="p", kind="predicted", models=["mnl"], variable="age", x_range=[20, 80], n_points=4,
                   group_labels={"1": "PRI"})
    probs, ses = np.array(ref["probs"]), np.array(ref["se"])
    for k, label in enumerate(("PRI", "2", "3")):
        curve = line(ax, label)
        np.testing.assert_allclose(curve.get_xdata(), ref["age"])
        np.testing.assert_allclose(curve.get_ydata(), probs[:, k], rtol=1e-7)
        assert_band(ax, f"band:{label}", ref["age"], probs[:, k] - Z95 * ses[:, k], probs[:, k] + Z95 * ses[:, k],
                    rtol=1e-6)
    fig, ax = draw(fitted, id="p", kind="predicted", models=["mnl"], variable="age", categories=[3])
    assert [ln.get_label() for ln in ax.lines] == ["3"]


# ----------------------------------------------------------------------------------------------
# marginal
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale, effect, se", [("link", "effect_link", "se_link"), ("response", "effect_prob", "se_prob")])
def test_marginal_effects_match_r(fitted, scale, effect, se):
    ref = REF["marginal_logit"]
    fig, ax = draw(fitted, id="m", kind="marginal", models=["inter"], variable="power", moderator="maxdem",
                   moderator_values=ref["moderator"], scale=scale)
    points = line(ax, "Marginal effect")
    np.testing.assert_allclose(points.get_ydata(), ref[effect], rtol=1e-8)
    bars = segments(ax, "ci:Marginal effect")
    np.testing.assert_allclose(bars[:, 0, 1], np.array(ref[effect]) - Z95 * np.array(ref[se]), rtol=1e-8)
    np.testing.assert_allclose(bars[:, 1, 1], np.array(ref[effect]) + Z95 * np.array(ref[se]), rtol=1e-8)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-10", "-5", "0", "5", "10"]
    assert [ln for ln in ax.lines if ln.get_gid() == "reference"][0].get_ydata()[0] == 0.0


def test_marginal_effect_across_a_continuous_moderator(fitted):
    ref = REF["marginal_logit"]
    results, _ = fitted
    fig, ax = draw(fitted, id="m", kind="marginal", models=["inter"], variable="power", moderator="maxdem",
                   x_range=[-10, 10], n_points=5)
    curve = line(ax, "Marginal effect")
    np.testing.assert_allclose(curve.get_xdata(), ref["moderator"])
    np.testing.assert_allclose(curve.get_ydata(), ref["effect_link"], rtol=1e-8)
    assert_band(ax, "band:Marginal effect", ref["moderator"],
                np.array(ref["effect_link"]) - Z95 * np.array(ref["se_link"]),
                np.array(ref["effect_link"]) + Z95 * np.array(ref["se_link"]), rtol=1e-8)


# ----------------------------------------------------------------------------------------------
# [[figures]] keys and errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, fragment", [
    ({"kind": "km", "models": ["m"], "profiles": {"a": {"x": 1}}}, "'profiles' is for survival"),
    ({"kind": "coefplot", "models": []}, "at least one model"),
    ({"kind": "km", "models": ["a", "b"]}, "exactly one model"),
    ({"kind": "survival", "models": ["m"]}, "needs 'profiles'"),
    ({"kind": "predicted", "models": ["m"]}, "needs 'variable'"),
    ({"kind": "marginal", "models": ["m"], "variable": "x"}, "needs 'moderator'"),
    ({"kind": "predicted", "models": ["m"], "variable": "x", "x_range": [2, 1]}, "low < high"),
])
def test_spec_cross_field_rules(spec, fragment):
    with pytest.raises(ValidationError, match=fragment):
        FigureSpec.model_validate({"id": "f", **spec})


def test_analysis_file_figure_errors_name_the_entry(write_toml):
    from c2stats.config import load_analysis

    base = """
[analysis]
id = "t"
title = "T"
dataset = "lung"

[[models]]
id = "cox_a"
family = "cox"
formula = "~ age + sex"
time = "time"
event = "event"

[[figures]]
id = "km1"
kind = "km"
models = ["cox_a"]
"""
    cfg = load_analysis(write_toml(base + 'group = "sex"\n'))
    assert cfg.spec.figures[0].group == "sex"
    with pytest.raises(ConfigError) as exc:
        load_analysis(write_toml(base + 'gruop = "sex"\n'))
    assert "figures[0] (id 'km1').gruop" in str(exc.value) and "did you mean 'group'?" in str(exc.value)
    with pytest.raises(ConfigError, match="'variable' is for predicted, marginal"):
        load_analysis(write_toml(base + 'variable = "age"\n'))


def test_build_figure_errors(fitted):
    results, data = fitted
    spec = FigureSpec.model_validate({"id": "k", "kind": "km", "models": ["cox"]})
    with pytest.raises(ConfigError, match="no dataset was given for model 'cox'"):
        build_figure(spec, results, {})
    with pytest.raises(ConfigError, match="model 'nope' has no result"):
        build_figure(FigureSpec.model_validate({"id": "k", "kind": "km", "models": ["nope"]}), results, data)
    bad = FigureSpec.model_validate({"id": "p", "kind": "predicted", "models": ["cox"], "variable": "age"})
    with pytest.raises(SpecificationError, match="figures \\(id 'p'\\).*response scale"):
        build_figure(bad, results, data)
    bad = FigureSpec.model_validate({"id": "p", "kind": "predicted", "models": ["logit"], "variable": "powr"})
    with pytest.raises(SpecificationError, match="did you mean 'power'"):
        build_figure(bad, results, data)
    bad = FigureSpec.model_validate({"id": "s", "kind": "survival", "models": ["cox"], "profiles": {"a": {"sx": 1}}})
    with pytest.raises(SpecificationError, match="profile 'a'.*'sx' is not a covariate"):
        build_figure(bad, results, data)


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_saved_files_are_byte_identical_and_undated(fitted, tmp_path, fmt):
    spec = {"id": "k", "kind": "km", "models": ["cox"], "group": "sex", "formats": [fmt]}
    paths = []
    for run in ("a", "b"):
        fig, _ = draw(fitted, **spec)
        path = tmp_path / f"{run}.{fmt}"
        save_figure(fig, path, fmt)
        paths.append(path)
    first, second = (p.read_bytes() for p in paths)
    assert first == second and len(first) > 1000
    for marker in (b"CreationDate", b"Matplotlib v", b"<dc:date>", b"Software"):
        assert marker not in first
    if fmt == "png":
        assert first[:8] == b"\x89PNG\r\n\x1a\n"
        fig, _ = draw(fitted, **spec, dpi=100, width=5, height=3)
        save_figure(fig, tmp_path / "small.png", "png")
        from PIL import Image

        assert Image.open(tmp_path / "small.png").size == (500, 300)


def test_one_theme_for_every_kind(fitted):
    for spec in ({"kind": "coefplot", "models": ["cox"]}, {"kind": "km", "models": ["cox"]},
                 {"kind": "marginal", "models": ["inter"], "variable": "power", "moderator": "maxdem"}):
        fig, ax = draw(fitted, id="t", **spec)
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
        assert ax.xaxis.label.get_fontfamily() == ["sans-serif"]
        first = [ln for ln in ax.lines if ln.get_gid() != "reference"][0]
        assert first.get_color() == "#0173b2"  # seaborn colorblind palette, resolved when drawn
