"""Code: the program is the last code block of the solution section; it is run only inside the sandbox.

Test kinds (record field `tests`):
  {"inputs": [...], "outputs": [...]}             stdin/stdout (APPS, TACO, LiveCodeBench stdin)
  {"inputs": [...], "outputs": [...], "fn_name"}  call-based (APPS/TACO fn_name, LiveCodeBench functional,
                                                  `class Solution` methods); an input is a list of arguments
                                                  (APPS) or a string of one JSON value per line (LiveCodeBench)
  {"test": "<code>", "entry_point": "f"}          assertion tests (HumanEval `check(candidate)`, MBPP asserts)
Outputs are compared the way APPS and LiveCodeBench do: line by line ignoring surrounding whitespace, then
token by token with a float tolerance (integers exactly).

Verdicts are never decided where the program can reach: stdin/stdout and call-based tests here, on the
host, from the program's stdout or its return value as plain data; assertion tests in a second sandbox
that sees the program only through plain-data calls (skyt1.sandbox.judge_asserts).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache

from ..formatting import split_sections
from ..sandbox import Limits, RunResult, Sandbox, judge_asserts

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)\n?[ \t]*```", re.S)
_NUM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTLIT = re.compile(r"[+-]?\d+")
RTOL, ATOL = 1e-5, 1e-8  # numpy.allclose's defaults, as APPS uses


def extract_code(response: str) -> str | None:
    """The last fenced code block of the solution section (else of the whole response), or None."""
    if not response:
        return None
    sections = split_sections(response)
    for text in ([sections.solution, response] if sections.solution else [response]):
        blocks = _FENCE.findall(text)
        if blocks:
            code = blocks[-1][1]
            return code if code.strip() else None
    return None


# ------------------------------------------------------------------------------------------ comparison
def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL + RTOL * abs(b)


def _token_equal(got: str, exp: str) -> bool:
    if got == exp:
        return True
    if _INTLIT.fullmatch(got) and _INTLIT.fullmatch(exp):
        return int(got) == int(exp)  # big integers exactly, never through floats
    if _NUM.fullmatch(got) and _NUM.fullmatch(exp):
        return _close(float(got), float(exp))
    return False


def _lines(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    return lines


def stdout_matches(got: str, expected) -> bool:
    """APPS/LiveCodeBench-style comparison of a program's stdout with the expected output."""
    if isinstance(expected, list):
        expected = "\n".join(str(x) for x in expected)
    expected = str(expected)
    if _lines(got) == _lines(expected):
        return True
    g, e = got.split(), expected.split()
    return len(g) == len(e) and all(_token_equal(a, b) for a, b in zip(g, e))


def _decode_special(v):
    if isinstance(v, dict) and set(v) == {"__float__"}:
        return float(v["__float__"])
    return v


def values_match(got, expected) -> bool:
    """Call-based comparison: equal values, tuples as lists, floats with tolerance; APPS wraps the expected
    return value in a one-element list, so that form matches too."""
    got, expected = _decode_special(got), _decode_special(expected)
    if _values_equal(got, expected):
        return True
    if isinstance(expected, list) and len(expected) == 1 and _values_equal(got, expected[0]):
        return True
    return False


def _values_equal(a, b) -> bool:
    a, b = _decode_special(a), _decode_special(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or _close(float(a), float(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):  # tuples as lists, as APPS compares
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    return a == b


def _call_args(raw) -> list:
    if isinstance(raw, str):  # LiveCodeBench functional: one JSON value per line
        return [json.loads(line) for line in raw.split("\n") if line.strip()]
    if isinstance(raw, list):
        return raw
    return [raw]


def _call_expected(raw):
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


# ------------------------------------------------------------------------------------------ scoring
def _short(s: str, n: int = 80) -> str:
    s = repr(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def _failure(r: RunResult, lim: Limits) -> tuple[str, str]:
    """(category, detail) of a run that did not end normally."""
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    return {
        "wall_timeout": ("time limit", f"wall {lim.wall_s:g}s"),
        "cpu_timeout": ("time limit", f"cpu {lim.cpu_s:g}s"),
        "memory": ("memory limit", f"{lim.memory_mb} MB: {last}"),
        "output_limit": ("output limit", f"{lim.output_bytes} bytes"),
        "worker_died": ("sandbox worker died", f"{r.extra.get('why', '')}; the program may have killed it"),
        "no_result": ("no result", f"the program ended before the test finished {last}".strip()),
        "not_plain": ("not plain data", r.extra.get("why", "")),
        "check_failed": (r.extra.get("kind", "failed"), r.extra.get("detail", "")),
        "load_error": ("does not compile", r.stderr),
        "signal": ("killed", f"signal {-(r.exit_code or 0)}" + (" (file size limit)" if r.exit_code == -25 else "")),
        "error": ("runtime error", last or f"exit status {r.exit_code}"),
    }.get(r.status, (r.status, last))


@lru_cache(maxsize=4)
def _sandbox(limits: Limits) -> Sandbox:
    return Sandbox(limits)


def default_sandbox(limits: Limits | None = None) -> Sandbox:
    return _sandbox(limits or Limits())


def run_tests(program: str, tests: dict, *, sandbox: Sandbox | None = None, stop_on_failure: bool = True,
              starter_code: str | None = None) -> dict:
    """Run `program` against `tests` in one fresh sandbox; returns
    {"passed", "total", "correct", "reason", "results": [per-test dicts]}. For assertion tests the starter
    code (HumanEval's prompt: imports and the signature) goes first, as HumanEval runs prompt + completion;
    a full function in the program simply redefines the stub."""
    sandbox = sandbox or default_sandbox()
    lim = sandbox.limits
    results: list[dict] = []
    if "test" in tests:  # HumanEval / MBPP
        head = (starter_code.rstrip() + "\n") if starter_code and starter_code.strip() else ""
        cases = [("script", None, None)]
        # setup code (MBPP's test_setup_code builds inputs from the program's classes) runs after the
        # program, in its process; the tests reach what it built by name, as plain references
        code = "\n\n".join(x for x in (head + program, tests.get("setup") or "") if x.strip())
        checker_head = head
    else:
        inputs, outputs = list(tests.get("inputs") or []), list(tests.get("outputs") or [])
        if not inputs or len(inputs) != len(outputs):
            raise ValueError(f"tests need as many inputs as outputs (got {len(inputs)} and {len(outputs)})")
        fn_name = tests.get("fn_name")
        if not fn_name and tests.get("testtype") == "functional":
            names = re.findall(r"^\s*def\s+(\w+)\s*\(", starter_code or "", re.M)
            if not names:
                raise ValueError("functional tests without fn_name and without a starter function")
            fn_name = names[-1]
        mode = "call" if fn_name else "stdio"
        cases = [(mode, i, o) for i, o in zip(inputs, outputs)]
        code = program
    total = len(cases)
    if cases[0][0] == "script":
        # the tests run in their own sandbox and see the program only through plain-data calls
        entry = tests.get("entry_point")
        call_check = bool(entry) and entry != "check" and bool(re.search(r"^def\s+check\s*\(", tests["test"], re.M))
        r = judge_asserts(sandbox, code, tests["test"], starter=checker_head, entry_point=entry,
                          call_check=call_check)
        if r.status == "load_error":
            return {"passed": 0, "total": 1, "correct": False, "reason": f"does not compile: {r.stderr}",
                    "results": []}
        ok = r.ok and r.result == "pass"
        why = None if ok else _failure(r, lim)
        result = {"test": 1, "passed": ok, "status": r.status, "wall": r.wall, "cpu": r.cpu,
                  **({"reason": f"{why[0]}: {why[1]}"} if why else {})}
        return {"passed": int(ok), "total": 1, "correct": ok, "results": [result],
                "reason": None if ok else f"{why[0]}: test 1/1" + (f": {why[1]}" if why[1] else "")}
    with sandbox.session() as s:
        err = s.load(code)
        if err:
            return {"passed": 0, "total": total, "correct": False, "reason": f"does not compile: {err}",
                    "results": []}
        passed, reason = 0, None
        for idx, (mode, inp, out) in enumerate(cases, 1):
            if mode == "stdio":  # decided here from the program's stdout
                stdin = "\n".join(map(str, inp)) if isinstance(inp, list) else str(inp)
                r = s.run("stdio", stdin)
                ok = r.ok and stdout_matches(r.stdout, out)
                why = None if ok else (_failure(r, lim) if not r.ok else
                                       ("wrong answer", f"expected {_short(str(out).strip())}, got {_short(r.stdout.strip())}"))
            else:  # call: decided here from the returned plain data
                try:
                    args = _call_args(inp)
                except ValueError as e:
                    raise ValueError(f"test {idx}: input is not JSON lines: {e}") from e
                expected = _call_expected(out)
                r = s.run("call", fn_name=fn_name, args=args)
                ok = r.ok and r.has_result and values_match(r.result, expected)  # r.result: plain data only
                why = None if ok else (_failure(r, lim) if not r.ok else
                                       ("wrong answer", f"expected {_short(json.dumps(expected))}, got {_short(json.dumps(r.result))}"))
            results.append({"test": idx, "passed": ok, "status": r.status, "wall": r.wall, "cpu": r.cpu,
                            **({"reason": f"{why[0]}: {why[1]}"} if why else {})})
            if ok:
                passed += 1
            else:
                reason = reason or f"{why[0]}: test {idx}/{total}" + (f": {why[1]}" if why[1] else "")
                if stop_on_failure or r.status == "worker_died":
                    break
    return {"passed": passed, "total": total, "correct": passed == total, "reason": reason, "results": results}


def score(tests: dict, response: str, *, sandbox: Sandbox | None = None, starter_code: str | None = None,
          stop_on_failure: bool = True) -> dict:
    """{"predicted", "correct", "reason", "tests_passed", "tests_total"} for one response."""
    program = extract_code(response)
    if program is None:
        return {"predicted": None, "correct": False, "reason": "no code block in the solution",
                "tests_passed": 0, "tests_total": None}
    out = run_tests(program, tests, sandbox=sandbox, stop_on_failure=stop_on_failure,
                    starter_code=starter_code)
    return {"predicted": f"{out['passed']}/{out['total']} tests passed", "correct": out["correct"],
            "reason": out["reason"], "tests_passed": out["passed"], "tests_total": out["total"]}
