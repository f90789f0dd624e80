"""The hypothesis-test language of ``[[hypotheses]] test``: linear restrictions on named terms.

Parsed with :mod:`ast` against a whitelist and interpreted by our own code (nothing is evaluated);
see :mod:`c2stats.hypotheses` for the language and how tests are carried out.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal, Sequence


@dataclass(frozen=True)
class LinearForm:
    """``sum(coef[ref] * b[ref]) + const``: one side (or a difference of sides) of a restriction."""

    coefs: tuple[tuple[str, float], ...]
    const: float = 0.0

    def __add__(self, other: "LinearForm") -> "LinearForm":
        merged: dict[str, float] = dict(self.coefs)
        for ref, c in other.coefs:
            merged[ref] = merged.get(ref, 0.0) + c
        return LinearForm(tuple(merged.items()), self.const + other.const)

    def scale(self, factor: float) -> "LinearForm":
        return LinearForm(tuple((r, c * factor) for r, c in self.coefs), self.const * factor)

    @property
    def is_constant(self) -> bool:
        return all(c == 0 for _, c in self.coefs)


@dataclass(frozen=True)
class ParsedTest:
    """A parsed ``test``: restrictions ``form = 0`` (each form already moved to one side)."""

    text: str
    kind: Literal["wald", "one_sided", "joint", "lr"]
    restrictions: tuple[LinearForm, ...] = ()
    direction: Literal["greater", "less"] | None = None

    @property
    def terms(self) -> list[str]:
        """Every term the test names, in order of appearance."""
        return list(dict.fromkeys(ref for form in self.restrictions for ref, _ in form.coefs))


_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


_NAME_CHARS = re.compile(r"[A-Za-z0-9_.:\[\]]*")


_OPERATORS = ("==", "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")")


def _balanced(text: str, start: int, where: str) -> int:
    """Index just past the parenthesis group opening at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError(f"{where}: unbalanced parentheses in {text[start:]!r}.")


def _read_name(text: str, i: int, where: str) -> tuple[str, int]:
    """A term name from ``i``: name characters and balanced ``(...)`` groups (``poly(x, 2)1``)."""
    start = i
    while True:
        m = _NAME_CHARS.match(text, i)
        i = m.end()
        if i < len(text) and text[i] == "(":
            i = _balanced(text, i, where)
            continue
        break
    name = text[start:i]
    if name.endswith(":") and i < len(text) and text[i] in " \t":
        # "<component>: <term>" (a colon followed by a space is never inside a term name)
        j = i
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and (text[j].isalpha() or text[j] in "_.(`"):
            if text[j] == "`":
                end = text.find("`", j + 1)
                if end < 0:
                    raise ValueError(f"{where}: unclosed back-quote in {text!r}.")
                rest, i = text[j + 1 : end], end + 1
            else:
                rest, i = _read_name(text, j, where)
            return f"{name} {rest}", i
    return name, i


def _tokenize(text: str, where: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\n":
            i += 1
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ValueError(f"{where}: unclosed back-quote in {text!r}.")
            tokens.append(("name", text[i + 1 : end]))
            i = end + 1
        elif text.startswith("(Intercept)", i):
            tokens.append(("name", "(Intercept)"))
            i += len("(Intercept)")
        elif ch.isdigit() or (ch == "." and i + 1 < len(text) and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            if text.startswith(": ", m.end()):  # an equation named by a number: "2: age"
                name, i = _read_name(text, i, where)
                tokens.append(("name", name))
                continue
            tokens.append(("number", m.group(0)))
            i = m.end()
        elif ch.isalpha() or ch == "_" or ch == ".":
            name, i = _read_name(text, i, where)
            tokens.append(("name", name))
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise ValueError(
                    f"{where}: unexpected character {ch!r} in {text!r}. Write terms as in the model's table, numbers, "
                    "+ - * / ( ), and one of = < >; back-quote unusual names (`my var`)."
                )
            if op == "!=":
                raise ValueError(f"{where}: '!=' is not a testable hypothesis; test 'a = b' (two-sided) instead.")
            tokens.append(("op", op))
            i += len(op)
    return tokens


_CMP = {ast.Eq: "=", ast.Lt: "<", ast.Gt: ">", ast.LtE: "<", ast.GtE: ">"}


_ALLOWED = (ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub,
            ast.UAdd, ast.Constant, ast.Name, ast.Load, *_CMP)


def _linear(node: ast.AST, names: dict[str, str], where: str) -> LinearForm:
    if isinstance(node, ast.Name):
        return LinearForm(((names[node.id], 1.0),))
    if isinstance(node, ast.Constant):
        return LinearForm((), float(node.value))
    if isinstance(node, ast.UnaryOp):
        inner = _linear(node.operand, names, where)
        return inner.scale(-1.0) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _linear(node.left, names, where), _linear(node.right, names, where)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left + right.scale(-1.0)
        if isinstance(node.op, ast.Mult):
            if left.is_constant:
                return right.scale(left.const)
            if right.is_constant:
                return left.scale(right.const)
            raise ValueError(f"{where}: a product of two terms is not linear; multiply terms by numbers only.")
        if not right.is_constant or right.const == 0:
            raise ValueError(f"{where}: divide by a non-zero number only.")
        return left.scale(1.0 / right.const)
    raise ValueError(f"{where}: a comparison can only be the whole test.")  # pragma: no cover - guarded below


def _parse_one(text: str, where: str) -> tuple[list[LinearForm], str]:
    """Restrictions of one statement and its relation ('=', '<' or '>')."""
    tokens = _tokenize(text, where)
    if not tokens:
        raise ValueError(f"{where}: the test is empty; write e.g. 'volatility > 0'.")
    names: dict[str, str] = {}
    parts = []
    for kind, value in tokens:
        if kind == "name":
            key = next((k for k, v in names.items() if v == value), None) or f"_t{len(names)}"
            names[key] = value
            parts.append(key)
        elif kind == "op":
            parts.append("==" if value == "=" else value)
        else:
            parts.append(value)
    source = " ".join(parts)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ValueError(
            f"{where}: {text!r} is not a valid test. Examples: 'x > 0', 'a + a:b = 0', 'a = b = 0'."
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED) or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))):
            raise ValueError(f"{where}: {text!r} uses something outside the test language ({type(node).__name__}).")
    body = tree.body
    if not isinstance(body, ast.Compare):
        raise ValueError(
            f"{where}: {text!r} states no hypothesis; add '= 0', '> 0' or '< 0' (e.g. '{text} > 0')."
        )
    for node in ast.walk(body):
        if node is not body and isinstance(node, ast.Compare):
            raise ValueError(f"{where}: {text!r} has a comparison inside another; write one relation chain.")
    relations = {_CMP[type(op)] for op in body.ops}
    sides = [_linear(n, names, where) for n in (body.left, *body.comparators)]
    if relations != {"="} and len(body.ops) > 1:
        raise ValueError(
            f"{where}: {text!r} chains inequalities; a directional test has one '<' or '>' (e.g. 'x > 0')."
        )
    forms = [a + b.scale(-1.0) for a, b in zip(sides, sides[1:])]
    for form in forms:
        if form.is_constant:
            raise ValueError(f"{where}: {text!r} has a restriction without any term.")
    return forms, relations.pop()


def parse_test(test: str | Sequence[str], where: str = "test") -> ParsedTest:
    """Parse a ``test`` value (string or list of equalities) into restrictions.

    Raises
    ------
    ValueError
        With a message naming ``where`` and the fix, for anything outside the language.
    """
    if isinstance(test, str):
        if test.strip().lower() == "lr":
            return ParsedTest(text="lr", kind="lr")
        forms, relation = _parse_one(test, where)
        if relation == "=":
            return ParsedTest(text=test, kind="wald" if len(forms) == 1 else "joint", restrictions=tuple(forms))
        return ParsedTest(text=test, kind="one_sided", restrictions=tuple(forms),
                          direction="greater" if relation == ">" else "less")
    items = list(test)
    if not items:
        raise ValueError(f"{where}: the list of restrictions is empty.")
    forms: list[LinearForm] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueError(f"{where}[{i}]: each restriction is a string such as 'a = 0'.")
        part, relation = _parse_one(item, f"{where}[{i}]")
        if relation != "=":
            raise ValueError(f"{where}[{i}]: a joint test takes equalities only; {item!r} is directional.")
        forms.extend(part)
    return ParsedTest(text=" & ".join(items), kind="joint" if len(forms) > 1 else "wald", restrictions=tuple(forms))
