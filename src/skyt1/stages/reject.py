"""Stage 3: reject sampling. Keep a rewritten trace only if its final answer is right."""

from __future__ import annotations

import logging
from collections import Counter

from .. import provenance
from ..formatting import split_sections
from ..io import read_jsonl, write_json, write_jsonl
from ..scoring import make_sandbox, score_batch, score_item, scorer_kind

log = logging.getLogger(__name__)


def judge(row: dict, require_format: bool = True, sandbox=None, scorer: str | None = None) -> dict:
    """Return {"accepted": bool, "reason": str|None, "predicted": ...} for one rewritten row.
    Math by equivalence with the gold answer, multiple choice by the option letter, code by running
    the row's tests inside the sandbox."""
    gate = _format_gate(row, require_format)
    if gate is not None:
        return gate
    text = row["rewritten"]
    result = score_item(row, split_sections(text).solution or text, sandbox=sandbox, scorer=scorer)
    return {"accepted": result["correct"], "reason": result["reason"], "predicted": result["predicted"]}


def _format_gate(row: dict, require_format: bool) -> dict | None:
    sections = split_sections(row["rewritten"])
    if require_format and not sections.complete:
        missing = "thought" if not sections.thought else "solution"
        return {"accepted": False, "reason": f"format: no {missing} section", "predicted": None}
    return None


def run(in_path, accepted_path, rejected_path, stats_path, cfg: dict, sandbox_cfg: dict | None = None,
        scorer: str | None = None, domain: str | None = None, threads: int = 1, evaluator=None) -> None:
    """`scorer` is the source's declared scorer (else inferred per record); code rows run in parallel
    sandboxes, as many at once as the rule has threads, judged like `evaluator` (the source's profile)
    judges. A row whose judging raised is rejected with its reason and counted (judge_errors)."""
    rows = read_jsonl(in_path)
    kinds = {scorer} if scorer else {scorer_kind(r) for r in rows}
    sandbox = make_sandbox(sandbox_cfg) if "code" in kinds else None
    require = cfg.get("require_format", True)
    verdicts = [_format_gate(r, require) for r in rows]
    todo = [i for i, v in enumerate(verdicts) if v is None]
    texts = [split_sections(rows[i]["rewritten"]).solution or rows[i]["rewritten"] for i in todo]
    for i, res in zip(todo, score_batch([(rows[i], t) for i, t in zip(todo, texts)], sandbox=sandbox,
                                        workers=max(1, threads), scorer=scorer, evaluator=evaluator)):
        verdicts[i] = {"accepted": res["correct"], "reason": res["reason"], "predicted": res["predicted"],
                       **({"judge_error": True} if res.get("judge_error") else {})}
    accepted, rejected, reasons = [], [], Counter()
    for row, verdict in zip(rows, verdicts):
        if verdict["accepted"]:
            accepted.append({**row, "predicted": verdict["predicted"],
                             "verdict": {**verdict, "scorer": scorer_kind(row)}})
        else:
            reasons[verdict["reason"].split(":")[0]] += 1
            rejected.append({**row, "predicted": verdict["predicted"], "reject_reason": verdict["reason"]})
    write_jsonl(accepted_path, accepted)
    write_jsonl(rejected_path, rejected)
    rate = len(accepted) / len(rows) if rows else 0.0
    write_json(stats_path, {"rows": len(rows), "accepted": len(accepted), "rejected": len(rejected),
                            "acceptance_rate": round(rate, 4), "reject_reasons": dict(reasons),
                            "judge_errors": sum(1 for v in verdicts if v.get("judge_error")),
                            "evaluator": evaluator.get("name") if isinstance(evaluator, dict) else evaluator,
                            "domain": domain, "scorer": scorer or ",".join(sorted(kinds)),
                            "provenance": provenance.collect("reject", cfg, [in_path])})
    log.info("reject: %d/%d accepted (%.1f%%)", len(accepted), len(rows), 100 * rate)
