"""Run untrusted (model-generated) programs, only ever inside a bubblewrap sandbox.

Layout of one sandbox (one per submission, thrown away afterwards):

    host (this process; every write to and read from the worker is bound by a deadline kept here)
      `-- sh: joins a fresh cgroup (pids.max, memory limit, cpuacct)  [only when running as root]
            `-- setpriv: drops to uid/gid 65534, no groups, no caps   [only when running as root]
                  `-- bwrap: new user/pid/net/ipc/uts/cgroup namespaces, read-only /usr, tmpfs /tmp
                        `-- /usr/bin/python3 -I -S -c <worker.py>  (the warm worker; CAP_SYS_ADMIN in the
                            |                                     sandbox's user namespace only)
                            `-- C, per test: makes a fresh pid namespace, waits for P, ends as P ended
                                  `-- P: pid 1 of that namespace, own mount namespace and /proc, no caps,
                                      no_new_privs, seccomp denylist, rlimits, stdin from a memfd, capped
                                      output pipes; the program runs here and sees only its own processes

The worker holds the pipes to the host; the program can neither name it (other pid namespace) nor open
its descriptors (its /proc shows only its own namespace), root or not. CPU and memory are counted over all
of a test's processes (docs/sandbox.md).

stdin/stdout and call-based tests: the host decides, from the program's stdout or from its return value
decoded here as plain data (plain.py). Assertion tests (HumanEval, MBPP): TWO such sandboxes, the
program's and the checker's, joined only by two pipes that carry plain data (judge_asserts); the checks
and their verdict live where the program cannot reach them.

Sandboxes are started ahead (`spares`) by one long-lived thread; each still serves one submission only.
There is no fallback: if bwrap is missing or cannot start, SkyT1Error stops the scoring.
"""

from __future__ import annotations

import atexit
import itertools
import json
import marshal
import os
import queue
import select
import selectors
import shutil
import signal
import struct
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.errors import SkyT1Error
from . import plain

SANDBOX_PYTHON = "/usr/bin/python3"
# the worker is worker.py with plain.py (the plain-data boundary) in front as a string it runs when needed
_WORKER_SRC = (f"_PLAIN_SRC = {Path(__file__).with_name('plain.py').read_text()!r}\n"
               + Path(__file__).with_name("worker.py").read_text())
_COUNTER = itertools.count()
# Deadlines the host keeps on its own, whatever the worker says: a reply later than wall_s + HOST_SLACK_S
# after the job was sent is a time-limit failure; with none by wall_s + HOST_GRACE_S the sandbox is thrown
# away (the worker kills a test at wall_s and answers within milliseconds; the rest is for a loaded machine).
HOST_SLACK_S = 1.0
HOST_GRACE_S = 2.0


@dataclass(frozen=True)
class Limits:
    """Per-test limits (cpu_s, wall_s, output_bytes) and per-sandbox limits (memory, processes, scratch)."""
    cpu_s: float = 6.0
    wall_s: float = 10.0
    memory_mb: int = 2048          # address space of one test's process (RLIMIT_AS) and the cgroup's memory
    nproc: int = 64                # processes + threads in the whole sandbox (cgroup pids.max; RLIMIT_NPROC too)
    output_bytes: int = 8 << 20    # stdout (or the returned value) of one test
    file_mb: int = 64              # largest file a test may write (RLIMIT_FSIZE)
    scratch_mb: int = 64           # size of the writable tmpfs /tmp
    uid: int = 65534               # the unprivileged uid the sandbox runs as, when started by root
    startup_s: float = 10.0        # how long the worker may take to start
    # how the program runs (an evaluator profile sets these; the defaults are the judge's own behaviour)
    preamble: str = ""             # code run before the program, in its globals (e.g. an official harness's imports)
    recursion_limit: int = 10000   # sys.setrecursionlimit in the program's process
    int_max_str_digits: int | None = None  # sys.set_int_max_str_digits (None: Python's default, 4300)
    system_exit_ok: bool = False   # stdin/stdout: any SystemExit ends the program normally (exit status 0)
    wait_threads: bool = False     # wait (within wall_s) for non-daemon threads before the program's process ends
    keep_crlf: bool = False        # stdin without newline translation ("\r\n" stays, as StringIO(inputs) gives it)
    solution_lookup: str = "fallback"  # call: "fallback" = Solution().fn, else a module-level fn; "text" = as LCB
                                       # and APPS: "class Solution" in the program's text decides which, alone

    @classmethod
    def from_config(cls, cfg: dict | None) -> "Limits":
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise SkyT1Error(f"unknown sandbox limit(s): {', '.join(sorted(unknown))}",
                             f"use only {', '.join(cls.__dataclass_fields__)}")
        return cls(**cfg)

    def __post_init__(self):
        if self.solution_lookup not in ("fallback", "text"):
            raise SkyT1Error(f"sandbox limit solution_lookup={self.solution_lookup!r} is not 'fallback' or 'text'",
                             "use one of them")
        if self.wall_s <= 0 or self.cpu_s <= 0 or self.recursion_limit < 100:
            raise SkyT1Error(f"sandbox limits out of range (wall_s={self.wall_s}, cpu_s={self.cpu_s}, "
                             f"recursion_limit={self.recursion_limit})",
                             "use positive time limits and a recursion limit of at least 100")

    def with_(self, **kw) -> "Limits":
        return replace(self, **kw)


@dataclass
class RunResult:
    """What one test run did. status: ok | error | memory | cpu_timeout | wall_timeout | output_limit | signal |
    no_result | worker_died | load_error (| not_plain, check_failed: call and assertion tests)."""
    status: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    result: object = None
    has_result: bool = False
    wall: float | None = None
    cpu: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class WorkerDied(Exception):
    pass


def bwrap_path() -> str:
    path = shutil.which("bwrap") or ("/usr/bin/bwrap" if os.path.exists("/usr/bin/bwrap") else None)
    if not path:
        raise SkyT1Error("bubblewrap (bwrap) is not installed, and generated code is only ever run inside its sandbox",
                         "apt-get install -y --no-install-recommends bubblewrap (listed in requirements/apt.txt)")
    if not os.path.exists(SANDBOX_PYTHON):
        raise SkyT1Error(f"{SANDBOX_PYTHON} is missing; the sandbox runs programs with the system Python",
                         "apt-get install -y python3")
    return path


# ---------------------------------------------------------------------------------------------- cgroups
def _v1_mounts() -> dict[str, str]:
    mounts = {}
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4 and parts[2] == "cgroup":
                    for ctl in ("pids", "memory", "cpuacct"):
                        if ctl in parts[3].split(","):
                            mounts[ctl] = parts[1]
    except OSError:
        pass
    return mounts


def _own_cgroup(ctl: str) -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            if ctl in ctls.split(","):
                return path
    return "/"


class _Cgroup:
    """A per-sandbox cgroup (v1 pids + memory, and cpuacct where mounted: the worker reads its counter to
    hold the CPU limit across every process of a test) under this process's own cgroups; None-like if
    unavailable (not root, or no v1 pids and memory controllers)."""

    def __init__(self, limits: Limits):
        self.dirs: list[str] = []
        self.cpu_usage = None
        if os.geteuid() != 0:
            return
        name = f"skyt1-sandbox-{os.getpid()}-{next(_COUNTER)}"
        mounts = _v1_mounts()
        if not {"pids", "memory"} <= set(mounts):
            return
        self.cpu_usage: str | None = None
        try:
            for ctl, settings in (("pids", {"pids.max": str(limits.nproc)}),
                                  ("memory", {"memory.limit_in_bytes": str((limits.memory_mb + 256) << 20)}),
                                  ("cpuacct", {})):
                if ctl not in mounts:
                    continue
                d = os.path.join(mounts[ctl] + _own_cgroup(ctl), name)
                os.mkdir(d)
                self.dirs.append(d)
                for key, value in settings.items():
                    with open(os.path.join(d, key), "w") as f:
                        f.write(value)
                if ctl == "memory":
                    try:  # no swap beyond the limit where the kernel accounts it
                        with open(os.path.join(d, "memory.memsw.limit_in_bytes"), "w") as f:
                            f.write(str((limits.memory_mb + 256) << 20))
                    except OSError:
                        pass
                if ctl == "cpuacct":
                    self.cpu_usage = os.path.join(d, "cpuacct.usage")
        except OSError:
            self.remove()
            self.dirs = []
            self.cpu_usage = None

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        out = set()
        for f in self.procs_files:
            try:
                out.update(int(x) for x in open(f).read().split())
            except OSError:
                pass
        return out

    def kill_all(self, rounds: int = 250) -> None:
        for _ in range(rounds):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.002)

    def remove(self) -> None:
        for d in reversed(self.dirs):
            for _ in range(1000):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all(rounds=1)
                    time.sleep(0.002)
        self.dirs = []


# ---------------------------------------------------------------------------------------------- sandbox
class Sandbox:
    """Factory of sandbox sessions with fixed limits. Use `with sandbox.session() as s: s.load(code); s.run(...)`.

    `spares`: how many sandboxes (and, for assertion tests, linked pairs of them) to keep started ahead,
    in a background thread, once the first one has started: a response then does not wait for bubblewrap
    and Python to start. A spare is fresh and serves exactly one response, like any other. close() (also
    run at exit) stops the spares. Thread-safe: several threads may score through one Sandbox."""

    def __init__(self, limits: Limits | None = None, *, spares: int = 2):
        self.limits = limits or Limits()
        self.bwrap = bwrap_path()
        self.spares = max(0, int(spares))
        self._reset_pool()
        _LIVE.add(self)

    def _reset_pool(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._ready: dict[str, list] = {"single": [], "pair": []}
        self._pending = {"single": 0, "pair": 0}
        self._requests: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._warm = ""  # the preamble of the latest test run: a spare runs it ahead, while it waits

    def _forked(self) -> bool:
        """In a forked child the spares are the parent's (and the thread that made them is gone): forget
        them without touching them, and make the child's own."""
        if self._pid == os.getpid():
            return False
        self._reset_pool()
        return True

    def session(self) -> "Session":
        spare = self._take("single")
        return spare if spare is not None else Session(self)

    def pair(self) -> "tuple[Session, Session]":
        """A program's sandbox and a checker's sandbox, started and joined by two pipes (see judge_asserts)."""
        spare = self._take("pair")
        if spare is not None:
            return spare
        pair = _start_pair(self)
        self._refill("pair")
        return pair

    def _take(self, kind: str):
        self._forked()
        with self._lock:
            spare = None
            while self._ready[kind] and spare is None:
                spare = self._ready[kind].pop()
                sessions = spare if isinstance(spare, tuple) else (spare,)
                if any(x.proc is None or x.proc.poll() is not None for x in sessions):  # died while idle
                    for x in sessions:
                        x.close()
                    spare = None
        if spare is not None:
            self._refill(kind)
        return spare

    def _refill(self, kind: str) -> None:
        if not self.spares:
            return
        self._forked()
        with self._lock:
            if len(self._ready[kind]) + self._pending[kind] >= self.spares:
                return
            self._pending[kind] += 1
            if self._thread is None:
                # ONE long-lived thread starts every spare: bwrap's --die-with-parent is a parent-death signal,
                # which the kernel sends when the THREAD that started the process ends
                self._thread = threading.Thread(target=self._spare_maker, name="skyt1-sandbox-spares", daemon=True)
                self._thread.start()
        self._requests.put(kind)

    def _spare_maker(self) -> None:
        while True:
            kinds = [self._requests.get()]
            while True:  # start all that are wanted at once: the starts overlap
                try:
                    kinds.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            spawned = []
            for kind in kinds:
                try:
                    spawned.append((kind, _spawn_pair(self) if kind == "pair" else _spawn_one(self)))
                except Exception:  # a later response starts its own sandbox and reports the error
                    spawned.append((kind, ()))
            for kind, sessions in spawned:
                try:
                    for sess in sessions:
                        sess.handshake()
                    if kind == "single" and sessions and self._warm:
                        # no reply: the worker runs it before it reads the next message (a failing preamble
                        # is reported by the test that needs it)
                        sessions[0]._send({"op": "warm", "preamble": self._warm})
                    item = None if not sessions else (sessions if kind == "pair" else sessions[0])
                except Exception:
                    for sess in sessions:
                        sess.close()
                    item = None
                with self._lock:
                    self._pending[kind] -= 1
                    if item is not None:
                        self._ready[kind].append(item)
                    self._idle.notify_all()

    def close(self) -> None:
        """Stop the spare sandboxes (waiting for those still starting). The Sandbox stays usable."""
        if self._forked():
            return
        with self._lock:
            while any(self._pending.values()):
                self._idle.wait()
            ready = [x for items in self._ready.values() for x in items]
            for items in self._ready.values():
                items.clear()
        for item in ready:
            for sess in (item if isinstance(item, tuple) else (item,)):
                sess.close()


    def bwrap_argv(self) -> list[str]:
        lim = self.limits
        # CAP_SYS_ADMIN in the sandbox's own user namespace, for the worker alone: it puts each test in a pid
        # and mount namespace of its own; the test's process drops every capability first (worker.py)
        argv = [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--clearenv", "--cap-add", "CAP_SYS_ADMIN",
                "--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib64", "sbin"):
            p = f"/{name}"
            if os.path.islink(p):
                argv += ["--symlink", os.readlink(p), p]
            elif os.path.isdir(p):
                argv += ["--ro-bind", p, p]
        for f in ("/etc/ld.so.cache", "/etc/localtime"):
            if os.path.exists(f):
                argv += ["--ro-bind", f, f]
        argv += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(lim.scratch_mb << 20), "--tmpfs", "/tmp",
                 "--size", str(8 << 20), "--tmpfs", "/dev/shm",
                 "--chdir", "/tmp",
                 "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
                 "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONIOENCODING", "utf-8",
                 "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONHASHSEED", "0",
                 "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1"]
        return argv

    def launcher_argv(self, cgroup: _Cgroup, inner: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return inner  # already unprivileged: bwrap makes its own user namespace
        uid = str(self.limits.uid)
        drop = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        if not cgroup.procs_files:
            return drop + inner
        script = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *cgroup.procs_files, "--", *drop, *inner]


class Session:
    """One warm worker in one fresh sandbox: for the tests of ONE submission, closed afterwards. `links`:
    pipe ends handed to the worker (the two pipes between a program's and a checker's sandbox)."""

    def __init__(self, sandbox: Sandbox, links: tuple[int, ...] = ()):
        self.sandbox = sandbox
        self.links = tuple(links)
        self.limits = sandbox.limits
        self.proc: subprocess.Popen | None = None
        self.cgroup: _Cgroup | None = None
        self.dead = False
        self._buf = bytearray()
        self._stderr = bytearray()
        self.info: dict = {}

    # -- lifecycle
    def __enter__(self) -> "Session":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, spare: bool = False) -> None:
        if self.proc is not None:  # a spare, started ahead
            return
        self.spawn()
        self.handshake()
        if not spare:
            self.sandbox._refill("single")

    def spawn(self) -> None:
        """Start the sandbox's processes without waiting for them (so two sandboxes can start at once)."""
        self.cgroup = _Cgroup(self.limits)
        binds = ["--ro-bind", self.cgroup.cpu_usage, "/.skyt1/cpuacct.usage"] if self.cgroup.cpu_usage else []
        inner = self.sandbox.bwrap_argv() + binds + ["--", SANDBOX_PYTHON, "-I", "-S", "-c", _WORKER_SRC,
                                                     *map(str, self.links)]
        argv = self.sandbox.launcher_argv(self.cgroup, inner)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env={"PATH": "/usr/bin:/bin"}, start_new_session=True, close_fds=True,
                                         pass_fds=self.links, cwd="/")
            os.set_blocking(self.proc.stdin.fileno(), False)  # every write is deadline-bound (_send)
        except OSError as e:
            self.close()
            raise SkyT1Error(f"the sandbox could not start: {e}", "apt-get install bubblewrap util-linux") from e

    def handshake(self) -> None:
        try:
            hello = self._recv(time.monotonic() + self.limits.startup_s)
        except (WorkerDied, TimeoutError):
            hello = None
        iso = hello.get("isolation") if isinstance(hello, dict) else None
        if hello and hello.get("ready") and not (isinstance(iso, dict) and iso.get("pidns")):
            self.close()
            raise SkyT1Error("the sandbox cannot give each test its own pid namespace, so a program could reach "
                             "its worker", "use bubblewrap >= 0.5 run with user namespaces allowed (sysctl "
                             "user.max_user_namespaces > 0); code is never run without that boundary")
        if hello and hello.get("ready") and not iso.get("seccomp") and not (self.cgroup and self.cgroup.dirs):
            self.close()  # without a cgroup, memfds and SysV segments (which no rlimit counts) must be refused
            raise SkyT1Error(f"no memory cgroup and no seccomp filter for this CPU ({os.uname().machine}), so "
                             "memory outside every rlimit could not be bounded",
                             "run as root with cgroup v1 pids+memory mounted, or on x86_64/aarch64")
        if not hello or not hello.get("ready"):
            err = self._stderr.decode("utf-8", "replace").strip().splitlines()
            self.close()
            raise SkyT1Error(f"the bubblewrap sandbox could not start ({err[-1] if err else 'no message'})",
                             "make sure user namespaces are allowed (sysctl user.max_user_namespaces > 0, "
                             "kernel.unprivileged_userns_clone=1) and that bubblewrap is installed; "
                             "code is never run unsandboxed")
        self.info = hello

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap's pid 1 dies with it and takes the namespace along
            except OSError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    f.close()
                except Exception:
                    pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
            self.cgroup.remove()
            self.cgroup = None
        self.dead = True

    # -- protocol
    def _send(self, obj: dict, deadline: float | None = None) -> None:
        """Write one frame, never blocking past `deadline`: the worker may be stopped or stuck, and a pipe
        holds only 64 KiB. TimeoutError when it does not take the frame in time."""
        data = marshal.dumps(obj)  # plain dicts from the host: marshal is safe this way and the worker needs no json
        view = memoryview(struct.pack(">I", len(data)) + data)
        deadline = time.monotonic() + self.limits.startup_s if deadline is None else deadline
        try:
            fd = self.proc.stdin.fileno()
            while view:
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.dead = True
                    raise TimeoutError("the sandbox worker did not take its input in time")
                select.select([], [fd], [], remaining)
        except (BrokenPipeError, OSError, ValueError, AttributeError) as e:
            if isinstance(e, TimeoutError):
                raise
            self.dead = True
            raise WorkerDied("the sandbox worker is gone") from e

    def _recv(self, deadline: float) -> dict:
        """Read one frame; the worker is untrusted too: bounded size, bounded time."""
        max_frame = 8 * self.limits.output_bytes + (1 << 20)  # JSON escapes grow text
        out_fd, err_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(out_fd, selectors.EVENT_READ)
            sel.register(err_fd, selectors.EVENT_READ)
            while True:
                if len(self._buf) >= 4:
                    (n,) = struct.unpack(">I", self._buf[:4])
                    if n > max_frame:
                        self.dead = True
                        raise WorkerDied(f"the sandbox worker sent an oversized frame ({n} bytes)")
                    if len(self._buf) >= 4 + n:
                        body = bytes(self._buf[4:4 + n])
                        del self._buf[:4 + n]
                        try:
                            return json.loads(body)
                        except ValueError as e:
                            self.dead = True
                            raise WorkerDied("the sandbox worker sent garbage") from e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.dead = True
                    raise TimeoutError("the sandbox worker did not answer in time")
                events = sel.select(remaining)
                for key, _ in events:
                    chunk = os.read(key.fd, 1 << 16)
                    if key.fd == err_fd:
                        if not chunk:
                            sel.unregister(err_fd)
                        else:
                            self._stderr += chunk
                            del self._stderr[:-4096]
                        continue
                    if not chunk:
                        self.dead = True
                        raise WorkerDied("the sandbox worker exited")
                    self._buf += chunk

    def _call(self, msg: dict, timeout: float) -> dict:
        if self.dead or self.proc is None:
            raise WorkerDied("the sandbox worker is gone")
        deadline = time.monotonic() + timeout
        self._send(msg, deadline)
        return self._recv(deadline)

    # -- API
    def load(self, code: str) -> str | None:
        """Compile the program in the sandbox; returns None, or the compile error."""
        try:
            reply = self._call({"op": "load", "code": code}, timeout=self.limits.startup_s)
        except TimeoutError as e:
            self.close()
            raise WorkerDied(str(e)) from e
        return None if reply.get("ok") else str(reply.get("error") or "compile failed")

    def _job(self, mode: str, lim: Limits, **kw) -> dict:
        return {"op": "run", "mode": mode, "cpu_s": lim.cpu_s, "wall_s": lim.wall_s,
                "memory_bytes": lim.memory_mb << 20, "output_bytes": lim.output_bytes,
                "file_bytes": lim.file_mb << 20, "nproc": lim.nproc, "preamble": lim.preamble,
                "recursion_limit": lim.recursion_limit, "int_max_str_digits": lim.int_max_str_digits,
                "system_exit_ok": lim.system_exit_ok, "wait_threads": lim.wait_threads, "keep_crlf": lim.keep_crlf,
                "solution_lookup": lim.solution_lookup, **kw}

    def _reply(self, timeout: float, started: float | None = None, wall_s: float | None = None) -> RunResult:
        """The worker's reply, read by a deadline kept HERE: a worker that does not answer in time (stopped,
        stuck) is a time-limit failure and its sandbox is thrown away; a reply that comes later than the
        test's wall limit allows is a time-limit failure whatever it says."""
        try:
            reply = self._recv(time.monotonic() + timeout)
        except TimeoutError as e:
            self.close()
            return RunResult("wall_timeout", extra={"why": f"{e} (deadline kept by the host)"})
        except WorkerDied as e:
            self.close()
            return RunResult("worker_died", extra={"why": str(e)})
        if not isinstance(reply, dict):
            self.close()
            return RunResult("worker_died", extra={"why": "malformed reply"})
        r = RunResult(status=str(reply.get("status")), stdout=str(reply.get("stdout", "")),
                      stderr=str(reply.get("stderr", "")), exit_code=reply.get("exit_code"),
                      wall=reply.get("wall"), cpu=reply.get("cpu"))
        if isinstance(reply.get("result_text"), str):
            r.extra["result_text"] = reply["result_text"]
        if r.status == "isolation_failed":
            self.close()
            raise SkyT1Error(f"the sandbox could not isolate a test from its worker ({r.stderr.strip()[:300]})",
                             "use bubblewrap >= 0.5 with user namespaces allowed; code is never run without it")
        if r.status == "preamble_error":
            self.close()
            raise SkyT1Error(f"the evaluator preamble does not run: {r.stderr.strip()[:300]}",
                             "fix the profile's preamble (it runs in the sandbox's system Python)")
        if started is not None and wall_s is not None and time.monotonic() - started > wall_s + HOST_SLACK_S:
            r.status = "wall_timeout"  # the worker was held up past the deadline: its verdict does not count
            r.extra["why"] = "the reply came after the wall limit (deadline kept by the host)"
        return r

    def run(self, mode: str = "stdio", stdin: str = "", *, fn_name: str | None = None, args: list | None = None,
            limits: Limits | None = None) -> RunResult:
        """Run the loaded program once: mode stdio (stdin -> stdout) or call (fn_name(*args) -> value).
        A call's value is decoded here, on the host, strictly as plain data (plain.py): `result` is then a
        fresh value of builtin types only; anything else is status not_plain with the reason in extra."""
        lim = limits or self.limits
        self.sandbox._warm = lim.preamble
        r = self._reply_to(self._job(mode, lim, stdin=stdin, fn_name=fn_name, args=args or []), lim)
        if mode == "call" and r.status == "ok":
            _decode_call_result(r, lim.int_max_str_digits)
        return r

    def _reply_to(self, job: dict, lim: Limits) -> RunResult:
        started = time.monotonic()
        deadline = started + lim.wall_s + HOST_GRACE_S
        try:
            self._send(job, deadline)
        except TimeoutError as e:
            self.close()
            return RunResult("wall_timeout", extra={"why": f"{e} (deadline kept by the host)"})
        except WorkerDied as e:
            self.close()
            return RunResult("worker_died", extra={"why": str(e)})
        return self._reply(max(0.0, deadline - time.monotonic()), started, lim.wall_s)


def _decode_call_result(r: RunResult, max_digits: int | None = None) -> None:
    """The call's value, strictly as plain data; ints up to the test's own digit limit (the program's process
    ran with it, so that is what it could print); anything else is status not_plain, never an exception."""
    text = r.extra.pop("result_text", None)
    try:
        msg = plain.loads(text, max_digits=max_digits) if text is not None else None
    except ValueError as e:
        r.status, r.extra["why"] = "not_plain", f"the program's process sent something that is not plain data ({e})"
        return
    if type(msg) is list and len(msg) == 2 and msg[0] == "ok":
        r.result, r.has_result = msg[1], True
    elif type(msg) is list and len(msg) == 2 and msg[0] == "not_plain" and type(msg[1]) is str:
        r.status, r.extra["why"] = "not_plain", msg[1]
    else:
        r.status = "no_result"


def _spawn_one(sandbox: Sandbox) -> tuple[Session]:
    sess = Session(sandbox)
    sess.spawn()
    return (sess,)


def _spawn_pair(sandbox: Sandbox) -> tuple[Session, Session]:
    """A program's and a checker's sandbox, spawned (not yet handshaken) and joined by two pipes."""
    c2p_r, c2p_w = os.pipe()  # checker -> program: calls
    p2c_r, p2c_w = os.pipe()  # program -> checker: values
    prog, chk = Session(sandbox, links=(c2p_r, p2c_w)), Session(sandbox, links=(c2p_w, p2c_r))
    try:
        prog.spawn()
        chk.spawn()
    except BaseException:
        prog.close()
        chk.close()
        raise
    finally:
        for fd in (c2p_r, c2p_w, p2c_r, p2c_w):  # the sandboxes hold them now
            os.close(fd)
    return prog, chk


def _start_pair(sandbox: Sandbox) -> tuple[Session, Session]:
    prog, chk = _spawn_pair(sandbox)
    try:
        prog.handshake()
        chk.handshake()
    except BaseException:
        prog.close()
        chk.close()
        raise
    return prog, chk


_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sandbox in list(_LIVE):
        sandbox.close()


def judge_asserts(sandbox: Sandbox, program: str, test: str, *, starter: str = "", entry_point: str | None = None,
                  call_check: bool = False, limits: Limits | None = None) -> RunResult:
    """Run assertion tests (HumanEval's check(candidate), MBPP's asserts) so that the program cannot
    touch their verdict: the program runs in one sandbox, the tests in a second one, and the only thing
    between them is two pipes carrying plain data (calls one way, values the other). In the tests'
    sandbox `candidate` (and every name the tests use but do not define, except builtins and standard
    modules) is a Remote that forwards a call. The verdict is written by the checker's process, which the
    program can neither see nor signal, and it is read here.

    Returns RunResult: status ok with result "pass", or the failure: status check_failed with
    extra {"kind", "detail"} (wrong answer, runtime error, not plain data, program ended), or what ended
    either process (time/memory limits, worker died); status load_error when the program does not compile.
    """
    lim = limits or sandbox.limits
    prog, chk = sandbox.pair()
    try:
        err = prog.load(program)
        if err:
            return RunResult("load_error", stderr=err)
        err = chk.load({"starter": starter or "", "test": test})
        if err:
            raise SkyT1Error(f"the tests themselves do not compile: {err}", "check the record's `test` code")
        try:
            prog._send(prog._job("serve", lim), time.monotonic() + lim.wall_s + HOST_GRACE_S)
        except (WorkerDied, TimeoutError) as e:
            return RunResult("worker_died", extra={"why": str(e)})
        r = chk._reply_to(chk._job("check", lim, entry_point=entry_point, call_check=call_check), lim)
        if r.status == "worker_died":
            return r
        try:
            verdict = json.loads(r.extra.pop("result_text", "") or "null")
        except ValueError:
            verdict = None
        if r.status != "ok" or not isinstance(verdict, dict):
            # the checker was stopped (time, memory): say so; the program's process is what it waited on
            return r if r.status != "ok" else RunResult("no_result", stderr=r.stderr)
        if verdict.get("verdict") == "pass":
            return RunResult("ok", result="pass", has_result=True, wall=r.wall, cpu=r.cpu)
        kind, detail = str(verdict.get("kind")), str(verdict.get("detail", ""))
        if kind == "program ended":  # why did it end? its own worker knows (limits, exit status, traceback)
            pr = prog._reply(2.0)
            if pr.status in ("cpu_timeout", "wall_timeout", "memory", "output_limit", "signal", "worker_died"):
                return pr
            last = pr.stderr.strip().splitlines()[-1:] if pr.stderr.strip() else []
            detail = (f"{detail}: exit status {pr.exit_code}" + (f", {last[0][:300]}" if last else "")
                      if pr.exit_code is not None else detail)
        return RunResult("check_failed", stderr=r.stderr, wall=r.wall, cpu=r.cpu,
                         extra={"kind": kind, "detail": detail})
    finally:
        prog.close()
        chk.close()


def run_program(code: str, stdin: str = "", limits: Limits | None = None) -> RunResult:
    """One program, one input, one fresh sandbox (convenience for tools and tests)."""
    with Sandbox(limits).session() as s:
        err = s.load(code)
        if err:
            return RunResult("load_error", stderr=err)
        return s.run("stdio", stdin)
