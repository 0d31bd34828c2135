# Helpers shared by every rule: the resolved and validated config, resources, input functions.
import os
import subprocess
import sys
from pathlib import Path

from skyt1.workflow import cluster as skyt1_cluster
from skyt1 import config as skyt1_config
from skyt1.engine import owned as skyt1_engines
from skyt1 import settings as skyt1_settings
from skyt1.core.errors import SkyT1Error

REPO = Path(workflow.basedir)
# envs/*.post-deploy.sh install skyt1 from here into each conda environment (--sdm conda).
os.environ.setdefault("SKYT1_REPO", str(REPO))

try:
    _resolved = skyt1_config.resolve(config, REPO / "config")
    skyt1_config.validate(_resolved, REPO / "config" / "schema.yaml")
except SkyT1Error as _e:
    # One line naming the key and the fix, before any job starts.
    print(f"skyt1 config error: {_e}", file=sys.stderr)
    sys.exit(1)
# Hub inputs are read at the commits the preset's lock names (skyt1.workflow.lock); an unpinned one stops a real run
# before any job starts (onstart, below), with one line naming the fix; a dry run or a DAG drawing says so.
from skyt1.workflow import lock as skyt1_lock

_resolved, _unpinned = skyt1_lock.apply(_resolved, REPO)
UNPINNED_ERROR = None
if _unpinned:
    if _resolved.get("allow_unpinned"):
        print(f"skyt1: allow_unpinned: {len(_unpinned)} hub inputs read at their revision as it is now "
              f"(first: {_unpinned[0]['repo']}@{_unpinned[0]['revision']})", file=sys.stderr)
    else:
        UNPINNED_ERROR = str(skyt1_lock.refusal(_resolved, _unpinned))
        if workflow.is_main_process:
            print(f"skyt1 warning (a run stops before its first job): {UNPINNED_ERROR}", file=sys.stderr)
config.clear()
config.update(_resolved)

MODELS = config["models"]
LOCAL_MODELS = [m for m, spec in MODELS.items() if spec["source"] != "api"]
SOURCES = config["sample"]["sources"]
BENCHMARKS = config["eval"]["benchmarks"]
EVAL_MODELS = list(config["eval"]["models"])
STUDENT_RUN = config["train"]["name"]
SFT_NAME = config["mix"]["dataset_name"]


# On a cluster the jobs that need the internet (hub downloads, the API rewrite) run on the login node:
# compute nodes often reach neither (skyt1.workflow.cluster; docs/cluster-32b.md).
workflow.localrules(*skyt1_cluster.local_rules(config))


def mix_input(source):
    """A passthrough source (its rows keep their own responses) goes to the mix straight from the data stage."""
    if config["train_sources"][source].get("passthrough"):
        return f"results/data/clean/{source}.jsonl"
    return f"results/reject/{source}.accepted.jsonl"


def _alt(names):
    return "|".join(sorted(names)) or "__none__"


wildcard_constraints:
    model=_alt(LOCAL_MODELS),
    source=_alt(config["train_sources"]),
    bench=_alt(config["benchmarks"]),
    label=_alt(EVAL_MODELS),
    run=_alt([STUDENT_RUN]),
    shard=r"\d+",


# Conda environments per kind of rule (used with --sdm conda on clusters; conda cannot be had on the
# development machines, where every rule runs in the .venv that `make install` builds).
ENV_PIPELINE = "../envs/pipeline.yaml"
ENV_TRAIN = "../envs/train.yaml"


def gen_env(stage):
    """A generation stage's job owns its engine, so it runs in the engine's environment (vLLM, or the CPU
    engine's); on an external endpoint it is a plain client (ENV_PIPELINE)."""
    if not skyt1_engines.on_engine(config, stage):
        return ENV_PIPELINE
    name = config[skyt1_settings.ENGINE_SECTIONS[stage]]["backend"]["name"]
    return "../envs/vllm.yaml" if name == "vllm" else "../envs/engine-cpu.yaml"


def spec(rule):
    """A rule's `params: spec`: only what changes its results (skyt1.settings.split says which keys do
    not); its script reads the operational settings from the config, so they rerun nothing."""
    return lambda wildcards: skyt1_settings.spec(rule, config, **dict(wildcards.items()))


def code(rule):
    """A rule's `params: code`: a hash of the skyt1 modules it runs, so a change to them reruns it."""
    return skyt1_settings.code_hash(rule)


# ---- generation stages: one job per (stage, model[, shard]) that owns its engine (skyt1.engine.owned) ----
ENGINE_RESOURCES = skyt1_settings.ENGINE_RESOURCES
# The sources the teacher samples (a passthrough source keeps its own responses).
GENERATED = [s for s in SOURCES if not config["train_sources"][s].get("passthrough")]
SHARDS = int(config["sample"].get("shards", 1))


def gen_res(stage, key, targets):
    """A generation job's resource (skyt1.engine.owned.job_resource): the stage's machine, the engine's GPUs,
    one engine start plus the stage's runtime per target."""
    return skyt1_engines.job_resource(config, stage, key, targets)


def target_specs(rule, key, names, **fixed):
    """`params: spec` of a job with many targets: each target's spec by name (what changes its results)."""
    return lambda wildcards: {n: skyt1_settings.spec(rule, config, **dict(wildcards.items()), **fixed, **{key: n})
                              for n in names}


def res(stage, key):
    """A rule's resource from config.resources.<stage>, falling back to config.resources.default."""
    return skyt1_config.resource(config, stage, key)


def model_dir(name):
    """Input files for a model: its prepared folder, or nothing for an api model."""
    return [] if MODELS[name]["source"] == "api" else [f"results/models/{name}"]


def eval_model_input(wildcards):
    return eval_model_path(wildcards.label)


def eval_model_path(label):
    spec = config["eval"]["models"][label]
    if spec.get("checkpoint"):
        return f"results/checkpoints/{STUDENT_RUN}"
    return f"results/models/{spec['model']}"


onstart:
    if UNPINNED_ERROR:  # onstart runs for a real run only, never for a dry run
        print(f"skyt1 lock error: {UNPINNED_ERROR}", file=sys.stderr, flush=True)
        sys.exit(1)
    # The request cache's per-job shards from earlier runs, folded into its store before any job starts
    # (skyt1.generation.cache: no file is written by two jobs, so it is safe on a shared filesystem).
    if workflow.is_main_process and config.get("cache", {}).get("enabled", True):
        from skyt1.generation import cache as skyt1_cache

        _merged = skyt1_cache.merge_shards(Path(config["cache"].get("dir", ".cache/skyt1")) / "requests.sqlite")
        if _merged.get("shards") or _merged.get("skipped"):
            print(f"skyt1: request cache: {_merged}", file=sys.stderr)
    # On Slurm, a controller that does not answer is one clear line before anything is submitted
    # (the executor plugin would otherwise fail each job's sbatch with a traceback-length message).
    _plugin = workflow.executor_plugin
    if _plugin is not None and _plugin.name.endswith("slurm") and workflow.is_main_process:
        try:
            _ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=60)
            _up = _ping.returncode == 0 and " is UP" in _ping.stdout
            _why = (_ping.stdout + _ping.stderr).strip().splitlines()[:1] or ["no answer"]
        except (OSError, subprocess.TimeoutExpired) as _e:
            _up, _why = False, [str(_e)]
        if not _up:
            print(f"skyt1 error: the Slurm controller does not answer ({_why[0]}); fix: start slurmctld or "
                  "check SLURM_CONF (`scontrol ping` must say UP), or run locally with --profile profiles/local",
                  file=sys.stderr, flush=True)
            sys.exit(1)


if workflow.is_main_process:
    # What the engines of a full run cost, printed before every run and dry run (the `engine` row of the
    # job stats counts this invocation's engine jobs).
    from skyt1.workflow import cost as skyt1_cost

    print(f"skyt1: {skyt1_cost.describe_loads(skyt1_cost.engine_loads(config))}", file=sys.stderr)
