"""Generation engines behind the one OpenAI-compatible client path (generation.openai_backend).

A stage's `backend.name` picks the engine its requests go to:
- `skyt1`: the project's CPU engine server (skyt1.serving: continuous batching on transformers), whose
  transformers internals stay behind the HTTP boundary, in the process of the environment that started it;
- `vllm`: vLLM's own OpenAI-compatible server (`vllm serve`), tensor-parallel over the job's GPUs, with the
  preset's engine arguments (needs CUDA GPUs and the vllm package: envs/vllm.yaml);
- `openai`: an external endpoint (the OpenAI API, a shared vLLM, a provider): nothing is started.

Local engines are shared. `lease(launch, ...)` finds a healthy engine started with the same launch in the
registry folder (on this host, in this Slurm allocation) or starts one, and holds a lease on it for the
block. The engine runs under a watchdog (`python -m skyt1.engines watch`) that stops it once no lease has
been held for `idle_s` seconds, so the evaluations of one model, or the sampling jobs of one teacher, that
follow one another share one load; a job that fails drops its lease like one that succeeds. Each engine's
log is the log of the job that started it; a later job's log names it."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import SkyT1Error
from .io import stable_hash

log = logging.getLogger(__name__)

LOCAL_ENGINES: dict[str, Callable[..., list[str]]] = {}
EXTERNAL = "openai"


def register(name: str):
    def deco(fn):
        LOCAL_ENGINES[name] = fn
        return fn
    return deco


def is_local(backend_cfg: dict) -> bool:
    return backend_cfg["name"] in LOCAL_ENGINES


def on_engine(config: dict, stage: str) -> bool:
    """Whether a generation stage (sample, rewrite, eval) runs on a local engine of its own."""
    from .settings import ENGINE_SECTIONS

    return is_local(config[ENGINE_SECTIONS[stage]]["backend"])


def engine_gpus(config: dict, stage: str) -> int:
    """GPUs of a stage's engine: vLLM takes exactly its tensor-parallel GPUs (one node), the others
    resources.<stage's rule>.gpu."""
    from .config import resource
    from .settings import ENGINE_RESOURCES, ENGINE_SECTIONS

    backend = config[ENGINE_SECTIONS[stage]]["backend"]
    if backend["name"] == "vllm":
        return int(backend.get("tensor_parallel_size", 1))
    return int(resource(config, ENGINE_RESOURCES[stage], "gpu") or 0)


def job_resource(config: dict, stage: str, key: str):
    """A resource of one of a generation stage's jobs. On a local engine the job is a client: threads and
    memory of resources.client, no GPU (its engine job has them, in the same group job), the stage's
    runtime; otherwise (an external endpoint) the stage's rule's resources."""
    from .config import resource
    from .settings import ENGINE_RESOURCES

    if on_engine(config, stage) and key != "runtime":
        return 0 if key == "gpu" else resource(config, "client", key)
    return resource(config, ENGINE_RESOURCES[stage], key)


@dataclass(frozen=True)
class Launch:
    """How a local engine is started: argv with a `{port}` placeholder, and where it answers /health."""
    kind: str
    argv: tuple[str, ...]
    name: str
    health: str = "/health"

    def key(self) -> str:
        return stable_hash({"kind": self.kind, "argv": list(self.argv), "scope": scope()})[:16]

    def command(self, port: int) -> list[str]:
        return [a.replace("{port}", str(port)) for a in self.argv]


@register("skyt1")
def _skyt1_argv(cfg: dict, model_dir: str, name: str, threads: int, gpus: int, executable: str | None) -> list[str]:
    return [executable or sys.executable, "-m", "skyt1.serving", "--model", model_dir, "--name", name,
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
    """The launch of a stage's local engine. `executable` (the engine job's interpreter, or its `vllm`)
    keeps the engine in the environment of the rule that declared it, whichever job starts it."""
    kind = cfg["name"]
    if kind not in LOCAL_ENGINES:
        raise SkyT1Error(f"backend {kind!r} starts no engine", f"use one of {sorted(LOCAL_ENGINES)}, or {EXTERNAL!r} for an endpoint")
    argv = LOCAL_ENGINES[kind](cfg, str(Path(model_dir).resolve()), name, threads, gpus, executable)
    return Launch(kind=kind, argv=tuple(argv), name=name)


def scope() -> str:
    """Where an engine can be shared: this host, and this Slurm allocation (another job's engine dies with
    its allocation)."""
    return f"{socket.gethostname()}:{os.environ.get('SLURM_JOB_ID', '')}"


def default_registry(cache_cfg: dict | None) -> Path:
    return Path((cache_cfg or {}).get("dir", ".cache/skyt1")) / "engines"


@dataclass
class Engine:
    url: str           # the /v1 base URL
    reused: bool       # found running (no load paid by this lease)
    load_seconds: float
    log: str | None
    key: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_record(path: Path, record: dict) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def live_leases(leases: Path) -> list[Path]:
    """Lease files whose holder still runs; stale ones (a holder killed with -9) are removed."""
    live = []
    for f in leases.glob("*") if leases.exists() else ():
        try:
            pid = int(f.read_text() or 0)
        except (OSError, ValueError):
            continue
        if pid and _alive(pid):
            live.append(f)
        else:
            f.unlink(missing_ok=True)
    return live


@contextlib.contextmanager
def lease(launch: Launch, registry: Path, *, log_path: str | None = None, startup_timeout: float = 600.0,
          idle_s: float = 120.0) -> Iterator[Engine]:
    """Hold a lease on a running engine for `launch`, starting it if none answers."""
    registry = Path(registry)
    registry.mkdir(parents=True, exist_ok=True)
    key = launch.key()
    record_path, leases = registry / f"{key}.json", registry / f"{key}.leases"
    leases.mkdir(exist_ok=True)
    mine = leases / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with _locked(registry / f"{key}.lock"):  # one starter per launch; the others wait and reuse it
        mine.write_text(str(os.getpid()))
        try:
            record = _read_record(record_path)
            if (record and record.get("scope") == scope() and _alive(record["pid"])
                    and healthy(record["url"] + launch.health)):
                engine = Engine(record["url"] + "/v1", True, 0.0, record.get("log"), key)
                log.info("engine %s (%s) reused at %s; its log: %s", launch.kind, launch.name, record["url"], record.get("log"))
            else:
                engine = _start(launch, record_path, leases, log_path, startup_timeout, idle_s)
        except BaseException:
            mine.unlink(missing_ok=True)
            raise
    try:
        yield engine
    finally:
        mine.unlink(missing_ok=True)


def lease_for_stage(launch: Launch, backend_cfg: dict, cache_cfg: dict | None, log_path: str | None = None):
    """`lease` with a stage's settings: the registry under its cache folder, backend.startup_timeout_s and
    backend.idle_s."""
    return lease(launch, default_registry(cache_cfg), log_path=log_path,
                 startup_timeout=backend_cfg.get("startup_timeout_s", 600), idle_s=backend_cfg.get("idle_s", 120))


def _start(launch: Launch, record_path: Path, leases: Path, log_path: str | None, startup_timeout: float,
           idle_s: float) -> Engine:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "skyt1.engines", "watch", "--record", str(record_path), "--leases", str(leases),
           "--idle-s", str(idle_s), "--", *launch.command(port)]
    where = log_path or os.devnull
    out = open(where, "a", encoding="utf-8")
    out.write(f"engine {launch.kind} for {launch.name}: {' '.join(launch.command(port))}\n")
    out.flush()
    t0 = time.time()
    # Its own session: Snakemake ending this job does not end the engine (the watchdog does, when idle).
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    out.close()
    try:
        while not healthy(url + launch.health):
            if proc.poll() is not None:
                raise SkyT1Error(f"the {launch.kind} engine for {launch.name} exited with code {proc.returncode} "
                                 f"before it answered {launch.health}", f"read its log: {where}")
            if time.time() - t0 > startup_timeout:
                raise SkyT1Error(f"the {launch.kind} engine for {launch.name} did not answer {launch.health} "
                                 f"within {startup_timeout:.0f} s", f"read its log: {where}; or raise backend.startup_timeout_s")
            time.sleep(0.2)
    except BaseException:
        _terminate(proc.pid)
        proc.wait()
        raise
    load = round(time.time() - t0, 2)
    _write_record(record_path, {"url": url, "pid": proc.pid, "scope": scope(), "log": log_path, "kind": launch.kind,
                                "name": launch.name, "load_seconds": load, "started": time.time()})
    log.info("engine %s (%s) started at %s in %.1f s; its log: %s", launch.kind, launch.name, url, load, where)
    return Engine(url + "/v1", False, load, log_path, record_path.stem)


def _terminate(pgid: int, grace: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    t0 = time.time()
    while time.time() - t0 < grace:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def running(registry: Path) -> list[dict]:
    """The engines this registry knows that still run here."""
    out = []
    for path in sorted(Path(registry).glob("*.json")):
        rec = _read_record(path)
        if rec and rec.get("scope") == scope() and _alive(rec["pid"]):
            out.append({**rec, "key": path.stem, "leases": len(live_leases(path.with_suffix(".leases")))})
    return out


def stop_all(registry: Path) -> int:
    """Stop every engine of this registry running here (`skyt1 engines stop`); returns how many."""
    stopped = 0
    for rec in running(registry):
        _terminate(rec["pid"])
        stopped += 1
    return stopped


# ---- the watchdog ------------------------------------------------------------------------------------

def watch(argv: list[str], record: Path, leases: Path, idle_s: float, poll: float = 0.5) -> int:
    """Run the engine; stop it when no lease has been held for idle_s seconds, or on SIGTERM."""
    child = subprocess.Popen(argv)  # same session and log as the watchdog
    stopping = False

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    idle_since = None
    lock = record.with_suffix(".lock")
    try:
        while child.poll() is None and not stopping:
            if live_leases(leases):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_s:
                with _locked(lock):  # a lease taken meanwhile keeps the engine
                    if not live_leases(leases):
                        rec = _read_record(record)
                        if rec and rec.get("pid") == os.getpid():
                            record.unlink(missing_ok=True)
                        print(f"engine idle for {idle_s:.0f} s with no lease: stopping it", flush=True)
                        break
                idle_since = None
            time.sleep(poll)
    finally:
        rec = _read_record(record)
        if rec and rec.get("pid") == os.getpid():
            record.unlink(missing_ok=True)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0 if child.returncode in (0, -signal.SIGTERM) else (child.returncode or 0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m skyt1.engines", description="Run an engine under the idle watchdog.")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--record", required=True)
    w.add_argument("--leases", required=True)
    w.add_argument("--idle-s", type=float, required=True)
    w.add_argument("engine", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    engine = args.engine[1:] if args.engine[:1] == ["--"] else args.engine
    sys.exit(watch(engine, Path(args.record), Path(args.leases), args.idle_s))


if __name__ == "__main__":
    main()
