"""The warm worker that runs INSIDE the bubblewrap sandbox (`/usr/bin/python3 -I -S -c <this file>`).

It must only use the standard library of the system Python. It never sees expected outputs: it runs one
submission's program once per test in a forked child (own process group, rlimits, stdin from a memfd,
stdout/stderr/result through pipes with a byte cap and a wall-clock deadline) and sends back what the
program did. The host compares. One worker serves one submission and is thrown away afterwards.

Modes of a test: stdio (stdin -> stdout), call (fn(*args) -> plain data on fd 3), and for assertion tests
serve (in the PROGRAM's sandbox: answer calls from the link) and check (in the CHECKER's sandbox: run
the trusted tests against Remote functions, write the verdict on fd 3). See judge_asserts.

Protocol: frames of a 4-byte big-endian length and a body: host -> fd 0 marshal (the host is trusted),
worker -> fd 1 JSON (the host parses nothing but JSON from inside a sandbox).
"""

# ruff: noqa: F821  (loads, dumps, message: plain.py, run into this module by _plain() when needed)
import _json as _cjson  # the C half of json only: `json` pulls in re and enum, which cost more than the rest of startup
import _signal as signal  # the C module: `signal` would pull in enum (startup time matters here)
import builtins
import marshal
import os
import resource
import select
import struct
import sys
import time

_OUT = 1
_IN = 0


def _dump(obj):
    """JSON text of a reply (dicts, lists, str, int, float, bool, None); the host parses it as JSON."""
    t = type(obj)
    if obj is None or (t is float and (obj != obj or obj in (float("inf"), float("-inf")))):
        return "null"
    if t is bool:
        return "true" if obj else "false"
    if t is int or t is float:
        return t.__repr__(obj)
    if t is str:
        return _cjson.encode_basestring_ascii(obj)
    if t is dict:
        return "{" + ",".join(_dump(str(k)) + ":" + _dump(v) for k, v in obj.items()) + "}"
    if t is list or t is tuple:
        return "[" + ",".join(map(_dump, obj)) + "]"
    return _dump(str(obj))


def _plain():
    """Load the plain-data boundary (plain.py, given by the host as _PLAIN_SRC) into this module, once, and
    only for jobs that need it: stdin/stdout tests never pay for importing json."""
    if "loads" not in globals():
        exec(_PLAIN_SRC, globals())  # noqa: F821 (defined by the host in front of this file)


def _send(obj):
    data = _dump(obj).encode("utf-8", "replace")
    os.write(_OUT, struct.pack(">I", len(data)))
    view = memoryview(data)
    while view:
        n = os.write(_OUT, view)
        view = view[n:]


def _read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(_IN, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv():
    head = _read_exact(4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    body = _read_exact(n)
    return None if body is None else marshal.loads(body)  # from the host, which is trusted


def _no_dump():
    """Make the worker non-dumpable, so a program (same uid) can neither ptrace it nor open /proc/<worker>/fd."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        pass


# ------------------------------------------------------------------ isolation of one test from the worker
# Each test's program runs as pid 1 of its OWN pid namespace, with its own mount namespace and a fresh
# /proc: it cannot name (signal, stop, ptrace, open /proc/<pid>/fd of) the worker or bwrap's pid 1, which
# hold the pipes to the host; and when it exits, the kernel kills every process it left in that
# namespace. The worker gets CAP_SYS_ADMIN in the sandbox's user namespace (bwrap --cap-add) for this
# only; the child drops every capability and sets no_new_privs before any program code runs.
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
_ISO = {}  # libc, ctypes, the seccomp program; filled by _isolation_setup()

# syscalls a program gets EPERM for: memory that no rlimit counts (memfd_create, memfd_secret, SysV shm
# segments), reaching other processes (ptrace, process_vm_*), and kernel interfaces a judged program never
# needs (perf_event_open, bpf, userfaultfd, io_uring_setup, the key rings)
_DENY = {
    "x86_64": (0xC000003E, (319, 447, 29, 101, 310, 311, 298, 321, 323, 425, 248, 249, 250)),
    "aarch64": (0xC00000B7, (279, 447, 194, 117, 270, 271, 241, 280, 282, 425, 217, 218, 219)),
}


def _seccomp_program(machine):
    if machine not in _DENY:
        return None
    arch, nrs = _DENY[machine]
    ins = [(0x20, 0, 0, 4),                      # A = arch
           (0x15, 1, 0, arch),                   # arch ok: skip the kill
           (0x06, 0, 0, 0x80000000),             # other ABI (e.g. int 0x80): kill the process
           (0x20, 0, 0, 0),                      # A = syscall number
           (0x35, 0, 1, 0x40000000),             # x32 numbers: kill
           (0x06, 0, 0, 0x80000000)]
    for nr in nrs:
        ins += [(0x15, 0, 1, nr), (0x06, 0, 0, 0x00050000 | 1)]  # == nr: return EPERM
    ins.append((0x06, 0, 0, 0x7FFF0000))         # allow the rest
    return b"".join(struct.pack("HBBI", *i) for i in ins), len(ins)


def _isolation_setup():
    """In the worker, once: libc and the seccomp filter; then a check that a pid namespace can be made."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    _ISO.update(libc=libc, ctypes=ctypes)
    prog = _seccomp_program(os.uname().machine)
    if prog is not None:
        buf = ctypes.create_string_buffer(prog[0], len(prog[0]))

        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        _ISO.update(seccomp=Fprog(prog[1], ctypes.addressof(buf)), seccomp_buf=buf)
    # CAP_SYS_ADMIN here (bwrap --cap-add) is what each test's unshare needs; a test that still cannot
    # make its namespaces ends as isolation_failed, which stops the scoring on the host
    with open("/proc/self/status") as f:
        caps = int(next(line for line in f if line.startswith("CapEff:")).split()[1], 16)
    return {"pidns": bool(caps & (1 << 21)), "seccomp": prog is not None}


def _fork_isolated(err_fd):
    """fork() twice: the worker's child C makes a fresh pid namespace and forks the test's process P into
    it as its pid 1; C waits for P and ends as P ended (its exit code, or the same signal), so the worker
    sees C as it would see P. C holds nothing but P; P dies with C (parent-death signal). In P returns 0,
    in the worker C's pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        libc = _ISO["libc"]
        if libc.unshare(CLONE_NEWPID) != 0:
            raise OSError(_ISO["ctypes"].get_errno(), "unshare(CLONE_NEWPID)")
        child = os.fork()
    except BaseException as e:
        os.write(err_fd, f"skyt1-isolation: {e}\n".encode())
        os._exit(121)
    if child == 0:
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL
        return 0
    os.closerange(0, 65536)  # the pipes are P's: C must not keep them open
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


def _isolate_child():
    """In the test's child (pid 1 of its namespace), before any program code: own mount namespace with a
    /proc of its own pid namespace, no capabilities, no_new_privs, the seccomp filter. Raises if any fails."""
    libc, ctypes = _ISO["libc"], _ISO["ctypes"]

    def check(rc, what):
        if rc != 0:
            raise OSError(ctypes.get_errno(), what)
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None), "mount --make-rprivate /")  # MS_REC|MS_PRIVATE
    if libc.mount(b"proc", b"/proc", b"proc", 2 | 4 | 8, None) != 0:  # nosuid, nodev, noexec
        check(libc.mount(b"none", b"/proc", b"tmpfs", 2 | 4 | 8 | 1, b"size=4k"), "mount over /proc")
    # capset(version 3, this process): effective, permitted, inheritable all empty (ambient goes with them)
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    check(libc.capset(hdr, data), "capset")
    check(libc.prctl(38, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    # dumpable again (the worker is not): the worker reads this process's smaps to count shared pages once;
    # nothing else of this uid is visible from here
    libc.prctl(4, 1, 0, 0, 0)
    if "seccomp" in _ISO:
        check(libc.prctl(22, 2, ctypes.byref(_ISO["seccomp"]), 0, 0), "seccomp")  # PR_SET_SECCOMP, FILTER


# ------------------------------------------------------- what a test's processes use, across all of them
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_CG_CPU = "/.skyt1/cpuacct.usage"  # the sandbox's own cgroup's CPU counter, bound here when the host made one


def _cg_cpu():
    try:
        with open(_CG_CPU, "rb") as f:
            return int(f.read()) / 1e9
    except (OSError, ValueError):
        return None


class _Usage:
    """CPU seconds and resident memory of every process of the running test, which are all the processes in
    this sandbox but bwrap's pid 1 and the worker. CPU: the sandbox cgroup's counter when there is one
    (exact, whatever forks); else each process's own time, remembered after it is gone."""

    def __init__(self):
        self.skip = {1, os.getpid()}
        self.seen = {}
        self.cg0 = _cg_cpu()
        self.cpu = 0.0

    def sample(self, mem_limit):
        rss, cpu, pids = 0, 0.0, []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in self.skip:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            self.seen[name] = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime of this process
            rss += int(fields[21]) * _PAGE
            pids.append(name)
        if rss > mem_limit and 1 < len(pids) <= 8:
            # forked processes share pages: count each page once, proportionally (only for a few processes:
            # reading smaps waits on a forking process's memory map, and a fork bomb forks all the time)
            rss = self._pss(pids)
        if self.cg0 is not None:
            now = _cg_cpu()
            cpu = (now - self.cg0) if now is not None else sum(self.seen.values())
        else:
            cpu = sum(self.seen.values())
        return cpu, rss

    @staticmethod
    def _pss(pids):
        total = 0
        for name in pids:
            try:
                with open(f"/proc/{name}/smaps_rollup", "rb") as f:
                    for line in f:
                        if line.startswith((b"Pss:", b"SwapPss:")):
                            total += int(line.split()[1]) << 10
            except (OSError, ValueError):
                continue
        return total


def _set_limits(job):
    def lim(which, soft, hard=None):
        hard = soft if hard is None else hard
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass

    cpu = max(1, int(job["cpu_s"] + 0.999))
    lim(resource.RLIMIT_CPU, cpu, cpu + 1)
    lim(resource.RLIMIT_AS, job["memory_bytes"])
    lim(resource.RLIMIT_FSIZE, job["file_bytes"])
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_NOFILE, 256)
    lim(resource.RLIMIT_NPROC, job["nproc"])


# -------------------------------------------------------------------- the link between the two sandboxes
# An assertion test runs in TWO sandboxes: the program's ("serve") and the checker's ("check"). Two pipes
# join them and nothing else: the checker sends calls [name, args, kwargs] and the program's process answers
# ["ok", value] | ["raise", text] | ["not_plain", text]; its first frame is ["ready"] or ["load_error", text].
# Frames: 4-byte big-endian length + wire text (plain.py).

def _frame_write(fd, text):
    data = text.encode("utf-8", "surrogatepass")
    data = struct.pack(">I", len(data)) + data
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _frame_read(fd, cap):
    """One frame's text, or None at end of file; ValueError for an oversized or cut frame."""
    head = b""
    while len(head) < 4:
        chunk = os.read(fd, 4 - len(head))
        if not chunk:
            if head:
                raise ValueError("the program's process sent a cut frame")
            return None
        head += chunk
    (n,) = struct.unpack(">I", head)
    if n > cap:
        raise ValueError(f"the program's process sent a frame of {n} bytes (limit {cap})")
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise ValueError("the program's process sent a cut frame")
        buf += chunk
    return buf.decode("utf-8", "surrogatepass")


def _serve(ns, fd_in, fd_out, cap):
    """In the PROGRAM's process: answer the checker's calls with plain data. Everything here is in the
    program's reach, and that is fine: all it can send is plain data, which is what it computes anyway."""
    while True:
        text = _frame_read(fd_in, cap)
        if text is None:
            return
        try:
            name, args, kwargs = loads(text, resolve=lambda n: ns[n])
            fn = ns.get(name)
            if fn is None:
                raise NameError(f"name {name!r} is not defined by the program")
            value = fn(*args, **kwargs)
        except BaseException as e:
            if isinstance(e, (SystemExit, KeyboardInterrupt)):
                raise
            _frame_write(fd_out, dumps(["raise", f"{type(e).__name__}: {e}"[:2000]]))
            continue
        try:
            reply = message("ok", value, where=f"the value {name}() returned")
        except (TypeError, ValueError, RecursionError) as e:  # NotPlain is a TypeError
            reply = dumps(["not_plain", str(e)[:2000]])
        _frame_write(fd_out, reply)


class CandidateError(Exception):
    """The program's function raised; the message is its exception as text."""


class ProgramGone(Exception):
    """The program's process ended or broke the protocol before the tests finished."""


class NotPlainResult(Exception):
    """The program's function returned something that is not plain data."""


class _Link:
    """In the CHECKER's process: the checker's end of the two pipes."""

    def __init__(self, fd_out, fd_in, cap):
        self.fd_out, self.fd_in, self.cap, self.ready = fd_out, fd_in, cap, False

    def _read(self):
        try:
            text = _frame_read(self.fd_in, self.cap)
        except (ValueError, OSError) as e:
            raise ProgramGone(str(e)) from None
        if text is None:
            raise ProgramGone("the program's process ended before the tests finished")
        try:
            msg = loads(text)
        except (ValueError, TypeError, UnicodeError) as e:
            raise ProgramGone(f"the program's process sent something that is not plain data ({e})") from None
        if type(msg) is not list or not msg or type(msg[0]) is not str:
            raise ProgramGone("the program's process broke the protocol")
        return msg

    def wait_ready(self):
        if not self.ready:
            msg = self._read()
            if msg[0] == "load_error" and len(msg) == 2 and type(msg[1]) is str:
                raise CandidateError(msg[1])
            if msg != ["ready"]:
                raise ProgramGone("the program's process broke the protocol")
            self.ready = True

    def call(self, name, args, kwargs):
        self.wait_ready()
        try:
            request = dumps([name, list(args), dict(kwargs)], where="an argument", ref=Remote)
        except (TypeError, ValueError) as e:
            raise NotPlainResult(f"the test passes something that is not plain data ({e})") from None
        try:
            _frame_write(self.fd_out, request)
        except OSError:
            raise ProgramGone("the program's process ended before the tests finished") from None
        msg = self._read()
        if len(msg) == 2 and type(msg[1]) is str and msg[0] == "raise":
            raise CandidateError(msg[1])
        if len(msg) == 2 and type(msg[1]) is str and msg[0] == "not_plain":
            raise NotPlainResult(msg[1])
        if len(msg) == 2 and msg[0] == "ok":
            return msg[1]
        raise ProgramGone("the program's process broke the protocol")


class Remote:
    """What the checks hold instead of the program's function: calls go to the other sandbox as plain data
    and plain data comes back. It has no state the program could reach or replace."""
    __slots__ = ("_name", "_link")

    def __init__(self, name, link):
        self._name, self._link = name, link

    def __call__(self, *args, **kwargs):
        return self._link.call(self._name, args, kwargs)

    def __repr__(self):
        return f"<the program's {self._name}>"

    @property
    def __name__(self):
        return self._name


def _checker_namespace(link, builtins_names):
    """Globals for the tests: names they use but do not define are standard modules (imported HERE, by
    the checker) or, failing that, the program's functions (Remote). A builtin can never be the program's."""
    class Names(dict):
        def __missing__(self, key):
            if key in builtins_names or key.startswith("__"):
                raise KeyError(key)
            if key in sys.stdlib_module_names:
                value = __import__(key)
            else:
                value = Remote(key, link)
            self[key] = value
            return value
    return Names


def _check(job, code, ns_cls, link):
    """In the CHECKER's process: run the trusted test code against Remote functions; the verdict goes
    to fd 3, which only this process holds."""
    ns = ns_cls({"__name__": "__main__", "__builtins__": builtins, "__file__": "check.py"})
    entry = job.get("entry_point")
    verdict = {"verdict": "fail", "kind": "checker error", "detail": ""}
    try:
        exec(code["starter"], ns)
        if entry:
            ns[entry] = Remote(entry, link)  # the prompt's stub must not stand in for the program
        exec(code["test"], ns)
        if job.get("call_check"):
            ns["check"](Remote(entry, link))
        link.wait_ready()  # a test that calls nothing still needs a program that loads
        verdict = {"verdict": "pass"}
    except AssertionError as e:
        verdict.update(kind="wrong answer", detail=("assertion failed " + str(e)[:200]).strip())
    except CandidateError as e:
        verdict.update(kind="runtime error", detail=str(e)[:2000])
    except NotPlainResult as e:
        verdict.update(kind="not plain data", detail=str(e)[:2000])
    except ProgramGone as e:
        verdict.update(kind="program ended", detail=str(e)[:2000])
    except BaseException as e:  # the checks raised on what the program returned (say abs(None - 1))
        verdict.update(kind="runtime error", detail=f"{type(e).__name__}: {e}"[:2000] + " (raised in the tests)")
    os.write(3, _dump(verdict).encode())


def _finish_threads(job):
    """wait_threads: as a normal interpreter exit does, wait for the program's non-daemon threads (a
    `threading.Thread(target=main).start()` without join is common on Codeforces); the worker's wall
    deadline still kills the test if they never end."""
    if job.get("wait_threads") and "threading" in sys.modules:
        try:
            sys.modules["threading"]._shutdown()
        except BaseException:
            pass


def _child(job, code, fds, ack_w):
    """In the forked child (pid 1 of its own pid namespace): become the program (or the checker). Never
    returns. `ack_w`: written and closed once the isolation holds, before any program code runs, so the
    program can neither forge nor withhold it."""
    status = 1
    try:
        try:
            _isolate_child()
        except BaseException as e:
            os.write(fds[2], f"skyt1-isolation: {e}\n".encode())
            os._exit(121)
        os.write(ack_w, b"1")
        os.close(ack_w)
        os.setpgid(0, 0)
        for sig in (signal.SIGPIPE, signal.SIGXCPU, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        mode = job["mode"]
        if mode in ("serve", "check"):
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a closed link is an EPIPE, handled above
        stdin_fd, out_w, err_w, res_w = fds[:4]
        for target, fd in enumerate(fds):  # all sources are >= 3 or (the links) >= 250: no clobbering
            os.dup2(fd, target)
        os.closerange(len(fds), 65536)
        _set_limits(job)
        # keep_crlf: no newline translation, so "\r\n" reaches the program as the official harnesses give it
        # (LCB/APPS: StringIO(inputs); TACO: a real POSIX stdin)
        sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="replace", closefd=False,
                                         newline="" if job.get("keep_crlf") else None)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="replace", closefd=False,
                                           buffering=1)
        sys.argv = ["solution.py"]
        sys.setrecursionlimit(int(job.get("recursion_limit") or 10000))
        if job.get("int_max_str_digits") is not None:
            sys.set_int_max_str_digits(int(job["int_max_str_digits"]))
        if mode == "check":
            link = _Link(4, 5, job["output_bytes"])
            _check(job, code, _checker_namespace(link, set(dir(builtins))), link)
            os._exit(0)
        name = "__main__" if mode == "stdio" else "solution"
        pre, streams = _PREAMBLES.get(job.get("preamble") or "", ({}, {}))
        # names the preamble bound to the worker's streams or argv (APPS/TACO `stdin = sys.stdin`, LCB `from sys
        # import *`) name this test's own, as if the preamble had run here, after the streams were set up
        ns = {**pre, **{k: getattr(sys, attr) for k, attr in streams.items()},
              "__name__": name, "__builtins__": builtins, "__file__": "solution.py"}
        sys.modules.pop("__main__", None)
        if mode == "serve":
            try:
                exec(code, ns)
            except BaseException as e:
                _frame_write(5, dumps(["load_error", f"{type(e).__name__}: {e}"[:2000]]))
                raise
            _frame_write(5, dumps(["ready"]))
            _serve(ns, 4, 5, job["output_bytes"])
            status = 0
            return
        try:
            exec(code, ns)
            if mode == "call":
                fn = None
                sol = ns.get("Solution")
                if job.get("solution_lookup") == "text":
                    # LCB compile_code / APPS run_test: `if "class Solution" in code` the method of Solution(),
                    # else the module's function; no fallback from one to the other
                    owner = sol() if _HAS_SOLUTION_TEXT[0] else None
                    fn = getattr(owner, job["fn_name"], None) if _HAS_SOLUTION_TEXT[0] else ns.get(job["fn_name"])
                    fn = fn if callable(fn) else None
                elif isinstance(sol, type) and hasattr(sol, job["fn_name"]):
                    fn = getattr(sol(), job["fn_name"])
                elif callable(ns.get(job["fn_name"])):
                    fn = ns[job["fn_name"]]
                if fn is None:
                    raise NameError(f"no function or Solution method named {job['fn_name']!r} in the program")
                result = fn(*job["args"])
                try:
                    payload = message("ok", result, where=f"the value {job['fn_name']}() returned")
                except (TypeError, ValueError, RecursionError) as e:
                    payload = dumps(["not_plain", str(e)[:2000]])
                os.write(3, payload.encode("utf-8", "surrogatepass"))
            status = 0
            _finish_threads(job)
        except SystemExit as e:
            if mode == "stdio":
                code_ = e.code
                status = code_ if isinstance(code_, int) else (0 if code_ is None else 1)
                if code_ is not None and not isinstance(code_, int):
                    print(code_, file=sys.stderr)
                if job.get("system_exit_ok"):
                    status = 0  # LiveCodeBench-style: a SystemExit ends the program, whatever its code
                _finish_threads(job)
            else:
                sys.stderr.write("SystemExit raised before the tests finished\n")
                status = 1
        except BaseException:
            try:
                import traceback
                etype, value, tb = sys.exc_info()
                traceback.print_exception(etype, value, tb.tb_next if tb else None, limit=-5)
            except BaseException:
                pass
            status = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    except BaseException:
        status = 1
    finally:
        os._exit(status & 0xFF if isinstance(status, int) else 1)


_LINKS = []  # this worker's ends of the pipes to the other sandbox (assertion tests only), at fds 250+
_PREAMBLES = {}  # preamble text -> (the globals it made, {name: "stdin"|"stdout"|"stderr"|"argv"} bound to those)
_HAS_SOLUTION_TEXT = [False]  # whether the loaded program's text contains "class Solution" (solution_lookup: text)


def _preamble(text):
    """Run a profile's preamble (imports the official harness puts before the program) once per worker;
    each test's program starts from a copy of its globals, so its imports are already warm."""
    if text and text not in _PREAMBLES:
        ns = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(text, "preamble.py", "exec"), ns)
        glob = {k: v for k, v in ns.items() if not k.startswith("__")}
        # what each test's process replaces (its streams, argv): names bound to the worker's are rebound per test
        own = {id(getattr(sys, a)): a for a in ("stdin", "stdout", "stderr", "argv") if hasattr(sys, a)}
        own.update({id(getattr(sys, f"__{a}__")): a for a in ("stdin", "stdout", "stderr") if hasattr(sys, f"__{a}__")})
        streams = {k: own[id(v)] for k, v in glob.items() if id(v) in own}
        _PREAMBLES[text] = (glob, streams)


def _run(job, code):
    links = list(_LINKS) if job["mode"] in ("serve", "check") else []
    if job["mode"] != "stdio":
        _plain()
    try:
        _preamble(job.get("preamble") or "")
    except BaseException as e:
        return {"status": "preamble_error", "stderr": f"{type(e).__name__}: {e}"[:2000], "stdout": "",
                "exit_code": None}
    stdin_fd = os.memfd_create("stdin", 0)
    data = job.get("stdin", "").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        view = view[os.write(stdin_fd, view):]
    os.lseek(stdin_fd, 0, 0)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    ack_r, ack_w = os.pipe()
    usage = _Usage()
    start = time.monotonic()
    pid = _fork_isolated(err_w)
    if pid == 0:
        os.close(out_r), os.close(err_r), os.close(res_r), os.close(ack_r)
        _child(job, code, (stdin_fd, out_w, err_w, res_w, *links), ack_w)
    for fd in (stdin_fd, out_w, err_w, res_w, ack_w, *links):
        os.close(fd)
    if links:  # only the child holds the link now: when it ends, the other side reads end of file
        _LINKS.clear()
    try:
        os.setpgid(pid, pid)  # also done in the child; whichever runs first wins the race
    except OSError:
        pass
    pidfd = os.pidfd_open(pid)
    cap = job["output_bytes"]
    bufs = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
    open_fds = set(bufs)
    deadline = start + job["wall_s"]
    cpu_limit, mem_limit = job["cpu_s"], job["memory_bytes"]
    verdict, wait_status, rusage, exited_at = None, None, None, None
    next_sample = start + 0.01
    poller = select.poll()
    for fd in (out_r, err_r, res_r, pidfd):
        poller.register(fd, select.POLLIN | select.POLLHUP)

    def kill_all():
        # every process in this sandbox but bwrap's pid 1 and the worker belongs to the test (C, then P, the
        # pid 1 of the test's namespace: when it dies the kernel kills all that is left in that namespace)
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in usage.skip:
                try:
                    os.kill(int(name), signal.SIGKILL)
                except OSError:
                    pass

    while open_fds or wait_status is None:
        now = time.monotonic()
        if now >= deadline:  # first: nothing after the deadline counts, however the program got there
            verdict = verdict or "wall_timeout"
            kill_all()
            break
        if exited_at is not None and now > exited_at + 0.2:
            break  # the namespace is gone, yet a pipe is held open: stop waiting for it
        if wait_status is None and now >= next_sample:
            # the limits across every process of the test: a forked helper starts with fresh rlimits
            cpu, rss = usage.sample(mem_limit)
            usage.cpu = cpu
            if cpu > cpu_limit:
                verdict = verdict or "cpu_timeout"
                kill_all()
                deadline = min(deadline, now + 1.0)
            elif rss > mem_limit:
                verdict = verdict or "memory"
                kill_all()
                deadline = min(deadline, now + 1.0)
            # every 10 ms at first, then less often (50 ms from 0.8 s on): a long test pays less for it
            next_sample = now + min(0.05, 0.01 + (now - start) / 20)
        limit = min(deadline, next_sample) if exited_at is None else min(deadline, exited_at + 0.2)
        for fd, _ev in poller.poll(max(0.0, limit - now) * 1000):
            if fd == pidfd:
                poller.unregister(pidfd)
                if wait_status is None:
                    _, wait_status, rusage = os.wait4(pid, 0)
                exited_at = exited_at or time.monotonic()
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
                continue
            buf = bufs[fd]
            if fd == err_r:
                buf += chunk
                if len(buf) > 8192:
                    del buf[: len(buf) - 8192]
                continue
            buf += chunk
            if len(buf) > cap:
                verdict = "output_limit"
                del buf[cap:]
                kill_all()
                deadline = min(deadline, time.monotonic() + 1.0)
    wall = time.monotonic() - start
    os.set_blocking(ack_r, False)
    try:
        isolated = os.read(ack_r, 1) == b"1"
    except BlockingIOError:
        isolated = False
    os.close(ack_r)
    os.close(pidfd)
    for fd in (out_r, err_r, res_r):
        os.close(fd)
    if wait_status is None:
        kill_all()
        _, wait_status, rusage = os.wait4(pid, 0)
    if exited_at is not None and exited_at > start + job["wall_s"]:
        verdict = verdict or "wall_timeout"  # it ended, but after the deadline
    exit_code = os.waitstatus_to_exitcode(wait_status)
    cpu_used = max(rusage.ru_utime + rusage.ru_stime if rusage else 0.0, usage.cpu)
    reply = {"stdout": bufs[out_r].decode("utf-8", "replace"), "stderr": bufs[err_r].decode("utf-8", "replace"),
             "exit_code": exit_code, "wall": round(wall, 4), "cpu": round(cpu_used, 4), "status": "ok"}
    if not isolated and verdict is None:  # the program never ran (a killed test may not have got so far)
        reply["status"] = "isolation_failed"
        return reply
    if verdict:
        reply["status"] = verdict
    elif exit_code < 0:
        sig = -exit_code
        reply["status"] = "cpu_timeout" if sig in (signal.SIGXCPU, signal.SIGKILL) and cpu_used >= cpu_limit - 0.05 \
            else "signal"
    elif exit_code != 0:
        reply["status"] = "memory" if "MemoryError" in reply["stderr"] else "error"
    if job["mode"] in ("call", "check"):
        # passed on as text: the host decodes it (a call's result strictly as plain data, see plain.py)
        if bufs[res_r]:
            reply["result_text"] = bytes(bufs[res_r]).decode("utf-8", "surrogatepass")
        elif reply["status"] == "ok":
            reply["status"] = "no_result"
    return reply


class _Quitter:
    """exit() and quit(), which `site` would define (the worker runs with -S: site costs startup time)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"

    def __call__(self, code=None):
        raise SystemExit(code)


def main():
    _no_dump()
    iso = _isolation_setup()
    builtins.exit, builtins.quit = _Quitter("exit"), _Quitter("quit")
    for d in ("/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages"):
        if os.path.isdir(d) and d not in sys.path:  # what site would add
            sys.path.append(d)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir("/tmp")
    for i, fd in enumerate(sys.argv[1:]):  # the links the host passed (assertion tests only)
        os.dup2(int(fd), 250 + i)
        os.close(int(fd))
        _LINKS.append(250 + i)
    code = None
    _send({"ready": True, "pid": os.getpid(), "python": sys.version.split()[0], "isolation": iso,
           "cgroup_cpu": _cg_cpu() is not None})
    while True:
        msg = _recv()
        if msg is None or msg.get("op") == "exit":
            return
        if msg["op"] == "load":
            try:
                src = msg["code"]
                code = {k: compile(v, f"{k}.py", "exec") for k, v in src.items()} if isinstance(src, dict) \
                    else compile(src, "solution.py", "exec")
                _HAS_SOLUTION_TEXT[0] = isinstance(src, str) and "class Solution" in src
                _send({"ok": True})
            except BaseException as e:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
                code = None
                _send({"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]})
        elif msg["op"] == "warm":  # a spare, waiting: the preamble the next response will most likely need
            try:
                _preamble(msg.get("preamble") or "")
            except BaseException:
                pass  # the test that needs it runs it again and reports the error
        elif msg["op"] == "run":
            if code is None:
                _send({"status": "error", "stderr": "no program loaded", "stdout": "", "exit_code": 1})
                continue
            _send(_run(msg, code))


main()
