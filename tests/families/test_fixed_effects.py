"""Absorbed fixed effects (``y ~ x | fe``) and the small-sample conventions of ``vcov.ssc``.

References: R's ``lm`` with factor dummies + ``sandwich`` (tests/reference/fixed_effects/
make_fe_reference.R) for the default conventions, and pyfixest (tested against fixest; fixest is
not in Debian's archive) for ``ssc = "fixest"`` (make_fe_pyfixest.py). Data: plm's Produc, Cigar.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats import fit
from c2stats.errors import ConfigError, FormulaError
from c2stats.formula import parse_formula

REF = Path(__file__).resolve().parents[1] / "reference" / "fixed_effects"
R = json.loads((REF / "fe.json").read_text())
PYFIXEST = json.loads((REF / "fe_pyfixest.json").read_text())


def _data(name: str) -> pd.DataFrame:
    frame = pd.read_csv(REF / f"{name}.csv")
    for c in ("gsp", "pcap", "pc", "emp", "sales", "price", "ndi"):
        if c in frame:
            frame["l_" + c] = np.log(frame[c])
    return frame


CASES = {
    "produc_twoway": ("produc", "l_gsp ~ l_pcap + l_pc + l_emp + unemp | state + year", "region"),
    "produc_state": ("produc", "l_gsp ~ l_pcap + l_pc + l_emp + unemp | state", "state"),
    "cigar_twoway": ("cigar", "l_sales ~ l_price + l_ndi + pop16 | state + year", "state"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_absorbed_fixed_effects_match_lm_with_dummies(case):
    data, formula, cluster = CASES[case]
    ref = R[case]
    frame = _data(data)
    model = fit({"family": "ols", "formula": formula}, frame)
    hc1 = fit({"family": "ols", "formula": formula, "vcov": "HC1"}, frame)
    clustered = fit({"family": "ols", "formula": formula, "vcov": {"type": "cluster", "groups": cluster}}, frame)
    np.testing.assert_allclose(model.tidy["estimate"], ref["coef"], rtol=1e-9)
    np.testing.assert_allclose(model.tidy["std_error"], ref["se_model"], rtol=1e-8)
    np.testing.assert_allclose(hc1.tidy["std_error"], ref["se_hc1"], rtol=1e-8)
    np.testing.assert_allclose(clustered.tidy["std_error"], ref["se_cluster_hc1"], rtol=1e-8)
    np.testing.assert_allclose(clustered.tidy["p_value"], ref["p_cluster_hc1"], rtol=1e-7)
    g = model.glance
    for key in ("r2", "adj_r2", "sigma", "loglik", "aic", "bic", "r2_within"):
        assert g[key] == pytest.approx(ref[key], rel=1e-9), key
    assert g["df_resid"] == ref["df_resid"] and g["nobs"] == ref["nobs"]
    assert "(Intercept)" not in set(model.tidy["term"])


@pytest.mark.parametrize("case", list(CASES))
def test_fixest_conventions_match_pyfixest(case):
    data, formula, cluster = CASES[case]
    ref = PYFIXEST[case]
    frame = _data(data)
    res = fit({"family": "ols", "formula": formula,
               "vcov": {"type": "cluster", "groups": cluster, "ssc": "fixest"}}, frame)
    np.testing.assert_allclose(res.tidy["estimate"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(res.tidy["std_error"], ref["se_cluster"], rtol=1e-7)
    # t(G - 1); pyfixest's tail probabilities below 1e-10 carry ~1e-5 relative error of their own
    np.testing.assert_allclose(res.tidy["p_value"], ref["p_cluster"], rtol=1e-6, atol=1e-15)
    for key in ("r2", "adj_r2", "r2_within", "rmse"):
        assert res.glance[key] == pytest.approx(ref[key], rel=1e-8), key
    iid = fit({"family": "ols", "formula": formula, "vcov": {"type": "model", "ssc": "fixest"}}, frame)
    np.testing.assert_allclose(iid.tidy["std_error"], ref["se_iid"], rtol=1e-8)


def test_two_way_clustering_under_fixest_uses_the_smaller_cluster_count():
    ref = PYFIXEST["produc_twoway_2cl"]
    res = fit({"family": "ols", "formula": CASES["produc_twoway"][1],
               "vcov": {"type": "cluster", "groups": ["region", "year"], "ssc": "fixest"}}, _data("produc"))
    np.testing.assert_allclose(res.tidy["std_error"], ref["se_cluster"], rtol=1e-7)
    np.testing.assert_allclose(res.tidy["p_value"], ref["p_cluster"], rtol=1e-6)


def test_information_criteria_follow_the_convention():
    formula = CASES["produc_state"][1]
    frame = _data("produc")
    r_style = fit({"family": "ols", "formula": formula}, frame).glance
    fixest_style = fit({"family": "ols", "formula": formula, "vcov": {"type": "model", "ssc": "fixest"}}, frame).glance
    assert r_style["aic"] - fixest_style["aic"] == pytest.approx(2.0)  # sigma counted by R's logLik.lm only
    assert r_style["aic"] == pytest.approx(R["produc_state"]["aic"], rel=1e-10)


def test_formula_syntax_and_errors():
    f = parse_formula("y ~ x + log(z) | firm + `the year`")
    assert f.absorb == ("firm", "the year") and f.columns[-2:] == ["firm", "the year"]
    with pytest.raises(FormulaError, match="one '\\|'"):
        parse_formula("y ~ x | a | b")
    with pytest.raises(FormulaError, match="not a column name"):
        parse_formula("y ~ x | log(a)")
    frame = _data("produc")
    with pytest.raises(ConfigError, match="does not absorb fixed effects"):
        fit({"family": "logit", "formula": "unemp ~ l_pc | state"}, frame)
    with pytest.raises(ConfigError, match="ssc 'fixest' is not offered by the cox family"):
        fit({"family": "cox", "formula": "~ l_pc", "time": "year", "event": "year",
             "vcov": {"type": "model", "ssc": "fixest"}}, frame)


def test_covariate_absorbed_by_the_fixed_effects_is_dropped_with_a_note():
    frame = _data("produc")
    frame["region_code"] = frame["region"].astype(float)  # constant within state
    res = fit({"family": "ols", "formula": "l_gsp ~ l_pcap + region_code | state"}, frame)
    assert list(res.tidy["term"]) == ["l_pcap"]
    assert any("collinear with the fixed effects" in w for w in res.meta.get("notes", []) + res.meta.get("warnings", []))


def test_missing_values_in_restrictions_and_formulas():
    """`is missing` in samples, fillna()/comparisons in I(), and a constant outcome named as such
    (a dataset coding indicators as 1/missing, the issue's second published case)."""
    import warnings

    from c2stats.errors import DataError, RowsDroppedWarning

    frame = pd.DataFrame({"y": [1.0, np.nan, 1, np.nan, 1, 1, np.nan, 1], "x": [1.0, 2, 1, 0, 3, 1, 2, 5],
                          "z": [1.0, np.nan, 0, 1, np.nan, 1, 0, 1]})
    with pytest.raises(DataError, match="is 1 in every one of the 5 rows.*fillna"):
        fit({"family": "logit", "formula": "y ~ x"}, frame)
    recoded = fit({"family": "logit", "formula": "I(fillna(y, 0)) ~ x"}, frame)
    assert recoded.glance["nobs"] == 8  # rows with y missing kept as 0
    expected = (frame["y"].fillna(0) == 1).astype(float)
    dummies = fit({"family": "ols", "formula": "x ~ I(y == 1)"}, frame.assign(y=frame["y"].fillna(0)))
    np.testing.assert_allclose(dummies.tidy["estimate"].iloc[1],
                               frame["x"][expected == 1].mean() - frame["x"][expected == 0].mean(), rtol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = fit({"family": "ols", "formula": "x ~ 1", "sample": "z == 1"}, frame)
    assert kept.glance["nobs"] == 4
    assert any(issubclass(w.category, RowsDroppedWarning) and "dropped 2 of 8 rows on which it is missing"
               in str(w.message) for w in caught)
    both = fit({"family": "ols", "formula": "x ~ 1", "sample": "z == 1 or z is missing"}, frame)
    assert both.glance["nobs"] == 6
    assert fit({"family": "ols", "formula": "x ~ 1", "sample": "z is not missing"}, frame).glance["nobs"] == 6


def test_factor_contrasts_under_absorbed_fixed_effects_match_dummies():
    """A factor covariate keeps R's treatment contrast (first level the reference) when fixed effects
    are absorbed, as with the dummies in the formula."""
    frame = _data("produc")
    frame["period"] = np.where(frame["year"] < 1976, "early", np.where(frame["year"] < 1982, "mid", "late"))
    absorbed = fit({"family": "ols", "formula": "l_gsp ~ l_pcap + C(period) | state"}, frame)
    dummies = fit({"family": "ols", "formula": "l_gsp ~ l_pcap + C(period) + C(state)"}, frame)
    shared = absorbed.tidy["term"].tolist()
    assert shared == ["l_pcap", "C(period)late", "C(period)mid"]
    ref = dummies.tidy.set_index("term").loc[shared]
    np.testing.assert_allclose(absorbed.tidy["estimate"], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(absorbed.tidy["std_error"], ref["std_error"], rtol=1e-8)
