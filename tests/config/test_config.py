"""Analysis files: strict schema, includes, extends, and errors that name file, key path and line."""

import json

import pytest

from c2stats.config import json_schema, load_analysis
from c2stats.errors import ConfigError

BASE = """
[analysis]
id = "t"
title = "Test"
dataset = "lung"

[[models]]
id = "cox_a"
family = "cox"
formula = "~ age + sex"
time = "time"
event = "event"

[[tables]]
id = "t1"
models = ["cox_a"]
"""


def error_of(path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_analysis(path)
    return str(exc.value)


def test_valid_file_loads(write_toml):
    cfg = load_analysis(write_toml(BASE))
    assert cfg.id == "t"
    assert cfg.model("cox_a").options["ties"] == "efron"  # family defaults are filled in
    assert cfg.model("cox_a").vcov.type == "model"


def test_misspelt_key_suggests_and_names_line(write_toml):
    path = write_toml(BASE.replace('family = "cox"', 'famly = "cox"'))
    msg = error_of(path)
    assert str(path) in msg
    assert "models[0] (id 'cox_a').famly" in msg
    assert "did you mean 'family'?" in msg
    assert "(line 9)" in msg


def test_misspelt_family_option(write_toml):
    msg = error_of(write_toml(BASE.replace('event = "event"', 'event = "event"\noptions = { tise = "breslow" }')))
    assert "options.tise" in msg and "did you mean 'ties'?" in msg


def test_wrong_type(write_toml):
    msg = error_of(write_toml(BASE.replace('models = ["cox_a"]', 'models = "cox_a"')))
    assert "tables[0] (id 't1').models" in msg and "list" in msg


@pytest.mark.parametrize(
    "change, fragment",
    [
        ('family = "coxx"', "unknown family 'coxx' (did you mean 'cox'?)"),
        ('vcov = "sandwich"', "'sandwich' is not allowed"),
        ('vcov = "HC1"', "'HC1' is not available for the cox family"),
        ('vcov = { type = "cluster" }', "needs groups"),
        ('vcov = { type = "cluster", groups = "inst", reps = 10 }', "remove reps"),
        ('formula = "~ age + system(sex)"', "system() is not an allowed transform"),
        ('sample = "__import__(\'os\')"', "function call is not allowed"),
        ('id = "../escape"', "not a valid id"),
        ('formula = "time ~ age"', "survival families take '~ x1 + x2'"),
    ],
)
def test_model_errors(write_toml, change, fragment):
    key = change.split(" = ")[0]
    text = BASE
    if key in ("family", "formula", "id"):
        line = {"family": 'family = "cox"', "formula": 'formula = "~ age + sex"', "id": 'id = "cox_a"'}[key]
        text = text.replace(line, change)
    else:
        text = text.replace('event = "event"', f'event = "event"\n{change}')
    msg = error_of(write_toml(text))
    assert fragment in msg, msg


def test_malformed_toml_gives_line(write_toml):
    msg = error_of(write_toml(BASE.replace('title = "Test"', 'title = "Test')))
    assert "not valid TOML" in msg and "line 4" in msg


def test_table_with_unknown_model(write_toml):
    msg = error_of(write_toml(BASE.replace('models = ["cox_a"]', 'models = ["cox_b"]')))
    assert "tables[0] (id 't1').models[0]" in msg and "'cox_b'" in msg and "did you mean 'cox_a'?" in msg


def test_duplicate_model_id(write_toml):
    msg = error_of(write_toml(BASE + '\n[[models]]\nid = "cox_a"\nextends = "cox_a"\n'))
    assert "model id 'cox_a' is used twice" in msg


def test_extends_inherits_and_overrides(write_toml):
    text = BASE + """
[[models]]
id = "cox_b"
extends = "cox_a"
options = { ties = "breslow" }
vcov = { type = "cluster", groups = "inst" }
"""
    cfg = load_analysis(write_toml(text))
    b = cfg.model("cox_b")
    assert b.family == "cox" and b.formula == "~ age + sex" and b.time == "time"
    assert b.options["ties"] == "breslow" and b.vcov.groups == "inst"
    assert cfg.model("cox_a").options["ties"] == "efron"


def test_extends_cycle_and_missing_target(write_toml):
    cyc = BASE + '\n[[models]]\nid = "m1"\nextends = "m2"\n\n[[models]]\nid = "m2"\nextends = "m1"\n'
    assert "extends cycle" in error_of(write_toml(cyc))
    missing = BASE + '\n[[models]]\nid = "m1"\nextends = "cox_z"\n'
    assert "extends 'cox_z', which is not a model id" in error_of(write_toml(missing))


def test_include_overlays_base(write_toml):
    write_toml(BASE, "base.toml")
    over = write_toml(
        'include = ["base.toml"]\n\n[analysis]\nid = "robust"\n\n[[models]]\nid = "cox_r"\nextends = "cox_a"\n'
        'vcov = "robust"\n',
        "robust.toml",
    )
    cfg = load_analysis(over)
    assert cfg.id == "robust" and cfg.spec.analysis.title == "Test"
    assert [m.id for m in cfg.spec.models] == ["cox_a", "cox_r"]
    assert [f.name for f in cfg.files] == ["base.toml", "robust.toml"]


def test_include_cycle_and_missing(write_toml):
    write_toml('include = ["b.toml"]\n' + BASE, "a.toml")
    b = write_toml('include = ["a.toml"]\n', "b.toml")
    assert "include cycle" in error_of(b)
    c = write_toml('include = ["nowhere.toml"]\n' + BASE, "c.toml")
    assert "included file 'nowhere.toml' not found" in error_of(c)


def test_error_in_included_file_names_that_file(write_toml):
    write_toml(BASE.replace('time = "time"', 'tme = "time"'), "base.toml")
    over = write_toml('include = ["base.toml"]\n', "over.toml")
    msg = error_of(over)
    assert "base.toml" in msg and "tme" in msg and "did you mean 'time'?" in msg


def test_unknown_top_level_key(write_toml):
    assert "unknown top-level key 'model' (did you mean 'models'?)" in error_of(write_toml(BASE + "\n[model]\nx = 1\n"))


def test_config_hash_is_stable_and_sensitive(write_toml):
    a = load_analysis(write_toml(BASE, "a.toml")).config_hash
    assert a == load_analysis(write_toml("# comment\n" + BASE, "b.toml")).config_hash
    assert a != load_analysis(write_toml(BASE.replace("age + sex", "age"), "c.toml")).config_hash


def test_json_schema_exports():
    schema = json_schema()
    assert schema["title"] == "c2stats analysis file"
    json.dumps(schema)
    assert "models" in schema["properties"]
