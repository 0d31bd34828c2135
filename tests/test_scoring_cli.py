import json
import subprocess
import sys
from pathlib import Path

from skyt1.cli import main


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_score_math_evaluate_output(tmp_path, capsys):
    rows = [{"id": "m/1", "gold": "5", "samples": [{"text": r"\boxed{5}"}, {"text": r"\boxed{6}"}]},
            {"id": "m/2", "gold": r"\frac12", "samples": [{"text": r"\boxed{0.5}"}, {"text": "no answer"}]}]
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--task", "math500", _write(tmp_path / "r.jsonl", rows), "--out", str(out), "--k", "1", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scorer"] == "math" and summary["samples"] == 4
    assert summary["accuracy"] == 50.0 and summary["pass@2"] == 100.0
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [s["correct"] for s in scored] == [True, False, True, False]


def test_score_code_with_items_and_choice(tmp_path, capsys):
    items = [{"id": "c/1", "source": "apps", "domain": "code", "question": "double", "answer": None,
              "tests": {"inputs": ["2\n", "5\n"], "outputs": ["4", "10"]}, "metadata": {}}]
    rows = [{"id": "c/1", "response": "```python\nprint(int(input()) * 2)\n```"},
            {"id": "c/1", "response": "```python\nprint(int(input()) + 2)\n```"}]
    # apps is a training source, not a declared benchmark: its scorer and evaluator are given
    assert main(["score", "--task", "apps", "--scorer", "code", "--evaluator", "apps", _write(tmp_path / "r.jsonl", rows),
                 "--items", _write(tmp_path / "items.jsonl", items), "--wall-s", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scorer"] == "code" and summary["accuracy"] == 50.0
    rows = [{"id": "g/1", "answer": "C", "text": "The answer is (C)"}, {"id": "g/2", "answer": "A", "text": "a"}]
    assert main(["score", "--task", "gpqa_diamond", _write(tmp_path / "g.jsonl", rows)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scorer"] == "choice" and summary["accuracy"] == 50.0


def test_score_command_is_installed_and_errors_are_one_line(tmp_path):
    bad = _write(tmp_path / "bad.jsonl", [{"id": "x"}])
    exe = str(Path(sys.executable).with_name("skyt1"))
    proc = subprocess.run([exe, "score", "--task", "math500", bad],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("skyt1 error:") and len(proc.stderr.strip().splitlines()) == 1


def test_score_reads_the_declared_scorer_and_refuses_an_undeclared_task(tmp_path, capsys):
    """The scorer comes from config/benchmarks/<task>.yaml or --scorer, never from the task's name."""
    rows = [{"id": "1", "response": "The answer is \\boxed{4}", "answer": "4"}]
    path = _write(tmp_path / "r.jsonl", rows)
    assert main(["score", "--task", "mmlu_like_name", path]) != 0
    err = capsys.readouterr().err
    assert "not a declared benchmark" in err and "--scorer" in err
    assert main(["score", "--task", "mmlu_like_name", "--scorer", "math", path]) == 0
    assert '"scorer": "math"' in capsys.readouterr().out
