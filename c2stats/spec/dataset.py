"""``dataset``: where a model's data come from (a shipped unit, a variant of it, or a file)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ._base import Strict, string_to_table

_Strict = Strict

#: Years the vendored sources cover (COW system membership 1816-2016; SIPRI ends 2014): the bounds of
#: a dataset ``window``. DCAD, and so every informal arrangement, is observed 1980-2010 only.
WINDOW_LIMITS = (1816, 2014)


UNITS = ("arrangements", "arrangement_years", "dyad_years", "agreements")
#: Last year a shipped unit may follow arrangements to (formal ones: ATOP runs to 2018).
FOLLOW_UP_LIMITS = (1980, 2018)




class DatasetRef(_Strict):
    """Where a model's data come from."""

    path: str = Field(
        description=(
            "A shipped dataset by name ('arrangements', 'arrangement_years', 'dyad_years', 'agreements', or an example "
            "such as 'lung'), or a file path relative to the analysis file (.csv, .dta, .parquet, .xlsx, "
            ".rds). A plain string is shorthand for {path = ...}."
        )
    )
    unit: Literal["arrangements", "arrangement_years", "dyad_years", "agreements"] | None = Field(
        default=None,
        description=(
            "The unit a user-supplied file claims to be; it is then checked against that unit's codebook "
            "schema (columns, types, dates, ids, country codes)."
        ),
    )
    coding: str | None = Field(
        default=None,
        description=(
            "Shipped units only: the C2 coding the dataset is built with, a shipped coding by name "
            "('default', 'provisions_only') or a .toml file relative to the analysis file. The units are "
            "rebuilt from the vendored sources once and cached under .c2stats-cache/datasets/."
        ),
    )
    window: tuple[int, int] | None = Field(
        default=None,
        description=(
            "Shipped units only: first and last calendar year of arrangement_years and dyad_years "
            "(default [1980, 2010]; sources cover 1816-2014, DCAD's informal arrangements 1980-2010)."
        ),
    )
    directed: bool = Field(
        default=False,
        description="Shipped dyad_years only: both directions of every dyad (ccode1, ccode2) and (ccode2, ccode1).",
    )
    follow_up_end: int | None = Field(
        default=None,
        description=(
            "Shipped units only: the last year arrangements are followed (censored on 31 December of it). "
            "Default 2010, the end of DCAD's coverage, so formal and informal arrangements are compared over "
            "the same window; 2018 follows formal ones to the end of ATOP (a robustness overlay, not a "
            "comparison of forms)."
        ),
    )
    value_labels: bool = Field(
        default=False,
        description=(
            "Stata (.dta) files: read labelled columns as categories of their value labels (e.g. 'Democracy', "
            "'Autocracy') instead of their numeric codes (the default, as Stata's own estimation commands "
            "use them). Categories enter formulas through C(column)."
        ),
    )

    @model_validator(mode="after")
    def _variant_keys(self) -> "DatasetRef":
        variant = [k for k in ("coding", "window", "follow_up_end") if getattr(self, k) is not None] + \
            (["directed"] if self.directed else [])
        if variant and self.path not in UNITS:
            raise ValueError(f"{', '.join(variant)} apply to the shipped units {list(UNITS)} only, not to {self.path!r}")
        if self.value_labels and not self.path.lower().endswith(".dta"):
            raise ValueError(f"value_labels applies to Stata .dta files only, not to {self.path!r}")
        if self.directed and self.path != "dyad_years":
            raise ValueError("directed applies to dyad_years only")
        if self.window is not None:
            first, last = self.window
            low, high = WINDOW_LIMITS
            if not (low <= first <= last <= high):
                raise ValueError(f"window {list(self.window)} must be [first, last] with {low} <= first <= last <= {high}")
        if self.follow_up_end is not None and not FOLLOW_UP_LIMITS[0] <= self.follow_up_end <= FOLLOW_UP_LIMITS[1]:
            raise ValueError(f"follow_up_end {self.follow_up_end} must be a year in {FOLLOW_UP_LIMITS[0]}-"
                             f"{FOLLOW_UP_LIMITS[1]} (2010: both forms to the end of DCAD; 2018: formal ones to ATOP's end)")
        return self


DatasetField = Annotated[DatasetRef, string_to_table("path")]
