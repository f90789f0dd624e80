"""The fit cache: keys, byte-identical read-back, reruns fit only what changed, data changes refit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from c2stats import cache as cache_module
from c2stats.cache import FitCache, fit_key, to_payload, to_result
from c2stats.config import load_analysis
from c2stats.data import load_dataset
from c2stats.pipeline import _fit_all, fit_model, run
from c2stats.results import save_result

from tests.conftest import REFERENCE

ANALYSIS = """
[analysis]
id = "cache"
title = "cache"
dataset = "lung.csv"

[[models]]
id = "cox"
family = "cox"
formula = "~ age + sex + ph_ecog"
time = "time"
event = "event"
label = "Cox"

[[models]]
id = "weibull"
extends = "cox"
family = "weibull"

[[models]]
id = "logit_mid"
family = "logit"
dataset = "mid"
formula = "conflict ~ major + contig + power"
vcov = "HC1"

[[tables]]
id = "t"
models = ["cox", "weibull"]

[[robustness]]
id = "rob"
base = "cox"
set = { vcov = { type = "cluster", groups = "inst" } }

[grid]
base = "cox"
focal = "sex"

[grid.axes]
restrict = ["", "age > 50", "age > 500"]
"""


@pytest.fixture
def analysis(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    path = tmp_path / "a.toml"
    path.write_text(ANALYSIS, encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_reads_everything_from_the_cache_and_writes_the_same_bytes(analysis, tmp_path):
    cache = tmp_path / "cache"
    first = run(analysis, out=tmp_path / "r1", executor="serial", cache_dir=cache)
    assert first.stats == {"fitted": 7, "cached": 0, "failed": 1}
    second = run(analysis, out=tmp_path / "r2", executor="serial", cache_dir=cache)
    assert second.stats == {"fitted": 0, "cached": 7, "failed": 1}  # the failure is cached too
    assert snapshot(tmp_path / "r1") == snapshot(tmp_path / "r2")
    fresh = run(analysis, out=tmp_path / "r3", executor="serial", cache=False)
    assert snapshot(tmp_path / "r3") == snapshot(tmp_path / "r1")
    assert fresh.stats["fitted"] == 7


def test_only_changed_models_are_refitted(analysis, tmp_path):
    cache = tmp_path / "cache"
    run(analysis, out=tmp_path / "r1", executor="serial", cache_dir=cache)
    text = analysis.read_text().replace('vcov = "HC1"', 'vcov = "HC0"').replace('label = "Cox"', 'label = "Cox PH"')
    analysis.write_text(text)
    summary = run(analysis, out=tmp_path / "r2", executor="serial", cache_dir=cache)
    assert summary.stats["fitted"] == 1  # logit_mid; a label change is no refit
    assert summary.results["cox"].meta["label"] == "Cox PH"
    fresh = run(analysis, out=tmp_path / "r3", executor="serial", cache=False)
    assert snapshot(tmp_path / "r2") == snapshot(tmp_path / "r3")  # config hash and label refreshed on read
    assert fresh.results["cox"].meta["config_hash"] == summary.results["cox"].meta["config_hash"]


def test_a_data_change_refits_the_models_on_that_data(analysis, tmp_path):
    cache = tmp_path / "cache"
    run(analysis, out=tmp_path / "r1", executor="serial", cache_dir=cache)
    lung = pd.read_csv(tmp_path / "lung.csv")
    lung.loc[0, "age"] = 75
    lung.to_csv(tmp_path / "lung.csv", index=False)
    summary = run(analysis, out=tmp_path / "r2", executor="serial", cache_dir=cache)
    assert summary.stats == {"fitted": 6, "cached": 1, "failed": 1}  # all lung models; mid stays cached
    fresh = run(analysis, out=tmp_path / "r3", executor="serial", cache=False)
    assert snapshot(tmp_path / "r2") == snapshot(tmp_path / "r3")


def test_no_cache_and_check_do_not_write(analysis, tmp_path):
    run(analysis, out=tmp_path / "r", executor="serial", cache=False)
    assert not (tmp_path / "cache").exists()
    summary = run(analysis, out=tmp_path / "r", check=True, executor="serial", cache_dir=tmp_path / "cache")
    assert summary.ok and not (tmp_path / "cache").exists()


def test_key_covers_spec_data_and_versions_but_not_labels(analysis, monkeypatch):
    cfg = load_analysis(analysis)
    cox = cfg.model("cox")
    ref = cfg.dataset_of(cox).model_dump(mode="json")
    key = fit_key(cox, ref, "d1")
    assert fit_key(cox.model_copy(update={"label": "x", "labels": {"age": "Age"}, "description": "y"}), ref, "d1") == key
    assert fit_key(cox.model_copy(update={"sample": "age > 1"}), ref, "d1") != key
    assert fit_key(cox.model_copy(update={"id": "other"}), ref, "d1") != key
    assert fit_key(cox, ref, "d2") != key
    assert fit_key(cox, {**ref, "coding": "provisions_only"}, "d1") != key
    env = dict(cache_module.environment())
    monkeypatch.setattr(cache_module, "environment", lambda: {**env, "numpy": "0.0"})
    assert fit_key(cox, ref, "d1") != key


@pytest.mark.parametrize("model_id", ["cox", "weibull", "logit_mid", "rob"])
def test_cache_read_back_saves_byte_identical_results(analysis, tmp_path, model_id):
    cfg = load_analysis(analysis)
    model = cfg.model(model_id)
    dataset = load_dataset(cfg.dataset_of(model), analysis.parent)
    result = fit_model(model, dataset, config_hash=cfg.config_hash)
    store = FitCache(tmp_path / "c")
    assert store.store("k" * 64, to_payload(result))
    back = to_result(store.load("k" * 64), model, cfg.config_hash)
    save_result(result, tmp_path / "fresh")
    save_result(back, tmp_path / "cached")
    assert snapshot(tmp_path / "fresh") == snapshot(tmp_path / "cached")


def test_corrupt_entries_are_misses_and_get_rewritten(analysis, tmp_path):
    cache = tmp_path / "cache"
    run(analysis, out=tmp_path / "r1", executor="serial", cache_dir=cache)
    entries = sorted((cache / "fits").glob("*/*.json"))
    assert len(entries) == 7
    entries[0].write_bytes(b"not a cache entry")
    entries[1].write_bytes(entries[2].read_bytes())  # another key's entry: rejected
    summary = run(analysis, out=tmp_path / "r2", executor="serial", cache_dir=cache)
    assert summary.stats["fitted"] == 2 and summary.stats["cached"] == 5
    assert snapshot(tmp_path / "r1") == snapshot(tmp_path / "r2")
    assert _fit_all(load_analysis(analysis), cache=FitCache(cache)).fitted == 0
