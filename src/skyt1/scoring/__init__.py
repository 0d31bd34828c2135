"""Scorers: decide whether a model's response is right. Code scoring runs only in the sandbox.

The scorers are registered by name (SCORERS: math, choice, code); a benchmark or training source declares
its scorer by that name (skyt1.benchmarks). `score_item(item, text, scorer=...)` applies the declared one
(without one, it is read from what the record holds: `scorer_kind`, never from a name) and returns at least
{"predicted", "correct", "reason"}; `score_batch` does the same for many (item, text) pairs on several cores
(one sandbox per code response)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from ..core.errors import SkyT1Error
from ..core.registry import Registry

# name -> fn(item, text, sandbox, evaluator) -> verdict
SCORERS: Registry[Callable[..., dict]] = Registry("scorer", "declare one of them as the entry's `scorer`")

def scorer_kind(item: dict, task: str | None = None) -> str:
    """'code', 'choice' or 'math' for a record with no declared scorer, from what the record holds (tests,
    options), never from a benchmark or source name (`task` is accepted and ignored)."""
    meta = item.get("metadata") or {}
    if item.get("domain") == "code" or item.get("tests"):
        return "code"
    if meta.get("choices"):
        return "choice"
    return "math"


def make_sandbox(cfg: dict | None = None):
    """The sandbox for code scoring, with limits from the config's `sandbox` section."""
    from ..sandbox import Limits, Sandbox
    return Sandbox(Limits.from_config(cfg))


def _gold(item: dict) -> object:
    if item.get("answer") is None:
        raise SkyT1Error(f"item {item.get('id')!r} has no gold answer", "give non-code records an `answer`")
    return item["answer"]


@SCORERS.register("code")
def _code(item: dict, text: str, sandbox=None, evaluator=None) -> dict:
    from . import code
    if not item.get("tests"):
        raise SkyT1Error(f"code item {item.get('id')!r} has no tests for the sandboxed code scorer",
                         "give code records `tests` ({inputs, outputs[, fn_name]} or {test, entry_point})")
    return code.score(item["tests"], text, sandbox=sandbox, starter_code=(item.get("metadata") or {}).get("starter_code"),
                      profile=evaluator)


@SCORERS.register("choice")
def _choice(item: dict, text: str, sandbox=None, evaluator=None) -> dict:
    from . import choice
    gold = _gold(item)
    meta = item.get("metadata") or {}
    choices = meta.get("choices")
    return choice.score(gold, text, n_choices=meta.get("n_choices"), choices=choices if isinstance(choices, list) else None)


@SCORERS.register("math")
def _math(item: dict, text: str, sandbox=None, evaluator=None) -> dict:
    from . import math
    return math.score(_gold(item), text)


def score_item(item: dict, text: str, *, task: str | None = None, sandbox=None, scorer: str | None = None,
               evaluator=None) -> dict:
    """`scorer` ('math', 'choice', 'code'), when given, is the declared scorer; else it is inferred from the record.
    `evaluator`: the code benchmark's or source's evaluator profile (a name under config/evaluators/ or the
    profile's dict); else the one the record's test format comes from."""
    return SCORERS.get(scorer or scorer_kind(item, task))(item, text, sandbox=sandbox, evaluator=evaluator)


def guarded(fn, item: dict, *args, **kw) -> dict:
    """fn(item, ...) for one item; an exception other than SkyT1Error (a malformed record or a sandbox that
    cannot start: the stage must stop and say so) becomes that item's failed verdict with the reason, marked
    `judge_error` so the stage's report counts it. One hostile answer never stops a stage."""
    try:
        return fn(item, *args, **kw)
    except SkyT1Error:
        raise
    except Exception as e:  # noqa: BLE001
        from .code import clean_text
        return {"predicted": None, "correct": False, "judge_error": True,
                "reason": clean_text(f"judge error: {type(e).__name__}: {e}")[:500]}


def score_batch(pairs: Iterable[tuple[dict, str]], *, task: str | None = None, sandbox=None,
                workers: int = 2, scorer: str | None = None, evaluator=None) -> list[dict]:
    """score_item over many (item, text) pairs, in order. Code pairs run `workers` sandboxes at once (threads
    only wait on the sandboxes' processes); math and choice pairs are scored in the calling thread, because
    math-verify's timeouts use signals, which work only in the main thread. Each item is guarded (guarded())."""
    pairs = list(pairs)
    results: list[dict | None] = [None] * len(pairs)
    code_idx = [i for i, (it, _) in enumerate(pairs) if (scorer or scorer_kind(it, task)) == "code"]
    if code_idx:
        def one(i):
            return guarded(score_item, pairs[i][0], pairs[i][1], task=task, sandbox=sandbox, scorer=scorer,
                           evaluator=evaluator)
        if workers <= 1 or len(code_idx) == 1:
            done = [one(i) for i in code_idx]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                done = list(pool.map(one, code_idx))
        for i, r in zip(code_idx, done):
            results[i] = r
    for i, (it, text) in enumerate(pairs):
        if results[i] is None:
            results[i] = guarded(score_item, it, text, task=task, sandbox=sandbox, scorer=scorer, evaluator=evaluator)
    return results
