"""What judging like an official evaluator costs: stdin/stdout submissions through
skyt1.scoring.code.run_tests with each evaluator profile (the sandbox's run options it sets: the whole import
preamble run once per response in the worker, recursion and digit limits, CRLF-keeping stdin, SystemExit and
thread handling) against the same sandbox with those options off, and against a bare `python3 prog.py < input`
per test. Measured side by side
in one run; rounds alternate and the median round is printed (the machine is shared).
usage: python bench/bench_judge_profiles.py [--tests 10] [--responses 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from skyt1.sandbox import Limits, Sandbox
from skyt1.scoring import code
from skyt1.scoring.evaluators import load

# uses names from the preambles (gcd from APPS's, defaultdict from LCB's) the way contest programs do
PROGRAM = ("import sys\nfrom math import gcd\nfrom collections import defaultdict\n"
           "n = int(sys.stdin.readline())\nd = defaultdict(int)\nd[n] += gcd(n, 6)\nprint(sum(i * i for i in range(n)) + d[n] - gcd(n, 6))\n")
PY = "/usr/bin/python3"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=10)
    ap.add_argument("--responses", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tests = {"inputs": [f"{i + 5}\n" for i in range(a.tests)],
             "outputs": [str(sum(j * j for j in range(i + 5))) for i in range(a.tests)]}
    none = {**load("apps").to_dict(), "name": "no-options", "preamble": "", "recursion_limit": None,
            "int_max_str_digits": None, "system_exit": "error", "threads": "kill", "crlf": "translate",
            "solution_lookup": "fallback"}
    profiles = {"no options": none, "apps": "apps", "taco": "taco", "livecodebench": "livecodebench"}
    sandbox = Sandbox(Limits(cpu_s=6, wall_s=10))
    with tempfile.TemporaryDirectory() as d:
        prog = Path(d) / "prog.py"
        prog.write_text(PROGRAM)

        def bare() -> None:
            for inp in tests["inputs"]:
                subprocess.run([PY, str(prog)], input=inp, capture_output=True, text=True, check=True)

        rounds = []
        for _ in range(a.rounds):
            row = {}
            t = time.perf_counter()
            for _ in range(a.responses):
                bare()
            row["bare subprocess"] = (time.perf_counter() - t) / a.responses
            for name, prof in profiles.items():
                t = time.perf_counter()
                for _ in range(a.responses):
                    r = code.run_tests(PROGRAM, tests, sandbox=sandbox, profile=prof)
                    assert r["correct"], (name, r["reason"])
                row[name] = (time.perf_counter() - t) / a.responses
            rounds.append(row)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(f"{a.tests} tests per response, {a.responses} responses, median of {a.rounds} rounds")
    for k, v in med.items():
        print(f"  {k:16s} {1000 * v:7.1f} ms/response   x{v / med['no options']:.2f} of no options   "
              f"x{v / med['bare subprocess']:.2f} of bare")
    sandbox.close()


if __name__ == "__main__":
    main()
