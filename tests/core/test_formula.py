"""The formula language: R's expansion rules, R-style names, and refusal of anything executable."""

import numpy as np
import pandas as pd
import pytest

from c2stats.errors import FormulaError
from c2stats.formula import design_matrix, parse_formula


def labels(text):
    return [t.label for t in parse_formula(text).terms]


@pytest.mark.parametrize(
    "text, expected, intercept",
    [
        ("y ~ a + b", ["a", "b"], True),
        ("y ~ a*b", ["a", "b", "a:b"], True),  # R: a + b + a:b
        ("y ~ a/b", ["a", "a:b"], True),  # R: a + a:b
        ("y ~ (a + b):c", ["a:c", "b:c"], True),
        ("y ~ a*b - a", ["b", "a:b"], True),
        ("y ~ a - 1", ["a"], False),
        ("y ~ 0 + a", ["a"], False),
        ("y ~ a:b + a", ["a", "a:b"], True),  # R orders terms by degree
        ("~ a", ["a"], True),
    ],
)
def test_expansion_follows_r(text, expected, intercept):
    f = parse_formula(text)
    assert [t.label for t in f.terms] == expected
    assert f.intercept is intercept


@pytest.mark.parametrize(
    "text",
    [
        'y ~ __import__("os")',
        "y ~ eval(x)",
        "y ~ a.__class__",
        "y ~ I(a.__class__)",
        "y ~ I(open(a))",
        "y ~ I(a[0])",
        "y ~ a; b",
        "y ~ (lambda: 1)",
        "y ~ exec(a)",
        "y ~ log(x, base = 2)",
        "y ~ I(__builtins__)",
        "y ~ np.log(x)",
    ],
)
def test_refuses_code(text):
    with pytest.raises(FormulaError):
        parse_formula(text)


def test_refusal_names_the_whitelist():
    with pytest.raises(FormulaError, match=r"system\(\) is not an allowed transform.*log"):
        parse_formula("y ~ system(x)")


def test_design_matrix_names_and_values():
    d = pd.DataFrame({"y": [0, 1, 0, 1, 1.0], "a": [1, 2, 3, 4, 5.0], "g": ["x", "y", "z", "x", "y"]})
    design = design_matrix(parse_formula("y ~ a + g + I(a**2) + log(a)"), d)
    assert design.names == ("(Intercept)", "a", "gy", "gz", "I(a ** 2)", "log(a)")
    np.testing.assert_allclose(design.matrix[:, 2], [0, 1, 0, 0, 1])
    np.testing.assert_allclose(design.matrix[:, 4], d.a**2)
    np.testing.assert_allclose(design.matrix[:, 5], np.log(d.a))
    ref = design_matrix(parse_formula("y ~ C(g, ref = 'z')"), d)
    assert ref.names == ("(Intercept)", "C(g, ref = 'z')x", "C(g, ref = 'z')y")


def test_no_intercept_gives_full_dummies_like_r():
    d = pd.DataFrame({"y": [0, 1, 0.0], "g": ["a", "b", "c"]})
    assert design_matrix(parse_formula("y ~ g - 1"), d).names == ("ga", "gb", "gc")


def test_poly_matches_r():
    # tests/reference/formula/transforms.R (R 4.2.2): poly(c(1, 2, 4, 7, 11), 2)
    x = pd.DataFrame({"x": [1.0, 2, 4, 7, 11]})
    design = design_matrix(parse_formula("~ poly(x, 2)"), x)
    expected = np.array(
        [
            [-0.492365963917331, 0.4759972968131507],
            [-0.369274472937998, 0.0793328828021918],
            [-0.123091490979333, -0.4495530025457534],
            [0.246182981958665, -0.5817744738827395],
            [0.738548945875996, 0.4759972968131506],
        ]
    )
    assert design.names == ("(Intercept)", "poly(x, 2)1", "poly(x, 2)2")
    np.testing.assert_allclose(design.matrix[:, 1:], expected, atol=1e-12)


def test_bs_matches_r():
    # tests/reference/formula/transforms.R: splines::bs(c(1, 2, 4, 7, 11, 3, 5), df = 4)
    z = pd.DataFrame({"z": [1.0, 2, 4, 7, 11, 3, 5]})
    design = design_matrix(parse_formula("~ bs(z, df = 4)"), z)
    expected = np.array(
        [
            [0, 0, 0, 0],
            [0.6181481481481481, 0.0822222222222222, 0.00333333333333333, 0],
            [0.49, 0.42, 0.09000000000000002, 0],
            [0.0914285714285714, 0.3722448979591837, 0.45760932944606414, 0.07871720116618075],
            [0, 0, 0, 1],
            [0.6785185185185185, 0.2577777777777778, 0.02666666666666666, 0],
            [0.3085714285714285, 0.4848979591836735, 0.20361516034985425, 0.00291545189504373],
        ]
    )
    np.testing.assert_allclose(design.matrix[:, 1:], expected, atol=1e-12)


def test_log_of_zero_is_a_clear_error():
    d = pd.DataFrame({"y": [1.0, 0], "x": [0.0, 1]})
    with pytest.raises(FormulaError, match=r"log\(x\) is not finite in 1 row"):
        design_matrix(parse_formula("y ~ log(x)"), d)


def test_text_response_needs_categorical_family():
    import pandas as pd

    from c2stats.errors import FormulaError
    from c2stats.formula import design_matrix, parse_formula

    df = pd.DataFrame({"y": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(FormulaError, match="'y' is text/categorical"):
        design_matrix(parse_formula("y ~ x"), df)
    design = design_matrix(parse_formula("y ~ x"), df, categorical_response=True)
    assert list(design.response) == ["a", "b", "a"]
