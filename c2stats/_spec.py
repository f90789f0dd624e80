"""Building blocks of the analysis-file schema, shared by every module that declares a section.

Each stage declares the config keys it reads next to the code that reads them (``tables.TableSpec``,
``figures.FigureSpec``, ``hypotheses.HypothesisSpec``, ``robustness.RobustnessSpec``, ...);
:mod:`c2stats.config` assembles them into :class:`~c2stats.config.AnalysisFile` and does all the
loading and validation.
"""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"

Identifier = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        max_length=64,
        description="Identifier: a letter, then letters, digits, '_', '.' or '-' (it names files in the report).",
    ),
]


class Strict(BaseModel):
    """A config section: unknown keys are errors, values are frozen, strings stripped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def suggest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or a list of the valid names."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(v if v.isprintable() else repr(v) for v in sorted(map(str, valid)))
    return f" (valid: {shown})" if len(valid) <= 30 else ""
