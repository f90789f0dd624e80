"""Random-intercept linear mixed models against ``lme4::lmer`` (and ``performance``).

References: ``tests/reference/lmm/lmm.json`` from ``make_lmm_reference.R`` (R 4.2.2, lme4 1.1-31,
performance 0.10.2; see the README there). Each fit is recorded twice: with lmer's default control
(BOBYQA stopped at ``ftol_abs = 1e-8``) and with the same optimiser run to rounding ("tight"); the
engine is compared with "tight" at 1e-6 and must reach a criterion at least as low as "default".
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

import c2stats
from c2stats.errors import DataError, SpecificationError, UserInputError
from c2stats.families._lmm_engine import fit_lmm, profiled_deviance

LMM = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((LMM / "lmm.json").read_text())
CASES = REF["cases"]
TOL = 1e-6


def case_data(name: str):
    """(frame, X as lmer's model.matrix, y, grouping columns) of a reference case."""
    case = CASES[name]
    frame = pd.read_csv(LMM.parent / case["data"])
    X = np.array(case["X"], dtype=float).reshape(len(frame), -1)
    y = frame[case["formula"].split("~")[0].strip()].to_numpy(float)
    return frame, X, y, case["groups"]


@functools.cache
def engine_fit(name: str, reml: bool):
    frame, X, y, groups = case_data(name)
    return fit_lmm(X=X, y=y, groups=[frame[g].to_numpy() for g in groups], reml=reml)


def criterion(ref: dict) -> float:
    return ref["reml_criterion"] if "reml_criterion" in ref else ref["deviance"]


def by_group(ref: dict, key: str, groups: list[str]) -> np.ndarray:
    values = ref[key]
    return np.array([values[g] if key == "sigma2_groups" else values[f"{g}.(Intercept)"] for g in groups])


def fit(spec, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, frame)


FITS = [pytest.param(name, reml, id=f"{name}-{'reml' if reml else 'ml'}") for name in CASES for reml in (True, False)]


# ----------------------------------------------------------------------------------------------
# engine
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, reml", FITS)
def test_engine_matches_lmer(name, reml):
    ref = CASES[name]["reml" if reml else "ml"]["tight"]
    groups = CASES[name]["groups"]
    f = engine_fit(name, reml)
    assert f.converged
    np.testing.assert_allclose(f.coef, list(ref["coef"].values()), rtol=0, atol=TOL)
    np.testing.assert_allclose(np.sqrt(np.diag(f.vcov)), list(ref["se"].values()), rtol=TOL)
    np.testing.assert_allclose(f.vcov, np.array(ref["vcov"], dtype=float).reshape(f.vcov.shape), rtol=10 * TOL,
                               atol=1e-12)
    assert f.sigma2_resid == pytest.approx(ref["sigma2_resid"], rel=TOL)
    np.testing.assert_allclose(f.sigma2_groups, by_group(ref, "sigma2_groups", groups), rtol=TOL, atol=1e-12)
    np.testing.assert_allclose(f.theta, by_group(ref, "theta", groups), rtol=0, atol=TOL)
    assert f.deviance == pytest.approx(criterion(ref), abs=TOL)
    for key in ("loglik", "aic", "bic"):
        assert getattr(f, key) == pytest.approx(ref[key], abs=TOL), key
    assert f.df == ref["df"] and f.nobs == ref["nobs"]
    assert f.n_levels == tuple(ref["n_groups"][g] for g in groups)
    assert f.boundary == ref["singular"]
    assert f.r2_marginal == pytest.approx(ref["r2_marginal"], abs=TOL)
    for key in ("r2_conditional", "icc"):
        if ref[key] is None or ref[key] == "NA":  # performance: NA for a singular fit
            assert np.isnan(getattr(f, key)), key
        else:
            assert getattr(f, key) == pytest.approx(ref[key], abs=TOL), key


@pytest.mark.parametrize("name, reml", FITS)
def test_engine_criterion_not_above_lmer_default(name, reml):
    """lmer's default stop (ftol_abs = 1e-8) is never below the engine's optimum."""
    default = CASES[name]["reml" if reml else "ml"]["default"]
    assert engine_fit(name, reml).deviance <= criterion(default) + 1e-10


@pytest.mark.parametrize("name, reml", FITS)
def test_profiled_deviance_is_lmer_devfun(name, reml):
    """The objective itself: lmer(..., devFunOnly = TRUE) at fixed θ (in lmer's term order)."""
    frame, X, y, groups = case_data(name)
    run = CASES[name]["reml" if reml else "ml"]
    for point in run["devfun"]:
        theta = dict(zip(run["theta_order"], np.atleast_1d(point["theta"])))
        value = profiled_deviance([theta[g] for g in groups], X=X, y=y, groups=[frame[g].to_numpy() for g in groups],
                                  reml=reml)
        assert value == pytest.approx(point["deviance"], abs=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_conditional_modes_match_ranef(name):
    frame, _, _, groups = case_data(name)
    f = engine_fit(name, True)
    for group, modes in zip(groups, f.ranef):
        ref = CASES[name]["ranef_reml"][group]
        levels = np.unique(frame[group].to_numpy())  # the engine's level order; lmer's names are the same labels
        got = dict(zip(map(str, levels), modes))
        for level, value in ref.items():
            assert got[level] == pytest.approx(value, rel=TOL, abs=TOL), (group, level)


@pytest.mark.parametrize("reml", [True, False])
def test_statsmodels_mixedlm_stalls_where_the_engine_does_not(reml):
    """The reason for the engine: on sim_stall MixedLM (BFGS, as the family used it) stops far short."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    frame, X, y, _ = case_data("sim_stall")
    ref = CASES["sim_stall"]["reml" if reml else "ml"]["tight"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MixedLM(y, X, groups=frame["g"].to_numpy()).fit(reml=reml, method="bfgs", gtol=1e-10, maxiter=1000)
    assert ref["loglik"] - res.llf > 0.1
    assert np.max(np.abs(np.asarray(res.fe_params) - list(ref["coef"].values()))) > 1e-3
    f = engine_fit("sim_stall", reml)
    assert f.loglik == pytest.approx(ref["loglik"], abs=TOL)
    np.testing.assert_allclose(f.coef, list(ref["coef"].values()), rtol=0, atol=TOL)


# ----------------------------------------------------------------------------------------------
# the family, through c2stats.fit and an analysis file
# ----------------------------------------------------------------------------------------------
FAMILY_CASES = {
    # case: (formula, group option)
    "mixed_r_legacy": ("inv ~ value + capital", "firm"),
    "sleepstudy": ("Reaction ~ Days", "Subject"),
    "orthodont": ("distance ~ age + Sex", "Subject"),
    "dyestuff2_x": ("Yield ~ x", "Batch"),
    "penicillin": ("diameter ~ 1", ["plate", "sample"]),
    "pastes": ("strength ~ 1", ["batch", "batch:cask"]),  # lmer's (1 | batch/cask); 'sample' is batch:cask
    "oats": ("Y ~ N + V", ["B", "B:V"]),
}


@pytest.mark.parametrize("name", list(FAMILY_CASES))
@pytest.mark.parametrize("reml", [True, False])
def test_family_matches_lmer(name, reml):
    formula, group = FAMILY_CASES[name]
    frame = pd.read_csv(LMM.parent / CASES[name]["data"])
    ref = CASES[name]["reml" if reml else "ml"]["tight"]
    result = fit({"family": "mixed", "formula": formula, "options": {"group": group, "reml": reml}}, frame)
    tidy = result.tidy.set_index("term")
    assert list(tidy.index) == CASES[name]["terms"]
    np.testing.assert_allclose(tidy["estimate"], list(ref["coef"].values()), rtol=0, atol=TOL)
    np.testing.assert_allclose(tidy["std_error"], list(ref["se"].values()), rtol=TOL)
    g = result.glance
    for key in ("loglik", "aic", "bic", "r2_marginal"):
        assert g[key] == pytest.approx(ref[key], abs=TOL), key
    for key in ("r2_conditional", "icc"):
        if ref[key] is None or ref[key] == "NA":
            assert np.isnan(g[key]), key
        else:
            assert g[key] == pytest.approx(ref[key], abs=TOL), key
    if reml:
        assert g["reml_criterion"] == pytest.approx(ref["reml_criterion"], abs=TOL)
    else:
        assert "reml_criterion" not in g
    assert g["sigma2_resid"] == pytest.approx(ref["sigma2_resid"], rel=TOL)
    variances = list(ref["sigma2_groups"].values())
    assert g["sigma2_group"] == pytest.approx(sum(variances), rel=TOL, abs=1e-12)
    assert g["singular"] == ref["singular"] and g["converged"]
    assert g["nobs"] == ref["nobs"]
    groups = [group] if isinstance(group, str) else group
    assert g["n_groups"] == ref["n_groups"][CASES[name]["groups"][0]]
    if len(groups) > 1:
        for entry, column in zip(groups, CASES[name]["groups"]):
            assert g[f"sigma2_group_{entry}"] == pytest.approx(ref["sigma2_groups"][column], rel=TOL)
            assert g[f"n_groups_{entry}"] == ref["n_groups"][column]
    if ref["singular"]:
        assert any("singular" in w for w in result.meta["warnings"])


def test_family_in_an_analysis_file(tmp_path):
    shutil.copy(LMM / "sleepstudy.csv", tmp_path / "sleep.csv")
    (tmp_path / "analysis.toml").write_text(
        '[analysis]\nid = "lmm"\ntitle = "LMM"\ndataset = "sleep.csv"\n\n'
        '[[models]]\nid = "reml"\nfamily = "mixed"\nformula = "Reaction ~ Days"\noptions = { group = "Subject" }\n\n'
        '[[models]]\nid = "ml"\nfamily = "mixed"\nformula = "Reaction ~ Days"\n'
        'options = { group = "Subject", reml = false }\n\n'
        '[[tables]]\nid = "t1"\nmodels = ["reml", "ml"]\n', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = c2stats.run(tmp_path / "analysis.toml", out=tmp_path / "out", executor="serial", cache=False)
    for model, key in (("reml", "reml"), ("ml", "ml")):
        ref = CASES["sleepstudy"][key]["tight"]
        result = summary.results[model]
        np.testing.assert_allclose(result.tidy["estimate"], list(ref["coef"].values()), rtol=0, atol=TOL)
        np.testing.assert_allclose(result.tidy["std_error"], list(ref["se"].values()), rtol=TOL)
        assert result.glance["loglik"] == pytest.approx(ref["loglik"], abs=TOL)
    table = (tmp_path / "out" / "tables" / "t1.md").read_text()
    assert "ICC" in table and f"{CASES['sleepstudy']['reml']['tight']['icc']:.3f}" in table


#: lmer(Reaction ~ Days + (Days | Subject), sleepstudy): fixed-effect SEs published in Bates, Mächler,
#: Bolker & Walker (2015, J. Stat. Softw. 67(1), the summary of fm1)
SLEEPSTUDY_RANDOM_SLOPES_SE = {"(Intercept)": 6.825, "Days": 1.546}


def test_bootstrap_resamples_groups():
    """Resampling whole subjects captures the subject-specific slopes the random-intercept model
    leaves out: the bootstrap SEs are those of lmer's random-slope model, not the model-based ones
    (whose Days SE is half as large)."""
    frame = pd.read_csv(LMM / "sleepstudy.csv")
    ref = CASES["sleepstudy"]["reml"]["tight"]
    result = fit({"family": "mixed", "formula": "Reaction ~ Days", "options": {"group": "Subject"},
                  "vcov": {"type": "bootstrap", "reps": 100, "seed": 1}}, frame)
    np.testing.assert_allclose(result.tidy["estimate"], list(ref["coef"].values()), rtol=0, atol=TOL)
    se = result.tidy.set_index("term")["std_error"]
    for term, published in SLEEPSTUDY_RANDOM_SLOPES_SE.items():
        assert se[term] == pytest.approx(published, rel=0.2), term
    assert se["Days"] > 1.5 * ref["se"]["Days"]
    assert result.glance["n_boot"] >= 95


def test_bootstrap_copies_nested_groups():
    """A batch drawn twice enters as two batches with two sets of casks: the family's bootstrap equals
    refits on data relabelled so by hand (pairs cluster bootstrap, ``numpy.random.default_rng(seed)``
    drawing clusters in order of appearance, as ``c2stats.sandwich.cluster_bootstrap`` documents).
    Some rows are dropped so that the design is unbalanced and the estimate depends on the grouping."""
    frame = pd.read_csv(LMM / "pastes.csv").drop(index=[0, 7, 13, 22, 41, 50]).reset_index(drop=True)
    reps, seed = 8, 3
    result = fit({"family": "mixed", "formula": "strength ~ 1", "options": {"group": ["batch", "batch:cask"]},
                  "vcov": {"type": "bootstrap", "reps": reps, "seed": seed}}, frame)
    codes, batches = pd.factorize(frame["batch"])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(reps):
        pick = rng.integers(0, len(batches), size=len(batches))
        parts = [frame[codes == j].assign(batch=f"{batches[j]}#{k}")
                 for k, j in enumerate(pick)]  # every draw a batch of its own, casks with it
        drawn = pd.concat(parts)
        nested = drawn["batch"] + ":" + drawn["cask"]
        f = fit_lmm(X=np.ones((len(drawn), 1)), y=drawn["strength"].to_numpy(),
                    groups=[drawn["batch"].to_numpy(), nested.to_numpy()])
        draws.append(f.coef[0])
    assert result.tidy["std_error"].iloc[0] == pytest.approx(np.std(draws, ddof=1), rel=1e-8)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_one_group_is_an_error():
    frame = pd.read_csv(LMM / "sleepstudy.csv").assign(one=1)
    with pytest.raises(SpecificationError, match="group 'one' has 1 value"):
        fit({"family": "mixed", "formula": "Reaction ~ Days", "options": {"group": "one"}}, frame)


def test_as_many_groups_as_rows_is_an_error():
    frame = pd.read_csv(LMM / "sleepstudy.csv")
    frame["row"] = np.arange(len(frame))
    with pytest.raises(SpecificationError, match="group 'row' has 180 values for 180 rows"):
        fit({"family": "mixed", "formula": "Reaction ~ Days", "options": {"group": "row"}}, frame)


def test_missing_group_column_is_a_data_error():
    frame = pd.read_csv(LMM / "sleepstudy.csv")
    with pytest.raises(DataError, match="Subjet"):
        fit({"family": "mixed", "formula": "Reaction ~ Days", "options": {"group": "Subjet"}}, frame)


@pytest.mark.parametrize("group, fragment", [([], "at least one column"), (["Subject", "Subject"], "twice"),
                                             ("Subject:", "not a column name")])
def test_bad_group_option(group, fragment):
    frame = pd.read_csv(LMM / "sleepstudy.csv")
    with pytest.raises(UserInputError, match=fragment):
        fit({"family": "mixed", "formula": "Reaction ~ Days", "options": {"group": group}}, frame)


def test_outcome_constant_within_groups_is_an_error():
    frame = pd.read_csv(LMM / "sleepstudy.csv")
    frame["Reaction"] = frame.groupby("Subject")["Reaction"].transform("mean")
    with pytest.raises(SpecificationError, match="does not vary within the groups of"):
        fit({"family": "mixed", "formula": "Reaction ~ 1", "options": {"group": "Subject"}}, frame)


def test_tiny_residual_variance_is_found():
    """σ_group/σ ≈ 1e5 lies beyond the first scan (θ ≤ 1e4): the ML estimates are the closed forms of a
    balanced one-way layout, σ̂² = within-group SS / (n − G) and σ̂²_group = between SS / G − σ̂²/m."""
    rng = np.random.default_rng(5)
    groups, size = 8, 5
    g = np.repeat(np.arange(groups), size)
    y = 10 * rng.normal(size=groups)[g] + 1e-4 * rng.normal(size=groups * size)
    f = fit_lmm(X=np.ones((len(y), 1)), y=y, groups=[g], reml=False)
    means = np.bincount(g, weights=y) / size
    sigma2 = np.sum((y - means[g]) ** 2) / (len(y) - groups)
    assert f.converged and f.theta[0] > 1e4
    assert f.sigma2_resid == pytest.approx(sigma2, rel=1e-6)
    assert f.sigma2_groups[0] == pytest.approx(np.mean((means - means.mean()) ** 2) - sigma2 / size, rel=1e-5)


# ----------------------------------------------------------------------------------------------
# battery: random unbalanced designs, one and two (crossed) factors
# ----------------------------------------------------------------------------------------------
BATTERY = REF["battery"]


@pytest.mark.parametrize("index", range(len(BATTERY["fits"])))
def test_battery_reaches_lmer_optimum(index):
    """At least as low a criterion as lmer run to rounding, and the same estimates."""
    ref = BATTERY["fits"][index]
    frame = pd.read_csv(LMM.parent / BATTERY["data"])
    d = frame[frame["set"] == ref["set"]]
    X = np.column_stack([np.ones(len(d)), d["x"], d["z"]])
    f = fit_lmm(X=X, y=d["y"].to_numpy(), groups=[d[g].to_numpy() for g in ref["groups"]], reml=ref["reml"])
    assert f.converged
    assert f.deviance <= ref["criterion"] + 1e-8
    assert f.deviance == pytest.approx(ref["criterion"], abs=TOL)
    se = np.array(ref["se"])
    # residual SDs up to 100: coefficients agree to 1e-6 of their standard error's scale
    np.testing.assert_allclose(f.coef, ref["coef"], rtol=0, atol=TOL * max(1.0, float(np.max(se))))
    np.testing.assert_allclose(np.sqrt(np.diag(f.vcov)), se, rtol=TOL)


def test_factor_order_does_not_matter():
    """Internally the factor with most levels comes first (lmer's order); results follow the caller's."""
    frame, X, y, groups = case_data("pastes")  # batch (10 levels) before sample (30)
    a = fit_lmm(X=X, y=y, groups=[frame[g].to_numpy() for g in groups])
    b = fit_lmm(X=X, y=y, groups=[frame[g].to_numpy() for g in groups[::-1]])
    assert a.deviance == pytest.approx(b.deviance, abs=1e-9)
    np.testing.assert_allclose(a.theta, b.theta[::-1], atol=1e-7)
    assert a.n_levels == b.n_levels[::-1] == (10, 30)
    np.testing.assert_allclose(a.ranef[0], b.ranef[1], atol=1e-6)


@pytest.mark.parametrize("name", ["sleepstudy", "pastes", "oats"])
def test_family_random_effects_frame_is_ranef(name):
    formula, group = FAMILY_CASES[name]
    frame = pd.read_csv(LMM.parent / CASES[name]["data"])
    modes = fit({"family": "mixed", "formula": formula, "options": {"group": group}}, frame).frames["random_effects"]
    groups = [group] if isinstance(group, str) else group
    assert list(modes.columns) == ["group", "level", "estimate"]
    for entry, column in zip(groups, CASES[name]["groups"]):
        ref = CASES[name]["ranef_reml"][column]
        got = modes[modes["group"] == entry].set_index("level")["estimate"].rename(index=str)
        assert sorted(got.index) == sorted(ref)
        for level, value in ref.items():
            assert got[level] == pytest.approx(value, rel=TOL, abs=TOL), (entry, level)


def test_crossed_result_round_trips(tmp_path):
    """Per-factor glance keys (``sigma2_group_batch:cask``) and text levels survive save/load."""
    from c2stats.results import load_result, save_result

    frame = pd.read_csv(LMM / "pastes.csv")
    result = fit({"family": "mixed", "formula": "strength ~ 1", "options": {"group": ["batch", "batch:cask"]}}, frame)
    save_result(result, tmp_path / "a")
    back = load_result(tmp_path / "a")
    pd.testing.assert_frame_equal(result.frames["random_effects"], back.frames["random_effects"])
    for key in ("sigma2_group_batch:cask", "n_groups_batch:cask", "reml_criterion", "r2_conditional", "singular"):
        assert back.glance[key] == result.glance[key], key
