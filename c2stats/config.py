"""Analysis files: schema, loading, ``include`` overlays, ``extends`` inheritance and validation.

An analysis file is TOML (stdlib :mod:`tomllib`). Every key is declared once below, typed and
documented in its ``Field(description=...)``; ``tests/test_config_documented.py`` fails on an
undocumented key, and ``c2stats schema`` exports the JSON Schema built from these classes.

Validation happens once, here, before any data is loaded: unknown keys (with the closest valid
name suggested), wrong types, duplicate ids, ``extends``/``include`` cycles and missing targets,
unknown families, options and variance types, formulas and sample restrictions outside the safe
language, output ids that could escape the report folder. Every error names the file, the key
path and, where it can be found, the line.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator

from ._spec import Identifier, Strict, suggest
from . import limits
from .errors import ConfigError, FormulaError
from .figures import FigureSpec
from .hypotheses import HypothesisSpec
from .replication import ReplicationSpec
from .robustness import GridSpec, RobustnessSpec
from .tables import TableSpec

UNITS = ("arrangements", "arrangement_years", "dyad_years")
TABLE_FORMATS = ("md", "tex", "html", "csv", "docx")
FIGURE_FORMATS = ("png", "pdf", "svg")
_Strict = Strict


def _string_to_table(key: str):
    def convert(value: Any) -> Any:
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(convert)


# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------
class DatasetRef(_Strict):
    """Where a model's data come from."""

    path: str = Field(
        description=(
            "A shipped dataset by name ('arrangements', 'arrangement_years', 'dyad_years', or an example "
            "such as 'lung'), or a file path relative to the analysis file (.csv, .dta, .parquet, .xlsx, "
            ".rds). A plain string is shorthand for {path = ...}."
        )
    )
    unit: Literal["arrangements", "arrangement_years", "dyad_years"] | None = Field(
        default=None,
        description=(
            "The unit a user-supplied file claims to be; it is then checked against that unit's codebook "
            "schema (columns, types, dates, ids, country codes)."
        ),
    )
    coding: str | None = Field(
        default=None,
        description=(
            "Shipped units only: the C2 coding the dataset is built with, a shipped coding by name "
            "('default', 'provisions_only') or a .toml file relative to the analysis file. The units are "
            "rebuilt from the vendored sources once and cached under .c2stats-cache/datasets/."
        ),
    )
    window: tuple[int, int] | None = Field(
        default=None,
        description=(
            "Shipped units only: first and last calendar year of arrangement_years and dyad_years "
            "(default [1980, 2010]; sources cover 1816-2014, DCAD's informal arrangements 1980-2010)."
        ),
    )
    directed: bool = Field(
        default=False,
        description="Shipped dyad_years only: both directions of every dyad (ccode1, ccode2) and (ccode2, ccode1).",
    )

    @model_validator(mode="after")
    def _variant_keys(self) -> "DatasetRef":
        variant = [k for k in ("coding", "window") if getattr(self, k) is not None] + (["directed"] if self.directed else [])
        if variant and self.path not in UNITS:
            raise ValueError(f"{', '.join(variant)} apply to the shipped units {list(UNITS)} only, not to {self.path!r}")
        if self.directed and self.path != "dyad_years":
            raise ValueError("directed applies to dyad_years only")
        if self.window is not None:
            from .datasets import WINDOW_LIMITS

            first, last = self.window
            low, high = WINDOW_LIMITS
            if not (low <= first <= last <= high):
                raise ValueError(f"window {list(self.window)} must be [first, last] with {low} <= first <= last <= {high}")
        return self


DatasetField = Annotated[DatasetRef, _string_to_table("path")]


class AnalysisSection(_Strict):
    """``[analysis]``: what the analysis is and its default dataset."""

    id: Identifier = Field(description="Analysis id; the report is written to reports/<id>/.")
    title: str = Field(description="Human-readable title shown at the top of the report.")
    dataset: DatasetField = Field(description="Default dataset of every model (a model may override it).")
    description: str = Field(default="", description="Free text shown under the title in the report.")


class VcovSpec(_Strict):
    """``vcov``: the variance estimator. A plain string is shorthand for ``{type = ...}``."""

    type: Literal["model", "robust", "HC0", "HC1", "cluster", "dyadic", "bootstrap"] = Field(
        description=(
            "model: inverse information; robust: the family's robust default (R's coxph robust, sandwich HC0); "
            "HC0/HC1: heteroskedasticity-consistent (sandwich conventions); cluster: one- or two-way cluster-robust "
            "(groups = one or two columns); dyadic: dyadic-robust (groups = the two state columns); bootstrap: "
            "seeded cluster bootstrap."
        )
    )
    groups: str | list[str] | None = Field(
        default=None, description="Cluster column(s): one or two for cluster; the two member columns for dyadic."
    )
    hc: Literal["HC0", "HC1", "sss"] | None = Field(
        default=None,
        description=(
            "Small-sample convention of cluster SEs where the family offers one: HC1 = sandwich vcovCL "
            "type='HC1' / Stata, HC0 = G/(G-1) only. panel follows plm's vcovHC: HC0 = no factor, "
            "HC1 = n/(n-k), sss = G/(G-1)(n-1)/(n-k) (Stata). Default is the family's (R's) default."
        ),
    )
    reps: int | None = Field(default=None, ge=2, le=limits.MAX_REPS, description="Bootstrap replications (bootstrap only).")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="Random seed for the bootstrap (bootstrap only).")


VcovField = Annotated[VcovSpec, _string_to_table("type")]


class ModelSpec(_Strict):
    """``[[models]]``: one model to fit."""

    id: Identifier = Field(description="Model id, used by tables, figures and hypotheses.")
    family: str | None = Field(default=None, description="Model family, e.g. 'cox', 'logit' (see c2stats.families).")
    formula: str | None = Field(
        default=None,
        description=(
            "Wilkinson formula: 'y ~ x1 + x2' (regression) or '~ x1 + x2' (survival: the outcome comes from "
            "time/event). Allowed: + - : * / ( ), C(), I() arithmetic, log, log1p, exp, sqrt, center, "
            "standardize, poly, bs."
        ),
    )
    dataset: DatasetField | None = Field(default=None, description="Dataset of this model; default [analysis].dataset.")
    time: str | None = Field(
        default=None, description="Survival: column of the follow-up time (the stop time when start is given)."
    )
    event: str | None = Field(default=None, description="Survival: event indicator column (1/True = event).")
    start: str | None = Field(
        default=None, description="Survival: entry time column for (start, stop] counting-process data."
    )
    event_value: int | float | str | None = Field(
        default=None,
        description=(
            "Competing risks: the value of the event column that counts as the event (cause-specific hazard); "
            "other non-zero values are censored."
        ),
    )
    weights: str | None = Field(default=None, description="Column of case weights.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Family options, e.g. {ties = 'breslow'} for cox; see each family."
    )
    vcov: VcovField = Field(default=VcovSpec(type="model"), description="Variance estimator, e.g. 'HC1' or {type='cluster', groups='dyad'}.")
    sample: str | None = Field(
        default=None,
        description="Sample restriction, e.g. 'year >= 1991 and form == \"informal\"' (comparisons, and/or/not, in).",
    )
    conf_level: float = Field(default=0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    label: str | None = Field(default=None, description="Column heading of the model in tables (default: its id).")
    labels: dict[str, str] = Field(default_factory=dict, description="Display names of terms, e.g. {age = 'Age (years)'}.")
    extends: str | None = Field(
        default=None, description="Id of a model to inherit from; keys given here override (options/labels merge key by key)."
    )
    description: str = Field(default="", description="Free text about the model, shown in the report.")
    on_separation: Literal["error", "warn", "firth"] = Field(
        default="error",
        description=(
            "Binary and multinomial families: what to do when the outcome is (quasi-)completely separated: "
            "'error' (stop), 'warn' (report the fit, marked), or 'firth' (refit with the Firth bias-reduced logit, marked)."
        ),
    )
    on_collinear: Literal["drop", "error"] = Field(
        default="drop",
        description=(
            "Perfectly collinear terms: 'drop' them with a note naming each (as R and Stata do), or 'error'."
        ),
    )


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


SECTION_MODELS: dict[str, type[BaseModel]] = {
    "analysis": AnalysisSection,
    "models": ModelSpec,
    "tables": TableSpec,
    "figures": FigureSpec,
    "hypotheses": HypothesisSpec,
    "robustness": RobustnessSpec,
    "grid": GridSpec,
    "replications": ReplicationSpec,
}
_LIST_SECTIONS = ("models", "tables", "figures", "hypotheses", "robustness", "replications")
_NESTED_MODELS: dict[str, type[BaseModel]] = {"vcov": VcovSpec, "dataset": DatasetRef}


# ----------------------------------------------------------------------------------------------
# The validated analysis
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisConfig:
    """A validated analysis: the resolved file plus where it came from."""

    spec: AnalysisFile
    path: Path
    files: tuple[Path, ...]  #: the analysis file and every included file
    config_hash: str

    @property
    def id(self) -> str:
        return self.spec.analysis.id

    def model(self, model_id: str) -> ModelSpec:
        return next(m for m in self.spec.models if m.id == model_id)

    def dataset_of(self, model: ModelSpec) -> DatasetRef:
        return model.dataset or self.spec.analysis.dataset


def canonical_json(obj: Any) -> str:
    """Stable JSON (sorted keys, no whitespace) used for every hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def sha256(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def spec_hash(model: ModelSpec | dict) -> str:
    """Hash of what determines a fit (not its id, label, description or inheritance)."""
    body = model.model_dump(mode="json") if isinstance(model, BaseModel) else dict(model)
    for key in ("id", "label", "labels", "extends", "description"):
        body.pop(key, None)
    return sha256(canonical_json(body))


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
@dataclass
class _Origin:
    file: Path
    section: str
    index: int | None  #: position within the file's own array of tables


def _read_toml(path: Path, included_from: Path | None = None) -> dict:
    where = f" (included from {included_from.name})" if included_from else ""
    if not path.exists():
        raise ConfigError(f"file not found{where}; check the path.", source=str(path))
    try:  # a FIFO or /dev/zero as an include would block or never end: refused before reading
        text = limits.read_limited(path, limits.MAX_TOML_BYTES, lambda m: ConfigError(m, source=str(path)),
                                   "TOML").decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text; save the analysis file as UTF-8.", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror}).", source=str(path)) from None
    try:
        data = tomllib.loads(text)
        if limits.toml_depth(data) > limits.MAX_TOML_DEPTH:
            raise RecursionError
        return data
    except RecursionError:
        raise ConfigError(f"values are nested too deeply (the limit is {limits.MAX_TOML_DEPTH} levels of tables "
                          "and arrays); flatten them.", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"is not valid TOML: {exc}. Check quotes, brackets and '=' on that line.", source=str(path)
        ) from None


def _load_with_includes(path: Path, stack: tuple[Path, ...] = ()) -> tuple[dict, dict, list[Path]]:
    """Merge ``include``d files (first) with this file (overlay). Returns data, origins, files."""
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(p.name for p in (*stack, path))
        raise ConfigError(f"include cycle: {chain}; remove one of these includes.", source=str(stack[-1]), where="include")
    raw = _read_toml(path, stack[-1] if stack else None)
    includes = raw.get("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError("must be a list of file paths, e.g. include = [\"main.toml\"].", source=str(path), where="include")
    merged: dict = {}
    origins: dict[tuple[str, int], _Origin] = {}
    files: list[Path] = []
    for inc in includes:
        target = (path.parent / inc)
        if not target.exists():
            raise ConfigError(
                f"included file {inc!r} not found (looked in {path.parent.name}/); paths are relative to the including file.",
                source=str(path),
                where="include",
            )
        data, sub_origins, sub_files = _load_with_includes(target, (*stack, path))
        _merge_into(merged, origins, data, sub_origins)
        files.extend(sub_files)
    own_origins = {}
    for section in _LIST_SECTIONS:
        entries = raw.get(section, [])
        if isinstance(entries, list):
            for i in range(len(entries)):
                own_origins[(section, i)] = _Origin(path, section, i)
    own = {k: v for k, v in raw.items() if k != "include"}
    _merge_into(merged, origins, own, own_origins)
    files.append(path)
    return merged, origins, files


def _merge_into(merged: dict, origins: dict, data: dict, data_origins: dict) -> None:
    for key, value in data.items():
        if key in _LIST_SECTIONS and isinstance(value, list):
            offset = len(merged.setdefault(key, []))
            merged[key].extend(value)
            for i in range(len(value)):
                origins[(key, offset + i)] = data_origins.get((key, i))
        elif key in ("analysis", "grid") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value


def _find_line(path: Path, section: str, index: int | None, keys: list[str]) -> int | None:
    """Best-effort line number of ``keys`` within the ``index``-th ``[[section]]`` of ``path``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    header = re.compile(rf"^\s*\[\[\s*{re.escape(section)}\s*\]\]") if index is not None else re.compile(
        rf"^\s*\[\s*{re.escape(section)}\s*\]"
    )
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    if index is not None:
        if index >= len(starts):
            return None
        begin = starts[index]
    else:
        if not starts:
            return None
        begin = starts[0]
    end = next((i for i in range(begin + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
    line_no = begin
    for key in keys:
        pattern = re.compile(rf"(^|[\s{{,]){re.escape(str(key))}\s*=")
        hit = next((i for i in range(line_no, end) if pattern.search(lines[i])), None)
        if hit is None:
            break
        line_no = hit
    return line_no + 1


def _key_path(section: str, index: int | None, loc: tuple, entry_id: str | None) -> str:
    path = section if index is None else f"{section}[{index}]"
    if entry_id:
        path += f" (id {entry_id!r})"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{_shown_key(part)}"
    return path


def _shown_key(key: Any) -> str:
    """A key as typed when it is a plain name, else quoted (so a newline cannot split the message)."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text) else repr(text)


def _error(origin: _Origin | None, section: str, index: int | None, loc: tuple, message: str, entry: dict | None = None,
           fallback: Path | None = None) -> ConfigError:
    file = origin.file if origin else fallback
    file_index = origin.index if origin else index
    entry_id = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else None
    where = _key_path(section, file_index, loc, entry_id)
    line = _find_line(file, section, file_index, [p for p in loc if isinstance(p, str)]) if file else None
    if line:
        where += f" (line {line})"
    return ConfigError(message, source=str(file) if file else None, where=where)


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


def _validate_section(model: type[BaseModel], data: Any, section: str, index: int | None, origin: _Origin | None,
                      root: Path) -> BaseModel:
    if not isinstance(data, dict):
        kind = "[[{0}]] entries".format(section) if index is not None else f"[{section}]"
        raise _error(origin, section, index, (), f"must be a table ({kind}), got {type(data).__name__}.", fallback=root)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # an unknown key first: a misspelt required key is also "missing", and the typo is the news
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        message = _describe_pydantic_error(model, first)
        if len(errors) > 1:
            message += f" ({len(errors) - 1} more problem(s) in this entry.)"
        raise _error(origin, section, index, tuple(first["loc"]), message, data, fallback=root) from None


# ----------------------------------------------------------------------------------------------
# extends
# ----------------------------------------------------------------------------------------------
_MERGED_KEYS = ("options", "labels")


def _resolve_extends(models: list[dict], origins: dict, root: Path) -> list[dict]:
    by_id: dict[str, int] = {}
    for i, m in enumerate(models):
        if isinstance(m, dict) and isinstance(m.get("id"), str):
            if m["id"] in by_id:
                first = origins.get(("models", by_id[m["id"]]))
                first_file = first.file.name if first else root.name
                raise _error(origins.get(("models", i)), "models", i, ("id",),
                             f"model id {m['id']!r} is used twice (first in {first_file}); give each model its own id.",
                             m, fallback=root)
            by_id[m["id"]] = i
    resolved: dict[str, dict] = {}

    def resolve(i: int, chain: tuple[str, ...]) -> dict:
        m = models[i]
        if not isinstance(m, dict):
            return m
        mid = m.get("id")
        if not isinstance(mid, str):  # validation reports the bad id with its key path
            return m
        if mid in resolved:
            return resolved[mid]
        parent_id = m.get("extends")
        if parent_id is None:
            out = m
        else:
            if not isinstance(parent_id, str) or parent_id not in by_id:
                raise _error(origins.get(("models", i)), "models", i, ("extends",),
                             f"extends {parent_id!r}, which is not a model id{suggest(str(parent_id), list(by_id))}.",
                             m, fallback=root)
            if parent_id in chain or parent_id == mid:
                cycle = " -> ".join((*chain, mid, parent_id))
                raise _error(origins.get(("models", i)), "models", i, ("extends",),
                             f"extends cycle: {cycle}; one model in the chain must not extend another.", m, fallback=root)
            parent = resolve(by_id[parent_id], (*chain, mid))
            out = copy.deepcopy({k: v for k, v in parent.items() if k not in ("id", "label", "description")})
            for key, value in m.items():
                if key in _MERGED_KEYS and isinstance(value, dict) and isinstance(out.get(key), dict):
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
        resolved[mid] = out
        return out

    return [resolve(i, ()) for i in range(len(models))]


# ----------------------------------------------------------------------------------------------
# Cross-field checks
# ----------------------------------------------------------------------------------------------
def _referenced_models(entry: BaseModel) -> list[str]:
    if hasattr(entry, "models"):
        return list(entry.models)
    return [entry.model] if hasattr(entry, "model") else []


#: Table files c2stats writes itself (c2stats.pipeline): a declared table of that id would be overwritten.
BUILTIN_OUTPUT_IDS = ("hypotheses", "diagnostics")


def _check_references(spec: AnalysisFile, origins: dict, root: Path) -> None:
    model_ids = [m.id for m in spec.models]
    for section in ("tables", "figures", "hypotheses", "replications"):
        seen: dict[str, int] = {}
        for i, entry in enumerate(getattr(spec, section)):
            if entry.id in seen:
                raise _error(origins.get((section, i)), section, i, ("id",),
                             f"{section[:-1]} id {entry.id!r} is used twice; give each its own id.", {"id": entry.id}, fallback=root)
            seen[entry.id] = i
            if section in ("tables", "replications") and entry.id in BUILTIN_OUTPUT_IDS:  # would overwrite it
                raise _error(origins.get((section, i)), section, i, ("id",),
                             f"{section[:-1]} id {entry.id!r} is the name of a built-in output (tables/{entry.id}.*); "
                             "choose another id.", {"id": entry.id}, fallback=root)
            for j, mid in enumerate(_referenced_models(entry)):
                if mid not in model_ids:
                    loc = ("models", j) if hasattr(entry, "models") else ("model",)
                    raise _error(origins.get((section, i)), section, i, loc,
                                 f"names model {mid!r}, which is not defined{suggest(mid, model_ids)}.",
                                 {"id": entry.id}, fallback=root)


def _check_model(model: ModelSpec, i: int, origins: dict, root: Path) -> ModelSpec:
    from .families import FAMILIES, get_family
    from .formula import parse_formula
    from .restrict import parse_restriction

    origin = origins.get(("models", i))
    entry = {"id": model.id}

    def fail(loc: tuple, message: str) -> ConfigError:
        return _error(origin, "models", i, loc, message, entry, fallback=root)

    if model.family is None:
        raise fail(("family",), f"required key 'family' is missing (one of: {', '.join(sorted(FAMILIES))}).")
    if model.family not in FAMILIES:
        raise fail(("family",), f"unknown family {model.family!r}{suggest(model.family, list(FAMILIES))}.")
    family = get_family(model.family)
    if model.formula is None:
        raise fail(("formula",), "required key 'formula' is missing, e.g. formula = \"y ~ x1 + x2\".")
    try:
        formula = parse_formula(model.formula)
    except FormulaError as exc:
        raise fail(("formula",), exc.message) from None
    if model.sample is not None:
        try:
            parse_restriction(model.sample)
        except FormulaError as exc:
            raise fail(("sample",), exc.message) from None
    if family.kind == "survival":
        if formula.response is not None:
            raise fail(("formula",), f"survival families take '~ x1 + x2'; give the outcome with time/event, not {formula.response.label!r} ~.")
        for key in ("time", "event"):
            if getattr(model, key) is None:
                raise fail((key,), f"the {model.family} family needs {key} = \"<column>\".")
    else:
        if formula.response is None:
            raise fail(("formula",), f"the {model.family} family needs a response: 'y ~ x1 + x2'.")
        for key in ("time", "event", "start", "event_value"):
            if getattr(model, key) is not None:
                raise fail((key,), f"{key!r} applies to survival families only; {model.family} takes its outcome from the formula.")
    try:
        options = family.Options.model_validate(model.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise fail(("options", *err["loc"]), _describe_pydantic_error(family.Options, err)) from None
    from .vcov import check_vcov

    try:
        check_vcov(model.vcov, family)
    except ConfigError as exc:
        raise fail(("vcov",), exc.message) from None
    from .diagnostics import check_model_keys

    try:
        check_model_keys(model, family)
    except ConfigError as exc:
        raise fail((exc.where or "on_separation",), exc.message) from None
    return model.model_copy(update={"options": options.model_dump(mode="json")})


def load_analysis(path: str | Path) -> AnalysisConfig:
    """Read, merge, resolve and validate an analysis file.

    Returns a frozen :class:`AnalysisConfig`; raises :class:`ConfigError` naming the file, key path
    (and line) and the fix for any problem.
    """
    root = Path(path)
    if root.is_dir():
        raise ConfigError("is a directory; give the analysis file (e.g. analyses/main.toml).", source=str(root))
    data, origins, files = _load_with_includes(root)
    for key in data:
        if key not in AnalysisFile.model_fields:
            raise ConfigError(
                f"unknown top-level key {key!r}{suggest(key, list(AnalysisFile.model_fields))}.",
                source=str(root), where=_shown_key(key),
            )
    if "analysis" not in data:
        raise ConfigError("has no [analysis] section (id, title, dataset), nor does any included file.", source=str(root))
    sections: dict[str, Any] = {"include": data.get("include", [])}
    sections["analysis"] = _validate_section(AnalysisSection, data["analysis"], "analysis", None,
                                             _Origin(root, "analysis", None), root)
    if data.get("grid") is not None:
        sections["grid"] = _validate_section(GridSpec, data["grid"], "grid", None, _Origin(root, "grid", None), root)
    for section in _LIST_SECTIONS:
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise ConfigError(f"must be an array of tables: write [[{section}]] headers.", source=str(root), where=section)
        if section == "models":
            entries = _resolve_extends(entries, origins, root)
        model = SECTION_MODELS[section]
        sections[section] = [
            _validate_section(model, e, section, i, origins.get((section, i)), root) for i, e in enumerate(entries)
        ]
    sections["models"] = [_check_model(m, i, origins, root) for i, m in enumerate(sections["models"])]
    from .robustness import expand_models  # [[robustness]] overlays and [grid] specifications become models

    sections["models"] += expand_models(sections, origins, root)
    spec = AnalysisFile.model_construct(**sections)
    _check_references(spec, origins, root)
    from .hypotheses import check_hypotheses

    try:
        check_hypotheses(spec.hypotheses)
    except ConfigError as exc:
        idx = next((i for i, h in enumerate(spec.hypotheses) if f"(id {h.id!r})" in (exc.where or "")), None)
        origin = origins.get(("hypotheses", idx)) if idx is not None else None
        raise ConfigError(exc.message, source=str(origin.file if origin else root), where=exc.where) from None
    body = spec.model_dump(mode="json")
    body.pop("include", None)
    return AnalysisConfig(spec=spec, path=root, files=tuple(files), config_hash=sha256(canonical_json(body)))


def json_schema() -> dict:
    """JSON Schema of analysis files, for editors (``c2stats schema``)."""
    schema = AnalysisFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "c2stats analysis file"
    return schema
