"""Resource limits on hostile or mistaken input, in one place.

An analysis file is data, but data can still ask for unbounded work: ``9 ** 9 ** 9`` in a
restriction, ten thousand nested parentheses, ``reps = 10**12``, ``include = ["/dev/zero"]``, a
FIFO as the dataset, a gzip bomb. Each is refused with a :class:`~c2stats.errors.UserInputError`
that names the key and the limit, instead of hanging, exhausting memory or crashing with a
``RecursionError``. The limits are far above anything a real analysis needs; the file-size
limits can be raised with environment variables for genuinely large data.
"""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path
from typing import Any, Callable

#: Nesting depth of a formula, restriction or arithmetic expression (parentheses, not-chains,
#: operator chains count one level per operator), and of TOML values (tables and arrays).
MAX_DEPTH = 100
#: Nesting of tables and arrays in an analysis file (a real one needs about 5).
MAX_TOML_DEPTH = 16
#: Characters in one formula or restriction.
MAX_EXPRESSION_CHARS = 20_000
#: Integer literals and integer results of ``**`` must fit in 64 bits.
MAX_INT_BITS = 63
#: ``degree``/``df`` of a transform (poly, bs) and the number of its knots.
MAX_BASIS = 100
#: Simulated sample sizes (``n``/``events`` of a simulation): the largest, and how many settings.
MAX_SIMULATED_ROWS = 10_000_000
MAX_SETTINGS = 100
#: Bootstrap replications (simulations have their own, lower cap: c2stats.spec.simulations.MAX_REPS).
MAX_REPS = 1_000_000
#: Characters of a string built in a restriction (``"a" + "b"``); repetition (``"a" * n``) is refused.
MAX_STRING_CHARS = 10_000
#: An analysis file or an ``include``d file.
MAX_TOML_BYTES = 8 * 2**20


def _env_bytes(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "")) or default
    except ValueError:
        return default


def max_dataset_bytes() -> int:
    """A dataset file (``$C2STATS_MAX_DATASET_BYTES``, default 4 GiB)."""
    return _env_bytes("C2STATS_MAX_DATASET_BYTES", 4 * 2**30)


def max_decompressed_bytes() -> int:
    """A compressed dataset once decompressed (``$C2STATS_MAX_DECOMPRESSED_BYTES``, default 8 GiB)."""
    return _env_bytes("C2STATS_MAX_DECOMPRESSED_BYTES", 8 * 2**30)


# ----------------------------------------------------------------------------------------------
# Expressions
# ----------------------------------------------------------------------------------------------
def parse_expression(py: str, fail: Callable[[str], Exception]) -> ast.Expression:
    """``ast.parse(py, mode='eval')`` within :data:`MAX_EXPRESSION_CHARS` and :data:`MAX_DEPTH`.

    ``fail(message)`` builds the error to raise; a SyntaxError propagates for the caller to word.
    """
    if len(py) > MAX_EXPRESSION_CHARS:
        raise fail(f"it is {len(py)} characters long; the limit is {MAX_EXPRESSION_CHARS}. Split it into "
                   "simpler parts or derive a column in the data.")
    try:
        tree = ast.parse(py.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise fail(f"it is nested too deeply (the limit is {MAX_DEPTH} levels of parentheses, 'not' or "
                   "chained operators); simplify it.") from None
    depth = tree_depth(tree)
    if depth > MAX_DEPTH:
        raise fail(f"it is nested {depth} levels deep (parentheses, 'not' or chained operators); the limit is "
                   f"{MAX_DEPTH}. Simplify it, e.g. derive a column in the data.")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            check_int(node.value, fail)
    return tree


def tree_depth(tree: ast.AST) -> int:
    """Depth of an AST, computed without recursion (a RecursionError is what we avoid)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)))
    return deepest


def check_int(value: Any, fail: Callable[[str], Exception]) -> None:
    """Refuse an integer outside 64 bits (a literal, or a parsed transform argument)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        shown = str(value) if value.bit_length() < 200 else f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        raise fail(f"the integer {shown} is too large (the limit is 2**{MAX_INT_BITS}).")


def safe_power(base: Any, exponent: Any, fail: Callable[[str], Exception]) -> None:
    """Refuse ``base ** exponent`` of two Python integers whose result would exceed 64 bits
    (computing ``9 ** 9 ** 9`` takes hours); arrays and floats overflow harmlessly to inf."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or isinstance(base, bool) or isinstance(exponent, bool):
        return
    if exponent < 0 or abs(base) <= 1:
        return
    if exponent * (abs(base).bit_length() - 1) > MAX_INT_BITS:
        raise fail(f"the integer power {base} ** {exponent} is too large (results are limited to 2**{MAX_INT_BITS}).")


def check_repeat(left: Any, right: Any, fail: Callable[[str], Exception]) -> None:
    """Refuse multiplying a string by a number (``"a" * 10**9`` builds a gigabyte)."""
    import pandas as pd

    def texty(v: Any) -> bool:
        return isinstance(v, str) or (isinstance(v, pd.Series) and not pd.api.types.is_numeric_dtype(v.dtype)
                                      and not pd.api.types.is_bool_dtype(v.dtype))

    if texty(left) or texty(right):
        raise fail("multiplying text (string repetition) is not allowed.")


def check_concat(value: Any, fail: Callable[[str], Exception]) -> None:
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        raise fail(f"a string of {len(value)} characters is built; the limit is {MAX_STRING_CHARS}.")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------
def regular_file_size(path: Path, limit: int, fail: Callable[[str], Exception], what: str) -> int:
    """The size of ``path`` after checking it is a regular file of at most ``limit`` bytes.

    A FIFO, socket or device (``/dev/zero``) would block or never end; it is refused before it is
    opened. Symbolic links are followed (the target is checked).
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise fail(f"is {kind}, not a regular file; give the path of a {what} file.")
    if st.st_size > limit:
        raise fail(f"is {st.st_size:,} bytes; the limit for a {what} file is {limit:,} bytes.")
    return st.st_size


def read_limited(path: Path, limit: int, fail: Callable[[str], Exception], what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked again while reading: it may grow)."""
    regular_file_size(path, limit, fail, what)
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise fail(f"is larger than the limit for a {what} file ({limit:,} bytes).")
    return data


def toml_depth(value: Any) -> int:
    """Nesting depth of a parsed TOML value (tables and arrays), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def check_decompressed(path: Path, fail: Callable[[str], Exception]) -> None:
    """Refuse a compressed dataset (``.gz``, ``.xlsx``, ``.zip``) that expands beyond
    :func:`max_decompressed_bytes` (a decompression bomb), streaming without keeping the output."""
    limit = max_decompressed_bytes()
    suffix = path.suffix.lower()
    if suffix == ".gz":
        import gzip
        import zlib

        total = 0
        try:
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(2**20):
                    total += len(chunk)
                    if total > limit:
                        raise fail(f"expands to more than {limit:,} bytes when decompressed (the limit); "
                                   "raise $C2STATS_MAX_DECOMPRESSED_BYTES if the data are genuinely that large.")
        except (OSError, EOFError, zlib.error) as exc:
            raise fail(f"is not a valid gzip file ({exc}).") from None
    elif suffix in (".xlsx", ".zip"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                total = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise fail(f"is not a valid {suffix[1:]} file ({exc}).") from None
        if total > limit:
            raise fail(f"expands to {total:,} bytes when decompressed; the limit is {limit:,} "
                       "($C2STATS_MAX_DECOMPRESSED_BYTES).")
