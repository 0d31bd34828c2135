"""Code: the program is the last code block of the solution section; it is run only inside the sandbox.

Test kinds (record field `tests`):
  {"inputs": [...], "outputs": [...]}             stdin/stdout (APPS, TACO, LiveCodeBench stdin)
  {"inputs": [...], "outputs": [...], "fn_name"}  call-based (APPS/TACO fn_name, LiveCodeBench functional,
                                                  `class Solution` methods); an input is a list of arguments
                                                  (APPS) or a string of one JSON value per line (LiveCodeBench)
  {"test": "<code>", "entry_point": "f"}          assertion tests (HumanEval `check(candidate)`, MBPP asserts)
Outputs are compared, and programs run, the way the record's official evaluator does: its profile
(skyt1.scoring.evaluators, config/evaluators/*.yaml) names the comparison rule, import preamble, limits and
exit handling; docs/judge.md lists every deliberate difference.

Verdicts are never decided where the program can reach: stdin/stdout and call-based tests here, on the
host, from the program's stdout or its return value as plain data; assertion tests in a second sandbox
that sees the program only through plain-data calls (skyt1.sandbox.judge_asserts).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from functools import lru_cache

from ..core.errors import SkyT1Error
from ..core.formatting import split_sections
from ..sandbox import Limits, RunResult, Sandbox, judge_asserts, plain
from .evaluators import Profile, from_value

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)\n?[ \t]*```", re.S)


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
# Each rule follows one official evaluator (config/evaluators/<profile>.yaml names the file and commit); the
# conformance cases in tests/test_conformance.py quote the lines. Every function here takes plain data only
# (str from stdout; values decoded by skyt1.sandbox.plain) and never raises on what a program produced:
# anything it cannot compare is unequal.
_INTLIT = re.compile(r"[+-]?\d+")
_FLOATLIT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.I)
APPS_TOL = {"rtol": 1e-5, "atol": 1e-8}  # np.allclose's defaults, which APPS calls


def _lcb_lines(text: str) -> list[str]:
    # LCB get_stripped_lines: `val = val.strip()`, then `[val_line.strip() for val_line in val.split("\n")]`
    return [ln.strip() for ln in text.strip().split("\n")]


def _decimals(line: str):
    # LCB convert_line_to_decimals: `[Decimal(elem) for elem in line.split()]`, any failure -> not numeric
    try:
        return [Decimal(x) for x in line.split()]
    except (ArithmeticError, ValueError, TypeError):
        return None


def _lcb_stdout(got: str, expected: str) -> bool:
    g, e = _lcb_lines(got), _lcb_lines(expected)
    if len(g) != len(e):  # "Wrong answer: mismatched output length"
        return False
    for a, b in zip(g, e):
        if a == b:  # CASE 1: exact match
            continue
        da, db = _decimals(a), _decimals(b)  # CASE 2: element-wise Decimal comparison, no tolerance
        if da is None or db is None:
            return False
        try:
            if da != db:
                return False
        except ArithmeticError:  # a signalling NaN raises on comparison: LCB's run ends in an error
            return False
    return True


def _int_norm(tok: str) -> str:
    """An integer literal's value as text (sign, no leading zeros), never through int() (Python refuses to
    parse more than 4300 digits) nor float (which loses digits past 2**53)."""
    neg = tok.startswith("-")
    digits = tok.lstrip("+-").lstrip("0") or "0"
    return ("-" if neg and digits != "0" else "") + digits


def _num_equal(got: str, exp: str, tol: dict | None, int_exact: bool, places: int | None = None) -> bool:
    """Two number tokens. An expected integer is matched exactly (as a Decimal, so "4.0" matches "4" and
    "124444444333.0" does not match "124444443333"); otherwise the profile's tolerance (np.allclose) or
    rounding (APPS's round(float(t), 3)) applies."""
    if int_exact and _INTLIT.fullmatch(exp):
        if _INTLIT.fullmatch(got):
            return _int_norm(got) == _int_norm(exp)
        try:
            return Decimal(got) == Decimal(exp)
        except ArithmeticError:
            return False
    try:
        a, b = float(got), float(exp)
    except (ValueError, OverflowError):
        return False
    if places is not None:
        try:
            return round(a, places) == round(b, places)
        except (OverflowError, ValueError):
            return a == b
    if tol is None:
        return a == b
    if math.isnan(a) or math.isnan(b):  # np.allclose(equal_nan=False)
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol["atol"] + tol["rtol"] * abs(b)


def _apps_stdout(got: str, expected: str, tol: dict | None, int_exact: bool) -> bool:
    """APPS run_test, standard input, in its order: custom_compare_ (the whole text stripped, or with every
    line stripped); the output's lines against the expected text split into stripped non-empty lines; every
    line one number (np.allclose); last, lines compared token by token with numbers rounded to 3 places.
    APPS's last check compares SETS of per-line token sets (order ignored); here the order counts."""
    if got.strip() == expected.strip():
        return True
    glines = [ln.strip() for ln in got.splitlines()]
    if "\n".join(glines).strip() == expected.strip():
        return True
    g = [ln for ln in glines if ln]
    e = [ln.strip() for ln in expected.split("\n") if ln.strip()]
    if g == e:
        return True
    if len(g) != len(e):
        return False
    if all(_FLOATLIT.fullmatch(x) for x in g + e):  # `output_float = [float(e) for e in output]` + np.allclose
        if all(_num_equal(a, b, tol, int_exact) for a, b in zip(g, e)):
            return True
    for a, b in zip(g, e):  # check 6, in order: `round(float(t), 3)` token by token
        ta, tb = a.split(), b.split()
        if len(ta) != len(tb):
            return False
        for x, y in zip(ta, tb):
            if x == y:
                continue
            if not (_FLOATLIT.fullmatch(x) and _FLOATLIT.fullmatch(y) and _num_equal(x, y, None, int_exact, places=3)):
                return False
    return True


def _taco_stdout(got: str, expected: str) -> bool:
    # TACO compare_std_results -> stripped_string_compare(exec_outputs, outputs): s1.strip() == s2.strip()
    return got.strip() == expected.strip()


def _sky_lcb_stdout(got: str, expected: str) -> bool:
    # SkyThought run_test_std: output.getvalue().strip() == test_output, where prepare_test_input_output_std
    # strips the expected output and cuts a trailing "-" (`test_output[: test_output.rfind("-")].rstrip()`)
    exp = expected.strip()
    if exp.endswith("-"):
        exp = exp[: exp.rfind("-")].rstrip()
    return got.strip() == exp


def stdout_matches(got: str, expected, profile: Profile | None = None) -> bool:
    """Whether a program's stdout matches the expected output under the profile's rule (default: APPS's)."""
    if isinstance(expected, list):  # APPS/TACO: `"\n".join(in_outs['outputs'][index])`
        expected = "\n".join(str(x) for x in expected)
    expected = str(expected)
    rule = (profile.stdout if profile else None) or "apps"
    if rule == "lcb":
        return _lcb_stdout(got, expected)
    if rule == "taco":
        return _taco_stdout(got, expected)
    if rule == "sky_lcb":
        return _sky_lcb_stdout(got, expected)
    tol = profile.float_tolerance if profile else APPS_TOL
    return _apps_stdout(got, expected, tol, profile.int_exact if profile else True)


def decode_expected(v):
    """Expected values only: {"__float__": "nan" | "inf" | "-inf" | number} stands for a float JSON cannot
    hold. A program's value is never decoded (a program returning that dict returned a dict)."""
    if type(v) is dict:
        if set(v) == {"__float__"}:
            try:
                return float(v["__float__"])
            except (TypeError, ValueError, OverflowError):
                return v
        return {k: decode_expected(x) for k, x in v.items()}
    if type(v) is list:
        return [decode_expected(x) for x in v]
    return v


def _eq(a, b) -> bool:
    """Python's == on plain data (builtin types only, so no program code runs); never raises."""
    try:
        return bool(a == b)
    except Exception:  # e.g. RecursionError on data nested past the interpreter's limit
        return False


def _int_keys(v):
    """APPS/TACO: `{int(k): v for k, v in ...items()}` inside try/except: the converted dict, or None when a
    key is not an int literal (the harness then leaves the value as it was)."""
    try:
        return {int(k): x for k, x in v.items()}
    except (TypeError, ValueError):
        return None


def apps_inputs(args: list) -> list:
    """APPS run_test / TACO process_input_output on a call's arguments: `if isinstance(inputs[0], dict):
    inputs = [{int(k): v for k, v in inputs[0].items()}]` (JSON forces string keys; this undoes it)."""
    if args and type(args[0]) is dict:
        conv = _int_keys(args[0])
        if conv is not None:
            return [conv]
    return args


def values_match(got, expected, profile: Profile | None = None) -> bool:
    """Call-based comparison of a returned plain value with the expected one, under the profile's rule."""
    expected = decode_expected(expected)
    rule = (profile.call if profile else None) or "apps"
    if rule == "eq":  # SkyThought run_test_func: `if result_output != test_output: return False`
        return _eq(got, expected)
    if type(got) is tuple:  # both: "don't penalize model if it produces tuples instead of lists" (top level)
        got = list(got)
    if rule == "lcb":  # LCB grade_call_based: `tmp_result = prediction == gt_out`
        return _eq(got, expected)
    # APPS run_test call-based (TACO execute_cb_code is the same): the expected dict (or the first element's)
    # gets int keys; then output == expected, or output == expected[0], or a list of tuples as lists == expected[0]
    if type(expected) is dict:
        conv = _int_keys(expected)
        expected = expected if conv is None else [conv]
    elif type(expected) is list and expected and type(expected[0]) is dict:
        conv = _int_keys(expected[0])
        expected = expected if conv is None else [conv]
    if _eq(got, expected):
        return True
    if type(expected) is list and expected:
        if _eq(got, expected[0]):
            return True
        if type(got) is list and got and type(got[0]) is tuple:
            return _eq([list(x) for x in got], expected[0])
    return False


def _json_kw(digits: int | None) -> dict:
    # ints in a record up to the profile's digit limit (LCB: 50,000; the host itself keeps Python's 4,300)
    return {"parse_int": plain.int_parser(digits)} if digits and digits > 4300 else {}


def _call_args(raw, digits: int | None = None) -> list:
    if isinstance(raw, str):  # LiveCodeBench functional: one JSON value per line
        return [json.loads(line, **_json_kw(digits)) for line in raw.split("\n") if line.strip()]
    if isinstance(raw, list):
        return raw
    return [raw]


def _call_expected(raw, digits: int | None = None):
    if isinstance(raw, str):
        try:
            return json.loads(raw, **_json_kw(digits))
        except ValueError:
            return raw
    return raw


def show(value, n: int = 80) -> str:
    """A short printable form of a plain value or text for a reason; never raises (a 5000-digit int cannot
    be printed under Python's digit limit, a lone surrogate cannot be written as UTF-8)."""
    try:
        s = value if isinstance(value, str) else repr(value)
        s = repr(s) if isinstance(value, str) else s
    except Exception as e:  # noqa: BLE001 - plain data only; an int too long to print
        s = f"<{type(value).__name__} that cannot be printed: {type(e).__name__}>"
    s = clean_text(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def clean_text(s: str) -> str:
    """Text safe to write as UTF-8 (lone surrogates become \\udcXX escapes)."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(s, str) else str(s)


# ------------------------------------------------------------------------------------------ scoring
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


def profile_for(tests: dict, profile=None) -> Profile | None:
    """The given profile (name, dict or Profile), else the one the record's test format comes from:
    LiveCodeBench's records carry `testtype`, assertion tests HumanEval's, the rest APPS's."""
    if profile is not None:
        return from_value(profile)
    if "test" in tests:
        return from_value("humaneval")
    return from_value("livecodebench" if tests.get("testtype") else "apps")


# The wall limit of a test whose profile declares none (HumanEval, MBPP: execution.py takes its timeout from
# the caller): CPU time is what bounds the program (the sandbox's cpu_s); the wall limit only catches a program
# that sleeps or blocks, so it is generous enough that a CPU-bound program is never cut off by a loaded machine.
NO_PROFILE_WALL_FACTOR = 4


def _test_limits(lim: Limits, profile: Profile | None, mode: str = "stdio") -> Limits:
    """The sandbox's run options for one test under the profile (docs/judge.md, "Which option implements which
    rule"): the official per-test wall limit (never looser than the sandbox's own) with CPU no higher; the
    preamble, run once in the worker, warm; recursion and int-digit limits; SystemExit swallowed (stdin
    programs) and non-daemon threads waited for where the harness does; stdin without newline translation
    where the harness keeps "\r\n"; and how a call finds its function."""
    if profile is None:
        return lim
    if profile.wall_s:
        wall = min(lim.wall_s, float(profile.wall_s))
        times = {"wall_s": wall, "cpu_s": min(lim.cpu_s, wall)}
    else:
        times = {"wall_s": max(lim.wall_s, NO_PROFILE_WALL_FACTOR * lim.cpu_s)}
    return lim.with_(
        **times,
        preamble=profile.preamble,
        recursion_limit=profile.recursion_limit or lim.recursion_limit,
        int_max_str_digits=profile.int_max_str_digits or lim.int_max_str_digits,
        system_exit_ok=profile.system_exit == "swallow" and mode == "stdio",
        wait_threads=profile.threads == "wait",
        keep_crlf=profile.crlf == "keep" and mode == "stdio",
        solution_lookup=profile.solution_lookup,
    )


def _judge_error(e: BaseException) -> tuple[str, str]:
    return ("judge error", clean_text(f"{type(e).__name__}: {e}")[:300])


def run_tests(program: str, tests: dict, *, sandbox: Sandbox | None = None, stop_on_failure: bool = True,
              starter_code: str | None = None, profile=None) -> dict:
    """Run `program` against `tests` in one fresh sandbox, the way `profile`'s official evaluator does
    (skyt1.scoring.evaluators; default: the record format's); returns
    {"passed", "total", "correct", "reason", "results": [per-test dicts]}. For assertion tests the starter
    code (HumanEval's prompt: imports and the signature) goes first, as HumanEval runs prompt + completion;
    a full function in the program simply redefines the stub. Whatever the program does or returns, a test
    ends as passed or failed with a reason; only a malformed record raises (SkyT1Error)."""
    sandbox = sandbox or default_sandbox()
    prof = profile_for(tests, profile)
    lim = sandbox.limits
    results: list[dict] = []
    if "test" in tests:  # HumanEval / MBPP
        head = (starter_code.rstrip() + "\n") if starter_code and starter_code.strip() else ""
        # setup code (MBPP's test_setup_code builds inputs from the program's classes) runs after the
        # program, in its process; the tests reach what it built by name, as plain references
        code = "\n\n".join(x for x in (head + program, tests.get("setup") or "") if x.strip())
        entry = tests.get("entry_point")
        call_check = bool(entry) and entry != "check" and bool(re.search(r"^def\s+check\s*\(", tests["test"], re.M))
        tlim = _test_limits(lim, prof, "asserts")
        try:
            r = judge_asserts(sandbox, code, tests["test"], starter=head, entry_point=entry,
                              call_check=call_check, limits=tlim)
        except SkyT1Error:
            raise
        except Exception as e:  # noqa: BLE001 - whatever the program made the judge see, a failed test
            r = None
            why = _judge_error(e)
        if r is not None and r.status == "load_error":
            return {"passed": 0, "total": 1, "correct": False, "reason": clean_text(f"does not compile: {r.stderr}"),
                    "results": []}
        ok = r is not None and r.ok and r.result == "pass"
        if r is not None:
            why = None if ok else _failure(r, tlim)
        result = {"test": 1, "passed": ok, "status": r.status if r else "judge_error",
                  "wall": r.wall if r else None, "cpu": r.cpu if r else None,
                  **({"reason": clean_text(f"{why[0]}: {why[1]}")} if why else {})}
        return {"passed": int(ok), "total": 1, "correct": ok, "results": [result],
                "reason": None if ok else clean_text(f"{why[0]}: test 1/1" + (f": {why[1]}" if why[1] else ""))}

    inputs, outputs = list(tests.get("inputs") or []), list(tests.get("outputs") or [])
    if not inputs or len(inputs) != len(outputs):
        raise SkyT1Error(f"tests need as many inputs as outputs (got {len(inputs)} and {len(outputs)})",
                         "fix the record's tests")
    if prof is not None and prof.tests == "private" and isinstance(tests.get("public"), int):
        inputs, outputs = inputs[tests["public"]:], outputs[tests["public"]:]  # e.g. SkyThought's LCB: private only
        if not inputs:
            raise SkyT1Error("the profile scores private tests only and the record has none", "use tests: all")
    fn_name = tests.get("fn_name")
    if not fn_name and tests.get("testtype") == "functional":
        names = re.findall(r"^\s*def\s+(\w+)\s*\(", starter_code or "", re.M)
        if not names:
            raise SkyT1Error("functional tests without fn_name and without a starter function",
                             "give the record fn_name or starter_code")
        fn_name = names[-1]
    mode = "call" if fn_name else "stdio"
    cases = list(zip(inputs, outputs))
    total = len(cases)
    tlim = _test_limits(lim, prof, mode)
    spent = 0.0
    with sandbox.session() as s:
        err = s.load(program)  # the program alone: a syntax error is "does not compile", as officially
        if err:
            return {"passed": 0, "total": total, "correct": False, "reason": clean_text(f"does not compile: {err}"),
                    "results": []}
        passed, reason = 0, None
        for idx, (inp, out) in enumerate(cases, 1):
            r = None
            try:
                if mode == "stdio":  # decided here from the program's stdout
                    stdin = "\n".join(map(str, inp)) if isinstance(inp, list) else str(inp)
                    r = s.run("stdio", stdin, limits=tlim)
                    ok = r.ok and stdout_matches(r.stdout, out, prof)
                    why = None if ok else (_failure(r, tlim) if not r.ok else
                                           ("wrong answer", f"expected {show(str(out).strip())}, got {show(r.stdout.strip())}"))
                else:  # call: decided here from the returned plain data
                    try:
                        args = _call_args(inp, tlim.int_max_str_digits)
                    except ValueError as e:
                        raise SkyT1Error(f"test {idx}: input is not JSON lines: {e}", "fix the record's tests") from e
                    expected = _call_expected(out, tlim.int_max_str_digits)
                    if prof is not None and prof.call == "apps":
                        args = apps_inputs(args)
                    r = s.run("call", fn_name=fn_name, args=args, limits=tlim)
                    ok = r.ok and r.has_result and values_match(r.result, expected, prof)  # plain data only
                    why = None if ok else (_failure(r, tlim) if not r.ok else
                                           ("wrong answer", f"expected {show(decode_expected(expected))}, got {show(r.result)}"))
            except SkyT1Error:
                raise
            except Exception as e:  # noqa: BLE001 - e.g. an overflowing complex on the result channel
                ok, why = False, _judge_error(e)
            if r is not None and r.wall is not None:
                spent += r.wall
            if ok and prof is not None and prof.problem_wall_s and spent > prof.problem_wall_s:
                ok, why = False, ("time limit", f"all tests together {spent:.1f}s > {prof.problem_wall_s:g}s")
            results.append({"test": idx, "passed": ok, "status": r.status if r is not None else "judge_error",
                            "wall": r.wall if r is not None else None, "cpu": r.cpu if r is not None else None,
                            **({"reason": clean_text(f"{why[0]}: {why[1]}")} if why else {})})
            if ok:
                passed += 1
            else:
                reason = reason or clean_text(f"{why[0]}: test {idx}/{total}" + (f": {why[1]}" if why[1] else ""))
                if stop_on_failure or r is None or r.status == "worker_died" or (why[1].startswith("all tests")):
                    break
    return {"passed": passed, "total": total, "correct": passed == total, "reason": reason, "results": results}


def score(tests: dict, response: str, *, sandbox: Sandbox | None = None, starter_code: str | None = None,
          stop_on_failure: bool = True, profile=None) -> dict:
    """{"predicted", "correct", "reason", "tests_passed", "tests_total"} for one response."""
    program = extract_code(response)
    if program is None:
        return {"predicted": None, "correct": False, "reason": "no code block in the solution",
                "tests_passed": 0, "tests_total": None}
    out = run_tests(program, tests, sandbox=sandbox, stop_on_failure=stop_on_failure,
                    starter_code=starter_code, profile=profile)
    return {"predicted": f"{out['passed']}/{out['total']} tests passed", "correct": out["correct"],
            "reason": out["reason"], "tests_passed": out["passed"], "tests_total": out["total"],
            **({"judge_error": True} if (out["reason"] or "").startswith("judge error") else {})}
