"""Checks the `official` column of tests/test_conformance.py by running the official evaluator files themselves
(not part of the suite: they are third-party files, fetched by you). Each case's program is our own fixed
`sys.stdout.write(<got>)` or `return <got>`; each runs in its own subprocess (the harnesses disable os functions).

  python tests/official_verdicts.py --lcb LCB_testing_util.py --apps APPS_testing_util.py --taco-dir DIR

LCB_testing_util.py: LiveCodeBench@8610ffb2e044 lcb_runner/evaluation/testing_util.py; APPS_testing_util.py:
SkyThought@0751518524a2 skythought/tools/util/apps/testing_util.py (hendrycks/apps's with a `problem` argument);
DIR: a folder holding SkyThought@0751518524a2 skythought/tools/util/taco/{testing_util.py,pyext2.py}.
Needs numpy. Last run (2026-12-05): 74 cases, 0 mismatches (it found the TACO CRLF case wrong before).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ONE = r'''
import json, sys, types
case = json.loads(sys.argv[1]); sys.path.insert(0, sys.argv[2])
kind, prof, got, exp = case["kind"], case["prof"], case["got"], case["exp"]
prog = ("import sys\nsys.stdout.write(%r)\n" % got) if kind == "stdout" else ("def f(*a):\n    return %s\n" % got)
io = {"inputs": ["\n"] if kind == "stdout" else [[1]], "outputs": [exp], **({"fn_name": "f"} if kind == "call" else {})}
if kind == "run":  # a whole program on a record's stdin tests
    prog, io = got, exp
if prof == "livecodebench":
    sys.set_int_max_str_digits(50000)  # as compute_code_generation_metrics.py, LCB's entry point, does at import
    import lcb_tu, signal
    signal.signal(signal.SIGALRM, lcb_tu.timeout_handler)
    res, _ = (lcb_tu.grade_call_based(prog, ["1"], [exp], "f", 6) if kind == "call"
              else lcb_tu.grade_stdio(prog, io["inputs"], io["outputs"], 6))
elif prof == "apps":
    pyext = types.ModuleType("pyext")
    class RuntimeModule:
        @staticmethod
        def from_string(name, doc, code):
            m = types.ModuleType(name, doc); exec(code, m.__dict__); return m
    pyext.RuntimeModule = RuntimeModule; sys.modules["pyext"] = pyext
    import apps_tu
    res = apps_tu.run_test(problem={"input_output": io}, test=prog)
else:
    import inspect; inspect.getargspec = inspect.getfullargspec  # pyext2 predates Python 3.11
    from tacopkg import testing_util as taco
    res = taco.run_test({"input_output": json.dumps(io)}, test=prog)
sys.__stdout__.write("PASS\n" if res == [True] else "FAIL\n")
'''


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lcb", required=True)
    ap.add_argument("--apps", required=True)
    ap.add_argument("--taco-dir", required=True)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import test_conformance as t

    with tempfile.TemporaryDirectory() as d:
        shutil.copy(a.lcb, Path(d) / "lcb_tu.py")
        shutil.copy(a.apps, Path(d) / "apps_tu.py")
        pkg = Path(d) / "tacopkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        for f in ("testing_util.py", "pyext2.py"):
            shutil.copy(Path(a.taco_dir) / f, pkg / f)
        (Path(d) / "one.py").write_text(ONE)
        n = bad = 0
        cases = [("stdout", c) for c in t.STDOUT] + [("call", c) for c in t.CALL]
        cases += [("run", (p, prog, tests, official, official, line)) for p, prog, tests, official, line in t.RUNS
                  if "DEVIATION" not in line]
        for kind, (prof, got, exp, official, _ours, line) in cases:
            if prof not in ("livecodebench", "apps", "taco"):
                continue
            case = {"kind": kind, "prof": prof, "got": repr(got) if kind == "call" else got, "exp": exp}
            out = subprocess.run([sys.executable, str(Path(d) / "one.py"), json.dumps(case), d],
                                 capture_output=True, text=True, timeout=120, cwd=d)
            verdict = (out.stdout.strip().splitlines() or ["ERROR " + out.stderr[-300:]])[-1]
            n += 1
            if verdict != ("PASS" if official else "FAIL"):
                bad += 1
                print(f"MISMATCH {kind} {prof} got={got!r:.40} expected={exp!r:.40}: official file says {verdict}, "
                      f"the case says {official} ({line})")
    print(f"{n} cases run through the official files, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
