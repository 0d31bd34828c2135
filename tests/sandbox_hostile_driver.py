"""Hostile programs against the sandbox boundary (issue 22), run by tests/test_sandbox_hostile.py in both
modes: in pytest's own process (root: setpriv + per-sandbox cgroups) and as `nobody` in a subprocess
(`setpriv --reuid=65534 ... /usr/bin/python3 tests/sandbox_hostile_driver.py`: no setpriv, no cgroup, the
way a laptop or a Slurm node runs it). Standard library + skyt1.sandbox only, so the system Python of an
unprivileged user can run it; it prints one JSON object.

Each program prints "ok" for input "ok" only if its attack worked (or it wants a late or forged "ok"
scored); a family is contained when the run is NOT scored passed (stdout "ok" with status ok).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from skyt1.sandbox import Limits, Sandbox

LIMITS = Limits(cpu_s=1, wall_s=3, memory_mb=256, nproc=32, output_bytes=1 << 20, file_mb=8, scratch_mb=16)

STOP_WORKER = r"""
import os, signal, time
me = os.getpid()
targets = {int(p) for p in os.listdir('/proc') if p.isdigit()} | {os.getppid(), 1, 2, 3, 4}
stopped = []
for pid in sorted(targets - {me, 0}):
    try:
        os.kill(pid, signal.SIGSTOP)
        stopped.append(pid)
    except OSError:
        pass
time.sleep(3.5)                 # past the wall limit, with the worker (if reached) stopped
print('ok', flush=True)         # the "answer", written late
for pid in stopped:
    os.kill(pid, signal.SIGCONT)
"""

PTRACE_WORKER = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
hit = []
for pid in range(1, 40):
    if pid == os.getpid():
        continue
    if libc.ptrace(16, pid, 0, 0) == 0:          # PTRACE_ATTACH
        hit.append(pid)
    try:
        os.kill(pid, 0)
        hit.append(('signal', pid))
    except OSError:
        pass
print('ok' if hit else 'unreachable')
"""

FORGE_FRAMES = r"""
import json, os, struct
frame = json.dumps({"status": "ok", "stdout": "ok\n", "stderr": "", "exit_code": 0, "wall": 0.01,
                    "cpu": 0.01}).encode()
forged = 0
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['1', '2', '3']:
    if pid == str(os.getpid()):
        continue                                # its own stdout is what is judged anyway
    for fd in (0, 1, 2):
        try:
            with open(f'/proc/{pid}/fd/{fd}', 'wb', buffering=0) as f:
                f.write(struct.pack('>I', len(frame)) + frame)
                forged += 1
        except OSError:
            pass
# a forged reply would say "ok"; the program itself answers wrong
print('forged' if forged else 'none')
"""

FORK_FRESH_CPU = r"""
import os, time
def burn(s):
    t = time.process_time()
    while time.process_time() - t < s:
        pass
for _ in range(5):                              # 5 x 0.6 s of CPU, each helper under the 1 s rlimit
    pid = os.fork()
    if pid == 0:
        burn(0.6)
        os._exit(0)
    os.waitpid(pid, 0)
print('ok')
"""

FORK_AUTOREAPED_CPU = r"""
import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel: no one's cutime grows
def burn(s):
    t = time.process_time()
    while time.process_time() - t < s:
        pass
r, w = os.pipe()
for _ in range(5):
    if os.fork() == 0:
        burn(0.6)
        os.write(w, b'.')                       # done: 0.6 s of CPU that no rlimit and no rusage counts
        os._exit(0)
    time.sleep(0.05)
done = b''
while len(done) < 5:
    done += os.read(r, 5)
print('ok')
"""

MEMORY_PROCESSES = r"""
import os, time
kids = []
for _ in range(3):                              # 3 x 200 MB, each under the 256 MB address-space rlimit
    pid = os.fork()
    if pid == 0:
        x = bytearray(200 * 2**20)
        for i in range(0, len(x), 4096):
            x[i] = 1
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
x = bytearray(150 * 2**20)
time.sleep(2)
for pid in kids:
    os.waitpid(pid, 0)
print('ok')
"""

MEMFD = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(319, b"x", 0)                 # memfd_create, past any Python-level check
if fd < 0:
    fd = os.memfd_create("x")                   # raises if refused
chunk = b"x" * 2**20
for _ in range(600):                            # 600 MB that no address-space rlimit counts
    os.write(fd, chunk)
print('ok')
"""

SYSV_SHM = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ids = []
for _ in range(3):                              # 3 x 200 MB segments that outlive their mapping
    shmid = libc.shmget(0, 200 * 2**20, 0o1600)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), 'shmget')
    addr = libc.shmat(shmid, None, 0)
    ctypes.memset(addr, 1, 200 * 2**20)
    libc.shmdt(ctypes.c_void_p(addr))
    ids.append(shmid)
print('ok')
"""

LATE_GRANDCHILD = r"""
import os, time
if os.fork() == 0:                              # holds stdout after its parent is gone
    time.sleep(0.1)
    print('ok', flush=True)
    os._exit(0)
os._exit(0)                                     # the program itself answers nothing
"""

SIGNAL_EVERYTHING = r"""
import os, signal
for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()] + [-1, 0, 1, 2]:
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
print('ok')                                     # still alive: pid 1 of its namespace ignores its own kills
"""

FAKE_ISOLATION_FAILURE = r"""
import os, sys
sys.stderr.write('skyt1-isolation: unshare failed\n')    # what the sandbox itself would say...
sys.stderr.flush()
os._exit(121)                                   # ...hoping the host stops the whole stage
"""

# name -> (program, statuses a contained run may end with, limits); "pass" in the statuses: the run may
# pass (the attack had no effect), but the same sandbox must still answer a next, honest test
FAMILIES = {
    "stop_worker_then_answer_late": (STOP_WORKER, {"wall_timeout"}, LIMITS),
    "ptrace_or_signal_worker": (PTRACE_WORKER, {"ok"}, LIMITS),
    "forge_frames_via_proc_fd": (FORGE_FRAMES, {"ok"}, LIMITS),
    "forked_helpers_fresh_cpu_limit": (FORK_FRESH_CPU, {"cpu_timeout", "wall_timeout"}, LIMITS.with_(wall_s=8)),
    "autoreaped_helpers_fresh_cpu_limit": (FORK_AUTOREAPED_CPU, {"cpu_timeout", "wall_timeout"},
                                           LIMITS.with_(wall_s=8)),
    "memory_in_three_processes": (MEMORY_PROCESSES, {"memory", "signal", "error"}, LIMITS.with_(wall_s=8)),
    "memfd_not_counted_by_rlimits": (MEMFD, {"error"}, LIMITS),
    "sysv_shm_not_counted_by_rlimits": (SYSV_SHM, {"error"}, LIMITS),
    "grandchild_answers_after_exit": (LATE_GRANDCHILD, {"ok"}, LIMITS),
    "signal_everything_visible": (SIGNAL_EVERYTHING, {"ok", "pass"}, LIMITS),
    "fake_isolation_failure_to_stop_the_stage": (FAKE_ISOLATION_FAILURE, {"error"}, LIMITS),
}


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat", "rb").read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _worker_pid(session) -> int:
    """The host pid of a session's worker: the python3 among the sandbox's processes (between tests it is
    the only one)."""
    for pid in _descendants(session.proc.pid):
        try:
            if open(f"/proc/{pid}/comm").read().strip().startswith("python3"):
                return pid
        except OSError:
            pass
    raise RuntimeError("no worker found")


def host_write_deadline() -> dict:
    """What a program could once do (stop its worker after a large first reply), done here from outside:
    the host's next write (1 MiB of input, far over a pipe's 64 KiB) must give up by the deadline."""
    sandbox = Sandbox(LIMITS, spares=0)
    with sandbox.session() as s:
        s.load("import sys\nsys.stdout.write(sys.stdin.read()[:2**19])\n")
        first = s.run("stdio", "y" * (1 << 19))
        worker = _worker_pid(s)
        os.kill(worker, signal.SIGSTOP)
        t = time.monotonic()
        second = s.run("stdio", "z" * (1 << 20))
        elapsed = time.monotonic() - t
        try:
            os.kill(worker, signal.SIGCONT)
        except OSError:
            pass
    return {"first": first.status, "first_len": len(first.stdout), "status": second.status,
            "elapsed": round(elapsed, 2), "limit": LIMITS.wall_s}


def asserts_path(name: str, program: str, limits: Limits) -> dict:
    """The same attack as the program side of an assertion test (program and checks in two sandboxes): the
    program's printed words become the value its function returns, the checks want "ok"."""
    from skyt1.sandbox import judge_asserts
    wrapped = ("import contextlib as _c, io as _io\n_buf = _io.StringIO()\nwith _c.redirect_stdout(_buf):\n"
               f"    exec({program!r}, {{'__name__': '__main__'}})\n"
               "def solve():\n    return _buf.getvalue().strip()\n")
    sandbox = Sandbox(limits, spares=0)
    t = time.monotonic()
    r = judge_asserts(sandbox, wrapped, "assert solve() == 'ok'\n", entry_point="solve")
    return {"status": r.status, "passed": r.ok and r.result == "pass", "kind": r.extra.get("kind"),
            "elapsed": round(time.monotonic() - t, 2)}


ASSERT_FAMILIES = ("stop_worker_then_answer_late", "ptrace_or_signal_worker", "forge_frames_via_proc_fd",
                   "forked_helpers_fresh_cpu_limit", "memfd_not_counted_by_rlimits")


def stopped_during_a_test() -> dict:
    """The stop the issue describes, done from outside (a program can no longer reach its worker): the
    worker is stopped while the program runs and resumed after the wall limit, with the answer waiting in
    its pipe. A worker held past the deadline cannot tell when output came, so this must count as a
    time-limit failure (the worker checks its deadline before anything else; the host keeps its own)."""
    import threading
    sandbox = Sandbox(LIMITS, spares=0)
    with sandbox.session() as s:
        s.load("import time\ntime.sleep(0.3)\nprint(input())\n")
        worker = _worker_pid(s)

        def stop_and_resume():
            time.sleep(0.1)
            os.kill(worker, signal.SIGSTOP)
            time.sleep(LIMITS.wall_s + 0.5)
            os.kill(worker, signal.SIGCONT)
        t = threading.Thread(target=stop_and_resume)
        t.start()
        r = s.run("stdio", "ok\n")
        t.join()
    return {"status": r.status, "stdout": r.stdout[:40], "why": r.extra.get("why")}


def run_all() -> dict:
    out = {"uid": os.geteuid(), "families": {}}
    for name, (program, _allowed, limits) in FAMILIES.items():
        sandbox = Sandbox(limits, spares=0)
        with sandbox.session() as s:
            out.setdefault("info", s.info)
            err = s.load(program)
            t = time.monotonic()
            r = s.run("stdio", "ok\n")
            elapsed = time.monotonic() - t
            after = None
            if not s.dead:  # the same sandbox answers an honest next test?
                s.load("print(input())")
                after = s.run("stdio", "next\n")
                after = after.status if after.stdout.strip() == "next" else f"{after.status}:{after.stdout[:40]!r}"
        out["families"][name] = {"load": err, "status": r.status, "stdout": r.stdout[:200],
                                 "stderr": r.stderr[-300:], "passed": r.ok and r.stdout.strip() == "ok",
                                 "elapsed": round(elapsed, 2), "cpu": r.cpu, "next": after}
    out["asserts"] = {name: asserts_path(name, FAMILIES[name][0], FAMILIES[name][2]) for name in ASSERT_FAMILIES}
    out["asserts_control"] = asserts_path("control", "print(input() if False else 'ok')", LIMITS)  # must pass
    out["host_write_deadline"] = host_write_deadline()
    out["stopped_during_a_test"] = stopped_during_a_test()
    return out


if __name__ == "__main__":
    json.dump(run_all(), sys.stdout)
