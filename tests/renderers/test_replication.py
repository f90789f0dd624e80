"""The replication harness, on Leeds & Anac (2005) Table 4 with R's estimates as the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import c2stats
from c2stats.data import load_dataset
from c2stats.errors import SpecificationError
from c2stats.replication import ReplicationSpec, compare, display_frame, failures

R_OUT = Path(__file__).resolve().parents[1] / "reference" / "replication" / "leeds_anac.out"


def r_reference() -> tuple[dict[str, float], dict[str, float], int]:
    """Coefficients, SEs and N parsed from R's printed output (leeds_anac.R)."""
    est, se, nobs = {}, {}, None
    for line in R_OUT.read_text().splitlines():
        m = re.match(r"^(\(Intercept\)|\w+)\s+(-?[\d.e+-]+)\s+([\d.e+-]+)\s+-?[\d.e+-]+\s+[\d.e+-]+$", line)
        if m:
            est[m.group(1)], se[m.group(1)] = float(m.group(2)), float(m.group(3))
        if line.startswith("nobs"):
            nobs = int(line.split()[1])
    return est, se, nobs


@pytest.fixture(scope="module")
def leeds_anac():
    frame = load_dataset("leeds_anac_2005").frame
    return c2stats.fit({"family": "logit", "formula": "honor3 ~ milinst + formal + chcap2d + dinstch2 + origtar1"}, frame)


def test_r_reference_parsed():
    est, se, nobs = r_reference()
    assert set(est) == {"(Intercept)", "milinst", "formal", "chcap2d", "dinstch2", "origtar1"}
    assert nobs == 137 and est["milinst"] == pytest.approx(-0.709194699609)


def test_leeds_anac_reproduces_r(leeds_anac):
    est, se, nobs = r_reference()
    spec = ReplicationSpec(id="la", model="m", source="Leeds & Anac (2005), Table 4", reference="R",
                           estimates=est, std_errors=se, nobs=nobs, tolerance=1e-6)
    frame = compare(spec, leeds_anac)
    assert len(frame) == 13 and frame["ok"].all(), frame
    assert frame["difference"].abs().max() < 1e-8
    assert failures({"la": frame}) == []
    shown = display_frame(spec, frame)
    assert list(shown.columns)[2] == "Reference (R)" and (shown["Within tolerance"] == "yes").all()


def test_difference_beyond_tolerance_is_reported(leeds_anac):
    spec = ReplicationSpec(id="la", model="m", source="s", estimates={"milinst": -0.70, "formal": -0.93},
                           tolerance=0.005, nobs=140)
    frame = compare(spec, leeds_anac)
    assert frame.set_index("term")["ok"].to_dict() == {"milinst": False, "formal": True, "N": False}
    lines = failures({"la": frame})
    assert len(lines) == 2 and "milinst estimate reproduced -0.709195, reference -0.7" in lines[0]


def test_unknown_term_names_the_model(leeds_anac):
    spec = ReplicationSpec(id="la", model="m", source="s", estimates={"milinstt": 1.0})
    with pytest.raises(SpecificationError, match=r"term 'milinstt' is not in model 'm' \(did you mean 'milinst'\?\)"):
        compare(spec, leeds_anac)
