"""Diagnostics that gate results: proportional hazards, separation, collinearity, convergence.

Reference values:
* tests/reference/golden.json (cox.zph of survival 3.5-3; see tests/reference/PROVENANCE.md);
* tests/reference/diagnostics/diagnostics.json, written by ``make_diagnostics_reference.R``
  (scaled Schoenfeld residuals ``cox.zph(fit)$y``, the smooth of ``plot.cox.zph``, ``car::vif``,
  R's NA coefficient under collinearity; raw output in ``make_diagnostics_reference.Rout``).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from c2stats import fit  # noqa: E402
from c2stats.diagnostics import (  # noqa: E402
    CollinearityWarning,
    SeparationWarning,
    detect_multinomial_separation,
    diagnostics_notes,
    diagnostics_summary,
    plot_schoenfeld,
    schoenfeld_smooth,
    variance_inflation,
)
from c2stats.errors import ConfigError, ConvergenceWarning, SpecificationError  # noqa: E402
from c2stats.families._cox_engine import fit_cox  # noqa: E402
from c2stats.families._cox_zph import scaled_schoenfeld  # noqa: E402
from c2stats.formula import design_matrix, parse_formula  # noqa: E402
from c2stats.results import load_result, save_result  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference"
GOLDEN = json.loads((REF / "golden.json").read_text())["cases"]
R = json.loads((REF / "diagnostics" / "diagnostics.json").read_text())


@functools.cache
def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"{name}.csv")


def quiet_fit(spec, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(spec, frame)


# ----------------------------------------------------------------------------------------------
# Proportional hazards (cox.zph) through the pipeline
# ----------------------------------------------------------------------------------------------
COX = {  # golden case -> (data, model keys; terms in the formula's order)
    "lung_cox": ("lung", {"formula": "~ age + sex + ph_ecog", "time": "time", "event": "event"}),
    "veteran_strat": ("veteran", {"formula": "~ trt + karno + diagtime + age + prior", "time": "time",
                                  "event": "status", "options": {"strata": "celltype"}}),
    "heart_tvc": ("heart", {"formula": "~ age + year + surgery + transplant", "time": "stop", "start": "start",
                            "event": "event"}),
    "cgd_tvc_strat": ("cgd", {"formula": "~ treat + age + inherit + steroids", "time": "tstop", "start": "tstart",
                              "event": "status", "options": {"strata": "hos_cat"}}),
}
PH_CASES = [(case, ties) for case in COX for ties in ("efron", "breslow")]


@functools.cache
def cox_result(case: str, ties: str):
    name, spec = COX[case]
    options = {**spec.get("options", {}), "ties": ties, "eps": 1e-11}
    return fit({"id": f"{case}_{ties}", "family": "cox", **spec, "options": options}, data(name))


@pytest.mark.parametrize(("case", "ties"), PH_CASES, ids=[f"{c}-{t}" for c, t in PH_CASES])
def test_ph_test_in_cox_results_matches_cox_zph(case, ties):
    result = cox_result(case, ties)
    ref = GOLDEN[case][f"cox_{ties}"]["cox_zph"]["km"]
    table = result.frames["ph_test"].set_index("term")
    for term, values in ref["terms"].items():
        assert table.loc[term, "chisq"] == pytest.approx(values["chisq"], abs=1e-6)
        assert table.loc[term, "df"] == values["df"]
        assert table.loc[term, "p_value"] == pytest.approx(values["p"], abs=1e-6)
    assert table.loc["GLOBAL", "chisq"] == pytest.approx(ref["global"]["chisq"], abs=1e-6)
    assert table.loc["GLOBAL", "df"] == ref["global"]["df"]
    assert result.glance["ph_global_p"] == pytest.approx(ref["global"]["p"], abs=1e-6)
    ph = result.meta["diagnostics"]["proportional_hazards"]
    assert ph["global_p"] == result.glance["ph_global_p"] and ph["transform"] == "km"


ZPH_PIPELINE = {  # diagnostics.json key -> (golden case, ties)
    "lung_km": ("lung_cox", "efron"),
    "veteran_strata_km": ("veteran_strat", "efron"),
    "heart_km": ("heart_tvc", "efron"),
    "cgd_strata_km": ("cgd_tvc_strat", "efron"),
}


def _r_matrix(rows) -> np.ndarray:
    return pd.DataFrame(rows).apply(pd.to_numeric, errors="coerce").to_numpy(float)  # R's NA -> NaN


@pytest.mark.parametrize("key", list(ZPH_PIPELINE))
def test_scaled_schoenfeld_residuals_match_r(key):
    ref = R["zph"][key]
    result = cox_result(*ZPH_PIPELINE[key])
    long = result.frames["ph_residuals"]
    terms = list(dict.fromkeys(long["term"]))
    assert terms == ref["terms"]
    y = np.column_stack([long.loc[long["term"] == t, "residual"].to_numpy() for t in terms])
    first = long[long["term"] == terms[0]]
    expected = _r_matrix(ref["y"])
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))  # R leaves NA where a stratum has no variation
    np.testing.assert_allclose(y[~np.isnan(y)], expected[~np.isnan(expected)], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(first["x"], ref["x"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(first["time"], ref["time"], rtol=1e-12)
    if ref["strata"] is not None:
        assert first["stratum"].tolist() == ref["strata"]
    beta_var = result.frames["ph_test"].set_index("term").loc[terms, "beta_var"].to_numpy()
    np.testing.assert_allclose(beta_var, np.diag(np.asarray(ref["var"])), rtol=1e-9)


@pytest.mark.parametrize(("key", "ties", "transform", "formula"), [
    ("lung_identity", "efron", "identity", None),
    ("lung_breslow_rank", "breslow", "rank", None),
    ("lung_factor_km", "efron", "km", "factor"),
])
def test_scaled_schoenfeld_other_transforms_and_factor_terms(key, ties, transform, formula):
    lung = data("lung")
    if formula == "factor":
        dummies = pd.get_dummies(lung["ph_ecog"], prefix="e", drop_first=True).astype(float)
        X = np.column_stack([lung["age"], dummies.to_numpy()])
        terms = {"age": [0], "factor(ph_ecog)": list(range(1, X.shape[1]))}
    else:
        X = lung[["age", "sex", "ph_ecog"]].to_numpy(float)
        terms = {"age": [0], "sex": [1], "ph_ecog": [2]}
    fitted = fit_cox(X, lung["time"].to_numpy(float), lung["event"].to_numpy(), ties=ties, eps=1e-11)
    res = scaled_schoenfeld(fitted, X, lung["time"].to_numpy(float), lung["event"].to_numpy(), transform=transform,
                            terms=terms)
    ref = R["zph"][key]
    assert list(res.terms) == ref["terms"]
    np.testing.assert_allclose(res.y, _r_matrix(ref["y"]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.x, ref["x"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.var, np.asarray(ref["var"]), rtol=1e-9)


def test_schoenfeld_smooth_matches_plot_cox_zph():
    result = cox_result("lung_cox", "efron")
    long = result.frames["ph_residuals"]
    table = result.frames["ph_test"].set_index("term")
    ref = R["smooth_lung"]
    for term in ("age", "sex", "ph_ecog"):
        sub = long[long["term"] == term]
        grid, fitted, lower, upper = schoenfeld_smooth(sub["x"], sub["residual"], table.loc[term, "beta_var"])
        np.testing.assert_allclose(grid, ref["pred_x"], rtol=1e-12)
        np.testing.assert_allclose(fitted, ref["terms"][term]["yhat"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(upper, ref["terms"][term]["upper"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(lower, ref["terms"][term]["lower"], rtol=1e-9, atol=1e-12)


def test_plot_schoenfeld_draws_residuals_smooth_and_band():
    import matplotlib.pyplot as plt

    result = cox_result("lung_cox", "efron")
    fig, ax = plt.subplots()
    out = plot_schoenfeld(result, "sex", ax=ax)
    assert out is ax
    long = result.frames["ph_residuals"]
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 1], long.loc[long["term"] == "sex", "residual"])
    smooth = R["smooth_lung"]["terms"]["sex"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), smooth["yhat"], rtol=1e-9)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), smooth["upper"], rtol=1e-9)
    np.testing.assert_allclose(ax.lines[2].get_ydata(), smooth["lower"], rtol=1e-9)
    coef = result.tidy.set_index("term").loc["sex", "estimate"]
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(coef)
    assert ax.get_ylabel() == "Beta(t) for sex"
    plt.close(fig)
    # also from the long frame alone, and after a save/load round trip
    fig, ax = plt.subplots()
    plot_schoenfeld(long.merge(result.frames["ph_test"][["term", "beta_var"]], on="term"), "age", ax=ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), R["smooth_lung"]["terms"]["age"]["yhat"], rtol=1e-9)
    plt.close(fig)
    with pytest.raises(SpecificationError, match="did you mean 'sex'"):
        plot_schoenfeld(result, "sexx")


def test_results_without_residuals_say_why():
    result = quiet_fit({"family": "logit", "formula": "conflict ~ major + contig"}, data("mid"))
    with pytest.raises(SpecificationError, match="no scaled Schoenfeld residuals"):
        plot_schoenfeld(result, "major")


# ----------------------------------------------------------------------------------------------
# Collinearity
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "name", "formula"), [
    ("mid", "mid", "conflict ~ major + contig + power + maxdem + mindem + years"),
    ("lung_factor", "lung", "time ~ age + sex + C(ph_ecog)"),
    ("mid_interaction", "mid", "conflict ~ major + contig * power + years"),
])
def test_vif_matches_car(key, name, formula):
    ref = R["vif"][key]
    design = design_matrix(parse_formula(formula), data(name))
    vif = variance_inflation(design.matrix, design.names, design.term_of_column)
    np.testing.assert_allclose(vif["gvif"], ref["gvif"], rtol=1e-9)
    if "df" in ref:
        assert vif["df"].tolist() == ref["df"]
        np.testing.assert_allclose(vif["gvif_adj"], ref["gvif_adj"], rtol=1e-9)
    else:
        np.testing.assert_allclose(vif["gvif_adj"] ** 2, ref["gvif"], rtol=1e-9)


def test_vif_frame_in_results_and_summary():
    result = quiet_fit({"id": "m", "family": "logit", "formula": "conflict ~ major + contig + power + maxdem + mindem + years",
                        "options": {"epsilon": 1e-14}}, data("mid"))
    vif = result.frames["vif"]
    np.testing.assert_allclose(vif["gvif"], R["vif"]["mid"]["gvif"], rtol=1e-9)
    row = diagnostics_summary({"m": result}).set_index("diagnostic").loc["vif"]
    assert row["status"] == "ok" and row["value"] == pytest.approx(max(R["vif"]["mid"]["gvif"]), rel=1e-9)
    assert "maxdem" in row["detail"]


def test_collinear_term_is_dropped_with_a_note_as_r():
    lung = data("lung").assign(age2=lambda d: 2 * d["age"] + 1)
    with pytest.warns(CollinearityWarning, match="'age2' omitted because of collinearity"):
        result = fit({"id": "ols", "family": "ols", "formula": "time ~ age + sex + age2 + ph_ecog"}, lung)
    ref = R["collinear"]["lm_lung"]
    assert ref["na_terms"] == "age2"
    coef = result.tidy.set_index("term")["estimate"]
    assert list(coef.index) == list(ref["coef"])
    np.testing.assert_allclose(coef.to_numpy(), list(ref["coef"].values()), rtol=1e-9)
    assert result.meta["diagnostics"]["collinearity"]["dropped"] == ["age2"]
    assert any("'age2' omitted because of collinearity" in w for w in result.meta["warnings"])
    row = diagnostics_summary([result]).set_index("diagnostic").loc["collinearity"]
    assert row["status"] == "remedied" and "age2" in row["detail"]


def test_collinear_term_raises_when_declared():
    lung = data("lung").assign(age2=lambda d: 2 * d["age"] + 1)
    with pytest.raises(SpecificationError, match=r"rank deficient; 'age2' is a linear combination.*on_collinear"):
        fit({"id": "ols", "family": "ols", "formula": "time ~ age + sex + age2 + ph_ecog", "on_collinear": "error"}, lung)


def test_constant_column_dropped_in_a_cox_model():
    lung = data("lung").assign(one=1.0)
    with pytest.warns(CollinearityWarning, match="'one'"):
        result = fit({"family": "cox", "formula": "~ age + one + sex", "time": "time", "event": "event"}, lung)
    assert result.tidy["term"].tolist() == ["age", "sex"]


# ----------------------------------------------------------------------------------------------
# Separation
# ----------------------------------------------------------------------------------------------
ENDO = {"family": "logit", "formula": "HG ~ NV + PI + EH"}


def test_separation_error_names_model_and_term():
    with pytest.raises(SpecificationError) as info:
        fit({"id": "grade", **ENDO}, data("endometrial"))
    assert "model 'grade'" in info.value.message and "'NV'" in info.value.message
    assert "on_separation = 'firth'" in info.value.message


def test_separation_warn_marks_the_result():
    with pytest.warns(SeparationWarning, match="separated by 'NV'.*estimates of these terms are infinite"):
        result = fit({"id": "grade", **ENDO, "on_separation": "warn"}, data("endometrial"))
    assert result.glance["separation"] is True and result.meta["family"] == "logit"
    assert result.meta["diagnostics"]["separation"] == {"detected": True, "terms": ["NV"], "action": "warned",
                                                         "on_separation": "warn"}
    row = diagnostics_summary([result]).set_index("diagnostic").loc["separation"]
    assert row["status"] == "flag"
    assert any("separation" in n for n in diagnostics_notes([result]))


def test_separation_firth_refits_and_marks():
    with pytest.warns(SeparationWarning, match="refitted with Firth"):
        result = fit({"id": "grade", **ENDO, "on_separation": "firth", "vcov": "HC0"}, data("endometrial"))
    ref = GOLDEN["endometrial_firth"]["firth"]
    coef = result.tidy.set_index("term")["estimate"]
    for term, value in ref["coef"].items():
        assert coef[term] == pytest.approx(value, rel=1e-6)
    assert result.meta["family"] == "firth" and result.meta["remedy"] == "firth"
    assert result.meta["family_declared"] == "logit" and result.glance["separation"] is True
    assert result.meta["diagnostics"]["separation"]["action"] == "refitted with firth"
    assert any("refitted with Firth" in w for w in result.meta["warnings"])
    row = diagnostics_summary([result]).set_index("diagnostic").loc["separation"]
    assert row["status"] == "remedied"
    # marks survive a save/load round trip
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        again = load_result(save_result(result, tmp))
    pd.testing.assert_frame_equal(diagnostics_summary([again]), diagnostics_summary([result]))


def test_probit_and_discrete_hazard_detect_separation():
    with pytest.raises(SpecificationError, match="'NV'"):
        fit({**ENDO, "family": "probit"}, data("endometrial"))
    with pytest.raises(SpecificationError, match="'NV'"):
        fit({**ENDO, "family": "discrete_hazard"}, data("endometrial"))


def test_no_separation_on_clean_data():
    result = quiet_fit({"family": "logit", "formula": "conflict ~ major + contig + power"}, data("mid"))
    assert result.glance["separation"] is False
    assert result.meta["diagnostics"]["separation"]["detected"] is False


def _separated_multinomial() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 90
    x, z = rng.normal(size=n), rng.normal(size=n)
    y = np.where(x > 0.8, 3, np.where(rng.random(n) < 0.5, 1, 2))  # category 3 exactly when x > 0.8
    return pd.DataFrame({"y": y, "x": x, "z": z})


@pytest.mark.filterwarnings("ignore::c2stats.errors.ConvergenceWarning")
def test_multinomial_separation_detected():
    d = _separated_multinomial()
    with pytest.raises(SpecificationError, match=r"'3: x'"):
        fit({"id": "mn", "family": "mnlogit", "formula": "y ~ x + z"}, d)
    with pytest.warns(SeparationWarning):
        result = fit({"id": "mn", "family": "mnlogit", "formula": "y ~ x + z", "on_separation": "warn"}, d)
    assert result.glance["separation"] is True
    assert "3: x" in result.meta["diagnostics"]["separation"]["terms"]
    # the linear program on data where the estimate exists (golden mexico model) finds nothing
    mex = data("mexico")
    design = design_matrix(parse_formula("vote88 ~ pristr + othcok + othsocok + female + age + school"), mex)
    assert detect_multinomial_separation(design.matrix, mex["vote88"].to_numpy(), [2, 3], 1) == []
    # a category missing from one side of a binary covariate: quasi-complete separation
    q = pd.DataFrame({"y": [1, 2, 3] * 10 + [1, 2] * 5, "d": [0] * 30 + [1] * 10})
    design = design_matrix(parse_formula("y ~ d"), q)
    hits = detect_multinomial_separation(design.matrix, q["y"].to_numpy(), [2, 3], 1)
    assert (3, 1) in hits


@pytest.mark.parametrize(("spec", "message"), [
    ({"family": "probit", "on_separation": "firth"}, "probit link"),
    ({"family": "discrete_hazard", "options": {"link": "cloglog"}, "on_separation": "firth"}, "cloglog link"),
    ({"family": "mnlogit", "on_separation": "firth"}, "not available for mnlogit"),
    ({"family": "ols", "on_separation": "warn"}, "no separation check"),
])
def test_on_separation_config_rules(spec, message):
    body = {"formula": "HG ~ NV + PI", **spec}
    with pytest.raises(ConfigError, match=message) as info:
        fit(body, data("endometrial"))
    assert "on_separation" in str(info.value)


# ----------------------------------------------------------------------------------------------
# Convergence
# ----------------------------------------------------------------------------------------------
def test_non_convergence_is_never_silent():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = fit({"id": "short", "family": "logit", "formula": "conflict ~ major + contig + power",
                      "options": {"maxit": 1}}, data("mid"))
    assert result.glance["converged"] is False
    note = result.meta["diagnostics"]["convergence"]["note"]
    assert "model 'short' (logit) did not converge" in note and "Remedies" in note
    assert note in result.meta["warnings"]
    row = diagnostics_summary([result]).set_index("diagnostic").loc["convergence"]
    assert row["status"] == "flag" and "Remedies" in row["detail"]
    with pytest.warns(ConvergenceWarning, match=r"\(cox\) did not converge"):
        cox = fit({"id": "cox1", "family": "cox", "formula": "~ age + sex", "time": "time", "event": "event",
                   "options": {"max_iter": 1}}, data("lung"))
    assert cox.glance["converged"] is False


def test_summary_has_one_row_per_model_and_diagnostic():
    results = {
        "cox": cox_result("lung_cox", "efron"),
        "logit": quiet_fit({"id": "logit", "family": "logit", "formula": "conflict ~ major + contig"}, data("mid")),
    }
    summary = diagnostics_summary(results)
    assert list(summary.columns) == ["model_id", "diagnostic", "status", "value", "detail"]
    got = list(zip(summary["model_id"], summary["diagnostic"]))
    assert got == [("lung_cox_efron", "convergence"), ("lung_cox_efron", "collinearity"), ("lung_cox_efron", "vif"),
                   ("lung_cox_efron", "proportional_hazards"), ("logit", "convergence"), ("logit", "separation"),
                   ("logit", "collinearity"), ("logit", "vif")]
    ph = summary.set_index(["model_id", "diagnostic"]).loc[("lung_cox_efron", "proportional_hazards")]
    assert ph["value"] == pytest.approx(GOLDEN["lung_cox"]["cox_efron"]["cox_zph"]["km"]["global"]["p"], abs=1e-6)
    assert ph["status"] == "ok"
    assert diagnostics_notes(results) == []
