"""Robustness as config swaps: ``[[robustness]]`` overlays on a base model and a ``[grid]`` of
specifications (the multiverse), expanded into ordinary models before fitting.

An overlay names a base model and the keys it changes::

    [[robustness]]
    id = "rob_post1991"
    base = "cox_main"
    restrict = "start_year >= 1992"                      # and-ed with the base sample
    add = ["polyarchy_min"]                              # controls added to the formula
    drop = ["bilateral"]                                 # controls removed
    set = { vcov = { type = "cluster", groups = "ccode1" }, dataset = { coding = "provisions_only" } }

Each overlay becomes a model (its id is the overlay's id) validated like any ``[[models]]`` entry,
so the config hash covers it; its column in the appendix table ``robustness_<base>`` is labelled by
its difference from the base (``label`` overrides). A robustness file can ``include`` the main
analysis and only add overlays.

A grid declares axes, each a list of alternatives for one model key or a list of named overlays::

    [grid]
    base = "cox_main"
    focal = "c2_index"
    expected_sign = "negative"
    filter = "not (estimator == 'logit' and vcov == 'cluster (ccode1)')"

    [grid.axes]
    estimator = ["base", "weibull", "dt_cloglog"]        # [[robustness]] ids (or inline overlays)
    vcov = ["model", "robust", { type = "cluster", groups = "ccode1" }]
    restrict = ["", "post_cold_war == 1"]

The cartesian product (first axis slowest), less the combinations ``filter`` rejects, is the set
of specifications; each becomes a model ``<grid id>.<12 hex digits>`` (a hash of its choices, so
ids survive edits of other axes and cached fits stay valid). See :func:`grid_outputs` for the
specification curve, the summary and the influence of each axis.

Composition rules (the same for an overlay and for one grid specification, which composes one
change per axis): ``set`` replaces model keys, except ``options``, ``labels`` and ``dataset``,
which are merged key by key (a string ``dataset`` sets its path; a new path starts a fresh
reference); two changes that set the same key to different values are an error. A change of
``family`` drops the base's family options; a change between a survival and a regression family
drops ``time``/``event``/``start``/``event_value`` (regression) or the response (survival), and a
regression family needs ``response``. Then ``drop`` and ``add`` edit the formula's terms (the
formula is rendered back deterministically), and every ``restrict`` is and-ed to the sample.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import pandas as pd
from pydantic import ValidationError

from .errors import FormulaError
from .families import FAMILIES
from .formula import _quote_name, parse_formula
from .restrict import evaluate_restriction, parse_restriction
from .spec import (
    GridSpec,
    InlineOverlay,
    ModelSpec,
    RobustnessSpec,
    _describe_pydantic_error,
    suggest,
)
from .spec.robustness import _Change, _listify

MAX_SPECIFICATIONS = 100_000
_FIXED_KEYS = ("id", "extends", "label", "description")
_MERGED = ("options", "labels", "dataset")
_PSEUDO = ("restrict", "add", "drop", "response")
_SURVIVAL_KEYS = ("time", "event", "start", "event_value", "censor_value")


def _model_keys() -> list[str]:
    return [k for k in ModelSpec.model_fields if k not in _FIXED_KEYS]


# ----------------------------------------------------------------------------------------------
# Composition of changes
# ----------------------------------------------------------------------------------------------
class OverlayError(Exception):
    """A change cannot be applied; carries the change's description and the offending key."""

    def __init__(self, message: str, source: str, key: tuple = ()):
        super().__init__(message)
        self.message, self.source, self.key = message, source, key


@dataclass(frozen=True)
class Step:
    """One change, normalised: what an overlay or one grid choice does to a model."""

    source: str  #: where it was declared, for messages: "robustness[2] (id 'x')", "grid.axes.vcov[1]"
    set: tuple[tuple[str, Any], ...] = ()
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    restrict: str | None = None
    response: str | None = None

    @classmethod
    def of(cls, change: _Change, source: str) -> "Step":
        return cls(source, tuple(change.set.items()), tuple(change.add), tuple(change.drop), change.restrict or None,
                   change.response)


def overlay_step(overlay_id: str, overlays: dict[str, "RobustnessSpec"], source: str) -> Step:
    """The changes of overlay ``overlay_id`` and of the overlays it builds on, as one step.

    Used when a grid names an overlay: the overlay's model is its chain of changes (oldest first,
    later changes overriding earlier ones) applied to the grid's base.
    """
    chain: list[RobustnessSpec] = []
    current = overlays.get(overlay_id)
    while current is not None and current not in chain:
        chain.insert(0, current)
        current = overlays.get(current.base)
    merged: dict[str, Any] = {}
    add: list[str] = []
    drop: list[str] = []
    restricts: list[str] = []
    response = None
    for o in chain:
        for key, value in o.set.items():
            if key in _MERGED and isinstance(value, (dict, str)):
                value = {"path": value} if isinstance(value, str) else dict(value)
                prev = merged.get(key)
                fresh = key == "dataset" and prev is not None and "path" in value and prev.get("path") != value["path"]
                merged[key] = value if fresh or prev is None else {**prev, **value}
            else:
                merged[key] = value
        add += o.add
        drop += o.drop
        if o.restrict:
            restricts.append(o.restrict)
        if o.response is not None:
            response = o.response
    restrict = " and ".join(f"({r})" for r in restricts) if len(restricts) > 1 else (restricts[0] if restricts else None)
    return Step(source, tuple(merged.items()), tuple(add), tuple(drop), restrict, response)


def _family_kind(name: Any) -> str | None:

    family = FAMILIES.get(name) if isinstance(name, str) else None
    return getattr(family, "kind", None)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def compose(base: dict, steps: Sequence[Step], default_dataset: dict) -> dict:
    """Apply ``steps`` to ``base`` (a model dump without id/label/extends/description).

    Returns the new model body (a dict for :class:`~c2stats.config.ModelSpec`); raises
    :class:`OverlayError` naming the step and key for changes that cannot be applied.
    """
    allowed = _model_keys()
    body = dict(base)
    whole: dict[str, tuple[Any, str]] = {}
    parts: dict[str, dict[str, tuple[Any, str]]] = {k: {} for k in _MERGED}
    responses: dict[str, str] = {}
    restricts: list[tuple[str, str]] = []
    adds: list[tuple[str, str]] = []
    drops: list[tuple[str, str]] = []

    def conflict(key: str, old: tuple[Any, str], new: Any, source: str) -> None:
        if _canon(old[0]) != _canon(new):
            raise OverlayError(f"sets {key} = {_show(new)}, but {old[1]} sets it to {_show(old[0])}; two changes "
                               "combined in one model must not set the same key differently (filter the combination out).",
                               source, ("set", *key.split(".")))

    for step in steps:
        for key, value in step.set:
            if key in _FIXED_KEYS:
                raise OverlayError(f"cannot set {key!r}: an overlay's id and label are its own keys.", step.source, ("set", key))
            if key not in allowed:
                raise OverlayError(f"unknown model key {key!r}{suggest(key, allowed)}.", step.source, ("set", key))
            if key in _MERGED:
                if key == "dataset" and isinstance(value, str):
                    value = {"path": value}
                if not isinstance(value, dict):
                    raise OverlayError(f"{key} must be a table, e.g. {key} = {{...}} (got {_show(value)}).", step.source,
                                       ("set", key))
                for sub, sub_value in value.items():
                    if sub in parts[key]:
                        conflict(f"{key}.{sub}", parts[key][sub], sub_value, step.source)
                    parts[key][sub] = (sub_value, step.source)
                continue
            if key == "vcov" and isinstance(value, str):
                value = {"type": value}
            if key in whole:
                conflict(key, whole[key], value, step.source)
            whole[key] = (value, step.source)
        if step.response is not None:
            if "response" in responses and responses["response"] != step.response:
                raise OverlayError(f"sets response {step.response!r}, but another change sets {responses['response']!r}.",
                                   step.source, ("response",))
            responses["response"] = step.response
        if step.restrict:
            restricts.append((step.restrict, step.source))
        adds += [(t, step.source) for t in step.add]
        drops += [(t, step.source) for t in step.drop]

    old_family = body.get("family")
    new_family = whole["family"][0] if "family" in whole else old_family
    family_changed = new_family != old_family
    for key, (value, _) in whole.items():
        body[key] = value
    options = {} if family_changed else dict(body.get("options") or {})
    options.update({k: v for k, (v, _) in parts["options"].items()})
    body["options"] = options
    body["labels"] = {**(body.get("labels") or {}), **{k: v for k, (v, _) in parts["labels"].items()}}
    if parts["dataset"]:
        start = body.get("dataset") or default_dataset
        given = {k: v for k, (v, _) in parts["dataset"].items()}
        if "path" in given and given["path"] != start.get("path"):
            start = {}
        body["dataset"] = {**start, **given}

    old_kind, new_kind = _family_kind(old_family), _family_kind(new_family)
    response = responses.get("response")
    if family_changed and old_kind and new_kind and old_kind != new_kind:
        if new_kind == "regression":
            for key in _SURVIVAL_KEYS:
                if key not in whole:
                    body[key] = None
            if response is None and "formula" not in whole:
                source = whole["family"][1]
                raise OverlayError(
                    f"changes the family from {old_family} ({old_kind}) to {new_family} ({new_kind}), which takes its "
                    "outcome from the formula: add response = \"<outcome column>\" (or set a whole formula).",
                    source, ("response",))
        elif response is None and "formula" not in whole:
            response = ""
    formula = body.get("formula")
    if formula is not None and (response is not None or adds or drops):
        source = (adds or drops or [(None, steps[0].source if steps else "")])[0][1]
        try:
            formula = edit_formula(formula, response=response, add=tuple(t for t, _ in adds),
                                   drop=tuple(t for t, _ in drops))
        except FormulaError as exc:
            raise OverlayError(exc.message, source, ("add" if adds else "drop" if drops else "response",)) from None
        body["formula"] = formula
    if restricts:

        sample = body.get("sample")
        for text, source in restricts:
            try:
                parse_restriction(text)
            except FormulaError as exc:
                raise OverlayError(exc.message, source, ("restrict",)) from None
            sample = text if not sample else f"({sample}) and ({text})"
        body["sample"] = sample
    return body


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, (dict, list)) else json.dumps(value, sort_keys=True)


# ----------------------------------------------------------------------------------------------
# Formula editing
# ----------------------------------------------------------------------------------------------
def _factor_text(factor) -> str:

    return _quote_name(factor.label) if factor.func is None else factor.label


def _term_text(term) -> str:
    return ":".join(_factor_text(f) for f in term.factors)


def render_formula(response: str | None, terms: Sequence, intercept: bool) -> str:
    """Formula text from parsed parts: ``y ~ a + b + a:b`` (``- 1`` without an intercept)."""
    rhs = " + ".join(_term_text(t) for t in terms)
    if not intercept:
        rhs = f"{rhs} - 1" if rhs else "0"
    elif not rhs:
        rhs = "1"
    return f"{response} ~ {rhs}" if response else f"~ {rhs}"


@lru_cache(maxsize=4096)
def edit_formula(text: str, *, response: str | None = None, add: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> str:
    """Remove ``drop`` terms, append ``add`` terms and replace the response of formula ``text``.

    Terms are matched as parsed (``a:b`` equals ``b:a``); dropping a term the formula lacks is an
    error listing its terms. The result is rendered deterministically (R's term order: by degree).
    """

    parsed = parse_formula(text)
    terms = list(parsed.terms)
    keys = [frozenset(t.factors) for t in terms]
    for item in drop:
        for term in parse_formula(f"~ {item}").terms:
            key = frozenset(term.factors)
            if key not in keys:
                shown = ", ".join(_term_text(t) for t in terms) or "none"
                raise FormulaError(f"drop {item!r}: the formula {text!r} has no term {_term_text(term)!r} (its terms: {shown}).")
            i = keys.index(key)
            del terms[i], keys[i]
    for item in add:
        for term in parse_formula(f"~ {item}").terms:
            key = frozenset(term.factors)
            if key not in keys:
                terms.append(term)
                keys.append(key)
    terms.sort(key=lambda t: len(t.factors))  # stable: R's order by degree, then appearance
    if response is None:
        lhs = _factor_text(parsed.response) if parsed.response is not None else None
    elif response == "":
        lhs = None
    else:
        resp = parse_formula(f"{response} ~ 1").response
        lhs = _factor_text(resp)
    return render_formula(lhs, terms, parsed.intercept)


# ----------------------------------------------------------------------------------------------
# Describing a difference
# ----------------------------------------------------------------------------------------------
def vcov_label(vcov: dict | None) -> str:
    """``cluster (ccode1)``, ``robust``, ``bootstrap (999 reps)``."""
    if not vcov:
        return "model"
    text = str(vcov.get("type"))
    groups = vcov.get("groups")
    extra = []
    if groups:
        extra.append(groups if isinstance(groups, str) else ", ".join(groups))
    if vcov.get("hc"):
        extra.append(str(vcov["hc"]))
    if vcov.get("reps"):
        extra.append(f"{vcov['reps']} reps")
    return f"{text} ({'; '.join(extra)})" if extra else text


def _terms_of(text: str | None) -> tuple[str | None, list[str]]:

    if not text:
        return None, []
    try:
        parsed = parse_formula(text)
    except FormulaError:
        return None, [text]
    resp = _factor_text(parsed.response) if parsed.response is not None else None
    return resp, [_term_text(t) for t in parsed.terms]


def describe_difference(base: dict, model: dict, explicit_options: Sequence[str] = ()) -> str:
    """A short label of how ``model`` differs from ``base`` (both model dumps), for table columns."""
    parts: list[str] = []
    if model.get("family") != base.get("family"):
        parts.append(str(model.get("family")))
    b_data, m_data = base.get("dataset") or {}, model.get("dataset") or {}
    if _canon(b_data) != _canon(m_data) and m_data:
        if m_data.get("path") != (b_data.get("path") if b_data else None) and b_data:
            parts.append(f"data: {m_data.get('path')}")
        for key in ("coding", "window", "directed", "unit"):
            if m_data.get(key) != b_data.get(key) and m_data.get(key) not in (None, False):
                value = m_data[key]
                shown = f"{value[0]}–{value[1]}" if key == "window" else value
                parts.append(f"{key}: {shown}")
    if model.get("formula") != base.get("formula"):
        b_resp, b_terms = _terms_of(base.get("formula"))
        m_resp, m_terms = _terms_of(model.get("formula"))
        if m_resp != b_resp and m_resp:
            parts.append(f"outcome: {m_resp}")
        added = [t for t in m_terms if t not in b_terms]
        removed = [t for t in b_terms if t not in m_terms]
        parts += [f"+ {t}" for t in added] + [f"− {t}" for t in removed]
    for key in ("time", "event", "start", "event_value", "censor_value", "weights"):
        if model.get(key) != base.get(key) and model.get(key) is not None:
            parts.append(f"{key}: {model[key]}")
    b_opt, m_opt = base.get("options") or {}, model.get("options") or {}
    same_family = model.get("family") == base.get("family")
    for key in sorted(m_opt):
        if (same_family and m_opt[key] != b_opt.get(key)) or (not same_family and key in explicit_options):
            parts.append(f"{key}: {m_opt[key]}")
    if _canon(model.get("vcov")) != _canon(base.get("vcov")):
        parts.append(f"SE: {vcov_label(model.get('vcov'))}")
    b_sample, m_sample = base.get("sample"), model.get("sample")
    if m_sample != b_sample:
        prefix = f"({b_sample}) and (" if b_sample else None
        if prefix and m_sample and m_sample.startswith(prefix) and m_sample.endswith(")"):
            parts.append(f"sample: {m_sample[len(prefix):-1]}")
        else:
            parts.append(f"sample: {m_sample or 'all'}")
    for key in ("conf_level", "on_separation", "on_collinear"):
        if model.get(key) != base.get(key):
            parts.append(f"{key}: {model.get(key)}")
    return "; ".join(parts) or "same as base"


# ----------------------------------------------------------------------------------------------
# The grid's design: axes, choices, filter, ids
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """One alternative on one axis."""

    label: str
    value: Any  #: what the filter compares: the raw number for numeric axes, else the label
    step: Step


@dataclass(frozen=True)
class GridDesign:
    """The specifications of a grid: one row per specification, one column per axis (choice labels)."""

    grid: GridSpec
    axes: dict[str, tuple[Choice, ...]]
    rows: tuple[tuple[str, tuple[int, ...]], ...]  #: (spec id, index of the choice on each axis)

    @property
    def ids(self) -> list[str]:
        return [r[0] for r in self.rows]

    def frame(self) -> pd.DataFrame:
        """``spec`` plus one column of choice labels per axis, in declared order."""
        names = list(self.axes)
        data = {"spec": self.ids}
        for j, name in enumerate(names):
            data[name] = [self.axes[name][r[1][j]].label for r in self.rows]
        return pd.DataFrame(data)

    def choices(self, spec_index: int) -> dict[str, str]:
        return {name: self.axes[name][k].label for name, k in zip(self.axes, self.rows[spec_index][1])}


def _value_label(axis: str, value: Any) -> str:
    if axis == "vcov":
        return vcov_label({"type": value} if isinstance(value, str) else value if isinstance(value, dict) else None)
    if axis in ("add", "drop"):
        items = _listify(value) or []
        sign = "+" if axis == "add" else "−"
        return " ".join(f"{sign}{t}" for t in items) or "none"
    if axis == "restrict":
        return value or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_label_scalar(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return "[" + ", ".join(_label_scalar(v) for v in value) + "]"
    return _label_scalar(value)


def _label_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "–".join(map(str, value))
    return str(value)


def _axis_choices(grid: GridSpec, overlays: dict[str, RobustnessSpec], where: str) -> dict[str, tuple[Choice, ...]]:
    keys = _model_keys()
    out: dict[str, tuple[Choice, ...]] = {}
    if not grid.axes:
        raise OverlayError("has no axes; declare at least one under [grid.axes], e.g. vcov = [\"model\", \"robust\"].",
                           where, ("axes",))
    for axis, values in grid.axes.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", axis):
            raise OverlayError(f"axis name {axis!r} must be a plain name (letters, digits, '_') so the filter can use it.",
                               where, ("axes", axis))
        if not values:
            raise OverlayError(f"axis {axis!r} has no alternatives.", where, ("axes", axis))
        choices: list[Choice] = []
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        for k, value in enumerate(values):
            source = f"{where}.axes.{axis}[{k}]"
            if axis in keys:
                step = Step(source, set=((axis, value),))
                label = _value_label(axis, value)
            elif axis in _PSEUDO:
                if axis in ("add", "drop"):
                    items = _listify(value)
                    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
                        raise OverlayError(f"{axis} alternatives are term lists, e.g. [] or [\"polyarchy_min\"] (got {_show(value)}).",
                                           where, ("axes", axis, k))
                    step = Step(source, **{axis: tuple(items)})
                elif not isinstance(value, str):
                    raise OverlayError(f"{axis} alternatives are strings (got {_show(value)}).", where, ("axes", axis, k))
                elif axis == "restrict":
                    step = Step(source, restrict=value or None)
                else:
                    step = Step(source, response=value)
                label = _value_label(axis, value)
            elif isinstance(value, str):
                if value == "base":
                    if "base" in overlays:
                        raise OverlayError("'base' is ambiguous: an overlay is also named 'base'; rename it.", where,
                                           ("axes", axis, k))
                    step, label = Step(source), "base"
                elif value in overlays:
                    step, label = overlay_step(value, overlays, f"robustness (id {value!r}) via {source}"), value
                else:
                    raise OverlayError(
                        f"axis {axis!r}: {value!r} is not a [[robustness]] id{suggest(value, list(overlays) + ['base'])}. "
                        f"An axis not named after a model key ({', '.join(sorted(keys))}, restrict, add, drop, response) "
                        "takes overlays: ids, 'base', or inline tables {label = ..., set = {...}}.",
                        where, ("axes", axis, k))
            elif isinstance(value, dict):
                try:
                    inline = InlineOverlay.model_validate(value)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    raise OverlayError(_describe_pydantic_error(InlineOverlay, err), where,
                                       ("axes", axis, k, *err["loc"])) from None
                step, label = Step.of(inline, source), inline.label
            else:
                raise OverlayError(f"axis {axis!r} takes overlay ids or inline overlay tables (got {_show(value)}).",
                                   where, ("axes", axis, k))
            choices.append(Choice(label, value if numeric else label, step))
        labels = [c.label for c in choices]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise OverlayError(f"axis {axis!r} has two alternatives labelled {dupes[0]!r}; labels must differ.", where,
                               ("axes", axis))
        out[axis] = tuple(choices)
    return out


def grid_design(grid: GridSpec, overlays: Sequence[RobustnessSpec] = (), where: str = "grid") -> GridDesign:
    """The grid's specifications: the product of its axes (first axis slowest), filtered, with ids."""
    axes = _axis_choices(grid, {o.id: o for o in overlays}, where)
    sizes = [len(c) for c in axes.values()]
    total = math.prod(sizes)
    if total > MAX_SPECIFICATIONS:
        raise OverlayError(f"the axes give {total:,} specifications (at most {MAX_SPECIFICATIONS:,}); drop alternatives "
                           "or split the grid.", where, ("axes",))
    combos = list(itertools.product(*[range(n) for n in sizes]))
    names = list(axes)
    if grid.filter:

        frame = pd.DataFrame({name: [axes[name][c[j]].value for c in combos] for j, name in enumerate(names)})
        try:
            restriction = parse_restriction(grid.filter)
            mask = evaluate_restriction(restriction, frame)
        except FormulaError as exc:
            raise OverlayError(f"{exc.message} (the filter reads the axes {names}, whose values are the choice labels)",
                               where, ("filter",)) from None
        combos = [c for c, keep in zip(combos, mask) if bool(keep)]
        if not combos:
            raise OverlayError(f"the filter {grid.filter!r} rejects every specification.", where, ("filter",))
    rows = []
    seen: dict[str, tuple[int, ...]] = {}
    for combo in combos:
        key = _canon([[name, axes[name][k].label] for name, k in zip(names, combo)])
        spec_id = f"{grid.id}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        if spec_id in seen:  # pragma: no cover - a 48-bit collision
            raise OverlayError(f"two specifications hash to {spec_id}; rename a choice.", where, ("axes",))
        seen[spec_id] = combo
        rows.append((spec_id, tuple(combo)))
    return GridDesign(grid, axes, tuple(rows))
