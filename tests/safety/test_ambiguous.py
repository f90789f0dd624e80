"""Inputs that would silently mean something else are refused (exit 2), not guessed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from c2stats import report
from c2stats.errors import ConfigError
from tests.safety.conftest import run

ANALYSIS = """
[analysis]
id = "amb"
title = "Ambiguous"
dataset = "d.csv"

[[models]]
id = "m"
family = "logit"
formula = "FORMULA"

[[tables]]
id = "TABLE"
models = ["m"]
"""


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"y": rng.integers(0, 2, n), "form": rng.choice(["formal", "informal"], n),
                         "x": rng.normal(size=n), "forminformal": rng.normal(size=n)})


def write(analysis, tmp_path, formula="y ~ x", table="t1", data: str | None = None):
    if data is None:
        frame().to_csv(tmp_path / "d.csv", index=False)
    else:
        (tmp_path / "d.csv").write_text(data)
    return analysis(ANALYSIS.replace("FORMULA", formula).replace("TABLE", table))


def test_two_columns_of_one_name(analysis, tmp_path, capsys):
    rows = "\n".join(f"{i % 2},{i},{-i}" for i in range(50))
    path = write(analysis, tmp_path, data="y,x,x\n" + rows + "\n")
    assert run(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "more than one column named 'x'" in err and "d.csv" in err


def test_column_named_like_a_dummy(analysis, tmp_path, capsys):
    path = write(analysis, tmp_path, formula="y ~ form + forminformal")
    assert run(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "'forminformal' comes from both term 'form' and term 'forminformal'" in err


@pytest.mark.parametrize("table", ["diagnostics", "hypotheses"])
def test_table_id_of_a_builtin_output(analysis, tmp_path, capsys, table):
    path = write(analysis, tmp_path, table=table)
    assert run(path, "--out", tmp_path / "out") == 2
    assert f"table id {table!r} is the name of a built-in output" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_any_two_outputs_of_one_file_name_are_refused():
    arts = [report.Artefact("table", "g", "Grid", "Robustness", ("md",)),
            report.Artefact("figure", "g", "Curve", "Robustness", ("png",)),
            report.Artefact("table", "g", "Declared", "Tables", ("md",))]
    with pytest.raises(ConfigError, match=r"tables/g\.\*"):
        report._check_distinct(arts)
    report._check_distinct(arts[:2])  # a table and a figure of one id live in different folders
