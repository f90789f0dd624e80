"""Published tables reproduced to the printed digit (analyses/replications/).

The reference numbers are the printed tables themselves (held in each analysis file's
``[[replications]]``), transcribed from the authors' archives (c2stats/examples/SOURCES.md). R
reproduces the same digits from the vendored data (tests/reference/replications/*.R and .Rout).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from c2stats.config import load_analysis
from c2stats.data import load_dataset
from c2stats.fitting import fit_model
from c2stats.replication import compare, failures, notes, stars_for

REPO = Path(__file__).resolve().parents[2]
PAPERS = sorted((REPO / "analyses" / "replications").glob("*.toml"))


def _fits(cfg):
    out = {}
    for model_id in {spec.model for spec in cfg.spec.replications}:
        model = cfg.model(model_id)
        out[model_id] = fit_model(model, load_dataset(cfg.dataset_of(model), cfg.path.parent))
    return out


@pytest.fixture(scope="module", params=PAPERS, ids=lambda p: p.stem)
def paper(request):
    cfg = load_analysis(request.param)
    return cfg, _fits(cfg)


def test_three_or_more_papers():
    assert len(PAPERS) >= 3


def test_every_printed_number_reproduced(paper):
    cfg, results = paper
    assert cfg.spec.replications
    for spec in cfg.spec.replications:
        frame = compare(spec, results[spec.model])
        assert frame["ok"].all(), failures({spec.id: frame})
        assert {"estimate", "std_error", "nobs"} <= set(frame["quantity"])
        assert ("stars" in set(frame["quantity"])) == bool(spec.stars)
        assert ("fit" in set(frame["quantity"])) == bool(spec.fit)
        assert "printed digit" in notes(spec)[0]


def test_one_digit_off_is_caught(paper):
    cfg, results = paper
    spec = cfg.spec.replications[0]
    term, value = next(iter(spec.estimates.items()))
    bumped = spec.model_copy(update={"estimates": {term: value + 10.0 ** -spec.digits},
                                     "std_errors": {}, "stars": {}, "fit": {}, "nobs": None})
    frame = compare(bumped, results[spec.model])
    assert not frame["ok"].any()
    assert "reproduced" in failures({"x": frame})[0]


def test_wrong_star_is_caught(paper):
    cfg, results = paper
    spec = cfg.spec.replications[0]
    term, printed = next(iter(spec.stars.items()))
    wrong = "***" if printed != "***" else ""
    frame = compare(spec.model_copy(update={"stars": {term: wrong}}), results[spec.model])
    row = frame[frame["quantity"] == "stars"].iloc[0]
    assert not row["ok"] and "stars reproduced" in failures({"x": frame})[0]


def test_stars_follow_the_table_note():
    levels = {"+": 0.1, "*": 0.05, "**": 0.01, "***": 0.001}
    assert [stars_for(p, levels) for p in (0.2, 0.0575, 0.04, 0.009, 0.0004, float("nan"))] == \
        ["", "+", "*", "**", "***", ""]
    assert stars_for(0.04, {"*": 0.1, "**": 0.05, "***": 0.01}) == "**"
