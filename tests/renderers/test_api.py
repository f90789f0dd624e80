"""The Python / notebook API: c2stats.table, Result.summary / conf_int / _repr_html_,
c2stats.predict_result and c2stats.plot.<kind>.

A table made in Python renders the same bytes as the report's [[tables]] for the same spec (both go
through tables.regression_table); conf_int at another level and predictions are checked against R
(tests/reference/api/, see PROVENANCE.md)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import c2stats  # noqa: E402
from c2stats.errors import ConfigError  # noqa: E402
from c2stats.figures import FigureSpec, build_figure  # noqa: E402
from c2stats.tables import RENDERERS  # noqa: E402

from tests.conftest import REFERENCE, REPO, reference_data  # noqa: E402

R = json.loads((REFERENCE / "api" / "api_reference.json").read_text())
MID = reference_data("mid.csv")
LUNG = reference_data("lung.csv")


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    from c2stats.pipeline import _codebook_labels

    out = tmp_path_factory.mktemp("example")
    summary = c2stats.run(REPO / "analyses" / "example.toml", out=out, executor="serial", cache=False)
    return summary, out, _codebook_labels()


def test_python_table_renders_the_same_bytes_as_the_report(example_run):
    summary, out, labels = example_run
    cfg = c2stats.load_analysis(REPO / "analyses" / "example.toml")
    assert cfg.spec.tables
    for spec in cfg.spec.tables:
        keys = spec.model_dump(exclude={"formats"})
        made = c2stats.table(summary.results, codebook_labels=labels, **keys)
        for fmt in spec.formats:
            if fmt == "docx":
                pytest.importorskip("docx")
            written = (out / "tables" / f"{spec.id}.{fmt}").read_bytes()
            content = RENDERERS[fmt](made.model)
            assert (content if isinstance(content, bytes) else content.encode("utf-8")) == written, (spec.id, fmt)


@pytest.fixture(scope="module")
def logit():
    return c2stats.fit({"id": "logit", "family": "logit", "formula": "conflict ~ major + contig + power + maxdem + "
                        "mindem + years", "options": {"epsilon": 1e-14}}, MID)


@pytest.fixture(scope="module")
def ols():
    return c2stats.fit({"id": "ols", "family": "ols", "formula": "inv ~ value + capital"},
                       reference_data("grunfeld.csv"))


def test_table_object_formats_and_save(logit, ols, tmp_path):
    t = c2stats.table([logit, ols], statistic=["std_error", "conf_int"], numbers=True, title="Two models")
    assert t._repr_html_() == t.to_html() and 'id="tab-table"' in t.to_html()
    assert t.to_markdown().splitlines()[2].startswith("|  | (1) logit | (2) ols |")
    for suffix, render in ((".md", t.to_markdown), (".tex", t.to_latex), (".html", t.to_html), (".csv", t.to_csv)):
        t.save(tmp_path / f"t{suffix}")
        assert (tmp_path / f"t{suffix}").read_text(encoding="utf-8") == render()
    with pytest.raises(ConfigError, match="suffix"):
        t.save(tmp_path / "t.pdf")
    same = c2stats.table({"ols": ols, "logit": logit}, models=["logit", "ols"], statistic=["std_error", "conf_int"],
                         numbers=True, title="Two models")
    assert same.to_latex() == t.to_latex()
    with pytest.raises(ConfigError, match="'nope' is not among the results"):
        c2stats.table([logit], models=["nope"])
    with pytest.raises(ConfigError, match="groups"):
        c2stats.table([logit, ols], groups={"A": ["logit", "missing"]})


def test_conf_int_at_another_level_matches_r(logit, ols):
    for result, key in ((logit, "logit_ci90"), (ols, "ols_ci90")):
        ci = result.conf_int(0.90)
        assert list(ci.index) == R[key]["term"]
        np.testing.assert_allclose(ci["conf_low"], R[key]["low"], rtol=1e-8)
        np.testing.assert_allclose(ci["conf_high"], R[key]["high"], rtol=1e-8)
    own = logit.conf_int()
    np.testing.assert_array_equal(own["conf_low"], logit.tidy["conf_low"])
    with pytest.raises(c2stats.errors.C2StatsError, match="level"):
        logit.conf_int(95)


def test_summary_and_html(logit):
    table = logit.summary(exponentiate=True)
    assert list(table.columns) == ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
                                   "exp_estimate", "exp_conf_low", "exp_conf_high"]
    np.testing.assert_allclose(table["exp_conf_low"], np.exp(logit.tidy["conf_low"]))
    html = logit._repr_html_()
    assert "<table" in html and "major" in html and "nobs = 3,126" in html


def test_predict_result_matches_r(logit):
    newdata = pd.DataFrame({"major": [0, 1], "contig": [1, 0], "power": [0.2, 0.8], "maxdem": [5, -5],
                            "mindem": [-3, 2], "years": [1, 10]})
    link = c2stats.predict_result(logit, newdata, type="link")
    np.testing.assert_allclose(link["estimate"], R["logit_predict"]["link"], rtol=1e-8)
    np.testing.assert_allclose(link["std_error"], R["logit_predict"]["link_se"], rtol=1e-7)
    resp = c2stats.predict_result(logit, newdata)
    np.testing.assert_allclose(resp["estimate"], R["logit_predict"]["response"], rtol=1e-8)
    np.testing.assert_allclose(resp["std_error"], R["logit_predict"]["response_se"], rtol=1e-7)
    with pytest.raises(ConfigError, match="type"):
        c2stats.predict_result(logit, newdata, type="probability")


@pytest.fixture(scope="module")
def cox():
    return c2stats.fit({"id": "cox", "family": "cox", "formula": "~ age + sex + ph_ecog", "time": "time",
                        "event": "event"}, LUNG)


@pytest.mark.parametrize("kind, keys", [
    ("km", {"group": "sex"}),
    ("survival", {"profiles": {"Male": {"sex": 1}, "Female": {"sex": 2}}}),
    ("marginal", {"variable": "age", "moderator": "sex"}),
])
def test_plot_kinds_draw_what_the_report_draws(cox, kind, keys):
    from matplotlib.figure import Figure

    ax = getattr(c2stats.plot, kind)(cox, LUNG, **keys)
    report = build_figure(FigureSpec(id=kind, kind=kind, models=["cox"], **keys), {"cox": cox}, {"cox": LUNG})
    for mine, theirs in zip(ax.lines, report.axes[0].lines):
        np.testing.assert_array_equal(mine.get_xydata(), theirs.get_xydata())
    assert len(ax.lines) == len(report.axes[0].lines) > 0
    given = Figure().add_subplot()
    assert getattr(c2stats.plot, kind)(cox, LUNG, ax=given, **keys) is given


def test_plot_coefplot_and_predicted(logit, cox):
    ax = c2stats.plot.coefplot([logit], terms=["major", "contig"], codebook_labels={"major": "Major power"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Major power", "contig"]
    ax = c2stats.plot.predicted(logit, MID, variable="power", n_points=5)
    assert len(ax.lines[0].get_xdata()) == 5
    with pytest.raises(ConfigError, match="dataset"):
        c2stats.plot.km(cox, "lung.csv")
    with pytest.raises(ConfigError, match="plot.km"):
        c2stats.plot.km(cox, LUNG, kind_of="nothing")
