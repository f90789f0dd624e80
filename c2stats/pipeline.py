"""The one path: analysis file -> datasets -> fits -> tables -> report.

Only this module knows the order of the stages; each stage passes dataclasses to the next.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .config import AnalysisConfig, ModelSpec, _check_model, canonical_json, load_analysis, spec_hash
from .data import Dataset, frame_hash, load_dataset
from .diagnostics import fit_with_remedies
from .errors import C2StatsWarning, ConfigError, UserInputError
from .families import get_family
from .families._base import library_versions, make_result, prepare
from .report import compare_folders, publish, recover, staging, write_report_files
from .results import Result
from .tables import build_table


@dataclass(frozen=True)
class RunSummary:
    """What a run produced (or, with ``check``, how the committed report differs)."""

    analysis_id: str
    out: Path
    results: Mapping[str, Result]
    files: tuple[str, ...]
    differences: tuple[str, ...] = ()
    checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.differences


def fit_model(model: ModelSpec, dataset: Dataset, *, config_hash: str | None = None) -> Result:
    """Fit one validated model spec on a loaded dataset."""
    family = get_family(model.family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = prepare(model, dataset.frame, family, source=dataset.name)
        estimate, family, _notes = fit_with_remedies(model, data, family)
    captured = [str(w.message) for w in caught if not issubclass(w.category, C2StatsWarning)
                and not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    for w in caught:  # re-emit so callers (and the CLI) see them
        if issubclass(w.category, C2StatsWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    return make_result(model, estimate, data, family, config_hash=config_hash, data_hash=dataset.data_hash,
                       spec_hash=spec_hash(model), captured=sorted(set(captured)))


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
    from .config import _Origin, _validate_section

    body = {"id": "model", **dict(spec)}
    if "extends" in body:
        raise ConfigError("'extends' only works inside an analysis file, where the parent model is defined.", where="spec")
    here = Path("<spec>")
    model = _validate_section(ModelSpec, body, "models", None, _Origin(here, "models", None), here)
    model = _check_model(model, 0, {("models", 0): _Origin(here, "models", None)}, here)
    dataset = Dataset(data, "<data frame>", frame_hash(data))
    return fit_model(model, dataset)


def _fit_all(cfg: AnalysisConfig) -> tuple[dict[str, Result], list[dict]]:
    datasets: dict[str, Dataset] = {}
    results: dict[str, Result] = {}
    base = cfg.path.resolve().parent
    for model in cfg.spec.models:
        ref = cfg.dataset_of(model)
        key = canonical_json(ref.model_dump(mode="json"))
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
        results[model.id] = fit_model(model, datasets[key], config_hash=cfg.config_hash)
    summary = [
        {"name": d.name, "sha256": d.data_hash, "rows": int(d.frame.shape[0]), "columns": int(d.frame.shape[1])}
        for d in sorted(datasets.values(), key=lambda d: d.name)
    ]
    return results, summary


def _codebook_labels() -> dict[str, str]:
    try:
        from .datasets import UNITS, codebook
    except ImportError:
        return {}
    labels: dict[str, str] = {}
    for unit in UNITS:
        try:
            book = codebook(unit)
        except Exception:  # a missing codebook only costs labels
            continue
        labels.update(dict(zip(book["name"], book["label"])))
    return labels


def run(path: str | Path, out: str | Path | None = None, check: bool = False) -> RunSummary:
    """Run an analysis file end to end and write ``reports/<id>/`` (or ``out``).

    With ``check=True`` nothing is written: the report is rendered into a temporary folder and
    compared with the existing one; ``RunSummary.differences`` lists the files that differ.
    """
    cfg = load_analysis(path)
    out_dir = Path(out) if out is not None else Path("reports") / cfg.id
    results, datasets = _fit_all(cfg)
    labels = _codebook_labels()
    tables = {}
    for spec in cfg.spec.tables:
        model = build_table([results[m] for m in spec.models], spec, labels)
        tables[spec.id] = (model, list(spec.formats))
    render = dict(cfg=cfg, results=results, tables=tables, datasets=datasets, versions=library_versions())
    if check:
        scratch = Path(tempfile.mkdtemp(prefix="c2stats-check-"))
        try:
            files = write_report_files(scratch, **render)
            differences = compare_folders(out_dir, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return RunSummary(cfg.id, out_dir, results, tuple(files), tuple(differences), checked=True)
    recover(out_dir)
    with staging(out_dir) as tmp:
        files = write_report_files(tmp, **render)
        publish(tmp, out_dir)
    return RunSummary(cfg.id, out_dir, results, tuple(files))
