"""Sample restrictions: a whitelist evaluated by our own interpreter, R's NA semantics."""

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import FormulaError
from c2stats.restrict import evaluate_restriction, parse_restriction

DATA = pd.DataFrame(
    {
        "year": [1980, 1995, 2000, None],
        "form": ["formal", "informal", None, "formal"],
        "major": [True, False, True, False],
        "ph.ecog": [1, 2, 3, 0],
    }
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("year >= 1991", [False, True, True, False]),
        ('form == "informal"', [False, True, False, False]),
        ('form != "formal"', [False, True, False, False]),  # NA != x is NA in R: dropped
        ("not year > 1990", [True, False, False, False]),  # !(NA > 1990) is NA
        ('form in ["formal"] and not major', [False, False, False, True]),
        ('form not in ["formal"]', [False, True, False, False]),
        ("1990 < year <= 2000", [False, True, True, False]),
        ("year > 1990 or major", [True, True, True, False]),
        ("`ph.ecog` * 2 >= 4", [False, True, True, False]),
        ("year % 10 == 0", [True, False, True, False]),
    ],
)
def test_semantics(text, expected):
    assert evaluate_restriction(parse_restriction(text), DATA).tolist() == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('__import__("os").system("true")', "function call"),
        ("year.__class__", "attribute access"),
        ("year[0] > 1", "indexing"),
        ("(lambda: 1)()", "function call"),
        ("[y for y in year]", "ListComp"),
        ("(x := 1)", "NamedExpr"),
        ("__builtins__ > 1", "'__'"),
        ("year in other_column", "list of literals"),
        ("year >", "not a valid expression"),
        ("f'{year}' == 'x'", "JoinedStr"),
    ],
)
def test_refuses_everything_else(text, fragment):
    with pytest.raises(FormulaError, match=fragment):
        parse_restriction(text)


def test_unknown_column_is_named_with_suggestion():
    with pytest.raises(FormulaError, match=r"unknown column\(s\) 'yeer' \(did you mean 'year'\?\)"):
        evaluate_restriction(parse_restriction("yeer > 1990"), DATA)


def test_restriction_does_not_modify_data():
    before = DATA.copy()
    evaluate_restriction(parse_restriction("year > 1990"), DATA)
    pd.testing.assert_frame_equal(DATA, before)
    assert isinstance(evaluate_restriction(parse_restriction("true"), DATA), np.ndarray)
