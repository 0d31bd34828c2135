"""Glue for rule scripts: log to the rule's log file, turn SkyT1Error into one clear line."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Callable

from ..core.errors import SkyT1Error


def run_stage(snakemake, fn: Callable[..., object]) -> None:
    """Call fn(snakemake) with logging and stderr (progress bars) sent to the rule's log, then write the
    job's lineage record next to each output."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    real_stderr = sys.stderr
    handle = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else real_stderr
    logging.basicConfig(level=logging.INFO, stream=handle, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Where the job ran: the scheduler's job id and the GPUs it was given (tests/test_slurm.py reads these).
    logging.getLogger("skyt1.workflow.runner").info(
        "job: rule=%s slurm_job_id=%s cuda_visible_devices=%s", snakemake.rule,
        os.environ.get("SLURM_JOB_ID", "none"), os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    sys.stderr = handle
    try:
        from ..provenance import reset, take_sources, write_job_record

        reset()  # this job's provenance: git run once, each input hashed once, shared by its stats and record
        take_sources()
        fn(snakemake)
        write_job_record(snakemake)  # the lineage record beside each output (skyt1 provenance reads it)
    except SkyT1Error as e:
        line = f"skyt1 error in rule {snakemake.rule}: {e}"
        print(line, file=handle, flush=True)
        if handle is not real_stderr:
            print(line, file=real_stderr, flush=True)
        sys.exit(1)
    except Exception:
        traceback.print_exc(file=handle)
        if handle is not real_stderr:
            print(f"skyt1: rule {snakemake.rule} crashed; the traceback is in {log_path}", file=real_stderr, flush=True)
        sys.exit(1)
    finally:
        sys.stderr = real_stderr
        if handle is not real_stderr:
            handle.close()


def optional_input(snakemake, name: str) -> str | None:
    """A named input that may be empty (api models have no weights folder)."""
    if name not in snakemake.input.keys():
        return None
    value = getattr(snakemake.input, name)
    if isinstance(value, str):
        return value
    return value[0] if len(value) else None


def each_target_on_its_engine(sm, rule: str, key: str, stage: str, run_one: Callable[..., str]) -> None:
    """A generation job's targets (one spec per name in `sm.params.spec`, keyed by wildcard `key`), all on
    the one engine the job owns (skyt1.stages.common.JobEngine: started on the first cache miss, stopped
    when the job ends). run_one(i, name, args, job) makes target i and returns its main output (args: the
    target's spec as a dict; job: a stages.common.Job with the rule's threads, GPUs, log and the engine);
    the engine's manifest (its loads, for the cost ledger) goes to sm.output.engine."""
    from ..settings import target_args
    from ..stages.common import Job, JobEngine, Model

    names = list(sm.params.spec)
    first = target_args(rule, sm, key, names[0])
    backend = (first["cfg"] if "cfg" in first else first["eval_cfg"])["backend"]
    model_name = first["model_name"] if "model_name" in first else sm.wildcards.label
    job = Job(threads=sm.threads, gpus=sm.resources.get("gpu", 0), log_path=sm.log[0])
    with JobEngine(backend, Model(optional_input(sm, "model"), first["model_spec"], model_name), job, stage) as engine:
        job = Job(job.threads, job.gpus, job.log_path, engine.owned)
        outputs = [run_one(i, name, target_args(rule, sm, key, name), job) for i, name in enumerate(names)]
    engine.write(sm.output.engine, outputs)
