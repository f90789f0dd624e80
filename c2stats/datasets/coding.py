"""The C2 coding file: which source variables score which command-and-control items.

A coding file (TOML, see ``codings/default.toml``) declares

* ``[[items]]``: one table per item with ``name``, ``label``, ``form`` (``formal``,
  ``informal`` or ``both``), ``variable`` (a column of the pre-coding arrangement frame),
  ``dimension``, ``level``, ``weight``, ``rule`` and either ``scores`` (code -> score in
  [0, 1]) or ``threshold`` (1 if the value is at least this, else 0). ``when`` restricts
  an item to rows where other columns take listed values (score 0 otherwise);
* ``[options]``: ``atop_provisions`` (``formation`` or ``ever``), ``dcad_unknown_status``
  (``data_end``, ``kinne_censor`` or ``kinne_event``) and ``behaviour_window`` (years);
* ``[end_reasons]``: ``atop_termmode`` (code -> reason), ``censoring`` (reasons that are
  not events) and ``priority`` (which reason wins when both members exit together);
* ``extends`` (a shipped coding name or path) with optional ``drop_items`` (item names): start
  from that coding's items, options and end reasons, drop the listed items, append this file's
  items and overlay its options.

Item scores are missing when the item does not apply to the arrangement's form or the
source value is missing; indices average the non-missing items (weighted).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from c2stats.errors import ConfigError

CODINGS_DIR = Path(__file__).parent / "codings"

DIMENSIONS: tuple[str, ...] = (
    "decision_rights",
    "interaction_patterns",
    "information_distribution",
    "technology_leverage",
)
LEVELS: tuple[str, ...] = ("political_strategic", "operational")
LEVEL_ABBREV = {"political_strategic": "ps", "operational": "op"}
FORMS: tuple[str, ...] = ("formal", "informal", "both")

ITEM_KEYS = {"name", "label", "form", "variable", "dimension", "level", "weight", "rule",
             "scores", "threshold", "when"}
OPTION_DEFAULTS = {
    "atop_provisions": "formation",
    "dcad_unknown_status": "data_end",
    "behaviour_window": 5,
}
OPTION_CHOICES = {
    "atop_provisions": ("formation", "ever"),
    "dcad_unknown_status": ("data_end", "kinne_censor", "kinne_event"),
}


@dataclass(frozen=True)
class Item:
    """One C2 item: a scored source variable assigned to a dimension and a level."""

    name: str
    label: str
    form: Literal["formal", "informal", "both"]
    variable: str
    dimension: str
    level: str
    rule: str
    weight: float = 1.0
    scores: dict[float, float] | None = None
    threshold: float | None = None
    when: dict[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Coding:
    """A parsed coding file."""

    name: str
    description: str
    items: tuple[Item, ...]
    options: dict
    end_reasons: dict
    path: str
    sha256: str


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(message, source=str(path), where=where)


def resolve_coding_path(coding: str | Path | None) -> Path:
    """Map ``None`` to the default file and a bare name (``"provisions_only"``) to a shipped one."""
    if coding is None:
        return CODINGS_DIR / "default.toml"
    path = Path(coding)
    if path.suffix != ".toml" and not path.exists():
        shipped = CODINGS_DIR / f"{coding}.toml"
        if shipped.exists():
            return shipped
        names = sorted(p.stem for p in CODINGS_DIR.glob("*.toml"))
        raise ConfigError(
            f"unknown coding {coding!r}; shipped codings are {names}, or give a path to a .toml file",
            where="coding",
        )
    if not path.exists():
        raise ConfigError(f"coding file {path} does not exist", where="coding")
    return path


TOP_KEYS = {"name", "description", "items", "options", "end_reasons", "extends", "drop_items"}


def _extend(path: Path, raw: dict) -> dict:
    """Merge a coding that ``extends`` another: the base's items minus ``drop_items``, then this
    file's items; options and end_reasons overlay the base's key by key."""
    base_path = resolve_coding_path(raw["extends"])
    if base_path.resolve() == path.resolve():
        raise _fail(path, "extends", "a coding cannot extend itself")
    base = tomllib.loads(base_path.read_text(encoding="utf-8"))
    if "extends" in base:
        raise _fail(path, "extends", f"{raw['extends']!r} itself extends another coding; extend its base instead")
    names = [it["name"] for it in base.get("items", [])]
    drop = list(raw.get("drop_items", []))
    missing = [n for n in drop if n not in names]
    if missing:
        raise _fail(path, "drop_items", f"items {missing} are not in {raw['extends']!r}; its items are {names}")
    merged = {k: v for k, v in base.items() if k not in ("items", "options", "end_reasons")}
    merged.update({k: raw[k] for k in ("name", "description") if k in raw})
    merged["items"] = [it for it in base.get("items", []) if it["name"] not in drop] + list(raw.get("items", []))
    merged["options"] = {**base.get("options", {}), **raw.get("options", {})}
    merged["end_reasons"] = {**base.get("end_reasons", {}), **raw.get("end_reasons", {})}
    return merged


def load_coding(coding: str | Path | None = None) -> Coding:
    """Read and validate a coding file (``None``: the shipped ``default.toml``)."""
    path = resolve_coding_path(coding)
    raw_bytes = path.read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, "file", f"not valid TOML: {exc}") from exc
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise _fail(path, "top level", f"unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}")
    if "extends" in raw:
        raw = _extend(path, raw)
    items = []
    seen: set[str] = set()
    for k, spec in enumerate(raw.get("items", [])):
        where = f"items[{k}]"
        bad = set(spec) - ITEM_KEYS
        if bad:
            raise _fail(path, where, f"unknown keys {sorted(bad)}; allowed: {sorted(ITEM_KEYS)}")
        for key in ("name", "label", "form", "variable", "dimension", "level", "rule"):
            if key not in spec:
                raise _fail(path, where, f"missing required key {key!r}")
        if spec["name"] in seen:
            raise _fail(path, where, f"duplicate item name {spec['name']!r}")
        seen.add(spec["name"])
        if spec["form"] not in FORMS:
            raise _fail(path, f"{where}.form", f"{spec['form']!r} is not one of {FORMS}")
        if spec["dimension"] not in DIMENSIONS:
            raise _fail(path, f"{where}.dimension", f"{spec['dimension']!r} is not one of {DIMENSIONS}")
        if spec["level"] not in LEVELS:
            raise _fail(path, f"{where}.level", f"{spec['level']!r} is not one of {LEVELS}")
        if ("scores" in spec) == ("threshold" in spec):
            raise _fail(path, where, "give exactly one of 'scores' (code -> score) or 'threshold'")
        scores = None
        if "scores" in spec:
            scores = {float(code): float(value) for code, value in spec["scores"].items()}
            if any(not 0.0 <= v <= 1.0 for v in scores.values()):
                raise _fail(path, f"{where}.scores", "scores must lie in [0, 1]")
        when = {col: tuple(float(v) for v in vals) for col, vals in spec.get("when", {}).items()}
        items.append(Item(
            name=spec["name"], label=spec["label"], form=spec["form"], variable=spec["variable"],
            dimension=spec["dimension"], level=spec["level"], rule=spec["rule"],
            weight=float(spec.get("weight", 1.0)), scores=scores,
            threshold=float(spec["threshold"]) if "threshold" in spec else None, when=when,
        ))
    if not items:
        raise _fail(path, "items", "a coding file needs at least one [[items]] table")
    options = dict(OPTION_DEFAULTS)
    for key, value in raw.get("options", {}).items():
        if key not in OPTION_DEFAULTS:
            raise _fail(path, f"options.{key}", f"unknown option; allowed: {sorted(OPTION_DEFAULTS)}")
        if key in OPTION_CHOICES and value not in OPTION_CHOICES[key]:
            raise _fail(path, f"options.{key}", f"{value!r} is not one of {OPTION_CHOICES[key]}")
        options[key] = value
    ends = raw.get("end_reasons", {})
    termmode = {int(k): str(v) for k, v in ends.get("atop_termmode", {}).items()}
    if set(termmode) != set(range(7)):
        raise _fail(path, "end_reasons.atop_termmode", "map every ATOP termmode code 0-6 to a reason")
    end_reasons = {
        "atop_termmode": termmode,
        "censoring": tuple(ends.get("censoring", ("in_effect",))),
        "priority": tuple(ends.get("priority", ())),
    }
    missing_priority = set(termmode.values()) - set(end_reasons["priority"])
    if missing_priority:
        raise _fail(path, "end_reasons.priority", f"reasons {sorted(missing_priority)} are not ranked")
    return Coding(
        name=str(raw.get("name", path.stem)), description=str(raw.get("description", "")),
        items=tuple(items), options=options, end_reasons=end_reasons, path=path.name,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def score_item(frame: pd.DataFrame, item: Item) -> pd.Series:
    """Score one item on every row of ``frame`` (missing where the item does not apply)."""
    if item.variable not in frame.columns:
        raise ConfigError(
            f"item {item.name!r} uses variable {item.variable!r}, which the build does not provide",
            where=f"items.{item.name}.variable",
        )
    values = pd.to_numeric(frame[item.variable], errors="coerce").astype("float64")
    if item.scores is not None:
        score = values.map(item.scores)
        unmapped = values.notna() & score.isna()
        if unmapped.any():
            codes = sorted(values[unmapped].unique().tolist())
            raise ConfigError(
                f"item {item.name!r}: codes {codes} of {item.variable!r} have no score; add them to 'scores'",
                where=f"items.{item.name}.scores",
            )
    else:
        score = (values >= item.threshold).astype("float64").where(values.notna())
    for col, allowed in item.when.items():
        cond = pd.to_numeric(frame[col], errors="coerce").isin(allowed)
        score = score.where(cond | score.isna(), 0.0)
    if item.form != "both":
        score = score.where(frame["form"] == item.form)
    return score.astype("float64")


def _weighted_mean(values: pd.DataFrame, weights: np.ndarray) -> pd.Series:
    mask = values.notna().to_numpy()
    filled = values.fillna(0.0).to_numpy()
    num = (filled * weights).sum(axis=1)
    den = (mask * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.Series(out, index=values.index)


def apply_coding(frame: pd.DataFrame, coding: Coding) -> pd.DataFrame:
    """Add item scores (``c2i_*``), cell, dimension, level and overall indices (``c2_*``)."""
    items = pd.DataFrame({f"c2i_{it.name}": score_item(frame, it) for it in coding.items},
                         index=frame.index)
    out = {}
    cells: dict[tuple[str, str], pd.Series] = {}
    for dim in DIMENSIONS:
        for level in LEVELS:
            members = [it for it in coding.items if it.dimension == dim and it.level == level]
            name = f"c2_{dim}_{LEVEL_ABBREV[level]}"
            if members:
                cells[dim, level] = _weighted_mean(
                    items[[f"c2i_{it.name}" for it in members]],
                    np.array([it.weight for it in members]),
                )
            else:
                cells[dim, level] = pd.Series(np.nan, index=frame.index)
            out[name] = cells[dim, level]
    for dim in DIMENSIONS:
        out[f"c2_{dim}"] = pd.concat([cells[dim, lv] for lv in LEVELS], axis=1).mean(axis=1)
    for level in LEVELS:
        out[f"c2_level_{LEVEL_ABBREV[level]}"] = pd.concat(
            [cells[d, level] for d in DIMENSIONS], axis=1).mean(axis=1)
    out["c2_index"] = pd.concat([out[f"c2_{d}"] for d in DIMENSIONS], axis=1).mean(axis=1)
    common = common_cells(coding)
    for level in LEVELS:
        at_level = [cells[c] for c in common if c[1] == level]
        out[f"c2_common_{LEVEL_ABBREV[level]}"] = (
            pd.concat(at_level, axis=1).mean(axis=1) if at_level else pd.Series(np.nan, index=frame.index))
    out["c2_common"] = (pd.concat([cells[c] for c in common], axis=1).mean(axis=1)
                        if common else pd.Series(np.nan, index=frame.index))
    for dim in DIMENSIONS:
        in_dim = [cells[c] for c in common if c[0] == dim]
        out[f"c2_common_{dim}"] = (pd.concat(in_dim, axis=1).mean(axis=1) if in_dim
                                   else pd.Series(np.nan, index=frame.index))
    return pd.concat([frame, items, pd.DataFrame(out, index=frame.index)], axis=1)


def common_cells(coding: Coding) -> list[tuple[str, str]]:
    """(dimension, level) cells that have an item for formal AND for informal arrangements.

    The sources do not measure the same things for both forms: DCAD records no information-sharing
    provision, and no operational decision-rights provision, so ``c2_index`` of an informal
    arrangement averages fewer cells than that of a formal one. Indices over the cells both forms
    can score (``c2_common*``) compare like with like; they are the ones to use when form and C2
    enter one model.
    """
    def forms(dim: str, level: str) -> set[str]:
        found: set[str] = set()
        for it in coding.items:
            if it.dimension == dim and it.level == level:
                found |= {"formal", "informal"} if it.form == "both" else {it.form}
        return found

    return [(d, lv) for d in DIMENSIONS for lv in LEVELS if forms(d, lv) >= {"formal", "informal"}]


def codebook_entries(coding: Coding) -> list[dict]:
    """Codebook rows for the C2 columns produced by ``coding``."""
    rows = []
    for it in coding.items:
        if it.scores is not None:
            how = "scores " + ", ".join(f"{k:g}->{v:g}" for k, v in sorted(it.scores.items()))
        else:
            how = f"1 if {it.variable} >= {it.threshold:g}, else 0"
        cond = "".join(f"; 0 unless {c} in {list(v)}" for c, v in it.when.items())
        rows.append({
            "name": f"c2i_{it.name}", "label": it.label, "type": "float", "unit": "score [0,1]",
            "source": it.variable,
            "rule": f"{it.rule} [{it.dimension}/{it.level}; {how}{cond}; "
                    f"missing unless form is {it.form} and {it.variable} is observed; coding {coding.name}]",
        })
    for dim in DIMENSIONS:
        for level in LEVELS:
            rows.append({
                "name": f"c2_{dim}_{LEVEL_ABBREV[level]}",
                "label": f"C2 {dim.replace('_', ' ')}, {level.replace('_', '-')} level",
                "type": "float", "unit": "index [0,1]", "source": f"coding {coding.name}",
                "rule": "weighted mean of the non-missing c2i_ items of this dimension and level",
            })
    for dim in DIMENSIONS:
        rows.append({
            "name": f"c2_{dim}", "label": f"C2 {dim.replace('_', ' ')} index",
            "type": "float", "unit": "index [0,1]", "source": f"coding {coding.name}",
            "rule": "mean of the non-missing level cells (ps, op) of this dimension",
        })
    for level in LEVELS:
        rows.append({
            "name": f"c2_level_{LEVEL_ABBREV[level]}",
            "label": f"C2 {level.replace('_', '-')} level index",
            "type": "float", "unit": "index [0,1]", "source": f"coding {coding.name}",
            "rule": "mean of the non-missing dimension cells at this level",
        })
    rows.append({
        "name": "c2_index", "label": "C2 overall index", "type": "float", "unit": "index [0,1]",
        "source": f"coding {coding.name}", "rule": "mean of the non-missing four dimension indices",
    })
    common = common_cells(coding)
    shown = lambda cells: ", ".join(f"{d}/{LEVEL_ABBREV[lv]}" for d, lv in cells) or "none"  # noqa: E731
    for level in LEVELS:
        at_level = [c for c in common if c[1] == level]
        rows.append({
            "name": f"c2_common_{LEVEL_ABBREV[level]}",
            "label": f"C2 {level.replace('_', '-')} level index (comparable across forms)",
            "type": "float", "unit": "index [0,1]", "source": f"coding {coding.name}",
            "rule": f"mean of the non-missing cells at this level that both forms can score ({shown(at_level)})",
        })
    rows.append({
        "name": "c2_common", "label": "C2 index (comparable across forms)", "type": "float", "unit": "index [0,1]",
        "source": f"coding {coding.name}",
        "rule": f"mean of the non-missing cells that both forms can score ({shown(common)})",
    })
    for dim in DIMENSIONS:
        in_dim = [c for c in common if c[0] == dim]
        rows.append({
            "name": f"c2_common_{dim}", "label": f"C2 {dim.replace('_', ' ')} (comparable across forms)",
            "type": "float", "unit": "index [0,1]", "source": f"coding {coding.name}",
            "rule": f"mean of the non-missing cells of this dimension that both forms can score ({shown(in_dim)}); "
                    "missing when the dimension has no such cell",
        })
    return rows
