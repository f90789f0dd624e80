"""Publication tables: layout, every format, snapshots, escaping, and ratio numbers checked against R.

Snapshots live in tests/snapshots/<case>.<fmt> (docx: <case>.docx.txt, a text dump of word/document.xml).
After an intended layout change, regenerate them and review the diff before committing:

    C2STATS_UPDATE_SNAPSHOTS=1 python -m pytest -q tests/renderers/test_tables.py
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from c2stats.errors import ConfigError
from c2stats.results import Result
from c2stats.tables import (
    GOF_MAP,
    LATEX_PREAMBLE,
    RENDERERS,
    TableModel,
    TableRow,
    TableSpec,
    build_table,
    frame_table,
    latex_escape,
    render_csv,
    render_docx,
    render_html,
    render_latex,
    render_markdown,
)

from tests.conftest import REFERENCE, reference_data

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
UPDATE = os.environ.get("C2STATS_UPDATE_SNAPSHOTS") == "1"
SPECIALS = "A&B%C$D#E_F{G}H~I^J\\K²L×M→N<O>P|Q"


# ----------------------------------------------------------------------------------------------
# Fixed inputs (no fitting): tidy/glance frames as families produce them
# ----------------------------------------------------------------------------------------------
def tidy(terms, est, se, component=None, conf_level=0.95) -> pd.DataFrame:
    est, se = np.asarray(est, float), np.asarray(se, float)
    z = est / se
    q = stats.norm.ppf(0.5 + conf_level / 2)
    frame = pd.DataFrame({"term": terms, "estimate": est, "std_error": se, "statistic": z,
                          "p_value": 2 * stats.norm.sf(np.abs(z)), "conf_low": est - q * se, "conf_high": est + q * se})
    if component is not None:
        frame.insert(1, "component", component)
    return frame


def result(model_id, family, scale, tidy_frame, glance, label=None, labels=None) -> Result:
    meta = {"model_id": model_id, "label": label or model_id, "family": family, "scale": scale,
            "conf_level": 0.95, "labels": labels or {}}
    return Result(tidy=tidy_frame, glance=glance, meta=meta)


def cox_pair() -> list[Result]:
    """survival::lung Cox (Efron) with model-based and institution-clustered SEs (R's golden values)."""
    terms, est = ["age", "sex", "ph_ecog"], [0.0112321642572748, -0.556593413985132, 0.469216396766102]
    base = {"nobs": 226, "n_events": 163, "loglik": -724.119253118481, "aic": 1454.2385062369615,
            "bic": 1463.5197568393817, "ties": "efron", "converged": True, "ph_global_p": 0.17365585355589}
    efron = result("cox_efron", "cox", "log_hazard", tidy(terms, est, [0.00926210540597481, 0.168071030877183, 0.11429040215874]),
                   {**base, "vcov_type": "Model-based", "n_clusters": None}, label="Cox (Efron)",
                   labels={"ph_ecog": "ECOG score"})
    clust = result("cox_cluster", "cox", "log_hazard", tidy(terms, est, [0.00688872705633099, 0.112286679907034, 0.117615953271261]),
                   {**base, "vcov_type": "Clustered", "n_clusters": 18}, label="Cox, clustered")
    return [efron, clust]


def mixed_models() -> list[Result]:
    """A logit, a non-converged multinomial logit (two outcome columns) and a Weibull with an ancillary row."""
    logit = result("logit", "logit", "log_odds",
                   tidy(["(Intercept)", "gdp", "power:gdp"], [-2.5, 0.31, -0.04], [0.4, 0.12, 0.0205]),
                   {"nobs": 3126, "loglik": -1000.25, "aic": 2006.5, "bic": 2024.6, "pseudo_r2": 0.1234,
                    "vcov_type": "HC1", "converged": True}, label="Logit & co_1")
    mnl = result("mnl", "mnlogit", "log_relative_risk",
                 tidy(["(Intercept)", "gdp", "(Intercept)", "gdp"], [-1.6, 0.2, -1.8, -0.05], [0.4, 0.09, 0.41, 0.2],
                      component=["PAN", "PAN", "PRD", "PRD"]),
                 {"nobs": 1359, "loglik": -1178.83, "aic": 2373.67, "bic": 2415.38, "pseudo_r2": 0.14, "base": "PRI",
                  "vcov_type": "Model-based", "converged": False}, label="MNL")
    weib = result("weib", "weibull", "log_hazard",
                  tidy(["gdp", "log_shape"], [0.5, 0.25], [0.2, 0.08], component=["", "ancillary"]),
                  {"nobs": 26, "n_events": 12, "loglik": -97.0, "aic": 200.0, "bic": 203.8, "vcov_type": "Model-based",
                   "converged": True}, label="Weibull PH")
    return [logit, mnl, weib]


def feature_models() -> list[Result]:
    """Three OLS-like fits with recorded vcov specs (one-way and two-way clusters, dyadic) and large numbers."""
    terms = ["(Intercept)", "gdp", "year_1990", "year_2000", "power:gdp"]
    out = []
    for i, vcov in enumerate([{"type": "cluster", "groups": "treaty_id"},
                              {"type": "cluster", "groups": ["ccode1", "ccode2"]},
                              {"type": "dyadic", "groups": ["ccode1", "ccode2"]}]):
        r = result(f"m{i + 1}", "ols", "identity",
                   tidy(terms, [12345.678 + i, -0.0012345, 0.2, -0.3, 1.5 - i], [2345.6, 0.0004, 0.1, 0.2, 0.5]),
                   {"nobs": 12000 + i, "vcov_type": {"cluster": "Clustered", "dyadic": "Dyadic-robust"}[vcov["type"]],
                    "n_clusters": 40, "converged": True}, label=f"OLS {i + 1}")
        out.append(Result(tidy=r.tidy, glance=r.glance, meta={**r.meta, "vcov": vcov}))
    return out


FEATURE_CODEBOOK = {"treaty_id": "Treaty", "ccode1": "State 1 (COW code)", "ccode2": "State 2 (COW code)"}


def feature_spec(**overrides) -> TableSpec:
    keys = dict(id="features", models=["m1", "m2", "m3"], title="Table 4. Every table feature",
                groups={"Clustered": ["m1", "m2"], "Dyadic": ["m3"]}, add_rows={"Year FE": ["Yes", "Yes", "No"]},
                statistic=["std_error", "conf_int"], drop=["^year_"], numbers=True, notes="none",
                fmt={"significant": 3, "thousands": True, "terms": {"(Intercept)": 1}}, gof=["nobs", "vcov_type"])
    keys.update(overrides)
    return TableSpec(**keys)


CODEBOOK = {"gdp": "GDP per capita (US$, 1000s)", "power": "Power² × 100%", "sex": "Sex (1 = male, 2 = female)",
            "age": "Age (years)", "ph_ecog": "ECOG (codebook)"}


def verdict_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "hypothesis": ["H1: formal → longer", "H2", "H3"],
        "estimate": [0.5732, 1.2, float("nan")],
        "p_value": [0.000123, 0.0512, float("nan")],
        "n": [226, 3126, 0],
        "verdict": ["supported", "not supported", "not tested"],
        "preregistered": [True, False, True],
    })


def cases() -> dict[str, TableModel]:
    return {
        "cox_hr": build_table(cox_pair(), TableSpec(id="cox_hr", models=["cox_efron", "cox_cluster"],
                                                    title="Cox models of survival (hazard ratios)", exponentiate=True,
                                                    notes=["Source: survival::lung."]), CODEBOOK),
        "mixed_ci": build_table(mixed_models(), TableSpec(
            id="mixed_ci", models=["logit", "mnl", "weib"], title="Mixed families: 95% CIs", statistic="conf_int",
            stars={"+": 0.1, "*": 0.05}, digits=2, terms=["gdp", "power:gdp", "ancillary: log_shape", "(Intercept)"],
            labels={"(Intercept)": "Constant"}), CODEBOOK),
        "features": build_table(feature_models(), feature_spec(), FEATURE_CODEBOOK),
        "frame_verdicts": frame_table(verdict_frame(), "Hypotheses & verdicts", ["Two-sided tests; α = 0.05."],
                                      digits={"estimate": 2, "p_value": 4}, table_id="verdicts"),
    }


# ----------------------------------------------------------------------------------------------
# Helpers: docx text dump, LaTeX structure check
# ----------------------------------------------------------------------------------------------
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_text(data: bytes) -> str:
    """Readable dump of word/document.xml: paragraphs (style, runs; superscripts as ^{..}) and table rows
    (cells with spans, and the border rules above/below each row)."""
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))

    def runs(el) -> str:
        out = []
        for r in el.iter(f"{W}r"):
            text = "".join(t.text or "" for t in r.iter(f"{W}t"))
            va = r.find(f"{W}rPr/{W}vertAlign")
            out.append(f"^{{{text}}}" if va is not None and va.get(f"{W}val") == "superscript" else text)
        return "".join(out)

    lines = []
    for child in root.find(f"{W}body"):
        if child.tag == f"{W}p":
            style = child.find(f"{W}pPr/{W}pStyle")
            lines.append(f"P[{style.get(f'{W}val') if style is not None else ''}] {runs(child)}")
        elif child.tag == f"{W}tbl":
            for tr in child.findall(f"{W}tr"):
                cells, rules = [], set()
                for tc in tr.findall(f"{W}tc"):
                    span = tc.find(f"{W}tcPr/{W}gridSpan")
                    jc = tc.find(f"{W}p/{W}pPr/{W}jc")
                    cell = runs(tc) + (f"{{span={span.get(f'{W}val')}}}" if span is not None else "")
                    cells.append(cell + (f"@{jc.get(f'{W}val')[0]}" if jc is not None else ""))
                    for edge in ("top", "bottom"):
                        b = tc.find(f"{W}tcPr/{W}tcBorders/{W}{edge}")
                        if b is not None:
                            rules.add(f"{edge}={b.get(f'{W}sz')}")
                lines.append("R " + " | ".join(cells) + (f"   [{', '.join(sorted(rules))}]" if rules else ""))
    return "\n".join(lines) + "\n"


def rendered(model: TableModel, fmt: str) -> str:
    if fmt == "docx.txt":
        return docx_text(render_docx(model))
    return RENDERERS[fmt](model)


_ESCAPES = re.compile(r"\\[&%$#_{}]|\\\\")


def latex_problems(tex: str) -> list[str]:
    """Structural problems of a rendered table: environments, braces, cells per row, unescaped specials."""
    problems = []
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"unbalanced \\end{{{env}}}")
    problems += [f"unclosed \\begin{{{env}}}" for env in stack]
    if any(ord(ch) > 127 for ch in tex):
        problems.append("non-ASCII characters left unescaped")
    body = tex.split("\\begin{tabular}{", 1)[1]
    depth, end = 1, 0
    while depth and end < len(body):
        depth += {"{": 1, "}": -1}.get(body[end], 0)
        end += 1
    spec, body = body[: end - 1], body[end:]
    spec = re.sub(r"@\{\}", "", spec)
    spec = re.sub(r"S\[[^\]]*\]", "S", re.sub(r">\{[^}]*\}p\{[^}]*\}", "p", spec))
    ncol = len(spec)
    for line in tex.splitlines():
        if line.startswith("%"):
            continue
        bare = _ESCAPES.sub("", re.sub(r"\\label\{tab:[A-Za-z0-9_.-]+\}", "", line))  # '_' is fine in label keys
        bare = re.sub(r"S\[[^\]]*\]", "S", bare)  # siunitx options (table-format=-1.3)
        depth = 0
        for ch in bare:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth < 0:
                break
        if depth != 0:
            problems.append(f"unbalanced braces: {line}")
        for ch in "%$#_^~":
            if ch in bare and not (ch == "^" and "\\ensuremath{^{" in line):
                problems.append(f"unescaped {ch!r}: {line}")
    for line in body.split("\\end{tabular}")[0].splitlines():
        if not line.endswith("\\\\"):
            continue
        cells = _ESCAPES.sub("", line[:-2]).split("&")
        width = sum(int(m.group(1)) if (m := re.match(r"\s*\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
        if width != ncol:
            problems.append(f"{width} columns instead of {ncol}: {line}")
    return problems


# ----------------------------------------------------------------------------------------------
# Snapshots
# ----------------------------------------------------------------------------------------------
FORMATS = ["md", "tex", "html", "csv", "docx.txt"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", ["cox_hr", "mixed_ci", "features", "frame_verdicts"])
def test_snapshot(case, fmt):
    if fmt == "docx.txt":
        pytest.importorskip("docx")
    text = rendered(cases()[case], fmt)
    path = SNAPSHOTS / f"{case}.{fmt}"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"no snapshot {path.name}; create it with C2STATS_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed; review, then C2STATS_UPDATE_SNAPSHOTS=1"


def test_renderers_cover_every_declared_format():
    declared = TableSpec.model_fields["formats"].annotation.__args__[0].__args__
    assert set(RENDERERS) == set(declared) == {"md", "tex", "html", "csv", "docx"}


# ----------------------------------------------------------------------------------------------
# Ratio numbers against R (tests/reference/tables: script, raw output, ratios.json)
# ----------------------------------------------------------------------------------------------
def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", cell)]


@pytest.fixture(scope="module")
def r_ratios() -> dict:
    return json.loads((REFERENCE / "tables" / "ratios.json").read_text())


@pytest.fixture(scope="module")
def lung_fits():
    from c2stats.pipeline import fit

    lung = reference_data("lung.csv")
    spec = {"family": "cox", "formula": "~ age + sex + ph_ecog", "time": "time", "event": "event"}
    return {"cox_efron": fit(spec, lung),
            "cox_cluster_inst": fit({**spec, "vcov": {"type": "cluster", "groups": "inst"}}, lung)}


@pytest.mark.parametrize("case", ["cox_efron", "cox_cluster_inst"])
def test_hazard_ratios_and_their_intervals_match_r(case, lung_fits, r_ratios):
    r = lung_fits[case]
    expected = r_ratios[case]
    for statistic in ("conf_int", "std_error"):
        spec = TableSpec(id="t", models=["m"], exponentiate=True, statistic=statistic, digits=6, stars=False)
        table = build_table([r], spec)
        coef = {row.term: _numbers(row.cells[0])[0] for row in table.body if row.kind == "coef"}
        below = {row.term: _numbers(row.cells[0]) for row in table.body if row.kind == "stat"}
        assert set(coef) == set(expected)
        for term, ref in expected.items():
            assert coef[term] == pytest.approx(ref["ratio"], abs=6e-7)
            if statistic == "conf_int":  # exp of R's limits, asymmetric around the ratio
                assert below[term] == pytest.approx([ref["lower"], ref["upper"]], abs=6e-7)
            else:
                assert below[term] == pytest.approx([ref["ratio_se"]], abs=6e-7)
        assert table.notes[0].startswith("Hazard ratios (exponentiated coefficients)")


def test_odds_ratios_match_r(r_ratios):
    from c2stats.pipeline import fit

    r = fit({"family": "logit", "formula": "conflict ~ major + contig + power + maxdem + mindem + years"},
            reference_data("mid.csv"))
    table = build_table([r], TableSpec(id="t", models=["m"], exponentiate=True, statistic="conf_int", digits=6))
    coef = {row.term: _numbers(row.cells[0])[0] for row in table.body if row.kind == "coef"}
    below = {row.term: _numbers(row.cells[0]) for row in table.body if row.kind == "stat"}
    assert set(coef) == set(r_ratios["logit_mid"])
    for term, ref in r_ratios["logit_mid"].items():
        assert coef[term] == pytest.approx(ref["ratio"], rel=2e-6, abs=6e-7)
        assert below[term] == pytest.approx([ref["lower"], ref["upper"]], rel=2e-6, abs=6e-7)
    assert table.notes[0].startswith("Odds ratios (exponentiated coefficients); 95% confidence intervals")


def test_exponentiated_interval_is_not_ratio_plus_minus_se():
    efron = cox_pair()[0]
    table = build_table([efron], TableSpec(id="t", models=["m"], exponentiate=True, statistic="conf_int", digits=4))
    # sex: b = -0.5566, se = 0.1681 -> HR 0.5732, CI exp(b -+ 1.96 se) = [0.4123, 0.7968] (hand computation)
    row = [r for r in table.body if r.term == "sex" and r.kind == "stat"][0]
    assert row.cells[0] == "[0.4123, 0.7968]"


def test_ancillary_rows_are_not_exponentiated():
    weib = mixed_models()[2]
    table = build_table([weib], TableSpec(id="t", models=["w"], exponentiate=True, stars=False))
    cells = {r.term: r.cells[0] for r in table.body if r.kind == "coef"}
    assert cells == {"gdp": f"{math.exp(0.5):.3f}", "ancillary: log_shape": "0.250"}
    assert any("not exponentiated" in n for n in table.notes)


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------
def test_multinomial_one_column_per_outcome_and_dagger():
    logit, mnl, weib = mixed_models()
    table = build_table([logit, mnl, weib], TableSpec(id="t", models=["a"], stars=False))
    assert table.columns == ("Logit & co_1", "MNL†: PAN", "MNL†: PRD", "Weibull PH")
    assert table.groups == (("Logit & co_1", 1), ("MNL†", 2), ("Weibull PH", 1))
    assert table.subcolumns == ("", "PAN", "PRD", "")
    gdp = [r for r in table.body if r.term == "gdp" and r.kind == "coef"][0]
    assert gdp.cells == ("0.310", "0.200", "-0.050", "0.500")
    assert sum(r.term == "gdp" for r in table.body) == 2  # one estimate row + one row beneath, not stacked per outcome
    nobs = [r for r in table.gof if r.term == "nobs"][0]
    assert nobs.cells == ("3,126", "1,359", "", "26")  # fit statistics once per model
    assert any(n.startswith("† Did not converge (MNL)") for n in table.notes)
    assert any("against the base category 'PRI'" in n for n in table.notes)
    assert "ancillary: log_shape" in [r.term for r in table.body]
    assert [r.label for r in table.body if r.term == "ancillary: log_shape"][0] == "ancillary: log_shape"


def test_statistic_beneath_choices():
    efron = cox_pair()[0]
    below = {}
    for statistic in ("std_error", "conf_int", "statistic", "p_value", "none"):
        table = build_table([efron], TableSpec(id="t", models=["m"], statistic=statistic, stars=False))
        below[statistic] = [r.cells[0] for r in table.body if r.kind == "stat" and r.term == "sex"]
    # sex: b = -0.556593, se = 0.168071: z = -3.3117, p = 2 * Phi(-3.3117) = 0.000927
    assert below == {"std_error": ["(0.168)"], "conf_int": ["[-0.886, -0.227]"], "statistic": ["(-3.31)"],
                     "p_value": ["(<0.001)"], "none": []}


def test_stars_default_custom_and_off():
    frame = tidy(["a", "b", "c", "d"], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    frame["p_value"] = [0.05, 0.0499, 0.0099, 0.0009]
    r = result("m", "logit", "log_odds", frame, {"nobs": 5})

    def marks(stars):
        table = build_table([r], TableSpec(id="t", models=["m"], stars=stars))
        return [row.marks[0] for row in table.body if row.kind == "coef"], table.notes

    got, notes = marks(True)
    assert got == ["", "*", "**", "***"] and "* p < 0.05, ** p < 0.01, *** p < 0.001." in notes
    got, notes = marks({"+": 0.1, "*": 0.05})
    assert got == ["+", "*", "*", "*"] and "+ p < 0.1, * p < 0.05." in notes
    got, notes = marks(False)
    assert got == ["", "", "", ""] and not any(" p < " in n for n in notes)


def test_stars_spec_is_validated():
    with pytest.raises(ValidationError, match="thresholds are p-values"):
        TableSpec(id="t", models=["m"], stars={"*": 5})
    with pytest.raises(ValidationError, match="share a threshold"):
        TableSpec(id="t", models=["m"], stars={"*": 0.05, "+": 0.05})


def test_term_order_labels_and_codebook_precedence():
    efron, clust = cox_pair()
    spec = TableSpec(id="t", models=["a", "b"], terms=["sex", "age"], labels={"sex": "Female"})
    table = build_table([efron, clust], spec, CODEBOOK)
    assert [r.label for r in table.body if r.kind == "coef"] == ["Female", "Age (years)"]
    # model labels beat the codebook; the table's labels beat both
    table = build_table([efron], TableSpec(id="t", models=["a"]), CODEBOOK)
    assert [r.label for r in table.body if r.kind == "coef"] == ["Age (years)", "Sex (1 = male, 2 = female)", "ECOG score"]
    logit = mixed_models()[0]
    table = build_table([logit], TableSpec(id="t", models=["a"]), CODEBOOK)
    assert "GDP per capita (US$, 1000s) × Power² × 100%" not in [r.label for r in table.body]
    assert "Power² × 100% × GDP per capita (US$, 1000s)" in [r.label for r in table.body]


def test_unknown_term_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"term 'sexx' is in none of the table's models \(did you mean 'sex'\?\)"):
        build_table(cox_pair(), TableSpec(id="tab", models=["a"], terms=["sexx"]))


def test_fit_statistics_per_family_and_blank_when_missing():
    efron = cox_pair()[0]
    logit = mixed_models()[0]
    table = build_table([efron, logit], TableSpec(id="t", models=["a", "b"]))
    gof = {r.term: r.cells for r in table.gof}
    assert list(gof) == ["nobs", "n_events", "loglik", "aic", "bic", "pseudo_r2", "ph_global_p", "ties", "vcov_type"]
    assert gof["ph_global_p"] == ("0.174", "") and gof["ties"] == ("efron", "") and gof["pseudo_r2"] == ("", "0.123")
    assert gof["nobs"] == ("226", "3,126") and gof["loglik"] == ("-724.12", "-1,000.25")
    table = build_table([efron, logit], TableSpec(id="t", models=["a", "b"], gof=["n_clusters", "aic", "deviance"]))
    assert [(r.label, r.cells) for r in table.gof] == [("Clusters", ("", "")), ("AIC", ("1,454.2", "2,006.5")),
                                                       ("deviance", ("", ""))]
    assert {"key", "label", "digits", "scope"} <= set(GOF_MAP.columns) and GOF_MAP["key"].is_unique
    tiny = result("c", "cox", "log_hazard", tidy(["x"], [1.0], [0.5]), {"nobs": 10, "ph_global_p": 0.00042})
    assert [r.cells for r in build_table([tiny], TableSpec(id="t", models=["c"], gof=["ph_global_p"])).gof] == [("<0.001",)]


def test_scale_notes():
    efron = cox_pair()[0]
    logit, mnl, weib = mixed_models()
    note = lambda rs, **kw: build_table(rs, TableSpec(id="t", models=["a"], **kw)).notes[0]  # noqa: E731
    assert note([efron]) == "Coefficients (log hazard); standard errors in parentheses."
    assert note([efron], exponentiate=True) == ("Hazard ratios (exponentiated coefficients); delta-method standard "
                                                "errors of the ratios in parentheses.")
    assert note([logit, mnl], exponentiate=True, statistic="none") == (
        "Exponentiated coefficients: odds ratios (Logit & co_1); relative-risk ratios (MNL).")
    ols = result("o", "ols", "identity", tidy(["x"], [1.0], [0.5]), {"nobs": 10})
    assert note([ols], exponentiate=True, statistic="p_value") == "Exponentiated coefficients; p-values in parentheses."


# ----------------------------------------------------------------------------------------------
# Formats: structure and escaping
# ----------------------------------------------------------------------------------------------
def special_table() -> TableModel:
    r = result("m", "logit", "log_odds", tidy(["x_1"], [0.5], [0.1]), {"nobs": 10, "vcov_type": "HC1 & more"},
               label=SPECIALS)
    return build_table([r], TableSpec(id="t_1", models=["m"], title=SPECIALS, labels={"x_1": SPECIALS},
                                      notes=[SPECIALS]))


def test_latex_escapes_every_special_character():
    tex = render_latex(special_table())
    escaped = (r"A\&B\%C\$D\#E\_F\{G\}H\textasciitilde{}I\textasciicircum{}J\textbackslash{}K\textsuperscript{2}"
               r"L\ensuremath{\times}M\ensuremath{\rightarrow}N\textless{}O\textgreater{}P\textbar{}Q")
    assert latex_escape(SPECIALS) == escaped
    assert tex.count(escaped) == 4  # caption, column header, row label, note
    assert latex_problems(tex) == []
    assert "\\label{tab:t_1}" in tex


@pytest.mark.parametrize("case", ["cox_hr", "mixed_ci", "features", "frame_verdicts"])
def test_latex_structure(case):
    tex = render_latex(cases()[case])
    assert latex_problems(tex) == []
    assert "\\toprule" in tex and "\\bottomrule" in tex and ("\\begin{tablenotes}" in tex) == bool(cases()[case].notes)


def test_latex_checker_catches_broken_tables():
    assert latex_problems("\\begin{tabular}{lc}\na & b & c \\\\\n\\end{tabular}\n")
    assert latex_problems("\\begin{table}\\begin{tabular}{lc}\na_1 & b \\\\\n\\end{tabular}\n")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
@pytest.mark.parametrize("case", ["cox_hr", "mixed_ci", "frame_verdicts"])
def test_latex_compiles(case, tmp_path):
    tex = render_latex(cases()[case])
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n" + LATEX_PREAMBLE
                                      + "\\begin{document}\n" + tex + "\\end{document}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]


def test_html_is_well_formed_and_text_round_trips():
    model = special_table()
    root = ET.fromstring(render_html(model))
    assert root.tag == "table" and [c.tag for c in root] == ["caption", "thead", "tbody", "tbody", "tfoot"]
    assert "".join(root.find("caption").itertext()) == SPECIALS
    assert "".join(root.find("thead/tr").findall("th")[1].itertext()) == SPECIALS
    assert "".join(root.find("tbody/tr/th").itertext()) == SPECIALS
    assert "".join(root.find("tbody/tr/td").itertext()) == "0.500***"
    assert root.find("tbody/tr/td/sup").text == "***"
    assert any("".join(td.itertext()) == SPECIALS for td in root.iter("td"))
    for case in cases().values():
        table = ET.fromstring(render_html(case))
        widths = {sum(int(c.get("colspan", 1)) for c in tr) for tr in table.iter("tr")}
        assert widths == {len(case.columns) + 1}


def test_csv_is_machine_readable():
    model = cases()["mixed_ci"]
    rows = list(csv.reader(io.StringIO(render_csv(model))))
    assert rows[0] == ["kind", "key", "label", *model.columns]
    assert {len(r) for r in rows} == {len(model.columns) + 3}
    kinds = [r[0] for r in rows[1:]]
    assert kinds == ["title", *(r.kind for r in model.rows), *(["note"] * len(model.notes))]
    body = [r for r in rows if r[0] in ("coef", "stat", "gof")]
    assert [r[1:] for r in body] == [[row.term, row.label, *row.cells] for row in model.rows]
    special = list(csv.reader(io.StringIO(render_csv(special_table()))))
    assert special[1] == ["title", "", SPECIALS, ""] and special[2][2] == SPECIALS


def test_markdown_cells_line_up_and_are_escaped():
    md = render_markdown(special_table())
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in table_lines} == {3}
    assert "P\\|Q" in md and "E_F" in md  # intraword '_' stays literal in GFM


def test_docx_is_deterministic_with_fixed_metadata():
    pytest.importorskip("docx")
    model = cases()["mixed_ci"]
    first, second = render_docx(model), render_docx(model)
    assert first == second
    archive = zipfile.ZipFile(io.BytesIO(first))
    names = archive.namelist()
    assert names[0] == "[Content_Types].xml" and names[1:] == sorted(names[1:])
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    core = archive.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core and "<cp:revision>1</cp:revision>" in core
    import docx

    document = docx.Document(io.BytesIO(first))  # opens as a Word document
    assert document.tables[0].cell(2, 0).text == "GDP per capita (US$, 1000s)"
    assert document.paragraphs[0].text == "Mixed families: 95% CIs"


def test_docx_missing_dependency_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "docx", None)
    with pytest.raises(ConfigError, match=r"pip install 'c2stats\[docx\]'"):
        render_docx(cases()["cox_hr"])


# ----------------------------------------------------------------------------------------------
# Generic tables
# ----------------------------------------------------------------------------------------------
def test_frame_table_formats_cells():
    model = frame_table(verdict_frame(), digits={"estimate": 2, "p_value": 4})
    assert model.stub == "hypothesis" and model.columns == ("estimate", "p_value", "n", "verdict", "preregistered")
    assert [r.label for r in model.rows] == ["H1: formal → longer", "H2", "H3"]
    assert model.rows[0].cells == ("0.57", "0.0001", "226", "supported", "yes")
    assert model.rows[2].cells == ("", "", "0", "not tested", "yes")
    assert model.align == ("c", "c", "c", "l", "l")
    assert frame_table(verdict_frame(), digits=1).rows[1].cells[:2] == ("1.2", "0.1")


def test_frame_table_keeps_a_named_index_and_rejects_bad_frames():
    frame = pd.DataFrame({"value": [1.5, -0.0004]}, index=pd.Index(["a", "b"], name="check"))
    model = frame_table(frame, digits=3)
    assert model.stub == "check" and [r.cells for r in model.rows] == [("1.500",), ("0.000",)]
    with pytest.raises(Exception, match="duplicate column names"):
        frame_table(pd.DataFrame([[1, 2, 3]], columns=["a", "b", "b"]))
    for fmt in ("md", "tex", "html", "csv"):
        assert "check" in RENDERERS[fmt](model)


def test_report_style_positional_model_still_renders():
    model = cases()["cox_hr"]
    shown = TableModel(model.id, "", model.columns, model.rows, model.notes)  # as report.py builds index.md
    assert render_markdown(shown) == render_markdown(model).split("\n", 2)[2]


def test_transformed_term_takes_the_label_of_its_column():
    from c2stats.tables import _term_label

    labels = {"mids_prior5": "MIDs, prior 5 years", "informal": "Informal"}
    assert _term_label("log1p(mids_prior5)", labels) == "MIDs, prior 5 years (log1p)"
    assert _term_label("log1p(mids_prior5):informal", labels) == "MIDs, prior 5 years (log1p) × Informal"
    assert _term_label("log(unlabelled)", labels) == "log(unlabelled)"
    assert _term_label("poly(mids_prior5, 2)1", labels) == "poly(mids_prior5, 2)1"  # not a one-column transform


# ----------------------------------------------------------------------------------------------
# Table features (issue 17): groups, add_rows, vcov row, several statistics, drop, fmt, numbers, notes
# ----------------------------------------------------------------------------------------------
def test_feature_rows_and_headers():
    model = build_table(feature_models(), feature_spec(), FEATURE_CODEBOOK)
    assert [r.term for r in model.rows if r.kind == "coef"] == ["(Intercept)", "gdp", "power:gdp"]  # ^year_ dropped
    stats_rows = [r for r in model.rows if r.kind == "stat" and r.term == "gdp"]
    assert [r.cells[0] for r in stats_rows] == ["(0.000400)", "[-0.00202, -0.000451]"]  # SE then CI, 3 significant
    assert model.rows[0].cells[0] == "12,345.7***"  # per-term decimals and thousands
    vcov = next(r for r in model.rows if r.term == "vcov_type").cells
    assert vcov == ("Clustered by treaty", "Two-way: state 1, state 2", "Dyadic-robust: state 1, state 2")
    assert next(r for r in model.rows if r.kind == "add").cells == ("Yes", "Yes", "No")
    assert model.notes == ()  # notes = "none": no automatic notes
    assert model.header_rows()[0] == [("", 1), ("Clustered", 2), ("Dyadic", 1)]
    assert model.header_rows()[-1] == [("", 1), ("(1)", 1), ("(2)", 1), ("(3)", 1)]
    assert model.columns[0] == "Clustered: (1) OLS 1"  # md and csv show the flattened header


def test_notes_auto_and_list_keep_the_automatic_notes():
    auto = build_table(feature_models(), feature_spec(notes="auto"), FEATURE_CODEBOOK)
    listed = build_table(feature_models(), feature_spec(notes=["Source: test."]), FEATURE_CODEBOOK)
    assert auto.notes[0].startswith("Coefficients; beneath each estimate: standard errors in parentheses, then 95%")
    assert listed.notes == (*auto.notes, "Source: test.")


def test_vcov_detail_off_and_a_frame_without_vcov_meta():
    plain = build_table(feature_models(), feature_spec(vcov_detail=False), FEATURE_CODEBOOK)
    assert next(r for r in plain.rows if r.term == "vcov_type").cells == ("Clustered", "Clustered", "Dyadic-robust")
    cox = build_table(cox_pair(), TableSpec(id="t", models=["cox_efron", "cox_cluster"]))
    assert next(r for r in cox.rows if r.term == "vcov_type").cells == ("Model-based", "Clustered")


@pytest.mark.parametrize("bad, message", [
    ({"groups": {"G": ["m1", "m3"]}}, "adjacent"),
    ({"groups": {"G": ["nope"]}}, "not in this table's models"),
    ({"add_rows": {"FE": ["Yes"]}}, "1 cells for 3 models"),
    ({"drop": ["(Intercept"]}, "not a regular expression"),
    ({"fmt": {"digits": 2}}, "Extra inputs"),
])
def test_feature_keys_are_validated(bad, message):
    with pytest.raises(ValidationError, match=re.escape(message) if message != "Extra inputs" else message):
        feature_spec(**bad)


def test_html_table_id_differs_from_the_report_section_id():
    html_text = render_html(cases()["cox_hr"])
    assert 'id="tab-cox_hr"' in html_text and 'id="cox_hr"' not in html_text


def test_negative_numbers_get_a_real_minus_in_latex_html_and_word():
    model = cases()["mixed_ci"]
    assert "&#8722;0.05" in render_html(model)
    assert "-0.05" in render_markdown(model) and "-0.05" in render_csv(model)  # plain text formats keep ASCII
    pytest.importorskip("docx")
    assert "\u22120.05" in docx_text(render_docx(model))


def test_docx_column_widths_fit_the_page():
    """Word tables get fixed column widths inside a 6.5in text width, or a landscape page (9in) when wide."""
    pytest.importorskip("docx")
    W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

    def layout(model):
        root = ET.fromstring(zipfile.ZipFile(io.BytesIO(render_docx(model))).read("word/document.xml"))
        grid = [int(c.get(f"{W_NS}w")) / 1440 for c in root.iter(f"{W_NS}gridCol")]  # twentieths of a point
        size = root.find(f".//{W_NS}sectPr/{W_NS}pgSz")
        return grid, size.get(f"{W_NS}orient")

    narrow, orient = layout(cases()["cox_hr"])
    assert len(narrow) == 3 and sum(narrow) <= 6.5 + 1e-6 and orient in (None, "portrait")
    wide_model = TableModel("wide", "", tuple(f"Model {i}" for i in range(10)),
                            (TableRow("coef", "A label", tuple("1.234" for _ in range(10)), "x"),))
    wide, orient = layout(wide_model)
    assert len(wide) == 11 and 6.5 < sum(wide) <= 9 + 1e-6 and orient == "landscape"
