"""A request as the engine's scheduler, runner and server see it (vLLM's Request + SamplingParams, the part
this engine implements)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..generation import Params


@dataclass(frozen=True)
class Request:
    """One request as the decoding loop sees it: its prompt ids and its own sampling parameters
    (vLLM's SamplingParams, the part this engine implements; top_k 0 = off, seed None = unseeded)."""
    prompt: list[int]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, prompt: list[int], params: Params) -> "Request":
        return cls(prompt, params.max_new_tokens, params.temperature, params.top_p, 0, params.n, params.seed)


@dataclass
class Live:
    """A request being decoded: its rows' tokens, finish reasons and its generator."""
    req: Request
    gen: object
    tokens: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    left: int = 0

    def __post_init__(self):
        n = self.req.n
        self.tokens, self.texts, self.reasons, self.left = [[] for _ in range(n)], [None] * n, [None] * n, n
