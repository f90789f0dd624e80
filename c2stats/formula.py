"""A safe Wilkinson-formula language and its design matrices.

Analysis files must never execute code, so formulas are parsed here by a small recursive-descent
parser and evaluated by our own interpreter; no ``eval``, patsy or formulaic sees user text.

Grammar (R's precedence: ``:`` binds tighter than ``*`` and ``/``, which bind tighter than ``+ -``)::

    formula  := [response] "~" sum
    sum      := product (("+" | "-") product)*
    product  := inter (("*" | "/") inter)*
    inter    := atom (":" atom)*
    atom     := "(" sum ")" | "0" | "1" | variable
    variable := NAME | `quoted name` | call
    call     := TRANSFORM "(" expr ("," [NAME "="] literal)* ")"

Inside ``I()`` and transform arguments, ``expr`` is arithmetic (``+ - * / **``, unary minus, numbers)
on column names. Allowed transforms: :data:`TRANSFORMS`. Terms expand as in R: ``a*b = a + b + a:b``,
``a/b = a + a:b``, ``(a + b):c = a:c + b:c``; ``- 1`` or ``+ 0`` removes the intercept.

Column names follow R: ``x``, ``log(x)``, ``C(region)Asia`` / ``regionAsia``, ``a:b``,
``poly(x, 2)1``, ``bs(x, df = 4)1``; the intercept is ``(Intercept)``.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import limits
from .errors import FormulaError

#: Transforms a formula may call, with their allowed keyword arguments (and defaults).
TRANSFORMS: dict[str, dict[str, Any]] = {
    "I": {},
    "C": {"ref": None},
    "log": {},
    "log1p": {},
    "log2": {},
    "log10": {},
    "exp": {},
    "sqrt": {},
    "abs": {},
    "center": {},
    "standardize": {},
    "scale": {},
    "poly": {"degree": 1, "raw": False},
    "bs": {"df": None, "degree": 3, "knots": None},
}

#: Transforms applied value by value (I() is the identity on its evaluated expression).
_ELEMENTWISE = {
    "I": lambda x: x,
    "log": np.log,
    "log1p": np.log1p,
    "log2": np.log2,
    "log10": np.log10,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|`(?P<quoted>[^`]+)`"
    r"|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>\*\*|==|!=|<=|>=|[<>~+\-*/:(),=^]))"
)


# ----------------------------------------------------------------------------------------------
# Parsed structure
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One variable of a term: a column, or a transform of an arithmetic expression of columns."""

    label: str  #: canonical R-style text, e.g. ``log(gdp)`` or ``C(region)``
    func: str | None  #: transform name, ``None`` for a bare column
    expr: str  #: the arithmetic expression (validated source text) the transform applies to
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def columns(self) -> frozenset[str]:
        """Data columns this factor reads."""
        return _expr_columns(self.expr)

    @property
    def filled_columns(self) -> frozenset[str]:
        """Columns this factor reads only inside ``fillna()``: their missing values are handled here."""
        return _expr_columns(self.expr, filled_only=True)


@dataclass(frozen=True)
class Term:
    """An interaction of factors (a main effect when it has one factor)."""

    factors: tuple[Factor, ...]

    @property
    def label(self) -> str:
        return ":".join(f.label for f in self.factors)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: optional response, ordered terms, intercept flag, absorbed fixed effects.

    ``y ~ x1 + x2 | fe1 + fe2`` (fixest's syntax) absorbs the fixed effects of the columns after
    ``|``: they are projected out, not estimated, and the family drops the intercept they absorb.
    """

    text: str
    response: Factor | None
    terms: tuple[Term, ...]
    intercept: bool
    absorb: tuple[str, ...] = ()  #: columns whose fixed effects are absorbed

    @property
    def columns(self) -> list[str]:
        """Every data column used (response first), in order of appearance."""
        seen: dict[str, None] = {}
        if self.response is not None:
            seen.update(dict.fromkeys(sorted(self.response.columns)))
        for term in self.terms:
            for f in term.factors:
                seen.update(dict.fromkeys(sorted(f.columns)))
        seen.update(dict.fromkeys(self.absorb))
        return list(seen)

    @property
    def complete_columns(self) -> list[str]:
        """Columns whose missing values drop a row: all but those read only inside ``fillna()``."""
        factors = [f for term in self.terms for f in term.factors] + ([self.response] if self.response else [])
        filled = set().union(*(f.filled_columns for f in factors)) if factors else set()
        needed = set().union(*(f.columns - f.filled_columns for f in factors)) if factors else set()
        return [c for c in self.columns if c not in filled or c in needed]


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------
def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m or m.end() == pos:
            bad = stripped[pos:].lstrip()[:1]
            raise FormulaError(
                f"formula {text!r}: character {bad!r} at position {pos + 1} is not allowed. Formulas "
                "use column names, numbers, + - : * / ( ) and the transforms "
                f"{', '.join(sorted(TRANSFORMS))}."
            )
        kind = m.lastgroup
        value = m.group(kind)
        tokens.append((kind if kind != "quoted" else "name", value, m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # parentheses open; bounded so that deep nesting is an error, not a RecursionError

    # helpers ---------------------------------------------------------------------------
    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.error("the formula ends too early")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok[1] != op:
            raise self.error(f"expected {op!r} at position {tok[2] + 1}, found {tok[1]!r}")

    def error(self, what: str) -> FormulaError:
        return FormulaError(f"formula {_shown(self.text)}: {what}.")

    # grammar ---------------------------------------------------------------------------
    def formula(self) -> Formula:
        tilde = [k for k, t in enumerate(self.tokens) if t[1] == "~"]
        if len(tilde) != 1:
            raise self.error(
                "a formula needs exactly one '~' (e.g. 'y ~ x1 + x2', or '~ x1 + x2' for survival "
                "models whose outcome is given by time/event)"
            )
        response = None
        if tilde[0] > 0:
            response = self.variable()
            if self.peek() is None or self.peek()[1] != "~":
                raise self.error("the left of '~' must be one column or transform")
        self.expect("~")
        if self.peek() is None:
            raise self.error("nothing on the right of '~'")
        terms = self.sum()
        if self.peek() is not None:
            tok = self.peek()
            raise self.error(f"unexpected {tok[1]!r} at position {tok[2] + 1}")
        intercept = True
        ordered: dict[frozenset, Term] = {}
        for sign, items in terms:
            for item in items:
                if item == "1":
                    intercept = sign > 0
                elif item == "0":
                    intercept = sign < 0 if sign < 0 else False
                elif sign > 0:
                    ordered.setdefault(frozenset(item.factors), item)
                else:
                    ordered.pop(frozenset(item.factors), None)
        final = sorted(ordered.values(), key=lambda t: len(t.factors))  # R orders by degree
        return Formula(self.text, response, tuple(final), intercept)

    def sum(self) -> list[tuple[int, list]]:
        out = [(1, self.product())]
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            out.append((1 if tok[1] == "+" else -1, self.product()))
        return out

    def product(self) -> list:
        left = self.inter()
        while (tok := self.peek()) is not None and tok[1] in ("*", "/"):
            self.take()
            right = self.inter()
            self._no_numbers(left + right, tok[1])
            if tok[1] == "*":
                left = left + right + _cross(left, right)
            else:  # a/b = a + a:b (b nested within a)
                whole = Term(tuple(f for t in left if isinstance(t, Term) for f in t.factors))
                left = left + _cross([whole], right)
        return _dedupe(left)

    def inter(self) -> list:
        left = self.atom()
        while (tok := self.peek()) is not None and tok[1] == ":":
            self.take()
            right = self.atom()
            self._no_numbers(left + right, ":")
            left = _cross(left, right)
        return left

    def _no_numbers(self, items: list, op: str) -> None:
        if any(not isinstance(i, Term) for i in items):
            raise self.error(f"'{op}' combines variables; 0 and 1 only add or remove the intercept")

    def atom(self) -> list:
        tok = self.peek()
        if tok is None:
            raise self.error("the formula ends too early")
        if tok[1] == "(":
            self.take()
            self.depth += 1
            if self.depth > limits.MAX_DEPTH:
                raise FormulaError(f"formula {_shown(self.text)}: parentheses are nested more than "
                                   f"{limits.MAX_DEPTH} levels deep (the limit); remove the redundant ones.")
            inner = self.sum()
            self.expect(")")
            self.depth -= 1
            flat: list = []
            for sign, items in inner:
                if sign < 0:
                    raise self.error("'-' inside parentheses is not supported; remove terms at the top level")
                flat.extend(items)
            return _dedupe(flat)
        if tok[0] == "num":
            self.take()
            if tok[1] not in ("0", "1"):
                raise self.error(f"the number {tok[1]} can only appear inside I() or a transform")
            return [tok[1]]
        return [Term((self.variable(),))]

    def variable(self) -> Factor:
        kind, value, pos = self.take()
        if kind != "name":
            raise self.error(f"expected a column name at position {pos + 1}, found {value!r}")
        nxt = self.peek()
        if nxt is None or nxt[1] != "(":
            _check_name(value, self.text)
            return Factor(label=value, func=None, expr=_quote_name(value))
        if value not in TRANSFORMS:
            raise FormulaError(
                f"formula {self.text!r}: {value}() is not an allowed transform. Allowed: "
                f"{', '.join(sorted(TRANSFORMS))}. For arithmetic on columns use I(), e.g. I(a / b)."
            )
        self.take()  # (
        depth, start = 1, self.i
        while depth:
            tok = self.take()
            depth += {"(": 1, ")": -1}.get(tok[1], 0)
        args = self.tokens[start : self.i - 1]
        return _make_call(value, args, self.text)


def _cross(left: list, right: list) -> list:
    out = []
    for a in left:
        for b in right:
            if not isinstance(a, Term) or not isinstance(b, Term):
                continue
            factors = a.factors + tuple(f for f in b.factors if f not in a.factors)
            out.append(Term(factors))
    return out


def _dedupe(items: list) -> list:
    seen: dict = {}
    for it in items:
        key = frozenset(it.factors) if isinstance(it, Term) else it
        seen.setdefault(key, it)
    return list(seen.values())


def _check_name(name: str, text: str) -> None:
    if "__" in name or name in {"True", "False", "None"}:
        raise FormulaError(
            f"formula {text!r}: {name!r} is not a valid column name (names with '__' or Python "
            "keywords are refused so that no formula can reach interpreter internals)."
        )


def _quote_name(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def _split_args(tokens: list[tuple[str, str, int]]) -> list[list[tuple[str, str, int]]]:
    parts: list[list] = [[]]
    depth = 0
    for tok in tokens:
        if tok[1] == "(":
            depth += 1
        elif tok[1] == ")":
            depth -= 1
        if tok[1] == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _tokens_to_text(tokens: list[tuple[str, str, int]]) -> str:
    out = []
    for kind, value, _ in tokens:
        out.append(_quote_name(value) if kind == "name" else value)
    text = " ".join(out).replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    return re.sub(r"\b(" + "|".join(_EXPR_FUNCTIONS) + r") \(", r"\1(", text)


def _literal(tokens: list[tuple[str, str, int]], text: str, fname: str) -> Any:
    src = "".join(v for _, v, _ in tokens)
    if src in ("TRUE", "True", "true"):
        return True
    if src in ("FALSE", "False", "false"):
        return False
    try:
        if len(src) > limits.MAX_EXPRESSION_CHARS or limits.tree_depth(ast.parse(src, mode="eval")) > limits.MAX_DEPTH:
            raise ValueError("too large")
        value = ast.literal_eval(src)
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        raise FormulaError(
            f"formula {text!r}: the argument {src!r} of {fname}() must be a number, string or "
            "true/false literal."
        ) from None
    if not isinstance(value, (int, float, str, bool, list, tuple)):
        raise FormulaError(f"formula {text!r}: unsupported argument {src!r} of {fname}().")
    items = value if isinstance(value, (list, tuple)) else [value]
    if len(items) > limits.MAX_BASIS:
        raise FormulaError(f"formula {_shown(text)}: {fname}() has a list of {len(items)} values; the limit is "
                           f"{limits.MAX_BASIS}.")
    for item in items:
        limits.check_int(item, lambda m: FormulaError(f"formula {_shown(text)}: argument of {fname}(): {m}"))
    return list(value) if isinstance(value, tuple) else value


def _make_call(fname: str, args: list[tuple[str, str, int]], text: str) -> Factor:
    parts = _split_args(args)
    if not parts or not parts[0]:
        raise FormulaError(f"formula {text!r}: {fname}() needs an argument.")
    expr_tokens, rest = parts[0], parts[1:]
    if any(t[1] == "=" for t in expr_tokens):
        raise FormulaError(f"formula {text!r}: the first argument of {fname}() must be an expression.")
    expr = _tokens_to_text(expr_tokens)
    _validate_expr(expr, text)
    allowed = TRANSFORMS[fname]
    positional_names = [k for k in allowed]
    kwargs: dict[str, Any] = {}
    for k, part in enumerate(rest):
        if len(part) >= 2 and part[1][1] == "=":
            key = part[0][1]
            if key not in allowed:
                valid = ", ".join(allowed) or "none"
                raise FormulaError(
                    f"formula {text!r}: {fname}() has no argument {key!r}; valid: {valid}."
                )
            kwargs[key] = _literal(part[2:], text, fname)
        else:
            if k >= len(positional_names):
                raise FormulaError(f"formula {text!r}: too many arguments to {fname}().")
            kwargs[positional_names[k]] = _literal(part, text, fname)
    for key in ("degree", "df"):
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > limits.MAX_BASIS:
            raise FormulaError(f"formula {_shown(text)}: {fname}({key} = {value}) is above the limit of "
                               f"{limits.MAX_BASIS}.")
    if fname == "C" and not _is_plain_name(expr):
        raise FormulaError(f"formula {text!r}: C() takes one column name, got {expr!r}.")
    shown = ", ".join([expr] + [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in kwargs.items()])
    if fname == "poly" and set(kwargs) <= {"degree"}:
        shown = f"{expr}, {kwargs.get('degree', 1)}"
    label = f"{fname}({shown})"
    return Factor(label=label, func=fname, expr=expr, kwargs=tuple(sorted(kwargs.items())))


def _is_plain_name(expr: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*|`[^`]+`", expr.strip()))


# ----------------------------------------------------------------------------------------------
# Arithmetic expressions (inside I() and transforms): parsed with ast, evaluated by us
# ----------------------------------------------------------------------------------------------
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
#: Comparisons inside I(): 1/0, missing where an operand is missing (R's NA logic).
_COMPARE = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
            ast.Gt: np.greater, ast.GtE: np.greater_equal}
#: Functions inside I(): fillna(x, value) replaces missing values of an expression by a number.
_EXPR_FUNCTIONS = ("fillna",)


def _to_python(expr: str) -> tuple[str, dict[str, str]]:
    """Replace column names (which may contain dots or be back-quoted) by safe identifiers."""
    mapping: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if m.group(2) is not None and re.fullmatch(r"\d+\.?\d*(?:[eE][-+]?\d+)?", name):
            return name
        key = f"_c{len(mapping)}"
        for k, v in mapping.items():
            if v == name:
                key = k
                break
        else:
            mapping[key] = name
        return key

    def guarded(m: re.Match) -> str:
        if m.group(2) in _EXPR_FUNCTIONS and expr[m.end():].lstrip().startswith("("):
            return m.group(2)  # a function of the expression language, not a column
        return sub(m)

    py = re.sub(r"`([^`]+)`|(\d+\.?\d*(?:[eE][-+]?\d+)?|[A-Za-z_.][A-Za-z0-9_.]*)", guarded, expr)
    return py, mapping


def _validate_expr(expr: str, text: str) -> ast.AST:
    py, mapping = _to_python(expr)
    try:
        tree = limits.parse_expression(py, lambda m: FormulaError(f"formula {_shown(text)}: {m}"))
    except SyntaxError:
        raise FormulaError(f"formula {_shown(text)}: {_shown(expr)} is not a valid arithmetic expression.") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name, ast.UnaryOp, ast.USub, ast.UAdd)):
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            continue
        if type(node) in _BINOPS:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            continue
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            continue
        if type(node) in _COMPARE:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _EXPR_FUNCTIONS:
            if len(node.args) != 2 or node.keywords or not _is_number(node.args[1]):
                raise FormulaError(f"formula {text!r}: write fillna(<expression>, <number>), e.g. I(fillna(x, 0)).")
            continue
        if isinstance(node, ast.Name) and node.id in _EXPR_FUNCTIONS:
            continue
        raise FormulaError(
            f"formula {text!r}: {expr!r} may only use column names, numbers, + - * / **, one comparison "
            "(== != < <= > >=) and fillna(x, value) (no other calls, attributes or indexing)."
        )
    for name in mapping.values():
        _check_name(name, text)
    return tree


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _expr_columns(expr: str, filled_only: bool = False) -> frozenset[str]:
    py, mapping = _to_python(expr)
    if not filled_only:
        return frozenset(mapping.values())
    tree = ast.parse(py, mode="eval")
    inside = {n.id for call in ast.walk(tree) if isinstance(call, ast.Call)
              for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)}
    outside = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in mapping} - inside
    return frozenset(mapping[k] for k in inside - outside if k in mapping)


def eval_expr(expr: str, data: pd.DataFrame) -> np.ndarray:
    """Evaluate a validated arithmetic expression on ``data`` columns (float64 array)."""
    py, mapping = _to_python(expr)
    tree = ast.parse(py, mode="eval")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            return data[mapping[node.id]].to_numpy(dtype=float)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Compare):
            left, right = np.asarray(ev(node.left), dtype=float), np.asarray(ev(node.comparators[0]), dtype=float)
            out = _COMPARE[type(node.ops[0])](left, right).astype(float)
            return np.where(np.isnan(left) | np.isnan(right), np.nan, out)
        if isinstance(node, ast.Call):  # fillna(x, value)
            value = np.asarray(ev(node.args[0]), dtype=float)
            return np.where(np.isnan(value), ev(node.args[1]), value)
        raise FormulaError(f"unsupported expression {expr!r}")  # unreachable after validation

    with np.errstate(all="ignore"):
        out = ev(tree)
    return np.broadcast_to(np.asarray(out, dtype=float), (len(data),)).copy()


def parse_formula(text: str) -> Formula:
    """Parse and validate ``text``; raise :class:`FormulaError` naming the problem and the fix."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the formula is empty; write e.g. 'y ~ x1 + x2'.")
    if len(text) > limits.MAX_EXPRESSION_CHARS:
        raise FormulaError(f"formula {_shown(text)}: it is {len(text)} characters long; the limit is "
                           f"{limits.MAX_EXPRESSION_CHARS}.")
    model, absorb = _split_absorbed(text)
    if absorb is None:
        return _Parser(text).formula()
    parsed = _Parser(model).formula()
    names = _absorbed_columns(text, absorb)
    # the intercept stays in the design so factors get R's treatment contrasts (as fixest's); the
    # family that absorbs the fixed effects drops its column
    return Formula(text, parsed.response, parsed.terms, parsed.intercept, names)


_ABSORBED_NAME = re.compile(r"^\s*(`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*)\s*$")


def _split_absorbed(text: str) -> tuple[str, str | None]:
    """``(model part, fixed-effects part)`` split at the one ``|`` outside parentheses and back-quotes."""
    depth, quoted, bars = 0, False, []
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            bars.append(i)
    if not bars:
        return text, None
    if len(bars) > 1:
        raise FormulaError(f"formula {text!r}: one '|' separates the model from its fixed effects "
                           "(e.g. 'y ~ x | country + year'); instrumental-variable parts are not supported.")
    return text[:bars[0]], text[bars[0] + 1:]


def _absorbed_columns(text: str, part: str) -> tuple[str, ...]:
    """The column names after ``|``: plain (or back-quoted) names joined by ``+``."""
    names = []
    for piece in part.split("+"):
        m = _ABSORBED_NAME.match(piece)
        if not m:
            raise FormulaError(
                f"formula {text!r}: after '|' give the columns whose fixed effects are absorbed, joined by '+' "
                f"(e.g. '| country + year'); {piece.strip()!r} is not a column name.")
        names.append(m.group(1).strip("`"))
    if len(set(names)) != len(names):
        raise FormulaError(f"formula {text!r}: a fixed effect is listed twice after '|'.")
    return tuple(names)


def _shown(text: str) -> str:
    """``text`` quoted for a message, shortened when it is long (hostile inputs can be megabytes)."""
    return repr(text) if len(text) <= 120 else repr(text[:60] + " ... " + text[-40:])


# ----------------------------------------------------------------------------------------------
# Design matrices
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """A model matrix with R-style column names and the fitted state of stateful transforms."""

    matrix: np.ndarray
    names: tuple[str, ...]
    response: np.ndarray | None
    term_of_column: tuple[str, ...]
    state: dict = field(default_factory=dict, compare=False)


def is_categorical(series: pd.Series) -> bool:
    """Columns treated as factors: strings, categoricals, booleans are *not* (they are 0/1)."""
    return isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(series) or series.dtype == object


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    return sorted(series.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def _orthopoly(x: np.ndarray, degree: int) -> tuple[np.ndarray, dict]:
    """R's ``poly(x, degree)``: orthonormal polynomial columns (QR of the centred Vandermonde)."""
    mean = x.mean()
    xc = x - mean
    vander = np.vander(xc, degree + 1, increasing=True)
    q, r = np.linalg.qr(vander)
    z = q * np.diag(r)
    norm2 = (z**2).sum(axis=0)
    alpha = ((xc[:, None] * z**2).sum(axis=0) / norm2 + mean)[:degree]
    basis = z / np.sqrt(norm2)
    return basis[:, 1:], {"alpha": alpha, "norm2": np.concatenate([[1.0], norm2])}


def _orthopoly_predict(x: np.ndarray, alpha: list[float], norm2: list[float]) -> np.ndarray:
    """R's ``predict.poly``: the three-term recursion with the estimation sample's alpha and norm2."""
    degree = len(alpha)
    z = np.ones((len(x), degree + 1))
    z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        z[:, i + 1] = (x - alpha[i]) * z[:, i] - (norm2[i + 1] / norm2[i]) * z[:, i - 1]
    return (z / np.sqrt(np.asarray(norm2[1:], dtype=float)))[:, 1:]


def _bspline(x: np.ndarray, df: int | None, degree: int, knots: list | None,
             boundary: list | None = None) -> tuple[np.ndarray, list[float], list[float]]:
    """R's ``splines::bs(x, df, degree)`` without intercept: interior knots at quantiles of x.

    Returns the basis, the interior knots and the boundary knots. With ``boundary`` given (prediction
    on new data) values outside it are extrapolated with the boundary polynomial pieces, which is
    what R's ``bs`` does (its Taylor expansion of order ``degree`` at a pivot inside the first/last
    knot interval reproduces that piece).
    """
    from scipy.interpolate import BSpline

    if knots is None:
        n_inner = max((df or degree) - degree, 0)
        probs = np.linspace(0, 1, n_inner + 2)[1:-1]
        knots = list(np.quantile(x, probs)) if n_inner else []
    knots = [float(k) for k in knots]
    lo, hi = (float(np.min(x)), float(np.max(x))) if boundary is None else (float(boundary[0]), float(boundary[1]))
    t = np.concatenate([[lo] * (degree + 1), knots, [hi] * (degree + 1)])
    n_basis = len(t) - degree - 1
    cols = []
    for j in range(n_basis):
        coef = np.zeros(n_basis)
        coef[j] = 1.0
        spl = BSpline(t, coef, degree, extrapolate=True)
        v = spl(x)
        v[x == hi] = 1.0 if j == n_basis - 1 else 0.0
        cols.append(np.nan_to_num(v))
    return np.column_stack(cols)[:, 1:], knots, [lo, hi]


def _plain(value: Any) -> Any:
    """A JSON-friendly Python scalar (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


def _stored(state: dict | None, factor: Factor) -> dict | None:
    if state is None:
        return None
    entry = state.get("factors", {}).get(factor.label)
    if entry is None:
        raise FormulaError(
            f"{factor.label}: the stored design state has no entry for this term; build the state from the "
            "estimation sample with the same formula (design_matrix(formula, sample).state)."
        )
    return entry


def _numeric_block(factor: Factor, data: pd.DataFrame, stored: dict | None = None) -> tuple[np.ndarray, list[str], dict]:
    """A numeric factor's columns, names and state (``stored``: the estimation sample's state, for new data)."""
    if factor.func is None:
        series = data[factor.label]
        return series.to_numpy(dtype=float)[:, None], [factor.label], {"type": "numeric"}
    x = eval_expr(factor.expr, data)
    kw = dict(factor.kwargs)
    entry: dict[str, Any] = {"type": factor.func}
    with np.errstate(all="ignore"):
        if factor.func in _ELEMENTWISE:
            out = _ELEMENTWISE[factor.func](x)
        elif factor.func == "center":
            entry["mean"] = float(x.mean()) if stored is None else float(stored["mean"])
            out = x - entry["mean"]
        elif factor.func in ("standardize", "scale"):
            if stored is None:
                entry.update(mean=float(x.mean()), sd=float(x.std(ddof=1)))
            else:
                entry.update(mean=float(stored["mean"]), sd=float(stored["sd"]))
            out = (x - entry["mean"]) / entry["sd"]
        elif factor.func == "poly":
            degree = int(kw.get("degree", 1))
            names = [f"{factor.label}{d}" for d in range(1, degree + 1)]
            if kw.get("raw", False):
                block = np.column_stack([x**d for d in range(1, degree + 1)])
            elif stored is not None:
                entry.update(alpha=list(stored["alpha"]), norm2=list(stored["norm2"]))
                block = _orthopoly_predict(x, entry["alpha"], entry["norm2"])
            else:
                if degree < 1 or degree >= len(np.unique(x)):
                    raise FormulaError(f"{factor.label}: degree must be between 1 and the number of unique values - 1.")
                block, fitted = _orthopoly(x, degree)
                entry.update(alpha=[float(a) for a in fitted["alpha"]], norm2=[float(a) for a in fitted["norm2"]])
            _check_finite(factor, block, stored is not None)
            return block, names, entry
        elif factor.func == "bs":
            degree = int(kw.get("degree", 3))
            if stored is None:
                block, knots, boundary = _bspline(x, kw.get("df"), degree, kw.get("knots"))
            else:
                block, knots, boundary = _bspline(x, None, degree, stored["knots"], stored["boundary"])
            entry.update(degree=degree, knots=knots, boundary=boundary)
            return block, [f"{factor.label}{d}" for d in range(1, block.shape[1] + 1)], entry
        else:
            raise FormulaError(f"{factor.label}: unknown transform")
    _check_finite(factor, out, stored is not None)
    return out[:, None], [factor.label], entry


def _check_finite(factor: Factor, values: np.ndarray, new_data: bool) -> None:
    finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
    if np.all(finite):
        return
    bad = np.flatnonzero(~finite)
    rows = ", ".join(str(int(r) + 1) for r in bad[:5])
    where = "the new data" if new_data else "the estimation sample"
    raise FormulaError(
        f"{factor.label} is not finite in {len(bad)} row(s) of {where} (rows {rows}"
        f"{', ...' if len(bad) > 5 else ''}); e.g. log() of zero or a negative value. Restrict the "
        "sample or transform differently (e.g. log1p)."
    )


def _is_categorical_factor(factor: Factor, data: pd.DataFrame, stored: dict | None) -> bool:
    if stored is not None:
        return stored["type"] == "categorical"
    return factor.func == "C" or (factor.func is None and is_categorical(data[factor.label]))


def _factor_block(factor: Factor, data: pd.DataFrame, full_rank_dummies: bool,
                  stored: dict | None = None) -> tuple[np.ndarray, list[str], dict]:
    """Dummy (treatment) coding for categorical factors, numeric blocks otherwise."""
    name = factor.expr.strip("`") if factor.func == "C" else factor.label
    if not _is_categorical_factor(factor, data, stored):
        return _numeric_block(factor, data, stored)
    series = data[name]
    if stored is not None:
        levels = list(stored["levels"])
        unknown = [v for v in pd.unique(series.dropna()) if not any(v == lv for lv in levels)]
        if unknown:
            raise FormulaError(
                f"{factor.label}: value {_plain(unknown[0])!r} of column {name!r} is not a level of the estimation "
                f"sample (levels: {levels[:10]}); predictions need a level the model was fitted on."
            )
    else:
        levels = _levels(series)
        ref = dict(factor.kwargs).get("ref")
        if ref is not None:
            if ref not in levels:
                raise FormulaError(f"{factor.label}: reference level {ref!r} is not among the levels {levels[:10]}.")
            levels = [ref] + [lv for lv in levels if lv != ref]
        levels = [_plain(lv) for lv in levels]
    used = levels if full_rank_dummies else levels[1:]
    values = series.to_numpy()
    block = np.column_stack([(values == lv).astype(float) for lv in used]) if used else np.empty((len(series), 0))
    prefix = factor.label if factor.func == "C" else name
    return block, [f"{prefix}{lv}" for lv in used], {"type": "categorical", "column": name, "levels": levels}


def design_matrix(formula: Formula, data: pd.DataFrame, *, categorical_response: bool = False,
                  state: dict | None = None) -> Design:
    """Build the model matrix of ``formula`` on ``data`` (which must hold no missing values).

    With ``categorical_response`` a text or categorical outcome column is returned as it is (for
    multinomial families); otherwise the response must be numeric or boolean.

    ``Design.state`` records what the stateful parts learned from ``data`` (JSON-serialisable):
    factor levels, ``center``/``scale`` means and standard deviations, ``poly``'s ``alpha`` and
    ``norm2``, ``bs``'s interior and boundary knots. Passing that ``state`` back builds the matrix
    of *new* data with the estimation sample's values, as R's ``predict`` does through
    ``makepredictcall``; the response is then optional (``None`` when its columns are absent).
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    term_of: list[str] = []
    factors_state: dict[str, dict] = {}
    n = len(data)
    if formula.intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
        term_of.append("(Intercept)")
    first_categorical_full = not formula.intercept
    for term in formula.terms:
        parts = []
        for factor in term.factors:
            full = first_categorical_full and len(term.factors) == 1
            stored = _stored(state, factor)
            categorical = _is_categorical_factor(factor, data, stored)
            block, cols, entry = _factor_block(factor, data, full, stored)
            factors_state[factor.label] = entry
            if full and categorical:
                first_categorical_full = False
            parts.append((block, cols))
        block, cols = parts[0]
        for nxt_block, nxt_cols in parts[1:]:
            block = np.einsum("ni,nj->nij", block, nxt_block).reshape(n, -1)
            cols = [f"{a}:{b}" for a in cols for b in nxt_cols]
        blocks.append(block)
        names.extend(cols)
        term_of.extend([term.label] * len(cols))
    matrix = np.column_stack(blocks) if blocks else np.empty((n, 0))
    _check_unique_names(names, term_of, formula)
    if state is not None and list(state.get("names", names)) != names:
        raise FormulaError(
            f"the new data give the columns {names} but the estimation sample gave {list(state['names'])}; "
            "predictions need the same formula."
        )
    response = None
    if formula.response is not None and (state is None or formula.response.columns <= set(data.columns)):
        plain = formula.response.func is None and formula.response.label in data
        if plain and is_categorical(data[formula.response.label]):
            if not categorical_response:
                label = formula.response.label
                raise FormulaError(
                    f"the response {label!r} is text/categorical but this family needs a number: use a 0/1 "
                    f"column (the shipped arrangements have 'informal' for form), or the mnlogit family."
                )
            response = data[formula.response.label].to_numpy(dtype=object)
        else:
            response, _, _ = _numeric_block(formula.response, data)
            response = response[:, 0]
    design_state = {"formula": formula.text, "names": names, "factors": factors_state}
    return Design(matrix, tuple(names), response, tuple(term_of), state=design_state)


def _check_unique_names(names: list[str], term_of: list[str], formula: Formula) -> None:
    """Two design columns of one name (a column ``formformal`` beside the dummy of ``form`` level
    ``formal``) would be reported as one coefficient: refuse, naming both sources."""
    seen: dict[str, str] = {}
    for name, term in zip(names, term_of):
        if name in seen:
            raise FormulaError(
                f"formula {_shown(formula.text)}: the column name {name!r} comes from both term {seen[name]!r} and "
                f"term {term!r} (e.g. a column named like a factor's dummy, factor + level); rename the column "
                "in the data so that every coefficient has its own name.")
        seen[name] = term


def formula_columns(text: str) -> list[str]:
    """Columns a formula reads (convenience for validation)."""
    return parse_formula(text).columns


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
