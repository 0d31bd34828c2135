import json
import random
from pathlib import Path

import pytest

from skyt1.core import records
from skyt1.data.decontam import decontaminate, naive_contaminated, tokens
from skyt1.core.errors import SkyT1Error
from skyt1.core.io import read_jsonl, write_jsonl
from skyt1.stages import decontaminate as stage
from skyt1.config import fill_defaults, load_yaml

LONG = ("Let $x$ be a real number such that the quantity x squared plus three x equals ten and also y is twelve; "
        "find the sum of all possible values of x and y together.")


SCHEMA = load_yaml(Path(__file__).resolve().parents[1] / "config" / "schema.yaml")


def settings(over: dict) -> dict:
    """The validated `decontam:` settings: `over` with every other key from the schema's defaults."""
    cfg = dict(over)
    fill_defaults(cfg, {"$ref": "#/$defs/decontam"}, SCHEMA)
    return cfg


def rec(i, q, source="train", domain="math"):
    return records.make(id=f"{source}/{i}", source=source, domain=domain, question=q, answer="1")


def test_tokens_ignore_formatting_but_keep_operators():
    assert tokens(r"Find $\frac{a}{b}$ + 2, please!") == ["find", "frac", "a", "b", "+", "2", "please", "!"]
    assert tokens("45 + 7") != tokens("45 - 7")


def test_ngram_and_fuzzy_matches_with_report_fields():
    bench = [rec(0, "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^{20}.", "aime"),
             rec(1, "What is 2+2?", "gsm"), rec(2, LONG, "math500")]
    # every 4th word changed: no 8-gram survives, but the text is a near copy
    words = LONG.split()
    edited = " ".join(w + "s" if i % 4 == 3 else w for i, w in enumerate(words))
    train = [rec(0, "Find the number of ordered pairs of positive integers $(m,n)$ such that $m^2 n = 20^{20}$."),
             rec(1, "what is 2 + 2 ?"), rec(2, "What is 2+3?"), rec(3, edited),
             rec(4, "An unrelated question about triangles inscribed in circles, with enough words to have n-grams.")]
    keep, removed, stats = decontaminate(train, bench, settings({"ngram": 8, "fuzzy_threshold": 0.85}))
    assert keep == [False, False, True, False, True]
    by_id = {r["train_id"]: r for r in removed}
    assert by_id["train/0"]["method"] == "ngram" and by_id["train/0"]["benchmark_id"] == "aime/0"
    assert by_id["train/0"]["shared_ngrams"] >= 1 and 0 < by_id["train/0"]["ngram_overlap"] <= 1
    assert by_id["train/0"]["example_ngram"].count(" ") == 7
    assert by_id["train/1"]["method"] == "ngram" and by_id["train/1"]["ngram_overlap"] == 1.0  # short: whole text
    assert by_id["train/3"]["method"] == "fuzzy" and 0.85 <= by_id["train/3"]["similarity"] < 1
    assert by_id["train/3"]["benchmark"] == "math500"
    assert stats["removed_ngram"] == 2 and stats["removed_fuzzy"] == 1
    # without the fuzzy pass the spread-out edits slip through
    keep, _, _ = decontaminate(train, bench, settings({"fuzzy": False}))
    assert keep[3] is True


def test_n_is_configurable():
    bench = [rec(0, "one two three four five six seven eight nine ten", "b")]
    train = [rec(0, "zero one two three four five six x y z w")]  # shares a 6-gram, not a 7-gram
    assert decontaminate(train, bench, settings({"ngram": 6, "fuzzy": False}))[0] == [False]
    assert decontaminate(train, bench, settings({"ngram": 7, "fuzzy": False}))[0] == [True]
    with pytest.raises(SkyT1Error, match="ngram"):
        decontaminate(train, bench, settings({"ngram": 0}))


def test_agrees_with_the_naive_all_pairs_check():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(300)]

    def sentence(k):
        return " ".join(rng.choice(vocab) for _ in range(k))
    bench_q = [sentence(rng.randint(5, 40)) for _ in range(200)]
    train_q = []
    for i in range(300):
        kind = i % 4
        if kind == 0:
            train_q.append(sentence(rng.randint(5, 40)))
        elif kind == 1:  # embeds a slice of a benchmark question
            words = rng.choice(bench_q).split()
            train_q.append(sentence(5) + " " + " ".join(words[:9]) + " " + sentence(5))
        elif kind == 2:  # light edits
            words = rng.choice(bench_q).split()
            train_q.append(" ".join(w if rng.random() > 0.15 else rng.choice(vocab) for w in words))
        else:
            train_q.append(rng.choice(bench_q))
    train = [rec(i, q) for i, q in enumerate(train_q)]
    bench = [rec(i, q, "b") for i, q in enumerate(bench_q)]
    # the naive check has no document-frequency cap: compare with the cap off
    keep, _, _ = decontaminate(train, bench, settings({"fuzzy_max_df": 1000, "ngram_max_df": None}))
    naive = [not naive_contaminated(q, bench_q) for q in train_q]
    assert keep == naive
    assert 0 < sum(keep) < len(keep)


def test_stage_writes_cleaned_files_and_report(tmp_path):
    t1, t2, b = tmp_path / "t1.jsonl", tmp_path / "t2.jsonl", tmp_path / "b.jsonl"
    write_jsonl(t1, [rec(0, LONG, "s1"), rec(1, "A fresh question about prime numbers and their gaps in arithmetic progressions.", "s1")])
    write_jsonl(t2, [rec(0, "Yet another new training question about graphs and trees with many vertices.", "s2")])
    write_jsonl(b, [rec(0, LONG.upper(), "math500")])
    o1, o2, rep = tmp_path / "c" / "s1.jsonl", tmp_path / "c" / "s2.jsonl", tmp_path / "c" / "report.json"
    stage.run(stage.Spec(settings({"ngram": 8})), stage.Paths((str(t1), str(t2)), (str(b),), (str(o1), str(o2)), str(rep)))
    assert [r["id"] for r in read_jsonl(o1)] == ["s1/1"]
    assert [r["id"] for r in read_jsonl(o2)] == ["s2/0"]
    report = json.loads(rep.read_text())
    assert report["removed"] == 1 and report["removed_per_benchmark"] == {"math500": 1}
    item = report["removed_items"][0]
    assert item["train_id"] == "s1/0" and item["benchmark_id"] == "math500/0" and item["ngram_overlap"] == 1.0


def test_stage_stops_on_an_invalid_record_naming_file_line_field(tmp_path):
    t, b = tmp_path / "t.jsonl", tmp_path / "b.jsonl"
    good = rec(0, "q")
    bad = {**rec(1, "q2"), "domain": "poetry"}
    t.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    write_jsonl(b, [rec(0, "x", "b")])
    out = tmp_path / "out.jsonl"
    with pytest.raises(SkyT1Error) as exc:
        stage.run(stage.Spec(settings({})), stage.Paths((str(t),), (str(b),), (str(out),), str(tmp_path / "r.json")))
    assert f"{t}:3" in str(exc.value) and "'domain'" in str(exc.value)
    assert not out.exists()


def test_stage_refuses_to_overwrite_its_input(tmp_path):
    t = tmp_path / "t.jsonl"
    write_jsonl(t, [rec(0, "q")])
    with pytest.raises(SkyT1Error, match="overwrite"):
        stage.run(stage.Spec(settings({})), stage.Paths((str(t),), (str(t),), (str(t),), str(tmp_path / "r.json")))
# Codeforces' input sentence, as TACO and LiveCodeBench problems carry it word for word
BOILERPLATE = ("The first line contains a single integer t (1 <= t <= 10^4) - the number of test cases. "
               "The description of the test cases follows.")


def _story(rng, k=30):
    words = "grid tree graph array permutation string binary sum maximum query segment robot coin".split()
    return " ".join(f"{rng.choice(words)}{rng.randint(0, 999)}" for _ in range(k))


def _code(i, q, source):
    return records.make(id=f"{source}/{i}", source=source, domain="code", question=q,
                        tests={"inputs": ["1\n"], "outputs": ["1\n"]})


def test_boilerplate_overlap_stays_and_a_real_copy_goes(tmp_path):
    rng = random.Random(7)
    # 40 TACO problems share only the Codeforces sentence (with each other and with one LCB question)
    taco = [_code(i, f"{_story(rng)}. {BOILERPLATE} {_story(rng)}", "taco") for i in range(40)]
    lcb_boiler = _code(0, f"{_story(rng)}. {BOILERPLATE} Each test case has one line.", "livecodebench_easy")
    copied = _story(rng, 40)
    lcb_copied = _code(1, copied + " Print the answer modulo 998244353.", "livecodebench_medium")
    taco.append(_code(99, "You are given this problem. " + copied + " Print the answer modulo 998244353.", "taco"))
    # the word before the sentence is the same in one TACO problem and one LCB question: the 8-gram
    # "bitstring the first line contains ..." is rare, but it is boilerplate plus one word, not a copy
    taco.append(_code(98, f"{_story(rng)} bitstring {BOILERPLATE} {_story(rng)}", "taco"))
    lcb_boundary = _code(2, f"{_story(rng)} bitstring {BOILERPLATE} Output one line.", "livecodebench_hard")
    bench = [lcb_boiler, lcb_copied, lcb_boundary]
    keep, removed, stats = decontaminate(taco, bench, settings({"ngram_max_df": 10}))
    assert [r["train_id"] for r in removed] == ["taco/99"]  # the copy goes, the 41 boilerplate sharers stay
    assert removed[0]["benchmark_id"] == "livecodebench_medium/1" and removed[0]["method"] == "ngram"
    assert tokens(copied)[0] in removed[0]["shared_text"] and "test cases" not in removed[0]["shared_text"]
    assert stats["ngrams_ignored_as_common"] > 0
    boiler = " ".join(tokens(BOILERPLATE))
    top = stats["most_common_ignored"]
    assert top and all(c["documents"] == 43 and c["ngram"] in boiler for c in top)  # the boilerplate's grams
    assert top == sorted(top, key=lambda c: c["ngram"])  # ties in the count: by text, the same on every run
    # the same corpus without the cap removes every boilerplate sharer (the behaviour this replaces)
    keep_uncapped, _, _ = decontaminate(taco, bench, settings({"ngram_max_df": None, "fuzzy": False}))
    assert sum(not k for k in keep_uncapped) == 42
    # the stage reports per source, per benchmark and per pair, with the shared text
    t, b = tmp_path / "taco.jsonl", tmp_path / "lcb.jsonl"
    write_jsonl(t, taco)
    write_jsonl(b, bench)
    out, rep = tmp_path / "clean" / "taco.jsonl", tmp_path / "clean" / "report.json"
    stage.run(stage.Spec(settings({"ngram_max_df": 10})), stage.Paths((str(t),), (str(b),), (str(out),), str(rep)))
    report = json.loads(rep.read_text())
    assert len(read_jsonl(out)) == 41
    assert report["removed_per_source"] == {"taco": 1} and report["removed_per_benchmark"] == {"livecodebench_medium": 1}
    cell = report["removed_per_source_and_benchmark"]["taco"]["livecodebench_medium"]
    assert cell["removed"] == 1 and cell["examples"][0]["train_id"] == "taco/99"
    assert tokens(copied)[1] in cell["examples"][0]["shared"]


def test_identical_short_questions_are_never_boilerplate():
    bench = [rec(0, "What is 7 + 5?", "arith")]
    train = [rec(i, "What is 7 + 5?") for i in range(20)] + [rec(20, "What is 7 + 6?")]
    keep, _, _ = decontaminate(train, bench, settings({"ngram_max_df": 3, "fuzzy": False}))
    assert keep == [False] * 20 + [True]


def test_decontam_off_keeps_every_question_as_the_original(tmp_path):
    t, b = tmp_path / "t.jsonl", tmp_path / "b.jsonl"
    rows = [rec(0, LONG, "s1"), rec(1, "A fresh question about prime gaps.", "s1")]
    write_jsonl(t, rows)
    write_jsonl(b, [rec(0, LONG, "math500")])
    for off in (False, "off", {"enabled": False}):
        out, rep = tmp_path / "o.jsonl", tmp_path / "r.json"
        stage.run(stage.Spec(off), stage.Paths((str(t),), (str(b),), (str(out),), str(rep)))
        assert read_jsonl(out) == rows  # byte for byte the same records, the copy of LONG included
        report = json.loads(rep.read_text())
        assert report["enabled"] is False and report["removed"] == 0
