"""The robustness appendix: a table per base model with its ``[[robustness]]`` overlays, and the
``[grid]``'s specification curve, summary and axis-influence tables.

Composition of overlays and grids into models is :mod:`c2stats.overlays` (below the config
loader); this module renders fitted Results only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from . import speccurve
from .cache import LazyResults
from .overlays import (  # noqa: F401  (re-exported: the composition API lives in overlays)
    MAX_SPECIFICATIONS,
    OverlayError,
    Step,
    compose,
    describe_difference,
    edit_formula,
    grid_design,
    overlay_step,
    render_formula,
    vcov_label,
)
from .spec import GridSpec, RobustnessSpec  # noqa: F401
from .tables import TableModel, TableRow, TableSpec, build_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .results import Result


def overlay_model_ids(cfg) -> list[str]:
    """Ids of the models created by ``[[robustness]]`` overlays."""
    return [o.id for o in cfg.spec.robustness]


def grid_model_ids(cfg) -> list[str]:
    """Ids of the grid's specification models (empty without a grid)."""
    if cfg.spec.grid is None:
        return []
    return grid_design(cfg.spec.grid, cfg.spec.robustness).ids


def appendix_tables(cfg, results: dict[str, "Result"], codebook: dict[str, str] | None = None) -> dict[str, "TableModel"]:
    """One table per base model (or declared ``table``): the base and its overlays side by side.

    Formatting (exponentiate, statistic, stars, digits, terms, labels, gof, formats) follows the
    first ``[[tables]]`` entry that shows the base model; each table ends with a ``Spec hash`` row
    (the first 12 hex digits of each column's ``meta['spec_hash']``). Overlays whose fit failed
    are left out with a note. Returns ``{table_id: TableModel}``; :func:`appendix_formats` gives
    each table's formats.
    """
    groups: dict[str, tuple[str, list[str]]] = {}
    for overlay in cfg.spec.robustness:
        if not overlay.appendix:
            continue
        table_id = overlay.table or f"robustness_{overlay.base}"
        groups.setdefault(table_id, (overlay.base, []))[1].append(overlay.id)
    out = {}
    for table_id, (base_id, members) in groups.items():
        template = next((t for t in cfg.spec.tables if base_id in t.models), None)
        ids = [base_id, *members]
        shown = [m for m in ids if m in results]
        missing = [m for m in ids if m not in results]
        keep = ("exponentiate", "statistic", "stars", "digits", "terms", "labels", "gof", "formats", "fit",
                "label_width", "fmt", "numbers", "drop", "vcov_detail")
        settings = {k: getattr(template, k) for k in keep} if template is not None else {}
        base_label = cfg.model(base_id).label or base_id
        notes = [f"Column 1 is the base model {base_id!r}; the others change it as their headings say."]
        if missing:
            notes.append(f"Not shown (the fit failed): {', '.join(missing)}.")
        spec = TableSpec(id=table_id, models=shown or [base_id], title=f"Robustness of {base_label}", notes=notes,
                         **settings)
        model = build_table([results[m] for m in shown], spec, codebook)
        hashes = TableRow("gof", "Spec hash", tuple(str(results[m].meta.get("spec_hash", ""))[:12] for m in shown),
                          "spec_hash")
        out[table_id] = dataclasses.replace(model, rows=(*model.rows, hashes))
    return out


def appendix_formats(cfg) -> dict[str, list[str]]:
    """Formats of each appendix table (those of the ``[[tables]]`` entry showing its base)."""
    out: dict[str, list[str]] = {}
    for overlay in cfg.spec.robustness:
        if not overlay.appendix:
            continue
        table_id = overlay.table or f"robustness_{overlay.base}"
        template = next((t for t in cfg.spec.tables if overlay.base in t.models), None)
        out.setdefault(table_id, list(template.formats) if template is not None else ["md", "tex"])
    return out


@dataclass(frozen=True)
class GridOutputs:
    """Everything the report shows for a grid.

    Attributes
    ----------
    specifications
        One row per specification: ``spec``, one column per axis, ``family``, ``scale``,
        ``estimate``, ``std_error``, ``conf_low``, ``conf_high``, ``p_value``, ``nobs``, ``status``
        (ok / failed / no focal term), ``error`` and ``spec_hash``.
    summary, influence, choices
        See :func:`c2stats.speccurve.summarise` and :func:`c2stats.speccurve.axis_influence`.
    figure
        The specification curve (:func:`c2stats.speccurve.plot_specification_curve`).
    tables
        ``{table_id: TableModel}`` of the summary, influence and choices (formats: ``formats``).
    """

    grid: GridSpec
    specifications: pd.DataFrame
    summary: pd.DataFrame
    influence: pd.DataFrame
    choices: pd.DataFrame
    figure: "Figure"
    tables: dict[str, "TableModel"] = field(default_factory=dict)

    @property
    def formats(self) -> list[str]:
        return list(self.grid.formats)


def grid_outputs(cfg, results: dict[str, "Result"], failures: dict[str, str] | None = None) -> GridOutputs | None:
    """Specification table, summary, axis influence, figure and tables of the analysis' grid.

    ``results`` maps model ids to fitted Results (grid specifications that failed are absent) and
    ``failures`` maps failed ids to their error messages. Returns None without a ``[grid]``.
    """
    grid = cfg.spec.grid
    if grid is None:
        return None
    design = grid_design(grid, cfg.spec.robustness)
    lookup = results.views() if isinstance(results, LazyResults) else results  # no need to build a Result each
    specs = speccurve.specification_frame(design.frame(), lookup, failures or {}, focal=grid.focal)
    summary = speccurve.summarise(specs, expected_sign=grid.expected_sign, alpha=grid.alpha,
                                  exponentiate=grid.exponentiate)
    axes = {name: [c.label for c in choices] for name, choices in design.axes.items()}
    influence, choices = speccurve.axis_influence(specs, axes, expected_sign=grid.expected_sign, alpha=grid.alpha)
    figure = speccurve.plot_specification_curve(specs, axes, focal=grid.focal, alpha=grid.alpha,
                                                expected_sign=grid.expected_sign, exponentiate=grid.exponentiate,
                                                title=grid.title)
    tables = speccurve.grid_tables(grid.id, grid.title or f"Specification curve of {grid.focal}", summary, influence,
                                   choices, alpha=grid.alpha, exponentiate=grid.exponentiate)
    return GridOutputs(grid, specs, summary, influence, choices, figure, tables)
