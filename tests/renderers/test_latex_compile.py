"""Every committed LaTeX table compiles in a plain US-letter article (1in margins) and fits the page.

Each ``reports/**/tables/*.tex`` is ``\\input`` into a minimal document with
:data:`c2stats.tables.LATEX_PREAMBLE`; pdflatex must succeed without an ``Overfull \\hbox`` (a table or
note wider than the text block). The same holds for the snapshot tables and for every width policy.
Skipped when pdflatex is absent (CI installs it: .ci/run).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from c2stats.tables import FIT_POLICIES, LATEX_PREAMBLE, render_latex

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted(ROOT.glob("reports/**/tables/*.tex"))

pytestmark = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                reason="pdflatex not installed (apt-get install texlive-latex-extra texlive-science)")

DOCUMENT = ("\\documentclass{article}\n\\usepackage[letterpaper,margin=1in]{geometry}\n" + LATEX_PREAMBLE
            + "\\begin{document}\n\\input{table}\n\\end{document}\n")


def compile_table(tex: str, folder: Path) -> list[str]:
    """Problems pdflatex reports for ``tex`` inside the minimal document: errors and overfull boxes."""
    (folder / "table.tex").write_text(tex, encoding="utf-8")
    (folder / "doc.tex").write_text(DOCUMENT, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder,
                         capture_output=True, text=True, timeout=120)
    log = (folder / "doc.log").read_text(encoding="latin-1") if (folder / "doc.log").exists() else run.stdout
    problems = [line for line in log.splitlines() if line.startswith("!")]
    problems += re.findall(r"Overfull \\hbox \([^)]*\)[^\n]*", log)
    if run.returncode != 0 and not problems:
        problems.append(f"pdflatex exited {run.returncode}: {run.stdout[-800:]}")
    return problems


@pytest.mark.skipif(not COMMITTED, reason="no committed LaTeX tables")
@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.relative_to(ROOT / "reports")) for p in COMMITTED])
def test_committed_table_compiles_and_fits_the_page(path, tmp_path):
    assert compile_table(path.read_text(encoding="utf-8"), tmp_path) == []


def test_snapshot_tables_compile_under_every_width_policy(tmp_path):
    import dataclasses

    from tests.renderers.test_tables import cases

    for name, model in cases().items():
        for fit in FIT_POLICIES:
            if fit == "none":
                continue  # as wide as its content by design (test_the_checker_sees_an_overfull_table)
            folder = tmp_path / f"{name}-{fit}"
            folder.mkdir()
            assert compile_table(render_latex(dataclasses.replace(model, fit=fit)), folder) == [], (name, fit)


def test_the_checker_sees_an_overfull_table(tmp_path):
    """A table wider than the page under fit = 'none' must be reported: the test above is not vacuous."""
    from c2stats.tables import TableModel, TableRow

    wide = TableModel("wide", "", tuple(f"Model number {i}" for i in range(12)),
                      (TableRow("coef", "x", tuple("123456.789" for _ in range(12)), "x"),), fit="none")
    problems = compile_table(render_latex(wide), tmp_path)
    assert any("Overfull" in p for p in problems)
