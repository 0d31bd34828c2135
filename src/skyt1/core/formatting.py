"""The Sky-T1 response format:
<|begin_of_thought|> ... <|end_of_thought|> <|begin_of_solution|> ... <|end_of_solution|>"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOT, EOT = "<|begin_of_thought|>", "<|end_of_thought|>"
BOS, EOS = "<|begin_of_solution|>", "<|end_of_solution|>"


@dataclass
class Sections:
    thought: str | None
    solution: str | None

    @property
    def complete(self) -> bool:
        return bool(self.thought) and bool(self.solution)


def _between(text: str, start: str, end: str) -> str | None:
    m = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, flags=re.S)
    return m.group(1).strip() if m else None


def split_sections(text: str) -> Sections:
    if not text:
        return Sections(None, None)
    return Sections(_between(text, BOT, EOT), _between(text, BOS, EOS))


def assemble(thought: str, solution: str) -> str:
    return f"{BOT}\n\n{thought.strip()}\n\n{EOT}\n\n{BOS}\n\n{solution.strip()}\n\n{EOS}"
