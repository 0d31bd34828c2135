"""The cluster side of the 32B preset, as far as it can be checked on a machine without conda, GPUs or
a hub: the Slurm profile's keys, the environment each rule runs in, what the Slurm executor plugin
submits for the GPU jobs, and which jobs stay on the login node. docs/cluster-32b.md lists what is
tested here and what is still on paper."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO

from skyt1 import config as skyt1_config

# Snakemake dry runs or a model-serving engine: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

PRESET_32B = REPO / "config" / "sky-t1-32b.yaml"


def load_workflow(tmp_path, configfiles=()):
    """The Snakefile parsed by Snakemake's own API (rules, their conda directives, localrules)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    api = SnakemakeApi(OutputSettings()).__enter__()
    wapi = api.workflow(resource_settings=ResourceSettings(cores=1),
                        config_settings=ConfigSettings(configfiles=[Path(f) for f in configfiles]),
                        storage_settings=StorageSettings(), snakefile=REPO / "Snakefile", workdir=tmp_path)
    return wapi._workflow


@pytest.fixture
def wf32(tmp_path):
    # one workflow at a time: the Snakefile's functions read the config of the last one parsed
    return load_workflow(tmp_path, [PRESET_32B])


@pytest.fixture
def wf_tiny(tmp_path):
    return load_workflow(tmp_path)


def env_of(wf, rule, **wildcards):
    env = wf.get_rule(rule).conda_env
    if callable(env):
        env = env(SimpleNamespace(**wildcards))
    return env and str((REPO / "rules" / env).resolve().relative_to(REPO))


# ------------------------------------------------------------------ 1. conda on Slurm, never locally

def test_slurm_profile_turns_conda_on_and_the_local_profile_does_not():
    slurm = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    local = yaml.safe_load((REPO / "profiles/local/config.yaml").read_text())
    assert slurm["executor"] == "slurm" and slurm["software-deployment-method"] == "conda"
    assert not any(k in local for k in ("software-deployment-method", "sdm", "use-conda", "deployment-method"))


def check_envs(wf, engine_env, rewrite_env):
    """A generation job owns its engine (docs/cluster.md), so it runs in the engine's env; the rewriter on
    an external API is a plain client in the pipeline's."""
    want = {"train": "envs/train.yaml", "all": None, "sample": engine_env, "evaluate": engine_env,
            "rewrite": rewrite_env}
    for rule in wf.rules:
        assert env_of(wf, rule.name) == want.get(rule.name, "envs/pipeline.yaml"), rule.name


def test_every_rule_of_the_32b_preset_runs_in_its_env_file(wf32):
    check_envs(wf32, "envs/vllm.yaml", "envs/pipeline.yaml")  # vLLM's server; the rewriter is gpt-4o-mini


def test_every_rule_of_the_tiny_preset_runs_in_its_env_file(wf_tiny):
    check_envs(wf_tiny, "envs/engine-cpu.yaml", "envs/engine-cpu.yaml")  # the CPU engine server


def conda_deps(kind):
    doc = yaml.safe_load((REPO / "envs" / f"{kind}.yaml").read_text())
    plain = [d for d in doc["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    return plain, pip


# ------------------------------------------------------------------ 2, 3. pins

def test_vllm_and_its_torch_are_pinned():
    _, pip = conda_deps("vllm")
    pins = {re.split(r"[=<>!~\[]", p)[0]: p for p in pip}
    assert pins["vllm"] == "vllm==0.34.0" and pins["torch"] == "torch==2.14.0"  # the torch its wheel pins
    text = (REPO / "envs/vllm.yaml").read_text()
    assert "79ca4b3c" in text and "cuda-toolkit" in text  # the wheels the pins were read from


def test_train_env_has_compilers_for_torchs_cuda():
    plain, pip = conda_deps("train")
    assert "torch==2.13.0" in pip
    # torch 2.13.0's PyPI linux wheel requires cuda-toolkit==13.0.3: nvcc of the same CUDA 13.0
    assert "cuda-version=13.0" in plain and any(d.startswith("cuda-nvcc=13.0.") for d in plain)
    assert "cxx-compiler" in plain and "ninja" in plain  # what DeepSpeed's CPU-Adam JIT build runs


# ------------------------------------------------------------------ 4. GPUs on one node

def dry_run_32b(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table_main.csv", "--profile", "slurm",
                           "--sdm", "env-modules", "--cores", "1024", "-d", str(tmp_path),
                           "--configfile", str(PRESET_32B)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = re.split(r"^\s*rule (\w+):$", proc.stdout, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def submit_command(rule, body):
    """What snakemake-executor-plugin-slurm (the installed 2.8.0) turns this job's resources into."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    raw = dict(re.findall(r"(\w+)=([^,\n]+)", body.split("resources:")[1].splitlines()[0]))
    res = {k: int(v) if v.isdigit() else v for k, v in raw.items() if "<TBD>" not in v}
    threads = int((re.findall(r"threads: (\d+)", body) or ["1"])[0])
    job = SimpleNamespace(resources=SimpleNamespace(get=res.get, **res), threads=threads, name=rule)
    params = {"run_uuid": "x", "slurm_logfile": "x.log", "comment_str": rule, "account": "", "partition": "",
              "workdir": "/w"}
    return get_submit_command(job, params) + set_gres_string(job)


def test_8_gpu_jobs_ask_for_one_node(tmp_path):
    cmds = {}
    for rule, body in dry_run_32b(tmp_path):
        cmds.setdefault(rule, submit_command(rule, body))
    # the training and every job that starts a vLLM engine (sample, evaluate: docs/cluster.md)
    for rule in ("train", "sample", "evaluate"):
        assert "--gpus=8" in cmds[rule] and "--nodes=1" in cmds[rule], cmds[rule]
    for rule in ("data_train", "reject", "mix", "table_main"):
        assert "--gpus" not in cmds[rule], cmds[rule]


# ------------------------------------------------------------------ 7. the internet from the login node

def local_on_a_cluster(wf):
    """The rules Snakemake runs in its own process (the login node) under a cluster executor: its own
    Workflow.is_local, asked as it is under the Slurm plugin (local_exec False). A dry run cannot show
    it: snakemake 9.27.1 prints no "localrule" in dry runs (jobs.py, Job.log_info)."""
    from unittest.mock import patch

    with patch.object(type(wf), "local_exec", new=property(lambda self: False)):
        return {r.name for r in wf.rules if wf.is_local(r)}


# `all` runs nothing; lineage_graphs draws the report's graphs (localrule: True in rules/lineage.smk)
ALWAYS_LOCAL = {"all", "lineage_graphs"}


def test_hub_and_api_jobs_run_on_the_login_node(wf32):
    assert local_on_a_cluster(wf32) == ALWAYS_LOCAL | {"prepare_model", "data_train", "data_bench", "rewrite"}


def test_a_preset_without_hub_or_api_submits_every_job(wf_tiny):
    assert local_on_a_cluster(wf_tiny) == ALWAYS_LOCAL


def test_smoke_run_reads_fixtures_on_compute_nodes_and_calls_the_api_from_the_login_node(tmp_path):
    wf = load_workflow(tmp_path, [PRESET_32B, REPO / "config/smoke-32b.yaml"])
    assert local_on_a_cluster(wf) == ALWAYS_LOCAL | {"rewrite"}


def test_reads_hub():
    from skyt1.workflow.cluster import reads_hub

    assert reads_hub({"adapter": "gsm8k", "options": {"repo": "openai/gsm8k"}})
    assert reads_hub({"adapter": "gsm8k", "options": {"data_files": "hf://datasets/openai/gsm8k/x.parquet"}})
    assert not reads_hub({"adapter": "gsm8k", "options": {"data_files": ["tests/fixtures/hub/gsm8k_test.jsonl"]}})
    assert reads_hub({"adapter": "numina", "options": {"data_files": "a.parquet", "difficulty_repo": "x/y"}})
    assert not reads_hub({"adapter": "numina", "options": {"data_files": "a.parquet", "difficulty_repo": "x/y",
                                                           "difficulty_files": "d.jsonl"}})
    assert not reads_hub({"adapter": "reasoning_gym", "options": {}})


# ------------------------------------------------------------------ 5. checkpoints

def test_32b_preset_keeps_one_checkpoint():
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(PRESET_32B), REPO / "config")
    assert cfg["train"]["args"]["save_total_limit"] == 1 and cfg["train"]["args"]["save_steps"] == 100
    from skyt1 import settings

    spec = settings.spec("train", cfg, run=cfg["train"]["name"])
    assert "save_total_limit" not in str(spec)  # operational: changing it retrains nothing


def _complete(folder: Path, step: int, deepspeed=True, sharded=False):
    folder.mkdir(parents=True)
    if sharded:
        (folder / "model.safetensors.index.json").write_text(json.dumps(
            {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
        for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
            (folder / name).write_bytes(b"w")
    else:
        (folder / "model.safetensors").write_bytes(b"w")
    if deepspeed:
        (folder / f"global_step{step}").mkdir()
        (folder / f"global_step{step}" / "zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"o")
        (folder / "latest").write_text(f"global_step{step}")
    else:
        (folder / "optimizer.pt").write_bytes(b"o")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def fabricated_run(tmp_path, monkeypatch, make_checkpoints):
    """train.run on a work folder with fabricated checkpoints; the launch is intercepted: what the
    training command would have found in its output folder, and the arguments it got."""
    from skyt1.stages import train

    out = tmp_path / "checkpoints" / "run"
    work = out.parent / ".run.work"
    make_checkpoints(work)
    sft = tmp_path / "sft"
    sft.mkdir()
    (sft / "dataset_info.json").write_text(json.dumps({"sky_t1": {"file_name": "sky_t1.json"}}))
    (sft / "sky_t1.json").write_text("[]")
    seen = {}

    def fake_run(cmd, **kwargs):
        if "--build-ops" in cmd:
            seen["build_ops"] = True
            return subprocess.CompletedProcess(cmd, 0, "DeepSpeed ops ready: cpu_adam\n", "")
        seen["found"] = sorted(p.name for p in work.iterdir())
        seen["args"] = yaml.safe_load((work / "skyt1_train_args.yaml").read_text())
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(train.subprocess, "run", fake_run)
    monkeypatch.setattr(train, "launcher_python", lambda: sys.executable)  # nothing is launched
    cfg = {"name": "run", "deepspeed": "config/deepspeed/ds_z3_offload.json", "nproc_per_node": 1, "args": {"save_steps": 2}}
    with pytest.raises(Exception, match="training failed"):
        train.run(train.Spec(cfg, {"template": "qwen25"}, repo_root=str(REPO)),
                  train.Paths(tmp_path / "student", sft / "sky_t1.json", sft / "dataset_info.json", out,
                              str(tmp_path / "train.log")), gpus=0)
    return seen


def test_a_half_written_last_checkpoint_is_removed_before_resume(tmp_path, monkeypatch):
    def make(work):
        _complete(work / "checkpoint-2", 2)
        _complete(work / "checkpoint-3", 3, sharded=True)
        (work / "checkpoint-3" / "model-00002-of-00002.safetensors").unlink()   # a shard never written
        half = work / "checkpoint-4"  # killed while DeepSpeed wrote its states: weights, no latest, no state
        half.mkdir()
        (half / "model.safetensors").write_bytes(b"w")
        (half / "global_step4").mkdir()
        bad_tag = work / "checkpoint-5"
        _complete(bad_tag, 5)
        shutil.rmtree(bad_tag / "global_step5")                                   # `latest` names nothing
        torn = work / "checkpoint-6"
        _complete(torn, 6)
        (torn / "trainer_state.json").write_text('{"global_st')                    # cut short
        (work / "tmp-checkpoint-8").mkdir()
    seen = fabricated_run(tmp_path, monkeypatch, make)
    assert seen["build_ops"]  # DeepSpeed's ops are built before the ranks start
    assert seen["found"] == ["checkpoint-2", "skyt1_train_args.yaml"]
    assert seen["args"]["overwrite_output_dir"] is False  # LLaMA-Factory resumes from checkpoint-2


def test_sharded_and_plain_checkpoints_count_as_complete(tmp_path):
    from skyt1.stages import train

    _complete(tmp_path / "checkpoint-1", 1, sharded=True)
    _complete(tmp_path / "checkpoint-2", 2, deepspeed=False)
    assert train.drop_incomplete_checkpoints(tmp_path) == []
    (tmp_path / "checkpoint-2" / "optimizer.pt").unlink()
    assert train.drop_incomplete_checkpoints(tmp_path) == [
        "checkpoint-2: no optimizer state (optimizer.pt or DeepSpeed's global_step*)"]


def test_no_complete_checkpoint_starts_afresh(tmp_path, monkeypatch):
    def make(work):
        (work / "checkpoint-2").mkdir(parents=True)
        (work / "checkpoint-2" / "model.safetensors").write_bytes(b"w")
    seen = fabricated_run(tmp_path, monkeypatch, make)
    assert seen["found"] == ["skyt1_train_args.yaml"] and seen["args"]["overwrite_output_dir"] is True


# ------------------------------------------------------------------ 3. DeepSpeed's ops before the first step

TRAIN_PYTHON = REPO / ".venv-train" / "bin" / "python"


def test_build_ops_without_a_compiler_is_one_line(tmp_path):
    env = {**os.environ, "CXX": str(tmp_path / "no-such-c++"), "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext"),
           "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([str(TRAIN_PYTHON), "-m", "skyt1.stages.train_launcher", "--build-ops"], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 1
    lines = [l for l in proc.stderr.splitlines() if l.startswith("skyt1 error")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "cpu_adam" in lines[0] and "no C++ compiler" in lines[0] and "fix:" in lines[0], lines[0]
    assert not (tmp_path / "ext").exists()  # nothing half-built
    # and through the train stage: the same line, as the stage's error
    from skyt1.core.errors import SkyT1Error
    from skyt1.stages import train

    with pytest.raises(SkyT1Error) as err:
        train.build_ops(tmp_path / "train.log", env)
    assert str(err.value) == lines[0][len("skyt1 error: "):]


def test_extensions_dir_is_per_cpu_model(monkeypatch):
    from skyt1.stages import train_launcher

    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    first = train_launcher.extensions_dir()
    assert Path(first).name.startswith("skyt1-") and os.environ["TORCH_EXTENSIONS_DIR"] == first
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", "/elsewhere")
    assert train_launcher.extensions_dir() == "/elsewhere"


def test_vllm_argv_has_no_flag_the_pinned_vllm_removed(tmp_path):
    """vLLM 0.12 removed --disable-log-requests (vllm-project/vllm#29402); 0.34.0 would exit on it."""
    from skyt1.engine import owned as engines

    cfg = skyt1_config.resolve(skyt1_config.load_yaml(PRESET_32B), REPO / "config")
    exe = tmp_path / "vllm"
    exe.write_text("#!/bin/sh\n")
    for stage in ("sample", "eval"):
        argv = engines.launch_for(cfg[stage]["backend"], str(tmp_path), "m", gpus=8, executable=str(exe)).argv
        assert argv[:2] == (str(exe), "serve") and "--disable-log-requests" not in argv
        assert argv[argv.index("--tensor-parallel-size") + 1] == "8"


# ------------------------------------------------------------------ 8. the GPU acceptance script

def test_gpu_acceptance_without_a_gpu_is_one_line_and_installs_nothing(tmp_path):
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"}  # no nvidia-smi here, and none faked
    made = [REPO / ".venv-vllm", REPO / ".gpu-acceptance" / "install.log"]
    before = [p.stat().st_mtime if p.exists() else None for p in made]
    proc = subprocess.run(["bash", str(REPO / "bench/gpu_acceptance.sh")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_acceptance: no NVIDIA GPU visible") and "fix:" in lines[0]
    assert [p.stat().st_mtime if p.exists() else None for p in made] == before  # nothing installed
    # the driver on its own says the same when torch sees no GPU
    proc = subprocess.run([sys.executable, str(REPO / "bench/gpu_acceptance.py"), "run", "--workdir", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        l for l in proc.stderr.strip().splitlines() if l.startswith("gpu_acceptance: torch sees no CUDA GPU")]


def test_gpu_acceptance_config_is_valid_and_runs_every_rule(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "bench/gpu_acceptance.py"), "check", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "config valid; the DAG runs 12 rules" in proc.stdout
    from skyt1.workflow.recipe import load_config

    cfg = load_config([str(REPO / "config" / f) for f in ("sky-t1-32b.yaml", "smoke-32b.yaml", "gpu-acceptance.yaml")])
    for name in ("qwq-32b-preview", "qwen2.5-32b-instruct", "sky-t1-32b-preview"):
        tiny = cfg["models"][name]["tiny"]
        assert cfg["models"][name]["source"] == "tiny_qwen2" and tiny["hidden"] // tiny["heads"] >= 64
    assert cfg["train"]["args"]["use_cpu"] is False and cfg["resources"]["train"]["gpu"] == 1
    assert cfg["eval"]["backend"]["max_model_len"] >= 64 + 1024  # room for a fixture prompt and the answer


def test_no_group_jobs_each_generation_job_asks_for_its_gpus_on_one_node(tmp_path):
    """A job owns its engine (docs/cluster.md), so nothing is grouped: Snakemake would sum `nodes` and GPUs
    over a group's parallel members. Each sample/evaluate job alone asks for its engine's 8 GPUs on 1 node."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (ConfigSettings, DAGSettings, OutputSettings, ResourceSettings,
                                          StorageSettings)

    with SnakemakeApi(OutputSettings()) as api:
        wapi = api.workflow(resource_settings=ResourceSettings(cores=1024),
                            config_settings=ConfigSettings(configfiles=[PRESET_32B]),
                            storage_settings=StorageSettings(), snakefile=REPO / "Snakefile", workdir=tmp_path)
        wapi.dag(dag_settings=DAGSettings(targets={"results/table_main.csv"})).execute_workflow(executor="dryrun")
        jobs = list(wapi._workflow.dag.get_jobs_or_groups())
        assert not [j for j in jobs if j.is_group()]
        gen = [j for j in jobs if j.rule.name in ("sample", "evaluate")]
        assert len(gen) == 5  # the teacher's one shard, and one per eval model
        for j in gen:
            assert j.resources.get("gpu") == 8, j
