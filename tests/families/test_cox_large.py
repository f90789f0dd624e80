"""The Cox engine's large-data paths against R on 100,000 (start, stop] rows.

At this size the engine sorts times by hashing and radix passes, merges round-off ties in linear
time, sums clustered score residuals column by column and streams cox.zph over row blocks; the
data (built by integer arithmetic, identical doubles in R and numpy) have 8,515 distinct stop
times that ``aeqSurv`` merges to 5,440. Reference: ``tests/reference/cox_large/`` (R 4.2.2,
survival 3.5-3).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from c2stats.families._cox_engine import _aeq_surv, _argsort_times, fit_cox
from c2stats.families._cox_zph import cox_zph

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "cox_large" / "cox_large.json").read_text())


def _data() -> dict[str, np.ndarray]:
    n = 100_000
    i = np.arange(n, dtype=np.int64)
    subj = i // 10
    gap = 1 + (i * 7907) % 365
    e0 = (subj * 37) % 3650
    cum = np.cumsum(gap.reshape(-1, 10), axis=1).ravel()
    return {
        "subj": subj,
        "x": np.column_stack([((subj * 7919) % 1000) / 1000 - 0.5, ((i * 104729) % 2003) / 2003 * 2 - 1,
                              (subj % 2).astype(float)]),
        "g": subj % 3,
        "stop": e0 / 365.25 + cum / 365.25,
        "start": e0 / 365.25 + (cum - gap) / 365.25,
        "event": ((i * 2654435761) % 1000 < 40 + 30 * (subj % 2) + ((subj * 7919) % 1000) // 25).astype(float),
    }


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return _data()


def test_data_exercise_the_large_paths(data):
    assert int(data["event"].sum()) == REF["cluster"]["nevent"]
    _, merged = _aeq_surv(data["start"], data["stop"], np.argsort(data["stop"]))
    assert np.unique(data["stop"]).size == 8515 and np.unique(merged).size == 5440  # R's counts (.Rout)
    order = _argsort_times(data["stop"])
    assert np.all(np.diff(data["stop"][order]) >= 0)


@pytest.mark.parametrize(
    "case, kwargs",
    [
        ("cluster", {"entry": True, "cluster": True, "ties": "efron"}),
        ("strata", {"entry": True, "strata": True, "ties": "efron"}),
        ("breslow_right", {"ties": "breslow"}),
    ],
)
def test_fit_and_zph_match_r(data, case, kwargs):
    ref = REF[case]
    fit = fit_cox(data["x"], data["stop"], data["event"],
                  entry=data["start"] if kwargs.get("entry") else None,
                  cluster=data["subj"] if kwargs.get("cluster") else None,
                  strata=data["g"] if kwargs.get("strata") else None,
                  ties=kwargs["ties"], eps=1e-11)
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), ref["se"], rtol=1e-8)
    np.testing.assert_allclose(fit.se_model, ref["se_model"], rtol=1e-8)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], ref["loglik"], rtol=1e-12)
    zph = cox_zph(fit, data["x"], data["stop"], data["event"],
                  entry=data["start"] if kwargs.get("entry") else None)
    np.testing.assert_allclose(zph.chisq, ref["zph_chisq"], rtol=1e-7)
    np.testing.assert_array_equal(zph.df, ref["zph_df"])


def test_test_and_residuals_in_one_pass(data):
    """cox_zph_residuals: R's chi-squares, and the residuals scaled_schoenfeld gives on its own."""
    from c2stats.families._cox_zph import cox_zph_residuals, scaled_schoenfeld

    fit = fit_cox(data["x"], data["stop"], data["event"], entry=data["start"], strata=data["g"], eps=1e-11)
    zph, resid = cox_zph_residuals(fit, data["x"], data["stop"], data["event"], entry=data["start"],
                                   strata=data["g"])
    np.testing.assert_allclose(zph.chisq, REF["strata"]["zph_chisq"], rtol=1e-7)
    alone = scaled_schoenfeld(fit, data["x"], data["stop"], data["event"], entry=data["start"], strata=data["g"])
    np.testing.assert_allclose(resid.y, alone.y, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(resid.time, alone.time)


def test_time_merging_matches_r_aeqsurv():
    """R 4.2.2, survival 3.5-3:
    unclass(aeqSurv(Surv(c(1, 1+1e-10, 2, Inf, 3), c(1, 1, 1, 0, 1))))[, 1]  ->  1 1 2 3 3
    unclass(aeqSurv(Surv(c(0, 1, 1+1e-10, 0.5), c(1+1e-10, 2, 3, 1), c(1, 0, 1, 1))))[, 1:2]
        -> start 0, 1, 1, 0.5; stop 1, 2, 3, 1
    (+Inf is mapped to the last cut, as findInterval does)."""
    stop = np.array([1, 1 + 1e-10, 2, np.inf, 3])
    _, merged = _aeq_surv(None, stop, _argsort_times(stop))
    np.testing.assert_array_equal(merged, [1, 1, 2, 3, 3])
    entry, stop = np.array([0, 1, 1 + 1e-10, 0.5]), np.array([1 + 1e-10, 2, 3, 1])
    new_entry, new_stop = _aeq_surv(entry, stop, np.argsort(stop))
    np.testing.assert_array_equal(new_entry, [0, 1, 1, 0.5])
    np.testing.assert_array_equal(new_stop, [1, 2, 3, 1])
