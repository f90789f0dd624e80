"""[[robustness]] overlays: composition into ordinary models, labels, errors, appendix tables.

Numbers come from R (tests/reference/golden.json, case lung_cox: coxph Efron and Breslow, robust
and cluster(inst) standard errors) or from the same model written out by hand as a [[models]]
entry (an overlay must be exactly that model).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from c2stats.config import load_analysis, spec_hash
from c2stats.errors import ConfigError, FormulaError
from c2stats.pipeline import run
from c2stats.robustness import appendix_tables, describe_difference, edit_formula

from tests.conftest import REFERENCE

MAIN = """
[analysis]
id = "main"
title = "Main analysis"
dataset = "lung.csv"

[[models]]
id = "cox_efron"
family = "cox"
formula = "~ age + sex + ph_ecog"
time = "time"
event = "event"
label = "Cox (Efron)"

[[tables]]
id = "main"
models = ["cox_efron"]
formats = ["md", "csv"]
"""

EIGHT = """
include = ["main.toml"]

[analysis]
id = "main_robustness"

[[robustness]]
id = "rob_breslow"
base = "cox_efron"
set = { options = { ties = "breslow" } }

[[robustness]]
id = "rob_cluster"
base = "cox_efron"
set = { vcov = { type = "cluster", groups = "inst" } }

[[robustness]]
id = "rob_robust"
base = "cox_efron"
set = { vcov = "robust" }

[[robustness]]
id = "rob_old"
base = "cox_efron"
restrict = "age >= 60"

[[robustness]]
id = "rob_controls"
base = "cox_efron"
drop = ["ph_ecog"]
add = ["I(age ** 2)"]

[[robustness]]
id = "rob_weibull"
base = "cox_efron"
set = { family = "weibull" }

[[robustness]]
id = "rob_logit"
base = "cox_efron"
set = { family = "logit" }
response = "event"
label = "Logit of death"

[[robustness]]
id = "rob_ci90"
base = "cox_efron"
set = { conf_level = 0.9 }
"""

HAND = {
    "rob_old": 'family = "cox"\nformula = "~ age + sex + ph_ecog"\ntime = "time"\nevent = "event"\nsample = "age >= 60"',
    "rob_controls": 'family = "cox"\nformula = "~ age + sex + I(age ** 2)"\ntime = "time"\nevent = "event"',
    "rob_weibull": 'family = "weibull"\nformula = "~ age + sex + ph_ecog"\ntime = "time"\nevent = "event"',
    "rob_logit": 'family = "logit"\nformula = "event ~ age + sex + ph_ecog"',
}


@pytest.fixture
def analysis(tmp_path):
    shutil.copy(REFERENCE / "data" / "lung.csv", tmp_path / "lung.csv")
    (tmp_path / "main.toml").write_text(MAIN, encoding="utf-8")
    (tmp_path / "rob.toml").write_text(EIGHT, encoding="utf-8")
    return tmp_path


def _hand_written(tmp_path: Path) -> Path:
    text = MAIN + "".join(f"\n[[models]]\nid = \"{mid}\"\n{body}\n" for mid, body in HAND.items())
    path = tmp_path / "hand.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_overlays_become_the_models_written_by_hand(analysis):
    cfg = load_analysis(analysis / "rob.toml")
    hand = load_analysis(_hand_written(analysis))
    assert [m.id for m in cfg.spec.models] == ["cox_efron", "rob_breslow", "rob_cluster", "rob_robust", "rob_old",
                                               "rob_controls", "rob_weibull", "rob_logit", "rob_ci90"]
    for mid in HAND:
        assert spec_hash(cfg.model(mid)) == spec_hash(hand.model(mid)), mid
    # a changed family drops the base's family options; a regression family drops time/event
    assert cfg.model("rob_weibull").options == hand.model("rob_weibull").options
    logit = cfg.model("rob_logit")
    assert (logit.time, logit.event, logit.formula) == (None, None, "event ~ age + sex + ph_ecog")
    assert cfg.model("rob_breslow").options["ties"] == "breslow"
    assert cfg.model("rob_cluster").vcov.groups == "inst"
    # overlays are covered by the config hash
    assert cfg.config_hash != load_analysis(analysis / "main.toml").config_hash


def test_labels_are_the_difference_from_the_base(analysis):
    cfg = load_analysis(analysis / "rob.toml")
    labels = {m.id: m.label for m in cfg.spec.models}
    assert labels == {
        "cox_efron": "Cox (Efron)",
        "rob_breslow": "ties: breslow",
        "rob_cluster": "SE: cluster (inst)",
        "rob_robust": "SE: robust",
        "rob_old": "sample: age >= 60",
        "rob_controls": "+ I(age ** 2); − ph_ecog",
        "rob_weibull": "weibull",
        "rob_logit": "Logit of death",
        "rob_ci90": "conf_level: 0.9",
    }


def test_eight_overlays_render_the_appendix_table_with_r_numbers(analysis, golden):
    lung = golden["lung_cox"]
    summary = run(analysis / "rob.toml", out=analysis / "report", executor="serial", cache=False)
    res = summary.results
    # R: coxph(ties = "breslow"), robust = TRUE, cluster(inst)
    for term, value in lung["cox_breslow"]["coef"].items():
        assert res["rob_breslow"].coef()[term] == pytest.approx(value, rel=1e-8)
    for term, value in lung["cox_efron"]["se_robust_cluster"].items():
        assert res["rob_cluster"].se()[term] == pytest.approx(value, rel=1e-7)
    for term, value in lung["cox_efron"]["se_robust_iid"].items():
        assert res["rob_robust"].se()[term] == pytest.approx(value, rel=1e-7)
    # the other overlays equal their hand-written models, fitted separately
    hand = run(_hand_written(analysis), out=analysis / "hand", executor="serial", cache=False).results
    for mid in HAND:
        assert res[mid].tidy.equals(hand[mid].tidy), mid
        assert res[mid].glance["nobs"] == hand[mid].glance["nobs"]
    assert res["rob_old"].glance["nobs"] == 143  # rows of lung.csv with age >= 60 (pandas count below)
    import pandas as pd

    assert int((pd.read_csv(analysis / "lung.csv")["age"] >= 60).sum()) == 143
    # 90% intervals: estimate +- qnorm(0.95) * se
    row = res["rob_ci90"].tidy.set_index("term").loc["sex"]
    assert row["conf_high"] - row["estimate"] == pytest.approx(1.6448536269514722 * row["std_error"], rel=1e-12)

    text = (analysis / "report" / "tables" / "robustness_cox_efron.md").read_text(encoding="utf-8")
    header = text.splitlines()[2]
    for label in ("Cox (Efron)", "ties: breslow", "SE: cluster (inst)", "SE: robust", "sample: age >= 60",
                  "weibull", "Logit of death", "conf_level: 0.9"):
        assert label in header
    assert header.count("|") == 11  # stub + 9 columns
    hashes = next(line for line in text.splitlines() if line.startswith("| Spec hash"))
    for mid in ("cox_efron", *[m for m in res if m.startswith("rob_")]):
        assert res[mid].meta["spec_hash"][:12] in hashes
    # formatting follows the main table that shows the base (csv requested there)
    assert (analysis / "report" / "tables" / "robustness_cox_efron.csv").is_file()
    # the included main table is unchanged by the overlays
    main = run(analysis / "main.toml", out=analysis / "main_report", executor="serial", cache=False)
    assert (analysis / "main_report" / "tables" / "main.md").read_bytes() == \
        (analysis / "report" / "tables" / "main.md").read_bytes()
    assert main.analysis_id == "main" and summary.analysis_id == "main_robustness"


def test_appendix_tables_group_by_base_and_declared_table(analysis):
    text = EIGHT + """
[[robustness]]
id = "rob_extra"
base = "rob_breslow"
restrict = "ph_ecog < 2"
table = "appendix_b"

[[robustness]]
id = "rob_hidden"
base = "cox_efron"
set = { vcov = "robust" }
restrict = "age < 70"
appendix = false
"""
    (analysis / "rob.toml").write_text(text, encoding="utf-8")
    cfg = load_analysis(analysis / "rob.toml")
    assert cfg.model("rob_extra").options["ties"] == "breslow"  # built on an earlier overlay
    assert cfg.model("rob_extra").sample == "ph_ecog < 2"
    assert cfg.model("rob_hidden").label == "SE: robust; sample: age < 70"
    summary = run(analysis / "rob.toml", out=analysis / "report", executor="serial", cache=False)
    tables = appendix_tables(cfg, dict(summary.results))
    assert list(tables) == ["robustness_cox_efron", "appendix_b"]
    assert len(tables["robustness_cox_efron"].columns) == 9  # base + 8, rob_hidden left out
    assert tables["appendix_b"].columns == ("ties: breslow", "sample: ph_ecog < 2")


def test_overlay_changes_the_dataset_by_merging_keys(write_toml):
    path = write_toml("""
[analysis]
id = "d"
title = "datasets"
dataset = "arrangements"

[[models]]
id = "base"
family = "cox"
formula = "~ c2_index + informal"
time = "duration"
event = "ended"

[[robustness]]
id = "coding"
base = "base"
set = { dataset = { coding = "provisions_only" } }

[[robustness]]
id = "window"
base = "base"
set = { dataset = { path = "arrangements", window = [1990, 2005] } }

[[robustness]]
id = "spells"
base = "base"
set = { dataset = "arrangement_years", start = "start", time = "stop", event = "event" }
""")
    cfg = load_analysis(path)
    assert cfg.dataset_of(cfg.model("coding")).coding == "provisions_only"
    assert cfg.dataset_of(cfg.model("coding")).path == "arrangements"
    assert cfg.model("coding").label == "coding: provisions_only"
    assert tuple(cfg.dataset_of(cfg.model("window")).window) == (1990, 2005)
    assert cfg.model("window").label == "window: 1990–2005"
    spells = cfg.model("spells")
    assert (cfg.dataset_of(spells).path, spells.start, spells.time) == ("arrangement_years", "start", "stop")
    assert spells.label == "data: arrangement_years; time: stop; event: event; start: start"


@pytest.mark.parametrize("entry, where, message", [
    ('set = { formla = "~ age" }', "robustness[0] (id 'r').set.formla", "did you mean 'formula'?"),
    ('set = { id = "x" }', "robustness[0] (id 'r').set.id", "cannot set 'id'"),
    ('drop = ["wt_loss"]', "robustness[0] (id 'r').drop", "has no term 'wt_loss' (its terms: age, sex, ph_ecog)"),
    ('set = { family = "logit" }', "robustness[0] (id 'r').response",
     "from cox (survival) to logit (regression)"),
    ('set = { vcov = "HC1" }', "robustness[0] (id 'r')", "(r) is invalid at vcov"),
    ('restrict = "age >> 3"', "robustness[0] (id 'r').restrict", "sample restriction"),
    ('add = ["foo("]', "robustness[0] (id 'r').add", "formula"),
])
def test_overlay_errors_name_the_entry_key_and_fix(analysis, entry, where, message):
    (analysis / "rob.toml").write_text(f'include = ["main.toml"]\n\n[[robustness]]\nid = "r"\nbase = "cox_efron"\n{entry}\n')
    with pytest.raises(ConfigError) as info:
        load_analysis(analysis / "rob.toml")
    text = str(info.value)
    assert str(analysis / "rob.toml") in text
    assert where in text, text
    assert message in text, text


def test_overlay_id_base_and_table_conflicts(analysis):
    def fails(body: str) -> str:
        (analysis / "rob.toml").write_text('include = ["main.toml"]\n' + body)
        with pytest.raises(ConfigError) as info:
            load_analysis(analysis / "rob.toml")
        return str(info.value)

    assert "already used by a [[models]] entry" in fails('[[robustness]]\nid = "cox_efron"\nbase = "cox_efron"\n')
    assert "did you mean 'cox_efron'?" in fails('[[robustness]]\nid = "r"\nbase = "cox_efrn"\n')
    later = fails('[[robustness]]\nid = "a"\nbase = "b"\n\n[[robustness]]\nid = "b"\nbase = "cox_efron"\n')
    assert "earlier overlays" in later
    assert "has the id of a [[tables]] entry" in fails('[[robustness]]\nid = "r"\nbase = "cox_efron"\ntable = "main"\n'
                                                       'restrict = "age > 50"\n')


def test_edit_formula_renders_back_deterministically():
    assert edit_formula("y ~ a + b", add=("c",)) == "y ~ a + b + c"
    assert edit_formula("y ~ a*b", drop=("a:b",)) == "y ~ a + b"
    assert edit_formula("y ~ a + b + a:b", add=("log(c)", "b:a")) == "y ~ a + b + log(c) + a:b"  # b:a is a:b
    assert edit_formula("~ a + b", response="y") == "y ~ a + b"
    assert edit_formula("y ~ a + b", response="") == "~ a + b"
    assert edit_formula("y ~ a - 1", add=("b",)) == "y ~ a + b - 1"
    assert edit_formula("y ~ a", drop=("a",)) == "y ~ 1"
    assert edit_formula("y ~ `my var` + C(region, ref = 'x')", add=("poly(z, 2)",)) == \
        "y ~ `my var` + C(region, ref = 'x') + poly(z, 2)"
    from c2stats.formula import parse_formula

    for text in ("y ~ `my var` + C(region, ref = 'x') + poly(z, 2)", "y ~ a + b + log(c) + a:b", "y ~ a + b - 1"):
        again = parse_formula(text)
        assert [t.label for t in again.terms] == [t.label for t in parse_formula(edit_formula(text, add=())).terms]
    with pytest.raises(FormulaError, match="has no term 'c'"):
        edit_formula("y ~ a + b", drop=("c",))


def test_describe_difference_covers_each_kind_of_change():
    base = {"family": "cox", "formula": "~ a + b", "options": {"ties": "efron"}, "vcov": {"type": "model"},
            "sample": "x > 1", "dataset": None, "time": "t", "event": "e", "conf_level": 0.95}
    assert describe_difference(base, dict(base)) == "same as base"
    assert describe_difference(base, {**base, "sample": "(x > 1) and (y == 2)"}) == "sample: y == 2"
    assert describe_difference(base, {**base, "sample": None}) == "sample: all"
    assert describe_difference(base, {**base, "vcov": {"type": "bootstrap", "reps": 999, "seed": 1}}) == \
        "SE: bootstrap (999 reps)"
    changed = {**base, "family": "weibull", "options": {"form": "aft", "maxit": 100}}
    assert describe_difference(base, changed, explicit_options=("form",)) == "weibull; form: aft"
