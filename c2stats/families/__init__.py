"""Model families: one file each, registered by name.

A family is a class with ``name``, ``kind`` ('survival' or 'regression'), ``scale`` of its
estimates, an ``Options`` pydantic model (every option typed and documented), the ``vcov_types``
it supports, and ``fit(spec, data) -> Estimate``. :func:`register_family` adds one.
"""

from __future__ import annotations

from typing import Any

FAMILIES: dict[str, Any] = {}


def register_family(name: str):
    """Class decorator registering a model family under ``name``."""

    def decorate(cls):
        cls.name = name
        FAMILIES[name] = cls
        return cls

    return decorate


def get_family(name: str):
    """An instance of the registered family ``name``."""
    return FAMILIES[name]()


# Importing the modules registers the built-in families.
from . import clogit, cox, discrete_hazard, exponential, firth, logit, mixed, mnlogit, ols, panel, probit, weibull  # noqa: E402,F401
from . import finegray  # noqa: E402,F401
