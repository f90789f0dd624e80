"""docs/example.ipynb runs from top to bottom. nbclient is not a dependency, so the code cells are
executed in order in one namespace (what a kernel does, without the display machinery); each cell's
last expression is rendered the way Jupyter would (``_repr_html_`` when the object has one)."""

from __future__ import annotations

import ast
import json

import matplotlib

matplotlib.use("Agg")

from tests.conftest import REPO  # noqa: E402

NOTEBOOK = REPO / "docs" / "example.ipynb"


def test_example_notebook_runs(monkeypatch):
    monkeypatch.chdir(REPO)
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert cells
    namespace: dict = {"__name__": "__notebook__"}
    shown = []
    for i, cell in enumerate(cells):
        tree = ast.parse("".join(cell["source"]), filename=f"cell {i}")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"cell {i}", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), f"cell {i}", "eval"), namespace)
            shown.append(value._repr_html_() if hasattr(value, "_repr_html_") else repr(value))
    assert any('class="c2stats-table"' in s for s in shown)  # the Table displayed as HTML
    assert any('class="c2stats-result"' in s for s in shown)  # a Result displayed as HTML
    assert "\\begin{threeparttable}" in namespace["t"].to_latex()
