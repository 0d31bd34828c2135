"""Multiple choice (GPQA, MMLU, MMLU-Pro, ARC): letter extraction and GPQA's per-item option shuffle.

Extraction looks for explicit signals, strongest first, and never takes "the last capital letter":
  1. the last \\boxed{...} whose content is a letter ("C", "(C)", "\\text{C}", "C) 42", "C. 42")
  2. the last "answer is C" / "Answer: (C)" / "correct option is **C**" phrase
  3. a last line that is only a letter: "C", "(C)", "**C.**"
A bare letter that is also an English word ("A", "I") counts only when it stands alone (followed by
punctuation, a bracket or the end of the line), so "the answer is a prime" or "the answer is I think B" do
not give A or I. Letters beyond the item's number of options are ignored.
"""

from __future__ import annotations

import re

from ..core.formatting import split_sections
from .math import last_boxed

LETTERS = "ABCDEFGHIJ"  # MMLU-Pro has up to 10 options
_WORD_LETTERS = {"A", "I"}

_LEFT = r"(?P<l>(?:\\text(?:bf)?\{|\\mathrm\{|\*\*|\(|\[|\{|\$)*)"
_RIGHT = r"(?P<r>(?:\}|\*\*|\)|\]|\$)*)"
_AFTER_OK = re.compile(r"[ \t]*(?:$|[.,;:!?)]|\n|(?:because|since|as|which)\b|-)", re.M)
_PHRASE = re.compile(
    r"(?:(?:final|correct|best|right)\s+)?(?:answer|option|choice)(?:\s+choice)?\s*"
    r"(?:is|:|=|would be|should be)\s*(?:option|choice)?\s*:?\s*"
    + _LEFT + r"\s*(?P<x>[A-J])(?![A-Za-z0-9])\s*" + _RIGHT, re.I)
_BOXED_LETTER = re.compile(r"^\s*(?:\\text(?:bf)?\{|\\mathrm\{|\(|\{)*\s*([A-J])\s*(?:\}|\))*\s*(?:$|[.):\s])")
_LINE_LETTER = re.compile(r"^\s*(?:\*\*|\(|\[|\$)*\s*([A-J])\s*(?:\*\*|\)|\]|\$|\.|:)*\s*$")


def _allowed(letter: str, n_choices: int | None) -> bool:
    return letter in LETTERS[: n_choices or len(LETTERS)]


def _phrase_letter(text: str, n_choices: int | None) -> str | None:
    for m in reversed(list(_PHRASE.finditer(text))):
        letter = m.group("x")
        if not letter.isupper() or not _allowed(letter, n_choices):
            continue
        wrapped = bool(m.group("l")) or bool(m.group("r"))
        if letter in _WORD_LETTERS and not wrapped and not _AFTER_OK.match(text, m.end("x")):
            continue  # "the answer is A bit ..." / "the answer is I think B"
        return letter
    return None


def extract_choice(response: str, n_choices: int | None = None, choices: list[str] | None = None) -> str | None:
    """The chosen letter, or None. `choices` (the option texts) lets a boxed option text count as its letter."""
    if not response:
        return None
    sections = split_sections(response)
    parts = [sections.solution, response] if sections.solution else [response]
    for text in parts:
        boxed = last_boxed(text)
        if boxed is not None:
            m = _BOXED_LETTER.match(boxed)
            if m and m.group(1).isupper() and _allowed(m.group(1), n_choices):
                return m.group(1)
            if choices:
                norm = _norm(boxed)
                hits = [LETTERS[i] for i, c in enumerate(choices) if _norm(c) == norm]
                if len(hits) == 1:
                    return hits[0]
        letter = _phrase_letter(text, n_choices)
        if letter:
            return letter
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        if lines:
            m = _LINE_LETTER.match(lines[-1])
            if m and _allowed(m.group(1), n_choices):
                return m.group(1)
    return None


def _norm(s: str) -> str:
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    return re.sub(r"[\s$.]+", " ", s).strip().lower()


def score(gold: str, response: str, n_choices: int | None = None, choices: list[str] | None = None) -> dict:
    gold = (gold or "").strip().strip("()").upper()
    predicted = extract_choice(response, n_choices or (len(choices) if choices else None), choices)
    correct = predicted is not None and predicted == gold
    if predicted is None:
        reason = "no option letter found"
    elif not correct:
        reason = f"wrong answer: got {predicted}, expected {gold}"
    else:
        reason = None
    return {"predicted": predicted, "correct": correct, "reason": reason}


def format_question(question: str, options: list[str]) -> str:
    """The question followed by lettered options, one per line: (A) ..."""
    lines = [question.strip(), ""] + [f"({LETTERS[i]}) {opt.strip()}" for i, opt in enumerate(options)]
    return "\n".join(lines)
