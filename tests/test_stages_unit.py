"""Stage logic on small in-memory data (the real pipeline is exercised in test_pipeline.py)."""
import json

import pytest

from skyt1.errors import SkyT1Error
from skyt1.formatting import assemble
from skyt1.generation import Completion, Params
from skyt1.generation.run import Partial, partial_path, run_items
from skyt1.io import atomic_path, read_jsonl, write_jsonl
from skyt1.stages import mix, reject, table


def row(i, question, domain="math", answer="1", rewritten=None, source="s"):
    return {"id": f"{source}/{i}", "source": source, "domain": domain, "question": question, "answer": answer,
            "tests": None, "metadata": {}, "rewritten": rewritten or assemble("t", rf"\boxed{{{answer}}}")}


def test_reject_reasons():
    ok = row(0, "q", answer="2", rewritten=assemble("1+1", r"\boxed{2}"))
    wrong = row(1, "q", answer="2", rewritten=assemble("1+1", r"\boxed{3}"))
    unformatted = row(2, "q", answer="2", rewritten=r"\boxed{2}")
    assert reject.judge(ok)["accepted"]
    assert reject.judge(wrong)["reason"].startswith("wrong answer")
    assert reject.judge(unformatted)["reason"] == "format: no thought section"
    assert reject.judge(unformatted, require_format=False)["accepted"]
    with pytest.raises(SkyT1Error, match="sandbox"):
        reject.judge(row(3, "q", domain="code", answer=None))


def test_mix_dedupes_applies_quotas_and_is_seeded(tmp_path):
    rows = [row(i, f"Question {i}") for i in range(10)] + [row(99, "  question 3 ")]  # normalized duplicate
    rows += [row(i, f"sci {i}", domain="science", source="t") for i in range(4)]
    src = tmp_path / "a.jsonl"
    write_jsonl(src, rows)
    cfg = {"dataset_name": "sky_t1", "system_prompt": "SYS", "quotas": {"math": 6, "science": 2}, "min_rows": 1}
    outs = []
    for k in range(2):
        d = tmp_path / f"run{k}"
        mix.run([str(src)], d / "sky_t1.json", d / "dataset_info.json", d / "report.json", cfg, seed=7)
        outs.append(json.loads((d / "sky_t1.json").read_text()))
    assert outs[0] == outs[1]
    report = json.loads((tmp_path / "run0" / "report.json").read_text())
    assert report["duplicates_removed"] == 1
    assert report["per_domain"] == {"math": 6, "science": 2}
    first = outs[0][0]
    assert first["system"] == "SYS" and [t["from"] for t in first["conversations"]] == ["user", "assistant"]
    info = json.loads((tmp_path / "run0" / "dataset_info.json").read_text())
    assert info["sky_t1"]["file_name"] == "sky_t1.json" and info["sky_t1"]["formatting"] == "sharegpt"


def test_mix_refuses_too_few_rows(tmp_path):
    src = tmp_path / "a.jsonl"
    write_jsonl(src, [row(0, "q")])
    cfg = {"dataset_name": "x", "system_prompt": "S", "quotas": {"math": 5}, "min_rows": 3}
    with pytest.raises(SkyT1Error, match="only 1 accepted rows"):
        mix.run([str(src)], tmp_path / "x.json", tmp_path / "i.json", tmp_path / "r.json", cfg, seed=0)
    assert not (tmp_path / "x.json").exists()


def test_table_rows_intervals_verdicts_and_paper_columns(tmp_path):
    summaries = [{"benchmark": b, "model": m, "model_display": m.upper(), "metric": "accuracy", "items": 4,
                  "samples_per_item": 1, "value": acc, "ci95": {"low": acc - 20, "high": acc + 20, "method": "x"},
                  "paper_name": pn, "failures": {"shares": {"no_answer": 0.25, "max_tokens": 0.5}}}
                 for b, pn in (("math500", "Math500"), ("gsm8k", "GSM8K"))
                 for m, acc in (("base", 25.0), ("sky", 70.0))]
    roles = {"base": {"paper_model": "Qwen2.5-32B-Instruct"}, "sky": {"paper_model": "Sky-T1-32B-Preview"}}
    header, rows = table.build(summaries, ["base", "sky"], ["Sky-T1-32B-Preview", "o1-preview"], roles)
    assert header[5:17] == ["ours: BASE", "ci95 low: BASE", "ci95 high: BASE", "verdict: BASE", "no answer %: BASE",
                            "truncated %: BASE", "ours: SKY", "ci95 low: SKY", "ci95 high: SKY", "verdict: SKY",
                            "no answer %: SKY", "truncated %: SKY"]
    assert header[17:] == ["paper: Sky-T1-32B-Preview", "paper: o1-preview", "paper_source"]
    # Math500 base: 81.4 lies above [5, 45] -> below; sky: 86.4 lies inside [50, 90] -> reproduced
    assert rows[0][:17] == ["math500", "Math500", "accuracy", 4, 1, 25.0, 5.0, 45.0, "below", 25.0, 50.0,
                            70.0, 50.0, 90.0, "reproduced", 25.0, 50.0]
    assert rows[0][17:19] == [86.4, 81.4] and "82.4" in rows[0][19]
    assert rows[1][17:] == ["", "", ""]  # the paper reports no GSM8K number
    assert rows[1][8] == "" and rows[1][14] == ""  # nor a verdict
    md = table.to_markdown(header, rows)
    assert "| 25.00 [5.00, 45.00] | below | 25.0% / 50.0% |" in md and "ours: SKY (95% CI) | verdict: SKY" in md


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


class CrashingBackend:
    """A fault injector, not a model: returns canned text and dies after `crash_after` items,
    the way a killed job would, to check item-level resume."""
    name = "fault-injector"

    def __init__(self, crash_after=None):
        self.crash_after = crash_after
        self.calls = 0

    def generate(self, conversations, params, on_done):
        for i, conv in enumerate(conversations):
            if self.crash_after is not None and self.calls >= self.crash_after:
                raise KeyboardInterrupt("injected crash")
            self.calls += 1
            on_done(i, Completion([conv[-1]["content"].upper()], ["stop"], 1, 1))

    def close(self):
        pass


def test_resume_generates_only_missing_items(tmp_path):
    keys = [f"k{i}" for i in range(6)]
    convs = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
    out = tmp_path / "o.jsonl"
    first = CrashingBackend(crash_after=4)
    with pytest.raises(KeyboardInterrupt):
        run_items(keys, convs, lambda: first, Params(), Partial(out, "fp"))
    assert len(read_jsonl(partial_path(out))) == 1 + 4  # header + finished items
    second = CrashingBackend()
    results, stats = run_items(keys, convs, lambda: second, Params(), Partial(out, "fp"))
    assert second.calls == 2 and stats["resumed"] == 4
    assert [results[k].texts[0] for k in keys] == [f"Q{i}" for i in range(6)]
    third = CrashingBackend()
    _, stats = run_items(keys, convs, lambda: third, Params(), Partial(out, "other settings"))
    assert third.calls == 6 and stats["resumed"] == 0
