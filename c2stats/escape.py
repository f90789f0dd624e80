"""Escaping of user text (factor levels, labels, titles, captions, notes) for every output format.

Text from an analysis file or a dataset reaches reports verbatim; without escaping, a level named
``<script>`` or ``[x](javascript:...)`` becomes markup in Markdown and HTML, a ``|`` or a line
break adds table rows, ``=cmd|...`` in a CSV cell is run by a spreadsheet as a formula, a control
character makes Word refuse the document, and ``$\\foo$`` makes matplotlib's mathtext fail. Every
renderer escapes through the functions here, one per format, so the rules live in one place.

The rules escape only what can act as markup, so ordinary text (``p < 0.05``, ``<0.001``,
``-0.25``) is written as it always was.
"""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any, Callable

#: C0 and C1 control characters other than tab and line breaks (not allowed in XML 1.0, invisible elsewhere).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: ``<`` that could open an HTML tag, comment, declaration or autolink (``<a``, ``</``, ``<!``, ``<?``).
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
#: ``]`` that closes link text: ``[x](url)``, ``[x][ref]``, ``[x]: url`` (a definition).
_LINK_CLOSE = re.compile(r"\](?=[(\[:])")
#: An underscore inside a word is literal in GFM; only those at a word boundary can open emphasis.
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
#: A cell a spreadsheet reads as a formula (OWASP "CSV injection"), unless it is a plain number.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][+-]?\d+)?%?\*{0,3}|[+-]?(inf|Inf|nan|NaN)")


def strip_control(text: Any) -> str:
    """``text`` without control characters (tab and line breaks kept)."""
    return _CONTROL.sub("", str(text))


def one_line(text: Any) -> str:
    """Line breaks (any of ``\\n``, ``\\r``, U+2028 ...) become spaces: a label never starts a new row."""
    return " ".join(strip_control(text).splitlines())


def markdown(text: Any) -> str:
    """Inline Markdown text (a table cell, a heading, a caption): nothing in it acts as markup.

    Escapes backslash, ``|`` (a new cell), ``*``, word-boundary ``_`` and backtick (emphasis, code),
    ``]`` before ``(``, ``[`` or ``:`` (inline links, images, reference links: ``[x]`` alone is
    plain text), ``<`` before a letter, ``/``, ``!`` or ``?`` (raw HTML, autolinks); line breaks
    become spaces. For text that starts a line use :func:`markdown_line`.
    """
    out = one_line(text).replace("\\", "\\\\")
    for char in "|*`":
        out = out.replace(char, "\\" + char)
    out = _LINK_CLOSE.sub(r"\\]", out)
    out = _TAG_OPEN.sub(r"\\<", out)
    return _UNDERSCORE.sub(r"\\_", out)


def markdown_line(text: Any) -> str:
    """:func:`markdown`, and a leading ``#``, ``>``, ``-``, ``+``, ``=``, ``[`` or ``1.`` escaped (a
    caption or description on its own line never becomes a heading, quote, list or link definition)."""
    out = re.sub(r"^(\s*)([#>+=\[-])", r"\1\\\2", markdown(text))
    return re.sub(r"^(\s*\d+)([.)])", r"\1\\\2", out)


def markdown_code(text: Any) -> str:
    """An inline code span holding ``text`` verbatim (a fence longer than any backtick run inside)."""
    body = one_line(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def html_text(text: Any) -> str:
    """HTML text or attribute value (``& < > " '`` escaped, control characters dropped)."""
    return html.escape(strip_control(text), quote=True)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run gets a leading apostrophe: text starting with ``=``,
    ``@``, tab or carriage return, and text starting with ``+`` or ``-`` that holds a call or link
    character (``( | ! = @ "``; ``-2+3+cmd|' /C calc'!A0``). Numbers and ranges such as ``-0.25``
    or ``-0.136 to 1.636`` are left as they are."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or _NUMBER.fullmatch(value.strip()):
        return value
    if value.startswith(("+", "-")) and not any(c in value for c in '(|!=@"'):
        return value
    return "'" + value


def mathtext(text: Any) -> str:
    """A matplotlib label shown as written: each unescaped ``$`` escaped, so mathtext never parses
    user text (idempotent: a figure saved in two formats is escaped once)."""
    return re.sub(r"(?<!\\)\$", r"\\$", str(text))


def figure_text(fig: Any) -> None:
    """Escape ``$`` in every label, title, legend entry and fixed tick label of a matplotlib figure
    (``$\\foo$`` in a title made saving fail). Formatter output (``$\\mathdefault{10^{2}}$``) is
    left as mathtext."""
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter, FuncFormatter

    def literal(s: str) -> str:
        return s if "\\mathdefault" in s or "$" not in s else mathtext(s)

    for text in fig.findobj(Text):
        text.set_text(literal(text.get_text()))
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for formatter in (axis.get_major_formatter(), axis.get_minor_formatter()):
                if isinstance(formatter, FixedFormatter):  # tick labels given as text (term names, levels)
                    formatter.seq = [literal(str(s)) for s in formatter.seq]
                elif isinstance(formatter, FuncFormatter) and not getattr(formatter.func, "_literal", False):
                    def wrapped(x, pos=None, _func=formatter.func):
                        return literal(str(_func(x, pos)))

                    wrapped._literal = True
                    formatter.func = wrapped


def xml_text(text: Any) -> str:
    """Text allowed in XML 1.0 (Word documents): control characters dropped."""
    return strip_control(text)


def map_text(obj: Any, fn: Callable[[str], str]) -> Any:
    """``obj`` with ``fn`` applied to every string inside it (frozen dataclasses, tuples, lists and
    dicts are rebuilt; anything else is returned as it is). E.g. ``map_text(table, xml_text)``."""
    if isinstance(obj, str):
        return fn(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: map_text(getattr(obj, f.name), fn) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(map_text(v, fn) for v in obj)
    if isinstance(obj, list):
        return [map_text(v, fn) for v in obj]
    if isinstance(obj, dict):
        return {k: map_text(v, fn) for k, v in obj.items()}
    return obj
