"""Shared-frailty Cox models (``options.frailty``) reproduce R's ``coxph(... + frailty(g))``.

Reference values: tests/reference/frailty/frailty.json, written by make_frailty_reference.R
(R 4.2.2, survival 3.5-3; see the README there). R's defaults throughout: gamma frailty with
theta by the "em" method, gaussian with "reml", coxph.control() (eps 1e-9, iter.max 20, outer.max 10).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats import load_result
from c2stats.errors import ConfigError, DataError, SpecificationError, UserInputError
from c2stats.families._frailty_engine import fit_frailty_cox, gamma_correction

HERE = Path(__file__).resolve().parents[1] / "reference" / "frailty"
REF = json.loads((HERE / "frailty.json").read_text())


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / f"{name}.csv")


# case id -> (dataset, formula, options, extra spec keys)
CASES = {
    "rats_gamma": ("rats", "~ rx + female", {"frailty": "litter"}, {}),
    "rats_gauss": ("rats", "~ rx + female", {"frailty": "litter", "frailty_dist": "gaussian"}, {}),
    "rats_gamma_breslow": ("rats", "~ rx", {"frailty": "litter", "ties": "breslow"}, {}),
    "kidney_gamma": ("kidney", "~ age + sex", {"frailty": "id"}, {}),
    "kidney_gauss": ("kidney", "~ age + sex", {"frailty": "id", "frailty_dist": "gaussian"}, {}),
    "kidney_gamma_strata": ("kidney", "~ age", {"frailty": "id", "strata": "sex"}, {}),
    "rats_gamma_weights": ("rats", "~ rx + female", {"frailty": "litter"}, {"weights": "w"}),
    "rats_gauss_weights": ("rats", "~ rx + female", {"frailty": "litter", "frailty_dist": "gaussian"}, {"weights": "w"}),
    "kidney_split_gamma": ("kidney_split", "~ age + sex", {"frailty": "id"}, {"start": "tstart"}),
    "kidney_split_gauss": ("kidney_split", "~ age + sex", {"frailty": "id", "frailty_dist": "gaussian"},
                           {"start": "tstart"}),
    "kidney_gamma_dense": ("kidney", "~ age + sex", {"frailty": "disease"}, {}),
}


def fit_case(case: str):
    dataset, formula, options, extra = CASES[case]
    spec = {"family": "cox", "formula": formula, "time": "time", "event": "status", "options": options, **extra}
    return c2stats.fit(spec, data(dataset))


@pytest.mark.parametrize("case", list(CASES))
def test_frailty_matches_coxph(case):
    ref = REF[case]
    result = fit_case(case)
    tidy = result.tidy.set_index("term")
    p = len(tidy)
    terms = list(np.atleast_1d(ref["terms"]))[:p]  # the dense case also lists R's gamma:<level> coefficients
    assert list(tidy.index) == terms
    coef, se = np.atleast_1d(ref["coef"])[:p], np.atleast_1d(ref["se"])[:p]
    np.testing.assert_allclose(tidy["estimate"], coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(tidy["std_error"], se, rtol=1e-7)
    g = result.glance
    assert g["frailty_variance"] == pytest.approx(ref["theta"], rel=1e-7, abs=1e-12)
    assert g["loglik"] == pytest.approx(ref["loglik"], abs=1e-7)
    assert g["loglik_null"] == pytest.approx(ref["loglik_null"], abs=1e-7)
    assert g["aic"] == pytest.approx(ref["aic"], abs=1e-6)
    assert g["frailty_df"] == pytest.approx(np.atleast_1d(ref["df"])[-1], abs=1e-6)
    assert (g["outer_iterations"], g["iterations"]) == tuple(ref["iter"])
    assert g["n_events"] == ref["nevent"]
    if ref["c_loglik"] is not None:
        assert g["frailty_marginal_loglik"] == pytest.approx(ref["c_loglik"], abs=1e-7)
    frail = result.frames["frailty"]
    if case == "kidney_gamma_dense":  # R: the penalised coefficients gamma:<level> and their variances
        np.testing.assert_allclose(frail["estimate"], ref["coef"][p:], atol=1e-8)
        np.testing.assert_allclose(frail["std_error"], ref["se"][p:], rtol=1e-7)
    else:
        np.testing.assert_allclose(frail["estimate"], ref["frail"], atol=1e-8)
        np.testing.assert_allclose(frail["std_error"], np.sqrt(ref["fvar"]), rtol=1e-6)
    assert bool(g["converged"])
    # R's warning 'Inner loop failed to coverge for iterations 3' has a counterpart note
    assert any("outer iteration(s) 3" in w for w in result.meta["warnings"]) == bool(ref["warnings"])


def test_vcov2_and_full_variance_match_r():
    ref = REF["rats_gamma"]
    d = data("rats")
    fit = fit_frailty_cox(d[["rx", "female"]].to_numpy(float), d["time"], d["status"], d["litter"].to_numpy())
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov2)), ref["se2"], rtol=1e-7)
    assert fit.penalty == pytest.approx(ref["penalty"][1], abs=1e-8)


def test_gamma_correction_is_the_marginal_minus_penalised_likelihood():
    """frailty.gammacon against the closed form: for groups with d events the gamma-Poisson marginal
    contributes sum_j log(nu + j) - d log(nu) ... ; checked here by direct summation of its definition."""
    d = np.array([0, 1, 3, 2, 1, 0, 5])
    nu = 1.7
    direct = sum(di + nu * np.log(nu / (nu + di)) + sum(np.log((nu + j) / (nu + di)) for j in range(int(di)))
                 for di in d)
    assert gamma_correction(d, nu) == pytest.approx(direct, rel=1e-12)


def test_frailty_refuses_a_robust_or_cluster_variance():
    spec = {"family": "cox", "formula": "~ rx", "time": "time", "event": "status", "options": {"frailty": "litter"}}
    for vcov in ("robust", {"type": "cluster", "groups": "litter"}):
        with pytest.raises(SpecificationError, match=r"options\.frailty"):
            c2stats.fit({**spec, "vcov": vcov}, data("rats"))


def test_frailty_column_errors_name_the_column_or_the_key():
    spec = {"family": "cox", "formula": "~ rx", "time": "time", "event": "status"}
    with pytest.raises(DataError, match="'littr'"):
        c2stats.fit({**spec, "options": {"frailty": "littr"}}, data("rats"))
    with pytest.raises(SpecificationError, match=r"options\.frailty.*at least 2"):
        c2stats.fit({**spec, "options": {"frailty": "one"}}, data("rats").assign(one=1))
    with pytest.raises(SpecificationError, match=r"options\.frailty"):
        c2stats.fit({**spec, "options": {"frailty": "litter", "strata": "litter"}}, data("rats"))
    with pytest.raises((ConfigError, UserInputError), match="frailty_dist"):
        c2stats.fit({**spec, "options": {"frailty": "litter", "frailty_dist": "lognormal"}}, data("rats"))


def test_frailty_through_the_pipeline(tmp_path):
    """A TOML analysis with a frailty model runs end to end; the saved result carries R's numbers."""
    shutil.copy(HERE / "rats.csv", tmp_path / "rats.csv")
    (tmp_path / "a.toml").write_text(
        '[analysis]\nid = "frail"\ntitle = "frailty"\ndataset = "rats.csv"\n\n'
        '[[models]]\nid = "rats_gamma"\nfamily = "cox"\nformula = "~ rx + female"\ntime = "time"\nevent = "status"\n'
        'options = { frailty = "litter" }\n\n'
        '[[models]]\nid = "rats_gauss"\nextends = "rats_gamma"\noptions = { frailty_dist = "gaussian" }\n\n'
        '[[tables]]\nid = "t"\nmodels = ["rats_gamma", "rats_gauss"]\n\n'
        '[[hypotheses]]\nid = "H1"\nstatement = "the drug raises the hazard"\nmodels = ["rats_gamma"]\ntest = "rx > 0"\n',
        encoding="utf-8")
    summary = c2stats.run(tmp_path / "a.toml", out=tmp_path / "out", executor="serial", cache=False)
    for model_id in ("rats_gamma", "rats_gauss"):
        result = load_result(summary.out / "results" / model_id)
        ref = REF[model_id]
        np.testing.assert_allclose(result.tidy["estimate"], ref["coef"], atol=1e-8)
        np.testing.assert_allclose(result.tidy["std_error"], ref["se"], rtol=1e-7)
        assert result.glance["frailty_variance"] == pytest.approx(ref["theta"], rel=1e-7)
        assert len(result.frames["frailty"]) == 100


def test_frailty_dist_without_frailty_is_refused():
    spec = {"family": "cox", "formula": "~ rx", "time": "time", "event": "status",
            "options": {"frailty_dist": "gaussian"}}
    with pytest.raises(UserInputError, match="frailty"):
        c2stats.fit(spec, data("rats"))
