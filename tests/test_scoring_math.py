import pytest

from skyt1.core.formatting import assemble, split_sections
from skyt1.scoring.math import extract_answer, gsm8k_gold, is_equivalent, last_boxed, score


@pytest.mark.parametrize("text, expected", [
    (r"so \boxed{42}.", "42"),
    (r"\boxed{1} then \boxed{2}", "2"),
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\fbox{7}", "7"),
    (r"no box here", None),
    (r"\boxed{unclosed", None),
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_gsm8k_gold_takes_the_last_marker():
    assert gsm8k_gold("a #### b\n#### 1,234") == "1234"
    assert gsm8k_gold("no marker") is None


@pytest.mark.parametrize("gold, pred", [
    ("0.5", r"\frac{1}{2}"), (r"\frac{1}{2}", r"\dfrac{1}{2}"), ("3", "3.0"), ("-4", "-4"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)"), ("10", "10"),
])
def test_equivalent(gold, pred):
    assert is_equivalent(gold, pred)


@pytest.mark.parametrize("gold, pred", [("3", "4"), ("-4", "4"), (r"\frac{1}{2}", "2"), ("5", None), ("5", "")])
def test_not_equivalent(gold, pred):
    assert not is_equivalent(gold, pred)


def test_solution_section_wins_over_thought():
    text = assemble(r"maybe \boxed{3}? no", r"The answer is \boxed{5}.")
    assert extract_answer(text) == "5"
    assert score("5", text)["correct"]
    assert score("3", text)["reason"].startswith("wrong answer")


def test_format_round_trip_and_missing_sections():
    text = assemble("think", "solve")
    s = split_sections(text)
    assert (s.thought, s.solution, s.complete) == ("think", "solve", True)
    assert not split_sections("<|begin_of_thought|> only thought").complete
    assert score("1", "nothing boxed")["reason"] == r"no final answer in \boxed{}"
