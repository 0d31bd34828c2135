"""The engine job of a generation stage on a local engine (skyt1 or vllm): it starts the engine that the
stage's jobs for one model (every benchmark of one eval model, every source of the teacher) then lease,
so they share one load, and writes a manifest of what was loaded, how, and in how long.

The manifest is a temporary output (rules/engine.smk): it exists while its stage's jobs run, so any of
them that has to run brings its engine job along (on Slurm, in the same group job, on the same GPUs)."""

from __future__ import annotations

import logging
import socket
import sys

from .. import engines
from ..io import write_json
from ..models import identity
from ..settings import engine_identity

log = logging.getLogger(__name__)


def run(model_dir: str, out_path: str, *, stage: str, cfg: dict, model_name: str, threads: int = 1, gpus: int = 0,
        cache_cfg: dict | None = None, log_path: str | None = None) -> None:
    backend = cfg["backend"]
    launch = engines.launch_for(backend, model_dir, model_name, threads=threads, gpus=gpus)
    with engines.lease_for_stage(launch, backend, cache_cfg, log_path) as eng:
        pass  # the lease ends here; the engine stays up for idle_s, for the stage's jobs to lease
    write_json(out_path, {
        "stage": stage, "model_name": model_name, "kind": backend["name"], "model": identity(model_dir),
        # the interpreter (skyt1) or vllm executable of this rule's environment: whichever job starts the
        # engine starts this one, so it stays in the environment its rule declares
        "executable": launch.argv[0], "threads": threads, "gpus": gpus,
        "engine": engine_identity(backend, api=False), "load_seconds": eng.load_seconds, "reused": eng.reused,
        "host": socket.gethostname(), "python": sys.version.split()[0]})
    log.info("engine %s for %s: %s in %.1f s", backend["name"], model_name,
             "reused" if eng.reused else "loaded", eng.load_seconds)
