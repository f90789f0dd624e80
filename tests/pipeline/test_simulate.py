"""[[simulations]]: power and recovery by simulation, validated against analytic power.

Truth comes from outside the code under test: datasets are built here so that the fitted model is
known exactly (OLS residuals orthogonal to the design with SD 1), and the simulated power is compared
with the noncentral t power (OLS, averaged over the binomial allocation of a resampled binary
covariate) and with Schoenfeld's formula (Cox), both computed here with scipy. Tolerances are
multiples of the Monte Carlo SE sqrt(p(1-p)/reps); seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from c2stats.cli import main
from c2stats.config import ModelSpec, load_analysis
from c2stats.errors import ConfigError, SpecificationError
from c2stats.executors import ProcessExecutor, SerialExecutor
from c2stats.pipeline import fit
from c2stats.simulate import (
    MAX_REPS,
    breslow_cumulative_hazard,
    follow_up_distribution,
    ols_power,
    run_simulation,
    schoenfeld_events,
    schoenfeld_power,
)
from c2stats.simulation_plots import power_curve_figure, simulation_table
from c2stats.spec import HypothesisSpec, SimulationSpec
from c2stats.tables import RENDERERS

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "simulate" / "simulate.json").read_text(encoding="utf-8"))
LUNG = Path(__file__).resolve().parents[2] / "c2stats" / "examples" / "lung.csv"
Z = 4.0  # tolerance in Monte Carlo SEs: a correct implementation fails with probability < 1e-4 per check


# ----------------------------------------------------------------------------------------------
# Data with a known fitted model
# ----------------------------------------------------------------------------------------------
def _ols_data(n: int = 200, beta: float = 0.8, seed: int = 11) -> pd.DataFrame:
    """Balanced binary x; y = 1 + beta x + e with e orthogonal to (1, x) and residual SD exactly 1,
    so that OLS returns (1, beta) and sigma = 1 exactly."""
    rng = np.random.default_rng(seed)
    x = np.repeat([0.0, 1.0], n // 2)
    X = np.c_[np.ones(n), x]
    e = rng.standard_normal(n)
    e -= X @ np.linalg.lstsq(X, e, rcond=None)[0]
    e *= math.sqrt((n - 2) / (e @ e))
    return pd.DataFrame({"x": x, "y": 1 + beta * x + e})


def _survival_data(n: int = 300, log_hr: float = 0.4, seed: int = 12) -> pd.DataFrame:
    """Balanced binary x, exponential event times with hazard exp(log_hr x), uniform censoring."""
    rng = np.random.default_rng(seed)
    x = np.repeat([0.0, 1.0], n // 2)
    t = rng.exponential(1 / np.exp(log_hr * x))
    c = rng.uniform(0.5, 3.0, n)
    return pd.DataFrame({"x": x, "time": np.minimum(t, c), "event": (t <= c).astype(int)})


def _logit_data(n: int = 400, seed: int = 13) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 1.0 * x)))).astype(int)
    return pd.DataFrame({"x": x, "y": y})


def _simulate(model: dict, data: pd.DataFrame, executor=None, **sim):
    spec = ModelSpec.model_validate({"id": "m", **model})
    result = fit(model, data)
    sim_spec = SimulationSpec.model_validate({"id": "s", "model": "m", **sim})
    return run_simulation(sim_spec, 0, spec, {"m": result}, {"m": data}, executor=executor)


# ----------------------------------------------------------------------------------------------
# Validation against analytic power
# ----------------------------------------------------------------------------------------------
def _nct_power(ncp: float, df: float, alpha: float) -> float:
    crit = stats.t.ppf(1 - alpha / 2, df)
    return stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)


def _ols_power_resampled(n: int, beta: float, sigma: float, alpha: float) -> float:
    """Exact power of the t test when the n rows are resampled from a balanced binary x: the number
    of ones is Binomial(n, 1/2); given k ones, t ~ noncentral t(n - 2, beta / (sigma sqrt(1/k + 1/(n-k))))."""
    k = np.arange(1, n)
    w = stats.binom.pmf(k, n, 0.5)
    power = [_nct_power(beta / (sigma * math.sqrt(1 / kk + 1 / (n - kk))), n - 2, alpha) for kk in k]
    return float(np.sum(w * power) / np.sum(w))


def test_ols_power_matches_noncentral_t():
    run = _simulate({"family": "ols", "formula": "y ~ x"}, _ols_data(), n=[20, 40], reps=150, seed=3, term="x",
                    effects={"x": 0.8})
    s = run.summary.set_index("n")
    for n in (20, 40):
        expected = _ols_power_resampled(n, 0.8, 1.0, 0.05)
        mcse = math.sqrt(expected * (1 - expected) / 150)
        assert s.loc[n, "failed"] == 0
        assert abs(s.loc[n, "power"] - expected) < Z * mcse, (n, s.loc[n, "power"], expected)
        # the analytic column: noncentral t at the expected design (n/4 = n var(x)), computed here
        assert s.loc[n, "analytic_power"] == pytest.approx(_nct_power(0.8 / math.sqrt(4 / n), n - 2, 0.05), rel=1e-9)
        cover = s.loc[n, "coverage"]
        assert abs(cover - 0.95) < Z * math.sqrt(0.95 * 0.05 / 150)
    assert run.truth == pytest.approx(0.8)


def test_cox_power_matches_schoenfeld():
    events = (60, 140)
    run = _simulate({"family": "cox", "formula": "~ x", "time": "time", "event": "event"}, _survival_data(),
                    events=list(events), reps=150, seed=5, term="x", effects={"x": 0.4})
    s = run.summary.set_index("events")
    z = stats.norm.ppf(0.975)
    for d in events:
        assert s.loc[d, "mean_events"] == d  # every replicate has exactly d events
        schoenfeld = stats.norm.cdf(math.sqrt(d * 0.25) * 0.4 - z)  # p(1-p) = 1/4, log HR = 0.4
        mcse = math.sqrt(schoenfeld * (1 - schoenfeld) / 150)
        assert abs(s.loc[d, "power"] - schoenfeld) < Z * mcse, (d, s.loc[d, "power"], schoenfeld)
        # the analytic column is Schoenfeld's formula with the sample variance of x (1/4 here)
        assert s.loc[d, "analytic_power"] == pytest.approx(schoenfeld, abs=2e-3)
    # Schoenfeld's required events, inverted: 140 events give the power computed above
    required = (z + stats.norm.ppf(s.loc[140, "analytic_power"])) ** 2 / (0.25 * 0.4 ** 2)
    assert required == pytest.approx(140, rel=0.02)


def test_logit_recovers_the_coefficient_with_nominal_coverage():
    run = _simulate({"family": "logit", "formula": "y ~ x"}, _logit_data(), n=[250], reps=150, seed=7, term="x",
                    effects={"x": 1.0})
    row = run.summary.iloc[0]
    m = row["reps"] - row["failed"]
    assert m >= 145
    assert abs(row["bias"]) < Z * row["empirical_se"] / math.sqrt(m)
    assert abs(row["coverage"] - 0.95) < Z * math.sqrt(0.95 * 0.05 / m)
    assert row["rmse"] ** 2 == pytest.approx(row["bias"] ** 2 + row["empirical_se"] ** 2 * (m - 1) / m, rel=1e-9)
    assert math.isnan(row["analytic_power"])


SURV = {"formula": "~ x", "time": "time", "event": "event"}


@pytest.mark.parametrize("model, effect", [
    ({"family": "weibull", **SURV}, 0.5),  # log hazard ratio; shape from the fit
    ({"family": "weibull", **SURV, "options": {"form": "aft"}}, -0.5),  # effect on log time
    ({"family": "exponential", **SURV}, 0.5),
    ({"family": "discrete_hazard", "formula": "y ~ x", "options": {"link": "cloglog"}}, 0.7),
    ({"family": "probit", "formula": "y ~ x"}, 0.6),
], ids=["weibull-ph", "weibull-aft", "exponential", "discrete-cloglog", "probit"])
def test_other_families_recover_the_declared_effect(model, effect):
    data = _survival_data() if "time" in model else _logit_data()
    run = _simulate(model, data, n=[200], reps=60, seed=8, term="x", effects={"x": effect})
    row = run.summary.iloc[0]
    m = row["reps"] - row["failed"]
    assert m == 60 and row["truth"] == pytest.approx(effect, rel=1e-12)
    assert abs(row["bias"]) < Z * row["empirical_se"] / math.sqrt(m)
    # the model's SE describes the spread of the estimates (SE of an SD from m draws: about 1/sqrt(2m))
    assert row["mean_se"] == pytest.approx(row["empirical_se"], rel=Z / math.sqrt(2 * m))


def test_hypothesis_combination_and_binary_event_counts():
    rng = np.random.default_rng(14)
    data = pd.DataFrame({"x": rng.standard_normal(300), "z": rng.standard_normal(300)})
    data["y"] = data["x"] + 0.5 * data["z"] + rng.standard_normal(300)
    data["b"] = (rng.random(300) < 0.3).astype(int)
    spec = ModelSpec.model_validate({"id": "m", "family": "ols", "formula": "y ~ x + z"})
    result = fit({"family": "ols", "formula": "y ~ x + z"}, data)
    hyp = HypothesisSpec.model_validate({"id": "H2", "statement": "x beats z", "models": ["m"], "test": "x - z > 0.1"})
    sim = SimulationSpec.model_validate({"id": "s", "model": "m", "n": [100], "reps": 30, "hypothesis": "H2",
                                         "effects": {"x": 0.5, "z": 0.2}})
    run = run_simulation(sim, 0, spec, {"m": result}, {"m": data}, [hyp])
    assert run.test == "H2: x - z > 0.1" and run.truth == pytest.approx(0.5 - 0.2 - 0.1)
    row = run.summary.iloc[0]
    assert abs(row["bias"]) < Z * row["empirical_se"] / math.sqrt(30)
    joint = HypothesisSpec.model_validate({"id": "H3", "statement": "s", "models": ["m"], "test": "x = z = 0"})
    with pytest.raises(SpecificationError, match="not one linear restriction") as info:
        run_simulation(sim.model_copy(update={"hypothesis": "H3"}), 0, spec, {"m": result}, {"m": data}, [joint])
    assert info.value.where == "simulations[0] (id 's').hypothesis"
    # binary outcome with event counts: every replicate has exactly that many ones
    run = _simulate({"family": "logit", "formula": "b ~ x"}, data, events=[25, 40], reps=8, seed=2, term="x")
    assert run.summary["mean_events"].tolist() == [25, 40]
    assert (run.replicates["n_events"] == run.replicates["events"]).all()


# ----------------------------------------------------------------------------------------------
# Building blocks against hand computations
# ----------------------------------------------------------------------------------------------
def test_breslow_and_follow_up_distribution_by_hand():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 0, 1])
    risk = np.array([1.0, 2.0, 1.0, 1.0, 0.5])
    t, h = breslow_cumulative_hazard(time, event, risk)
    # at 1: 1 / (1+2+1+1+0.5); at 2: + 1 / (2+1+1+0.5); at 4: + 1 / 0.5
    assert t.tolist() == [0.0, 1.0, 2.0, 4.0]
    assert h == pytest.approx([0.0, 1 / 5.5, 1 / 5.5 + 1 / 4.5, 1 / 5.5 + 1 / 4.5 + 2.0])
    times, cdf = follow_up_distribution(time, event)
    # reverse KM: censorings at 2 (4 at risk) and 3 (2 at risk); the rest at the end of follow-up (4)
    assert times.tolist() == [2.0, 3.0, 4.0]
    assert cdf == pytest.approx([1 / 4, 1 - (3 / 4) * (1 / 2), 1.0])


def test_breslow_hazard_matches_r_basehaz():
    lung = pd.read_csv(LUNG).dropna(subset=["time", "event", "age", "sex", "ph_ecog"])
    X = lung[["age", "sex", "ph_ecog"]].to_numpy(float)
    risk = np.exp((X - np.array(REF["cox"]["means"])) @ np.array(REF["cox"]["coef"]))
    t, h = breslow_cumulative_hazard(lung["time"].to_numpy(float), lung["event"].to_numpy(float), risk)
    assert t[1:] == pytest.approx(REF["breslow"]["time"], abs=0)
    assert h[1:] == pytest.approx(REF["breslow"]["hazard"], rel=1e-10)


def test_follow_up_distribution_matches_r_reverse_kaplan_meier():
    lung = pd.read_csv(LUNG).dropna(subset=["time", "event", "age", "sex", "ph_ecog"])
    times, cdf = follow_up_distribution(lung["time"].to_numpy(float), lung["event"].to_numpy(float))
    assert times == pytest.approx(REF["reverse_km"]["time"], abs=0)
    assert cdf == pytest.approx(REF["reverse_km"]["cdf"], rel=1e-10)


def test_analytic_power_matches_r():
    ref = REF["power_t_test"]
    for n, two, one in zip(ref["n_per_group"], ref["two_sided"], ref["one_sided"]):
        ncp = ref["delta"] / (ref["sd"] * math.sqrt(2 / n))
        assert ols_power(ncp, 2 * n - 2, ref["alpha"]) == pytest.approx(two, rel=1e-6)
        assert ols_power(ncp, 2 * n - 2, ref["alpha"], "greater") == pytest.approx(one, rel=1e-6)
        assert ols_power(-ncp, 2 * n - 2, ref["alpha"], "less") == pytest.approx(one, rel=1e-6)
    ref = REF["schoenfeld"]
    variance, log_hr = ref["p"] * (1 - ref["p"]), math.log(ref["hr"])
    for power, events in zip(ref["power"], ref["events"]):
        assert schoenfeld_events(power, variance, log_hr, ref["alpha"]) == pytest.approx(events, rel=1e-12)
        # the power at the required events is the target (plus the negligible opposite tail)
        assert schoenfeld_power(events, variance, log_hr, ref["alpha"]) == pytest.approx(power, abs=1e-6)


# ----------------------------------------------------------------------------------------------
# Reproducibility and outputs
# ----------------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_tables_on_every_executor():
    model = {"family": "cox", "formula": "~ x", "time": "time", "event": "event"}
    data = _survival_data()
    args = dict(n=[40], reps=12, seed=9, term="x", direction="greater", effects={"x": 0.5})
    a = _simulate(model, data, SerialExecutor(), **args)
    b = _simulate(model, data, ProcessExecutor(jobs=2, min_tasks=2), **args)
    c = _simulate(model, data, SerialExecutor(), **{**args, "seed": 10})
    render = lambda run: RENDERERS["csv"](simulation_table(run.summary, "t", run.notes, table_id="s"))
    assert render(a) == render(b)
    assert a.replicates.to_csv(index=False) == b.replicates.to_csv(index=False)
    assert render(a) != render(c)
    fig = power_curve_figure(a.summary, alpha=0.05)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "power" and ax.get_xlabel() == "sample size (n)"
    line = next(l for l in ax.get_lines() if l.get_gid() == "analytic")
    assert line.get_ydata()[0] == pytest.approx(a.summary["analytic_power"].iloc[0])


ANALYSIS = """
[analysis]
id = "sim"
title = "Simulation"
dataset = "data.csv"

[[models]]
id = "ols"
family = "ols"
formula = "y ~ x"

[[hypotheses]]
id = "H1"
statement = "x raises y"
models = ["ols"]
test = "x > 0"
"""

SIMULATION = """
[[simulations]]
id = "power_ols"
model = "ols"
effects = { x = 0.8 }
n = [20, 30]
reps = 20
seed = 4
hypothesis = "H1"
"""


def test_pipeline_writes_the_simulation_table_and_power_curve(tmp_path):
    from c2stats.pipeline import run

    _ols_data().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "analysis.toml").write_text(ANALYSIS + SIMULATION, encoding="utf-8")
    summary = run(tmp_path / "analysis.toml", tmp_path / "out", executor="serial", cache=False)
    files = set(summary.files)
    assert {"tables/power_ols.md", "tables/power_ols.csv", "figures/power_ols_power.png"} <= files
    table = (tmp_path / "out" / "tables" / "power_ols.csv").read_text(encoding="utf-8")
    assert table.splitlines()[0].startswith("kind,key,n,reps,failed,truth")
    assert "H1: x > 0" in (tmp_path / "out" / "tables" / "power_ols.md").read_text(encoding="utf-8")
    again = run(tmp_path / "analysis.toml", tmp_path / "out", check=True, executor="serial", cache=False)
    assert again.ok, again.differences


# ----------------------------------------------------------------------------------------------
# Bad declarations: exit-2 errors naming the key
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry, match", [
    ('model = "olss"\nn = [20]\nterm = "x"', r"simulations\[0\] \(id 's'\)\.model.*'olss'.*did you mean 'ols'"),
    ('model = "ols"\nn = [20]\nterm = "x"\nreps = 20000', rf"simulations\[0\].*reps.*cap of {MAX_REPS}"),
    ('model = "ols"\nn = [20]\nhypothesis = "H9"', r"simulations\[0\].*hypothesis.*'H9'"),
    ('model = "ols"\nterm = "x"', r"exactly one of n .* and events"),
    ('model = "ols"\nn = [20]', r"exactly one of term"),
    ('model = "ols"\nn = [20]\nterm = "x"\n[[tables]]\nid = "s"\nmodels = ["ols"]', r"id 's' would overwrite .*\[\[tables\]\]"),
])
def test_config_errors_name_the_key(write_toml, entry, match):
    path = write_toml(ANALYSIS.replace('"data.csv"', '"lung"') + f'\n[[simulations]]\nid = "s"\n{entry}\n')
    with pytest.raises(ConfigError, match=match):
        load_analysis(path)


@pytest.mark.parametrize("sim, key, match", [
    ({"term": "z", "n": [20]}, "term", r"term 'z' is not a coefficient"),
    ({"term": "x", "n": [20], "effects": {"xx": 1.0}}, "effects.xx", r"did you mean 'x'"),
    ({"term": "x", "n": [2, 20]}, "n", r"n = 2 is not above the 2 parameters"),
    ({"term": "x", "events": [20]}, "events", r"has no events; give n"),
])
def test_runtime_errors_name_the_key(sim, key, match):
    with pytest.raises(SpecificationError, match=match) as info:
        _simulate({"family": "ols", "formula": "y ~ x"}, _ols_data(), reps=2, **sim)
    assert info.value.where == f"simulations[0] (id 's').{key}"


def test_model_without_a_converged_fit_is_refused():
    spec = ModelSpec.model_validate({"id": "m", "family": "ols", "formula": "y ~ x"})
    sim = SimulationSpec.model_validate({"id": "s", "model": "m", "n": [20], "term": "x", "reps": 2})
    with pytest.raises(SpecificationError, match="has no fitted result .*failed to fit"):
        run_simulation(sim, 0, spec, {}, {"m": _ols_data()})
    data = _ols_data()
    result = fit({"family": "ols", "formula": "y ~ x"}, data)
    stalled = type(result)(result.tidy, {**result.glance, "converged": False}, result.meta, result.frames)
    with pytest.raises(SpecificationError, match="did not converge") as info:
        run_simulation(sim, 0, spec, {"m": stalled}, {"m": data})
    assert info.value.where.endswith(".model")


def test_cli_exits_2_on_a_bad_simulation(tmp_path):
    _ols_data().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "analysis.toml").write_text(ANALYSIS + SIMULATION.replace("n = [20, 30]", "n = [2]"), encoding="utf-8")
    assert main(["run", str(tmp_path / "analysis.toml"), "--out", str(tmp_path / "out"), "--executor", "serial"]) == 2


# ----------------------------------------------------------------------------------------------
# The full validation (slow): more replicates, more settings
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_full_validation_against_analytic_power():
    run = _simulate({"family": "ols", "formula": "y ~ x"}, _ols_data(), n=[16, 30, 60], reps=1000, seed=21, term="x",
                    effects={"x": 0.8})
    for _, row in run.summary.iterrows():
        expected = _ols_power_resampled(int(row["n"]), 0.8, 1.0, 0.05)
        assert abs(row["power"] - expected) < Z * math.sqrt(expected * (1 - expected) / 1000)
    run = _simulate({"family": "cox", "formula": "~ x", "time": "time", "event": "event"}, _survival_data(),
                    events=[50, 100, 200], reps=1000, seed=22, term="x", effects={"x": 0.4})
    for _, row in run.summary.iterrows():
        expected = stats.norm.cdf(math.sqrt(row["events"] * 0.25) * 0.4 - stats.norm.ppf(0.975))
        assert abs(row["power"] - expected) < Z * math.sqrt(expected * (1 - expected) / 1000)
