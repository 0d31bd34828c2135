"""Math answers: extraction of the final answer and equivalence through math-verify."""

from __future__ import annotations

import re
import threading

from ..core.formatting import split_sections

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (nested braces allowed), or None."""
    if not text:
        return None
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth, i = 1, start
        while i < len(text):
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
            i += 1
    # `\boxed 5` (no braces) is also seen in the wild
    m = list(re.finditer(r"\\boxed\s+([^\s$]+)", text))
    return m[-1].group(1) if m else None


def gsm8k_gold(answer_field: str) -> str | None:
    """GSM8K's gold answer is whatever follows the last '####' (commas are thousands separators)."""
    if "####" not in answer_field:
        return None
    return answer_field.rsplit("####", 1)[1].strip().replace(",", "")


# "The final answer is 42.", "**Answer:** $\\frac12$", "Final Answer: 033" (AIME-style answers without a box)
_PHRASE = re.compile(r"(?:final\s+answer|answer)\s*(?:\*\*)?\s*(?:is|:|=)\s*(?:\*\*)?\s*:?\s*(.+)", re.I)


def _answer_phrase(text: str) -> str | None:
    matches = list(_PHRASE.finditer(text))
    if not matches:
        return None
    ans = matches[-1].group(1).strip()
    ans = re.sub(r"^(?:\$\$?|\\\(|\\\[)\s*", "", ans)
    ans = re.split(r"\$|\\\)|\\\]|\*\*", ans)[0] if not ans.startswith("\\boxed") else ans
    ans = ans.strip().rstrip(".").strip()
    return ans or None


def extract_answer(response: str) -> str | None:
    """Final answer of a response: the last \\boxed{} of the solution section when there is one, else of the
    whole text; without any box, the last "answer is X" / "Answer: X" phrase (solution section first)."""
    sections = split_sections(response)
    if sections.solution:
        found = last_boxed(sections.solution)
        if found is not None:
            return found
    found = last_boxed(response)
    if found is not None:
        return found
    for part in (sections.solution, response if not sections.solution else None):
        if part:
            found = _answer_phrase(part)
            if found is not None:
                return found
    return None


def _verify(gold: str, predicted: str) -> bool:
    from math_verify import parse, verify
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    # math-verify's timeouts use SIGALRM, which only the main thread may set: elsewhere, run without them
    # (otherwise every comparison in a worker thread fails silently).
    t = 5 if threading.current_thread() is threading.main_thread() else None
    # Wrapping in $...$ makes math-verify read both as LaTeX, the way they appear inside \boxed{}.
    g = parse(f"${gold}$", extraction_config=configs, parsing_timeout=t)
    p = parse(f"${predicted}$", extraction_config=configs, parsing_timeout=t)
    if not g or not p:
        return False
    return bool(verify(g, p, timeout_seconds=t))


_INT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)")  # commas only as thousands separators
# \text{ apples}, \mbox{cm}, \mathrm{ km}: words after a quantity (units, nouns) that do not change the answer
_TEXT_WORDS = re.compile(r"\\(?:text|textbf|mbox|mathrm|textrm)\s*\{\s*([A-Za-z][A-Za-z .]*)\}")


def _strip_text(s: str) -> str:
    out = _TEXT_WORDS.sub(lambda m: "" if re.search(r"\d", s[: m.start()]) else m.group(1), s)
    out = re.sub(r"^\s*\\text\s*\{\s*(\d[^{}]*?)\s+[A-Za-z][A-Za-z ]*\}\s*$", r"\1", out)  # \text{2 apples}
    return out.strip()


def is_equivalent(gold: str, predicted: str | None) -> bool:
    if predicted is None or gold is None:
        return False
    g, p = gold.strip(), predicted.strip()
    if not p:
        return False
    if p == g:
        return True
    if _INT.fullmatch(g) and _INT.fullmatch(p):
        return int(g.replace(",", "")) == int(p.replace(",", ""))  # AIME-style: 033 == 33, 1,000 == 1000
    try:
        if _verify(g, p):
            return True
        gs, ps = _strip_text(g), _strip_text(p)
        return (gs, ps) != (g, p) and bool(gs) and bool(ps) and _verify(gs, ps)
    except Exception:  # math-verify raises on unparsable LaTeX: that is a wrong answer, not a crash
        return False


def score(gold: str, response: str) -> dict:
    predicted = extract_answer(response)
    correct = is_equivalent(gold, predicted)
    if predicted is None:
        reason = "no final answer in \\boxed{}"
    elif not correct:
        reason = f"wrong answer: got {predicted!r}, expected {gold!r}"
    else:
        reason = None
    return {"predicted": predicted, "correct": correct, "reason": reason}
