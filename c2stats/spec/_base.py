"""Building blocks of the analysis-file schema, shared by every section model in :mod:`c2stats.spec`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..errors import suggest  # noqa: F401  (re-exported: spec users import it from here)

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


def string_to_table(key: str) -> BeforeValidator:
    """Accept a plain string as shorthand for ``{key = string}`` (``vcov = "HC1"``, ``dataset = "lung"``)."""

    def convert(value: Any) -> Any:
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(convert)
