"""The engine's sampler keeps exactly the tokens a full sort keeps, draws from each row's own generator,
and is as fast with every setting mixed in one batch (the speed itself is bench/bench_generation.py's)."""

import pytest

torch = pytest.importorskip("torch")

from skyt1.engine.sampler import CANDIDATES, RowParams, sample  # noqa: E402


def reference_probs(logits: torch.Tensor, p: RowParams) -> torch.Tensor:
    """The kept distribution by the definition: full sort, top-k, then top-p (vLLM's order)."""
    probs = torch.softmax(logits.double() / p.temperature, -1)
    sp, si = probs.sort(descending=True)
    drop = sp.cumsum(-1) - sp > (p.top_p if p.top_p < 1 else float("inf"))
    if p.top_k > 0:
        drop[p.top_k:] = True
    sp[drop] = 0
    out = torch.zeros_like(probs).scatter_(-1, si, sp)
    return out / out.sum()


@pytest.mark.parametrize("p, flat", [
    (RowParams(1.0), False), (RowParams(0.7, top_p=0.95), False), (RowParams(1.0, top_k=5), False),
    (RowParams(1.3, top_p=0.9, top_k=40), False),
    (RowParams(1.0, top_p=0.99), True),  # flat: the top CANDIDATES hold < 0.99 of the mass -> full sort
])
def test_draws_follow_the_reference_distribution(p, flat):
    vocab, draws = (1500, 20000) if flat else (400, 8000)
    g0 = torch.Generator().manual_seed(3)
    logits = torch.randn(vocab, generator=g0) * (0.01 if flat else 2.5)
    ref = reference_probs(logits, p)
    if flat:
        assert ref.sort(descending=True).values[:CANDIDATES].sum() < 0.99
    rows = 200
    gens = [torch.Generator().manual_seed(i) for i in range(rows)]
    counts = torch.zeros(vocab, dtype=torch.float64)
    for _ in range(draws // rows):
        tok = sample(logits.expand(rows, vocab), [p] * rows, gens)
        counts += torch.bincount(tok, minlength=vocab).double()
    assert counts[ref == 0].sum() == 0  # never a token the reference drops
    # total variation distance to the reference, against that of as many draws from the reference itself
    tv = 0.5 * (counts / counts.sum() - ref).abs().sum()
    ref_counts = torch.bincount(torch.multinomial(ref, draws, replacement=True, generator=g0), minlength=vocab)
    tv_ref = 0.5 * (ref_counts / draws - ref).abs().sum()
    assert tv < 1.3 * tv_ref + 0.01, (tv, tv_ref)


def test_rows_are_independent_of_their_batch_and_greedy_is_argmax():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 500, generator=g) * 3
    params = [RowParams(0.0), RowParams(0.8, top_p=0.9), RowParams(1.0), RowParams(0.0),
              RowParams(1.0, top_k=3), RowParams(0.5, top_p=0.5, top_k=10)]

    def alone(r):
        return sample(logits[r:r + 1], [params[r]], [torch.Generator().manual_seed(100 + r)])[0]

    together = sample(logits, params, [torch.Generator().manual_seed(100 + r) for r in range(6)])
    assert together.tolist() == [int(alone(r)) for r in range(6)]
    assert together[0] == logits[0].argmax() and together[3] == logits[3].argmax()
    assert int(together[4]) in logits[4].topk(3).indices.tolist()
