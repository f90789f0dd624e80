"""The contract every registered family keeps, checked on small seeded synthetic data.

For each family in ``c2stats.families.FAMILIES``: every declared variance type fits and gives a
valid ``tidy`` (standard columns, finite estimates and positive standard errors) and ``glance``;
a result survives ``save_result``/``load_result`` unchanged (and saves byte-identically again);
an unknown option is a ``ConfigError`` naming it and suggesting the valid one; an undeclared
variance type is a ``ConfigError`` listing the declared ones; every option is documented.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import c2stats
from c2stats import load_result, save_result
from c2stats.errors import ConfigError
from c2stats.families import FAMILIES
from c2stats.results import SCALES, TIDY_STANDARD
from c2stats.vcov import VCOV_LABELS, VCOV_TYPES


def make_data(seed: int = 20240611) -> pd.DataFrame:
    """A balanced panel of 40 entities x 6 periods with every kind of outcome the families need."""
    rng = np.random.default_rng(seed)
    n_ent, n_per = 40, 6
    n = n_ent * n_per
    entity = np.repeat(np.arange(1, n_ent + 1), n_per)
    period = np.tile(np.arange(1, n_per + 1), n_ent)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    effect = rng.normal(scale=0.7, size=n_ent)[entity - 1]
    eta = -0.4 + 0.8 * x1 - 0.5 * x2
    a = rng.integers(0, 100, size=n)
    b = (a + 1 + rng.integers(0, 99, size=n)) % 100  # a dyad's two members always differ
    u = rng.random(n)
    p2, p3 = 0.3 * expit(eta), 0.4 * expit(-eta)
    frame = pd.DataFrame({
        "entity": entity,
        "period": period,
        "x1": x1,
        "x2": x2,
        "g": (entity - 1) // 4,  # 10 clusters of whole entities
        "a": a,
        "b": b,
        "y_bin": (rng.random(n) < expit(eta + 0.3 * np.log(period))).astype(int),
        "y_cont": 1.0 + x1 - 0.5 * x2 + effect + rng.normal(size=n),
        "y_cat": np.where(u < p2, 2, np.where(u < p2 + p3, 3, 1)),
        "time": rng.exponential(np.exp(-eta)) + 0.01,
        "event": (rng.random(n) < 0.8).astype(int),
    })
    # matched sets for clogit: in each entity, the row with the largest y_cont is the one case
    frame["case"] = (frame["y_cont"] == frame.groupby("entity")["y_cont"].transform("max")).astype(int)
    return frame


DATA = make_data()

#: A minimal valid spec of each family on DATA (a new family adds its line here).
SPECS: dict[str, dict] = {
    "cox": {"formula": "~ x1 + x2", "time": "time", "event": "event"},
    "clogit": {"formula": "case ~ x1 + x2", "options": {"group": "entity"}},
    "finegray": {"formula": "~ x1 + x2", "time": "time", "event": "y_cat", "event_value": 2, "options": {"censor_value": 1}},
    "weibull": {"formula": "~ x1 + x2", "time": "time", "event": "event"},
    "exponential": {"formula": "~ x1 + x2", "time": "time", "event": "event", "options": {"form": "aft"}},
    "logit": {"formula": "y_bin ~ x1 + x2"},
    "probit": {"formula": "y_bin ~ x1 + x2"},
    "firth": {"formula": "y_bin ~ x1 + x2"},
    "discrete_hazard": {"formula": "y_bin ~ x1 + x2 + log(period)", "options": {"link": "cloglog"}},
    "mnlogit": {"formula": "y_cat ~ x1 + x2", "options": {"base": 1}},
    "ols": {"formula": "y_cont ~ x1 + x2"},
    "panel": {"formula": "y_cont ~ x1 + x2", "options": {"index": ["entity", "period"]}},
    "mixed": {"formula": "y_cont ~ x1 + x2", "options": {"group": "entity"}},
}

VCOV_SPECS = {
    "model": "model",
    "robust": "robust",
    "HC0": "HC0",
    "HC1": "HC1",
    "cluster": {"type": "cluster", "groups": "g"},
    "dyadic": {"type": "dyadic", "groups": ["a", "b"]},
    "bootstrap": {"type": "bootstrap", "groups": "g", "reps": 30, "seed": 7},
}

NAMES = sorted(FAMILIES)
PAIRS = [(name, v) for name in NAMES for v in FAMILIES[name].vcov_types]


def fit(name: str, vcov="model", **extra):
    spec = {"family": name, **SPECS[name], "vcov": vcov, **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c2stats.fit(spec, DATA)


def test_every_family_has_a_fixture_spec():
    assert set(FAMILIES) <= set(SPECS), f"add a spec for {sorted(set(FAMILIES) - set(SPECS))}"


@pytest.mark.parametrize("name", NAMES)
def test_family_declares_the_interface(name):
    cls = FAMILIES[name]
    assert cls.kind in ("survival", "regression")
    assert cls.scale in SCALES
    assert cls.vcov_types and set(cls.vcov_types) <= set(VCOV_TYPES)
    assert "model" in cls.vcov_types
    for field_name, field in cls.Options.model_fields.items():
        assert field.description, f"{name}: option {field_name!r} has no description"


@pytest.mark.parametrize("name, vcov", PAIRS)
def test_every_declared_vcov_gives_a_valid_result(name, vcov):
    result = fit(name, VCOV_SPECS[vcov])
    tidy = result.tidy
    expected = ["term", *(["component"] if "component" in tidy.columns else []), "estimate", *TIDY_STANDARD]
    assert list(tidy.columns[: len(expected)]) == expected
    assert len(tidy) > 0
    assert tidy["term"].map(lambda t: isinstance(t, str) and t != "").all()
    keys = list(zip(tidy.get("component", [""] * len(tidy)), tidy["term"]))
    assert len(set(keys)) == len(keys), "terms must be unique within a component"
    assert np.isfinite(tidy["estimate"]).all()
    assert (np.isfinite(tidy["std_error"]) & (tidy["std_error"] > 0)).all()
    assert (tidy["conf_low"] < tidy["estimate"]).all() and (tidy["estimate"] < tidy["conf_high"]).all()
    assert tidy["p_value"].between(0, 1).all()
    if "component" in tidy.columns:
        assert tidy["component"].map(lambda c: isinstance(c, str)).all()
    glance = result.glance
    assert glance["nobs"] == len(DATA)
    assert glance["vcov_type"] == VCOV_LABELS[vcov]
    assert glance["converged"] is True
    if vcov == "cluster":
        assert glance["n_clusters"] == DATA["g"].nunique()
    assert result.meta["family"] == name and result.meta["scale"] in SCALES
    V = result.vcov()
    assert V.shape == (len(tidy), len(tidy) + 0) and V.index.is_unique
    np.testing.assert_allclose(np.sqrt(np.diag(V.to_numpy())), tidy["std_error"], rtol=1e-12)


def _same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a) or a is None:
        return b is None or isinstance(b, float) and math.isnan(b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_is_identical(name, tmp_path):
    vcov = VCOV_SPECS["cluster"] if "cluster" in FAMILIES[name].vcov_types else "model"
    result = fit(name, vcov)
    save_result(result, tmp_path / "a")
    back = load_result(tmp_path / "a")
    pd.testing.assert_frame_equal(result.tidy, back.tidy)
    assert _same(dict(result.glance), dict(back.glance))
    assert _same(dict(result.meta), dict(back.meta))
    assert result.frames.keys() == back.frames.keys()
    for key in result.frames:
        pd.testing.assert_frame_equal(result.frames[key], back.frames[key])
    save_result(back, tmp_path / "b")
    for path in sorted((tmp_path / "a").rglob("*.*")):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path.name


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_names_it_and_suggests(name):
    options = list(FAMILIES[name].Options.model_fields)
    assert options, f"{name} should document at least one option"
    real = options[0]
    wrong = real + "x"
    spec = {"family": name, **SPECS[name]}
    spec["options"] = {**spec.get("options", {}), wrong: 1}
    with pytest.raises(ConfigError) as info:
        c2stats.fit(spec, DATA)
    message = str(info.value)
    assert wrong in message and f"did you mean {real!r}" in message


@pytest.mark.parametrize("name", NAMES)
def test_undeclared_vcov_lists_the_declared_ones(name):
    missing = [v for v in VCOV_SPECS if v not in FAMILIES[name].vcov_types]
    if not missing:
        pytest.skip(f"{name} declares every variance type")
    with pytest.raises(ConfigError) as info:
        fit(name, VCOV_SPECS[missing[0]])
    message = str(info.value)
    assert all(v in message for v in FAMILIES[name].vcov_types)


@pytest.mark.parametrize("name", [n for n in NAMES if "bootstrap" in FAMILIES[n].vcov_types])
def test_bootstrap_is_seeded_and_reproducible(name):
    spec = VCOV_SPECS["bootstrap"]
    first, again = fit(name, spec), fit(name, spec)
    pd.testing.assert_frame_equal(first.tidy, again.tidy)
    assert first.glance["n_boot"] == spec["reps"] and first.glance["seed"] == spec["seed"]
    assert first.glance["n_clusters"] == DATA["g"].nunique()
    other = fit(name, {**spec, "seed": spec["seed"] + 1})
    assert not np.allclose(other.tidy["std_error"], first.tidy["std_error"])
    pd.testing.assert_series_equal(other.tidy["estimate"], first.tidy["estimate"])  # only the variance is resampled


@pytest.mark.parametrize("name", [n for n in NAMES if "dyadic" in FAMILIES[n].vcov_types])
def test_dyadic_with_few_nodes_warns_and_records_it(name):
    from c2stats.errors import FewNodesWarning
    from c2stats.vcov import MIN_DYADIC_NODES

    few = DATA.assign(a=DATA["a"] % 20)
    few["b"] = (few["a"] + 1 + DATA["b"] % 19) % 20  # 20 nodes, the two members always differ
    spec = {"family": name, **SPECS[name], "vcov": VCOV_SPECS["dyadic"]}
    with pytest.warns(FewNodesWarning, match=f"only 20 distinct nodes in 'a' and 'b' \\(fewer than {MIN_DYADIC_NODES}\\)"):
        result = c2stats.fit(spec, few)
    assert any("only 20 distinct nodes" in w for w in result.meta["warnings"])
    many = DATA.assign(a=DATA["a"] + 100 * (DATA["entity"] % 2), b=DATA["b"] + 100 * (DATA["entity"] % 2))
    assert pd.unique(np.r_[many["a"], many["b"]]).size >= MIN_DYADIC_NODES
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewNodesWarning)
        enough = c2stats.fit(spec, many)
    assert not any("distinct nodes" in w for w in enough.meta["warnings"])
