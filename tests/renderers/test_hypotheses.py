"""Declared hypotheses: the test language, Wald/LR values against R, corrections, the verdict table.

Reference values: tests/reference/hypotheses/hypotheses.json, written by
``make_hypotheses_reference.R`` (car::linearHypothesis, anova/lmtest::lrtest, p.adjust; output in
``make_hypotheses_reference.Rout``). One-sided p-values are derived by hand from R's statistics.
"""

from __future__ import annotations

import functools
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from c2stats import fit
from c2stats.config import load_analysis
from c2stats.errors import ConfigError, SpecificationError
from c2stats.hypotheses import (
    VERDICT_COLUMNS,
    HypothesisSpec,
    adjust_pvalues,
    check_hypotheses,
    evaluate_hypotheses,
    parse_test,
    verdict_display,
)

REF = Path(__file__).resolve().parents[1] / "reference"
R = json.loads((REF / "hypotheses" / "hypotheses.json").read_text())
DATA = REF / "data"


def H(**kw) -> HypothesisSpec:
    return HypothesisSpec(statement=kw.pop("statement", "s"), **kw)


@functools.cache
def _results() -> dict:
    lung = pd.read_csv(DATA / "lung.csv")
    mid = pd.read_csv(DATA / "mid.csv")
    gr = pd.read_csv(DATA / "grunfeld.csv")
    cox = {"family": "cox", "time": "time", "event": "event", "options": {"eps": 1e-11}}
    logit = {"family": "logit", "options": {"epsilon": 1e-14}}
    f_mid = "conflict ~ major + contig + power + maxdem + mindem + years"
    specs = {
        "cox_full": ({**cox, "formula": "~ age + sex + ph_ecog"}, lung),
        "cox_small": ({**cox, "formula": "~ age"}, lung),
        "cox_cl": ({**cox, "formula": "~ age + sex + ph_ecog", "vcov": {"type": "cluster", "groups": "inst"}}, lung),
        "cox_int": ({**cox, "formula": "~ age + sex * ph_ecog"}, lung),
        "logit": ({**logit, "formula": f_mid}, mid),
        "logit_hc1": ({**logit, "formula": f_mid, "vcov": "HC1"}, mid),
        "logit_small": ({**logit, "formula": "conflict ~ major + contig + power + years"}, mid),
        "logit_int": ({**logit, "formula": "conflict ~ major + contig * power + maxdem + mindem + years"}, mid),
        "logit_sq": ({**logit, "formula": "conflict ~ major + I(years ** 2)"}, mid),
        "probit": ({"family": "probit", "formula": f_mid}, mid),
        "ols": ({"family": "ols", "formula": "inv ~ value + capital"}, gr),
        "ols_small": ({"family": "ols", "formula": "inv ~ value"}, gr),
        "ols_sub": ({"family": "ols", "formula": "inv ~ value", "sample": "year > 1935"}, gr),
    }
    return {mid_: fit({"id": mid_, **spec}, data) for mid_, (spec, data) in specs.items()}


@pytest.fixture(scope="module")
def results():
    return _results()


def _one(spec: HypothesisSpec, results) -> pd.Series:
    frame = evaluate_hypotheses([spec], results)
    assert len(frame) == 1
    return frame.iloc[0]


# ----------------------------------------------------------------------------------------------
# The language
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "forms", "direction"),
    [
        ("volatility > 0", "one_sided", [({"volatility": 1.0}, 0.0)], "greater"),
        ("x < -0.5", "one_sided", [({"x": 1.0}, 0.5)], "less"),
        ("c2_depth + c2_depth:informal = 0", "wald", [({"c2_depth": 1.0, "c2_depth:informal": 1.0}, 0.0)], None),
        ("maxdem = mindem", "wald", [({"maxdem": 1.0, "mindem": -1.0}, 0.0)], None),
        ("2*(a - b)/4 = 1", "wald", [({"a": 0.5, "b": -0.5}, -1.0)], None),
        ("a = b = 0", "joint", [({"a": 1.0, "b": -1.0}, 0.0), ({"b": 1.0}, 0.0)], None),
        ("(Intercept) > 0", "one_sided", [({"(Intercept)": 1.0}, 0.0)], "greater"),
        ("formal: age = informal: age", "wald", [({"formal: age": 1.0, "informal: age": -1.0}, 0.0)], None),
        ("`my var` + poly(x, 2)1 - C(z)1 = 0", "wald", [({"my var": 1.0, "poly(x, 2)1": 1.0, "C(z)1": -1.0}, 0.0)], None),
    ],
)
def test_parse_linear_restrictions(text, kind, forms, direction):
    parsed = parse_test(text)
    assert parsed.kind == kind and parsed.direction == direction
    got = [({r: c for r, c in f.coefs}, f.const) for f in parsed.restrictions]
    assert got == forms


def test_parse_list_and_lr():
    assert parse_test(["a = 0", "b = 0"]).kind == "joint"
    assert parse_test(["a = 0"]).kind == "wald"
    assert parse_test("LR").kind == "lr"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a*b = 0", "not linear"),
        ("x", "states no hypothesis"),
        ("a < b < 0", "chains inequalities"),
        ("a != 0", "'!=' is not a testable"),
        ("1 = 1", "without any term"),
        ("f(x = 0", "unbalanced"),
        ("(x = 0", "not a valid test"),
        ("x = 0; y", "unexpected character"),
        ("a / b = 0", "divide by a non-zero number"),
        (["a > 0", "b = 0"], "equalities only"),
        ([], "empty"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_test(text)


def test_code_like_text_is_only_ever_a_term_name(results):
    # nothing is evaluated: an attempted call is read as a (non-existent) term name
    spec = H(id="evil", models=["logit"], test="__import__('os').system('echo hi') = 0")
    with pytest.raises(SpecificationError, match="not a term of model 'logit'"):
        evaluate_hypotheses([spec], results)


def test_spec_cross_field_rules():
    with pytest.raises(ValueError, match="exactly two different models"):
        H(id="h", models=["a"], test="lr")
    with pytest.raises(ValueError, match="needs family"):
        H(id="h", models=["a"], test="x > 0", correction="holm")
    with pytest.raises(ValueError, match="not a valid test|states no hypothesis"):
        H(id="h", models=["a"], test="x")
    with pytest.raises(ValueError, match="'at' and 'component' apply to Wald"):
        H(id="h", models=["a", "b"], test="lr", at={"z": 1})
    with pytest.raises(ConfigError, match="same correction"):
        check_hypotheses([H(id="a", models=["m"], test="x > 0", correction="holm", family="F"),
                          H(id="b", models=["m"], test="y > 0", correction="bh", family="F")])


# ----------------------------------------------------------------------------------------------
# Against R
# ----------------------------------------------------------------------------------------------
WALD_CASES = [  # (R section, R key, model, test, at)
    ("lung", "sex", "cox_full", "sex = 0", {}),
    ("lung", "sex_plus_ecog", "cox_full", "sex + ph_ecog = 0", {}),
    ("lung", "joint_age_ecog", "cox_full", ["age = 0", "ph_ecog = 0"], {}),
    ("lung", "chain_sex_ecog", "cox_full", "sex = ph_ecog = 0", {}),
    ("lung", "cluster_sex", "cox_cl", "sex = 0", {}),
    ("lung", "cluster_joint", "cox_cl", "age = sex = ph_ecog = 0", {}),
    ("lung", "marginal_ecog_at_sex1", "cox_int", "ph_ecog = 0", {"sex": 1}),
    ("lung", "marginal_ecog_at_sex2", "cox_int", "ph_ecog = 0", {"sex": 2}),
    ("mid", "maxdem_eq_mindem", "logit", "maxdem = mindem", {}),
    ("mid", "joint_major_contig", "logit", "major = contig = 0", {}),
    ("mid", "hc1_maxdem_eq_mindem", "logit_hc1", "maxdem - mindem = 0", {}),
    ("mid", "hc1_joint_dem", "logit_hc1", ["maxdem = 0", "mindem = 0"], {}),
    ("mid", "marginal_power_at_contig1", "logit_int", "power = 0", {"contig": 1}),
    ("grunfeld", "value_eq_capital", "ols", "value = capital", {}),
    ("grunfeld", "joint_value_capital", "ols", "value = capital = 0", {}),
]


@pytest.mark.parametrize(("section", "key", "model", "test", "at"), WALD_CASES,
                         ids=[f"{s}-{k}" for s, k, *_ in WALD_CASES])
def test_wald_matches_car_linear_hypothesis(results, section, key, model, test, at):
    ref = R[section][key]
    row = _one(H(id="h", models=[model], test=test, at=at), results)
    assert row["df"] == ref["df"]
    assert row["p_value"] == pytest.approx(ref["p"], rel=1e-6, abs=1e-300)
    if ref["df"] == 1:
        # car reports the squared statistic (chi-square or F); the value and its variance directly
        assert row["estimate"] == pytest.approx(ref["value"][0] if isinstance(ref["value"], list) else ref["value"], rel=1e-7)
        assert row["std_error"] ** 2 == pytest.approx(ref["vcov"][0] if isinstance(ref["vcov"], list) else ref["vcov"], rel=1e-6)
        assert row["statistic"] ** 2 == pytest.approx(ref["statistic"], rel=1e-6)
        assert row["distribution"] == ("t" if ref["statistic_name"] == "F" else "normal")
    else:
        assert row["statistic"] == pytest.approx(ref["statistic"], rel=1e-6)
        assert row["distribution"] == ("F" if ref["statistic_name"] == "F" else "chisq")
    if ref["statistic_name"] == "F":
        assert row["df_resid"] == R["grunfeld"]["df_residual"]


def test_one_sided_from_r_statistics(results):
    # t reference (OLS): R's pt(t, df, lower.tail = FALSE)
    row = _one(H(id="h", models=["ols"], test="capital > 0"), results)
    assert row["statistic"] == pytest.approx(R["grunfeld"]["capital_t"], rel=1e-8)
    assert row["p_value"] == pytest.approx(R["grunfeld"]["capital_p_greater"], rel=1e-6)
    assert row["direction_met"] is True and row["expected_direction"] == "> 0"
    # z reference (logit): the one-sided p is Phi(z) for '< 0' and 1 - Phi(z) for '> 0', by hand from R's z
    z = R["mid"]["years_z"]
    less = _one(H(id="h", models=["logit"], test="years < 0"), results)
    greater = _one(H(id="g", models=["logit"], test="years > 0"), results)
    assert less["statistic"] == pytest.approx(z, rel=1e-6)
    assert less["p_value"] == pytest.approx(stats.norm.cdf(z), rel=1e-6)
    assert greater["p_value"] == pytest.approx(stats.norm.sf(z), rel=1e-6)
    assert (z < 0) == less["direction_met"] and (z > 0) == greater["direction_met"]
    # a one-sided test in the wrong direction is not rejected even though |z| is large
    assert less["reject"] != greater["reject"]


def test_marginal_effect_expands_every_moderator_value(results):
    frame = evaluate_hypotheses([H(id="m", models=["cox_int"], test="ph_ecog > 0", at={"sex": [1, 2]})], results)
    assert frame["at"].tolist() == ["sex = 1", "sex = 2"]
    assert frame["estimate"].tolist() == pytest.approx([R["lung"]["marginal_ecog_at_sex1"]["value"],
                                                        R["lung"]["marginal_ecog_at_sex2"]["value"]], rel=1e-7)
    coef = R["lung"]["interaction_coef"]
    assert frame["estimate"].iloc[1] == pytest.approx(coef["ph_ecog"] + 2 * coef["sex:ph_ecog"], rel=1e-7)


@pytest.mark.parametrize(("section", "small", "big"), [("lung", "cox_small", "cox_full"),
                                                         ("mid", "logit_small", "logit"),
                                                         ("grunfeld", "ols_small", "ols")])
def test_likelihood_ratio_matches_r(results, section, small, big):
    ref = R[section]["lr"]
    row = _one(H(id="lr", models=[big, small], test="lr"), results)  # order does not matter
    assert row["model"] == f"{small} vs {big}"
    assert row["statistic"] == pytest.approx(ref["chisq"], rel=1e-7)
    assert row["df"] == ref["df"]
    assert row["p_value"] == pytest.approx(ref["p"], rel=1e-6)
    assert row["kind"] == "lr" and row["distribution"] == "chisq"


def test_lr_refusals(results):
    with pytest.raises(SpecificationError, match=r"different samples.*sample key"):
        evaluate_hypotheses([H(id="H9", models=["ols", "ols_sub"], test="lr")], results)
    with pytest.raises(SpecificationError, match="not nested"):
        evaluate_hypotheses([H(id="H9", models=["logit_sq", "logit"], test="lr")], results)
    with pytest.raises(SpecificationError, match="different families"):
        evaluate_hypotheses([H(id="H9", models=["logit", "probit"], test="lr")], results)
    with pytest.raises(SpecificationError, match="same number of parameters"):
        evaluate_hypotheses([H(id="H9", models=["logit", "logit_hc1"], test="lr")], results)


def test_lr_notes_that_it_ignores_a_robust_variance(results):
    row = _one(H(id="lr", models=["cox_small", "cox_cl"], test="lr"), results)
    assert "ignores the declared robust/cluster variance" in row["note"]


# ----------------------------------------------------------------------------------------------
# Errors naming the hypothesis, the key and the fix
# ----------------------------------------------------------------------------------------------
def test_unknown_term_suggests_the_closest(results):
    with pytest.raises(SpecificationError) as info:
        evaluate_hypotheses([H(id="H2", models=["logit"], test="maxdemm > 0")], results)
    err = info.value
    assert "hypothesis 'H2'" in err.message and "did you mean 'maxdem'" in err.message
    assert err.where == "hypotheses[0] (id 'H2').test"


def test_moderator_missing_from_at_is_named(results):
    with pytest.raises(SpecificationError) as info:
        evaluate_hypotheses([H(id="H3", models=["cox_int"], test="ph_ecog > 0", at={"age": 50})], results)
    assert "'sex:ph_ecog' also moderates 'ph_ecog'" in info.value.message and "add 'sex' to at" in info.value.message
    with pytest.raises(SpecificationError, match="not part of any term.*did you mean 'sex'"):
        evaluate_hypotheses([H(id="H3", models=["cox_int"], test="ph_ecog > 0", at={"sexx": 1})], results)


def test_term_omitted_for_collinearity_is_explained():
    lung = pd.read_csv(DATA / "lung.csv").assign(age2=lambda d: 2 * d["age"] + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = {"m": fit({"id": "m", "family": "ols", "formula": "time ~ age + age2 + sex"}, lung)}
    with pytest.raises(SpecificationError, match="'age2' was omitted from model 'm' because of collinearity"):
        evaluate_hypotheses([H(id="H5", models=["m"], test="age2 > 0")], res)


def test_unknown_model_and_dependent_restrictions(results):
    with pytest.raises(SpecificationError, match="model 'logitt', which was not fitted.*did you mean 'logit'"):
        evaluate_hypotheses([H(id="H4", models=["logitt"], test="major > 0")], results)
    with pytest.raises(SpecificationError, match="linearly dependent"):
        evaluate_hypotheses([H(id="H4", models=["logit"], test=["major = 0", "2*major = 0"])], results)


# ----------------------------------------------------------------------------------------------
# Multi-equation models
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnl():
    mexico = pd.read_csv(DATA / "mexico.csv")
    return {"mnl": fit({"id": "mnl", "family": "mnlogit", "formula": "vote88 ~ pristr + othcok + othsocok + female + age + school",
                        "options": {"base": 1}}, mexico)}


def test_component_syntax_and_key(mnl):
    tidy = mnl["mnl"].tidy
    row = tidy[(tidy["component"] == "2") & (tidy["term"] == "age")].iloc[0]
    by_prefix = _one(H(id="a", models=["mnl"], test="2: age = 0"), mnl)
    by_key = _one(H(id="b", models=["mnl"], test="age = 0", component="2"), mnl)
    quoted = _one(H(id="c", models=["mnl"], test="`2: age` = 0"), mnl)
    for r in (by_prefix, by_key, quoted):
        assert r["estimate"] == row["estimate"] and r["statistic"] == pytest.approx(row["statistic"], rel=1e-12)
        assert r["p_value"] == pytest.approx(row["p_value"], rel=1e-10)
    # across equations: equal effects of age on categories 2 and 3, by hand from the covariance
    cross = _one(H(id="d", models=["mnl"], test="`2: age` = `3: age`"), mnl)
    V = mnl["mnl"].vcov()
    b = tidy.assign(label=tidy["component"] + ": " + tidy["term"]).set_index("label")["estimate"]
    var = V.loc["2: age", "2: age"] + V.loc["3: age", "3: age"] - 2 * V.loc["2: age", "3: age"]
    assert cross["estimate"] == pytest.approx(b["2: age"] - b["3: age"], rel=1e-12)
    assert cross["std_error"] == pytest.approx(np.sqrt(var), rel=1e-12)


def test_ambiguous_term_in_multi_equation_model(mnl):
    with pytest.raises(SpecificationError, match=r"several equations.*write '2: age'"):
        evaluate_hypotheses([H(id="e", models=["mnl"], test="age > 0")], mnl)
    with pytest.raises(SpecificationError, match="component '9' is not an equation"):
        evaluate_hypotheses([H(id="e", models=["mnl"], test="age > 0", component="9")], mnl)


# ----------------------------------------------------------------------------------------------
# Corrections and decisions
# ----------------------------------------------------------------------------------------------
def test_adjust_pvalues_matches_p_adjust():
    ref = R["p_adjust"]
    p = [np.nan if v is None else v for v in ref["p"]]
    for method, key in (("holm", "holm"), ("bh", "bh")):
        expected = [np.nan if v is None else v for v in ref[key]]
        np.testing.assert_allclose(adjust_pvalues(p, method), expected, rtol=1e-12)
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), np.asarray(p))


def test_corrections_apply_within_each_family(results):
    specs = [
        H(id="A1", models=["logit"], test="major > 0", correction="holm", family="A"),
        H(id="A2", models=["logit"], test="years < 0", correction="holm", family="A"),
        H(id="A3", models=["logit"], test="power = 0", correction="holm", family="A"),
        H(id="B1", models=["logit"], test="maxdem > 0", correction="bh", family="B"),
        H(id="B2", models=["logit", "probit"], test="mindem = 0", correction="bh", family="B"),
        H(id="C1", models=["logit"], test="contig > 0"),
    ]
    frame = evaluate_hypotheses(specs, results)
    assert frame["hypothesis"].tolist() == ["A1", "A2", "A3", "B1", "B2", "B2", "C1"]
    raw = frame["p_value"].to_numpy()
    # Holm by hand over the three A rows
    a = raw[:3]
    order = np.argsort(a)
    holm = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * a[i]))
        holm[i] = running
    np.testing.assert_allclose(frame["p_adjusted"].to_numpy()[:3], holm, rtol=1e-12)
    # BH over the three B rows (B2 counts twice: one row per model)
    b = raw[3:6]
    order = np.argsort(b)[::-1]
    bh = np.empty(3)
    running = 1.0
    for k, i in zip(range(3, 0, -1), order):
        running = min(running, 3 / k * b[i])
        bh[i] = running
    np.testing.assert_allclose(frame["p_adjusted"].to_numpy()[3:6], bh, rtol=1e-12)
    assert frame["p_adjusted"].iloc[6] == frame["p_value"].iloc[6]
    assert (frame["reject"] == (frame["p_adjusted"] < frame["alpha"])).all()
    assert set(frame["decision"]) <= {"reject H0", "do not reject H0"}


def test_nonconverged_model_is_noted(results):
    mid = pd.read_csv(DATA / "mid.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = fit({"id": "short", "family": "logit", "formula": "conflict ~ major + contig", "options": {"maxit": 1}}, mid)
    row = _one(H(id="N", models=["short"], test="major > 0"), {"short": bad})
    assert row["converged"] is False or row["converged"] == False  # noqa: E712
    assert "short did not converge" in row["note"]


# ----------------------------------------------------------------------------------------------
# An analysis with six declared hypotheses -> verdict table in every format
# ----------------------------------------------------------------------------------------------
ANALYSIS = """
[analysis]
id = "hyp_demo"
title = "Hypotheses"
dataset = "lung.csv"

[[models]]
id = "cox_small"
family = "cox"
formula = "~ age"
time = "time"
event = "event"

[[models]]
id = "cox_full"
extends = "cox_small"
formula = "~ age + sex * ph_ecog"
vcov = { type = "cluster", groups = "inst" }

[[hypotheses]]
id = "H1"
statement = "Older patients face a higher hazard"
models = ["cox_small", "cox_full"]
test = "age > 0"
correction = "holm"
family = "main"

[[hypotheses]]
id = "H2"
statement = "Women (sex = 2) face a lower hazard"
models = ["cox_full"]
test = "sex < 0"
correction = "holm"
family = "main"

[[hypotheses]]
id = "H3"
statement = "ECOG score raises the hazard among women"
models = ["cox_full"]
test = "ph_ecog > 0"
at = { sex = 2 }
correction = "holm"
family = "main"

[[hypotheses]]
id = "H4"
statement = "Sex and ECOG have no effect"
models = ["cox_full"]
test = "sex = ph_ecog = sex:ph_ecog = 0"

[[hypotheses]]
id = "H5"
statement = "The full model fits better"
models = ["cox_small", "cox_full"]
test = "lr"

[[hypotheses]]
id = "H6"
statement = "Age and ECOG effects are equal"
models = ["cox_full"]
test = ["age - ph_ecog = 0"]
"""


def test_analysis_with_six_hypotheses_gives_the_verdict_table(tmp_path):
    from c2stats.data import load_dataset
    from c2stats.pipeline import fit_model
    from c2stats.tables import RENDERERS, frame_table

    shutil.copy(DATA / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "analysis.toml").write_text(ANALYSIS, encoding="utf-8")
    cfg = load_analysis(tmp_path / "analysis.toml")
    assert len(cfg.spec.hypotheses) == 6
    results = {m.id: fit_model(m, load_dataset(cfg.dataset_of(m), tmp_path)) for m in cfg.spec.models}
    verdicts = evaluate_hypotheses(cfg.spec.hypotheses, results)
    assert list(verdicts.columns) == list(VERDICT_COLUMNS)
    assert verdicts["hypothesis"].tolist() == ["H1", "H1", "H2", "H3", "H4", "H5", "H6"]
    assert verdicts["kind"].tolist() == ["one_sided"] * 4 + ["joint", "lr", "wald"]
    # H1 in cox_small: the one-sided p is half the two-sided p of the tidy row (positive estimate)
    tidy = results["cox_small"].tidy.set_index("term")
    assert verdicts["p_value"].iloc[0] == pytest.approx(tidy.loc["age", "p_value"] / 2, rel=1e-12)
    assert verdicts.loc[verdicts["family"] == "main", "correction"].eq("holm").all()
    assert verdicts["scale"].iloc[0] == "log_hazard"
    shown, notes = verdict_display(verdicts)
    assert list(shown.columns) == ["Hypothesis", "Model", "Test", "Estimate", "Statistic", "p-value", "Decision",
                                   "Direction met"]
    assert any("not exponentiated" in n for n in notes) and any("holm correction over 4 tests" in n for n in notes)
    table = frame_table(shown, "Hypotheses", notes, table_id="hypotheses")
    assert set(RENDERERS) >= {"md", "tex", "html", "csv", "docx"}
    for fmt, render in RENDERERS.items():
        out = render(table)
        if isinstance(out, bytes):  # docx: a zip archive holding the cells
            assert out[:2] == b"PK" and len(out) > 1000
        else:
            assert "H5" in out and "H6" in out and "reject H0" in out, fmt
    # verdicts as data: a deterministic CSV
    a = verdicts.to_csv(index=False)
    assert a == evaluate_hypotheses(cfg.spec.hypotheses, results).to_csv(index=False)


def test_config_rejects_bad_hypotheses(write_toml):
    head = ANALYSIS.split("[[hypotheses]]")[0].replace('dataset = "lung.csv"', 'dataset = "lung"')
    path = write_toml(head + '[[hypotheses]]\nid = "H1"\nstatement = "x"\nmodels = ["cox_small"]\ntest = "age >"\n')
    with pytest.raises(ConfigError, match=r"hypotheses\[0\].*test.*not a valid test"):
        load_analysis(path)
    path = write_toml(head + '[[hypotheses]]\nid = "H1"\nstatement = "x"\nmodels = ["cox_small"]\ntest = "lr"\n')
    with pytest.raises(ConfigError, match="exactly two different models"):
        load_analysis(path)
    path = write_toml(head + '[[hypotheses]]\nid = "H1"\nstatement = "x"\nmodels = ["cox_smal"]\ntest = "age > 0"\n')
    with pytest.raises(ConfigError, match="did you mean 'cox_small'"):
        load_analysis(path)


# ----------------------------------------------------------------------------------------------
# Size of the tests at the null (simulation with known truth)
# ----------------------------------------------------------------------------------------------
def _null_pvalues(reps: int, seed: int) -> dict[str, np.ndarray]:
    """p-values of Wald (two-sided, one-sided, joint) and LR tests on data where the tested effects are 0."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in ("logit_two", "logit_one", "logit_joint", "logit_lr", "ols_joint_F",
                                                   "ols_one_t")}
    specs = [
        H(id="two", models=["full"], test="a = 0"),
        H(id="one", models=["full"], test="a > 0"),
        H(id="joint", models=["full"], test="a = b = 0"),
        H(id="lr", models=["small", "full"], test="lr"),
    ]
    ols_specs = [H(id="F", models=["ols"], test="a = b = 0"), H(id="t", models=["ols"], test="b < 0")]
    for _ in range(reps):
        n = 150
        d = pd.DataFrame({"x": rng.normal(size=n), "a": rng.normal(size=n), "b": rng.binomial(1, 0.4, size=n)})
        d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 0.8 * d["x"])))).astype(int)
        res = {"full": fit({"id": "full", "family": "logit", "formula": "y ~ x + a + b"}, d),
               "small": fit({"id": "small", "family": "logit", "formula": "y ~ x"}, d)}
        p = evaluate_hypotheses(specs, res)["p_value"].to_numpy()
        for key, value in zip(("logit_two", "logit_one", "logit_joint", "logit_lr"), p):
            out[key].append(value)
        d["z"] = 1.0 + 0.5 * d["x"] + rng.standard_t(5, size=n)
        ols = {"ols": fit({"id": "ols", "family": "ols", "formula": "z ~ x + a + b"}, d)}
        p = evaluate_hypotheses(ols_specs, ols)["p_value"].to_numpy()
        out["ols_joint_F"].append(p[0])
        out["ols_one_t"].append(p[1])
    return {k: np.asarray(v) for k, v in out.items()}


def test_pvalues_are_uniform_at_the_null():
    # 80 replications: a Kolmogorov-Smirnov check of uniformity (deterministic seed)
    pvals = _null_pvalues(80, seed=20240601)
    for key, p in pvals.items():
        assert stats.kstest(p, "uniform").pvalue > 0.001, key


@pytest.mark.slow
def test_size_at_the_null_is_nominal():
    pvals = _null_pvalues(2000, seed=7)
    se = np.sqrt(0.05 * 0.95 / 2000)
    for key, p in pvals.items():
        rate = float(np.mean(p < 0.05))
        assert abs(rate - 0.05) < 3.5 * se + 0.005, (key, rate)  # 0.005: asymptotic tests at n = 150
