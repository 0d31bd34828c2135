"""Generation engines behind the one OpenAI-compatible client path (generation.openai_backend).

A stage's `backend.name` picks the engine its requests go to:
- `skyt1`: the project's CPU engine server (skyt1.engine.server: continuous batching on transformers), whose
  transformers internals stay behind the HTTP boundary, in the process of the environment that started it;
- `vllm`: vLLM's own OpenAI-compatible server (`vllm serve`), tensor-parallel over the job's GPUs, with the
  preset's engine arguments (needs CUDA GPUs and the vllm package: envs/vllm.yaml);
- `openai`: an external endpoint (the OpenAI API, a shared vLLM, a provider): nothing is started.

A job owns its engine (docs/cluster.md): `OwnedEngine` starts the engine as a child of the job's own
process on the first request that misses the request cache, and stops it when the job is done, fails or
is killed. Nothing outlives the job's process tree, so it holds under any process tracking (Slurm's
proctrack/cgroup kills whatever a step leaves behind). One job runs every target of its stage for one
model (rules/sample.smk, rewrite.smk, eval.smk), so a whole stage pays one load per model (and shard)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.errors import SkyT1Error
from ..core.registry import Registry

log = logging.getLogger(__name__)

# Engines a job starts (backend name -> its argv builder); `openai` is an endpoint, started by nobody.
LOCAL_ENGINES: Registry[Callable[..., list[str]]] = Registry("engine", "or 'openai' for an endpoint")
EXTERNAL = "openai"
register = LOCAL_ENGINES.register


def is_local(backend_cfg: dict) -> bool:
    return backend_cfg["name"] in LOCAL_ENGINES


def on_engine(config: dict, stage: str) -> bool:
    """Whether a generation stage (sample, rewrite, eval) runs on a local engine of its own."""
    from ..settings import ENGINE_SECTIONS

    return is_local(config[ENGINE_SECTIONS[stage]]["backend"])


def engine_gpus(config: dict, stage: str) -> int:
    """GPUs of a stage's engine: vLLM takes exactly its tensor-parallel GPUs (one node), the others
    resources.<stage's rule>.gpu."""
    from ..config import resource
    from ..settings import ENGINE_RESOURCES, ENGINE_SECTIONS

    backend = config[ENGINE_SECTIONS[stage]]["backend"]
    if backend["name"] == "vllm":
        return int(backend.get("tensor_parallel_size", 1))
    return int(resource(config, ENGINE_RESOURCES[stage], "gpu") or 0)


def job_resource(config: dict, stage: str, key: str, targets: int = 1):
    """A resource of a generation stage's job, which runs `targets` targets (benchmarks, sources) of one
    model and owns its engine: the stage's threads and memory, the engine's GPUs (vLLM: its tensor-parallel
    size), and a runtime of one engine start (resources.engine.runtime) plus the stage's runtime per target."""
    from ..config import resource
    from ..settings import ENGINE_RESOURCES

    section = ENGINE_RESOURCES[stage]
    if key == "gpu":
        return engine_gpus(config, stage) if on_engine(config, stage) else int(resource(config, section, "gpu") or 0)
    if key == "runtime":
        start = int(resource(config, "engine", "runtime") or 0) if on_engine(config, stage) else 0
        return start + int(resource(config, section, "runtime")) * max(1, targets)
    return resource(config, section, key)


@dataclass(frozen=True)
class Launch:
    """How a local engine is started: argv with a `{port}` placeholder, and where it answers /health."""
    kind: str
    argv: tuple[str, ...]
    name: str
    health: str = "/health"

    def command(self, port: int) -> list[str]:
        return [a.replace("{port}", str(port)) for a in self.argv]


@register("skyt1")
def _skyt1_argv(cfg: dict, model_dir: str, name: str, threads: int, gpus: int, executable: str | None) -> list[str]:
    return [executable or sys.executable, "-m", "skyt1.engine.server", "--model", model_dir, "--name", name,
            "--port", "{port}", "--batch-size", str(cfg.get("batch_size", 16)), "--threads", str(max(1, threads)),
            "--max-wait-ms", str(cfg.get("max_wait_ms", 50)), "--dtype", cfg.get("dtype", "float32"),
            "--device", cfg.get("device", "auto")] \
        + (["--max-model-len", str(cfg["max_model_len"])] if cfg.get("max_model_len") else [])


VLLM_MAX_NUM_SEQS = 256  # vLLM's own default of --max-num-seqs (its scheduler's sequences at once)


def max_num_seqs(cfg: dict) -> int:
    """Sequences a local engine decodes at once: backend.batch_size, else vLLM's default for vllm (the CPU
    engine's own default is 16)."""
    return int(cfg.get("batch_size") or (VLLM_MAX_NUM_SEQS if cfg.get("name") == "vllm" else 16))


@register("vllm")
def _vllm_argv(cfg: dict, model_dir: str, name: str, threads: int, gpus: int, executable: str | None) -> list[str]:
    exe = executable or shutil.which("vllm")
    if not exe:
        raise SkyT1Error("backend 'vllm' needs the vllm package and CUDA GPUs, which this machine lacks",
                         "run the stage on a GPU node in envs/vllm.yaml (--sdm conda), or use backend.name: skyt1 on CPU")
    argv = [exe, "serve", model_dir, "--served-model-name", name, "--host", "127.0.0.1", "--port", "{port}",
            "--tensor-parallel-size", str(cfg.get("tensor_parallel_size") or max(gpus, 1)),
            "--dtype", cfg.get("dtype", "auto"),
            "--gpu-memory-utilization", str(cfg.get("gpu_memory_utilization", 0.9)),
            "--max-num-seqs", str(max_num_seqs(cfg)),
            # sampling fields a request leaves out get vLLM's defaults, not the model folder's
            # generation_config.json (Qwen2.5's sets repetition_penalty 1.05, top_k 20): the recipe's greedy
            # traces and evaluations stay greedy (vLLM's default, `auto`, would apply that file)
            "--generation-config", "vllm"]
            # no --disable-log-requests: vLLM 0.12 removed it (vllm-project/vllm#29402) and logs no requests
            # by default; envs/vllm.yaml pins 0.34.0, which would refuse to start with it
    if cfg.get("max_model_len"):
        argv += ["--max-model-len", str(cfg["max_model_len"])]
    return argv


def launch_for(cfg: dict, model_dir: str, name: str, threads: int = 1, gpus: int = 0,
               executable: str | None = None) -> Launch:
    """The launch of a stage's local engine. `executable` (an interpreter, or a `vllm`, other than this environment's)
    runs the engine there instead."""
    kind = cfg["name"]
    argv = LOCAL_ENGINES.get(kind)(cfg, str(Path(model_dir).resolve()), name, threads, gpus, executable)
    return Launch(kind=kind, argv=tuple(argv), name=name)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the engine's child process: SIGTERM when the job's process dies, even by SIGKILL (Linux
    PR_SET_PDEATHSIG), so a killed job leaves no engine behind even without cgroup tracking."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class OwnedEngine:
    """A local engine owned by this process: started on the first `url()` (a job whose requests all hit
    the request cache starts none), stopped by `close()` (the engine's whole process group: vLLM's
    workers too), on SIGTERM of the owner, and by the kernel if the owner dies."""

    def __init__(self, launch: Launch, log_path: str | None = None, startup_timeout: float = 600.0):
        self.launch, self.log_path, self.startup_timeout = launch, log_path, startup_timeout
        self.proc: subprocess.Popen | None = None
        self.base: str | None = None
        self.load_seconds = 0.0
        self.loads = 0
        self.started_for: str | None = None  # the target whose first cache miss started it
        self._old_term = None

    def __enter__(self) -> "OwnedEngine":
        # SIGTERM (scancel, Snakemake stopping a job) becomes SystemExit, so close() runs on the way out.
        if threading.current_thread() is threading.main_thread():
            self._old_term = signal.signal(signal.SIGTERM, _term_to_exit)
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)

    def url(self, target: str | None = None) -> str:
        """The engine's /v1 base URL, starting it if it is not running."""
        if self.proc is None:
            self._start()
            self.started_for = target
        elif self.proc.poll() is not None:
            raise SkyT1Error(f"the {self.launch.kind} engine for {self.launch.name} exited with code "
                             f"{self.proc.returncode} while its job ran", f"read its log: {self.log_path or 'none'}")
        return self.base + "/v1"

    def _start(self) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = self.launch.command(port)
        where = self.log_path or os.devnull
        with open(where, "a", encoding="utf-8") as out:
            out.write(f"engine {self.launch.kind} for {self.launch.name}: {' '.join(cmd)}\n")
            out.flush()
            t0 = time.time()
            # Its own process group so close() reaches every process it starts; still a child of this job
            # (and in its cgroup): it dies with the job.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        try:
            while not healthy(base + self.launch.health):
                if self.proc.poll() is not None:
                    raise SkyT1Error(f"the {self.launch.kind} engine for {self.launch.name} exited with code "
                                     f"{self.proc.returncode} before it answered {self.launch.health}",
                                     f"read its log: {where}")
                if time.time() - t0 > self.startup_timeout:
                    raise SkyT1Error(f"the {self.launch.kind} engine for {self.launch.name} did not answer "
                                     f"{self.launch.health} within {self.startup_timeout:.0f} s",
                                     f"read its log: {where}; or raise backend.startup_timeout_s")
                time.sleep(0.2)
        except BaseException:
            self.close()
            raise
        self.base, self.loads = base, self.loads + 1
        self.load_seconds = round(time.time() - t0, 2)
        log.info("engine %s (%s) started at %s in %.1f s (pid %d); its log: %s", self.launch.kind,
                 self.launch.name, base, self.load_seconds, self.proc.pid, where)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def close(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        _terminate(proc.pid)
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
        log.info("engine %s (%s) stopped (exit %s)", self.launch.kind, self.launch.name, proc.returncode)

    def manifest(self) -> dict:
        """What this job's engine did: the ledger counts `loads` (0 when every request hit the cache)."""
        return {"kind": self.launch.kind, "model_name": self.launch.name, "loads": self.loads,
                "load_seconds": self.load_seconds, "started_for": self.started_for,
                "executable": self.launch.argv[0], "host": socket.gethostname(),
                "slurm_job_id": os.environ.get("SLURM_JOB_ID")}


def _term_to_exit(signum, frame):
    raise SystemExit(128 + signum)


def owned_for_stage(launch: Launch, backend_cfg: dict, log_path: str | None = None) -> OwnedEngine:
    return OwnedEngine(launch, log_path, startup_timeout=backend_cfg.get("startup_timeout_s", 600))


def _terminate(pgid: int, grace: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    t0 = time.time()
    while time.time() - t0 < grace:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        # reap our child if it is the leader, so killpg(…, 0) stops finding a zombie
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
