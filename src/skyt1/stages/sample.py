"""Stage 1: the teacher answers every training question."""

from __future__ import annotations

import logging

from .. import provenance, texts
from ..generation.run import finish
from ..errors import SkyT1Error
from ..io import read_json, read_jsonl, write_json, write_jsonl
from .common import generate

log = logging.getLogger(__name__)


def run(records_path, model_dir, out_path, stats_path, cfg: dict, prompt: dict, model_spec: dict,
        threads: int = 1, gpus: int = 0, cache_cfg: dict | None = None, model_name: str = "model",
        log_path: str | None = None, source_spec: dict | None = None, artifacts: dict | None = None, engine=None,
        shard: tuple[int, int] = (0, 1)) -> None:
    """source_spec.user_template (if any) makes the teacher's user turn from each record (the task
    templates of the original); without one the question is asked as it is. shard (k, n): only every n-th
    record from the k-th (`merge` puts the shards back together)."""
    recs = shard_of(read_jsonl(records_path), *shard)
    resolver = texts.Resolver(cache_cfg, artifacts)
    prompt, prompt_texts = resolver.resolve_prompt(prompt, "sample prompt")
    template, template_texts = resolver.resolve_template((source_spec or {}).get("user_template"), "user_template")
    users = {r["id"]: texts.render(template, r) for r in recs}
    request_ids: dict = {}
    results, stats = generate("sample", [r["id"] for r in recs], [users[r["id"]] for r in recs],
                              {**prompt, "user_template": template}, cfg,
                              model_dir, model_spec, out_path, threads, gpus, cache_cfg=cache_cfg,
                              model_name=model_name, log_path=log_path, request_ids=request_ids, engine=engine)
    rows = []
    for r in recs:
        comp = results.get(r["id"])
        if comp is None:
            continue
        for k, (text, reason) in enumerate(zip(comp.texts, comp.finish_reasons)):
            rows.append({**r, "id": r["id"] if len(comp.texts) == 1 else f"{r['id']}#{k}", "record_id": r["id"],
                         "user": users[r["id"]], "sample_index": k, "trace": text, "trace_finish_reason": reason,
                         "teacher_request": request_ids.get(r["id"])})
    write_jsonl(out_path, rows)
    stats["rows"] = len(rows)
    write_json(stats_path, {**stats, "provenance": provenance.collect("sample", cfg, [records_path, model_dir or ""],
                                                                      prompt=prompt,
                                                                      texts={"prompt": prompt_texts,
                                                                             "user_template": template_texts})})
    finish(out_path)
    log.info("sample: %d traces written (%s)", len(rows), out_path)


def shard_of(recs: list[dict], k: int, n: int) -> list[dict]:
    """Shard k of n: the records at positions k, k+n, k+2n, ... (independent of the request cache's keys,
    so a different shard count reuses every cached answer)."""
    if not 0 <= k < n:
        raise SkyT1Error(f"shard {k} of {n} does not exist", "sample.shards must be >= 1; shards are numbered 0..shards-1")
    return recs[k::n]


def merge(records_path, trace_paths: list, stats_paths: list, out_path, stats_path) -> None:
    """The shards' traces of one source as one file, in the records' order. Fails (writing nothing) if a
    record is in two shards, or in none without having failed for good in its shard."""
    order = {r["id"]: i for i, r in enumerate(read_jsonl(records_path))}
    rows, owner, failed = [], {}, set()
    for k, (tp, sp) in enumerate(zip(trace_paths, stats_paths)):
        stats = read_json(sp)
        failed.update(f["key"] for f in stats.get("failures", []))
        for row in read_jsonl(tp):
            rid = row["record_id"]
            if owner.setdefault(rid, k) != k:
                raise SkyT1Error(f"sample merge: record {rid} is in shards {owner[rid]} and {k}",
                                 "delete results/sample/shards/ and rerun the sample stage")
            rows.append(row)
    missing = set(order) - set(owner) - failed
    if missing:
        raise SkyT1Error(f"sample merge: {len(missing)} records are in no shard (first: {sorted(missing)[0]})",
                         "delete results/sample/shards/ and rerun the sample stage")
    unknown = set(owner) - set(order)
    if unknown:
        raise SkyT1Error(f"sample merge: {len(unknown)} traces belong to no record of {records_path} (first: {sorted(unknown)[0]})",
                         "delete results/sample/shards/ and rerun the sample stage")
    rows.sort(key=lambda r: (order[r["record_id"]], r["sample_index"]))
    parts = [read_json(p) for p in stats_paths]
    total = dict(parts[0])
    for key in ("items", "prompt_tokens", "completion_tokens", "failed", "cached", "resumed", "generated", "cost_usd"):
        values = [p[key] for p in parts if isinstance(p.get(key), (int, float))]
        if values:
            total[key] = round(sum(values), 6) if isinstance(values[0], float) else sum(values)
    total["failures"] = [f for p in parts for f in p.get("failures", [])]
    total["rows"] = len(rows)
    total["shards"] = [{k: p.get(k) for k in ("items", "rows", "engine_start")} for p in parts]
    total.pop("engine_start", None)
    write_jsonl(out_path, rows)
    write_json(stats_path, total)
    log.info("sample merge: %d traces from %d shards (%s)", len(rows), len(parts), out_path)
