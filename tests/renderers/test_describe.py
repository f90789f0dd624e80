"""Descriptive tables (c2stats.describe, [[tables]] kind = summary / crosstab) against R, and the
validation of table keys (descriptive keys, fit-statistic names).

R reference: tests/reference/describe/make_describe_reference.R (R's mean, sd, min, max, table(),
prop.table()) on the shipped lung example with ph_ecog set missing where age > 75.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats import describe
from c2stats.config import load_analysis
from c2stats.data import load_dataset
from c2stats.errors import ConfigError, DataError
from c2stats.spec.tables import CORE_GOF_KEYS
from c2stats.tables import GOF_MAP, RENDERERS

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "describe" / "describe_reference.json").read_text())


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = load_dataset("lung").frame.copy()
    d.loc[d["age"] > 75, "ph_ecog"] = np.nan
    return d


def test_summary_matches_r(lung):
    stats = describe.summary_frame(lung, ["age", "ph_ecog"], by="sex")
    assert len(stats) == 6
    for row in stats.itertuples():
        ref = REF["summary"][row.variable][str(row.group) if row.group != "All" else "All"]
        assert (row.n, row.missing) == (ref["n"], ref["missing"])
        for key in ("mean", "sd", "min", "max"):
            assert getattr(row, key) == pytest.approx(ref[key], rel=1e-12), (row.variable, row.group, key)


@pytest.mark.parametrize("missing, ref_key", [(False, "crosstab"), (True, "crosstab_missing")])
def test_crosstab_matches_r(lung, missing, ref_key):
    long = describe.crosstab_frame(lung, "ph_ecog", "sex", missing=missing)
    ref = REF[ref_key]
    assert len(long) == len(ref)
    for row in long.itertuples():
        r = "NA" if row.row == describe.MISSING_LABEL else str(int(row.row))
        cell = ref[f"{r}|{row.column}"]
        assert row.n == cell["n"]
        assert row.row_share == pytest.approx(cell["row_share"], rel=1e-12)
        assert row.col_share == pytest.approx(cell["col_share"], rel=1e-12)


def test_oneway_with_missing_matches_r(lung):
    long = describe.crosstab_frame(lung, "ph_ecog", missing=True)
    got = {("NA" if r == describe.MISSING_LABEL else str(int(r))): (n, s) for r, n, s in
           zip(long["row"], long["n"], long["row_share"])}
    assert {k: v[0] for k, v in got.items()} == REF["oneway_missing"]
    for k, share in REF["oneway_missing_share"].items():
        assert got[k][1] == pytest.approx(share, rel=1e-12)


@pytest.mark.parametrize("fmt", ["md", "tex", "html", "csv"])
def test_tables_render_in_every_format(lung, fmt):
    summary = describe.summary_table(lung, ["age", "ph_ecog"], by="sex", title="Summary", table_id="s")
    crosstab = describe.crosstab_table(lung, "ph_ecog", "sex", missing=True, title="Counts", table_id="x")
    for model in (summary, crosstab):
        text = RENDERERS[fmt](model)
        assert ("Summary" in text) or ("Counts" in text)
    md = RENDERERS["md"](crosstab)
    # the (missing) row: 9 and 2 of 11; the Total row: 136 and 90 of 226
    assert "| (missing) | 9 | 81.8 | 6.6 | 2 | 18.2 | 2.2 | 11 | 4.9 |" in md
    assert "| Total | 136 | 60.2 | 100.0 | 90 | 39.8 | 100.0 | 226 | 100.0 |" in md
    assert "ph_ecog = 1" not in md and "| 1 | 67 |" in md


def test_dropped_rows_are_counted_in_a_note(lung):
    model = describe.crosstab_table(lung, "ph_ecog", "sex")
    assert model.notes[0].startswith("215 rows counted; 11 with a missing value dropped")


def test_text_column_in_a_summary_is_refused(lung):
    with pytest.raises(DataError, match="kind = 'crosstab'"):
        describe.summary_frame(lung.assign(name="x"), ["name"])
    with pytest.raises(DataError, match="did you mean 'age'"):
        describe.summary_frame(lung, ["agee"])


def _analysis(write_toml, tables: str):
    return write_toml(f'''
[analysis]
id = "d"
title = "d"
dataset = "lung"

[[models]]
id = "m"
family = "cox"
formula = "~ age + sex"
time = "time"
event = "event"
{tables}''')


def test_descriptive_tables_validate(write_toml):
    cfg = load_analysis(_analysis(write_toml, '''
[[tables]]
id = "s"
kind = "summary"
variables = ["age"]
by = "sex"
sample = "age >= 50"

[[tables]]
id = "x"
kind = "crosstab"
rows = "ph_ecog"
missing = true
'''))
    assert [t.kind for t in cfg.spec.tables] == ["summary", "crosstab"]
    assert cfg.spec.tables[0].models == []


@pytest.mark.parametrize("body, message", [
    ('id = "r"', "needs 'models'"),
    ('id = "s"\nkind = "summary"', "needs 'variables'"),
    ('id = "s"\nkind = "summary"\nvariables = ["age"]\nrows = "sex"', "apply to crosstab tables"),
    ('id = "x"\nkind = "crosstab"', "needs 'rows'"),
    ('id = "x"\nkind = "crosstab"\nrows = "sex"\nmodels = ["m"]', "describes data, not models"),
    ('id = "r"\nmodels = ["m"]\nvariables = ["age"]', "apply to descriptive tables only"),
    ('id = "s"\nkind = "summary"\nvariables = ["age"]\nsample = "age >>= 3"', "not a valid restriction"),
])
def test_bad_descriptive_keys(write_toml, body, message):
    with pytest.raises(ConfigError, match=message):
        load_analysis(_analysis(write_toml, f"[[tables]]\n{body}\n"))


def test_unknown_gof_key_is_an_error_with_a_suggestion(write_toml):
    with pytest.raises(ConfigError, match=r"unknown fit statistic 'n_event' \(did you mean 'n_events'\?\)"):
        load_analysis(_analysis(write_toml, '[[tables]]\nid = "t"\nmodels = ["m"]\ngof = ["nobs", "n_event"]\n'))
    with pytest.raises(ConfigError, match=r"gof\[0\].*'r2'.*families \(cox\)"):
        load_analysis(_analysis(write_toml, '[[tables]]\nid = "t"\nmodels = ["m"]\ngof = ["r2"]\n'))
    cfg = load_analysis(_analysis(write_toml, '[[tables]]\nid = "t"\nmodels = ["m"]\ngof = ["nobs", "n_events", "aic"]\n'))
    assert cfg.spec.tables[0].gof == ["nobs", "n_events", "aic"]


def test_core_gof_keys_are_the_shared_rows_of_gof_map():
    assert set(GOF_MAP.loc[GOF_MAP["scope"] == "*", "key"]) == set(CORE_GOF_KEYS)


def test_pipeline_writes_descriptive_tables(write_toml, tmp_path):
    from c2stats.pipeline import run

    path = _analysis(write_toml, '''
[[tables]]
id = "s"
kind = "summary"
variables = ["age"]
by = "sex"
sample = "age >= 50"
formats = ["md", "csv"]

[[tables]]
id = "x"
kind = "crosstab"
rows = "ph_ecog"
columns = "sex"
formats = ["md"]
''')
    summary = run(path, out=tmp_path / "out")
    text = (summary.out / "tables" / "s.md").read_text()
    assert "rows where age >= 50" in text and "| age | All | 206 |" in text
    assert (summary.out / "tables" / "x.md").exists()


#: Villamil (2022), CMPS, "Summary statistics for the covariates" (the author's
#: descriptives/output/tab_summary_stats.tex, R summary() rounded to 2 decimals): min, mean, max.
VILLAMIL_PRINTED = {
    "govt_vi_l": (0, 0.63, 5.36), "roads_dirt_sh": (0, 0.8, 1), "ldist_panam": (0, 2.64, 5.62),
    "lpop73": (6.34, 9.17, 13.46), "ind73": (0, 0.52, 1), "lit73": (0.04, 0.38, 0.89),
    "elev_sd": (4.38, 262.36, 764.9), "forest": (0, 0.52, 0.99), "ldist_guate": (0, 4.32, 5.61),
    "larea": (1.53, 4.88, 9.01),
}


def test_summary_reproduces_a_published_table():
    data = load_dataset("villamil_2022_guatemala").frame
    municipalities = data[data["elec"] == 1999]
    stats = describe.summary_frame(municipalities, list(VILLAMIL_PRINTED)).set_index("variable")
    assert (stats["n"] == 325).all()
    for variable, (low, mean, high) in VILLAMIL_PRINTED.items():
        row = stats.loc[variable]
        assert (round(row["min"], 2), round(row["mean"], 2), round(row["max"], 2)) == (low, mean, high), variable
