"""The transformers backend's continuous batching against transformers' own generate()."""
import torch

from skyt1.generation import Params
from skyt1.engine.runner import TransformersBackend
import pytest

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

QUESTIONS = ["Calculate 2+3.", "What is the capital of France?", "Write a haiku about the sea.", "Say hi.",
             "Calculate 12 * 7 and explain."]


def reference(backend, conv, max_new_tokens):
    tok = backend.tok
    enc = tok(tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True), return_tensors="pt",
              add_special_tokens=False)
    with torch.inference_mode():
        out = backend.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id, eos_token_id=sorted(backend.eos_ids))
    ids = [t for t in out[0, enc.input_ids.shape[1]:].tolist() if t not in backend.eos_ids]
    return tok.decode(ids, skip_special_tokens=True)


def test_continuous_batching_matches_unpadded_generate(tiny_model):
    backend = TransformersBackend(str(tiny_model), {"batch_size": 2}, threads=2, progress=False)
    convs = [[{"role": "user", "content": q}] for q in QUESTIONS]
    # Its own system prompt: this one does not share the prompt prefix the others reuse.
    convs.append([{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Say hi."}])
    expected = [reference(backend, c, 24) for c in convs]
    for batch_size in (2, 6):  # 2 forces sequences to leave and new prompts to be merged mid-flight
        backend.batch_size = batch_size
        got = {}
        backend.generate(convs, Params(max_new_tokens=24), lambda i, c: got.__setitem__(i, c))
        assert [got[i].texts[0] for i in range(len(convs))] == expected
        assert all(c.completion_tokens <= 24 and c.finish_reasons[0] in ("stop", "length") for c in got.values())


def test_sampling_is_seeded_and_gives_n_samples(tiny_model):
    backend = TransformersBackend(str(tiny_model), {"batch_size": 4}, threads=2, progress=False)
    convs = [[{"role": "user", "content": q}] for q in QUESTIONS[:3]]
    runs = []
    for _ in range(2):
        got = {}
        backend.generate(convs, Params(max_new_tokens=12, temperature=0.8, top_p=0.9, n=3, seed=11),
                         lambda i, c: got.__setitem__(i, c.texts))
        runs.append(got)
    assert runs[0] == runs[1]
    assert all(len(v) == 3 for v in runs[0].values())


def test_growing_cache_matches_concatenation_through_growth_select_and_join():
    from skyt1.engine.cache import growing_cache_class

    cache_cls = growing_cache_class()
    gen = torch.Generator().manual_seed(0)

    def states(b, n):
        return torch.randn(b, 3, n, 4, generator=gen), torch.randn(b, 3, n, 4, generator=gen)

    a, ref_a = cache_cls(), [[None, None] for _ in range(2)]
    for step, n in enumerate([40] + [1] * 130):  # 170 positions: the buffer grows twice
        for layer in range(2):
            k, v = states(3, n)
            ref_a[layer] = [k, v] if step == 0 else [torch.cat([ref_a[layer][0], k], -2),
                                                     torch.cat([ref_a[layer][1], v], -2)]
            got_k, got_v = a.update(k, v, layer)
            assert torch.equal(got_k, ref_a[layer][0]) and torch.equal(got_v, ref_a[layer][1])
    a.batch_select_indices(torch.tensor([0, 2]))
    b = cache_cls()
    ref_b = [list(states(2, 7)) for _ in range(2)]
    for layer in range(2):
        b.update(*ref_b[layer], layer)
    a.join(b)
    assert a.get_seq_length() == 170
    for layer in range(2):
        for j in range(2):
            shorter = torch.nn.functional.pad(ref_b[layer][j], (0, 0, 163, 0))  # left-padded with zeros
            expected = torch.cat([ref_a[layer][j][[0, 2]], shorter])
            assert torch.equal(a[layer][j], expected)


def test_prepacked_linear_matches_plain_linear():
    from skyt1.engine.kernels import PACKED_MAX_ROWS, prepack_linears

    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.Linear(96, 80, bias=False))
    x_small, x_big = torch.randn(2, 5, 64), torch.randn(PACKED_MAX_ROWS + 1, 64)
    with torch.inference_mode():
        expected = [model(x_small), model(x_big)]
        assert prepack_linears(model) == (2 if torch.backends.mkldnn.is_available() else 0)
        got = [model(x_small), model(x_big)]
    for e, g in zip(expected, got):
        assert g.shape == e.shape and torch.allclose(g, e, atol=1e-5)
