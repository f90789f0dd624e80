"""User text reaches every output escaped: no markup, no new table rows, no spreadsheet formulas,
no control characters in Word, no mathtext in figures."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd
import pytest

from c2stats import escape
from tests.safety.conftest import run

SCRIPT = "<script>alert(1)</script>"
LINK = "[x](javascript:alert(1))"
ROW = "a|b\n| injected | row |"


def unescaped(fragment: str, text: str) -> bool:
    """Whether ``fragment`` occurs in ``text`` with its first character not backslash-escaped."""
    return re.search(r"(?<!\\)" + re.escape(fragment), text) is not None


@pytest.mark.parametrize("text, must_not_contain", [
    (SCRIPT, ["<script", "</script"]),
    (LINK, ["](javascript"]),
    ("[x]: javascript:alert(1)", ["]:"]),
    (ROW, ["\n", "|"]),
    ("<!-- hidden -->", ["<!--"]),
    ("<https://evil>", ["<https"]),
])
def test_markdown_escapes_markup(text, must_not_contain):
    out = escape.markdown(text)
    for fragment in must_not_contain:
        assert not unescaped(fragment, out), (fragment, out)


def test_markdown_leaves_ordinary_text_alone():
    for text in ["p < 0.05", "<0.001", "log_cap_ratio", "-0.25", "1.5 (0.3)", "Hazard ratio", "the [grid] on x"]:
        assert escape.markdown(text) == text
    assert escape.markdown_line("# not a heading").startswith("\\#")
    assert escape.markdown_line("1. not a list") == "1\\. not a list"
    assert escape.markdown_line("[x]: javascript:alert(1)").startswith("\\[")


def test_markdown_code_keeps_backticks_verbatim():
    assert escape.markdown_code("y ~ `ph.ecog` + x") == "``y ~ `ph.ecog` + x``"
    assert escape.markdown_code("plain") == "`plain`"


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("\tx", "'\tx"),
    ("-0.25", "-0.25"), ("+3", "+3"), ("-0.136 to 1.636", "-0.136 to 1.636"), ("+HYPERLINK(1)", "'+HYPERLINK(1)"), ("-1.5e-05", "-1.5e-05"), ("0.123***", "0.123***"), ("(0.05)", "(0.05)"),
    ("informal", "informal"), (1.5, 1.5),
])
def test_csv_cell(cell, expected):
    assert escape.csv_cell(cell) == expected


def test_control_characters_and_mathtext():
    assert escape.xml_text("a\x00b\x1bc\td\ne") == "abc\td\ne"
    assert escape.mathtext("$\\foo$") == "\\$\\foo\\$" == escape.mathtext(escape.mathtext("$\\foo$"))


HOSTILE = f"""
[analysis]
id = "esc"
title = "Title {LINK} <b>bold</b>"
dataset = "d.csv"

[[models]]
id = "m"
family = "logit"
formula = "y ~ group + x"
labels = {{x = "=HYPERLINK(\\"http://evil\\")"}}

[[tables]]
id = "t1"
title = "=1+2 table\\u0007 with a bell"
models = ["m"]
formats = ["md", "csv", "html", "docx"]

[[figures]]
id = "f1"
kind = "coefplot"
title = "$\\\\foo$ costs $5"
models = ["m"]
formats = ["png"]
"""


@pytest.fixture
def hostile(analysis, tmp_path):
    rng = np.random.default_rng(5)
    n = 300
    levels = np.array(["alpha", "z" + SCRIPT, LINK, "a|b\n| x | y |"])
    pd.DataFrame({"y": rng.integers(0, 2, n), "group": rng.choice(levels, n),
                  "x": rng.normal(size=n)}).to_csv(tmp_path / "d.csv", index=False)
    path = analysis(HOSTILE)
    assert run(path, "--out", tmp_path / "out") == 0
    return tmp_path / "out"


def test_levels_titles_and_labels_are_escaped_in_markdown(hostile):
    for name in ["index.md", "tables/t1.md"]:
        text = (hostile / name).read_text()
        for fragment in ["<script", "](javascript", "<b>"]:
            assert not unescaped(fragment, text), (name, fragment)
    table = (hostile / "tables" / "t1.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("|")]
    cells = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert cells == {3}  # every row has its two cells: no level added a cell or a row
    assert "z\\<script>" in "\n".join(table)


def test_csv_cells_are_not_formulas(hostile):
    cells = [c for row in csv.reader(io.StringIO((hostile / "tables" / "t1.csv").read_text())) for c in row]
    assert not [c for c in cells if c.startswith(("=", "@")) or (c.startswith(("+", "-")) and "(" in c)]
    assert "'=HYPERLINK(\"http://evil\")" in cells


def test_word_and_figure_are_written(hostile):
    assert (hostile / "tables" / "t1.docx").stat().st_size > 0  # a bell character made Word refuse it
    assert (hostile / "figures" / "f1.png").stat().st_size > 0  # '$\\foo$' made mathtext fail


def test_figure_text_escapes_user_dollars_but_keeps_formatter_mathtext(tmp_path):
    from matplotlib.figure import Figure

    from c2stats.figures import save_figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([1, 10, 100], [1, 2, 3], label="$\\foo$ level")
    ax.set_xscale("log")
    ax.set_yticks([1, 2, 3], ["a", "$\\bar$", "c"])
    ax.set_title("costs $5 and $\\undefined{x}$")
    ax.legend()
    save_figure(fig, tmp_path / "f.png", "png")  # mathtext would raise on \foo, \bar, \undefined
    save_figure(fig, tmp_path / "f.svg", "svg")  # a second save escapes nothing twice
    assert ax.get_title() == "costs \\$5 and \\$\\undefined{x}\\$"
    assert any("\\mathdefault" in t.get_text() for t in ax.get_xticklabels())  # log ticks still mathtext
