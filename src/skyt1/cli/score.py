"""`skyt1 score --task NAME responses.jsonl`: score responses outside snakemake.

Accepted rows (JSONL), several rows with one id being several samples of one item:
  - the evaluate stage's output: {"id", "gold", "samples": [{"text": ...}, ...]}
  - flat rows: {"id", "response" | "text" | "rewritten", ...record fields (answer, tests, domain, metadata)}
Fields missing from a row (gold answer, code tests) are taken from --items (records with the same id).
Prints a summary (accuracy, pass@k) as JSON; --out writes one scored row per sample."""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict

from ..core.errors import SkyT1Error
from ..core.io import iter_jsonl, write_jsonl


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("responses", help="JSONL of responses (evaluate output, or rows with id + response)")
    p.add_argument("--task", required=True, help="benchmark name (config/benchmarks/<task>.yaml declares its scorer and "
                                                 "evaluator), e.g. math500, gpqa_diamond, livecodebench_easy, humaneval")
    p.add_argument("--scorer", choices=["math", "choice", "code"],
                   help="the scorer, for a task that is not a declared benchmark (default: the declared one)")
    p.add_argument("--items", help="JSONL of records (id, answer, tests, metadata) to join by id")
    p.add_argument("--out", help="write one scored row per sample here")
    p.add_argument("--workers", type=int, default=2, help="sandboxes run at once for code (default 2)")
    p.add_argument("--k", type=int, nargs="*", default=[1], help="pass@k values to report (default 1)")
    p.add_argument("--cpu-s", type=float, help="CPU seconds per test (sandbox)")
    p.add_argument("--wall-s", type=float, help="wall seconds per test (sandbox)")
    p.add_argument("--memory-mb", type=int, help="memory per test in MB (sandbox)")
    p.add_argument("--evaluator", help="code: the official evaluator's profile (config/evaluators/: livecodebench, "
                                       "apps, taco, humaneval, mbpp); default: the declared benchmark's")


def _text_of(row: dict) -> list[str]:
    if isinstance(row.get("samples"), list):
        return [s["text"] if isinstance(s, dict) else str(s) for s in row["samples"]]
    for key in ("response", "text", "rewritten", "completion"):
        if isinstance(row.get(key), str):
            return [row[key]]
    raise SkyT1Error(f"row {row.get('id')!r} has no response text",
                     "give each row `samples`, `response`, `text` or `rewritten`")


def _declared(args: argparse.Namespace) -> tuple[str, str | None]:
    """(scorer, evaluator) from the options, else from the task's benchmark file; never from the name."""
    from ..benchmarks import load_file, names

    entry = load_file(args.task) if args.task in names() else {}
    scorer = args.scorer or entry.get("scorer")
    if scorer is None:
        raise SkyT1Error(f"task {args.task!r} is not a declared benchmark (config/benchmarks/), so its scorer is unknown",
                         "pass --scorer math, choice or code")
    return scorer, args.evaluator or entry.get("evaluator")


def _score(args: argparse.Namespace) -> int:
    """Score model responses for one task (math, multiple choice, or code in the sandbox)."""
    from ..scoring import score_batch
    from ..scoring.code import default_sandbox
    from ..scoring.metrics import summarize
    from ..sandbox import Limits

    items = {r["id"]: r for r in iter_jsonl(args.items)} if args.items else {}
    grouped: "OrderedDict[str, dict]" = OrderedDict()
    for n, row in enumerate(iter_jsonl(args.responses), 1):
        rid = str(row.get("id", f"row{n}"))
        base = dict(items.get(rid) or {})
        for key in ("answer", "tests", "domain", "metadata", "source"):
            if row.get(key) is not None:
                base[key] = row[key]
        if base.get("answer") is None and row.get("gold") is not None:
            base["answer"] = row["gold"]
        base["id"] = rid
        entry = grouped.setdefault(rid, {"item": base, "texts": []})
        entry["texts"].extend(_text_of(row))
    if not grouped:
        raise SkyT1Error(f"{args.responses} holds no rows", "pass a JSONL file with one response per row")

    pairs = [(e["item"], t) for e in grouped.values() for t in e["texts"]]
    scorer, evaluator = _declared(args)
    sandbox = None
    if scorer == "code":
        over = {k: v for k, v in (("cpu_s", args.cpu_s), ("wall_s", args.wall_s), ("memory_mb", args.memory_mb))
                if v is not None}
        sandbox = default_sandbox(Limits(**over))
    results = score_batch(pairs, task=args.task, sandbox=sandbox, workers=args.workers, scorer=scorer,
                          evaluator=evaluator)

    it = iter(results)
    per_item, out_rows = [], []
    for rid, e in grouped.items():
        flags = []
        for i, _ in enumerate(e["texts"]):
            r = next(it)
            flags.append(bool(r["correct"]))
            out_rows.append({"id": rid, "sample": i, **r})
        per_item.append(flags)
    summary = {"task": args.task, "scorer": scorer,
               **({"evaluator": evaluator} if sandbox is not None and evaluator else {}),
               "samples": len(pairs), **summarize(per_item, args.k)}
    summary = {k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()}
    if args.out:
        write_jsonl(args.out, out_rows)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0
