"""Stage 1: the teacher answers every training question."""

from __future__ import annotations

import logging

from .. import provenance, texts
from ..generation.run import finish
from ..io import read_jsonl, write_json, write_jsonl
from .common import generate

log = logging.getLogger(__name__)


def run(records_path, model_dir, out_path, stats_path, cfg: dict, prompt: dict, model_spec: dict,
        threads: int = 1, gpus: int = 0, cache_cfg: dict | None = None, model_name: str = "model",
        log_path: str | None = None, source_spec: dict | None = None, artifacts: dict | None = None, engine: str | None = None) -> None:
    """source_spec.user_template (if any) makes the teacher's user turn from each record (the task
    templates of the original); without one the question is asked as it is."""
    recs = read_jsonl(records_path)
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
