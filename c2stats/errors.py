"""Exceptions and warnings with domain names.

Every user-facing error carries *where* (file, key path, column, rows), *what* was expected
and *how to fix it*. The CLI prints ``str(error)`` and exits with status 2 for the
:class:`UserInputError` family; anything else is an internal error.
"""

from __future__ import annotations


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


class CacheWarning(C2StatsWarning):
    """A fit-cache entry was unreadable, corrupt or edited; the model is fitted again."""
