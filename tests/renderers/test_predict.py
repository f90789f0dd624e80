"""Predictions against R: stateful transforms on new data, predicted probabilities, marginal effects,
Kaplan-Meier, Cox and Weibull predicted survival (tests/reference/predict/, see PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats.errors import FormulaError, SpecificationError
from c2stats.formula import design_matrix, parse_formula
from c2stats.predict import (
    cox_survival,
    estimation_sample,
    kaplan_meier,
    marginal_effect,
    model_spec,
    number_at_risk,
    parametric_survival,
    predict,
    predictor,
    profile_frame,
    typical_values,
)

from tests.conftest import REFERENCE, reference_data

REF = json.loads((REFERENCE / "predict" / "predict_reference.json").read_text())
LUNG = reference_data("lung.csv")
MID = reference_data("mid.csv")


def floats(values) -> np.ndarray:
    """R's JSON: NA/NaN come as strings or null."""
    return np.array([np.nan if v is None or isinstance(v, str) else v for v in np.ravel(values)], dtype=float).reshape(
        np.shape(values))


def step_at(times, curve_time, curve_value):
    """Value of a right-continuous step curve (1 before its first time) at ``times``."""
    i = np.searchsorted(np.asarray(curve_time), np.asarray(times), side="right") - 1
    return np.where(i >= 0, np.asarray(curve_value)[np.clip(i, 0, None)], 1.0)


def prepared(spec: dict, frame: pd.DataFrame):
    result = c2stats.fit(spec, frame)
    sample = estimation_sample(result, frame)
    return result, sample, predictor(result, sample.design.state)


# ----------------------------------------------------------------------------------------------
# Formula state: the estimation sample's transforms applied to new data
# ----------------------------------------------------------------------------------------------
TRANSFORMS = "conflict ~ poly(years, 2) + bs(power, df = 4) + scale(maxdem) + contig"


def test_new_data_matrix_matches_r_predvars():
    ref = REF["transforms"]
    state = design_matrix(parse_formula(TRANSFORMS), MID).state
    state = json.loads(json.dumps(state))  # the state is JSON: it can be saved with a result
    new = design_matrix(parse_formula(TRANSFORMS), pd.DataFrame(ref["newdata"]), state=state)
    assert list(new.names) == ref["names"]
    assert new.response is None  # no outcome column in the new data
    # rows include years = 50 > max (poly), power -0.05 / 1.05 beyond both boundary knots (bs extrapolation)
    np.testing.assert_allclose(new.matrix, np.array(ref["matrix"]), rtol=0, atol=1e-12)


def test_state_reproduces_the_estimation_matrix():
    d = pd.DataFrame({"y": [1.0, 0, 1, 0, 1, 1, 0, 0], "x": [0.5, 1.5, 2, 3.5, 4, 6, 7.5, 9],
                      "g": ["a", "b", "c", "a", "b", "c", "a", "b"]})
    formula = parse_formula("y ~ poly(x, 3) + bs(x, df = 5) + center(x) + standardize(x) + C(g, ref = 'b') * x")
    fitted = design_matrix(formula, d)
    again = design_matrix(formula, d.iloc[[6, 1]], state=fitted.state)
    np.testing.assert_allclose(again.matrix, fitted.matrix[[6, 1]], atol=1e-12)
    assert again.names == fitted.names
    # a single-level subset still codes the factor with the estimation sample's levels
    one = design_matrix(formula, d[d.g == "a"], state=fitted.state)
    np.testing.assert_allclose(one.matrix, fitted.matrix[(d.g == "a").to_numpy()], atol=1e-12)


def test_state_errors_name_the_problem():
    d = pd.DataFrame({"y": [1.0, 0, 1], "g": ["a", "b", "a"]})
    state = design_matrix(parse_formula("y ~ g"), d).state
    with pytest.raises(FormulaError, match="value 'z' of column 'g' is not a level"):
        design_matrix(parse_formula("y ~ g"), pd.DataFrame({"g": ["z"]}), state=state)
    with pytest.raises(FormulaError, match="no entry for this term"):
        design_matrix(parse_formula("y ~ h"), pd.DataFrame({"h": [1.0]}), state=state)


def test_transform_predictions_match_r():
    ref = REF["transforms"]
    result, _, pred = prepared({"family": "logit", "formula": TRANSFORMS, "options": {"epsilon": 1e-14}}, MID)
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=1e-9)
    out = predict(pred, pd.DataFrame(ref["newdata"]), scale="link")
    np.testing.assert_allclose(out["estimate"], ref["eta"], rtol=1e-10)
    np.testing.assert_allclose(out["std_error"], ref["se_eta"], rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# Predicted probabilities
# ----------------------------------------------------------------------------------------------
MID_FORMULA = "conflict ~ major + contig + power + maxdem + mindem + years"


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_predicted_probabilities_match_r(link):
    ref = REF[f"predicted_{link}"]
    result, sample, pred = prepared({"family": link, "formula": MID_FORMULA, "options": {"epsilon": 1e-14}}, MID)
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=1e-9)
    base = typical_values(sample.frame, pred.formula, pred.state)
    assert base["maxdem"] == pytest.approx(MID["maxdem"].mean(), rel=1e-14)  # default: sample means
    newdata = profile_frame(base, {"power": ref["power"]})
    link_scale = predict(pred, newdata, scale="link")
    np.testing.assert_allclose(link_scale["estimate"], ref["eta"], rtol=1e-10)
    np.testing.assert_allclose(link_scale["std_error"], ref["se_eta"], rtol=1e-10)
    prob = predict(pred, newdata)  # interval on the link scale, transformed
    np.testing.assert_allclose(prob["estimate"], ref["prob"], rtol=1e-10)
    np.testing.assert_allclose(prob["std_error"], ref["se_prob"], rtol=1e-10)
    np.testing.assert_allclose(prob["conf_low"], ref["lower_link"], rtol=1e-10)
    np.testing.assert_allclose(prob["conf_high"], ref["upper_link"], rtol=1e-10)
    wald = predict(pred, newdata, interval="response")
    np.testing.assert_allclose(wald["conf_low"], ref["lower_response"], rtol=1e-10)
    np.testing.assert_allclose(wald["conf_high"], ref["upper_response"], rtol=1e-10)


def test_mnlogit_probabilities_match_multinom():
    ref = REF["mnlogit"]
    mexico = reference_data("mexico.csv")
    spec = {"family": "mnlogit", "formula": "vote88 ~ pristr + othcok + othsocok + female + age + school",
            "options": {"tol": 1e-12}}
    result, sample, pred = prepared(spec, mexico)
    assert pred.categories == ["1", "2", "3"]
    newdata = profile_frame(typical_values(sample.frame, pred.formula, pred.state), {"age": ref["age"]})
    probs, ses = np.array(ref["probs"]), np.array(ref["se"])
    total = np.zeros(len(newdata))
    for k, category in enumerate(pred.categories):
        out = predict(pred, newdata, category=category)
        # nnet's optimiser stops ~1e-8 from the exact optimum (coefficients differ by 2e-8)
        np.testing.assert_allclose(out["estimate"], probs[:, k], rtol=1e-7)
        np.testing.assert_allclose(out["std_error"], ses[:, k], rtol=1e-6)
        total += out["estimate"]
    np.testing.assert_allclose(total, 1.0, rtol=1e-14)
    with pytest.raises(SpecificationError, match="no single link"):
        predict(pred, newdata, category="2", interval="link")
    with pytest.raises(SpecificationError, match="choose a category"):
        predict(pred, newdata, category="9")


# ----------------------------------------------------------------------------------------------
# Marginal effects
# ----------------------------------------------------------------------------------------------
def test_marginal_effects_match_hand_computation_from_r():
    ref = REF["marginal_logit"]
    spec = {"family": "logit", "formula": "conflict ~ power * maxdem + contig + years", "options": {"epsilon": 1e-14}}
    result, sample, pred = prepared(spec, MID)
    assert list(result.tidy["term"]) == ref["names"]
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=1e-9)
    newdata = profile_frame(typical_values(sample.frame, pred.formula, pred.state), {"maxdem": ref["moderator"]})
    lin = marginal_effect(pred, newdata, "power")
    np.testing.assert_allclose(lin["estimate"], ref["effect_link"], rtol=1e-9)
    np.testing.assert_allclose(lin["std_error"], ref["se_link"], rtol=1e-9)
    prob = marginal_effect(pred, newdata, "power", scale="response")
    np.testing.assert_allclose(prob["estimate"], ref["effect_prob"], rtol=1e-8)
    np.testing.assert_allclose(prob["std_error"], ref["se_prob"], rtol=1e-8)
    z = 1.959963984540054
    np.testing.assert_allclose(prob["conf_high"], np.array(ref["effect_prob"]) + z * np.array(ref["se_prob"]), rtol=1e-8)


def test_marginal_effect_by_binary_moderator():
    ref = REF["marginal_binary"]
    spec = {"family": "logit", "formula": "conflict ~ power * contig + maxdem + years", "options": {"epsilon": 1e-14}}
    _, sample, pred = prepared(spec, MID)
    newdata = profile_frame(typical_values(sample.frame, pred.formula, pred.state), {"contig": ref["contig"]})
    out = marginal_effect(pred, newdata, "power")
    np.testing.assert_allclose(out["estimate"], ref["effect_link"], rtol=1e-9)
    np.testing.assert_allclose(out["std_error"], ref["se_link"], rtol=1e-9)


def test_marginal_effect_of_a_polynomial_is_its_derivative():
    # hand computation: with raw poly, eta = b0 + b1 x + b2 x^2, so d eta/dx = b1 + 2 b2 x
    spec = {"family": "logit", "formula": "conflict ~ poly(years, 2, raw = true) + power"}
    result, sample, pred = prepared(spec, MID)
    b = result.tidy.set_index("term")["estimate"]
    xs = np.array([0.0, 10.0, 30.0])
    newdata = profile_frame(typical_values(sample.frame, pred.formula, pred.state), {"years": xs})
    out = marginal_effect(pred, newdata, "years")
    expected = b["poly(years, degree = 2, raw = True)1"] + 2 * b["poly(years, degree = 2, raw = True)2"] * xs
    np.testing.assert_allclose(out["estimate"], expected, rtol=1e-7)


def test_marginal_effect_of_a_factor_is_refused():
    d = MID.assign(region=np.where(MID["contig"] == 1, "near", "far"))
    _, sample, pred = prepared({"family": "logit", "formula": "conflict ~ region + power"}, d)
    newdata = profile_frame(typical_values(sample.frame, pred.formula, pred.state))
    with pytest.raises(SpecificationError, match="'region' is a factor"):
        marginal_effect(pred, newdata, "region")


def test_profile_values_are_checked():
    d = MID.assign(region=np.where(MID["contig"] == 1, "near", "far"))
    _, sample, pred = prepared({"family": "logit", "formula": "conflict ~ region + power"}, d)
    values = typical_values(sample.frame, pred.formula, pred.state)
    assert values["region"] == "far"  # reference level (first in sorted order)
    with pytest.raises(SpecificationError, match="'maxdem' is not a covariate"):
        typical_values(sample.frame, pred.formula, pred.state, {"maxdem": 1})
    with pytest.raises(SpecificationError, match="'middle' is not a level of 'region'"):
        typical_values(sample.frame, pred.formula, pred.state, {"region": "middle"})


# ----------------------------------------------------------------------------------------------
# Kaplan-Meier
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, conf_type", [("km_sex_log", "log"), ("km_sex_loglog", "log-log"),
                                            ("km_sex_plain", "plain")])
def test_kaplan_meier_matches_survfit(key, conf_type):
    ref = REF[key]
    strata = np.array(ref["strata"])
    for sex in (1, 2):
        sel = strata == f"sex={sex}"
        part = LUNG[LUNG["sex"] == sex]
        km = kaplan_meier(part["time"], part["event"], conf_type=conf_type)
        np.testing.assert_array_equal(km["time"], floats(ref["time"])[sel])
        np.testing.assert_array_equal(km["n_risk"], floats(ref["n_risk"])[sel])
        np.testing.assert_array_equal(km["n_event"], floats(ref["n_event"])[sel])
        np.testing.assert_array_equal(km["n_censor"], floats(ref["n_censor"])[sel])
        np.testing.assert_allclose(km["surv"], floats(ref["surv"])[sel], rtol=1e-13)
        np.testing.assert_allclose(km["std_err"], floats(ref["std_err"])[sel], rtol=1e-13)
        np.testing.assert_allclose(km["conf_low"], floats(ref["lower"])[sel], rtol=1e-13)  # NaN where R has NA
        np.testing.assert_allclose(km["conf_high"], floats(ref["upper"])[sel], rtol=1e-13)


def test_kaplan_meier_overall_90_percent():
    ref = REF["km_all_90"]
    km = kaplan_meier(LUNG["time"], LUNG["event"], conf_level=0.9)
    np.testing.assert_allclose(km["surv"], floats(ref["surv"]), rtol=1e-13)
    np.testing.assert_allclose(km["conf_low"], floats(ref["lower"]), rtol=1e-13)
    np.testing.assert_allclose(km["conf_high"], floats(ref["upper"]), rtol=1e-13)


def test_number_at_risk_matches_summary_survfit():
    ref = REF["km_sex_risk"]
    strata = np.array(ref["strata"])
    for sex in (1, 2):
        counts = number_at_risk(LUNG.loc[LUNG["sex"] == sex, "time"], ref["times"])
        np.testing.assert_array_equal(counts, np.array(ref["n_risk"])[strata == f"sex={sex}"])


def test_kaplan_meier_delayed_entry_hand_computed():
    # rows (entry, time, event): at t=2 at risk: rows 1, 2 (row 3 enters at 3) -> S = 1/2;
    # at t=4: rows 2, 3 -> S = 1/2 * 1/2
    km = kaplan_meier(np.array([2.0, 4.0, 5.0]), np.array([1.0, 1.0, 0.0]), entry=np.array([0.0, 0.0, 3.0]))
    np.testing.assert_allclose(km["n_risk"], [2, 2, 1])
    np.testing.assert_allclose(km["surv"], [0.5, 0.25, 0.25])


# ----------------------------------------------------------------------------------------------
# Predicted survival
# ----------------------------------------------------------------------------------------------
COX = {"family": "cox", "formula": "~ age + sex + ph_ecog", "time": "time", "event": "event", "options": {"eps": 1e-12}}


def assert_curves_match(curves: pd.DataFrame, ref: dict, columns: list[int] | None = None, rtol: float = 1e-9):
    surv, se = floats(ref["surv"]), floats(ref["std_err"])
    low, high = floats(ref["lower"]), floats(ref["upper"])
    for i in range(curves["curve"].max() + 1):
        c = curves[curves["curve"] == i]
        t = c["time"].to_numpy()
        for ours, theirs in (("estimate", surv), ("std_error", se), ("conf_low", low), ("conf_high", high)):
            np.testing.assert_allclose(step_at(ref["time"], t, c[ours].to_numpy()), theirs[:, i], rtol=rtol,
                                       err_msg=f"curve {i} {ours}")


@pytest.mark.parametrize("key, vcov", [("cox_curves", "model"), ("cox_curves_cluster", {"type": "cluster", "groups": "inst"})])
def test_cox_curves_match_survfit(key, vcov, tmp_path):
    ref = REF[key]
    result = c2stats.fit({**COX, "vcov": vcov}, LUNG)
    sample = estimation_sample(result, LUNG)
    newdata = pd.DataFrame(ref["newdata"])
    curves = cox_survival(result, sample, model_spec(result), newdata)
    assert_curves_match(curves, ref)
    # a result read back from disk has no engine object: the fit is redone on the data
    c2stats.save_result(result, tmp_path / "r")
    loaded = c2stats.load_result(tmp_path / "r")
    again = cox_survival(loaded, estimation_sample(loaded, LUNG), model_spec(loaded), newdata)
    pd.testing.assert_frame_equal(again, curves)


def test_stratified_cox_curves_match_survfit():
    ref = REF["cox_curves_strata"]
    spec = {**COX, "formula": "~ age + ph_ecog", "options": {"eps": 1e-12, "strata": "sex"}}
    result = c2stats.fit(spec, LUNG)
    sample = estimation_sample(result, LUNG)
    newdata = pd.DataFrame(ref["newdata"])
    curves = cox_survival(result, sample, model_spec(result), newdata)
    strata = np.array(ref["strata"])  # survfit names the curves by newdata row
    for i in range(2):
        sel = strata == str(i + 1)
        c = curves[curves["curve"] == i]
        np.testing.assert_allclose(step_at(np.array(ref["time"])[sel], c["time"], c["estimate"]),
                                   floats(ref["surv"])[sel], rtol=1e-9)
        np.testing.assert_allclose(step_at(np.array(ref["time"])[sel], c["time"], c["conf_low"]),
                                   floats(ref["lower"])[sel], rtol=1e-9)
    with pytest.raises(SpecificationError, match="give \\['sex'\\] in each profile"):
        cox_survival(result, sample, model_spec(result), newdata.drop(columns=["sex"]))
    with pytest.raises(SpecificationError, match="stratum 3"):
        cox_survival(result, sample, model_spec(result), newdata.assign(sex=3))


@pytest.mark.parametrize("form", ["ph", "aft"])
def test_weibull_curves_match_hand_computation_from_survreg(form):
    ref = REF["weibull_curves"]
    spec = {**COX, "family": "weibull", "options": {"tol": 1e-12, "form": form}}
    result = c2stats.fit(spec, LUNG)
    sample = estimation_sample(result, LUNG)
    times = ref["curves"][0]["time"]
    curves = parametric_survival(result, sample, pd.DataFrame(ref["newdata"]), times)
    for i, r in enumerate(ref["curves"]):
        c = curves[curves["curve"] == i]
        np.testing.assert_allclose(c["estimate"], r["surv_psurvreg"], rtol=1e-9)
        np.testing.assert_allclose(c["std_error"], r["se_logH"], rtol=1e-9)
        np.testing.assert_allclose(c["conf_low"], r["lower"], rtol=1e-9)
        np.testing.assert_allclose(c["conf_high"], r["upper"], rtol=1e-9)


def test_estimation_sample_must_match_the_result():
    result = c2stats.fit(COX, LUNG)
    with pytest.raises(SpecificationError, match="213 estimation rows but the result has 226"):
        estimation_sample(result, LUNG.iloc[:213])
