"""The C2 measurement check and the follow-up option on the command line."""

from __future__ import annotations

import pandas as pd
import pytest

import c2stats.datasets as ds
from c2stats.datasets.coding import load_coding
from c2stats.datasets.measurement import drop_one_table, item_table


@pytest.fixture(scope="module")
def arrangements() -> pd.DataFrame:
    return ds.load_builtin("arrangements")


def test_item_table_counts_come_from_the_source_columns(arrangements):
    table = item_table(arrangements).set_index("item")
    sample = arrangements[arrangements["start_year"].between(1980, 2010)]
    formal = sample[sample["form"] == "formal"]
    informal = sample[sample["form"] == "informal"]
    # ATOP CONSUL is 0/1 and scored as is; DCAD category COMMISSION is a 0/1 topic
    assert table.loc["consul", "n_formal"] == formal["consul"].notna().sum()
    assert table.loc["consul", "mean_formal"] == pytest.approx(formal["consul"].mean(), abs=5e-4)
    assert table.loc["dcad_commission", "share_informal"] == pytest.approx(
        informal["dcad_commission"].mean(), abs=5e-4)
    assert table.loc["dcad_commission", "n_formal"] == 0


def test_drop_one_without_any_item_reproduces_the_shipped_index(arrangements):
    table = drop_one_table(arrangements, load_coding()).set_index("dropped")
    sample = arrangements[arrangements["start_year"].between(1980, 2010)]
    shipped = sample.groupby(sample["form"].astype(str))["c2_common"].mean()
    assert table.loc["(none)", "mean_formal"] == pytest.approx(shipped["formal"], abs=5e-4)
    assert table.loc["(none)", "mean_informal"] == pytest.approx(shipped["informal"], abs=5e-4)
    # dropping an item of a formal-only cell changes nothing in the comparable index
    assert table.loc["intcom", "gap"] == table.loc["(none)", "gap"]
    # dropping the only informal item of a cell removes the cell from the comparable index
    assert table.loc["dcad_commission", "n_cells"] == table.loc["(none)", "n_cells"] - 1


def test_cli_measurement_writes_both_tables(tmp_path, capsys):
    from c2stats.cli import main

    assert main(["data", "measurement", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"c2_items.csv", "c2_drop_one.csv"}
    assert "c2_drop_one" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["data", "build", "--follow-up-end", "2018"], "give --dest FOLDER"),
])
def test_follow_up_variant_needs_a_destination(capsys, argv, message):
    from c2stats.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_follow_up_end_is_range_checked(tmp_path):
    from c2stats.errors import DataError

    with pytest.raises(DataError, match="follow_up_end 2030 is outside 1980-2018"):
        ds.build(tmp_path, follow_up_end=2030)


def test_window_past_the_follow_up_end_is_refused(tmp_path):
    from c2stats.errors import DataError

    with pytest.raises(DataError, match="set follow_up_end to at least 2014"):
        ds.build(tmp_path, window=(1990, 2014))


def test_agreements_validate_and_describe():
    frame = ds.load_builtin("agreements")
    good = frame[["source_id", "form", "start_date", "n_dyads"]].head(20).copy()
    good["start_date"] = good["start_date"].dt.strftime("%Y-%m-%d")
    good["form"] = good["form"].astype(str)
    out = ds.validate(good, "agreements", source="agreements.csv")
    assert len(out) == 20
    assert "(agreements)" in ds.describe(good)
    with pytest.raises(Exception, match="duplicate ids"):
        ds.validate(pd.concat([good, good.head(1)]), "agreements", source="agreements.csv")
