"""Evaluator profiles: how each official code evaluator runs and judges a program, as data.

One file per profile under config/evaluators/<name>.yaml (livecodebench, apps, taco, humaneval, mbpp, and
skythought_lcb: the release's own LiveCodeBench scorer, which made the paper's numbers); each rule
there cites the official file and commit it follows, and `deviations` lists every deliberate difference
(docs/judge.md explains them). A code benchmark or training source names its profile (`evaluator:`, required:
never guessed from the adapter). The profile travels in the stage's params, so editing a profile reruns the
stages it changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from ..core.errors import SkyT1Error

PROFILE_DIR = Path(__file__).resolve().parents[3] / "config" / "evaluators"

STDOUT_RULES = ("lcb", "apps", "taco", "sky_lcb")
CALL_RULES = ("lcb", "apps", "eq")

@dataclass(frozen=True)
class Profile:
    name: str
    sources: tuple = ()
    stdout: str | None = None            # comparison rule for stdin/stdout tests
    call: str | None = None              # comparison rule for call-based tests
    preamble: str = ""                   # code run before the program, in its namespace
    recursion_limit: int | None = None
    int_max_str_digits: int | None = None
    wall_s: float | None = None          # per test; None: the sandbox's limit
    problem_wall_s: float | None = None  # all tests of one program together
    system_exit: str = "error"           # swallow: SystemExit in a stdin program ends it normally
    threads: str = "wait"                # wait: non-daemon threads finish before the output is taken
    tests: str = "all"                   # all | private (skip the record's `public` leading tests)
    crlf: str = "keep"                   # keep: "\r\n" in an input reaches the program (as with StringIO or a real
                                         # POSIX stdin); translate: read as "\n" (the sandbox worker's default)
    solution_lookup: str = "fallback"   # call tests: text = `"class Solution" in code` picks Solution().fn, else
                                        # the module's fn, no fallback (LCB, APPS); fallback = either that exists
    int_exact: bool = True
    float_tolerance: dict | None = None  # {rtol, atol} for non-integer numbers, where the official rule has one
    deviations: tuple = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


def _check(name: str, data: dict) -> Profile:
    unknown = set(data) - set(Profile.__dataclass_fields__)
    if unknown:
        raise SkyT1Error(f"evaluator profile {name!r}: unknown key(s) {', '.join(sorted(unknown))}",
                         f"use only {', '.join(Profile.__dataclass_fields__)}")
    if data.get("name", name) != name:
        raise SkyT1Error(f"evaluator profile file {name}.yaml names itself {data.get('name')!r}", "make them agree")
    rules = {"stdout": STDOUT_RULES, "call": CALL_RULES, "system_exit": ("swallow", "error"),
             "threads": ("wait", "kill"), "tests": ("all", "private"), "crlf": ("keep", "translate"),
             "solution_lookup": ("text", "fallback")}
    for key, allowed in rules.items():
        if data.get(key) is not None and data[key] not in allowed:
            raise SkyT1Error(f"evaluator profile {name!r}: {key} {data[key]!r} is not one of {list(allowed)}",
                             f"fix config/evaluators/{name}.yaml")
    for key in ("recursion_limit", "int_max_str_digits"):
        v = data.get(key)
        if v is not None and (type(v) is not int or v < 100):
            raise SkyT1Error(f"evaluator profile {name!r}: {key} must be an integer >= 100 or null", "fix it")
    tol = data.get("float_tolerance")
    if tol is not None and (not isinstance(tol, dict) or set(tol) != {"rtol", "atol"}):
        raise SkyT1Error(f"evaluator profile {name!r}: float_tolerance must be {{rtol, atol}} or null", "fix it")
    kw = {**data, "name": name, "sources": tuple(tuple(sorted(s.items())) if isinstance(s, dict) else s
                                                   for s in data.get("sources") or ()),
          "deviations": tuple(data.get("deviations") or ()), "preamble": data.get("preamble") or ""}
    return Profile(**kw)


def names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def load(name: str) -> Profile:
    """The profile config/evaluators/<name>.yaml; one clear error if it does not exist or is malformed."""
    import yaml

    path = PROFILE_DIR / f"{name}.yaml"
    if not isinstance(name, str) or not name.isidentifier() or not path.exists():
        raise SkyT1Error(f"unknown evaluator profile {name!r}", f"use one of {names()} (config/evaluators/)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SkyT1Error(f"evaluator profile {path} must hold a mapping", "fix the file")
    return _check(name, data)


def from_value(value) -> Profile | None:
    """A Profile from a name, a profile dict (as it travels in params) or a Profile; None stays None."""
    if value is None or isinstance(value, Profile):
        return value
    if isinstance(value, str):
        return load(value)
    if isinstance(value, dict):
        return _check(value.get("name", "inline"), {k: v for k, v in value.items()})
    raise SkyT1Error(f"an evaluator profile must be a name or a mapping, not {type(value).__name__}",
                     "name one of config/evaluators/")


def for_entry(entry: dict) -> str | None:
    """The profile a benchmark / training source entry names (declared, never guessed)."""
    return entry.get("evaluator")


def params_of(entry: dict) -> dict | None:
    """The profile of a code benchmark / training source entry as plain JSON data, for a rule's params
    (so a change to the profile's file reruns the stages it changes); None if the entry names none."""
    import json

    name = for_entry(entry)
    return json.loads(json.dumps(load(name).to_dict())) if name else None
