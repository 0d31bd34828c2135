"""Benchmark declarations, the declared metric, intervals, verdicts and the loud-failure check."""
import random
from pathlib import Path

import pytest

from skyt1 import config as skyt1_config
from skyt1 import benchmarks
from skyt1.benchmarks import declare, declare_all, expand
from skyt1.core.errors import SkyT1Error
from skyt1.scoring import metrics, score_item
from skyt1.stages.evaluate import check_failure_shares, failure_counts

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", ["tiny", "sky-t1-32b"])
def test_every_benchmark_of_every_preset_declares_scorer_and_metric(preset):
    cfg = skyt1_config.resolve({"preset": preset}, REPO / "config")
    skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    decls = declare_all(cfg)
    assert set(decls) == set(cfg["benchmarks"])
    for name, b in decls.items():
        assert b.scorer in ("math", "choice", "code") and b.version
        assert b.scorer == cfg["benchmarks"][name]["scorer"]  # declared in the file, never guessed
    if preset == "tiny":
        assert decls["humaneval"].scorer == "code" and decls["humaneval"].metric == "pass@1"
        assert decls["gsm8k"].scorer == "math"


def test_declared_scorer_wins_over_the_name():
    # a benchmark named like a multiple-choice task but declared math is scored as math
    b = declare("mmlu_like_math", {"domain": "math", "adapter": "jsonl", "scorer": "math"})
    item = {"id": "x", "question": "q", "answer": "42", "domain": "science", "source": "mmlu_like_math",
            "tests": None, "metadata": {}}
    assert score_item(item, "so \\boxed{42}", scorer=b.scorer)["correct"]
    # with no declared scorer the record decides (no options: math), never the name
    assert score_item(item, "so \\boxed{42}")["correct"]
    assert not score_item(item, "so \\boxed{42}", scorer="choice")["correct"]  # a declared scorer is applied


def test_no_scorer_fallback():
    # Neither the adapter nor the name gives a scorer: an adapter whose records are maths (olmo_gsm8k) and a
    # name that is a paper benchmark's still need the declared scorer, and a code one its evaluator.
    with pytest.raises(SkyT1Error, match="benchmarks.gsm8k.scorer' is missing"):
        declare("gsm8k", {"domain": "math", "adapter": "olmo_gsm8k", "version": 1})
    with pytest.raises(SkyT1Error, match="benchmarks.humaneval.evaluator' is missing"):
        declare("humaneval", {"domain": "code", "adapter": "humaneval", "scorer": "code", "version": 1})
    cfg = skyt1_config.resolve({"preset": "tiny"}, REPO / "config")
    del cfg["benchmarks"]["gsm8k"]["scorer"]
    with pytest.raises(SkyT1Error, match="benchmarks.gsm8k"):
        skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    cfg = skyt1_config.resolve({"preset": "sky-t1-32b"}, REPO / "config")
    del cfg["train_sources"]["numina_math"]["scorer"]
    with pytest.raises(SkyT1Error, match="train_sources.numina_math"):
        skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    from skyt1 import settings
    cfg = skyt1_config.resolve({"preset": "tiny"}, REPO / "config")
    skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    args = settings._args("reject", cfg, {"source": "arith_code"})
    assert args["scorer"] == "code" and args["evaluator"]["name"] == "apps"  # as declared in the preset
    with pytest.raises(SkyT1Error, match="generation.n"):
        declare("mine", {"domain": "math", "adapter": "jsonl", "scorer": "math", "metric": "pass@8", "generation": {"n": 4}})


def test_user_template_and_generation_per_family():
    from skyt1.published import texts
    from skyt1.stages.evaluate import settings

    spec = {"domain": "math", "adapter": "jsonl", "scorer": "math", "user_template": "Q: {question}",
            "family_templates": {"sky": "{question} (sky)"}, "family_generation": {"sky": {"temperature": 0.7, "n": 8}}}
    declare("b", spec)  # the declaration takes these fields
    base = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 0}  # a validated eval.params: every key
    rec = {"question": "1+1?", "metadata": {}}
    params, tpl = settings(base, spec, "sky")
    assert texts.render(texts.Resolver().resolve_template(tpl, "t")[0], rec) == "1+1? (sky)"
    assert (params.n, params.temperature) == (8, 0.7)
    params, tpl = settings(base, spec, "other")
    assert texts.render(texts.Resolver().resolve_template(tpl, "t")[0], rec) == "Q: 1+1?"
    assert (params.n, params.temperature) == (1, 0.0)


def test_declared_metric_is_computed():
    per_item = [[True, False, False, False], [True, True, True, True], [False] * 4]
    acc = metrics.item_scores("accuracy", per_item)
    assert acc == [0.25, 1.0, 0.0]
    p2 = metrics.item_scores("pass@2", per_item)
    assert p2[0] == pytest.approx(1 - 3 / 6) and p2[1] == 1.0 and p2[2] == 0.0
    with pytest.raises(ValueError):
        metrics.item_scores("pass@8", per_item)


def test_exact_interval_matches_known_values():
    lo, hi = metrics.clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)
    lo, hi = metrics.clopper_pearson(5, 10)  # textbook: [0.187, 0.813]
    assert lo == pytest.approx(0.1871, abs=1e-4) and hi == pytest.approx(0.8129, abs=1e-4)
    lo, hi = metrics.clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10), abs=1e-9)
    ci = metrics.confidence_interval([1.0, 0.0, 1.0, 0.0], binary=True, seed=0)
    assert ci["method"].startswith("clopper-pearson") and ci["low"] < 50 < ci["high"]


def test_bootstrap_is_seeded_and_covers_the_mean():
    rng = random.Random(3)
    scores = [rng.random() for _ in range(40)]
    a = metrics.confidence_interval(scores, binary=False, seed=7)
    b = metrics.confidence_interval(scores, binary=False, seed=7)
    c = metrics.confidence_interval(scores, binary=False, seed=8)
    mean = 100 * sum(scores) / len(scores)
    assert a == b and a != c and a["low"] < mean < a["high"] and "bootstrap" in a["method"]


def test_verdict():
    assert metrics.verdict(43.3, 30.0, 45.0) == "reproduced"
    assert metrics.verdict(43.3, 30.0, 37.0) == "below"
    assert metrics.verdict(43.3, 44.0, 50.0) == "above"
    assert metrics.verdict(None, 0, 1) is None


def _rows(samples):
    return [{"samples": [s]} for s in samples]


def test_failure_counts_and_one_line_when_a_share_passes_its_limit():
    samples = [{"text": "", "finish_reason": "length", "predicted": None, "reason": "no code block"},
               {"text": "x", "finish_reason": "stop", "predicted": "0/1", "reason": "time limit: test 1/1: wall 10s"},
               {"text": "y", "finish_reason": "stop", "predicted": "1/1", "reason": None},
               {"text": "  ", "finish_reason": "stop", "predicted": None, "reason": None}]
    f = failure_counts(_rows(samples), "code")
    assert f["responses"] == 4
    assert f["counts"] == {"empty": 2, "max_tokens": 1, "no_answer": 2, "sandbox_timeout": 1}
    check_failure_shares("evaluate m/b", f, {"empty": 0.5, "max_tokens": 1.0, "no_answer": 1.0, "sandbox_timeout": 0.5})
    with pytest.raises(SkyT1Error) as e:
        check_failure_shares("evaluate m/b", f, {"empty": 0.25, "max_tokens": 1.0, "no_answer": 1.0,
                                                 "sandbox_timeout": 0.5})
    msg = str(e.value)
    assert "\n" not in msg and "2 of 4 responses are empty (50.0% > max_share.empty 25.0%)" in msg
    assert "time limit" not in str(failure_counts(_rows(samples), "math")["counts"])
    assert failure_counts(_rows(samples), "math")["counts"]["sandbox_timeout"] == 0


def test_schema_rejects_a_bad_metric_and_scorer(tmp_path):
    cfg = skyt1_config.resolve({"preset": "tiny", "benchmarks": {"gsm8k": {"metric": "f1"}}}, REPO / "config")
    with pytest.raises(SkyT1Error, match="benchmarks.gsm8k.metric"):
        skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    cfg = skyt1_config.resolve({"preset": "tiny", "benchmarks": {"gsm8k": {"scorer": "guess"}}}, REPO / "config")
    with pytest.raises(SkyT1Error, match="benchmarks.gsm8k.scorer"):
        skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")


def test_program_tasks_carry_a_test_that_the_sandbox_runs():
    from skyt1.data import load
    from skyt1.scoring import make_sandbox

    spec = {"adapter": "reasoning_gym_program", "domain": "code",
            "options": {"generator": "basic_arithmetic", "size": 2, "seed": 2, "min_terms": 2, "max_terms": 2,
                        "min_digits": 1, "max_digits": 1, "operators": ["+"]}}
    recs = load("prog", spec)
    assert recs[0]["question"].startswith("Write a Python program") and recs[0]["tests"]["outputs"] == [recs[0]["answer"]]
    task = recs[0]["metadata"]["task"]  # e.g. "Calculate 1 + 5."
    expr = task.removeprefix("Calculate ").rstrip(".")
    sandbox = make_sandbox()
    good = score_item(recs[0], f"```python\nprint({expr})\n```", sandbox=sandbox, scorer="code")
    bad = score_item(recs[0], f"```python\nprint({expr} + 1)\n```", sandbox=sandbox, scorer="code")
    assert good["correct"] and not bad["correct"] and bad["reason"].startswith("wrong answer")


def test_every_benchmark_file_is_a_valid_declaration():
    import jsonschema

    schema = skyt1_config.load_yaml(REPO / "config" / "schema.yaml")
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/benchmark"})
    files = benchmarks.names()
    assert len(files) >= 16
    for name in files:
        entry = benchmarks.load_file(name)
        errors = [e.message for e in validator.iter_errors(entry)]
        assert not errors, (name, errors)
        declare(name, entry)


def test_include_and_override(tmp_path):
    (tmp_path / "base.yaml").write_text("version: 1\nadapter: jsonl\nscorer: math\nmetric: accuracy\n"
                                        "options: {path: a.jsonl, split: test}\ngeneration: {n: 4, temperature: 0.7}\n")
    (tmp_path / "small.yaml").write_text("include: base\nversion: 2\nlimit: 5\noptions: {path: b.jsonl}\n")
    got = benchmarks.load_file("small", tmp_path)
    assert got == {"version": 2, "adapter": "jsonl", "scorer": "math", "metric": "accuracy", "limit": 5,
                   "options": {"path": "b.jsonl", "split": "test"}, "generation": {"n": 4, "temperature": 0.7}}
    # a preset names files; a mapping entry renames one (include) and overrides a key
    out = expand({"base": None, "tiny_b": {"include": "small", "generation": {"n": 1}}}, folder=tmp_path)
    assert out["base"] == benchmarks.load_file("base", tmp_path)
    assert out["tiny_b"]["generation"] == {"n": 1, "temperature": 0.7} and out["tiny_b"]["limit"] == 5
    # a layered file's entry overrides the preset's entry of that name; a list replaces the preset's
    assert expand({"tiny_b": {"limit": 2}}, out, folder=tmp_path)["tiny_b"]["options"]["path"] == "b.jsonl"
    assert list(expand(["base"], out, folder=tmp_path)) == ["base"]
    (tmp_path / "loop.yaml").write_text("include: loop\n")
    with pytest.raises(SkyT1Error, match="includes itself"):
        benchmarks.load_file("loop", tmp_path)


def test_the_preset_files_expand_to_the_livecodebench_variants():
    cfg = skyt1_config.resolve({"preset": "sky-t1-32b"}, REPO / "config")
    hard, easy = cfg["benchmarks"]["livecodebench_hard"], cfg["benchmarks"]["livecodebench_easy"]
    assert hard["options"] == {**easy["options"], "difficulty": "hard"} and hard["paper_name"] == "LCB-Hard"
    assert hard["user_template"]["parts"]["stdin"]["member"].endswith("livecodebench_hard.yaml")
    assert hard["user_template"]["parts"]["stdin"]["key"] == easy["user_template"]["parts"]["stdin"]["key"]


@pytest.mark.parametrize("section", [["math500", "nope"], {"nope": {"limit": 2}}, {"x": {"include": "nope"}}])
def test_an_unknown_benchmark_is_refused_in_one_line(section):
    with pytest.raises(SkyT1Error) as e:
        skyt1_config.resolve({"preset": "tiny", "benchmarks": section}, REPO / "config")
    msg = str(e.value)
    assert "\n" not in msg and "unknown benchmark 'nope'" in msg and "'math500_olmo'" in msg
