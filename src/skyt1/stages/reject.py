"""Stage 3: reject sampling. Keep a rewritten trace only if its final answer is right."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from .. import provenance
from ..core.formatting import split_sections
from ..core.io import read_jsonl, write_json, write_jsonl
from ..scoring import make_sandbox, score_batch, scorer_kind

log = logging.getLogger(__name__)


def _format_gate(row: dict, require_format: bool) -> dict | None:
    sections = split_sections(row["rewritten"])
    if require_format and not sections.complete:
        missing = "thought" if not sections.thought else "solution"
        return {"accepted": False, "reason": f"format: no {missing} section", "predicted": None}
    return None


_OMIT = {"omit_none": True}  # absent from the params while None (settings.spec_dict)


@dataclass(frozen=True)
class Spec:
    """cfg: the `reject:` section; sandbox: the code sandbox's limits; scorer: the source's declared scorer
    (else its adapter's, as settings gives it; None: inferred per record); domain: the source's;
    evaluator: the official evaluator profile its code rows are judged like (code sources only)."""
    cfg: dict
    sandbox: dict
    scorer: str | None = None
    domain: str | None = None
    evaluator: dict | None = field(default=None, metadata=_OMIT)


@dataclass(frozen=True)
class Paths:
    rewritten: str
    accepted: str
    rejected: str
    stats: str


def spec(config: dict, source: str | None = None, **_wildcards) -> Spec:
    if source is None:
        return Spec(config["reject"], config["sandbox"])
    src = config["train_sources"][source]
    scorer = src.get("scorer")  # declared (the schema requires it of every source but a passthrough one)
    evaluator = None
    if scorer == "code":  # the official evaluator the source's code is judged like
        from ..scoring.evaluators import params_of

        evaluator = params_of(src)
    return Spec(config["reject"], config["sandbox"], scorer, src["domain"], evaluator)


def run(spec: Spec, paths: Paths, threads: int = 1) -> None:
    """Code rows run in parallel sandboxes, as many at once as the rule has threads. A row whose judging
    raised is rejected with its reason and counted (judge_errors)."""
    cfg, scorer, domain, evaluator = spec.cfg, spec.scorer, spec.domain, spec.evaluator
    in_path, accepted_path, rejected_path, stats_path = paths.rewritten, paths.accepted, paths.rejected, paths.stats
    rows = read_jsonl(in_path)
    kinds = {scorer} if scorer else {scorer_kind(r) for r in rows}
    sandbox = make_sandbox(spec.sandbox) if "code" in kinds else None
    require = cfg["require_format"]
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
                             "verdict": {**verdict, "scorer": scorer or scorer_kind(row)}})
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
