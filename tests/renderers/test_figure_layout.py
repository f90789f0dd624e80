"""Every figure kind is readable: measured with matplotlib's own text extents, no two tick labels of
an axis overlap, no text (tick labels, axis labels, titles, legends, risk tables) is cut off by the
figure's edge, and no legend sits over the data. Log axes over many decades get few, readable ticks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from c2stats.figures import (  # noqa: E402
    FigureSpec,
    build_figure,
    coef_plot,
    finish_figure,
    log_tick_label,
    log_ticks,
    overlapping_ticks,
)
from c2stats.results import Result  # noqa: E402
from c2stats.speccurve import plot_specification_curve  # noqa: E402

from tests.renderers.test_figures import fitted  # noqa: E402,F401  (the module-scoped fits of R's reference data)

SPECS = {
    "coefplot": dict(kind="coefplot", models=["cox", "weib"], exponentiate=True),
    "km": dict(kind="km", models=["cox"], group="sex", group_labels={"1": "Male", "2": "Female"},
               xlabel="Days since enrolment in the North Central Cancer Treatment Group lung cancer study"),
    "survival": dict(kind="survival", models=["cox"], profiles={f"sex {s}, ECOG {e}": {"sex": s, "ph_ecog": e}
                                                                for s in (1, 2) for e in (0, 2)}),
    "predicted": dict(kind="predicted", models=["logit"], variable="contig", by="major"),
    "marginal": dict(kind="marginal", models=["inter"], variable="power", moderator="maxdem"),
}


def texts_of(fig):
    """Every visible, non-empty text artist of the figure (ticks, labels, titles, legends, annotations)."""
    hidden = set()  # labels of ticks outside the view limits are not drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not lo - 1e-9 * abs(lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi):
                    hidden |= {id(tick.label1), id(tick.label2)}
    out = []
    for artist in fig.findobj(matplotlib.text.Text):
        if artist.get_visible() and artist.get_text().strip() and id(artist) not in hidden:
            out.append(artist)
    return out


def assert_readable(fig):
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert overlapping_ticks(ax, renderer) == [], "tick labels overlap"
    frame = fig.bbox
    for text in texts_of(fig):
        box = text.get_window_extent(renderer=renderer)
        if box.width == 0:
            continue
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1 and box.y0 >= frame.y0 - 1 and \
            box.y1 <= frame.y1 + 1, f"text {text.get_text()!r} is cut off: {box} outside {frame}"
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer=renderer)
            assert not box.overlaps(ax.get_window_extent(renderer=renderer)) or box.y0 >= ax.bbox.y1 - 1, \
                "the legend sits over the plotting area"


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_figure_kind_is_readable(fitted, kind):  # noqa: F811
    results, data = fitted
    fig = build_figure(FigureSpec.model_validate({"id": kind, **SPECS[kind]}), results, data)
    assert_readable(fig)


def tidy_result(model_id, est, low, high):
    terms = [f"term_{i}" for i in range(len(est))]
    tidy = pd.DataFrame({"term": terms, "estimate": np.log(est), "conf_low": np.log(low), "conf_high": np.log(high)})
    return Result(tidy=tidy, glance={}, meta={"model_id": model_id, "label": model_id, "scale": "log_hazard",
                                              "labels": {}})


def test_log_axis_over_nine_decades_has_readable_ticks():
    """The issue's coefplot: intervals from 1e-4 to 1e5 printed '0.00010.00050.001...' as one run of text."""
    from matplotlib.figure import Figure

    wide = [tidy_result("A", [2.0, 1.0, 0.5], [1e-4, 0.3, 0.2], [1e5, 3.0, 1.1]),
            tidy_result("B", [3.0, 1.2, 0.6], [2e-4, 0.5, 0.3], [5e4, 2.0, 1.4])]
    fig = Figure(figsize=(6, 4), dpi=200, layout="constrained")
    ax = coef_plot(wide, exponentiate=True, codebook_labels={"term_0": "A long codebook label of the first term"},
                   ax=fig.add_subplot())
    finish_figure(fig)
    assert_readable(fig)
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 3 <= len(labels) <= 7, labels
    assert ax.get_yticklabels()[0].get_text().replace("\n", " ") == "A long codebook label of the first term"


@pytest.mark.parametrize("low, high, expected", [
    (0.5, 3.0, [0.5, 1.0, 2.0]),
    (1e-4, 1e5, [1e-4, 1e-2, 1.0, 1e2, 1e4]),
    (0.2, 40.0, [0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]),
])
def test_log_ticks(low, high, expected):
    assert log_ticks(low, high) == pytest.approx(expected)
    assert len({log_tick_label(v) for v in expected}) == len(expected)


def test_specification_curve_is_readable_and_vector():
    rng = np.random.default_rng(1)
    n = 72
    est = np.sort(rng.normal(0.5, 1.5, n))
    specs = pd.DataFrame({"spec": [f"s{i:02d}" for i in range(n)], "family": "cox", "estimate": est,
                          "conf_low": est - 3, "conf_high": est + 3, "p_value": rng.uniform(0, 1, n),
                          "scale": "log_hazard", "status": "ok",
                          "window": np.where(np.arange(n) % 2, "base", "post1991"),
                          "variance": np.where(np.arange(n) % 3, "cluster", "two-way")})
    title = "Specification curve: hazard ratio of the common-support C2 index (formal and informal arrangements)"
    fig = plot_specification_curve(specs, {"window": ["base", "post1991"], "variance": ["cluster", "two-way"]},
                                   focal="c2_common", expected_sign="negative", exponentiate=True, title=title)
    assert fig.dpi == 200 and fig.get_figwidth() >= 7
    assert_readable(fig)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    assert buffer.getvalue().startswith(b"%PDF")


def test_greyscale_distinguishable_series(fitted):  # noqa: F811
    """Curves differ in line style as well as colour, so they stay apart when printed in grey."""
    results, data = fitted
    fig = build_figure(FigureSpec.model_validate({"id": "s", **SPECS["survival"]}), results, data)
    styles = [str(line.get_linestyle()) for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    assert len(styles) == 4 and len(set(styles)) == 4
