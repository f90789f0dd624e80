"""The registry of model families: name -> class. Nothing in c2stats sits below it but the bottom layer.

A family module registers itself with :func:`register_family`; :mod:`c2stats.families` imports the
built-in ones, so importing that package (not this module) gives the full registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._base import Family

FAMILIES: dict[str, type["Family"]] = {}


def register_family(name: str):
    """Class decorator registering a model family under ``name`` (an outside family does the same)."""

    def decorate(cls):
        cls.name = name
        FAMILIES[name] = cls
        return cls

    return decorate


def get_family(name: str) -> "Family":
    """An instance of the registered family ``name``."""
    return FAMILIES[name]()
