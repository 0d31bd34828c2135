"""The main table: paired gains over the base, honest verdicts, no-answer / truncation shares, the named
Math500 target, the plots; and the configs that drive them."""
import csv
import random

import pytest

from skyt1.core.errors import SkyT1Error
from skyt1.core.io import write_json, write_jsonl
from skyt1.scoring import metrics
from skyt1.stages import table

# ---------------------------------------------------------------- the paired interval

def test_paired_gain_is_the_mean_difference_seeded_and_paired():
    rng = random.Random(5)
    base = [float(rng.random() < 0.4) for _ in range(60)]
    # the student gets every item the base gets plus a few more: a consistent gain
    student = [1.0 if b or rng.random() < 0.3 else 0.0 for b in base]
    g = metrics.paired_gain(student, base, seed=3)
    assert g["gain"] == round(100 * (sum(student) - sum(base)) / 60, 2) and g["items"] == 60
    assert g == metrics.paired_gain(student, base, seed=3)  # seeded: same inputs, same interval
    assert g != metrics.paired_gain(student, base, seed=4)
    assert 0.0 < g["low"] <= g["gain"] <= g["high"]
    # Pairing matters: the two unpaired intervals overlap, the paired interval of the gain excludes 0.
    s_ci = metrics.bootstrap_interval(student, seed=3)
    b_ci = metrics.bootstrap_interval(base, seed=3)
    assert s_ci[0] < b_ci[1]
    # no change on any item -> a gain of exactly 0 with a zero-width interval
    z = metrics.paired_gain(base, base, seed=0)
    assert (z["gain"], z["low"], z["high"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same items"):
        metrics.paired_gain([1.0], [1.0, 0.0], seed=0)


# ---------------------------------------------------------------- the table on eval outputs

def _eval(tmp_path, label, display, bench, paper_name, correct, *, ids=None, n=1, no_answer=0.0, truncated=0.0):
    """An evaluate stage's two outputs for one model and benchmark, from per-item correctness lists."""
    ids = ids or [f"{bench}/{i}" for i in range(len(correct))]
    rows = [{"id": i, "samples": [{"correct": c} for c in (cs if isinstance(cs, list) else [cs])]}
            for i, cs in zip(ids, correct)]
    folder = tmp_path / "eval" / label
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / f"{bench}.jsonl", rows)
    scores = metrics.item_scores("accuracy", [[s["correct"] for s in r["samples"]] for r in rows])
    value = round(100 * sum(scores) / len(scores), 2)
    ci = metrics.confidence_interval(scores, binary=n == 1, seed=1)
    write_json(folder / f"{bench}.summary.json", {
        "benchmark": bench, "model": label, "model_display": display, "metric": "accuracy", "items": len(rows),
        "samples_per_item": n, "value": value, "ci95": ci, "paper_name": paper_name,
        "failures": {"shares": {"no_answer": no_answer, "max_tokens": truncated, "empty": 0.0}}})
    return str(folder / f"{bench}.summary.json"), str(folder / f"{bench}.jsonl")


def _run(tmp_path, evals, models, roles, pairs):
    sums, samples = zip(*evals)
    out_csv, out_md = tmp_path / "t.csv", tmp_path / "t.md"
    spec = table.Spec(models, "test", roles, pairs, {"seed": 11, "resamples": 1000},
                      paper_columns=["Sky-T1-32B-Preview", "Qwen2.5-32B-Instruct"])
    table.run(spec, table.Paths(tuple(sums), tuple(samples), csv=out_csv, md=out_md))
    with open(out_csv, newline="") as f:
        return list(csv.DictReader(f)), out_md.read_text(), out_csv.read_bytes()


def test_gain_with_paired_interval_and_verdict_for_the_papers_models(tmp_path):
    # AIME-like: 30 items; base gets 5 (16.7%), student gets those 5 plus 8 more (43.3%): the paper's gain
    base = [1] * 5 + [0] * 25
    student = [1] * 13 + [0] * 17
    evals = [_eval(tmp_path, "base", "Qwen2.5-32B-Instruct", "aime24", "AIME2024", base, no_answer=0.1, truncated=0.2),
             _eval(tmp_path, "sky", "Sky-T1-32B-Preview (this run)", "aime24", "AIME2024", student)]
    roles = {"base": {"paper_model": "Qwen2.5-32B-Instruct"}, "sky": {"paper_model": "Sky-T1-32B-Preview"}}
    rows, md, raw = _run(tmp_path, evals, ["base", "sky"], roles, [{"student": "sky", "base": "base"}])
    r = rows[0]
    pair = "Sky-T1-32B-Preview (this run) over Qwen2.5-32B-Instruct"
    assert float(r[f"gain: {pair}"]) == pytest.approx(26.67, abs=0.01)
    assert float(r[f"paper gain: {pair}"]) == pytest.approx(26.6)  # 43.3 - 16.7
    lo, hi = float(r[f"gain ci95 low: {pair}"]), float(r[f"gain ci95 high: {pair}"])
    assert 0 < lo < 26.6 < hi and r[f"paired items: {pair}"] == "30"
    assert r[f"gain verdict: {pair}"] == "reproduced"
    assert r["verdict: Qwen2.5-32B-Instruct"] in ("reproduced", "below", "above")
    assert (r["no answer %: Qwen2.5-32B-Instruct"], r["truncated %: Qwen2.5-32B-Instruct"]) == ("10.0", "20.0")
    assert f"| +26.67 [{float(lo):+.2f}, {float(hi):+.2f}] (n=30) | +26.60 | reproduced |" in md
    assert "| 10.0% / 20.0% |" in md
    assert "paired bootstrap over items (percentile, 1000 resamples, seed 11)" in md
    # byte-identical on a rerun (the bootstrap is seeded)
    assert _run(tmp_path, evals, ["base", "sky"], roles, [{"student": "sky", "base": "base"}])[2] == raw
    # a student no better than its base: the paper's gain lies above our interval
    flat = [_eval(tmp_path, "sky", "Sky-T1-32B-Preview (this run)", "aime24", "AIME2024", base), evals[0]]
    rows, _, _ = _run(tmp_path, flat, ["base", "sky"], roles, [{"student": "sky", "base": "base"}])
    assert rows[0][f"gain verdict: {pair}"] == "below" and float(rows[0][f"gain: {pair}"]) == 0.0


def test_stand_ins_get_no_verdict_and_say_what_they_are(tmp_path):
    evals = [_eval(tmp_path, "base", "SmolLM2-135M-Instruct", "math500", "Math500", [1, 0, 0, 0]),
             _eval(tmp_path, "sky", "Sky-T1 recipe on SmolLM2-135M", "math500", "Math500", [1, 1, 0, 0])]
    roles = {"base": {"stands_in_for": "Qwen2.5-32B-Instruct"}, "sky": {"stands_in_for": "Sky-T1-32B-Preview"}}
    rows, md, _ = _run(tmp_path, evals, ["base", "sky"], roles, [{"student": "sky", "base": "base"}])
    r = rows[0]
    assert r["verdict: SmolLM2-135M-Instruct"] == "none: stands in for Qwen2.5-32B-Instruct"
    assert r["verdict: Sky-T1 recipe on SmolLM2-135M"] == "none: stands in for Sky-T1-32B-Preview"
    pair = "Sky-T1 recipe on SmolLM2-135M over SmolLM2-135M-Instruct"
    assert float(r[f"gain: {pair}"]) == 25.0
    assert float(r[f"paper gain: {pair}"]) == 5.0  # 86.4 - 81.4, shown for reference
    assert r[f"gain verdict: {pair}"] == "none: stand-ins for Sky-T1-32B-Preview over Qwen2.5-32B-Instruct"
    for word in ("below", "above", "reproduced"):
        assert f"| {word} |" not in md
    assert "SmolLM2-135M-Instruct stands in for Qwen2.5-32B-Instruct" in md
    # the Math500 target is named, with the other source's number
    assert "86.4" in md and "82.4" in md and "README" in md
    assert "the post reports Sky-T1-32B-Preview 82.4" in r["paper_source"]


def test_gain_is_over_the_items_both_answered(tmp_path):
    evals = [_eval(tmp_path, "base", "B", "gsm8k", None, [0, 0, 0, 1], ids=["a", "b", "c", "d"]),
             _eval(tmp_path, "sky", "S", "gsm8k", None, [1, 1, 1], ids=["a", "b", "x"])]
    rows, _, _ = _run(tmp_path, evals, ["base", "sky"], {}, [{"student": "sky", "base": "base"}])
    r = rows[0]
    assert r["paired items: S over B"] == "2" and float(r["gain: S over B"]) == 100.0
    assert r["paper gain: S over B"] == "" and r["gain verdict: S over B"] == ""
    assert r["verdict: S"] == "none: not a paper model"


def test_unknown_gain_model_is_one_line(tmp_path):
    evals = [_eval(tmp_path, "base", "B", "gsm8k", None, [0, 1])]
    with pytest.raises(SkyT1Error, match="table.gains: student 'nope' is not a model of eval.models"):
        _run(tmp_path, evals, ["base"], {}, [{"student": "nope", "base": "base"}])


def test_plot_has_a_gain_panel_and_is_reproducible(tmp_path):
    evals = [_eval(tmp_path, "base", "Qwen2.5-32B-Instruct", "aime24", "AIME2024", [1] * 5 + [0] * 25),
             _eval(tmp_path, "sky", "Sky-T1-32B-Preview (this run)", "aime24", "AIME2024", [1] * 13 + [0] * 17)]
    sums, samples = map(list, zip(*evals))
    roles = {"base": {"paper_model": "Qwen2.5-32B-Instruct"}, "sky": {"paper_model": "Sky-T1-32B-Preview"}}
    with_gain, without = tmp_path / "g.png", tmp_path / "n.png"

    def plot(png, pairs):
        table.run_plot(table.Spec(["base", "sky"], "test", roles, pairs, {"seed": 1, "resamples": 2000}),
                       table.Paths(tuple(sums), tuple(samples), png=png), "aime24")

    plot(with_gain, [{"student": "sky", "base": "base"}])
    plot(without, [])
    from PIL import Image

    w_gain, w_plain = Image.open(with_gain).size[0], Image.open(without).size[0]
    assert w_gain > w_plain  # the second panel
    again = tmp_path / "g2.png"
    plot(again, [{"student": "sky", "base": "base"}])
    assert again.read_bytes() == with_gain.read_bytes()


# ---------------------------------------------------------------- the presets

def test_presets_declare_gains_and_only_real_models_get_verdicts():
    from skyt1.workflow.recipe import REPO, load_config

    tiny = load_config([])
    assert tiny["table"]["gains"] == [{"student": "sky-t1", "base": "base"}]
    assert all("paper_model" not in m and m.get("stands_in_for") for m in tiny["eval"]["models"].values())
    big = load_config([str(REPO / "config" / "sky-t1-32b.yaml")])
    assert {"student": "sky-t1", "base": "base"} in big["table"]["gains"]
    assert all(m.get("paper_model") for m in big["eval"]["models"].values())


def test_bad_gain_label_in_config_is_one_line(tmp_path):
    import yaml

    from skyt1.workflow.recipe import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preset": "tiny", "table": {"gains": [{"student": "sky", "base": "base"}]}}))
    with pytest.raises(SkyT1Error, match="config key 'table.gains.0.student': 'sky' is not a model"):
        load_config([str(bad)])


def test_recipe_shows_the_tables_settings(tmp_path, monkeypatch):
    from skyt1.workflow.recipe import REPO, effective, load_config

    monkeypatch.setenv("SKYT1_ARTIFACT_DIR", str(tmp_path))  # offline: texts are MISSING, values are there
    eff = effective(load_config([str(REPO / "config" / "sky-t1-32b.yaml")]), allow_missing=True)
    assert eff["table"]["gains"][0] == {"student": "sky-t1", "base": "base"}
    assert eff["table"]["paper_source"].startswith("SkyThought README")
    assert eff["eval"]["models"]["base"]["paper_model"] == "Qwen2.5-32B-Instruct"
    tiny = effective(load_config([]), allow_missing=True)
    assert tiny["eval"]["models"]["base"]["stands_in_for"] == "Qwen2.5-32B-Instruct"
