"""The families reproduce R through the public path (``c2stats.fit``).

Reference values: ``tests/reference/golden.json`` (R 4.2.2; survival 3.5-3, brglm2 0.9, nnet 7.3-18,
plm 2.6-2; see PROVENANCE.md) and ``tests/reference/engines/engines.json`` (survreg robust/cluster,
plm double clustering and white1). Tolerances: coefficients 1e-6 absolute, standard errors 1e-5
relative, log-likelihoods 1e-6 absolute, N and events exact.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats.errors import DataError, SpecificationError

from tests.conftest import reference_data

REF = Path(__file__).resolve().parents[1] / "reference"
ENGINES = json.loads((REF / "engines" / "engines.json").read_text())


def fit(spec, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, frame)


def assert_matches(result, coef, se, *, component=None, coef_atol=1e-6, se_rtol=1e-5):
    tidy = result.tidy
    if component is not None:
        tidy = tidy[tidy["component"] == component]
    tidy = tidy.set_index("term")
    assert sorted(tidy.index) == sorted(coef)
    for term, value in coef.items():
        assert tidy.loc[term, "estimate"] == pytest.approx(value, abs=coef_atol), term
        assert tidy.loc[term, "std_error"] == pytest.approx(se[term], rel=se_rtol), term


# ----------------------------------------------------------------------------------------------
# weibull / exponential: survival::survreg and Stata's streg (PH by the delta method)
# ----------------------------------------------------------------------------------------------
OVARIAN = {"formula": "~ age + ecog_ps", "time": "futime", "event": "fustat"}


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
@pytest.mark.parametrize("form", ["ph", "aft"])
def test_parametric_survival_matches_survreg(golden, dist, form):
    ref = golden["ovarian_param"][dist]
    result = fit({"family": dist, **OVARIAN, "options": {"form": form, "tol": 1e-12}}, reference_data("ovarian.csv"))
    if form == "ph":
        coef, se = dict(ref["ph"]["coef"]), dict(ref["ph"]["se_model"])
    else:
        coef, se = dict(ref["coef_aft"]), dict(ref["se_model_aft"])
        if dist == "weibull":
            coef["log_scale"] = np.log(ref["scale"])
            se["log_scale"] = se.pop("Log(scale)")
    assert_matches(result, coef, se)
    assert result.meta["scale"] == ("log_hazard" if form == "ph" else "log_time")
    if dist == "weibull":
        ancillary = "log_shape" if form == "ph" else "log_scale"
        tidy = result.tidy.set_index("term")
        assert tidy.loc[ancillary, "component"] == "ancillary"
        assert (tidy.drop(index=ancillary)["component"] == "").all()
        assert result.glance["shape"] == pytest.approx(1 / ref["scale"], abs=1e-6)
    else:
        assert "component" not in result.tidy.columns
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_intercept_only"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_events"] == ref["nevent"]


@pytest.mark.parametrize("dist", ["weibull", "exponential"])
@pytest.mark.parametrize("vcov, key", [("robust", "se_robust"), ({"type": "cluster", "groups": "cl"}, "se_cluster")])
def test_parametric_survival_robust_and_cluster_match_survreg(dist, vcov, key):
    # engines.json: survreg(..., robust = TRUE) and cluster(resid_ds * 10 + rx): dfbeta sums, no correction
    ref = ENGINES["ovarian_survreg"][dist]
    frame = reference_data("ovarian.csv").assign(cl=lambda d: d["resid_ds"] * 10 + d["rx"])
    aft = fit({"family": dist, **OVARIAN, "options": {"form": "aft", "tol": 1e-12}, "vcov": vcov}, frame)
    np.testing.assert_allclose(aft.tidy["std_error"], ref[key], rtol=1e-5)
    if key == "se_cluster":
        np.testing.assert_allclose(aft.vcov().to_numpy(), ref["vcov_cluster"], rtol=1e-5, atol=1e-12)
        assert aft.glance["n_clusters"] == frame["cl"].nunique()
    # the PH form carries the same robust covariance through the delta method
    ph = fit({"family": dist, **OVARIAN, "options": {"form": "ph", "tol": 1e-12}, "vcov": vcov}, frame)
    fit_aft = aft.raw
    from c2stats.families._survreg_engine import to_ph

    expected = to_ph(fit_aft, aft.vcov().to_numpy())
    np.testing.assert_allclose(ph.tidy["std_error"], expected.se, rtol=1e-12)
    assert ph.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)


def test_parametric_survival_rejects_start(golden):
    frame = reference_data("ovarian.csv").assign(entry=0.0)
    with pytest.raises(SpecificationError, match="does not support start"):
        fit({"family": "weibull", **OVARIAN, "start": "entry"}, frame)


# ----------------------------------------------------------------------------------------------
# firth: brglm2::brglmFit(type = "AS_mean") on endometrial (NV quasi-completely separates)
# ----------------------------------------------------------------------------------------------
def test_firth_matches_brglm2(golden):
    ref = golden["endometrial_firth"]["firth"]
    result = fit({"family": "firth", "formula": "HG ~ NV + PI + EH"}, reference_data("endometrial.csv"))
    assert_matches(result, ref["coef"], ref["se_model"])
    assert result.glance["loglik"] == pytest.approx(ref["loglik_unpenalized"], abs=1e-6)
    assert result.glance["loglik_penalized"] == pytest.approx(ref["loglik_penalized"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"]
    assert result.glance["converged"] is True and result.meta["scale"] == "log_odds"


# ----------------------------------------------------------------------------------------------
# discrete_hazard: glm(binomial(link)) + sandwich (engines.json mid_glm; golden mid_binary)
# ----------------------------------------------------------------------------------------------
MID = "conflict ~ major + contig + power + maxdem + mindem + years"
MID_VCOV = {
    "se_model": "model",
    "se_HC0": "HC0",
    "se_HC1": "HC1",
    "se_CL_years_HC0": {"type": "cluster", "groups": "years", "hc": "HC0"},
    "se_CL_years_HC1": {"type": "cluster", "groups": "years"},
    "se_CL2_years_maxdem_HC1": {"type": "cluster", "groups": ["years", "maxdem"]},
}


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
@pytest.mark.parametrize("se_key", list(MID_VCOV))
def test_discrete_hazard_matches_glm(link, se_key):
    ref = ENGINES["mid_glm"][link]
    spec = {"family": "discrete_hazard", "formula": MID, "options": {"link": link, "epsilon": 1e-14},
            "vcov": MID_VCOV[se_key]}
    result = fit(spec, reference_data("mid.csv"))
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"]
    assert result.meta["scale"] == {"logit": "log_odds", "probit": "probit", "cloglog": "log_hazard"}[link]
    assert result.glance["link"] == link


# ----------------------------------------------------------------------------------------------
# mnlogit: exact Newton (golden mnlogit_newton; nnet::multinom agrees to its BFGS precision)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("base", [None, 1, "1"])
def test_mnlogit_matches_multinom(golden, base):
    case = golden["mexico_mnl"]
    ref = case["mnlogit_newton"]
    options = {} if base is None else {"base": base}
    result = fit({"family": "mnlogit", "formula": case["formula"], "options": options}, reference_data("mexico.csv"))
    assert sorted(result.tidy["component"].unique()) == sorted(ref["coef"])
    for category in ref["coef"]:
        assert_matches(result, ref["coef"][category], ref["se_model"][category], component=category)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["nobs"] == case["n"]
    assert result.glance["base"] == str(case["base_category"])
    assert result.meta["scale"] == "log_relative_risk"
    V = result.vcov()
    assert list(V.index[:2]) == ["2: (Intercept)", "2: pristr"]


def test_mnlogit_other_base_is_a_reparameterisation(golden):
    case = golden["mexico_mnl"]
    ref = case["mnlogit_newton"]["coef"]
    result = fit({"family": "mnlogit", "formula": case["formula"], "options": {"base": 3}}, reference_data("mexico.csv"))
    tidy = result.tidy.set_index(["component", "term"])["estimate"]
    for term, value in ref["2"].items():  # beta_{2 vs 3} = beta_{2 vs 1} - beta_{3 vs 1}
        assert tidy[("2", term)] == pytest.approx(value - ref["3"][term], abs=1e-6)
        assert tidy[("1", term)] == pytest.approx(-ref["3"][term], abs=1e-6)
    assert result.glance["loglik"] == pytest.approx(case["mnlogit_newton"]["loglik"], abs=1e-6)
    with pytest.raises(SpecificationError, match="base category 7"):
        fit({"family": "mnlogit", "formula": case["formula"], "options": {"base": 7}}, reference_data("mexico.csv"))


# mnlogit with a text outcome (none / formal / informal, base "none") against nnet::multinom on
# reference/mnlogit/alliance_form.csv (make_multinom_reference.R). multinom maximises by BFGS and
# stops on a relative change of the deviance; run with reltol = 1e-16 it ends about 5e-8 from the
# exact (Newton) optimum on these data (with its default reltol = 1e-8, about 1e-4), so the
# coefficient tolerance is the 1e-6 with room to spare; SEs (from multinom's Hessian at
# its optimum) 1e-5 relative.
MULTINOM = json.loads((REF / "mnlogit" / "multinom.json").read_text())


def test_mnlogit_text_outcome_matches_multinom():
    frame = pd.read_csv(REF / "mnlogit" / "alliance_form.csv")
    assert not pd.api.types.is_numeric_dtype(frame["form"])
    spec = {"family": "mnlogit", "formula": "form ~ threat + democracy + distance", "options": {"base": "none"}}
    result = fit(spec, frame)
    assert list(result.tidy["component"].unique()) == MULTINOM["meta"]["categories"]
    for category in MULTINOM["meta"]["categories"]:
        coef = dict(zip(MULTINOM["meta"]["terms"], MULTINOM["coef"][category]))
        se = dict(zip(MULTINOM["meta"]["terms"], MULTINOM["se"][category]))
        assert_matches(result, coef, se, component=category, coef_atol=1e-6, se_rtol=1e-5)
    assert result.glance["loglik"] == pytest.approx(MULTINOM["loglik"], abs=1e-6)
    assert result.glance["nobs"] == MULTINOM["n"] and result.glance["base"] == "none"
    assert result.glance["n_categories"] == 3
    clustered = fit({**spec, "vcov": {"type": "cluster", "groups": "dyad"}}, frame)
    assert clustered.glance["n_clusters"] == frame["dyad"].nunique()
    with pytest.raises(SpecificationError, match="base category 'None'.*'formal', 'informal', 'none'"):
        fit({**spec, "options": {"base": "None"}}, frame)


# ----------------------------------------------------------------------------------------------
# ols: lm + sandwich on Grunfeld (pooled OLS also equals golden grunfeld_panel$pooling).
# OLS_R: reference/golden/golden_regenerated.json["ols_r"], written by reference/golden/make_golden.R
# (R 4.2.2, sandwich 3.0-2, Debian; raw output make_golden.Rout) with g <- read.csv("data/grunfeld.csv"),
# g$w <- 1 + (seq_len(nrow(g)) %% 3), f <- lm(inv ~ value + capital, g [, weights = w]) or
# lm(inv ~ 0 + value + capital, g); se of vcov(f), vcovHC(f, type), vcovCL(f, ~firm, type),
# vcovCL(f, ~firm + year, type = "HC1"); summary(f)$r.squared / adj.r.squared / sigma,
# logLik(f), AIC(f), BIC(f).
# ----------------------------------------------------------------------------------------------
OLS_R = json.loads((REF / "golden" / "golden_regenerated.json").read_text())["ols_r"]
OLS_VCOV = {
    "se_model": "model",
    "se_HC0": "HC0",
    "se_HC1": "HC1",
    "se_CL_firm_HC0": {"type": "cluster", "groups": "firm", "hc": "HC0"},
    "se_CL_firm_HC1": {"type": "cluster", "groups": "firm"},
    "se_CL2_firm_year_HC1": {"type": "cluster", "groups": ["firm", "year"]},
}


@pytest.mark.parametrize("case", list(OLS_R))
@pytest.mark.parametrize("se_key", list(OLS_VCOV))
def test_ols_matches_lm_and_sandwich(case, se_key):
    ref = OLS_R[case]
    frame = reference_data("grunfeld.csv").assign(w=lambda d: 1.0 + (np.arange(1, len(d) + 1) % 3))
    spec = {"family": "ols", "formula": "inv ~ value + capital" if case != "noint" else "inv ~ 0 + value + capital",
            "vcov": OLS_VCOV[se_key]}
    if case == "wls":
        spec["weights"] = "w"
    result = fit(spec, frame)
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.tidy["std_error"], ref[se_key], rtol=1e-5)
    for key in ("r2", "adj_r2", "sigma"):
        assert result.glance[key] == pytest.approx(ref[key], rel=1e-9), key
    for key in ("loglik", "aic", "bic"):
        assert result.glance[key] == pytest.approx(ref[key], abs=1e-6), key
    assert result.glance["nobs"] == ref["n"] and result.glance["df_resid"] == ref["df_resid"]
    # t reference with n - k degrees of freedom, as summary.lm / coeftest
    tidy = result.tidy
    from scipy import stats

    np.testing.assert_allclose(tidy["p_value"], 2 * stats.t.sf(np.abs(tidy["statistic"]), ref["df_resid"]), rtol=1e-12)


def test_ols_pooled_equals_golden_plm_pooling(golden):
    ref = golden["grunfeld_panel"]["pooling"]
    result = fit({"family": "ols", "formula": "inv ~ value + capital"}, reference_data("grunfeld.csv"))
    assert_matches(result, ref["coef"], ref["se_model"])
    robust = fit({"family": "ols", "formula": "inv ~ value + capital", "vcov": "robust"}, reference_data("grunfeld.csv"))
    np.testing.assert_allclose(robust.tidy["std_error"], OLS_R["ols"]["se_HC1"], rtol=1e-5)  # robust = Stata's HC1


# ----------------------------------------------------------------------------------------------
# panel: plm on Grunfeld (golden grunfeld_panel; engines.json vcovDC and white1)
# ----------------------------------------------------------------------------------------------
PANEL_ESTIMATORS = {
    "within_individual": {"estimator": "within"},
    "within_twoways": {"estimator": "within", "effects": ["entity", "time"]},
    "pooling": {"estimator": "pooled"},
    "random_swar": {"estimator": "random"},
}
PANEL_VCOV = {
    "se_model": "model",
    "se_CLgroup_HC0": {"type": "cluster", "groups": "firm"},  # plm's default type is HC0
    "se_CLgroup_HC1": {"type": "cluster", "groups": "firm", "hc": "HC1"},
    "se_CLgroup_sss": {"type": "cluster", "groups": "firm", "hc": "sss"},
    "se_CLtime_HC0": {"type": "cluster", "groups": "year", "hc": "HC0"},
}
PANEL_CASES = [(c, v) for c in PANEL_ESTIMATORS for v in PANEL_VCOV if c != "random_swar" or v == "se_model"]


def panel_fit(case, vcov, frame=None):
    spec = {"family": "panel", "formula": "inv ~ value + capital",
            "options": {"index": ["firm", "year"], **PANEL_ESTIMATORS[case]}, "vcov": vcov}
    return fit(spec, reference_data("grunfeld.csv") if frame is None else frame)


@pytest.mark.parametrize("case, se_key", PANEL_CASES)
def test_panel_matches_plm(golden, case, se_key):
    ref = golden["grunfeld_panel"][case]
    result = panel_fit(case, PANEL_VCOV[se_key])
    assert_matches(result, ref["coef"], ref[se_key])
    assert result.glance["nobs"] == 200
    assert result.glance["n_entities"] == 10 and result.glance["n_periods"] == 20
    if "df_residual" in ref:
        assert result.glance["df_resid"] == ref["df_residual"]
    if case == "random_swar":
        assert result.glance["sigma2_effects"] == pytest.approx(ref["sigma2"]["id"], rel=1e-6)
        assert result.glance["sigma2_idios"] == pytest.approx(ref["sigma2"]["idios"], rel=1e-6)
        assert result.glance["theta"] == pytest.approx(ref["theta"], abs=1e-8)
    if se_key.startswith("se_CL"):
        assert result.glance["n_clusters"] == (10 if "group" in se_key else 20)


@pytest.mark.parametrize("hc", ["HC0", "HC1", "sss"])
def test_panel_two_way_cluster_matches_vcovDC(hc):
    ref = ENGINES["grunfeld_extra"]["within_twoways_double"][f"se_DC_{hc}"]
    result = panel_fit("within_twoways", {"type": "cluster", "groups": ["firm", "year"], "hc": hc})
    assert_matches(result, {t: result.coef()[t] for t in ref}, ref)


@pytest.mark.parametrize("vcov, key", [("robust", "se_white1_HC0"), ("HC0", "se_white1_HC0"), ("HC1", "se_white1_HC1")])
def test_panel_robust_matches_white1(vcov, key):
    ref = ENGINES["grunfeld_extra"]["within_individual_white1"][key]
    result = panel_fit("within_individual", vcov)
    assert_matches(result, {t: result.coef()[t] for t in ref}, ref)


def test_panel_t_reference_and_r2_within(golden):
    from scipy import stats

    result = panel_fit("within_individual", "model")
    tidy = result.tidy
    np.testing.assert_allclose(tidy["p_value"], 2 * stats.t.sf(np.abs(tidy["statistic"]), 188), rtol=1e-12)
    assert result.glance["r2"] == pytest.approx(result.glance["r2_within"], rel=1e-12)  # plm r.squared, one-way within
    assert "(Intercept)" not in set(tidy["term"])


def test_panel_errors():
    from c2stats.errors import ConfigError

    with pytest.raises(ConfigError, match="index"):
        fit({"family": "panel", "formula": "inv ~ value"}, reference_data("grunfeld.csv"))
    with pytest.raises(ConfigError, match="applies to estimator 'within'"):
        fit({"family": "panel", "formula": "inv ~ value", "options": {"index": ["firm", "year"], "estimator": "random",
             "effects": ["entity", "time"]}}, reference_data("grunfeld.csv"))
    doubled = pd.concat([reference_data("grunfeld.csv")] * 2)
    with pytest.raises(SpecificationError, match="panel index is not unique"):
        panel_fit("within_individual", "model", doubled)
    with pytest.raises(ConfigError, match="sss"):
        fit({"family": "ols", "formula": "inv ~ value", "vcov": {"type": "cluster", "groups": "firm", "hc": "sss"}},
            reference_data("grunfeld.csv"))


# ----------------------------------------------------------------------------------------------
# mixed: lme4::lmer(inv ~ value + capital + (1 | firm), Grunfeld, REML = TRUE / FALSE, taken to
# rounding; generated by tests/reference/lmm/make_lmm_reference.R (case mixed_r_legacy, raw output
# make_lmm_reference.Rout beside it).
# ----------------------------------------------------------------------------------------------
_LMER_LEGACY = json.loads((REF / "lmm" / "lmm.json").read_text())["cases"]["mixed_r_legacy"]
MIXED_R = {
    reml: {"coef": list(r["coef"].values()), "se": list(r["se"].values()), "loglik": r["loglik"], "aic": r["aic"],
           "bic": r["bic"], "n": r["nobs"], "var_group": r["sigma2_groups"]["firm"],
           "var_resid": r["sigma2_resid"], "n_groups": r["n_groups"]["firm"]}
    for reml, r in ((True, _LMER_LEGACY["reml"]["tight"]), (False, _LMER_LEGACY["ml"]["tight"]))
}


@pytest.mark.parametrize("reml", [True, False])
def test_mixed_matches_lmer(reml):
    ref = MIXED_R[reml]
    options = {"group": "firm"} if reml else {"group": "firm", "reml": False}
    result = fit({"family": "mixed", "formula": "inv ~ value + capital", "options": options},
                 reference_data("grunfeld.csv"))
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.tidy["std_error"], ref["se"], rtol=1e-5)
    for key in ("loglik", "aic", "bic"):
        assert result.glance[key] == pytest.approx(ref[key], abs=1e-6), key
    assert result.glance["sigma2_group"] == pytest.approx(ref["var_group"], rel=1e-5)
    assert result.glance["sigma2_resid"] == pytest.approx(ref["var_resid"], rel=1e-5)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_groups"] == ref["n_groups"]


# ----------------------------------------------------------------------------------------------
# cox, cause-specific hazards (competing risks): coxph(Surv(etime, status == k) ~ ...) on
# survival::mgus2 (progression vs death); reference/cox/competing.json from make_competing_reference.R
# ----------------------------------------------------------------------------------------------
COMPETING = json.loads((REF / "cox" / "competing.json").read_text())
MGUS2 = "~ age + male + hgb + mspike"
COMPETING_CASES = {
    "efron_cluster_dxyr": ({"type": "cluster", "groups": "dxyr"}, {}),
    "breslow_cluster_dxyr": ({"type": "cluster", "groups": "dxyr"}, {"ties": "breslow"}),
    "efron_robust": ("robust", {}),
}


def competing_fit(cause, vcov="model", options=None, formula=MGUS2, event="status", event_value=None):
    frame = pd.read_csv(REF / "cox" / "mgus2_competing.csv")
    spec = {"family": "cox", "formula": formula, "time": "etime", "event": event,
            "event_value": cause if event_value is None else event_value, "vcov": vcov,
            "options": {"eps": 1e-12, **(options or {})}}
    return fit(spec, frame)


@pytest.mark.parametrize("cause", ["progression", "death"])
@pytest.mark.parametrize("key", list(COMPETING_CASES))
def test_cause_specific_cox_matches_coxph(cause, key):
    ref = COMPETING[cause][key]
    vcov, options = COMPETING_CASES[key]
    result = competing_fit(cause, vcov, options)
    tidy = result.tidy
    assert list(tidy["term"]) == COMPETING["meta"]["terms"]
    np.testing.assert_allclose(tidy["estimate"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], ref["se"], rtol=1e-5)
    np.testing.assert_allclose(result.vcov().to_numpy(), ref["vcov"], rtol=1e-5, atol=1e-14)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["loglik_null"] == pytest.approx(ref["loglik_null"], abs=1e-6)
    assert result.glance["nobs"] == ref["n"] and result.glance["n_events"] == ref["nevent"]
    model = competing_fit(cause, "model", options)
    np.testing.assert_allclose(model.tidy["std_error"], ref["se_model"], rtol=1e-5)
    if key.endswith("dxyr"):
        complete = pd.read_csv(REF / "cox" / "mgus2_competing.csv").dropna(subset=["age", "male", "hgb", "mspike"])
        assert result.glance["n_clusters"] == complete["dxyr"].nunique()


@pytest.mark.parametrize("cause, code", [("progression", 1), ("death", 2)])
def test_cause_specific_cox_with_numeric_codes_and_strata(cause, code):
    ref = COMPETING[cause]["efron_strata_male"]
    result = competing_fit(cause, formula="~ age + hgb + mspike", options={"strata": "male"},
                           event="status_code", event_value=code)
    np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.tidy["std_error"], ref["se"], rtol=1e-5)
    assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert result.glance["n_events"] == ref["nevent"] and result.glance["n_strata"] == 2
    # a column of causes without event_value is an error that names the fix
    with pytest.raises(DataError, match="event_value"):
        fit({"family": "cox", "formula": MGUS2, "time": "etime", "event": "status_code"},
            pd.read_csv(REF / "cox" / "mgus2_competing.csv"))
