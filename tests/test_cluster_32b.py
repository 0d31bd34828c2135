"""The cluster side of the 32B preset, as far as it can be checked on a machine without conda, GPUs or
a hub: the Slurm profile's keys, the environment each rule runs in, what the Slurm executor plugin
submits for the GPU jobs, and which jobs stay on the login node. docs/cluster-32b.md lists what is
tested here and what is still on paper."""
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO

from skyt1 import config as skyt1_config

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


def check_envs(wf, engine_env):
    want = {"train": "envs/train.yaml", "all": None}
    for rule in wf.rules:
        if rule.name != "engine":
            assert env_of(wf, rule.name) == want.get(rule.name, "envs/pipeline.yaml"), rule.name
    for stage in ("sample", "eval"):
        assert env_of(wf, "engine", stage=stage) == engine_env


def test_every_rule_of_the_32b_preset_runs_in_its_env_file(wf32):
    check_envs(wf32, "envs/vllm.yaml")  # the engines are vLLM's server, training has envs/train.yaml


def test_every_rule_of_the_tiny_preset_runs_in_its_env_file(wf_tiny):
    check_envs(wf_tiny, "envs/engine-cpu.yaml")  # the CPU engine server


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
    for rule in ("train", "engine"):
        assert "--gpus=8" in cmds[rule] and "--nodes=1" in cmds[rule], cmds[rule]
    for rule in ("data_train", "reject", "mix", "table_main"):
        assert "--gpus" not in cmds[rule] and "--nodes" not in cmds[rule], cmds[rule]


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
    from skyt1.cluster import reads_hub

    assert reads_hub({"adapter": "gsm8k", "options": {"repo": "openai/gsm8k"}})
    assert reads_hub({"adapter": "gsm8k", "options": {"data_files": "hf://datasets/openai/gsm8k/x.parquet"}})
    assert not reads_hub({"adapter": "gsm8k", "options": {"data_files": ["tests/fixtures/hub/gsm8k_test.jsonl"]}})
    assert reads_hub({"adapter": "numina", "options": {"data_files": "a.parquet", "difficulty_repo": "x/y"}})
    assert not reads_hub({"adapter": "numina", "options": {"data_files": "a.parquet", "difficulty_repo": "x/y",
                                                           "difficulty_files": "d.jsonl"}})
    assert not reads_hub({"adapter": "reasoning_gym", "options": {}})
