"""Hub adapters on fixtures in each dataset's real schema (tests/fixtures/hub), read through the same
adapter code as on the hub: only options.data_files differs."""
import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from skyt1 import data
from skyt1.core import records
from skyt1.data.common import parse_choices
from skyt1.data.lcb import decode_tests, encode_tests, safe_unpickle
from skyt1.core.errors import SkyT1Error

FX = Path(__file__).parent / "fixtures" / "hub"


def load(adapter, files, **options):
    if isinstance(files, dict):
        files = {k: str(FX / v) for k, v in files.items()}
    elif isinstance(files, list):
        files = [str(FX / f) for f in files]
    else:
        files = str(FX / files)
    recs = data.load(adapter, {"adapter": adapter, "options": {"data_files": files, **options}})
    records.check_all(recs, adapter)
    return recs


LABELS = FX / "labeled_numina_difficulty"


def test_numina_filters_by_source_and_the_preview_labels_with_the_release_bounds():
    # math: MATH's own level (3 < level < 10), looked up by the problem text; "Level 1" goes
    recs = load("numina", "numina_cot.parquet", source="math",
                labels={"data_files": str(FX / "math_lighteval.parquet"), "field": "level", "above": 3, "below": 10})
    assert [r["answer"] for r in recs] == ["3"]
    assert recs[0]["metadata"]["difficulty"] == 4.0 and recs[0]["metadata"]["numina_source"] == "math"
    amc = load("numina", "numina_cot.parquet", source="amc_aime",
               labels={"data_files": str(LABELS / "labeled_amc_aime_0_-1.json"), "above": 0, "below": 10})
    assert amc[0]["answer"] == r"\textbf{(A)}\ 30" and amc[0]["metadata"]["difficulty"] == 3.0
    olympiads = load("numina", "numina_cot.parquet", source="olympiads",
                     labels={"data_files": str(LABELS / "labeled_olympiads_0_-1.json"), "above": 8, "below": 10})
    assert [r["answer"] for r in olympiads] == ["44"]  # the proof has no \boxed{}: unusable, dropped
    assert olympiads[0]["metadata"]["difficulty"] == 8.5  # a fractional label inside the release's 8 < x < 10
    with pytest.raises(SkyT1Error, match="yielded no records"):  # the first olympiads row is the proof
        load("numina", "numina_cot.parquet", source="olympiads", head=1)


def test_a_fractional_label_follows_the_bounds_it_is_given():
    files = {"data_files": str(LABELS / "labeled_olympiads_0_-1.json")}
    # 5cf4c85's inclusive bounds with --math-difficulty-lower-bound 9 drop the 8.5 the release kept
    with pytest.raises(SkyT1Error, match="yielded no records"):
        load("numina", "numina_cot.parquet", source="olympiads", labels={**files, "min": 9, "max": 9})
    assert len(load("numina", "numina_cot.parquet", source="olympiads", labels={**files, "above": 8.5 - 1e-9})) == 1
    with pytest.raises(SkyT1Error, match="yielded no records"):  # strict: 8.5 is not above 8.5
        load("numina", "numina_cot.parquet", source="olympiads", labels={**files, "above": 8.5})
    with pytest.raises(SkyT1Error, match="no field 'gpt_difficulty_parsed'"):
        load("numina", "numina_cot.parquet", source="math", labels={"data_files": str(FX / "math_lighteval.parquet")})


def test_the_later_859k_labels_still_work_with_inclusive_bounds():
    recs = load("numina", "numina_cot.parquet", source="math",
                labels={"data_files": str(FX / "numina_difficulty.jsonl"), "min": 4, "max": 9})
    assert [r["answer"] for r in recs] == ["3"] and recs[0]["metadata"]["difficulty"] == 5.0


def test_label_files_have_the_published_fields():
    # label_math_difficulty.py (SkyThought@0751518) writes NuminaMath rows with messages "" and two label fields
    for f in LABELS.glob("labeled_*_0_-1.json"):
        rows = json.loads(f.read_text())
        assert isinstance(rows, list) and rows
        for r in rows:
            assert set(r) == {"source", "problem", "solution", "messages", "gpt_difficulty", "gpt_difficulty_parsed"}
            assert r["messages"] == "" and f.name == f"labeled_{r['source']}_0_-1.json"
            assert f"[[{r['gpt_difficulty_parsed']}]]" in r["gpt_difficulty"]


def test_a_malformed_code_row_is_dropped_counted_and_named(tmp_path):
    from skyt1.stages import data as data_stage

    spec = {"adapter": "taco", "options": {"data_files": str(FX / "taco_train.jsonl"), "difficulty": "MEDIUM"}}
    out, meta = tmp_path / "taco.jsonl", tmp_path / "taco.meta.json"
    data_stage.run(data_stage.Spec(spec), data_stage.Paths("taco", str(out), str(meta)))
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["taco/0", "taco/2"]
    dropped = json.loads(meta.read_text())["dropped"]
    assert dropped["rows"] == 1 and dropped["items"] == [{"row": "3", "reason": "input_output has 2 inputs but 1 outputs"}]
    assert dropped["by_reason"] == {"input_output has N inputs but N outputs": 1}


def test_apps_and_taco_tests_from_input_output():
    apps = load("apps", "apps_test.jsonl")
    assert [r["id"] for r in apps] == ["apps/4000", "apps/4001"]  # the row without tests is dropped
    assert data.dropped("apps") == [{"row": "4002", "reason": "no input_output tests"}]
    assert apps[0]["tests"] == {"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]}
    assert apps[1]["tests"]["fn_name"] == "rev" and apps[1]["metadata"]["starter_code"].startswith("class Solution")
    taco = load("taco", "taco_train.jsonl", difficulty="MEDIUM")
    assert len(taco) == 2 and all(r["metadata"]["difficulty"] == "MEDIUM" for r in taco)
    assert taco[1]["tests"] == {"inputs": [[2], [5]], "outputs": [4, 10], "fn_name": "double"}


def test_still2_keeps_science_and_puzzle():
    recs = load("still2", "still2.jsonl", domains=["puzzle", "physics", "chemistry", "biology"])
    assert [r["metadata"]["still2_domain"] for r in recs] == ["physics", "puzzle"]
    assert recs[0]["answer"] == r"2 \text{ s}"
    assert recs[1]["answer"] == "A is a knight and B is a knave."  # no box: the solution section
    assert all(r["domain"] == "science" for r in recs)


def test_math_benchmarks():
    m = load("hub_math500", "math500_test.jsonl")
    assert m[0]["answer"] == r"\left( 3, \frac{\pi}{2} \right)"  # the published row's `answer` column
    assert m[0]["id"] == "hub_math500/test/precalculus/807.json"
    aime = load("hub_aime", "aimo_validation_aime.jsonl", url_contains="2024")
    assert [(r["id"], r["answer"]) for r in aime] == [("hub_aime/60", "204")]
    amc = load("hub_aime", "aimo_validation_amc.jsonl", url_contains="2023")
    assert [r["answer"] for r in amc] == ["27", "0.75"]  # floats printed as the integers they are
    a25 = load("aime25", {"AIME2025-I": "aime2025_I.jsonl", "AIME2025-II": "aime2025_II.jsonl"},
               names=["AIME2025-I", "AIME2025-II"])
    assert [r["answer"] for r in a25] == ["70", "117"] and len({r["id"] for r in a25}) == 2
    minerva = load("minerva", "minerva_math.jsonl")
    assert [r["answer"] for r in minerva] == ["33.2"]
    ob = load("olympiadbench", "olympiadbench.jsonl")
    assert ob[0]["answer"] == "(6,3),(9,3),(9,5),(54,5)" and ob[0]["id"] == "olympiadbench/2231"
    gsm = load("gsm8k", "gsm8k_test.jsonl")
    assert [r["answer"] for r in gsm] == ["18", "1234"]


def test_multiple_choice_benchmarks():
    g1 = load("gpqa", "gpqa_diamond.csv", shuffle_seed=42)
    g2 = load("gpqa", "gpqa_diamond.csv", shuffle_seed=42)
    assert g1 == g2  # the shuffle is fixed by seed and record id
    for r in g1:
        letter = r["answer"]
        correct = r["metadata"]["choices"]["ABCD".index(letter)]
        assert correct in ("10^-4 eV", "Argon")  # stripped of the CSV's stray whitespace
        assert f"({letter}) {correct}" in r["question"]
    orders = {tuple(tuple(r["metadata"]["choices"]) for r in load("gpqa", "gpqa_diamond.csv", shuffle_seed=s))
              for s in range(6)}
    assert len(orders) > 1  # the seed matters
    mm = load("mmlu", "mmlu_all_test.jsonl")
    assert [r["answer"] for r in mm] == ["B", "B"] and "(D) 6" in mm[0]["question"]
    pro = load("mmlu_pro", "mmlu_pro_test.jsonl")
    assert pro[0]["answer"] == "I" and "(J) Serious" in pro[0]["question"]
    arc = load("arc", "ai2_arc_challenge.jsonl")
    assert [r["answer"] for r in arc] == ["C", "B"]  # numeric label '2' -> second choice


def test_stringified_choice_lists_are_parsed():
    assert parse_choices("['a', \"b's\", 'c']", "x") == ["a", "b's", "c"]
    assert parse_choices('["1", "2"]', "x") == ["1", "2"]
    with pytest.raises(SkyT1Error, match="not a list"):
        parse_choices("a, b", "x")


def test_code_benchmarks():
    lcb = load("livecodebench", ["lcb_test.jsonl", "lcb_test2.jsonl"])
    assert [r["metadata"]["difficulty"] for r in lcb] == ["easy", "medium", "hard"]
    easy = lcb[0]["tests"]
    assert easy["inputs"] == ["1 2\n", "5 5\n", "0 0\n"] and easy["public"] == 1 and easy["testtype"] == "stdin"
    medium = lcb[1]
    assert medium["tests"]["fn_name"] == "twoSum" and medium["tests"]["testtype"] == "functional"
    assert medium["metadata"]["starter_code"].startswith("class Solution")
    only_hard = load("livecodebench", ["lcb_test.jsonl", "lcb_test2.jsonl"], difficulty="hard")
    assert [r["id"] for r in only_hard] == ["livecodebench/1900F"] and only_hard[0]["tests"]["outputs"] == ["6\n", "24\n"]
    he = load("humaneval", "openai_humaneval.jsonl")
    assert he[0]["tests"] == {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}
    mb = load("mbpp", "mbpp_full_test.jsonl")
    assert mb[0]["tests"]["entry_point"] == "remove_Occ" and mb[0]["question"].endswith('== "heo"')


def test_livecodebench_version_names_the_repository_files(monkeypatch):
    seen = {}

    def fake(name, options):
        seen.update(options)
        return []
    monkeypatch.setattr("skyt1.data.hub.load_rows", fake)
    with pytest.raises(SkyT1Error, match="yielded no records"):
        data.load("lcb", {"adapter": "livecodebench", "options": {"repo": "livecodebench/code_generation_lite",
                                                                  "version": "release_v2"}})
    assert seen["files"] == ["test.jsonl", "test2.jsonl"]


def test_hub_unreachable_is_one_line_with_a_fix():
    with pytest.raises(SkyT1Error) as exc:
        data.load("x", {"adapter": "gsm8k", "options": {"repo": "openai/gsm8k", "name": "main", "split": "test"}})
    assert "fix:" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(SkyT1Error, match="does not exist"):
        data.load("x", {"adapter": "gsm8k", "options": {"data_files": "/nonexistent/file.jsonl"}})


# ------------------------------------------------------------------ LiveCodeBench decoding safety

class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _wrap(payload: bytes) -> str:
    return base64.b64encode(zlib.compress(payload)).decode()


def test_lcb_round_trip_of_the_hub_encoding():
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_tests(encode_tests(tests)) == tests
    assert decode_tests(json.dumps(tests)) == tests


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_lcb_payload_that_calls_code_is_refused(tmp_path, protocol):
    target = tmp_path / "pwned"
    raw = _wrap(pickle.dumps([_Evil(target)], protocol=protocol))
    with pytest.raises(SkyT1Error) as exc:
        decode_tests(raw, "lcb item 7")
    msg = str(exc.value)
    assert "lcb item 7" in msg and "refused" in msg
    assert ("GLOBAL" in msg or "posix" in msg or "system" in msg)
    assert not target.exists()


def test_lcb_unpickler_refuses_globals_even_without_the_opcode_check(tmp_path):
    import io

    from skyt1.data.lcb import _DataOnlyUnpickler
    target = tmp_path / "pwned"
    with pytest.raises(SkyT1Error, match="tries to import"):
        _DataOnlyUnpickler(io.BytesIO(pickle.dumps(_Evil(target)))).load()
    assert not target.exists()


def test_lcb_plain_objects_and_garbage():
    assert safe_unpickle(pickle.dumps({"a": [1, 2.5, None, True, b"x", (1,), {3}]})) == \
        {"a": [1, 2.5, None, True, b"x", (1,), {3}]}
    with pytest.raises(SkyT1Error, match="neither JSON nor base64"):
        decode_tests("not base64 at all!!")
    with pytest.raises(SkyT1Error, match="not zlib"):
        decode_tests(base64.b64encode(b"plain bytes").decode())
    with pytest.raises(SkyT1Error, match="list of"):
        decode_tests(_wrap(pickle.dumps(json.dumps({"input": 1}))))


def test_math500_gold_is_the_answer_column_not_the_last_box(tmp_path):
    # A made-up row (not a fixture of the real set) whose solution boxes an intermediate value last:
    # SkyThought grades against `answer`, so must we.
    row = {"problem": "p", "solution": "So $x=\\boxed{4}$, and the answer is $\\boxed{x^2}$ at $x=4$.",
           "answer": "16", "subject": "Algebra", "level": 1, "unique_id": "test/algebra/0.json"}
    f = tmp_path / "m.jsonl"
    f.write_text(json.dumps(row) + "\n")
    recs = data.load("m", {"adapter": "hub_math500", "options": {"data_files": str(f)}})
    assert recs[0]["answer"] == "16" and recs[0]["metadata"]["solution_boxed"] == "x^2"
    f.write_text(json.dumps({**row, "answer": " "}) + "\n")
    with pytest.raises(SkyT1Error, match="no `answer`"):
        data.load("m", {"adapter": "hub_math500", "options": {"data_files": str(f)}})
