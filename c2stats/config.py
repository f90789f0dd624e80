"""Analysis files: schema, loading, ``include`` overlays, ``extends`` inheritance and validation.

An analysis file is TOML (stdlib :mod:`tomllib`). Every key is declared once below, typed and
documented in its ``Field(description=...)``; ``tests/config/test_config_documented.py`` fails on an
undocumented key, and ``c2stats schema`` exports the JSON Schema built from these classes.

Validation happens once, here, before any data is loaded: unknown keys (with the closest valid
name suggested), wrong types, duplicate ids, ``extends``/``include`` cycles and missing targets,
unknown families, options and variance types, formulas and sample restrictions outside the safe
language, output ids that could escape the report folder. Every error names the file, the key
path and, where it can be found, the line.
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import limits
from .errors import ConfigError, FormulaError, SpecificationError
from .families import FAMILIES, get_family
from .formula import parse_formula
from .overlays import (
    _FIXED_KEYS,
    OverlayError,
    Step,
    compose,
    describe_difference,
    grid_design,
)
from .provenance import canonical_json, sha256
from .restrict import parse_restriction
from .spec import (  # noqa: F401
    _LIST_SECTIONS,
    _NESTED_MODELS,
    FIGURE_FORMATS,
    SECTION_MODELS,
    TABLE_FORMATS,
    UNITS,
    AnalysisFile,
    AnalysisSection,
    DatasetRef,
    FigureSpec,
    HypothesisSpec,
    ReplicationSpec,
    TableSpec,
    GridSpec,
    ModelSpec,
    RobustnessSpec,
    VcovSpec,
    _describe_pydantic_error,
    check_hypotheses,
    spec_hash,
    suggest,
)
from .vcov import check_vcov
from .spec.tables import CORE_GOF_KEYS

# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------


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
    for section in ("tables", "figures", "hypotheses", "replications", "simulations"):
        seen: dict[str, int] = {}
        for i, entry in enumerate(getattr(spec, section)):
            if entry.id in seen:
                raise _error(origins.get((section, i)), section, i, ("id",),
                             f"{section[:-1]} id {entry.id!r} is used twice; give each its own id.", {"id": entry.id}, fallback=root)
            seen[entry.id] = i
            if section in ("tables", "replications", "simulations") and entry.id in BUILTIN_OUTPUT_IDS:
                raise _error(origins.get((section, i)), section, i, ("id",),
                             f"{section[:-1]} id {entry.id!r} is the name of a built-in output (tables/{entry.id}.*); "
                             "choose another id.", {"id": entry.id}, fallback=root)
            for j, mid in enumerate(_referenced_models(entry)):
                if mid not in model_ids:
                    loc = ("models", j) if hasattr(entry, "models") else ("model",)
                    raise _error(origins.get((section, i)), section, i, loc,
                                 f"names model {mid!r}, which is not defined{suggest(mid, model_ids)}.",
                                 {"id": entry.id}, fallback=root)
    hypothesis_ids = [h.id for h in spec.hypotheses]
    taken = {t.id: "[[tables]]" for t in spec.tables} | {r.id: "[[replications]]" for r in spec.replications}
    figure_ids = {f.id for f in spec.figures}
    for i, sim in enumerate(spec.simulations):
        clash = taken.get(sim.id) or ("[[figures]]" if f"{sim.id}_power" in figure_ids else None)
        if clash:
            raise _error(origins.get(("simulations", i)), "simulations", i, ("id",),
                         f"id {sim.id!r} would overwrite the output of a {clash} entry (tables/{sim.id}, "
                         f"figures/{sim.id}_power); give the simulation its own id.", {"id": sim.id}, fallback=root)
        if sim.hypothesis is not None and sim.hypothesis not in hypothesis_ids:
            raise _error(origins.get(("simulations", i)), "simulations", i, ("hypothesis",),
                         f"names hypothesis {sim.hypothesis!r}, which is not a [[hypotheses]] id"
                         f"{suggest(sim.hypothesis, hypothesis_ids)}.", {"id": sim.id}, fallback=root)


def _check_tables(spec: AnalysisFile, origins: dict, root: Path) -> None:
    """Fit-statistic keys a table's models can report; a descriptive table's sample restriction."""
    families = {m.id: m.family for m in spec.models}
    for i, table in enumerate(spec.tables):
        def fail(loc: tuple, message: str) -> ConfigError:
            return _error(origins.get(("tables", i)), "tables", i, loc, message, {"id": table.id}, fallback=root)

        if table.sample is not None:
            try:
                parse_restriction(table.sample)
            except Exception as exc:  # the restriction parser's message names the problem
                raise fail(("sample",), f"sample {table.sample!r} is not a valid restriction: {exc}") from None
        if table.gof is None:
            continue
        allowed = list(CORE_GOF_KEYS)
        for mid in table.models:
            family = FAMILIES.get(families.get(mid))
            allowed += [k for k in getattr(family, "gof_keys", ()) if k not in allowed]
        for j, key in enumerate(table.gof):
            if key not in allowed:
                kinds = sorted({families.get(mid) for mid in table.models if families.get(mid)})
                raise fail(("gof", j), f"unknown fit statistic {key!r}{suggest(key, allowed)}; the fit statistics "
                                       f"a table offers are those its models' families ({', '.join(kinds)}) report.")


def _check_model(model: ModelSpec, i: int, origins: dict, root: Path) -> ModelSpec:
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
    if formula.absorb and not family.absorbs_fixed_effects:
        raise fail(("formula",), f"the {model.family} family does not absorb fixed effects ('| "
                   f"{' + '.join(formula.absorb)}'); add them as factors (C({formula.absorb[0]})) or use family = 'ols'.")
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
        for key in ("time", "event", "start", "event_value", "censor_value"):
            if getattr(model, key) is not None:
                raise fail((key,), f"{key!r} applies to survival families only; {model.family} takes its outcome from the formula.")
    try:
        options = family.Options.model_validate(model.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise fail(("options", *err["loc"]), _describe_pydantic_error(family.Options, err)) from None
    try:
        check_vcov(model.vcov, family)
    except ConfigError as exc:
        raise fail(("vcov",), exc.message) from None
    try:
        check_model_keys(model, family)
    except ConfigError as exc:
        raise fail((exc.where or "on_separation",), exc.message) from None
    try:
        family.check_spec(model)
    except (ConfigError, SpecificationError) as exc:
        raise fail((exc.where,) if exc.where else (), exc.message) from None
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
    sections["models"] += expand_models(sections, origins, root)
    spec = AnalysisFile.model_construct(**sections)
    _check_references(spec, origins, root)
    _check_tables(spec, origins, root)
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


def _base_body(model) -> dict:
    body = model.model_dump(mode="json")
    for key in _FIXED_KEYS:
        body.pop(key, None)
    return body


def expand_models(sections: dict, origins: dict, root) -> list:
    """Models generated by ``[[robustness]]`` overlays and the ``[grid]``, validated like ``[[models]]``.

    ``sections`` holds the validated sections of :func:`c2stats.config.load_analysis` (``models``
    already checked). Errors name the overlay or the grid specification and the key.
    """
    models = list(sections["models"])
    by_id = {m.id: m for m in models}
    default_dataset = sections["analysis"].dataset.model_dump(mode="json")
    overlays: list[RobustnessSpec] = list(sections.get("robustness", []))
    grid: GridSpec | None = sections.get("grid")
    out = []
    table_ids = {t.id for t in sections.get("tables", [])}
    figure_ids = {f.id for f in sections.get("figures", [])}

    def overlay_error(i: int, loc: tuple, message: str, entry_id: str | None) -> ConfigError:
        origin = origins.get(("robustness", i)) or _Origin(root, "robustness", i)
        return _error(origin, "robustness", i, loc, message, {"id": entry_id} if entry_id else None, fallback=root)

    def check(body: dict, spec_id: str, fail) -> Any:
        here = {("models", 0): _Origin(root, "models", None)}
        try:
            model = _validate_section(ModelSpec, body, "models", None, here[("models", 0)], root)
            return _check_model(model, 0, here, root)
        except ConfigError as exc:
            loc = re.search(r"\)((?:\.[A-Za-z_][\w]*|\[\d+\])*)(?: \(line \d+\))?$", exc.where or "")
            raise fail(f"the model it generates ({spec_id}) is invalid at {(loc.group(1) if loc else '').lstrip('.') or 'its spec'}: "
                       f"{exc.message}") from None

    for i, overlay in enumerate(overlays):
        if overlay.id in by_id:
            where = "a [[models]] entry" if any(m.id == overlay.id for m in sections["models"]) else "an earlier overlay"
            raise overlay_error(i, ("id",), f"id {overlay.id!r} is already used by {where}; give the overlay its own id.",
                                overlay.id)
        base = by_id.get(overlay.base)
        if base is None:
            later = any(o.id == overlay.base for o in overlays[i + 1:])
            hint = " (overlays can only build on models and earlier overlays)" if later else suggest(overlay.base, list(by_id))
            raise overlay_error(i, ("base",), f"base {overlay.base!r} is not a model id{hint}.", overlay.id)
        source = f"robustness[{i}] (id {overlay.id!r})"
        try:
            body = compose(_base_body(base), [Step.of(overlay, source)], default_dataset)
        except OverlayError as exc:
            raise overlay_error(i, exc.key, exc.message, overlay.id) from None
        resolved = {**_base_body(base), "dataset": _base_body(base).get("dataset") or default_dataset}
        label = overlay.label or describe_difference(
            resolved, {**body, "dataset": body.get("dataset") or default_dataset},
            tuple(overlay.set.get("options", {}) or ()))
        body = {"id": overlay.id, "label": label, **body}
        model = check(body, overlay.id, lambda m: overlay_error(i, (), m, overlay.id))
        by_id[overlay.id] = model
        out.append(model)
        table = overlay.table or f"robustness_{overlay.base}"
        if overlay.appendix and table in table_ids:
            raise overlay_error(i, ("table",), f"appendix table {table!r} has the id of a [[tables]] entry; set table = "
                                "\"<another id>\" on the overlay.", overlay.id)
    if grid is not None:
        def grid_error(loc: tuple, message: str) -> ConfigError:
            return _error(_Origin(root, "grid", None), "grid", None, loc, message, fallback=root)

        base = by_id.get(grid.base)
        if base is None:
            raise grid_error(("base",), f"base {grid.base!r} is not a model id{suggest(grid.base, list(by_id))}.")
        for suffix in ("_summary", "_influence", "_choices", "_specifications"):
            if grid.id + suffix in table_ids:
                raise grid_error(("id",), f"the grid's table {grid.id + suffix!r} has the id of a [[tables]] entry; "
                                 "set [grid] id = \"<another id>\".")
        if grid.id in figure_ids:
            raise grid_error(("id",), f"the grid's figure {grid.id!r} has the id of a [[figures]] entry; set [grid] id.")
        try:
            design = grid_design(grid, overlays)
        except OverlayError as exc:
            raise grid_error(exc.key, exc.message) from None
        base_body = _base_body(base)
        for n, (spec_id, combo) in enumerate(design.rows):
            choices = design.choices(n)
            steps = [design.axes[name][k].step for name, k in zip(design.axes, combo)]
            shown = ", ".join(f"{a}={c!r}" for a, c in choices.items())
            try:
                body = compose(base_body, steps, default_dataset)
            except OverlayError as exc:
                raise grid_error(("axes",), f"specification {spec_id} ({shown}): {exc.source} {exc.message}") from None
            if spec_id in by_id:
                raise grid_error(("id",), f"specification id {spec_id!r} is already a model id; set [grid] id.")
            body = {"id": spec_id, "label": "; ".join(f"{a}: {c}" for a, c in choices.items()), **body}
            out.append(check(body, spec_id, lambda m, shown=shown: grid_error(
                ("axes",), f"specification ({shown}): {m} Filter such combinations out with [grid] filter.")))
    return out


def check_model_keys(model, family) -> None:
    """Cross-field rules of the diagnostic keys of a ``[[models]]`` entry.

    Raises
    ------
    ConfigError
        ``where`` is the offending key: ``on_separation`` other than ``"error"`` for a family
        without a separation check, or ``"firth"`` for a family whose Firth refit is not a logit.
    """
    name = family.name
    choice = model.on_separation
    if choice == "error":
        return
    if not family.separation_check:
        checked = ", ".join(n for n, f in FAMILIES.items() if f.separation_check)
        raise ConfigError(
            f"on_separation = {choice!r} applies to binary and multinomial families ({checked}); the {name} family "
            "has no separation check. Remove the key.",
            where="on_separation",
        )
    if choice == "firth":
        if family.outcome == "multinomial":
            raise ConfigError(
                f"on_separation = 'firth' is not available for {name} (c2stats' Firth family is the binary logit); "
                "use 'warn' or 'error', or merge the separating categories.",
                where="on_separation",
            )
        link = family.link_of(model.options)
        if link != "logit":
            raise ConfigError(
                f"on_separation = 'firth' refits a Firth bias-reduced *logit*, but this model uses the {link} link; "
                "use family = 'logit' (or link = 'logit'), or on_separation = 'warn'.",
                where="on_separation",
            )
