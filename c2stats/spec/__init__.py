"""Every section of an analysis file, typed and documented where it is declared.

This package sits below the families, the loaders and the renderers: each section model
(``ModelSpec``, ``TableSpec``, ``FigureSpec``, ...) is plain data. :mod:`c2stats.config` reads,
merges and validates analysis files into :class:`AnalysisFile`; the stages read its sections.
``tests/config/test_config_documented.py`` fails on an undocumented key, and ``c2stats schema`` exports
the JSON Schema built from these classes.
"""

from __future__ import annotations


from pydantic import BaseModel, Field

from ._base import ID_PATTERN, Identifier, Strict, string_to_table, suggest
from .dataset import UNITS, WINDOW_LIMITS, DatasetField, DatasetRef
from .figures import FigureSpec
from .hypotheses import HypothesisSpec, check_hypotheses
from .model import ModelSpec, VcovField, VcovSpec, spec_hash
from .replication import ReplicationSpec
from .robustness import GridSpec, InlineOverlay, RobustnessSpec
from .simulations import MAX_REPS, SimulationSpec
from .tables import TableSpec

__all__ = [
    "FIGURE_FORMATS", "ID_PATTERN", "MAX_REPS", "SECTION_MODELS", "TABLE_FORMATS", "UNITS", "WINDOW_LIMITS", "AnalysisFile",
    "AnalysisSection", "DatasetField", "DatasetRef", "FigureSpec", "GridSpec", "HypothesisSpec", "Identifier",
    "InlineOverlay", "ModelSpec", "ReplicationSpec", "RobustnessSpec", "SimulationSpec", "Strict", "TableSpec", "VcovField", "VcovSpec",
    "check_hypotheses", "spec_hash", "string_to_table", "suggest",
]

_Strict = Strict


TABLE_FORMATS = ("md", "tex", "html", "csv", "docx")


FIGURE_FORMATS = ("png", "pdf", "svg")


class AnalysisSection(_Strict):
    """``[analysis]``: what the analysis is and its default dataset."""

    id: Identifier = Field(description="Analysis id; the report is written to reports/<id>/.")
    title: str = Field(description="Human-readable title shown at the top of the report.")
    dataset: DatasetField = Field(description="Default dataset of every model (a model may override it).")
    description: str = Field(default="", description="Free text shown under the title in the report.")


class AnalysisFile(_Strict):
    """A whole analysis file after ``include`` and ``extends`` are resolved."""

    include: list[str] = Field(default_factory=list, description="Files (relative paths) overlaid first, in order.")
    analysis: AnalysisSection = Field(description="The [analysis] section.")
    models: list[ModelSpec] = Field(default_factory=list, description="The [[models]] entries.")
    tables: list[TableSpec] = Field(default_factory=list, description="The [[tables]] entries.")
    figures: list[FigureSpec] = Field(default_factory=list, description="The [[figures]] entries.")
    hypotheses: list[HypothesisSpec] = Field(default_factory=list, description="The [[hypotheses]] entries.")
    robustness: list[RobustnessSpec] = Field(
        default_factory=list, description="The [[robustness]] overlays: a base model and the keys they change."
    )
    grid: GridSpec | None = Field(default=None, description="The [grid] of specifications (robustness multiverse).")
    replications: list[ReplicationSpec] = Field(
        default_factory=list, description="The [[replications]]: published numbers a model must reproduce."
    )
    simulations: list[SimulationSpec] = Field(
        default_factory=list, description="The [[simulations]]: power and recovery of a model by Monte Carlo simulation."
    )


SECTION_MODELS: dict[str, type[BaseModel]] = {
    "analysis": AnalysisSection,
    "models": ModelSpec,
    "tables": TableSpec,
    "figures": FigureSpec,
    "hypotheses": HypothesisSpec,
    "robustness": RobustnessSpec,
    "grid": GridSpec,
    "replications": ReplicationSpec,
    "simulations": SimulationSpec,
}


_LIST_SECTIONS = ("models", "tables", "figures", "hypotheses", "robustness", "replications", "simulations")


_NESTED_MODELS: dict[str, type[BaseModel]] = {"vcov": VcovSpec, "dataset": DatasetRef}


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic class that owns the last key of ``loc``."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        current = _NESTED_MODELS.get(part) if part in current.model_fields else None
    return current


def _describe_pydantic_error(model: type[BaseModel], err: dict) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        valid = list(owner.model_fields) if owner else []
        return f"unknown key {loc[-1]!r}{suggest(str(loc[-1]), valid)}."
    if kind == "missing":
        field = model.model_fields.get(str(loc[0])) if len(loc) == 1 else None
        doc = f" ({field.description})" if field and field.description else ""
        return f"required key {loc[-1]!r} is missing{doc}."
    if kind == "string_pattern_mismatch":
        value = err.get("input")
        hint = " Ids name report files, so '/' and '..' are not allowed." if isinstance(value, str) and (
            "/" in value or ".." in value or "\\" in value
        ) else ""
        return (f"{value!r} is not a valid id: use a letter then letters, digits, '_', '.' or '-'.{hint}")
    if kind == "string_too_long" and loc and loc[-1] == "id":
        value = err.get("input")
        hint = " Ids name report files, so '/' and '..' are not allowed." if isinstance(value, str) and (
            "/" in value or ".." in value or "\\" in value) else ""
        return (f"{value!r} is not a valid id: at most {err.get('ctx', {}).get('max_length', 64)} characters, "
                f"a letter then letters, digits, '_', '.' or '-'.{hint}")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{err.get('input')!r} is not allowed; expected one of {expected}."
    if kind == "value_error":  # our own validators: the message already says what and how
        return err["msg"].removeprefix("Value error, ") + "."
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a table"
    return f"{err['msg']} (got {shown})."
