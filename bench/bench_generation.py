"""Generation throughput of the tiny model, measured side by side in one run on the same prompts.

Prints generated tokens/s for: transformers at batch 1, in-process continuous batching (the decoder the
engine server runs), and the stages' one client path (the CPU engine server started through skyt1.engines,
the OpenAI-compatible client with twice the engine's batch in flight), each with its ratio to batch 1
and its share of this machine's compute-bound ceiling for the model, computed from a measured fp32
matmul rate: ceiling tok/s = matmul FLOP/s / (2 x parameters).

    python bench/bench_generation.py [--model results/models/smollm2-135m-instruct] [--prompts 32]
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
    import reasoning_gym

    ds = reasoning_gym.create_dataset("basic_arithmetic", size=n, seed=5, min_terms=2, max_terms=3, max_digits=2)
    system = {"role": "system", "content": "You are a helpful assistant. Think step by step, then give the final answer in \\boxed{}."}
    return [[system, {"role": "user", "content": e["question"]}] for e in ds]


def run_backend(backend, convs, params) -> tuple[int, float]:
    tokens = 0

    def on_done(i, comp):
        nonlocal tokens
        tokens += comp.completion_tokens

    t0 = time.perf_counter()
    backend.generate(convs, params, on_done)
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="results/models/smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").exists():
        sys.exit(f"no model at {args.model}: run `snakemake results/models/smollm2-135m-instruct --profile profiles/local` first")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from skyt1.generation import Params
    from skyt1.generation.hf import TransformersBackend

    from skyt1.stages.common import backend_factory

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
    client = backend_factory(backend, args.model, "tiny", threads=args.threads, gpus=0)()
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


if __name__ == "__main__":
    main()
