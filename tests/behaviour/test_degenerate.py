"""Degenerate data (too few rows, one cluster, extreme values, a miscoded outcome) end in a user error
(:class:`~c2stats.errors.UserInputError`, exit 2) naming the model and the column, or in a fit whose
diagnostics say what could not be computed; never in an internal error.

R's behaviour on the tiny Cox data sets is in ``tests/reference/degenerate/`` (script, output and
PROVENANCE); the other expectations are hand-computed (stated next to each test).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from c2stats import fit
from c2stats.diagnostics import DiagnosticWarning, diagnostics_summary, variance_inflation
from c2stats.errors import DataError, SpecificationError, UserInputError
from c2stats.families._cox_engine import fit_cox
from c2stats.families._cox_zph import _solve, cox_zph
from c2stats.vcov import sandwich_vcov


def frame(n: int = 40, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "t": np.round(rng.exponential(5.0, n) + 0.1, 3),
        "e": (rng.random(n) < 0.7).astype(int),
        "x": x,
        "z": rng.normal(size=n),
        "y": (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int),
        "g": rng.choice(["a", "b", "c", "d"], n),
        "h": rng.choice(["p", "q", "r"], n),
    })


COX = {"family": "cox", "formula": "~ x + z", "time": "t", "event": "e"}
LOGIT = {"family": "logit", "formula": "y ~ x + z"}


# ----------------------------------------------------------------------------------------------
# Cox on one or two rows, risk sets of one row
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2])
def test_cox_on_fewer_rows_than_coefficients_plus_one_is_refused(n):
    # 2 coefficients need 3 rows: the baseline hazard takes the intercept's place
    data = frame().head(n).assign(e=1)
    with pytest.raises(SpecificationError) as info:
        fit(COX, data)
    message = str(info.value)
    assert f"model 'model': {n} row{'s' if n > 1 else ''} for 2 coefficient(s) ('x', 'z')" in message
    assert "at least 3 rows" in message and "remove terms" in message


@pytest.mark.filterwarnings("ignore::c2stats.errors.ConvergenceWarning")
def test_cox_on_as_many_rows_as_coefficients_plus_one_is_fitted():
    data = frame(seed=11).head(3).assign(e=[1, 0, 1])
    result = fit(COX, data)
    assert list(result.tidy["term"]) == ["x", "z"]


def test_rows_are_counted_before_collinear_columns_are_dropped():
    # 3 rows, 4 design columns (intercept, x, two dummies of g): with on_collinear = "drop" a column would
    # silently go; the model asked for is not identified on 3 rows, so it is refused
    data = frame().head(3).assign(g=["a", "b", "c"])
    with pytest.raises(SpecificationError, match=r"3 rows for 4 coefficient\(s\).*not identified"):
        fit({**LOGIT, "formula": "y ~ x + g", "on_collinear": "drop"}, data)


def test_cox_engine_one_row_no_zero_division_and_no_blas_text(capfd):
    # one row: the log partial likelihood is identically 0 (log(e^eta / e^eta)); no covariate at all
    # must not reach BLAS, which prints "On entry to DSYRK ..." on stdout for an empty operand
    one = fit_cox(np.array([[0.5]]), np.array([1.0]), np.array([1]))
    assert one.loglik == 0.0 and one.loglik_null == 0.0
    assert bool(one.aliased[0]) and np.isnan(one.coef[0])
    empty = fit_cox(np.zeros((3, 0)), np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]))
    assert empty.coef.shape == (0,)
    out, err = capfd.readouterr()
    assert "DSYRK" not in out + err


def test_cox_engine_every_risk_set_of_one_row_matches_r():
    # degenerate_cox.Rout "alone": (start, stop] rows that never overlap; R gives coef NA, loglik 0 0
    f = fit_cox(np.array([[0.5], [-1.0], [2.0]]), np.array([1.0, 2.0, 3.0]), np.array([1, 1, 1]),
                entry=np.array([0.0, 1.0, 2.0]))
    assert f.loglik_null == 0.0 and f.loglik == 0.0
    assert np.isnan(f.coef[0])


def test_cox_family_refuses_risk_sets_of_one_row():
    data = pd.DataFrame({"start": [0.0, 1.0, 2.0], "t": [1.0, 2.0, 3.0], "e": 1, "x": [0.5, -1.0, 2.0]})
    with pytest.raises(SpecificationError) as info:
        fit({"family": "cox", "formula": "~ x", "time": "t", "start": "start", "event": "e"}, data)
    message = str(info.value)
    assert "'x'" in message and "no event has another row at risk" in message and "3 event(s)" in message


def test_cox_engine_two_rows_monotone_likelihood_is_not_converged():
    # degenerate_cox.Rout "two-rows": L(b) = 1 / (1 + e^b) decreases in b, so the estimate is -infinity;
    # R runs out of iterations with the coefficient at -21.2
    f = fit_cox(np.array([[0.0], [1.0]]), np.array([1.0, 2.0]), np.array([1, 1]))
    assert not f.converged
    assert f.coef[0] < -15
    assert f.loglik_null == pytest.approx(-np.log(2), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Proportional-hazards test that cannot be computed
# ----------------------------------------------------------------------------------------------
PH4 = pd.DataFrame({"t": [5.639, 6.292, 22.784, 48.712], "e": [0, 1, 0, 1],
                    "x": [0.4116, 1.0425, -0.1285, 1.3665], "z": [2, 4, 4, 4]})


def test_ph_test_not_computable_is_recorded_not_fatal():
    with pytest.warns(DiagnosticWarning, match="proportional-hazards test"):
        result = fit(COX, PH4)
    # the fit is R's (degenerate_cox.Rout "ph4"): z aliased, x = 0.859444712837068
    est = result.tidy.set_index("term")["estimate"]
    assert est["x"] == pytest.approx(0.859444712837068, rel=1e-9)
    assert np.isnan(est["z"])
    assert np.isnan(result.glance["ph_global_p"])
    ph = result.meta["diagnostics"]["proportional_hazards"]
    assert ph["computable"] is False and "could not be computed" in ph["note"]
    assert any("could not be computed" in w for w in result.meta["warnings"])
    assert "ph_test" not in result.frames
    row = diagnostics_summary([result]).set_index("diagnostic").loc["proportional_hazards"]
    assert row["status"] == "flag" and np.isnan(row["value"])


def test_cox_zph_refuses_a_computationally_singular_system_as_r():
    # R's solve() stops when the reciprocal condition number is below machine epsilon (degenerate_cox.Rout)
    # [[1, 1], [1, 1 + eps]]: LU succeeds (pivot eps), but the 1-norm condition number is about 4 / eps
    eps = np.finfo(float).eps
    with pytest.raises(np.linalg.LinAlgError, match="computationally singular"):
        _solve(np.array([[1.0, 1.0], [1.0, 1.0 + eps]]), np.array([1.0, 2.0]))
    assert _solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 2.0])).tolist() == [0.5, 0.5]
    f = fit_cox(PH4[["x", "z"]].to_numpy(float), PH4["t"].to_numpy(), PH4["e"].to_numpy())
    with pytest.raises(np.linalg.LinAlgError):
        cox_zph(f, PH4[["x", "z"]].to_numpy(float), PH4["t"].to_numpy(), PH4["e"].to_numpy())


# ----------------------------------------------------------------------------------------------
# Extreme values: VIFs and the fit
# ----------------------------------------------------------------------------------------------
def test_vif_is_scale_invariant_up_to_huge_values():
    # a VIF depends on correlations only, so rescaling a column changes nothing; by a power of two the
    # result is bit-identical, and a 1e250 column no longer overflows (it was NaN for every term)
    data = frame()
    X = np.column_stack([np.ones(len(data)), data["x"], data["z"], data["x"] + 0.5 * data["z"] + data["t"]])
    names, terms = ("(Intercept)", "x", "z", "w"), ("(Intercept)", "x", "z", "w")
    base = variance_inflation(X, names, terms)
    exact = X.copy()
    exact[:, 1] *= 2.0**600
    pd.testing.assert_frame_equal(variance_inflation(exact, names, terms), base, check_exact=True)
    huge = X.copy()
    huge[:, 2] *= 1e250
    vif = variance_inflation(huge, names, terms)
    assert vif["gvif"].notna().all()
    np.testing.assert_allclose(vif["gvif"], base["gvif"], rtol=1e-12)


def test_vifs_that_cannot_be_computed_are_noted(monkeypatch):
    import c2stats.diagnostics as diagnostics

    def nan_vif(X, names, term_of_column):
        return pd.DataFrame({"term": ["x", "z"], "gvif": np.nan, "df": 1, "gvif_adj": np.nan})

    monkeypatch.setattr(diagnostics, "variance_inflation", nan_vif)
    with pytest.warns(DiagnosticWarning, match="variance inflation factors could not be computed for x, z"):
        result = fit(LOGIT, frame())
    col = result.meta["diagnostics"]["collinearity"]
    assert col["max_vif"] is None and col["max_vif_term"] is None and "could not be computed" in col["note"]


def test_overflowing_covariate_is_a_data_error_naming_it():
    # with n rows, sums of squares overflow beyond sqrt(max double / n) = sqrt(1.797e308 / 40) = 2.1e153
    data = frame()
    data.loc[[2, 11], "z"] = 2.08e265
    for spec in (COX, LOGIT):
        with pytest.raises(DataError) as info:
            fit(spec, data)
        message = str(info.value)
        assert "'z'" in message and "2.08e+265" in message and "data rows 3, 12" in message
        assert "Rescale 'z'" in message and "2.1e+153" in message


def test_large_but_representable_covariate_is_fitted():
    # OLS is equivariant: multiplying x by 1e100 divides its coefficient by 1e100 exactly in theory
    data = frame()
    spec = {"family": "ols", "formula": "x ~ z + t"}
    plain = fit(spec, data).tidy.set_index("term")["estimate"]
    scaled = fit(spec, data.assign(t=data["t"] * 1e100)).tidy.set_index("term")["estimate"]
    assert scaled["t"] == pytest.approx(plain["t"] / 1e100, rel=1e-9)
    assert scaled["z"] == pytest.approx(plain["z"], rel=1e-9)


# ----------------------------------------------------------------------------------------------
# Binary response not 0/1
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["logit", "probit", "firth", "discrete_hazard"])
def test_binary_response_not_0_1_is_a_data_error_naming_the_column(family):
    data = frame()
    data.loc[[4, 7], "y"] = [2, -1]
    with pytest.raises(DataError) as info:
        fit({**LOGIT, "family": family}, data)
    assert isinstance(info.value, UserInputError) and not isinstance(info.value, ValueError)
    message = str(info.value)
    assert f"model 'model': the {family} model needs a 0/1 response" in message
    assert "'y' has 2 value(s) outside [0, 1]" in message and "data rows 5, 8 hold -1, 2" in message
    assert "Recode 'y' to 0/1" in message


def test_binary_response_rows_are_data_rows_after_missing_values_are_dropped():
    data = frame()
    data.loc[0, "x"] = np.nan  # dropped: positions shift, data row numbers do not
    data.loc[5, "y"] = 3
    with pytest.raises(DataError, match=r"data rows 6 hold 3"):
        fit(LOGIT, data)


def test_proportions_in_0_1_are_still_accepted():
    data = frame().assign(y=lambda d: np.clip(0.5 + 0.3 * d["x"], 0.05, 0.95))
    result = fit(LOGIT, data)
    assert np.isfinite(result.tidy["estimate"]).all()


# ----------------------------------------------------------------------------------------------
# Clustered and HC1 variances
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [LOGIT, COX, {"family": "ols", "formula": "x ~ z"},
                                  {"family": "weibull", "formula": "~ x + z", "time": "t", "event": "e"}])
def test_one_cluster_is_a_specification_error_naming_the_column(spec):
    data = frame().assign(g="a")
    with pytest.raises(SpecificationError) as info:
        fit({**spec, "vcov": {"type": "cluster", "groups": "g"}}, data)
    message = str(info.value)
    assert "model 'model': cluster standard errors need at least 2 clusters" in message
    assert "groups column 'g' has 1 distinct value(s)" in message and "(every row is 'a')" in message
    assert 'vcov = "robust"' in message


def test_two_way_clustering_with_one_cluster_in_the_second_column():
    data = frame().assign(h="p")
    with pytest.raises(SpecificationError, match="groups column 'h' has 1 distinct"):
        fit({**LOGIT, "vcov": {"type": "cluster", "groups": ["g", "h"]}}, data)


def test_bootstrap_on_one_cluster_is_refused():
    data = frame().assign(g="a")
    with pytest.raises(SpecificationError, match="bootstrap standard errors need at least 2 clusters.*leave groups out"):
        fit({**LOGIT, "vcov": {"type": "bootstrap", "groups": "g", "seed": 1, "reps": 20}}, data)


class _Vcov:
    def __init__(self, type, groups=None, hc=None):
        self.type, self.groups, self.hc = type, groups, hc


def test_hc1_with_no_residual_degrees_of_freedom_is_a_specification_error():
    # HC1 multiplies by n/(n - k) (vcovHC) or (n - 1)/(n - k) (vcovCL): undefined at n = k
    bread, scores = np.eye(3), np.arange(9.0).reshape(3, 3)
    groups = (np.array(["a", "b", "c"]),)
    for vcov in (_Vcov("HC1"), _Vcov("cluster", "region")):
        with pytest.raises(SpecificationError) as info:
            sandwich_vcov(vcov, bread=bread, scores=scores, groups=groups, n=3, k=3, model_id="m1")
        message = str(info.value)
        assert message.startswith("model 'm1': 3 rows for 3 coefficients leave no residual degrees of freedom")
    # HC0 has no such factor, and the two checks leave ordinary cases alone: HC1 = 4/(4-3) HC0
    hc0 = sandwich_vcov(_Vcov("HC0"), bread=bread, scores=np.vstack([scores, np.ones(3)]), groups=(), n=4, k=3)
    hc1 = sandwich_vcov(_Vcov("HC1"), bread=bread, scores=np.vstack([scores, np.ones(3)]), groups=(), n=4, k=3)
    np.testing.assert_allclose(hc1, 4.0 * hc0)


def test_dyadic_row_with_the_same_member_twice_is_a_data_error():
    data = frame().assign(a=["s1", "s2", "s3", "s4"] * 10, b=["s2", "s3", "s4", "s1"] * 10)
    data.loc[6, "b"] = data.loc[6, "a"]
    with pytest.raises(DataError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit({**LOGIT, "vcov": {"type": "dyadic", "groups": ["a", "b"]}}, data)
    message = str(info.value)
    assert "1 row(s)" in message and "rows 7" in message and "'a' and 'b'" in message
    assert 'sample = "a != b"' in message
