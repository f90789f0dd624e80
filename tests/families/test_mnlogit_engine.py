"""Multinomial logit engine against R (tests/reference/golden.json, mexico_mnl).

R reference: exact Newton fit of vote88 ~ pristr + othcok + othsocok + female + age + school,
base category 1 (and nnet::multinom with reltol 1e-16, agreeing to ~3e-9).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import SpecificationError
from c2stats.families._mnlogit_engine import fit_mnlogit

REF = Path(__file__).resolve().parents[1] / "reference"
CASE = json.loads((REF / "golden.json").read_text())["cases"]["mexico_mnl"]
TERMS = ["(Intercept)", "pristr", "othcok", "othsocok", "female", "age", "school"]


@pytest.fixture(scope="module")
def mexico():
    frame = pd.read_csv(REF / "data" / "mexico.csv")
    X = np.column_stack([np.ones(len(frame))] + [frame[t].to_numpy(float) for t in TERMS[1:]])
    return X, frame["vote88"].to_numpy()


def _matrix(d: dict) -> np.ndarray:
    return np.array([[d[c][t] for t in TERMS] for c in ("2", "3")])


def test_matches_exact_newton_reference(mexico):
    X, y = mexico
    ref = CASE["mnlogit_newton"]
    fit = fit_mnlogit(X=X, y=y, base=CASE["base_category"])
    assert fit.converged and fit.reason is None
    assert fit.n == CASE["n"] and fit.base == 1 and fit.categories == (2, 3)
    np.testing.assert_allclose(fit.params, _matrix(ref["coef"]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se_model, _matrix(ref["se_model"]), rtol=1e-5)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    # nnet's BFGS agrees only to optimiser precision.
    np.testing.assert_allclose(fit.params, _matrix(CASE["mnlogit_nnet"]["coef"]), rtol=0, atol=1e-7)
    np.testing.assert_allclose(fit.scores.sum(axis=0), 0, atol=1e-8)


def test_base_category_change_is_a_reparameterisation(mexico):
    X, y = mexico
    f1 = fit_mnlogit(X=X, y=y, base=1)
    f3 = fit_mnlogit(X=X, y=y, base=3)
    assert f3.categories == (1, 2)
    # β_j(base 3) = β_j(base 1) − β_3(base 1).
    np.testing.assert_allclose(f3.params[0], -f1.params[1], atol=1e-8)
    np.testing.assert_allclose(f3.params[1], f1.params[0] - f1.params[1], atol=1e-8)
    assert f3.loglik == pytest.approx(f1.loglik, abs=1e-9)
    np.testing.assert_allclose(f3.probabilities[:, [1, 2, 0]], f1.probabilities, atol=1e-10)


def test_string_labels_and_statsmodels_agree(mexico):
    import statsmodels.api as sm

    X, y = mexico
    names = np.array(["none", "formal", "informal"])[y - 1]
    fit = fit_mnlogit(X=X, y=names, base="none")
    assert fit.categories == ("formal", "informal")
    sm_fit = sm.MNLogit(y, X).fit(method="newton", disp=0, tol=1e-14, maxiter=100)
    np.testing.assert_allclose(fit.params, np.asarray(sm_fit.params).T, atol=1e-8)
    # statsmodels orders the covariance equation-major too.
    np.testing.assert_allclose(fit.vcov_model, np.asarray(sm_fit.cov_params()), rtol=1e-6, atol=1e-12)


def test_errors_name_the_problem(mexico):
    X, y = mexico
    with pytest.raises(SpecificationError, match="base category 7 does not occur"):
        fit_mnlogit(X=X, y=y, base=7)
    with pytest.raises(SpecificationError, match="at least 3 outcome categories"):
        fit_mnlogit(X=X, y=(y > 1).astype(int))
