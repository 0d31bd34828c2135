"""Property tests and a table of tricky pairs for the math scorer."""
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyt1.core.formatting import assemble
from skyt1.scoring.math import extract_answer, is_equivalent, last_boxed, score

SETTINGS = settings(max_examples=40, deadline=None)


@pytest.mark.parametrize("gold, pred, ok", [
    ("042", "42", True), ("33", "033", True), ("1,000", "1000", True), ("1,2", "12", False),
    (r"\frac{\sqrt{2}}{2}", r"\sqrt{2}/2", True), (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt2}{2}", True),
    (r"2\sqrt{3}", r"\sqrt{12}", True), (r"\dfrac{3}{4}", "0.75", True), (r"-\frac{1}{2}", "-0.5", True),
    ("(0,1]", "(0, 1]", True), ("(0,1]", "[0,1]", False), ("[1,2]", "(1,2)", False),
    (r"(-\infty, 3)", r"(-\infty,3)", True), (r"x \in [2, 5)", "[2,5)", True),
    (r"\{1,2\}", r"\{2,1\}", True), (r"\{1,2\}", r"\{1,3\}", False),
    (r"5\text{ cm}", "5", True), ("12", r"12\text{ apples}", True), ("2", r"\text{2 apples}", True),
    (r"30^\circ", "30", True), (r"50\%", "50", True), (r"\$10", "10", True), ("x=3", "3", True),
    (r"\text{Monday}", "Monday", True), (r"\text{Monday}", r"\text{Tuesday}", False),
    (r"x^2+2x+1", "(x+1)^2", True), (r"\pi", "3.14159", False), ("3", "3.5", False), ("0.3333", r"\frac13", False),
])
def test_tricky_pairs(gold, pred, ok):
    assert is_equivalent(gold, pred) is ok


@pytest.mark.parametrize("text, expected", [
    ("The final answer is 42.", "42"), ("**Answer:** $\\frac12$", "\\frac12"), ("Final Answer: 033", "033"),
    ("so the answer is \\(\\frac{3}{4}\\).", "\\frac{3}{4}"),
    (assemble("the answer is 7", "We get 12, so the answer is 12."), "12"),
    (assemble(r"\boxed{7}", r"Hence \boxed{\frac{a}{\{b\}}}"), r"\frac{a}{\{b\}}"),
])
def test_extraction_without_and_with_boxes(text, expected):
    assert extract_answer(text) == expected


def test_aime_style_integer_scoring():
    assert score("033", "Thus \\boxed{33}")["correct"]
    assert score("33", "**Final Answer**: 033")["correct"]
    assert not score("33", "\\boxed{34}")["correct"]


@SETTINGS
@given(st.integers(-10**6, 10**6), st.integers(1, 10**4))
def test_fraction_equals_its_reduced_and_decimal_forms(p, q):
    f = Fraction(p, q)
    assert is_equivalent(rf"\frac{{{p}}}{{{q}}}", rf"\frac{{{f.numerator}}}{{{f.denominator}}}" if f.denominator != 1
                         else str(f.numerator))
    if q in (1, 2, 4, 5, 8, 10, 20, 25):
        assert is_equivalent(rf"\frac{{{p}}}{{{q}}}", str(p / q))


@SETTINGS
@given(st.integers(0, 999), st.integers(0, 999))
def test_integers_equal_iff_same_value(a, b):
    assert is_equivalent(str(a), f"{b:03d}") is (a == b)


_atoms = st.sampled_from(["x", "1", r"\frac{1}{2}", r"\sqrt{3}", r"\pi", "a+b", r"\text{cm}"])
_nested = st.recursive(_atoms, lambda inner: st.builds(lambda a, b: "{" + a + "}" + b, inner, inner), max_leaves=8)


@SETTINGS
@given(_nested, st.text(alphabet="abc .,", max_size=20))
def test_last_boxed_recovers_nested_content(content, noise):
    assert last_boxed(rf"{noise} \boxed{{0}} {noise} \boxed{{{content}}}{noise}") == content
