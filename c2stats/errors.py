"""Exceptions and warnings with domain names.

Every user-facing error carries *where* (file, key path, column, rows), *what* was expected
and *how to fix it*. The CLI prints ``str(error)`` and exits with status 2 for the
:class:`UserInputError` family; anything else is an internal error.
"""

from __future__ import annotations

import difflib


class C2StatsError(Exception):
    """Base class of every c2stats exception."""


class UserInputError(C2StatsError):
    """Bad input from the user (config, formula, data); the CLI exits with status 2.

    Parameters
    ----------
    message
        What is wrong, naming the offending value and the fix.
    source
        The file the problem is in (analysis file or dataset), if known.
    where
        Key path (``models[2].vcov.type``), column or row description, if known.
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.message = message
        self.source = source
        self.where = where
        super().__init__(self._compose())

    def _compose(self) -> str:
        location = ""
        if self.source and self.where:
            location = f"{self.source}: {self.where}: "
        elif self.source:
            location = f"{self.source}: "
        elif self.where:
            location = f"{self.where}: "
        return f"{location}{self.message}"


class ConfigError(UserInputError):
    """An analysis file is malformed or inconsistent."""


class FormulaError(UserInputError):
    """A model formula or sample restriction is outside the allowed language."""


class DataError(UserInputError):
    """A dataset is missing, unreadable or does not satisfy its schema."""


class SpecificationError(UserInputError):
    """A model cannot be fitted as specified (e.g. unsupported vcov, empty sample)."""


class ConvergenceError(C2StatsError):
    """An estimator failed to converge; the message lists remedies."""


class CheckFailed(C2StatsError):
    """``c2stats run --check`` found the committed report out of date (exit status 1)."""


class C2StatsWarning(UserWarning):
    """Base class of c2stats warnings; recorded in ``Result.meta['warnings']``."""


class RowsDroppedWarning(C2StatsWarning):
    """Rows were dropped (missing values, sample restriction); the message says how many."""


class ConvergenceWarning(C2StatsWarning):
    """A fit ended without meeting its convergence criterion."""


class FewNodesWarning(C2StatsWarning):
    """Dyadic-robust standard errors rest on few distinct nodes (states) and are likely too small."""


def suggest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or a list of the valid names."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(v if v.isprintable() else repr(v) for v in sorted(map(str, valid)))
    return f" (valid: {shown})" if len(valid) <= 30 else ""


class SeparationWarning(C2StatsWarning):
    """The outcome is (quasi-)completely separated; the ML estimates are infinite."""


class CollinearityWarning(C2StatsWarning):
    """A term was omitted because it is a linear combination of other terms."""


class DiagnosticWarning(C2StatsWarning):
    """A diagnostic could not be computed on these data; the result records it as not computable."""
