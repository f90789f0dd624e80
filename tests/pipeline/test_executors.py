"""Executors: serial, process pool (fork and forkserver) and Dask (local cluster) give byte-identical
results; failures are recorded and the rest go on; BLAS threads are pinned in workers; progress."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from c2stats.cache import to_result
from c2stats.config import load_analysis
from c2stats.errors import ConfigError, DataError, SpecificationError
from c2stats.executors import (DaskExecutor, FitTask, ProcessExecutor, Progress, SerialExecutor, _init_worker,
                               make_executor)
from c2stats.pipeline import _fit_all, _load_datasets, _shipped, run
from c2stats.results import save_result

from tests.conftest import REFERENCE

ANALYSIS = """
[analysis]
id = "ex"
title = "executors"
dataset = "lung.csv"

[[models]]
id = "cox"
family = "cox"
formula = "~ age + sex + ph_ecog"
time = "time"
event = "event"

[[models]]
id = "weibull"
extends = "cox"
family = "weibull"
vcov = { type = "cluster", groups = "inst" }

[[models]]
id = "logit"
family = "logit"
formula = "event ~ age + sex + ph_ecog"
vcov = "HC1"

[[models]]
id = "mid"
family = "logit"
dataset = "mid"
formula = "conflict ~ major + contig + power + maxdem + mindem + years"
vcov = "HC1"

[grid]
base = "cox"
focal = "sex"

[grid.axes]
vcov = ["model", "robust", { type = "cluster", groups = "inst" }]
restrict = ["", "age >= 50", "age >= 300"]
"""


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    folder = tmp_path_factory.mktemp("executors")
    shutil.copy(REFERENCE / "data" / "lung.csv", folder / "lung.csv")
    (folder / "a.toml").write_text(ANALYSIS, encoding="utf-8")
    return folder / "a.toml"


def saved_bytes(results, folder: Path) -> dict[str, bytes]:
    out = {}
    for mid, result in results.items():
        save_result(result, folder / mid)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def run_with(analysis, executor, folder):
    cfg = load_analysis(analysis)
    fits = _fit_all(cfg, executor=executor)
    return fits, saved_bytes(fits.results, folder)


@pytest.fixture(scope="module")
def serial(analysis, tmp_path_factory):
    return run_with(analysis, SerialExecutor(), tmp_path_factory.mktemp("serial"))


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_process_pool_results_are_byte_identical_to_serial(analysis, serial, tmp_path, start_method):
    fits, files = run_with(analysis, ProcessExecutor(2, min_tasks=1, start_method=start_method), tmp_path)
    assert fits.fitted == serial[0].fitted == 13
    assert files == serial[1]
    assert sorted(fits.failures) == sorted(serial[0].failures)


def test_dask_local_cluster_results_are_byte_identical_to_serial(analysis, serial, tmp_path):
    pytest.importorskip("distributed")
    fits, files = run_with(analysis, DaskExecutor(jobs=2), tmp_path / "local")
    assert files == serial[1]
    assert {k: str(v) for k, v in fits.failures.items()} == {k: str(v) for k, v in serial[0].failures.items()}


def test_dask_scheduler_address_is_used(analysis, serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    import logging

    from c2stats.executors import local_cluster_config

    with local_cluster_config():
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None,
                                           silence_logs=logging.ERROR)
    try:
        executor = make_executor(None, scheduler=cluster.scheduler_address)
        assert executor.name == "dask"
        fits, files = run_with(analysis, executor, tmp_path)
        assert files == serial[1]
    finally:
        cluster.close()


def test_failing_specifications_are_recorded_with_their_error(serial):
    fits = serial[0]
    assert len(fits.failures) == 3  # the three specifications restricted to age >= 300
    for error in fits.failures.values():
        assert isinstance(error, SpecificationError)
        assert "keeps no rows" in str(error)
    assert len(fits.results) == 4 + 6


def test_a_failing_main_model_raises_its_own_error_after_the_others_ran(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "a.toml").write_text(ANALYSIS.replace('formula = "event ~ age + sex + ph_ecog"',
                                                      'formula = "event ~ age + sexx"'))
    cfg = load_analysis(tmp_path / "a.toml")
    for executor in (SerialExecutor(), ProcessExecutor(2, min_tasks=1)):
        with pytest.raises(DataError, match="'sexx' \\(did you mean 'sex'\\?\\)"):
            _fit_all(cfg, executor=executor)


def test_datasets_are_cut_to_the_columns_read_and_results_do_not_change(analysis, serial):
    cfg = load_analysis(analysis)
    datasets, source_of = _load_datasets(cfg)
    key = source_of["cox"]
    models = [m for m in cfg.spec.models if source_of[m.id] == key]
    cut = _shipped(datasets[key], models)
    assert list(cut.frame.columns) == ["inst", "time", "event", "age", "sex", "ph_ecog"]  # lung has no others
    mid = source_of["mid"]
    small = cfg.model("mid").model_copy(update={"formula": "conflict ~ major + power", "sample": "years > 2"})
    cut = _shipped(datasets[mid], [small])
    assert list(cut.frame.columns) == ["conflict", "major", "power", "years"]
    from c2stats.pipeline import fit_model

    whole = fit_model(small, datasets[mid], config_hash=cfg.config_hash)
    assert whole.tidy.equals(fit_model(small, cut, config_hash=cfg.config_hash).tidy)
    assert fit_model(cfg.model("mid"), datasets[mid], config_hash=cfg.config_hash).tidy.equals(
        serial[0].results["mid"].tidy)
    missing = cfg.model("mid").model_copy(update={"formula": "conflict ~ majr"})
    assert _shipped(datasets[mid], [missing]) is datasets[mid]  # whole frame: the error suggests from all columns


def _threads(_):
    from threadpoolctl import threadpool_info

    return sorted({lib["num_threads"] for lib in threadpool_info()})


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_workers_run_blas_with_one_thread(start_method):
    pytest.importorskip("threadpoolctl")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from c2stats.executors import _blas_environment

    with _blas_environment():
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(start_method), initializer=_init_worker,
                                 initargs=({},)) as pool:
            assert list(pool.map(_threads, range(2))) == [[1], [1]]


def test_progress_shows_done_failed_and_time_left():
    buffer = io.StringIO()
    bar = Progress(4, desc="fits", file=buffer)
    for failed in (False, True, False, False):
        bar.update(failed=failed)
    bar.close()
    text = buffer.getvalue()
    assert "4/4" in text and ("failed=1" in text or "1 failed" in text)
    quiet = io.StringIO()
    Progress(3, file=quiet, enabled=False).update()
    assert quiet.getvalue() == ""


def test_plain_progress_line_without_tqdm(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    buffer = io.StringIO()
    bar = Progress(2, desc="fits", file=buffer)
    bar.update(failed=True)
    bar.update()
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("fits: 1/2, 1 failed, ~") and lines[0].endswith(" s left")
    assert lines[-1].startswith("fits: 2/2, 1 failed, ~0 s left")


def test_make_executor_names_and_errors():
    assert make_executor("serial").name == "serial"
    assert make_executor(None).name == "process"
    assert make_executor("process", jobs=3).jobs == 3
    with pytest.raises(ConfigError, match="did you mean 'serial'"):
        make_executor("serail")
    with pytest.raises(ConfigError, match="needs --executor dask"):
        make_executor("serial", scheduler="tcp://127.0.0.1:8786")


def test_cli_flags_choose_executor_and_cache(analysis, tmp_path):
    from c2stats.cli import main

    out, cache = tmp_path / "r", tmp_path / "c"
    assert main(["run", str(analysis), "--out", str(out), "--executor", "process", "--jobs", "2",
                 "--cache-dir", str(cache)]) == 0
    assert len(list((cache / "fits").glob("*/*.json"))) == 13
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["run", str(analysis), "--out", str(out), "--executor", "serial", "--no-cache"]) == 0
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
    with pytest.raises(SystemExit):
        main(["run", str(analysis), "--jobs", "0"])


def test_run_summary_counts_and_payload_round_trip(analysis, serial, tmp_path):
    summary = run(analysis, out=tmp_path / "r", executor="serial", cache=False)
    assert summary.stats == {"fitted": 13, "cached": 0, "failed": 3}
    task = FitTask(0, load_analysis(analysis).model("cox"), "k", "hash")
    datasets, source_of = _load_datasets(load_analysis(analysis))
    payload = SerialExecutor().run([task], {"k": datasets[source_of["cox"]]})[0]
    result = to_result(payload)
    assert result.raw is None and result.meta["config_hash"] == "hash"


def test_dask_chunks_keep_one_dataset_per_chunk_and_every_task_once():
    from c2stats.executors import _chunks

    tasks = [FitTask(i, None, "a" if i % 3 else "b") for i in range(200)]
    chunks = _chunks(tasks, workers=2)
    assert sorted(t.index for c in chunks for t in c) == list(range(200))
    assert all(len({t.source for t in c}) == 1 for c in chunks)
    assert max(len(c) for c in chunks) == 8 and len(chunks) >= 16
    assert [len(c) for c in _chunks(tasks[:10], workers=2)] == [1] * 10  # few tasks: one per chunk
