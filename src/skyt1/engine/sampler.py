"""The CPU engine's sampler: one next token per row, every row with its own sampling parameters.

Semantics are vLLM's SamplingParams (the part this engine implements): temperature 0 is greedy (argmax);
otherwise logits / temperature, then top-k (0 = off), then top-p over what is left (a token is dropped
when the probability mass of the tokens ranked above it already exceeds top_p), then one draw from the
request's own generator, so a request's samples do not depend on what else shares the batch.

Cost is what matters here (issue 21: mixing settings on one engine must not slow it down): a full-vocabulary
sort per row (49,152 entries for SmolLM2), a scatter back and a multinomial over the whole vocabulary cost
more than the 135M model's decode step. So:
  - rows without top-k/top-p draw by inverse CDF over the unsorted vocabulary (one uniform per row);
  - filtered rows rank only the top CANDIDATES tokens (torch.topk). That set is exact whenever its mass
    exceeds top_p (every token below it would be dropped anyway) and top_k fits in it; the rows where it
    does not (a very flat distribution) fall back to the full sort, so the kept set is always the one the
    full sort gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

CANDIDATES = 1024  # tokens ranked per filtered row before the exact fallback


@dataclass(frozen=True)
class RowParams:
    temperature: float
    top_p: float = 1.0
    top_k: int = 0  # 0 = off


def _draw(weights: torch.Tensor, gens: Sequence[torch.Generator]) -> torch.Tensor:
    """Index drawn in each row proportionally to its (unnormalized, non-negative) weights."""
    cdf = weights.double().cumsum(-1)  # float64: 49K float32 partial sums drift
    u = torch.stack([torch.rand(1, generator=g, device=weights.device, dtype=cdf.dtype)[0] for g in gens])
    idx = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]
    return idx.clamp_(max=weights.shape[-1] - 1)


def _kept(sorted_p: torch.Tensor, top_p: torch.Tensor, top_k: torch.Tensor) -> torch.Tensor:
    """Mask of the ranked tokens each row keeps (sorted_p descending, one row per request)."""
    drop = sorted_p.cumsum(-1) - sorted_p > top_p[:, None]
    drop |= torch.arange(sorted_p.shape[-1], device=sorted_p.device)[None, :] >= top_k[:, None]
    return ~drop


def sample(logits: torch.Tensor, params: Sequence[RowParams], gens: Sequence[torch.Generator | None]) -> torch.Tensor:
    """Next token per row of logits [rows, vocab]; gens[r] is row r's generator (None for greedy rows)."""
    token = logits.argmax(dim=-1)
    plain = [r for r, p in enumerate(params) if p.temperature > 0 and p.top_p >= 1.0 and p.top_k <= 0]
    filtered = [r for r, p in enumerate(params) if p.temperature > 0 and (p.top_p < 1.0 or p.top_k > 0)]
    vocab = logits.shape[-1]
    dev = logits.device

    def scaled(rows: list[int]) -> torch.Tensor:
        temp = torch.tensor([params[r].temperature for r in rows], device=dev, dtype=torch.float32)[:, None]
        return logits[rows].float() / temp

    if plain:
        x = scaled(plain)
        weights = (x - x.max(dim=-1, keepdim=True).values).exp_()
        token[plain] = _draw(weights, [gens[r] for r in plain])
    if filtered:
        x = scaled(filtered)
        lse = x.logsumexp(dim=-1, keepdim=True)
        top_p = torch.tensor([params[r].top_p if params[r].top_p < 1.0 else float("inf") for r in filtered], device=dev)
        top_k = torch.tensor([params[r].top_k if params[r].top_k > 0 else vocab for r in filtered], device=dev)
        k = min(vocab, max(CANDIDATES, max(params[r].top_k for r in filtered)))
        vals, idx = x.topk(k, dim=-1)
        probs = (vals - lse).exp_()
        # exact iff the candidates hold every kept token: their mass exceeds top_p, or top_k cuts inside them
        exact = (probs.sum(-1) > top_p) | (top_k <= k)
        if not bool(exact.all()):
            full = (~exact).nonzero()[:, 0]
            fvals, fidx = x[full].sort(dim=-1, descending=True)
            fprobs = (fvals - lse[full]).exp_()
            keep = _kept(fprobs, top_p[full], top_k[full])
            picked = _draw(fprobs * keep, [gens[filtered[int(j)]] for j in full])
            token[[filtered[int(j)] for j in full]] = fidx.gather(-1, picked[:, None])[:, 0]
        rows = exact.nonzero()[:, 0]
        if len(rows):
            keep = _kept(probs[rows], top_p[rows], top_k[rows])
            picked = _draw(probs[rows] * keep, [gens[filtered[int(j)]] for j in rows])
            token[[filtered[int(j)] for j in rows]] = idx[rows].gather(-1, picked[:, None])[:, 0]
    return token
