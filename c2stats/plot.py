"""Figures from Python: ``c2stats.plot.<kind>(...)`` for every ``[[figures]]`` kind.

Each function takes the same keys as a ``[[figures]]`` entry of that kind (``c2stats.spec.FigureSpec``),
draws on ``ax`` (default: a new themed Figure of ``width`` x ``height`` inches) and returns the Axes;
nothing is shown or saved (``c2stats.figures.save_figure(ax.figure, path, "pdf")`` writes it
reproducibly). A report and these functions draw through the same code
(:func:`c2stats.figures.draw_figure`), so the same keys give the same figure.

>>> ax = c2stats.plot.coefplot([cox, weibull], exponentiate=True)          # doctest: +SKIP
>>> ax = c2stats.plot.km(cox, data, group="informal", ax=my_axes)           # doctest: +SKIP
>>> fig = c2stats.plot.specification_curve(specs, axes, focal="c2_common")  # doctest: +SKIP

:func:`predict_result` (exported as ``c2stats.predict_result``) gives predictions with intervals
for new data from a Result (R ``predict(..., se.fit = TRUE)``); it lives here because
``Result`` sits in the bottom layer and may not import :mod:`c2stats.predict`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import pandas as pd
from pydantic import ValidationError

from .errors import ConfigError
from .figures import draw_figure
from .predict import predict, predictor
from .results import Result
from .spec import FigureSpec
from .speccurve import plot_specification_curve

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["coefplot", "km", "survival", "predicted", "marginal", "specification_curve", "predict_result"]

specification_curve = plot_specification_curve


def _by_id(results: Result | Sequence[Result] | Mapping[str, Result]) -> dict[str, Result]:
    if isinstance(results, Result):
        return {results.model_id: results}
    if isinstance(results, Mapping):
        return dict(results)
    out = {}
    for r in results:
        if not isinstance(r, Result):
            raise ConfigError(f"plot: expected Result objects (from c2stats.fit or run), got {type(r).__name__}.")
        out[r.model_id] = r
    return out


def _spec(kind: str, models: list[str], keys: dict[str, Any]) -> FigureSpec:
    try:
        return FigureSpec(id=keys.pop("id", kind), kind=kind, models=models, **keys)
    except ValidationError as exc:
        raise ConfigError(f"plot.{kind}: {exc}", where=f"c2stats.plot.{kind}") from None


def coefplot(results: Result | Sequence[Result] | Mapping[str, Result], *, ax: "Axes | None" = None,
             codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> "Axes":
    """Estimates and intervals of one or more models, dodged (keys: exponentiate, terms, labels, models,
    conf_level, conf_int, xlabel, ylabel, width, height, dpi)."""
    by_id = _by_id(results)
    models = list(keys.pop("models", by_id))
    return draw_figure(_spec("coefplot", models, keys), by_id, {}, codebook_labels=codebook_labels, ax=ax)


def _one(kind: str, result: Result, data: pd.DataFrame, ax, codebook_labels, keys) -> "Axes":
    if not isinstance(result, Result):
        raise ConfigError(f"plot.{kind}: the first argument is one Result (from c2stats.fit or run), got "
                          f"{type(result).__name__}.")
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"plot.{kind}: the second argument is the model's dataset as a DataFrame (the one it was "
                          f"fitted on), got {type(data).__name__}.")
    spec = _spec(kind, [result.model_id], keys)
    return draw_figure(spec, {result.model_id: result}, {result.model_id: data}, codebook_labels=codebook_labels,
                       ax=ax)


def km(result: Result, data: pd.DataFrame, *, ax: "Axes | None" = None,
       codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> "Axes":
    """Kaplan-Meier curves of the model's data (keys: time, event, group, group_labels, use_model_sample,
    conf_type, risk_table, risk_times, censor_marks, x_max, y_range, ...)."""
    return _one("km", result, data, ax, codebook_labels, keys)


def survival(result: Result, data: pd.DataFrame, *, ax: "Axes | None" = None,
             codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> "Axes":
    """Predicted survival for named covariate profiles (keys: profiles, at, n_points, x_max, y_range, ...)."""
    return _one("survival", result, data, ax, codebook_labels, keys)


def predicted(result: Result, data: pd.DataFrame, *, ax: "Axes | None" = None,
              codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> "Axes":
    """Predicted probabilities or values across one variable (keys: variable, x_range, by, by_values, at, ...)."""
    return _one("predicted", result, data, ax, codebook_labels, keys)


def marginal(result: Result, data: pd.DataFrame, *, ax: "Axes | None" = None,
             codebook_labels: Mapping[str, str] | None = None, **keys: Any) -> "Axes":
    """The effect of ``variable`` across ``moderator`` (keys: variable, moderator, moderator_values, scale, ...)."""
    return _one("marginal", result, data, ax, codebook_labels, keys)


def predict_result(result: Result, newdata: pd.DataFrame, *, type: Literal["response", "link"] = "response",
                   interval: Literal["link", "response"] | None = None, category: str | None = None,
                   conf_level: float | None = None) -> pd.DataFrame:
    """Predictions of ``result`` at each row of ``newdata``: ``estimate``, ``std_error``, ``conf_low``, ``conf_high``.

    ``type = "response"`` (probabilities, means) or ``"link"`` (the linear predictor), as R's
    ``predict(fit, newdata, type = ..., se.fit = TRUE)``; see :func:`c2stats.predict.predict` for
    ``interval`` and ``category`` (multinomial models). Needs the result's design state and covariance
    (every result from ``c2stats.fit``/``run`` has them).
    """
    if type not in ("response", "link"):
        raise ConfigError(f"predict_result: type is {type!r}; use 'response' or 'link'.")
    out = predict(predictor(result), newdata, scale=type, interval=interval, category=category,
                  conf_level=conf_level)
    out.index = newdata.index
    return out
