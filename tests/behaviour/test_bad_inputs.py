"""The bad-input battery: every case goes through the command line and must end with

* exit status 2,
* one ``error: ...`` line naming the file (analysis file or dataset), the key path, column or rows
  concerned, and saying how to fix it,
* no traceback and no ``internal error``,
* nothing written or changed anywhere under the working folder (the fit cache aside): the previous
  report in ``reports/battery/`` is byte-identical and no temporary folder is left beside it.

Each case changes one thing in a valid analysis (``BASE`` on the dataset built by
:func:`arrangements`, checked to run cleanly by ``test_base_analysis_runs``), so its error cannot
come from anything else. Most cases run in process (``c2stats.cli.main``); ``SUBPROCESS`` cases run
``python -m c2stats`` to prove what a user sees.

``DEGENERATE`` holds well-formed data too small or extreme to fit; those runs may succeed (exit 0)
or be refused (exit 2) but must never crash. ``test_internal_error_says_so_and_points_to_the_tracker``
checks what a genuine bug looks like (exit 3, a message saying so, no traceback).

Cases that depend on features still being wired, or on fixes outside this test's files, are
``xfail(strict=True)`` with the reason (where the fix goes and what the message is now); they turn
into failures once fixed, and the mark must then be removed. The case list, one id a line:
``python -m pytest --collect-only -q tests/behaviour/test_bad_inputs.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from c2stats.cli import main

ANALYSIS = "analysis.toml"
DATA = "arr.csv"
COW = [2, 20, 200, 220, 255, 325, 365, 640, 710, 740, 750]


def arrangements(n: int = 60, seed: int = 7) -> pd.DataFrame:
    """A small valid ``arrangements`` dataset (codebook schema), with a few covariates."""
    rng = np.random.default_rng(seed)
    c1 = rng.choice(COW, n)
    c2 = np.array([rng.choice([c for c in COW if c != a]) for a in c1])
    start = pd.Timestamp("1980-01-01") + pd.to_timedelta(rng.integers(0, 3650, n), unit="D")
    duration = np.round(rng.exponential(8.0, n) + 0.25, 3)
    stop = start + pd.to_timedelta(np.round(duration * 365.25), unit="D")
    form = np.where(rng.random(n) < 0.5, "formal", "informal")
    return pd.DataFrame({
        "arrangement_id": [f"A{i:03d}" for i in range(n)],
        "form": form,
        "informal": (form == "informal").astype(int),
        "ccode1": c1,
        "ccode2": c2,
        "start_date": start.strftime("%Y-%m-%d"),
        "stop_date": stop.strftime("%Y-%m-%d"),
        "duration": duration,
        "ended": (rng.random(n) < 0.6).astype(int),
        "c2_index": np.round(rng.normal(0.0, 1.0, n), 4),
        "n_members": rng.integers(2, 6, n),
        "region": rng.choice(["europe", "asia", "americas"], n),
    })


BASE = """\
[analysis]
id = "battery"
title = "Bad-input battery"
dataset = { path = "arr.csv", unit = "arrangements" }

[[models]]
id = "cox_base"
family = "cox"
formula = "~ c2_index + n_members"
time = "duration"
event = "ended"

[[models]]
id = "logit_form"
family = "logit"
formula = "informal ~ c2_index + n_members"

[[tables]]
id = "t1"
models = ["cox_base", "logit_form"]
"""

ANALYSIS_ONLY = BASE.split("\n\n[[models]]")[0] + "\n"


@dataclass
class Case:
    """One bad input: the analysis text, extra files, and fragments the error message must contain."""

    toml: str = BASE
    expect: tuple[str | tuple[str, ...], ...] = ()  #: a tuple entry: any one of these
    files: dict[str, bytes | str | Callable[[Path], None]] = field(default_factory=dict)
    data: Callable[[pd.DataFrame], pd.DataFrame | bytes] | None = None
    command: tuple[str, ...] = ("run", ANALYSIS)


def edit(*pairs: tuple[str, str], text: str = BASE) -> str:
    """``text`` with each (old, new) replaced once; an ``old`` that is absent is a broken case."""
    for old, new in pairs:
        assert text.count(old) == 1, f"case edits {old!r}, which is not (once) in the base analysis"
        text = text.replace(old, new, 1)
    return text


def cox_formula(new: str) -> str:
    """The analysis with the Cox model's formula replaced."""
    return edit(('formula = "~ c2_index + n_members"', f'formula = "{new}"'))


def after(anchor: str, added: str, text: str = BASE) -> str:
    return edit((anchor, f"{anchor}\n{added}"), text=text)


def model(key_line: str, text: str = BASE) -> str:
    """Add a line to the first model (cox_base)."""
    return after('event = "ended"', key_line, text)


def logit(key_line: str) -> str:
    """Add a line to the second model (logit_form)."""
    return after('formula = "informal ~ c2_index + n_members"', key_line)


def plain_data(text: str) -> str:
    """The analysis on the dataset as a plain file (no schema), to reach the fit-time checks."""
    return edit(('dataset = { path = "arr.csv", unit = "arrangements" }', 'dataset = "arr.csv"'), text=text)


def cox_only(text: str) -> str:
    """Only the Cox model (drop the logit), for data cases that concern the survival outcome."""
    head, _, _ = text.partition("[[models]]\nid = \"logit_form\"")
    return head + '[[tables]]\nid = "t1"\nmodels = ["cox_base"]\n'


def set_col(name: str, values) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if callable(values):
            df[name] = values(df)
        else:
            df[name] = values
        return df

    return change


def set_cell(row: int, column: str, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy().astype({column: object})
        df.loc[row, column] = value
        return df

    return change


def xfail(where: str, what: str):
    return pytest.mark.xfail(strict=True, reason=f"integrator ({where}): {what}; remove when fixed")


#: Fit-time errors may name the analysis file or the dataset file, and the model by id or key path.
FILES = ("analysis.toml", "arr.csv")
MODEL0 = ("model 'cox_base'", "models[0] (id 'cox_base')")
#: An absolute path outside the test folder that an escaping id would write to; it must never appear.
OUTSIDE = "/tmp/c2stats_battery_escape"
CASES = [
    # ---- the analysis file itself ---------------------------------------------------------------
    pytest.param(Case(edit(('title = "Bad-input battery"', 'title = "Bad-input battery')),
                      ("analysis.toml", "not valid TOML", "line 3", "Check quotes")), id="toml-unclosed-string"),
    pytest.param(Case(edit(('family = "cox"', 'family = "cox"\nfamily = "logit"')),
                      ("analysis.toml", "not valid TOML", "line 9", "Check quotes")), id="toml-key-twice"),
    pytest.param(Case(edit(("[[tables]]", "[[tables]")), ("analysis.toml", "not valid TOML", "Check quotes")),
                 id="toml-broken-header"),
    pytest.param(Case(files={ANALYSIS: BASE.replace("Bad-input", "Mauvais entr\u00e9e").encode("latin-1")},
                      expect=("analysis.toml", "not UTF-8", "save the analysis file as UTF-8")),
                 id="toml-not-utf8"),
    pytest.param(Case(command=("run", "missing.toml"), expect=("missing.toml", "file not found", "check the path")),
                 id="analysis-file-missing"),
    pytest.param(Case(command=("run", "."), expect=(".", "is a directory", "give the analysis file")),
                 id="analysis-path-is-directory"),
    pytest.param(Case(BASE.replace("[analysis]", "[analysys]"),
                      ("analysis.toml", "unknown top-level key 'analysys'", "did you mean 'analysis'?")),
                 id="unknown-section-misspelt"),
    pytest.param(Case(model('"line\\nbreak" = 1'), ("analysis.toml", "models[0] (id 'cox_base')",
                                                        "unknown key 'line\\nbreak'")),
                 id="unknown-key-with-newline"),
    pytest.param(Case(edit(('id = "cox_base"', 'id = "cox\\nbase"'),
                           ('models = ["cox_base", "logit_form"]', 'models = ["logit_form"]'),
                           ('id = "logit_form"', 'id = "logit_form"\nextends = "zzz"'))
                      + '\n[[models]]\nid = "m"\nextends = "zzz"\n',
                      ("analysis.toml", "extends 'zzz', which is not a model id", "'cox\\nbase'")),
                 id="id-with-newline-in-suggestions"),
    pytest.param(Case(BASE + "\n[options]\nseed = 1\n", ("analysis.toml", "unknown top-level key 'options'")),
                 id="unknown-top-level-key"),
    pytest.param(Case(edit(('title = "Bad-input battery"', 'titel = "Bad-input battery"')),
                      ("analysis.toml", "analysis (id 'battery').titel (line 3)", "unknown key 'titel'",
                       "did you mean 'title'?")), id="misspelt-analysis-key"),
    pytest.param(Case(edit(('formula = "~ c2_index', 'formla = "~ c2_index')),
                      ("analysis.toml", "models[0] (id 'cox_base').formla", "line 9", "did you mean 'formula'?")),
                 id="misspelt-model-key"),
    pytest.param(Case(model("vcov = { type = \"cluster\", grups = \"region\" }"),
                      ("analysis.toml", "models[0] (id 'cox_base').vcov.grups", "did you mean 'groups'?")),
                 id="misspelt-vcov-key"),
    pytest.param(Case(model('options = { tise = "breslow" }'),
                      ("analysis.toml", "models[0] (id 'cox_base').options.tise", "did you mean 'ties'?")),
                 id="misspelt-family-option"),
    pytest.param(Case(after('models = ["cox_base", "logit_form"]', "exponentate = true"),
                      ("analysis.toml", "tables[0] (id 't1').exponentate", "did you mean 'exponentiate'?")),
                 id="misspelt-table-key"),
    pytest.param(Case(edit(('title = "Bad-input battery"\n', "")),
                      ("analysis.toml", "analysis", "required key 'title' is missing")), id="missing-required-key"),
    pytest.param(Case(BASE.split("[analysis]")[0] + BASE.split("\n\n", 1)[1],
                      ("analysis.toml", "has no [analysis] section")), id="missing-analysis-section"),
    # ---- wrong types ------------------------------------------------------------------------------
    pytest.param(Case(model('conf_level = "high"'),
                      ("analysis.toml", "models[0] (id 'cox_base').conf_level", "'high'", "number")),
                 id="type-conf-level-string"),
    pytest.param(Case(model("conf_level = 1.5"),
                      ("analysis.toml", "models[0] (id 'cox_base').conf_level", "less than 1")),
                 id="range-conf-level"),
    pytest.param(Case(edit(('formula = "~ c2_index + n_members"', "formula = 42")),
                      ("analysis.toml", "models[0] (id 'cox_base').formula", "string", "42")), id="type-formula-number"),
    pytest.param(Case(edit(('models = ["cox_base", "logit_form"]', 'models = "cox_base"')),
                      ("analysis.toml", "tables[0] (id 't1').models", "list", "'cox_base'")), id="type-table-models-string"),
    pytest.param(Case(model("options = { ties = 3 }"),
                      ("analysis.toml", "models[0] (id 'cox_base').options.ties", "3", "expected one of")),
                 id="type-option-value"),
    pytest.param(Case(model("vcov = 3"), ("analysis.toml", "models[0] (id 'cox_base').vcov", "3")), id="type-vcov-number"),
    pytest.param(Case(model('labels = ["Age"]'),
                      ("analysis.toml", "models[0] (id 'cox_base').labels", "dictionary", "['Age']")),
                 id="type-labels-list"),
    pytest.param(Case("models = 3\n" + ANALYSIS_ONLY, ("analysis.toml", "models", "must be an array of tables",
                                                        "write [[models]] headers")), id="type-models-not-array"),
    pytest.param(Case(BASE.replace("[[tables]]", "[[tablez]]"),
                      ("analysis.toml", "unknown top-level key 'tablez'", "did you mean 'tables'?")),
                 id="misspelt-array-header"),
    # ---- ids: duplicates and escapes --------------------------------------------------------------
    pytest.param(Case(BASE.replace('id = "logit_form"', 'id = "cox_base"'),
                      ("analysis.toml", "models[1] (id 'cox_base').id", "model id 'cox_base' is used twice",
                       "give each model its own id")), id="duplicate-model-id"),
    pytest.param(Case(BASE + '\n[[tables]]\nid = "t1"\nmodels = ["cox_base"]\n',
                      ("analysis.toml", "tables[1] (id 't1').id", "table id 't1' is used twice", "give each its own id")),
                 id="duplicate-table-id"),
    pytest.param(Case(edit(('id = "cox_base"', "id = []"), ('models = ["cox_base", "logit_form"]', 'models = ["logit_form"]')),
                      ("analysis.toml", "models[0].id", "valid string", "[]")), id="type-model-id-list"),
    pytest.param(Case(edit(('id = "battery"', 'id = "../escape"')),
                      ("analysis.toml", "analysis (id '../escape').id", "'../escape' is not a valid id",
                       "'/' and '..' are not allowed")),
                 id="escape-analysis-id-dotdot"),
    pytest.param(Case(edit(('id = "battery"', f'id = "{OUTSIDE}"')),
                      ("analysis.toml", f"analysis (id '{OUTSIDE}').id (line 2)", "is not a valid id",
                       "'/' and '..' are not allowed")), id="escape-analysis-id-absolute"),
    pytest.param(Case(edit(('id = "battery"', 'id = "{tmp}/abs_escape"')),
                      ("analysis.toml", "/abs_escape').id (line 2)", "is not a valid id", "'/' and '..' are not allowed")),
                 id="escape-analysis-id-absolute-long"),
    pytest.param(Case(edit(('id = "cox_base"', 'id = "../../cox_base"'),
                           ('models = ["cox_base", "logit_form"]', 'models = ["logit_form"]')),
                      ("analysis.toml", "models[0]", "'../../cox_base' is not a valid id", "'..' are not allowed")),
                 id="escape-model-id"),
    pytest.param(Case(edit(('id = "t1"', 'id = "..\\\\..\\\\t1"')),
                      ("analysis.toml", "tables[0]", "is not a valid id", "'..' are not allowed")),
                 id="escape-table-id-backslash"),
    pytest.param(Case(edit(('id = "t1"', 'id = "/etc/t1"')),
                      ("analysis.toml", "tables[0]", "'/etc/t1' is not a valid id", "'/' and '..' are not allowed")),
                 id="escape-table-id-absolute"),
    # ---- command line: output and cache folders, other commands -------------------------------------
    pytest.param(Case(command=("run", ANALYSIS, "--out", "analysis.toml/report"),
                      expect=("analysis.toml/report", "--out")), id="cli-out-under-a-file"),
    pytest.param(Case(command=("run", ANALYSIS, "--cache-dir", "analysis.toml/cache"),
                      expect=("analysis.toml/cache", "--cache-dir")), id="cli-cache-dir-under-a-file"),
    pytest.param(Case(command=("schema", "--out", "nowhere/schema.json"), expect=("nowhere/schema.json",)),
                 id="cli-schema-out-missing-folder"),
    pytest.param(Case(command=("data", "describe", DATA, "--unit", "arrangement"),
                      expect=("'arrangement'", "arrangements")), id="cli-data-describe-unknown-unit"),
    pytest.param(Case(command=("data", "describe", DATA, "--unit", "arrangements"),
                      data=set_cell(9, "duration", -2.0), expect=("arr.csv", "column 'duration'", "row 10")),
                 id="cli-data-describe-bad-file"),
    pytest.param(Case(command=("data", "describe", "arrangements.csv"),
                      expect=("arrangements.csv", "not found", "check the path")), id="cli-data-describe-missing-file"),
    # ---- extends / include ------------------------------------------------------------------------
    pytest.param(Case(BASE + '\n[[models]]\nid = "m1"\nextends = "m2"\n\n[[models]]\nid = "m2"\nextends = "m1"\n',
                      ("analysis.toml", "models[3] (id 'm2').extends", "extends cycle: m1 -> m2 -> m1",
                       "must not extend another")), id="extends-cycle"),
    pytest.param(Case(BASE + '\n[[models]]\nid = "m1"\nextends = "m1"\n',
                      ("analysis.toml", "models[2] (id 'm1').extends", "extends cycle", "must not extend another")),
                 id="extends-self"),
    pytest.param(Case(BASE + '\n[[models]]\nid = "m1"\nextends = "cox_bse"\n',
                      ("analysis.toml", "models[2] (id 'm1').extends", "'cox_bse', which is not a model id",
                       "did you mean 'cox_base'?")), id="extends-missing-target"),
    pytest.param(Case('include = ["b.toml"]\n' + BASE, ("include cycle", "analysis.toml -> b.toml -> analysis.toml",
                                                         "remove one of these includes"),
                      files={"b.toml": 'include = ["analysis.toml"]\n'}), id="include-cycle"),
    pytest.param(Case('include = ["base_analysis.toml"]\n' + BASE,
                      ("analysis.toml", "include", "'base_analysis.toml' not found", "relative to the including file")),
                 id="include-missing-target"),
    pytest.param(Case('include = "b.toml"\n' + BASE, ("analysis.toml", "include", "must be a list of file paths")),
                 id="include-not-a-list"),
    pytest.param(Case('include = ["b.toml"]\n', ("b.toml", "models[0] (id 'cox_base').tme", "did you mean 'time'?"),
                      files={"b.toml": BASE.replace('time = "duration"', 'tme = "duration"')}),
                 id="include-error-names-included-file"),
    # ---- families, options, vcov ------------------------------------------------------------------
    pytest.param(Case(edit(('family = "cox"', 'family = "coxph"')),
                      ("analysis.toml", "models[0] (id 'cox_base').family", "unknown family 'coxph'",
                       "did you mean 'cox'?")), id="unknown-family"),
    pytest.param(Case(edit(('family = "cox"\n', "")),
                      ("analysis.toml", "models[0] (id 'cox_base').family", "required key 'family' is missing", "logit")),
                 id="missing-family"),
    pytest.param(Case(model('options = { ties = "exactly" }'),
                      ("analysis.toml", "models[0] (id 'cox_base').options.ties", "'exactly' is not allowed",
                       "expected one of")), id="unknown-option-value"),
    pytest.param(Case(logit('options = { ties = "efron" }'),
                      ("analysis.toml", "models[1] (id 'logit_form').options.ties", "unknown key 'ties'")),
                 id="option-of-another-family"),
    pytest.param(Case(model('vcov = "sandwich"'),
                      ("analysis.toml", "models[0] (id 'cox_base').vcov.type", "'sandwich' is not allowed",
                       "expected one of")), id="unknown-vcov-type"),
    pytest.param(Case(model('vcov = "HC1"'),
                      ("analysis.toml", "models[0] (id 'cox_base').vcov", "'HC1' is not available for the cox family")),
                 id="vcov-unsupported-by-family"),
    pytest.param(Case(model('vcov = { type = "cluster" }'),
                      ("analysis.toml", "models[0] (id 'cox_base').vcov", "needs groups", "groups = ")),
                 id="vcov-cluster-without-groups"),
    pytest.param(Case(model('vcov = { type = "cluster", groups = "region", reps = 50 }'),
                      ("analysis.toml", "models[0] (id 'cox_base').vcov", "remove reps")), id="vcov-option-not-applicable"),
    pytest.param(Case(model('on_separation = "firth"'),
                      ("analysis.toml", "models[0] (id 'cox_base').on_separation", "Remove the key")),
                 id="on-separation-on-cox"),
    pytest.param(Case(edit(('formula = "~ c2_index + n_members"', 'formula = "duration ~ c2_index"')),
                      ("analysis.toml", "models[0] (id 'cox_base').formula", "survival families take '~ x1 + x2'")),
                 id="survival-formula-with-response"),
    pytest.param(Case(logit('time = "duration"'),
                      ("analysis.toml", "models[1] (id 'logit_form').time", "applies to survival families only")),
                 id="survival-key-on-logit"),
    # ---- formulas -----------------------------------------------------------------------------------
    pytest.param(Case(cox_formula("~ c2_indx + n_members"),
                      ("arr.csv", "model 'cox_base'", "'c2_indx'", "did you mean 'c2_index'?")),
                 id="formula-unknown-column"),
    pytest.param(Case(cox_formula("~ c2_index + system(n_members)"),
                      ("analysis.toml", "models[0] (id 'cox_base').formula", "system() is not an allowed transform")),
                 id="formula-call-not-whitelisted"),
    pytest.param(Case(cox_formula("~ c2_index + __import__('os')"),
                      ("analysis.toml", "models[0] (id 'cox_base').formula", "__import__")),
                 id="formula-import-injection"),
    pytest.param(Case(cox_formula("~ I(__import__('os').system('touch pwned'))"),
                      ("analysis.toml", "models[0] (id 'cox_base').formula", "__import__")),
                 id="formula-I-injection"),
    pytest.param(Case(cox_formula("~ c2_index.__class__ + n_members"),
                      ("c2_index.__class__",)), id="formula-attribute-access"),
    pytest.param(Case(cox_formula("~ __builtins__ + n_members"), ("__builtins__",)),
                 id="formula-dunder-name"),
    pytest.param(Case(cox_formula("~ c2_index + ; n_members"),
                      ("analysis.toml", "models[0] (id 'cox_base').formula")), id="formula-syntax"),
    # ---- sample restrictions -------------------------------------------------------------------------
    pytest.param(Case(model('sample = "c2_indx > 0"'), (FILES, MODEL0, "sample", "'c2_indx'", "did you mean 'c2_index'?")),
                 id="sample-unknown-column"),
    pytest.param(Case(model("sample = 'form > 3'"), (FILES, MODEL0, "sample", "cannot compare")),
                 id="sample-type-mismatch"),
    pytest.param(Case(model("sample = \"__import__('os').system('touch pwned')\""),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "function call is not allowed")),
                 id="sample-import-injection"),
    pytest.param(Case(model('sample = "len(form) > 0"'),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "a function call is not allowed")),
                 id="sample-call-not-whitelisted"),
    pytest.param(Case(model('sample = "c2_index.real > 0"'),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "attribute access (a.b) is not allowed")),
                 id="sample-attribute-access"),
    pytest.param(Case(model('sample = "__class__ == 1"'),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "'__class__' is not a valid column name")),
                 id="sample-dunder-name"),
    pytest.param(Case(model('sample = "[x for x in c2_index]"'),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "is not allowed")),
                 id="sample-comprehension"),
    pytest.param(Case(model('sample = "c2_index[0] > 1"'),
                      ("analysis.toml", "models[0] (id 'cox_base').sample", "indexing (a[i]) is not allowed")),
                 id="sample-subscript"),
    pytest.param(Case(model('sample = "c2_index > 99"'),
                      ("arr.csv", "model 'cox_base'", "keeps no rows of 60", "loosen it")),
                 id="sample-empty-after-restriction"),
    # ---- datasets ---------------------------------------------------------------------------------
    pytest.param(Case(edit(('path = "arr.csv"', 'path = "arrangements.csv"')),
                      ("analysis.toml", "arrangements.csv", "not found", "relative to the analysis file")),
                 id="data-missing"),
    pytest.param(Case(edit(('dataset = { path = "arr.csv", unit = "arrangements" }', 'dataset = "arrangement"')),
                      ("analysis.toml", "unknown shipped dataset 'arrangement'", "did you mean 'arrangements'?")),
                 id="data-unknown-shipped-name"),
    pytest.param(Case(edit(('path = "arr.csv"', 'path = "arr.dta"')),
                      ("arr.dta", "could not read the file as stata"), files={"arr.dta": b"\x00garbage\xff" * 64}),
                 id="data-unreadable-corrupt"),
    pytest.param(Case(edit(('path = "arr.csv"', 'path = "folder.csv"')),
                      ("folder.csv", "is a directory"), files={"folder.csv": lambda p: p.mkdir()}),
                 id="data-unreadable-directory"),
    pytest.param(Case(edit(('path = "arr.csv"', 'path = "arr.json"')),
                      ("arr.json", "cannot read files ending in '.json'", "supported"), files={"arr.json": "{}"}),
                 id="data-unsupported-extension"),
    pytest.param(Case(data=lambda df: b"", expect=("arr.csv", "the file is empty", "needs a header row")),
                 id="data-empty-file"),
    pytest.param(Case(data=lambda df: df.head(0), expect=("arr.csv", "no rows")), id="data-header-only"),
    pytest.param(Case(data=lambda df: df.assign(region="\u00e9urope").to_csv(index=False).encode("latin-1"),
                      expect=("arr.csv", "not UTF-8", "byte 0xe9 on line 2", "re-save it as UTF-8")),
                 id="data-wrong-encoding"),
    pytest.param(Case(data=lambda df: df.drop(columns="ended"),
                      expect=("arr.csv", "column 'ended'", "missing: ['ended']")), id="data-missing-column"),
    pytest.param(Case(data=lambda df: df.rename(columns={"duration": "durations"}),
                      expect=("arr.csv", "column 'duration'", "Did you mean to rename 'durations' -> 'duration'?")),
                 id="data-misnamed-column"),
    pytest.param(Case(data=set_cell(4, "duration", "ten"),
                      expect=("arr.csv", "column 'duration'", "'ten'", "row 5", "recode those cells as numbers")),
                 id="data-wrong-dtype-text-in-number"),
    pytest.param(Case(data=set_cell(2, "n_members", 2.5),
                      expect=("arr.csv", "column 'n_members'", "whole numbers", "row 3", "round or recode")),
                 id="data-wrong-dtype-fraction-in-int"),
    pytest.param(Case(data=set_cell(7, "start_date", "13/31/1990"),
                      expect=("arr.csv", "column 'start_date'", "row 8", "YYYY-MM-DD")), id="data-wrong-dtype-date"),
    pytest.param(Case(data=set_cell(0, "form", "treaty"),
                      expect=("arr.csv", "column 'form'", "'treaty'", "row 1", "allowed values are ['formal', 'informal']")),
                 id="data-unknown-category"),
    pytest.param(Case(data=set_cell(3, "ccode1", 9999),
                      expect=("arr.csv", "column 'ccode1'", "9999", "row 4", "Correlates of War")),
                 id="data-unknown-country-code"),
    pytest.param(Case(plain_data(BASE), data=set_col("c2_index", np.nan),
                      expect=("arr.csv", "model 'cox_base'", "no complete rows remain")), id="data-all-missing-covariate"),
    pytest.param(Case(data=set_cell(5, "stop_date", "1970-01-01"),
                      expect=("arr.csv", "column 'stop_date'", "end before start", "row 6", "swapped or mistyped dates")),
                 id="data-end-before-start"),
    pytest.param(Case(data=set_cell(9, "duration", -2.0),
                      expect=("arr.csv", "column 'duration'", "zero or negative", "row 10")), id="data-negative-duration"),
    pytest.param(Case(cox_only(plain_data(BASE)), data=set_cell(9, "duration", 0.0),
                      expect=("arr.csv", "model 'cox_base'", "zero or negative time in 'duration'", "rows 10",
                              "durations must be positive")), id="data-zero-duration-plain-file"),
    pytest.param(Case(cox_only(plain_data(model('start = "entry"'))),
                      data=lambda df: df.assign(entry=np.where(np.arange(len(df)) == 11, 50.0, 0.0)),
                      expect=("arr.csv", "model 'cox_base'", "rows 12", "stop > start")), id="data-stop-before-entry"),
    pytest.param(Case(data=set_cell(12, "arrangement_id", "A000"),
                      expect=("arr.csv", "column 'arrangement_id'", "duplicate ids", "rows 1, 13", "drop or renumber")),
                 id="data-duplicate-ids"),
    pytest.param(Case(cox_only(BASE), data=set_col("ended", 0),
                      expect=("arr.csv", "model 'cox_base'", "no events", "at least one")), id="data-no-events"),
    pytest.param(Case(cox_only(plain_data(BASE)), data=set_cell(6, "ended", 2),
                      expect=("arr.csv", "model 'cox_base'", "event column 'ended' must be 0/1", "event_value")),
                 id="data-event-not-binary"),
    pytest.param(Case(cox_only(plain_data(BASE)), data=set_cell(8, "c2_index", np.inf),
                      expect=("arr.csv", "model 'cox_base'", "'c2_index' has infinite values", "replace them")),
                 id="data-infinite-values"),
    pytest.param(Case(cox_only(plain_data(model('weights = "w"'))), data=lambda df: df.assign(w=np.linspace(-1, 1, len(df))),
                      expect=("arr.csv", "model 'cox_base'", "weights column 'w' has negative values", "rows 1")),
                 id="data-negative-weights"),
    pytest.param(Case(edit(('dataset = { path = "arr.csv", unit = "arrangements" }',
                            'dataset = { path = "arr.csv", unit = "arrangements", coding = "default" }')),
                      ("analysis.toml", "analysis (id 'battery').dataset (line 4)", "apply to the shipped units")),
                 id="data-coding-on-own-file"),
    pytest.param(Case(edit(('dataset = { path = "arr.csv", unit = "arrangements" }',
                            'dataset = { path = "arrangement_years", window = [2010, 1980] }')),
                      ("analysis.toml", "analysis (id 'battery').dataset (line 4)", "window [2010, 1980]", "first <= last")),
                 id="data-window-reversed"),
    pytest.param(Case(edit(('dataset = { path = "arr.csv", unit = "arrangements" }',
                            'dataset = { path = "arrangements", coding = "mine.toml" }')),
                      ("analysis.toml", "coding file 'mine.toml' not found", "relative to the analysis file")),
                 id="data-coding-file-missing"),
    # ---- diagnostics -------------------------------------------------------------------------------
    pytest.param(Case(edit(("informal ~ c2_index + n_members", "informal ~ c2_index + sep")),
                      data=lambda df: df.assign(sep=df["informal"] * 2 - 1 + df["c2_index"] * 0.0),
                      expect=(FILES, ("model 'logit_form'", "models[1] (id 'logit_form')"), "separated by",
                              "'sep'", "on_separation = 'firth'")),
                 id="separation-without-remedy"),
    pytest.param(Case(edit(("informal ~ c2_index + n_members", "c2_index ~ n_members")),
                      expect=(FILES, ("model 'logit_form'", "(id 'logit_form')"), "'c2_index'", "0/1")),
                 id="binary-response-not-0-1"),
    pytest.param(Case(model('on_collinear = "error"', text=cox_formula("~ c2_index + n_members + c2x2")),
                      data=lambda df: df.assign(c2x2=2 * df["c2_index"]),
                      expect=("arr.csv", "model 'cox_base'", "rank deficient", "'c2x2'", "Remove it from the formula")),
                 id="collinear-with-on-collinear-error"),
    # ---- references between sections ----------------------------------------------------------------
    pytest.param(Case(edit(('models = ["cox_base", "logit_form"]', 'models = ["cox_base", "logit"]')),
                      ("analysis.toml", "tables[0] (id 't1').models[1]", "names model 'logit', which is not defined",
                       "did you mean 'logit_form'?")), id="table-names-missing-model"),
    pytest.param(Case(BASE + '\n[[hypotheses]]\nid = "H1"\nstatement = "C2 lengthens"\nmodels = ["cox_bas"]\n'
                             'test = "c2_index < 0"\n',
                      ("analysis.toml", "hypotheses[0] (id 'H1').models[0]", "'cox_bas'", "did you mean 'cox_base'?")),
                 id="hypothesis-names-missing-model"),
    pytest.param(Case(BASE + '\n[[hypotheses]]\nid = "H1"\nstatement = "C2 lengthens"\nmodels = ["cox_base"]\n'
                             'test = "c2_indx < 0"\n',
                      ("analysis.toml", "hypotheses[0] (id 'H1')", "'c2_indx'", "c2_index")),
                 id="hypothesis-names-missing-term"),
]

# ----------------------------------------------------------------------------------------------
# Degenerate but well-formed data: a fit may succeed (exit 0) or be refused (exit 2), never crash
# ----------------------------------------------------------------------------------------------
LOGIT_ONLY = plain_data(ANALYSIS_ONLY) + """
[[models]]
id = "logit_form"
family = "logit"
formula = "informal ~ c2_index + n_members"
"""
OLS_ONLY = plain_data(ANALYSIS_ONLY) + """
[[models]]
id = "ols_c2"
family = "ols"
formula = "c2_index ~ duration + n_members"
"""
PH_SINGULAR = dict(duration=[5.639, 6.292, 22.784, 48.712], ended=[0, 1, 0, 1],
                   c2_index=[0.4116, 1.0425, -0.1285, 1.3665], n_members=[2, 4, 4, 4])


def _huge(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.loc[[2, 11], "c2_index"] = 2.08e265
    return df


DEGENERATE = [
    pytest.param(Case(cox_only(plain_data(BASE)), data=lambda df: df.head(1).assign(ended=1),
                      expect=(FILES, MODEL0)), id="cox-one-row"),
    pytest.param(Case(cox_only(plain_data(BASE)), data=lambda df: df.head(2).assign(ended=1),
                      expect=(FILES, MODEL0)), id="cox-two-rows"),
    pytest.param(Case(cox_only(plain_data(BASE)), data=lambda df: df.head(4).assign(**PH_SINGULAR),
                      expect=(FILES, MODEL0)), id="cox-ph-test-singular"),
    pytest.param(Case(plain_data(BASE), data=_huge, expect=(FILES, MODEL0)), id="vif-overflow"),
    pytest.param(Case(LOGIT_ONLY + 'vcov = { type = "cluster", groups = "region" }\n',
                      data=lambda df: df.assign(region="asia"), expect=(FILES, ("model 'logit_form'", "(id 'logit_form')"),
                                                                         "region", "cluster")),
                 id="cluster-vcov-one-cluster"),
    pytest.param(Case(LOGIT_ONLY.replace("c2_index + n_members", "c2_index + region")
                      + 'vcov = { type = "cluster", groups = "region" }\n',
                      data=lambda df: df.head(3).assign(informal=0, region=["asia", "europe", "americas"]),
                      expect=(FILES, ("model 'logit_form'", "(id 'logit_form')"))), id="cluster-vcov-n-equals-k"),
    pytest.param(Case(OLS_ONLY, data=lambda df: df.head(3).assign(n_members=[2, 3, 5], duration=[1.0, 4.0, 2.0]),
                      expect=(FILES, ("model 'ols_c2'", "(id 'ols_c2')"), "no residual degrees of freedom")),
                 id="ols-n-equals-k"),
]


@pytest.mark.parametrize("case", DEGENERATE)
def test_degenerate_data_is_fitted_or_refused_never_a_crash(case: Case, tmp_path, monkeypatch, capsys):
    setup_case(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    status = main(["run", ANALYSIS, "--executor", "serial", "--no-cache"])
    err = capsys.readouterr().err
    assert status in (0, 2), err
    if status == 2:
        check_message(err, case)


#: Cases that also run in a real subprocess (``python -m c2stats``), to prove no traceback reaches stderr.
SUBPROCESS = {"toml-unclosed-string", "formula-import-injection", "data-wrong-encoding", "data-missing-column",
              "collinear-with-on-collinear-error", "data-no-events"}


# ----------------------------------------------------------------------------------------------
# Harness
# ----------------------------------------------------------------------------------------------
_PREVIOUS_FILES = {"index.md": b"# the previous report\n", "tables/t1.md": b"| previous |\n"}
# a report c2stats would replace: its manifest lists every other file with its SHA-256
PREVIOUS = {"manifest.json": (json.dumps({"previous": True, "outputs": [
    {"path": k, "sha256": hashlib.sha256(v).hexdigest()} for k, v in _PREVIOUS_FILES.items()]}) + "\n").encode(),
    **_PREVIOUS_FILES}


CACHE = ".c2stats-cache"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``folder``, except the fit cache.

    The cache (``.c2stats-cache/``, content-addressed by spec and data hash) is not output: a run
    may record there the fits it completed before the bad input stopped it.
    """
    out: dict[str, bytes | None] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if rel == CACHE or rel.startswith(CACHE + "/"):
            continue
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


def setup_case(case: Case, folder: Path) -> None:
    """Write the analysis, the dataset (possibly broken), extra files and a previous report."""
    text = case.toml.replace("{tmp}", folder.as_posix())
    (folder / ANALYSIS).write_text(text, encoding="utf-8")
    frame = arrangements()
    data = case.data(frame) if case.data else frame
    if isinstance(data, bytes):
        (folder / DATA).write_bytes(data)
    else:
        data.to_csv(folder / DATA, index=False)
    for name, content in case.files.items():
        target = folder / name
        if callable(content):
            content(target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    report = folder / "reports" / "battery"
    for rel, content in PREVIOUS.items():
        (report / rel).parent.mkdir(parents=True, exist_ok=True)
        (report / rel).write_bytes(content)


def check_message(stderr: str, case: Case) -> None:
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], f"want one final 'error: ' line, got:\n{stderr}"
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), stderr
    missing = [frag for frag in case.expect
               if not any(f in errors[0] for f in ((frag,) if isinstance(frag, str) else frag))]
    assert not missing, f"message lacks {missing}:\n{errors[0]}"


def ids_of(params) -> list[str]:
    return [p.id for p in params]


def test_battery_size_and_unique_ids():
    ids = ids_of(CASES)
    assert len(ids) == len(set(ids))
    assert len(ids) >= 50
    assert SUBPROCESS <= set(ids)


def test_base_analysis_runs(tmp_path, monkeypatch, capsys):
    """The control: the unmodified analysis and dataset run cleanly, so each case fails only for its change."""
    setup_case(Case(), tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", ANALYSIS]) == 0, capsys.readouterr().err
    written = tree(tmp_path / "reports" / "battery")
    assert written["manifest.json"] != PREVIOUS["manifest.json"]
    assert {"index.md", "tables/t1.md", "results/cox_base/tidy.csv", "results/logit_form/tidy.csv"} <= set(written)


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: Case, tmp_path, monkeypatch, capsys):
    assert not Path(OUTSIDE).exists()
    setup_case(case, tmp_path)
    before = tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    status = main(list(case.command))
    err = capsys.readouterr().err
    assert status == 2, err
    check_message(err, case)
    assert tree(tmp_path) == before  # nothing written, moved or changed: previous report intact, no temporaries
    assert not Path(OUTSIDE).exists()


@pytest.mark.parametrize("case", [p for p in CASES if p.id in SUBPROCESS])
def test_bad_input_subprocess(case: Case, tmp_path):
    setup_case(case, tmp_path)
    before = tree(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "c2stats", *case.command], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 2, proc.stderr
    check_message(proc.stderr, case)
    assert proc.stdout == ""
    assert tree(tmp_path) == before


@pytest.mark.parametrize("case", [p for p in CASES if p.values[0].command[0] == "run"
                                  and p.id.startswith(("toml-", "misspelt-", "type-", "duplicate-", "escape-", "extends-",
                                                       "include-", "unknown-", "formula-call", "sample-import"))])
def test_bad_config_fails_validate_too(case: Case, tmp_path, monkeypatch, capsys):
    """``c2stats validate`` reports config errors the same way (without touching any data)."""
    setup_case(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", ANALYSIS]) == 2
    check_message(capsys.readouterr().err, case)


def test_internal_error_says_so_and_points_to_the_tracker(tmp_path, monkeypatch, capsys):
    """A bug (not bad input) exits 3 with a message that says so, without a traceback."""
    import c2stats.pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    setup_case(Case(), tmp_path)
    before = tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(c2stats.pipeline, "regression_table", broken)
    assert main(["run", ANALYSIS]) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: simulated bug" in err and "issue tracker" in err
    assert "not in your input" in err and "Traceback" not in err
    assert tree(tmp_path) == before


def test_unknown_command_line_option_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", ANALYSIS, "--frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --frobnicate" in err and "Traceback" not in err
