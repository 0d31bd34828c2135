"""Generation: one client path for every stage. Requests go through the OpenAI-compatible client
(openai_backend) to an engine that skyt1.engine.owned picks by the stage's `backend.name`: skyt1 (the
project's CPU engine server), vllm (`vllm serve` on GPUs) or openai (an external endpoint). hf.py is the
CPU engine server's decoder; no stage decodes in-process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass(frozen=True)
class Params:
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict, override: dict | None = None) -> "Params":
        """A stage's params section (validated: the schema's stage_params fills every key), with a
        benchmark's override on top."""
        merged = {**cfg, **(override or {})}
        return cls(**{k: merged[k] for k in ("max_new_tokens", "temperature", "top_p", "n", "seed")})


@dataclass
class Completion:
    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # set when the item failed for good (it then goes to a failures file)
    extra: dict = field(default_factory=dict)


OnDone = Callable[[int, Completion], None]


class Backend(Protocol):
    name: str

    def generate(self, conversations: list[list[dict]], params: Params, on_done: OnDone) -> None:
        """Generate for every conversation; call on_done(index, completion) as each one finishes."""

    def close(self) -> None: ...
