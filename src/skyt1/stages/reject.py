"""Stage 3: reject sampling. Keep a rewritten trace only if its final answer is right."""

from __future__ import annotations

import logging
from collections import Counter

from .. import provenance
from ..formatting import split_sections
from ..io import read_jsonl, write_json, write_jsonl
from ..scoring import make_sandbox, score_item, scorer_kind

log = logging.getLogger(__name__)


def judge(row: dict, require_format: bool = True, sandbox=None) -> dict:
    """Return {"accepted": bool, "reason": str|None, "predicted": ...} for one rewritten row.
    Math by equivalence with the gold answer, multiple choice by the option letter, code by running
    the row's tests inside the sandbox."""
    text = row["rewritten"]
    sections = split_sections(text)
    if require_format and not sections.complete:
        missing = "thought" if not sections.thought else "solution"
        return {"accepted": False, "reason": f"format: no {missing} section", "predicted": None}
    result = score_item(row, sections.solution or text, sandbox=sandbox)
    return {"accepted": result["correct"], "reason": result["reason"], "predicted": result["predicted"]}


def run(in_path, accepted_path, rejected_path, stats_path, cfg: dict, sandbox_cfg: dict | None = None) -> None:
    rows = read_jsonl(in_path)
    sandbox = make_sandbox(sandbox_cfg) if any(scorer_kind(r) == "code" for r in rows) else None
    accepted, rejected, reasons = [], [], Counter()
    for row in rows:
        verdict = judge(row, cfg.get("require_format", True), sandbox)
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
                            "provenance": provenance.collect("reject", cfg, [in_path])})
    log.info("reject: %d/%d accepted (%.1f%%)", len(accepted), len(rows), 100 * rate)
