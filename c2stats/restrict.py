"""Sample restrictions: a small, safe expression language over columns.

A restriction such as ``year >= 1991 and form in ["formal", "informal"] and not major_power`` is
parsed with :mod:`ast` and evaluated by our own interpreter against a whitelist: comparisons
(``== != < <= > >=``, chained), ``and`` / ``or`` / ``not``, ``in`` / ``not in`` a list of literals,
arithmetic (``+ - * / % **``), column names, and literals (numbers, strings, ``true``/``false``).
Nothing else (calls, attributes, subscripts, lambdas, comprehensions) is accepted, so a restriction
can never execute code. Rows where the expression is missing (NA) are excluded, as R's ``subset``.
Column names that are not Python identifiers are written in back-quotes: ```ph.ecog` > 1``.
``x is missing`` / ``x is not missing`` test for missing values (they are never missing themselves).
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import FormulaError, suggest

_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False}


@dataclass(frozen=True)
class Restriction:
    """A validated restriction: its text, the parsed tree and the columns it reads."""

    text: str
    tree: ast.Expression
    names: dict[str, str]  #: safe identifier -> column name

    @property
    def columns(self) -> list[str]:
        return sorted(set(self.names.values()))


def _protect_names(text: str) -> tuple[str, dict[str, str]]:
    """Back-quoted names become safe identifiers; string literals are left untouched."""
    names: dict[str, str] = {}
    out = []
    pos = 0
    for m in re.finditer(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`([^`]*)`", text):
        out.append(text[pos : m.start()])
        if m.group(1) is not None:
            key = f"_q{len(names)}"
            names[key] = m.group(1)
            out.append(key)
        else:
            out.append(m.group(0))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), names


def parse_restriction(text: str) -> Restriction:
    """Parse and validate a restriction; raise :class:`FormulaError` on anything outside the language."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the sample restriction is empty; write e.g. 'year >= 1991'.")
    py, quoted = _protect_names(text)
    try:
        tree = ast.parse(py.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(
            f"sample restriction {text!r} is not a valid expression ({exc.msg} at column {exc.offset}). "
            "Use comparisons joined by and/or, e.g. 'year >= 1991 and form == \"informal\"'."
        ) from None
    names = dict(quoted)
    keywords = {id(c) for node in ast.walk(tree) if isinstance(node, ast.Compare)
                for op, c in zip(node.ops, node.comparators) if isinstance(op, (ast.Is, ast.IsNot))}
    for node in ast.walk(tree):
        _check_node(node, text)
        if isinstance(node, ast.Name) and node.id not in _LITERAL_NAMES and node.id not in quoted \
                and id(node) not in keywords:
            names[node.id] = node.id
    for name in names.values():
        if "__" in name:
            raise FormulaError(
                f"sample restriction {text!r}: {name!r} is not a valid column name (names with '__' "
                "are refused)."
            )
    return Restriction(text, tree, names)


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.BinOp, ast.Name, ast.Load, ast.Constant, ast.List,
    ast.Tuple,
    *_CMP, *_ARITH,
)


def _check_node(node: ast.AST, text: str) -> None:
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        hint = {
            "Call": "a function call",
            "Attribute": "attribute access (a.b)",
            "Subscript": "indexing (a[i])",
        }.get(what, f"a '{what}' expression")
        raise FormulaError(
            f"sample restriction {text!r}: {hint} is not allowed. A restriction may use column names, "
            "literals, comparisons, and/or/not, 'in [..]' and arithmetic."
        )
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
        raise FormulaError(f"sample restriction {text!r}: the literal {node.value!r} is not allowed.")
    if isinstance(node, ast.Compare):
        if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops) and not (
            len(node.ops) == 1 and isinstance(node.comparators[0], ast.Name) and node.comparators[0].id == "missing"
        ):
            raise FormulaError(
                f"sample restriction {text!r}: 'is' only tests for missing values: write 'x is missing' or "
                "'x is not missing' (one column per test; join tests with and/or)."
            )
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)) and not (
                isinstance(right, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in right.elts)
            ):
                raise FormulaError(
                    f"sample restriction {text!r}: 'in' needs a list of literals, e.g. "
                    "form in [\"formal\", \"informal\"]."
                )


def evaluate_restriction(restriction: Restriction, data: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows the restriction keeps (NA counts as not kept)."""
    return _evaluate(restriction, data).fillna(False).to_numpy(dtype=bool)


def undecided_rows(restriction: Restriction, data: pd.DataFrame) -> int:
    """Rows on which the restriction is missing (a column it compares is missing there): they are dropped,
    and the caller says how many."""
    return int(_evaluate(restriction, data).isna().sum())


def _evaluate(restriction: Restriction, data: pd.DataFrame) -> pd.Series:
    """The restriction on every row: True, False or missing (three-valued logic)."""
    missing = [c for c in restriction.columns if c not in data.columns]
    if missing:

        hints = "; ".join(f"{m!r}{suggest(m, list(map(str, data.columns)))}" for m in missing)
        raise FormulaError(f"sample restriction {restriction.text!r}: unknown column(s) {hints}.")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            if node.id in _LITERAL_NAMES and node.id not in restriction.names:
                return _LITERAL_NAMES[node.id]
            return data[restriction.names[node.id]]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [e.value for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return ~_as_bool(v) if isinstance(v, pd.Series) else not v
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return _ARITH[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.BoolOp):
            values = [_as_bool(ev(v)) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.Is, ast.IsNot)):
            value = ev(node.left)
            absent = value.isna() if isinstance(value, pd.Series) else pd.Series(pd.isna(value), index=data.index)
            return (absent if isinstance(node.ops[0], ast.Is) else ~absent).astype("boolean")
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            result = None
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                if isinstance(op, (ast.In, ast.NotIn)):
                    series = left if isinstance(left, pd.Series) else pd.Series([left] * len(data), index=data.index)
                    part = series.isin(right)
                    part = ~part if isinstance(op, ast.NotIn) else part
                    part = _with_missing(part.astype("boolean"), series)
                else:
                    try:
                        part = _CMP[type(op)](left, right)
                    except TypeError as exc:
                        raise FormulaError(
                            f"sample restriction {restriction.text!r}: cannot compare ({exc}); check that "
                            "numbers are compared with numeric columns and strings with text columns."
                        ) from None
                part = _with_missing(_as_bool(part), left, right)
                result = part if result is None else (result & part)
                left = right
            return result
        raise FormulaError(f"sample restriction {restriction.text!r}: unsupported expression")

    out = ev(restriction.tree)
    if not isinstance(out, pd.Series):
        out = pd.Series(bool(out), index=data.index)
    return _as_bool(out)


def _with_missing(part: Any, *operands: Any) -> Any:
    """A comparison with a missing operand is missing (R's three-valued logic), not False."""
    if not isinstance(part, pd.Series):
        return part
    part = part.copy()
    for operand in operands:
        if isinstance(operand, pd.Series):
            part[operand.isna().to_numpy()] = pd.NA
    return part


def _as_bool(value: Any) -> Any:
    """Nullable boolean (Kleene logic for and/or/not); missing becomes 'not kept' only at the end."""
    if isinstance(value, pd.Series):
        return value.astype("boolean")
    return bool(value)
