"""Generation throughput of the tiny model, measured side by side in one run on the same prompts.

Prints generated tokens/s for: transformers at batch 1, in-process continuous batching (the decoder the
engine server runs), and the stages' one client path (the CPU engine server started through skyt1.engine.owned,
the OpenAI-compatible client with twice the engine's batch in flight), each with its ratio to batch 1
and its share of this machine's compute-bound ceiling for the model, computed from a measured fp32
matmul rate: ceiling tok/s = matmul FLOP/s / (2 x parameters).

Then (issue 21) one engine serving several clients at once, as several benchmarks' jobs share one model's
engine: four settings mixed (greedy and sampled, different max_tokens and seeds) against the very same
requests sent one setting at a time, side by side; the mixed run's tokens/s over that must be >= 0.9 (every
row carries its own parameters, so mixing does not split the batch). All-greedy and all-sampled runs of
the same prompts are printed for reference (docs/engine.md).

    python bench/bench_generation.py [--model results/models/smollm2-135m-instruct] [--prompts 32] [--mixed-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def matmul_flops(threads: int, n: int = 2048, reps: int = 10) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def prompts(n: int) -> list[list[dict]]:
    system = {"role": "system", "content": "You are a helpful assistant. Think step by step, then give the final answer in \\boxed{}."}
    try:
        import reasoning_gym
    except ImportError:  # not in every environment: the same kind of questions, drawn here
        import random

        rng = random.Random(5)
        questions = [" + ".join(str(rng.randint(1, 99)) for _ in range(rng.randint(2, 3))) for _ in range(n)]
        return [[system, {"role": "user", "content": f"Calculate {q}."}] for q in questions]
    ds = reasoning_gym.create_dataset("basic_arithmetic", size=n, seed=5, min_terms=2, max_terms=3, max_digits=2)
    return [[system, {"role": "user", "content": e["question"]}] for e in ds]


def run_backend(backend, convs, params) -> tuple[int, float]:
    tokens = 0

    def on_done(i, comp):
        nonlocal tokens
        tokens += comp.completion_tokens

    t0 = time.perf_counter()
    backend.generate(convs, params, on_done)
    return tokens, time.perf_counter() - t0


MIXED = [  # (temperature, top_p, seed, share of max_new_tokens)
    (0.0, 1.0, 0, 1.0), (0.7, 0.95, 1, 1.0), (1.0, 1.0, 2, 0.5), (0.0, 1.0, 0, 0.75)]


def clients_at_once(url: str, convs, params_per_client) -> tuple[int, float, float]:
    """Each client (an OpenAIBackend, like one benchmark's job) sends its share of convs with its own
    Params, all at once; returns (completion tokens, seconds, mean batch rows the engine decoded)."""
    import json
    import threading
    import urllib.request

    from skyt1.generation.openai_backend import OpenAIBackend

    k = len(params_per_client)
    tokens = [0] * k

    def client(j):
        def on_done(i, comp):
            assert comp.error is None, comp.error
            tokens[j] += comp.completion_tokens
        OpenAIBackend({"api_model": "bench"}, {"name": "skyt1", "concurrency": 64}, base_url=url).generate(
            convs[j::k], params_per_client[j], on_done)

    stats = url.removesuffix("/v1") + "/skyt1/stats"
    before = json.loads(urllib.request.urlopen(stats).read())
    threads = [threading.Thread(target=client, args=(j,)) for j in range(k)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    after = json.loads(urllib.request.urlopen(stats).read())
    steps = after["decode_steps"] - before["decode_steps"]
    return sum(tokens), secs, (after["row_steps"] - before["row_steps"]) / max(steps, 1)


def mixed_vs_one_setting(args) -> None:
    from skyt1.generation import Params
    from skyt1.engine.server import local_server

    convs = prompts(args.prompts)
    m = args.max_new_tokens
    mixed = [Params(max_new_tokens=int(m * f), temperature=t, top_p=p, seed=s) for t, p, s, f in MIXED]
    runs = {}
    with local_server(args.model, "bench", batch_size=args.batch_size, threads=args.threads, max_wait_ms=300) as url:
        clients_at_once(url, convs[:4], [Params(max_new_tokens=8)] * 4)  # warm-up
        for rep in range(args.repeats):
            for name, ps in ((f"one setting: greedy, {m} max", [mixed[0]] * 4),
                             (f"one setting: T=0.7 top_p=0.95, {m} max", [mixed[1]] * 4),
                             ("four settings mixed", mixed)):
                tokens, secs, rows = clients_at_once(url, convs, ps)
                runs.setdefault(name, []).append((tokens, secs, rows))
            # The very requests of the mixed run (same prompts, settings and seeds, so the same tokens), each
            # setting's share on the engine alone, one after another: what mixing saves or costs, nothing else.
            parts = [clients_at_once(url, convs[j::4], [mixed[j]]) for j in range(4)]
            runs.setdefault("same requests, one setting at a time", []).append(
                (sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] * p[1] for p in parts) / sum(p[1] for p in parts)))
    print(f"one engine (batch {args.batch_size}, {args.threads} threads), 4 clients at once, {args.prompts} prompts, "
          f"best of {args.repeats}")
    print(f"{'requests':<40}{'tokens':>8}{'seconds':>9}{'tok/s':>9}{'rows/step':>11}")
    rates = {}
    for name, rs in runs.items():
        tokens, secs, rows = max(rs, key=lambda r: r[0] / r[1])
        rates[name] = tokens / secs
        print(f"{name:<40}{tokens:>8}{secs:>9.1f}{rates[name]:>9.1f}{rows:>11.1f}")
    mix = rates.pop("four settings mixed")
    alone = rates.pop("same requests, one setting at a time")
    print(f"mixed / the same requests one setting at a time: {mix / alone:.2f}x (target >= 0.9)")
    for name, rate in rates.items():
        # other prompts' lengths and finish points than the mixed run: workload shape, not mixing, differs
        print(f"mixed / {name}: {mix / rate:.2f}x (for reference)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="results/models/smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--mixed-only", action="store_true", help="only the mixed-settings comparison")
    ap.add_argument("--repeats", type=int, default=1, help="mixed comparison: runs of each, best reported")
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").exists():
        sys.exit(f"no model at {args.model}: run `snakemake results/models/smollm2-135m-instruct --profile profiles/local` first")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if args.mixed_only:
        return mixed_vs_one_setting(args)
    from skyt1.generation import Params
    from skyt1.engine.runner import TransformersBackend

    from skyt1.stages.common import Job, Model, Target, backend_factory

    convs = prompts(args.prompts)
    params = Params(max_new_tokens=args.max_new_tokens, temperature=0.0)
    flops = matmul_flops(args.threads)
    results = {}

    single = TransformersBackend(args.model, {"batch_size": 1, "dtype": "float32"}, threads=args.threads, progress=False)
    run_backend(single, convs[:2], Params(max_new_tokens=8))  # warm-up
    n_params = sum(p.numel() for p in single.model.parameters())
    ceiling = flops / (2 * n_params)
    results["transformers, batch 1"] = run_backend(single, convs, params)
    single.batch_size = args.batch_size
    results[f"in-process, batch {args.batch_size}"] = run_backend(single, convs, params)
    single.close()

    backend = {"name": "skyt1", "batch_size": args.batch_size, "dtype": "float32", "max_wait_ms": 300}
    # no job engine given: the client starts its own engine and stops it when it closes
    target = Target("bench", Model(args.model, {"source": "gguf_package"}, "tiny"), backend, None, "bench.out",
                    Job(threads=args.threads))
    client = backend_factory(target)()
    try:
        run_backend(client, convs[:2], Params(max_new_tokens=8))  # warm-up
        results[f"engine + client, {client.inner.concurrency} in flight"] = run_backend(client, convs, params)
    finally:
        client.close()

    print(f"model: {n_params / 1e6:.1f}M parameters; {args.prompts} prompts, {args.max_new_tokens} new tokens max, greedy, {args.threads} threads")
    print(f"fp32 matmul: {flops / 1e9:.0f} GFLOP/s -> compute-bound ceiling {ceiling:.0f} tok/s")
    base = None
    print(f"{'backend':<32}{'tokens':>8}{'seconds':>9}{'tok/s':>9}{'x batch1':>10}{'of ceiling':>12}")
    for name, (tokens, secs) in results.items():
        rate = tokens / secs
        base = base or rate
        print(f"{name:<32}{tokens:>8}{secs:>9.1f}{rate:>9.1f}{rate / base:>10.2f}{rate / ceiling:>11.1%}")
    print()
    mixed_vs_one_setting(args)


if __name__ == "__main__":
    main()
