"""Model families: one file each, registered by name.

A family is a class with ``name``, ``kind`` ('survival' or 'regression'), ``scale`` of its
estimates, an ``Options`` pydantic model (every option typed and documented), the ``vcov_types``
it supports, the facts renderers read (link, binary outcome, fit statistics, prediction support,
remedies: see :class:`~c2stats.families._base.Family`), and ``fit(spec, data) -> Estimate``.
:func:`register_family` adds one; importing this package registers the built-in families.
"""

from __future__ import annotations

# Importing the modules registers the built-in families.
from . import (  # noqa: E402,F401,I001
    clogit,
    cox,
    discrete_hazard,
    exponential,
    finegray,
    firth,
    logit,
    mixed,
    mnlogit,
    ols,
    panel,
    probit,
    weibull,
)
from ._base import Estimate, Family, FamilyOptions, ModelData
from ._registry import FAMILIES, get_family, register_family

__all__ = ["FAMILIES", "Estimate", "Family", "FamilyOptions", "ModelData", "get_family", "register_family"]
