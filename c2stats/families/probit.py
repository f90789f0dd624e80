"""Binary probit (R's ``glm(family = binomial("probit"))``: expected information, sandwich SEs)."""

from __future__ import annotations

from typing import ClassVar

from ._registry import register_family
from .logit import Logit, LogitOptions


class ProbitOptions(LogitOptions):
    """Options of the ``probit`` family (as logit)."""


@register_family("probit")
class Probit(Logit):
    """Probit regression (coefficients on the latent normal scale; no ratio form)."""

    scale: ClassVar[str] = "probit"
    link: ClassVar[str] = "probit"
    Options = ProbitOptions
