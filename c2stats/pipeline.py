"""The one path: analysis file -> datasets -> fits -> tables -> report.

Only this module knows the order of the stages; each stage passes dataclasses to the next.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .cache import FitCache, LazyResults, Payload, fit_key
from .config import (
    TABLE_FORMATS,
    AnalysisConfig,
    ModelSpec,
    _check_model,
    _Origin,
    _validate_section,
    canonical_json,
    load_analysis,
)
from .data import Dataset, frame_hash, load_dataset
from .datasets import UNITS, codebook
from .diagnostics import diagnostics_summary
from .errors import ConfigError, UserInputError
from . import executors
from .executors import Executor, FitTask, Progress, SerialExecutor
from .families import get_family
from .families._base import needed_columns
from . import describe
from .figures import build_figure
from .fitting import fit_model
from .hypotheses import evaluate_hypotheses, verdict_display
from .provenance import library_versions
from . import replication
from .report import (
    Artefact,
    check_replaceable,
    compare_folders,
    publish,
    recover,
    staging,
    write_report_files,
)
from .restrict import evaluate_restriction, parse_restriction
from .results import Result
from .robustness import appendix_formats, appendix_tables, grid_model_ids, grid_outputs
from .simulate import run_simulation
from .simulation_plots import power_curve_figure, simulation_table
from .tables import frame_table, regression_table


@dataclass(frozen=True)
class RunSummary:
    """What a run produced (or, with ``check``, how the committed report differs)."""

    analysis_id: str
    out: Path
    results: Mapping[str, Result]
    files: tuple[str, ...]
    differences: tuple[str, ...] = ()
    checked: bool = False
    stats: Mapping[str, int] = field(default_factory=dict)  #: fits computed ("fitted"), read ("cached"), "failed"
    replication_failures: tuple[str, ...] = ()  #: replicated numbers outside their tolerance

    @property
    def ok(self) -> bool:
        return not self.differences and not self.replication_failures


def fit(spec: Mapping[str, Any], data: pd.DataFrame) -> Result:
    """Fit one model from a spec with exactly the keys of a ``[[models]]`` entry.

    Parameters
    ----------
    spec
        e.g. ``{"family": "cox", "formula": "~ age + sex", "time": "time", "event": "event",
        "vcov": {"type": "cluster", "groups": "inst"}}``; ``id`` defaults to ``"model"``.
    data
        The data frame to fit on.

    Returns
    -------
    Result
    """

    body = {"id": "model", **dict(spec)}
    if "extends" in body:
        raise ConfigError("'extends' only works inside an analysis file, where the parent model is defined.", where="spec")
    here = Path("<spec>")
    model = _validate_section(ModelSpec, body, "models", None, _Origin(here, "models", None), here)
    model = _check_model(model, 0, {("models", 0): _Origin(here, "models", None)}, here)
    dataset = Dataset(data, "<data frame>", frame_hash(data))
    return fit_model(model, dataset)


@dataclass(frozen=True)
class FitRun:
    """The fits of an analysis: every model's Result (main models, overlays, grid specifications, in
    config order), the grid specifications that failed, the dataset summary for the manifest and
    how many fits were computed, read from the cache or shared with an identical spec."""

    results: Mapping[str, Result]  #: built from the fits on first access (c2stats.cache.LazyResults)
    failures: dict[str, BaseException]
    datasets: list[dict]
    fitted: int = 0
    cached: int = 0
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  #: model id -> the dataset it was fitted on


def _load_datasets(cfg: AnalysisConfig) -> tuple[dict[str, Dataset], dict[str, str]]:
    """Every dataset the models use, loaded once; returns (key -> Dataset, model id -> key)."""
    datasets: dict[str, Dataset] = {}
    keys: dict[str, str] = {}
    base = cfg.path.resolve().parent
    for model in cfg.spec.models:
        ref = cfg.dataset_of(model)
        key = canonical_json(ref.model_dump(mode="json"))
        keys[model.id] = key
        if key not in datasets:
            try:
                datasets[key] = load_dataset(ref, base)
            except UserInputError as exc:
                exc.where = exc.where or f"dataset of model {model.id!r}"
                if exc.source is None or exc.source == ref.path:
                    exc.message = f"dataset {ref.path!r} (model {model.id!r} in {cfg.path.name}): {exc.message}"
                    exc.source = str(cfg.path)
                    exc.where = None
                exc.args = (exc._compose(),)
                raise
    return datasets, keys


def _columns_read(model: ModelSpec) -> list[str] | None:
    """Columns fitting ``model`` reads (formula, outcome, weights, vcov groups, family extras, sample)."""

    try:
        cols = needed_columns(model, get_family(model.family))
        if model.sample:
            cols += parse_restriction(model.sample).columns
    except Exception:  # noqa: BLE001 - anything unusual: ship the whole frame
        return None
    return cols


def _shipped(dataset: Dataset, models: list[ModelSpec]) -> Dataset:
    """``dataset`` cut to the columns its models read, when every one of them is there (else whole,
    so that a missing column is reported with suggestions from every column)."""
    wanted: set[str] = set()
    for model in models:
        cols = _columns_read(model)
        if cols is None or any(c not in dataset.frame.columns for c in cols):
            return dataset
        wanted.update(cols)
    frame = dataset.frame[[c for c in dataset.frame.columns if c in wanted]]
    return Dataset(frame, dataset.name, dataset.data_hash, dataset.unit)


def _fit_all(cfg: AnalysisConfig, *, executor=None, cache=None, progress: bool = False) -> FitRun:
    """Fit every model of ``cfg`` (reading and filling ``cache``) on ``executor``.

    A failing main model or overlay raises its error (the first in config order); a failing grid
    specification is recorded in ``FitRun.failures`` and the rest go on. Warnings of main models
    and overlays are re-emitted in config order; those of grid specifications stay in their
    Results' ``meta['warnings']``.
    """

    executor = executor or SerialExecutor()
    datasets, source_of = _load_datasets(cfg)
    grid_ids = set(grid_model_ids(cfg))
    payloads: dict[str, Payload] = {}
    todo: list[FitTask] = []
    keys: dict[str, str] = {}
    cached = 0
    for model in cfg.spec.models:
        source = source_of[model.id]
        key = fit_key(model, cfg.dataset_of(model).model_dump(mode="json"), datasets[source].data_hash)
        keys[model.id] = key
        stored = cache.load(key) if cache is not None else None
        if stored is not None:
            payloads[model.id] = stored
            cached += 1
        else:
            todo.append(FitTask(len(todo), model, source, cfg.config_hash))
    shipped = {k: _shipped(d, [t.model for t in todo if t.source == k]) for k, d in datasets.items()}
    bar = Progress(len(todo), desc=f"{cfg.id}: fits", enabled=progress)

    def stored(task: FitTask, payload: Payload) -> None:  # at once: a killed run resumes from here
        if cache is not None:
            cache.store(keys[task.model.id], payload)

    try:
        outcomes = executor.run(todo, shipped, bar, on_done=stored) if todo else []
    finally:
        bar.close()
    for task, payload in zip(todo, outcomes):
        payloads[task.model.id] = payload
    entries: dict[str, tuple[Payload, ModelSpec]] = {}
    failures: dict[str, BaseException] = {}
    for model in cfg.spec.models:
        payload = payloads[model.id]
        main = model.id not in grid_ids
        if main:
            for category, message in payload.warnings:
                warnings.warn(message, category, stacklevel=2)
        if payload.ok:
            entries[model.id] = (payload, model)
        elif main:
            raise _located(payload.error, cfg, model)
        else:
            failures[model.id] = payload.error
    summary = [
        {"name": d.name, "sha256": d.data_hash, "rows": int(d.frame.shape[0]), "columns": int(d.frame.shape[1])}
        for d in sorted(datasets.values(), key=lambda d: d.name)
    ]
    frames = {m.id: datasets[source_of[m.id]].frame for m in cfg.spec.models if m.id not in grid_ids}
    return FitRun(LazyResults(entries, cfg.config_hash), failures, summary, fitted=len(todo), cached=cached,
                  frames=frames)


def _located(exc: BaseException, cfg: AnalysisConfig, model: ModelSpec) -> BaseException:
    """A user error raised while fitting, pointed at the analysis file and the model's key path.

    Errors that already name a file (a user's dataset) keep it; a shipped dataset's name is kept in
    the message.
    """
    if not isinstance(exc, UserInputError):
        return exc
    if exc.source is not None and Path(exc.source).is_file():
        return exc
    index = next(i for i, m in enumerate(cfg.spec.models) if m.id == model.id)
    exc.message = exc.message.removeprefix(f"model {model.id!r}: ")  # the key path names the model
    if exc.source is not None:
        exc.message = f"dataset {exc.source!r}: {exc.message}"
    exc.source = str(cfg.path)
    exc.where = exc.where if exc.where and exc.where.startswith("models[") else f"models[{index}] (id {model.id!r})"
    exc.args = (exc._compose(),)
    return exc


def _codebook_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for unit in UNITS:
        try:
            book = codebook(unit)
        except Exception:  # a missing codebook only costs labels
            continue
        labels.update(dict(zip(book["name"], book["label"])))
    return labels


def run(path: str | Path, out: str | Path | None = None, check: bool = False, *, executor: Any = None,
        jobs: int | None = None, scheduler: str | None = None, cache: bool = True,
        cache_dir: str | Path | None = None, progress: bool = False) -> RunSummary:
    """Run an analysis file end to end and write ``reports/<id>/`` (or ``out``).

    With ``check=True`` nothing is written: the report is rendered into a temporary folder and
    compared with the existing one; ``RunSummary.differences`` lists the files that differ.

    Parameters
    ----------
    executor
        'serial', 'process' (default: a local process pool) or 'dask', or an
        :class:`~c2stats.executors.Executor`. Results are identical whichever runs the fits.
    jobs
        Worker processes of the process pool or local Dask cluster (default: the usable cores).
    scheduler
        Address of a Dask scheduler (implies ``executor='dask'``).
    cache, cache_dir
        Read and store fits in ``cache_dir`` (default ``$C2STATS_CACHE_DIR`` or ``.c2stats-cache``);
        ``cache=False`` fits everything. ``check`` reads the cache but does not write it.
    progress
        Show a progress bar (fits done, failures, time left) on standard error.
    """

    cfg = load_analysis(path)
    out_dir = Path(out) if out is not None else Path("reports") / cfg.id
    if not check:
        check_replaceable(out_dir)  # refuse a folder c2stats did not write before fitting anything
    runner = executor if isinstance(executor, Executor) else executors.make_executor(executor, jobs=jobs,
                                                                                               scheduler=scheduler)
    store = FitCache(cache_dir, write=not check) if cache else None
    fits = _fit_all(cfg, executor=runner, cache=store, progress=progress)
    results = fits.results
    grid_ids = set(grid_model_ids(cfg))
    shown = {mid: results[mid] for mid in results if mid not in grid_ids}  # grid specs: in the grid's outputs
    labels = _codebook_labels()
    artefacts, replication_failures = _study_artefacts(cfg, shown, fits.frames, labels, executor=runner)
    formats = appendix_formats(cfg)
    for table_id, model in appendix_tables(cfg, results, labels).items():
        artefacts.append(Artefact("table", table_id, model.title, "Robustness", tuple(formats[table_id]), table=model))
    grid = grid_outputs(cfg, results, {k: str(v) for k, v in fits.failures.items()})
    if grid is not None:
        gid = grid.grid.id
        artefacts.append(Artefact("figure", gid, grid.grid.title or f"Specification curve of {grid.grid.focal}",
                                  "Robustness", ("png", "pdf"), figure=grid.figure,
                                  caption=f"{len(grid.specifications)} specifications of the [grid] on model "
                                          f"{grid.grid.base!r}; the indicator panel marks each one's choices."))
        for table_id, model in grid.tables.items():
            artefacts.append(Artefact("table", table_id, model.title, "Robustness", tuple(grid.formats), table=model))
        artefacts.append(Artefact("table", f"{gid}_specifications", f"{grid.grid.title or gid}: every specification",
                                  "Robustness", ("csv",), table=_specifications_table(grid)))
    render = dict(cfg=cfg, results=shown, artefacts=artefacts, datasets=fits.datasets,
                  versions=library_versions(), summary={"replication_failures": replication_failures})
    stats = {"fitted": fits.fitted, "cached": fits.cached, "failed": len(fits.failures)}
    if check:
        scratch = Path(tempfile.mkdtemp(prefix="c2stats-check-"))
        try:
            files = write_report_files(scratch, **render)
            differences = compare_folders(out_dir, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return RunSummary(cfg.id, out_dir, results, tuple(files), tuple(differences), checked=True, stats=stats,
                          replication_failures=tuple(replication_failures))
    recover(out_dir)
    with staging(out_dir) as tmp:
        files = write_report_files(tmp, **render)
        publish(tmp, out_dir)
    return RunSummary(cfg.id, out_dir, results, tuple(files), stats=stats,
                      replication_failures=tuple(replication_failures))


def _study_artefacts(cfg: AnalysisConfig, results: dict[str, Result], frames: Mapping[str, pd.DataFrame],
                     labels: dict[str, str], executor: Executor | None = None) -> tuple[list, list[str]]:
    """Tables, hypothesis verdicts, figures, diagnostics, replications and simulations, in report order."""

    artefacts: list = []
    for spec in cfg.spec.tables:
        if spec.kind != "regression":
            artefacts.append(_descriptive_table(cfg, spec))
            continue
        members = [results[m] for m in spec.models]
        model = regression_table(members, spec, labels)
        artefacts.append(Artefact("table", spec.id, model.title, "Tables", tuple(spec.formats), table=model))
    if cfg.spec.hypotheses:

        try:
            verdicts = evaluate_hypotheses(cfg.spec.hypotheses, results)
        except UserInputError as exc:
            exc.source = str(cfg.path)
            exc.args = (exc._compose(),)
            raise
        frame, notes = verdict_display(verdicts)
        table = frame_table(frame, "Hypotheses: verdicts", notes, table_id="hypotheses")
        formats = sorted({f for t in cfg.spec.tables for f in t.formats} | {"md", "csv"}, key=TABLE_FORMATS.index)
        artefacts.append(Artefact("table", "hypotheses", "Verdicts of the declared hypotheses", "Hypotheses",
                                  tuple(formats), table=table,
                                  caption="One row per hypothesis and model (and moderator value); estimates on "
                                          "the model's scale; p-values adjusted within each declared family."))
    if cfg.spec.figures:
        for spec in cfg.spec.figures:
            figure = build_figure(spec, results, {m: frames[m] for m in spec.models if m in frames},
                                  codebook_labels=labels)
            artefacts.append(Artefact("figure", spec.id, spec.title or spec.id, "Figures", tuple(spec.formats),
                                      figure=figure))
    summary = diagnostics_summary(results)
    if len(summary):
        artefacts.append(Artefact("table", "diagnostics", "Diagnostics by model", "Diagnostics", ("md", "csv"),
                                  table=frame_table(summary, "Diagnostics by model", table_id="diagnostics"),
                                  caption="Proportional hazards (cox.zph), separation, collinearity (VIF) and "
                                          "convergence, run for the families they concern."))
    failures: list[str] = []
    if cfg.spec.replications:
        for spec in cfg.spec.replications:
            frame = replication.compare(spec, results[spec.model])
            failures += replication.failures({spec.id: frame})
            table = frame_table(replication.display_frame(spec, frame), f"Replication: {spec.source}",
                                replication.notes(spec),
                                table_id=spec.id)
            artefacts.append(Artefact("table", spec.id, f"Replication of {spec.source}", "Replications",
                                      tuple(spec.formats), table=table))
    formats = sorted({f for t in cfg.spec.tables for f in t.formats} | {"md", "csv"}, key=TABLE_FORMATS.index)
    for i, spec in enumerate(cfg.spec.simulations):
        try:
            sim = run_simulation(spec, i, cfg.model(spec.model), results, frames, cfg.spec.hypotheses, executor)
        except UserInputError as exc:
            exc.source = str(cfg.path)
            exc.args = (exc._compose(),)
            raise
        title = spec.title or f"Simulated power of {sim.test} in model {spec.model!r}"
        artefacts.append(Artefact("table", spec.id, title, "Simulations", tuple(formats),
                                  table=simulation_table(sim.summary, title, sim.notes, table_id=spec.id)))
        artefacts.append(Artefact("figure", f"{spec.id}_power", f"{title}: power curve", "Simulations", ("png",),
                                  figure=power_curve_figure(sim.summary, alpha=spec.alpha, title=spec.title),
                                  caption=f"Simulated power ({spec.reps} replicates per setting, 95% Monte Carlo "
                                          "intervals) and analytic power where it exists; dotted: alpha."))
    return artefacts, failures


def _descriptive_table(cfg: AnalysisConfig, spec):
    """A ``kind = "summary"`` or ``"crosstab"`` table: its dataset, restricted to its sample, described."""
    dataset = load_dataset(spec.dataset or cfg.spec.analysis.dataset, cfg.path.parent)
    frame = dataset.frame
    notes = [f"Data: {dataset.name}" + (f", rows where {spec.sample}." if spec.sample else ".")]
    if spec.sample:
        try:
            frame = frame[evaluate_restriction(parse_restriction(spec.sample), frame)]
        except UserInputError as exc:
            raise ConfigError(f"table {spec.id!r}: {exc.message}", source=str(cfg.path), where=f"tables ({spec.id}).sample") from None
    title = spec.title or ("Summary statistics" if spec.kind == "summary" else f"Counts of {spec.rows}")
    if spec.kind == "summary":
        model = describe.summary_table(frame, spec.variables, spec.by, title=title, notes=[*notes, *spec.notes],
                                       digits=spec.digits, table_id=spec.id, labels=spec.labels)
    else:
        model = describe.crosstab_table(frame, spec.rows, spec.columns, spec.missing, title=title,
                                        notes=[*notes, *spec.notes], table_id=spec.id, labels=spec.labels)
    return Artefact("table", spec.id, model.title, "Tables", tuple(spec.formats), table=model)


def _specifications_table(grid):
    """Every specification of the grid as a table (written as CSV): choices, estimate, status, spec hash."""

    frame = grid.specifications.copy()
    frame["spec_hash"] = frame["spec_hash"].fillna("")
    frame["error"] = frame["error"].fillna("")
    return frame_table(frame, f"{grid.grid.id}: specifications", digits=6, table_id=f"{grid.grid.id}_specifications")
