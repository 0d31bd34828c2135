"""Stage 1: the teacher answers every training question."""

from __future__ import annotations

import logging

from dataclasses import dataclass

from .. import provenance
from ..published import texts
from ..core.errors import SkyT1Error
from ..generation import Params
from ..generation.run import finish
from ..core.io import read_json, read_jsonl, write_json, write_jsonl
from .common import Job, Model, Paths, Target, domain_prompt, gen_model, generate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    """What one sample target takes from the validated config (settings.split cuts it into the rule's
    params and the operational settings)."""
    cfg: dict  # the sample section without its sources (backend, params, shards, ...), defaults filled
    prompt: dict  # the teacher's prompt (prompts.<name> for the source's domain)
    model_spec: dict  # models.<sample.model>, less its chat template (training's)
    model_name: str
    cache: dict  # the request cache section
    artifacts: dict  # pinned texts: their sha256 counts, where the file lies does not
    source_spec: dict | None = None  # train_sources.<source>: its user_template shapes the teacher's prompt
    shard: int = 0  # this job's shard: every cfg.shards-th record from this one


def spec(config: dict, source: str | None = None, shard: int | str = 0) -> Spec:
    section = config["sample"]
    src = config["train_sources"][source] if source is not None else None
    domain = src["domain"] if src is not None else None
    return Spec(cfg={k: v for k, v in section.items() if k != "sources"},  # one job per source: the list is the DAG's
                prompt=config["prompts"][domain_prompt(section, domain)],
                model_spec=gen_model(config["models"][section["model"]]), model_name=section["model"],
                cache=config["cache"], artifacts=config["artifacts"], source_spec=src, shard=int(shard))


def run(spec: Spec, paths: Paths, job: Job = Job()) -> None:
    """paths.input: the source's records; spec.source_spec.user_template (if any) makes the teacher's user
    turn from each record (the task templates of the original); without one the question is asked as it
    is. Only shard spec.shard of cfg.shards: every n-th record from the k-th (`merge` puts the shards back together)."""
    cfg = spec.cfg
    recs = shard_of(read_jsonl(paths.input), spec.shard, cfg["shards"])
    resolver = texts.Resolver(spec.cache, spec.artifacts)
    prompt, prompt_texts = resolver.resolve_prompt(spec.prompt, "sample prompt")
    template, template_texts = resolver.resolve_template((spec.source_spec or {}).get("user_template"), "user_template")
    users = {r["id"]: texts.render(template, r) for r in recs}
    request_ids: dict = {}
    target = Target("sample", Model(paths.model, spec.model_spec, spec.model_name), cfg["backend"], spec.cache,
                    paths.out, job)
    results, stats = generate(target, [r["id"] for r in recs], [users[r["id"]] for r in recs],
                              {**prompt, "user_template": template}, Params.from_config(cfg["params"]),
                              request_ids=request_ids)
    rows = []
    for r in recs:
        comp = results.get(r["id"])
        if comp is None:
            continue
        for k, (text, reason) in enumerate(zip(comp.texts, comp.finish_reasons)):
            rows.append({**r, "id": r["id"] if len(comp.texts) == 1 else f"{r['id']}#{k}", "record_id": r["id"],
                         "user": users[r["id"]], "sample_index": k, "trace": text, "trace_finish_reason": reason,
                         "teacher_request": request_ids.get(r["id"])})
    write_jsonl(paths.out, rows)
    stats["rows"] = len(rows)
    write_json(paths.stats, {**stats, "provenance": provenance.collect("sample", cfg, [paths.input, paths.model or ""],
                                                                       prompt=prompt,
                                                                       texts={"prompt": prompt_texts,
                                                                              "user_template": template_texts})})
    finish(paths.out)
    log.info("sample: %d traces written (%s)", len(rows), paths.out)


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
