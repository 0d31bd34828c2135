"""The user's main command, `snakemake results/table_main.csv --profile slurm`, on a real single-node
Slurm cluster with production process tracking (.ci/slurm: Debian's slurm-wlm and munge, proctrack/cgroup,
task/cgroup with confined cores, memory and devices, GPUs faked with device files), and the 32B smoke run
through the same profile. What this cannot show: real GPUs computing, or jobs on several nodes."""
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import GPU_OVERRIDE, OVERRIDE, REPO, snakemake

from skyt1 import config as skyt1_config
from skyt1.engine import owned as engines

pytestmark = pytest.mark.slurm
CLUSTER = REPO / ".ci" / "slurm"
JOBCOMP = Path(os.environ.get("SKYT1_SLURM_DIR", "/tmp/skyt1-slurm")) / "jobcomp.txt"
# The test cluster has no slurmdbd: job status through squeue, and short polls (each DAG level costs them).
# --cores 2: the test node's CPUs (the profile's `cores` is a 64-CPU node): a group job stacks its
# parallel members in series to fit it.
# --sdm env-modules replaces the profile's conda (which cannot be had here; snakemake stops at once without
# it): no rule declares envmodules, so every job runs on the host, as under profiles/local.
NO_CONDA = ["--sdm", "env-modules"]
FAST = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
        "--seconds-between-status-checks", "1", "--slurm-keep-successful-logs", "--cores", "2", *NO_CONDA]
NODE_CPUS = 2
# Rule -> its section of config.resources (rules/*.smk: res(...)).
STAGE = {"data_train": "data", "data_bench": "data", "decontaminate": "decontaminate", "prepare_model": "prepare_model",
         "sample": "sample", "sample_merge": "reject", "rewrite": "rewrite", "reject": "reject", "mix": "mix",
         "train": "train", "evaluate": "evaluate", "table_main": "table"}
# The generation rules: one job per (stage, model[, shard]) that owns its engine (skyt1.engine.owned).
GEN = {"sample": "sample", "rewrite": "rewrite", "evaluate": "eval"}
GPU_STAGES = {"sample", "train", "evaluate"}  # the stages that take GPUs in the 32B preset
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


@pytest.fixture(scope="session")
def slurm_cluster():
    """The cluster, started for the session if it is not running (and stopped again afterwards)."""
    running = subprocess.run(["bash", str(CLUSTER), "status"], capture_output=True, text=True).returncode == 0
    if not running:
        up = subprocess.run(["bash", str(CLUSTER), "up"], capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, f"could not start the test Slurm cluster:\n{up.stdout}{up.stderr}"
    yield
    if not running:
        subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, text=True, timeout=60)


def slurm_snakemake(workdir, *args, configfiles=(), check=True):
    """The literal user command from the repository root (`--profile slurm` resolves through ./slurm),
    on `workdir`, with the test cluster's settings."""
    return snakemake(workdir, *args, "--profile", "slurm", *FAST, configfiles=configfiles, check=check,
                     cores=False, cwd=REPO)


def jobcomp():
    """The scheduler's record of every finished job (jobcomp/filetxt), by Slurm job id."""
    records = {}
    for line in JOBCOMP.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        records[fields["JobId"]] = fields
    return records


def tres(record):
    return dict(kv.split("=", 1) for kv in record["Tres"].split(",") if "=" in kv)


def allocated_gpus(job_id):
    """GPUs the scheduler allocated to a job (scontrol's JOB_GRES; jobcomp's Tres lists gres/gpu only
    with slurmdbd). .ci/slurm keeps finished jobs in scontrol for 10 hours (MinJobAge)."""
    out = subprocess.run(["scontrol", "show", "job", "-d", "-o", str(job_id)], capture_output=True, text=True,
                         check=True).stdout
    gres = dict(re.findall(r"(\w+)=(\S*)", out)).get("JOB_GRES", "(null)")
    return int(gres.split(":")[-1]) if gres.startswith("gpu") else 0


def resolved(configfiles):
    user = {}
    for f in configfiles:
        user = skyt1_config.deep_merge(user, skyt1_config.load_yaml(f))
    return skyt1_config.resolve(user, REPO / "config")


def want_for(cfg, rule, targets):
    """What a job of `rule` with `targets` targets declares: (threads, mem_mb, runtime, gpus)."""
    if rule in GEN:
        return tuple(engines.job_resource(cfg, GEN[rule], k, targets) for k in ("threads", "mem_mb", "runtime", "gpu"))
    table = cfg["resources"]
    res = {**table["default"], **table.get(STAGE[rule], {})}
    return res["threads"], res["mem_mb"], res["runtime"], res["gpu"]


def submissions(workdir, proc):
    """snakemake job id -> (Slurm job id, Slurm log) for the run whose output is `proc`."""
    return {m[0]: (m[1], m[2]) for m in SUBMITTED.findall(proc.stdout + proc.stderr)}


def rule_logs(work):
    """rule name -> list of (slurm_job_id, cuda_visible_devices, log) from each rule log's job line."""
    out = {}
    for log in (work / "logs").rglob("*.log"):
        for rule, job, cuda in re.findall(r"job: rule=(\w+) slurm_job_id=(\S+) cuda_visible_devices=(\S+)",
                                          log.read_text(errors="replace")):
            out.setdefault(rule, []).append((job, cuda, log))
    return out


def manifests(work):
    """The generation jobs' engine manifests (results/engines/<stage>/*.json), by path."""
    return {str(p.relative_to(work)): json.loads(p.read_text()) for p in sorted((work / "results/engines").glob("*/*.json"))
            if not p.name.endswith(".lineage.json")}


def left_running(work, slurm_ids, wait=30.0):
    """What the run left behind (after up to `wait` s for slurmd to clean up): processes that name its
    working directory (an engine names its model folder there), queued or running Slurm jobs, and Slurm
    job cgroups of its jobs."""
    deadline = time.time() + wait
    while True:
        found = _left_running(work, slurm_ids)
        if not found or time.time() > deadline:
            return found
        time.sleep(1)


def _left_running(work, slurm_ids):
    procs = [line for line in subprocess.run(["pgrep", "-af", str(work)], capture_output=True, text=True).stdout.splitlines()
             if "pgrep" not in line]
    queued = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True).stdout.split("\n")
    queued = [q for q in queued if q.strip() and q.split()[0] in slurm_ids]
    cgroups = [str(p) for sid in slurm_ids for p in Path("/sys/fs/cgroup/freezer").glob(f"slurm*/uid_*/job_{sid}")]
    return procs + queued + cgroups


def job_targets(cfg, rule):
    """How many targets one job of a generation rule runs: sources per teacher shard, sources, benchmarks."""
    generated = [s for s in cfg["sample"]["sources"] if not cfg["train_sources"][s].get("passthrough")]
    shards = int(cfg["sample"].get("shards", 1))
    return {"sample": -(-len(generated) // shards), "rewrite": len(generated), "evaluate": len(cfg["eval"]["benchmarks"])}[rule]


def check_run(work, proc, cfg, engine_loads):
    """What every run through --profile slurm must show: each job went through sbatch and completed with
    what its rule declares, one engine load per (stage, model, shard) inside its own job, the GPUs
    confined to the jobs that declare them, and nothing left running."""
    out = proc.stdout + proc.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1], flags=re.M))
    subs = submissions(work, proc)
    slurm_ids = {sid for sid, _ in subs.values()}
    records = jobcomp()
    for sid in slurm_ids:
        rec = records[sid]  # the scheduler knows every job snakemake submitted ...
        assert rec["JobState"] == "COMPLETED" and rec["WorkDir"] == str(work), rec
    logs = rule_logs(work)
    assert set(logs) == set(stats) - {"total"}
    # rules that reach the hub or an API run on the login node (localrules, skyt1.workflow.cluster): no Slurm job
    from skyt1.workflow import cluster as skyt1_cluster

    local = set(skyt1_cluster.local_rules(cfg)) & set(logs)
    assert all(job == "none" for rule in local for job, _, _ in logs[rule]), {r: logs[r] for r in local}
    n_local = sum(len(logs[rule]) for rule in local)
    logs = {rule: entries for rule, entries in logs.items() if rule not in local}
    seen = [job for entries in logs.values() for job, _, _ in entries]
    # ... each rule's log names its job, and every other job is its own Slurm job (no group jobs)
    assert set(seen) == slurm_ids and len(seen) == len(subs) == int(stats["total"]) - n_local >= 20
    # one engine load per (stage, model, shard), started and stopped inside its job's own allocation
    m = manifests(work)
    assert sum(r["loads"] for r in m.values()) == engine_loads, m
    by_job = {job: (rule, log) for rule, entries in logs.items() for job, _, log in entries}
    for path, rec in m.items():
        if rec["loads"]:
            rule, log = by_job[rec["slurm_job_id"]]
            assert rule in GEN and f"engine {rec['kind']} for " in Path(log).read_text() and " stopped (exit " in Path(log).read_text(), path
    # resources: CPUs, memory, time limit and GPUs as the scheduler recorded them, on one node
    checked = 0
    for rule, entries in logs.items():
        for job, cuda, log in entries:
            rec = records[job]
            t = tres(rec)
            threads, mem, runtime, gpus = want_for(cfg, rule, job_targets(cfg, rule) if rule in GEN else 1)
            assert rec["NodeCnt"] == "1", rec
            assert int(rec["ProcCnt"]) == int(t["cpu"]) == threads, (rule, rec)
            assert t["mem"] == f"{mem}M", (rule, rec)
            assert int(rec["TimeLimit"]) == runtime, (rule, rec)
            assert allocated_gpus(job) == gpus, (rule, job)
            assert cuda == (",".join(map(str, range(gpus))) if gpus else "unset"), (rule, log)
            checked += 1
    assert checked == len(seen)
    assert not left_running(work, slurm_ids)
    return logs, m


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_pipeline")
    proc = slurm_snakemake(work, "results/table_main.csv")
    return work, proc


def test_tiny_pipeline_on_the_cgroup_cluster(slurm_run):
    """`snakemake results/table_main.csv --profile slurm`: 4 engine loads (teacher shard, rewriter, base,
    student), each inside the job that used it, all GPUs of the GPU stages' jobs, nothing left behind."""
    work, proc = slurm_run
    logs, m = check_run(work, proc, resolved([OVERRIDE, GPU_OVERRIDE]), engine_loads=4)
    assert {p: r["loads"] for p, r in m.items()} == {
        "results/engines/eval/base.json": 1, "results/engines/eval/sky-t1.json": 1,
        "results/engines/rewrite/smollm2-135m-instruct.json": 1,
        "results/engines/sample/smollm2-135m-instruct.shard-0.json": 1}
    assert {r for r, entries in logs.items() for _, cuda, _ in entries if cuda != "unset"} == {"sample", "train", "evaluate"}
    assert "engine loads per run: 4 [sample 1 (skyt1, 1 GPUs), rewrite 1 (skyt1, 0 GPUs), eval 2 (skyt1, 1 GPUs)]" in proc.stderr


def test_slurm_table_equals_the_local_run(slurm_run, pipeline_run):
    work, _ = slurm_run
    for name in ("table_main.csv", "table_main.md"):
        assert (work / "results" / name).read_bytes() == (pipeline_run / "results" / name).read_bytes()
    rows = list(csv.DictReader(open(work / "results/table_main.csv")))
    assert [r["benchmark"] for r in rows] == ["arith_heldout", "gsm8k", "math500", "humaneval", "mbpp"]


def test_32b_smoke_run_on_the_cgroup_cluster(slurm_cluster, tmp_path_factory):
    """The 32B preset's smoke run (config/smoke-32b.yaml: two teacher shards) through --profile slurm:
    6 engine loads (2 teacher shards, 4 eval models; the rewriter is an API endpoint and loads none),
    the shards merged with nothing lost or duplicated, nothing left running."""
    from test_smoke_32b import PRESET, SMOKE, smoke_run

    def via_slurm(workdir, env):  # the documented command, through the Slurm profile from the repository root
        return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                               "results/table_main.csv", "--profile", "slurm", *FAST,
                               "--configfile", str(PRESET), str(SMOKE)], capture_output=True, text=True, env=env, cwd=REPO)

    run = smoke_run(tmp_path_factory.mktemp("smoke32b_slurm"), via_slurm)
    cfg = resolved([PRESET, SMOKE])
    assert cfg["sample"]["shards"] == 2
    _, m = check_run(run.dir, run.proc, cfg, engine_loads=6)
    assert m["results/engines/rewrite/gpt-4o-mini.json"]["loads"] == 0
    assert sorted(p for p, r in m.items() if r["loads"]) == sorted(
        [f"results/engines/sample/qwq-32b-preview.shard-{k}.json" for k in (0, 1)]
        + [f"results/engines/eval/{label}.json" for label in cfg["eval"]["models"]])
    # the shards: every record of every sampled source in exactly one shard, merged in the records' order
    sizes = []
    for source in cfg["sample"]["sources"]:
        if cfg["train_sources"][source].get("passthrough"):
            continue
        records = [json.loads(l)["id"] for l in (run.dir / f"results/data/clean/{source}.jsonl").read_text().splitlines() if l]
        shards = [[json.loads(l)["record_id"] for l in (run.dir / f"results/sample/shards/{k}/{source}.jsonl").read_text().splitlines() if l]
                  for k in (0, 1)]
        merged = [json.loads(l)["record_id"] for l in (run.dir / f"results/sample/{source}.jsonl").read_text().splitlines() if l]
        assert not set(shards[0]) & set(shards[1]), source  # in no two shards ...
        assert sorted(shards[0] + shards[1]) == sorted(records) and merged == records, source  # ... and in one
        sizes.append(len(shards[0]) - len(shards[1]))
    assert set(sizes) <= {0, 1}  # every other record: shard 0 gets the odd one


BAD_SOURCE = "train_sources:\n  arith:\n    options: {generator: no_such_generator}\n"


def test_failing_job_fails_the_run_names_its_log_and_a_rerun_continues(slurm_cluster, tmp_path):
    work = tmp_path / "w"
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SOURCE)
    targets = ["results/data/bench/gsm8k.jsonl", "results/data/train/arith.jsonl"]
    proc = slurm_snakemake(work, *targets, "--keep-going", configfiles=[bad], check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Error in rule data_train" in out and "logs/data/train/arith.log" in out
    failed = [rec for rec in jobcomp().values() if rec["WorkDir"] == str(work) and rec["JobState"] == "FAILED"]
    assert len(failed) == 1  # the scheduler saw the job fail
    assert (work / "results/data/bench/gsm8k.jsonl").exists()  # the other job finished ...
    assert not (work / "results/data/train/arith.jsonl").exists()
    again = slurm_snakemake(work, *targets)
    subs = submissions(work, again)
    assert len(subs) == 1, again.stdout + again.stderr  # ... and the rerun does only what is left
    assert "rule data_train:" in again.stdout + again.stderr and "rule data_bench:" not in again.stdout + again.stderr
    assert (work / "results/data/train/arith.jsonl").exists()


def test_controller_down_is_one_clear_line(slurm_cluster, tmp_path):
    state = Path(os.environ.get("SKYT1_SLURM_DIR", "/tmp/skyt1-slurm"))
    pid = int((state / "slurmctld.pid").read_text())
    os.kill(pid, 15)
    try:
        for _ in range(40):
            if subprocess.run(["scontrol", "ping"], capture_output=True).returncode != 0:
                break
        proc = slurm_snakemake(tmp_path / "w", "results/data/bench/gsm8k.jsonl", check=False)
    finally:
        up = subprocess.run(["bash", str(CLUSTER), "up"], capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
    assert proc.returncode != 0
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("skyt1 error")]
    assert len(lines) == 1 and "Slurm controller does not answer" in lines[0] and "fix:" in lines[0], proc.stderr
    assert "submitted with SLURM jobid" not in proc.stdout + proc.stderr


def test_32b_preset_resources_on_slurm(tmp_path):
    """The 32B DAG through the Slurm profile (dry run): GPUs only where the preset puts them, every job on
    one node, each generation job with its engine's tensor-parallel GPUs and one engine start plus its
    targets' runtime, the training with 8 GPUs."""
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    # A dry run shows threads capped at its --cores (a real submission is not), hence --cores 1024 here.
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table_main.csv", "--profile", "slurm",
                           "--cores", "1024", *NO_CONDA, "-d", str(tmp_path),
                           "--configfile", str(REPO / "config/sky-t1-32b.yaml")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = re.split(r"^\s*rule (\w+):$", proc.stdout, flags=re.M)
    jobs = list(zip(parts[1::2], parts[2::2]))
    assert len(jobs) == 48
    targets = {"sample": 6, "rewrite": 6, "evaluate": 7}  # sources per teacher shard (1 shard), benchmarks per model
    gen = 0
    for rule, body in jobs:
        res = dict(re.findall(r"(\w+)=([^,\n]+)", body.split("resources:")[1].splitlines()[0]))
        threads = int((re.findall(r"threads: (\d+)", body) or ["1"])[0])
        assert res["nodes"] == "1", rule  # --gpus stays on one node
        got = (threads, int(res["mem_mb"]), int(res["runtime"]), int(res["gpu"]))
        assert got == want_for(cfg, rule, targets.get(rule, 1)), (rule, got)
        if rule in ("sample", "evaluate"):  # vLLM's tensor-parallel GPUs, in the job that starts it
            gen += 1
            assert got[3] == cfg[GEN[rule]]["backend"]["tensor_parallel_size"] == 8, rule
        elif rule == "train":
            assert (got[3], threads) == (8, 64) and cfg["train"]["nproc_per_node"] == 8
        else:
            assert got[3] == 0, rule  # CPU stages (and the rewriter on the API) never ask for a GPU
    assert gen == 5  # the teacher's one shard, and one per eval model
