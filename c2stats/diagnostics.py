"""Diagnostics that gate results: separation, collinearity, proportional hazards, convergence.

Run automatically by :func:`c2stats.pipeline.fit_model` for the families they concern.
"""

from __future__ import annotations


def check_model_keys(model, family) -> None:
    """Cross-field rules of the diagnostic keys of a ``[[models]]`` entry (raise ConfigError)."""


def fit_with_remedies(model, data, family):
    """Fit ``model`` on prepared ``data``, applying the declared remedies; returns (estimate, family, notes)."""
    return family.fit(model, data), family, []
