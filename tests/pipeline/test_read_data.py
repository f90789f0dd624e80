"""Reading data: R files through rdata where pyreadr fails, Stata value labels on request, and
``c2stats data describe`` on any file.

Reference files and numbers: tests/reference/read_data/make_r_files.R (R 4.2.2; its output in
make_r_files.Rout), which wrote the .rds/.rda/.dta files and fitted lm(y ~ x + regime) on labelled.dta.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import c2stats
from c2stats.cli import main
from c2stats.config import load_analysis
from c2stats.data import load_dataset
from c2stats.datasets.schema import read_table
from c2stats.errors import ConfigError, DataError

REF = Path(__file__).resolve().parents[1] / "reference" / "read_data"
HAS_RDATA = importlib.util.find_spec("rdata") is not None
HAS_PYREADR = importlib.util.find_spec("pyreadr") is not None
#: lm(y ~ x + regime, labelled.dta) in R (make_r_files.Rout)
R_LM = {"(Intercept)": (0.366989215449086, 0.252811696079839), "x": (0.451613100314927, 0.133749678782586),
        "C(regime)Autocracy": (-0.301905599137825, 0.361577565807064),
        "C(regime)Democracy": (1.843190656520319, 0.316313414481661)}


@pytest.mark.skipif(not HAS_RDATA, reason="rdata is not installed")
def test_list_column_rds_is_read_through_rdata():
    frame = read_table(REF / "listcol.rds")
    assert list(frame.columns) == ["id", "x", "g", "s", "d", "l"]
    assert frame["x"].isna().tolist() == [False, True, False, False, False]
    assert [None if pd.isna(v) else v for v in frame["g"]] == ["a", "b", "a", None, "b"]
    assert frame["d"].iloc[0] == pd.Timestamp("2020-01-01") and frame["d"].iloc[4] == pd.Timestamp("2020-01-05")
    assert list(frame.index) == [0, 1, 2, 3, 4]


@pytest.mark.skipif(not HAS_RDATA, reason="rdata is not installed")
def test_rdata_alone_reads_what_pyreadr_would(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyreadr" else real(name, *a))
    frame = read_table(REF / "plain.rds")
    assert frame.shape == (5, 5) and frame["id"].tolist() == [1, 2, 3, 4, 5]
    # an .rda with a data frame and a vector: the one data frame is taken
    assert read_table(REF / "two.rda").shape == (5, 5)


@pytest.mark.skipif(not (HAS_RDATA or HAS_PYREADR), reason="neither pyreadr nor rdata is installed")
def test_an_r_file_without_exactly_one_data_frame_is_refused(tmp_path):
    shutil.copy(REF / "two.rda", tmp_path / "two.rda")
    frame = read_table(tmp_path / "two.rda")  # the vector is not a data frame
    assert frame.shape[0] == 5


def test_no_r_reader_installed_says_how_to_fix(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyreadr", "rdata") else real(name, *a))
    with pytest.raises(DataError, match="pip install pyreadr rdata"):
        read_table(REF / "plain.rds")


def test_stata_codes_by_default_labels_on_request():
    codes = read_table(REF / "labelled.dta")
    labels = read_table(REF / "labelled.dta", value_labels=True)
    assert pd.api.types.is_numeric_dtype(codes["regime"])
    assert list(labels["regime"].cat.categories) == ["Anocracy", "Autocracy", "Democracy"]
    counts = labels["regime"].value_counts(dropna=False)
    assert (counts["Anocracy"], counts["Autocracy"], counts["Democracy"], counts[np.nan]) == (15, 17, 26, 2)
    assert (codes["regime"].map({1: "Anocracy", 2: "Autocracy", 3: "Democracy"}).fillna("-")
            == labels["regime"].astype(object).fillna("-")).all()


def test_value_labels_in_an_analysis_reproduce_r(write_toml, tmp_path):
    shutil.copy(REF / "labelled.dta", tmp_path / "labelled.dta")
    cfg = load_analysis(write_toml('''
[analysis]
id = "vl"
title = "value labels"
dataset = { path = "labelled.dta", value_labels = true }

[[models]]
id = "m"
family = "ols"
formula = "y ~ x + C(regime)"
'''))
    ref = cfg.spec.analysis.dataset
    assert ref.value_labels is True
    frame = load_dataset(ref, tmp_path).frame
    with pytest.warns(Warning):  # two rows with a missing regime are dropped, with a count
        result = c2stats.fit({"family": "ols", "formula": "y ~ x + C(regime)"}, frame)
    tidy = result.tidy.set_index("term")
    for term, (estimate, se) in R_LM.items():
        assert tidy.loc[term, "estimate"] == pytest.approx(estimate, rel=1e-9)
        assert tidy.loc[term, "std_error"] == pytest.approx(se, rel=1e-9)


def test_value_labels_only_for_stata_files(write_toml):
    with pytest.raises(ConfigError, match="value_labels applies to Stata .dta files only"):
        load_analysis(write_toml('''
[analysis]
id = "vl"
title = "t"
dataset = { path = "x.csv", value_labels = true }

[[models]]
id = "m"
family = "ols"
formula = "y ~ x"
'''))


def test_data_describe_any_file(tmp_path, capsys, monkeypatch):
    frame = pd.DataFrame({"g": ["a", "b", None, "a"], "x": [1.0, 2.5, np.nan, 4.0], "k": [1, 2, 3, 4]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["data", "describe", "f.csv", "--max-levels", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 rows x 3 columns")
    overview = out.split("\n\n")[1]  # the column overview block
    lines = {line.split()[0]: line.split() for line in overview.splitlines()[1:]}
    assert lines["g"][1:4] == ["text", "1", "2"]          # type, missing, distinct
    assert lines["x"][1:5] == ["float", "1", "3", "2.5"]  # mean of 1, 2.5, 4
    flat = " ".join(out.split())
    assert "(missing) 1 25.0" in flat and "k:" not in out  # k has 4 > 3 distinct values


def test_data_describe_stata_value_labels(capsys, monkeypatch):
    monkeypatch.chdir(REF)
    assert main(["data", "describe", "labelled.dta", "--value-labels"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert "regime category 2 3" in flat and "Democracy 26 43.3 (missing) 2 3.3" in flat
    assert main(["data", "describe", "plain.csv", "--value-labels"]) == 2
