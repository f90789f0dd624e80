"""Exponential regression: durations with a constant hazard (the Weibull model with shape 1).

Same engine, forms and variance as :mod:`c2stats.families.weibull` (R's
``survreg(dist = "exponential")``; Stata's ``streg, distribution(exponential)``), with no
ancillary parameter: ``form = "ph"`` reports log hazard ratios (= minus the AFT coefficients),
``form = "aft"`` effects on log survival time.
"""

from __future__ import annotations

from typing import ClassVar

from ._registry import register_family
from .weibull import Weibull, WeibullOptions


class ExponentialOptions(WeibullOptions):
    """Options of the ``exponential`` family (as weibull)."""


@register_family("exponential")
class Exponential(Weibull):
    """Exponential proportional-hazards / accelerated-failure-time model."""

    dist: ClassVar[str] = "exponential"
    Options = ExponentialOptions
