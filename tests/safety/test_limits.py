"""Hostile sizes: each is refused with exit 2 and a message naming the key and the limit, instead of
hanging, exhausting memory or crashing with a RecursionError (exit 3)."""

from __future__ import annotations

import gzip
import os

import pytest

from c2stats import limits
from tests.safety.conftest import LOGIT, run_forked

FORMULA = 'formula = "conflict ~ major + contig + power"'


def with_sample(expr: str) -> str:
    return LOGIT.replace(FORMULA, f"{FORMULA}\nsample = '''{expr}'''")


def with_formula(rhs: str) -> str:
    return LOGIT.replace(FORMULA, f"formula = '''conflict ~ {rhs}'''")


CASES = {
    # id: (analysis text, words the message must contain)
    "restriction-power-tower": (with_sample("power < 9 ** 9 ** 9"), ["9 ** 387420489", "2**63"]),
    "restriction-string-repetition": (with_sample("'a' * 1000000000 == 'b'"), ["string repetition"]),
    "restriction-huge-literal": (with_sample("power < " + "9" * 5000), ["limit"]),
    "restriction-big-literal": (with_sample("power < " + "9" * 100), ["too large", "2**63"]),
    "restriction-deep-parentheses": (with_sample("(" * 300 + "power > 0" + ")" * 300), ["nested"]),
    "restriction-not-chain": (with_sample("not " * 3000 + "major"), ["nested", "limit"]),
    "restriction-plus-chain": (with_sample("+".join(["power"] * 3000) + " > 0"), ["nested", "limit"]),
    "formula-deep-parentheses": (with_formula("(" * 3000 + "major" + ")" * 3000), ["nested", "limit"]),
    "formula-I-plus-chain": (with_formula("I(" + "+".join(["power"] * 3000) + ")"), ["nested", "limit"]),
    "formula-huge-literal": (with_formula("I(power * 1" + "0" * 400 + ")"), ["too large"]),
    "formula-poly-degree": (with_formula("poly(power, 99999999999999999999999)"), ["too large"]),
    "formula-poly-degree-in-range": (with_formula("poly(power, 1000000000)"), ["limit of 100"]),
    "formula-too-long": (with_formula("+".join(["major"] * 5000)), ["characters", "limit"]),
    "toml-nested-arrays": (LOGIT + "\n[x]\ny = " + "[" * 3000 + "]" * 3000 + "\n", ["nested", "limit"]),
    "toml-nested-tables": (LOGIT + "\n[x]\ny = " + "{a=" * 400 + "1" + "}" * 400 + "\n", ["nested", "limit"]),
    "bootstrap-reps": (LOGIT.replace(FORMULA, FORMULA + '\nvcov = {type = "bootstrap", groups = "years", '
                                     'reps = 1000000000000}'), ["reps", "1000000"]),
    "bootstrap-negative-seed": (LOGIT.replace(FORMULA, FORMULA + '\nvcov = {type = "bootstrap", groups = "years", '
                                              'reps = 20, seed = -1}'), ["seed", "0"]),
    "include-device": ('include = ["/dev/zero"]\n' + LOGIT, ["/dev/zero", "device", "not a regular file"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_size_is_refused_with_exit_2(analysis, tmp_path, case):
    text, words = CASES[case]
    path = analysis(text)
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache", timeout=20)
    assert code == 2, (code, err[-500:])
    assert err.startswith("error:") and "Traceback" not in err and "internal error" not in err
    for word in words:
        assert word in err, (word, err)
    assert len(err) < 2000  # a megabyte of input is not echoed back
    assert not (tmp_path / "out").exists()


def test_fifo_as_dataset_is_refused(analysis, tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    path = analysis(LOGIT.replace('dataset = "mid"', 'dataset = "pipe.csv"'))
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache", timeout=20)
    assert code == 2 and "named pipe (FIFO)" in err and "pipe.csv" in err


def test_dataset_over_the_size_limit(analysis, tmp_path, monkeypatch):
    (tmp_path / "d.csv").write_text("conflict,major,contig,power\n" + "0,1,0,1.5\n1,0,1,2.5\n" * 200)
    monkeypatch.setenv("C2STATS_MAX_DATASET_BYTES", "1000")
    path = analysis(LOGIT.replace('dataset = "mid"', 'dataset = "d.csv"'))
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache")
    assert code == 2 and "the limit for a dataset file is 1,000 bytes" in err and "C2STATS_MAX_DATASET_BYTES" in err


def test_decompression_bomb(analysis, tmp_path, monkeypatch):
    with gzip.open(tmp_path / "d.csv.gz", "wb") as fh:
        fh.write(b"conflict,major,contig,power\n" + b"0,1,0,1.5\n1,0,1,2.5\n" * 50_000)  # 1 MB from a few KB
    monkeypatch.setenv("C2STATS_MAX_DECOMPRESSED_BYTES", str(100_000))
    path = analysis(LOGIT.replace('dataset = "mid"', 'dataset = "d.csv.gz"'))
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache")
    assert code == 2 and "decompressed" in err and "100,000" in err


def test_limits_leave_ordinary_expressions_alone():
    from c2stats.formula import parse_formula
    from c2stats.restrict import parse_restriction

    parse_restriction("year >= 1991 and (n_members ** 2 > 4 or not major) and form in ['a', 'b']")
    parse_restriction(" + ".join(["x"] * (limits.MAX_DEPTH - 5)) + " > 0")
    parse_formula("y ~ poly(x, 3) + bs(z, df = 5) + I(a * 2 ** 10) + (a + b) * c")
    assert limits.tree_depth(__import__("ast").parse("((1))", mode="eval")) == 2


def hypothesis(test: str) -> str:
    return LOGIT + f"""
[[hypotheses]]
id = "h"
statement = "power matters"
models = ["logit_a"]
test = '''{test}'''
"""


@pytest.mark.parametrize("test, words", [
    ("(" * 300 + "power" + ")" * 300 + " > 0", ["not a valid test"]),  # Python's own parser: 200 levels
    (" + ".join(["power"] * 3000) + " > 0", ["nested", "limit"]),
    ("power > 1" + "0" * 400, ["too large"]),
])
def test_hypothesis_test_language_has_the_same_limits(analysis, tmp_path, test, words):
    path = analysis(hypothesis(test))
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache", timeout=20)
    assert code == 2, (code, err[-500:])
    for word in words:
        assert word in err, (word, err[-500:])


@pytest.mark.parametrize("sizes, words", [("[1000000000000]", "at most 10,000,000"),
                                          (str(list(range(1, 300))), "limited to 100 sizes")])
def test_simulation_sizes_are_bounded(analysis, tmp_path, sizes, words):
    path = analysis(LOGIT + f'\n[[simulations]]\nid = "s"\nmodel = "logit_a"\nterm = "power"\nn = {sizes}\nreps = 10\n')
    code, err = run_forked(path, "--out", tmp_path / "out", "--no-cache", timeout=20)
    assert code == 2 and words in err, (code, err[-500:])
