"""The user's main command, `snakemake results/table_main.csv --profile slurm`, on a real single-node
Slurm cluster (.ci/slurm: Debian's slurm-wlm and munge, GPUs faked with device files), and the Slurm
resources of the 32B preset. What this cannot show: real GPUs computing, or jobs on several nodes."""
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GPU_OVERRIDE, OVERRIDE, REPO, snakemake

from skyt1 import config as skyt1_config

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
         "sample": "sample", "rewrite": "rewrite", "reject": "reject", "mix": "mix", "train": "train",
         "evaluate": "evaluate", "table_main": "table"}
GPU_STAGES = {"sample", "train", "evaluate"}  # the stages that take GPUs in the 32B preset
# An engine job's logs/engines/<stage>/ -> its stage's resources; the stage's jobs for one model are
# clients (resources.client), in one group job with their engine job.
ENGINE_STAGE = {"sample": "sample", "rewrite": "rewrite", "eval": "evaluate"}
CLIENT_LOGS = {"sample": "logs/sample", "rewrite": "logs/rewrite", "eval": "logs/eval"}
# a job's id, or a group job's uuid
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


def declared(configfiles):
    """Each stage's resources as the rules declare them: the preset with the overrides on top."""
    user = {}
    for f in configfiles:
        user = skyt1_config.deep_merge(user, skyt1_config.load_yaml(f))
    table = skyt1_config.resolve(user, REPO / "config")["resources"]
    return {stage: {**table["default"], **table.get(stage, {})} for stage in {*STAGE.values(), "client", "engine"}}


def submissions(workdir, proc):
    """snakemake job id -> (Slurm job id, Slurm log) for the run whose output is `proc`."""
    return {m[0]: (m[1], m[2]) for m in SUBMITTED.findall(proc.stdout + proc.stderr)}


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_pipeline")
    proc = slurm_snakemake(work, "results/table_main.csv")
    return work, proc


def rule_logs(work):
    """rule name -> list of (slurm_job_id, cuda_visible_devices) from each rule log's job line."""
    out = {}
    for log in (work / "logs").rglob("*.log"):
        for rule, job, cuda in re.findall(r"job: rule=(\w+) slurm_job_id=(\S+) cuda_visible_devices=(\S+)",
                                          log.read_text(errors="replace")):
            out.setdefault(rule, []).append((job, cuda, log))
    return out


def groups(work, logs):
    """Slurm job id -> its engine group: (stage, the engine job's log, the member rules' logs)."""
    out = {}
    for job, _, log in logs.get("engine", []):
        stage = Path(log).parent.name
        out[job] = (stage, Path(log), [l for r, entries in logs.items() if r != "engine" for j, _, l in entries if j == job])
    return out


def test_every_job_went_through_sbatch_one_group_job_per_engine(slurm_run):
    work, proc = slurm_run
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
    seen = [job for entries in logs.values() for job, _, _ in entries]
    assert set(seen) == slurm_ids and len(seen) == int(stats["total"]) >= 20  # ... each rule's log names its job
    # An engine job and its stage's jobs for one model are one Slurm job: 4 engines (teacher, rewriter,
    # base, student), each group holding every job of its stage for that model.
    grouped = groups(work, logs)
    assert len(grouped) == int(stats["engine"]) == 4
    for job, (stage, engine_log, members) in grouped.items():
        model = engine_log.stem
        want = sorted((work / CLIENT_LOGS[stage] / model).glob("*.log")) if stage == "eval" else \
            sorted((work / CLIENT_LOGS[stage]).glob("*.log"))
        assert sorted(map(Path, members)) == want and want, (stage, model, members)
        assert f"engine skyt1 for {model}: " in engine_log.read_text()  # the engine's own log: its job's
    assert len(subs) == int(stats["total"]) - sum(len(m) for _, _, m in grouped.values())


def test_in_each_group_job_the_stage_jobs_leased_the_engine_its_engine_job_loaded(slurm_run):
    """One load per model on Slurm too: inside a group's allocation the engine outlives the engine job's
    own step, and every sample, rewrite and evaluate job found it running."""
    work, _ = slurm_run
    leases = []
    for pattern in ("results/sample/*.stats.json", "results/rewrite/*.stats.json", "results/eval/*/*.summary.json"):
        for path in sorted(work.glob(pattern)):
            data = json.loads(path.read_text())
            leases.append(data.get("generation", data)["engine_lease"])
    assert len(leases) == 14 and all(lease["reused"] for lease in leases), leases


def test_each_job_got_what_its_rule_declares(slurm_run):
    """CPUs, memory, time limit and GPUs as the scheduler recorded them, against the rules' declarations;
    a group job gets its engine's GPUs and what its members need, on one node."""
    work, _ = slurm_run
    want = declared([OVERRIDE, GPU_OVERRIDE])
    records = jobcomp()
    logs = rule_logs(work)
    grouped = groups(work, logs)
    checked = 0
    for rule, entries in logs.items():
        for job, _, log in entries:
            rec = records[job]
            t = tres(rec)
            assert rec["NodeCnt"] == "1"
            if job in grouped:
                stage, _, members = grouped[job]
                engine, client = want[ENGINE_STAGE[stage]], want["client"]
                assert allocated_gpus(job) == engine["gpu"], (rule, job)
                assert max(engine["threads"], client["threads"]) <= int(t["cpu"]) <= NODE_CPUS, (rule, rec)
                assert int(t["mem"].rstrip("M")) >= max(engine["mem_mb"], client["mem_mb"]), (rule, rec)
                assert int(rec["TimeLimit"]) >= want["engine"]["runtime"] + engine["runtime"], (rule, rec)
            else:
                res = want[STAGE[rule]]
                assert int(rec["ProcCnt"]) == int(t["cpu"]) == res["threads"], (rule, rec)
                assert t["mem"] == f"{res['mem_mb']}M", (rule, rec)
                assert int(rec["TimeLimit"]) == res["runtime"], (rule, rec)
                assert allocated_gpus(job) == res["gpu"], (rule, job)
            checked += 1
    assert checked >= 20
    assert {r for r in STAGE if want[STAGE[r]]["gpu"]} == {r for r in STAGE if STAGE[r] in GPU_STAGES}


def test_gpu_jobs_see_cuda_visible_devices_and_cpu_jobs_do_not(slurm_run):
    """The engine's GPUs are its group's: its stage's jobs see them too; the rewriter's engine (no GPU
    declared) and the CPU stages see none."""
    work, _ = slurm_run
    want = declared([OVERRIDE, GPU_OVERRIDE])
    logs = rule_logs(work)
    grouped = groups(work, logs)
    gpu_jobs = {job for job, (stage, _, _) in grouped.items() if want[ENGINE_STAGE[stage]]["gpu"]}
    for rule, entries in logs.items():
        for job, cuda, log in entries:
            if job in gpu_jobs or rule == "train":
                assert cuda == "0", (rule, log)  # one faked GPU, as --gpus=1 gives it
            else:
                assert cuda == "unset", (rule, log)
    seen = {r for r, entries in logs.items() for job, cuda, _ in entries if cuda != "unset"}
    assert seen == {"engine", "sample", "train", "evaluate"}


def test_slurm_table_equals_the_local_run(slurm_run, pipeline_run):
    work, _ = slurm_run
    for name in ("table_main.csv", "table_main.md"):
        assert (work / "results" / name).read_bytes() == (pipeline_run / "results" / name).read_bytes()
    rows = list(csv.DictReader(open(work / "results/table_main.csv")))
    assert [r["benchmark"] for r in rows] == ["arith_heldout", "gsm8k", "math500", "humaneval", "mbpp"]


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
    """The 32B DAG through the Slurm profile (dry run): GPUs only where the preset puts them, the
    training on one node with 8 GPUs, each vLLM job with its tensor-parallel GPUs."""
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    # A dry run shows threads capped at its --cores (a real submission is not: 64 threads became
    # CPUs/Task=64 on the test cluster), hence --cores 1024 here.
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table_main.csv", "--profile", "slurm",
                           "--cores", "1024", *NO_CONDA, "-d", str(tmp_path),
                           "--configfile", str(REPO / "config/sky-t1-32b.yaml")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # each job's block, also the indented ones inside a group job's listing
    parts = re.split(r"^\s*rule (\w+):$", proc.stdout, flags=re.M)
    jobs = list(zip(parts[1::2], parts[2::2]))
    assert len(jobs) == 81
    table = cfg["resources"]
    engines = 0
    for rule, body in jobs:
        res = dict(re.findall(r"(\w+)=([^,\n]+)", body.split("resources:")[1].splitlines()[0]))
        threads = int((re.findall(r"threads: (\d+)", body) or ["1"])[0])
        gpu = int(res["gpu"])
        # --gpus=8 alone may be spread over nodes: the GPU rules ask for one; others never (a group sums it)
        assert res.get("nodes") == ("1" if rule in ("engine", "train") else None), rule
        if rule == "engine":  # the stage's machine: its threads, memory and vLLM's tensor-parallel GPUs
            engines += 1
            stage = re.search(r"results/engines/(\w+)/", body).group(1)
            section = {"eval": "evaluate"}.get(stage, stage)
            want = {**table["default"], **table[section]}
            assert (threads, int(res["mem_mb"])) == (want["threads"], want["mem_mb"]), body
            assert int(res["runtime"]) == table["engine"]["runtime"]
            assert gpu == cfg[stage]["backend"]["tensor_parallel_size"] == 8, rule
            continue
        want = {**table["default"], **table.get(STAGE[rule], {})}
        if rule in ("sample", "evaluate"):  # clients of their engine, in its group job
            client = {**table["default"], **table["client"]}
            assert (threads, int(res["mem_mb"]), gpu) == (client["threads"], client["mem_mb"], 0), rule
            assert int(res["runtime"]) == want["runtime"], rule
            continue
        assert (threads, int(res["mem_mb"]), int(res["runtime"])) == (want["threads"], want["mem_mb"], want["runtime"]), rule
        if rule == "train":
            assert (gpu, threads) == (8, 64) and cfg["train"]["nproc_per_node"] == 8
        else:
            assert gpu == 0, rule  # CPU stages never ask for a GPU
    assert engines == 5  # the teacher's, and one per eval model
