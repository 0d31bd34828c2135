import pytest

from skyt1.core.formatting import assemble
from skyt1.scoring import choice, score_item


@pytest.mark.parametrize("text, n, expected", [
    ("The answer is (C).", 4, "C"),
    (r"Therefore \boxed{C}", 4, "C"),
    (r"\boxed{\text{(B)}}", 4, "B"),
    (r"the answer is $\boxed{D}$", 4, "D"),
    ("So the answer is C", 4, "C"),
    ("Answer: C", 4, "C"),
    ("Answer: **B**", 4, "B"),
    ("The correct option is (A) because it conserves charge.", 4, "A"),
    ("So the answer is A.", 4, "A"),
    ("I think A is wrong. Answer: D", 4, "D"),
    ("Final answer: (J)", 10, "J"),
    ("blah blah\n\n**C**", 4, "C"),
    (assemble("the answer is B", "Thus the answer is (D)."), 4, "D"),
    # the article "a" and the pronoun "I" are not answers
    ("The answer is a prime number.", 4, None),
    ("The answer is I think unclear", 10, None),
    ("A good approach is to compute the energy. I am not sure.", 4, None),
    ("The answer is Carbon.", 4, None),
    ("Answer: I", 4, None),  # only 4 options
    ("Answer: I", 10, "I"),
    ("no letter at all", 4, None),
])
def test_extract_choice(text, n, expected):
    assert choice.extract_choice(text, n) == expected


def test_boxed_option_text_maps_to_its_letter():
    opts = ["4 m/s", "8 m/s", "16 m/s", "2 m/s"]
    assert choice.extract_choice(r"\boxed{16 m/s}", choices=opts) == "C"


def test_score_and_dispatch():
    item = {"id": "gpqa/1", "source": "gpqa_diamond", "domain": "science", "answer": "B",
            "metadata": {"choices": ["w", "r", "x", "y"]}}
    assert score_item(item, "The answer is (B)")["correct"]
    r = score_item(item, "The answer is (C)")
    assert not r["correct"] and r["reason"] == "wrong answer: got C, expected B"
    assert score_item(item, "The answer is a mystery")["reason"] == "no option letter found"


def test_format_question_letters_each_option():
    opts = ["right", "w1", "w2", "w3"]
    assert choice.format_question("Q?", opts).splitlines()[2].startswith("(A) ")
