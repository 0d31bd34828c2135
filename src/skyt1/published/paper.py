"""The numbers Sky-T1-32B-Preview's authors report (accuracy %), each labelled with where it comes from.

Two sources disagree. The SkyThought README (the repository's main page, updated after a prompt-format
fix for Math500) reports Math500 86.4 / 81.4 / 92.2 / 81.4 and adds OlympiadBench; the release blog post
of 2025-01-10 reports Math500 82.4 / 76.2 / 85.4 / 81.4 and has no OlympiadBench row. Every other row is
the same in both. The table uses the README (the later, corrected figures); SOURCES keeps both.
"""

from __future__ import annotations

README = "SkyThought README (github.com/NovaSky-AI/SkyThought, evaluation results)"
POST = "Sky-T1 blog post, 2025-01-10 (novasky-ai.github.io/posts/sky-t1)"

PAPER_MODELS = ("Sky-T1-32B-Preview", "Qwen2.5-32B-Instruct", "QwQ-32B-Preview", "o1-preview")

#                       Sky-T1-32B-Preview, Qwen2.5-32B-Instruct, QwQ-32B-Preview, o1-preview
_README_ROWS = {
    "Math500": (86.4, 81.4, 92.2, 81.4),
    "AIME2024": (43.3, 16.7, 50.0, 40.0),
    "LCB-Easy": (86.3, 84.6, 90.7, 92.9),
    "LCB-Medium": (56.8, 40.8, 56.3, 54.9),
    "LCB-Hard": (17.9, 9.8, 17.1, 16.3),
    "GPQA-Diamond": (56.8, 45.5, 52.5, 75.2),
    "OlympiadBench (Math)": (59.79, 46.74, 62.17, 59.2),
}
_POST_ROWS = {
    "Math500": (82.4, 76.2, 85.4, 81.4),
    "AIME2024": (43.3, 16.7, 50.0, 40.0),
    "LCB-Easy": (86.3, 84.6, 90.7, 92.9),
    "LCB-Medium": (56.8, 40.8, 56.3, 54.9),
    "LCB-Hard": (17.9, 9.8, 17.1, 16.3),
    "GPQA-Diamond": (56.8, 45.5, 52.5, 75.2),
}
SOURCES = {README: _README_ROWS, POST: _POST_ROWS}

# The figures the table shows: the README's (see the module docstring for why).
PAPER_MAIN = _README_ROWS


def reported(paper_name: str | None, model: str) -> float | None:
    row = PAPER_MAIN.get(paper_name or "")
    if row is None:
        return None
    return row[PAPER_MODELS.index(model)]


def reported_all(paper_name: str | None, model: str) -> list[dict]:
    """Every reported value for one row and model, with its source (empty when none reports it)."""
    out = []
    for source, rows in SOURCES.items():
        if (paper_name or "") in rows:
            out.append({"value": rows[paper_name][PAPER_MODELS.index(model)], "source": source})
    return out


# The table's source, named: Math500 is the one row where the two disagree (README 86.4 for
# Sky-T1-32B-Preview, the post 82.4); the README's corrected figures are the target.
TARGET_SOURCE = README


def source_note(paper_name: str | None) -> str:
    """Which source a row's paper numbers come from, and the other source's numbers where they differ."""
    if (paper_name or "") not in PAPER_MAIN:
        return ""
    post = _POST_ROWS.get(paper_name)
    if post is None:
        return "SkyThought README (the post has no such row)"
    if post == PAPER_MAIN[paper_name]:
        return "SkyThought README (= post)"
    shown = ", ".join(f"{m} {v:g}" for m, v in zip(PAPER_MODELS, post))
    return f"SkyThought README (the post reports {shown})"
