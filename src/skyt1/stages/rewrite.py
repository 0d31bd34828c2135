"""Stage 2: the rewriter turns each trace into the thought/solution format.

mode full (the paper): the rewriter writes the whole formatted text from the trace.
mode solution_only: the rewriter writes only the final solution; the trace becomes the thought
section word for word (for rewriters too small to reproduce the tag structure)."""

from __future__ import annotations

import logging

from .. import provenance, texts
from ..formatting import assemble
from ..generation.run import finish
from ..io import read_jsonl, write_json, write_jsonl
from .common import generate

log = logging.getLogger(__name__)


def user_text(row: dict, prompt: dict | None = None) -> str:
    """The rewriter's user turn. With prompt.user_template (the original's convert prompt) it is that
    template with {content} = the teacher's trace, {question} = the question and the prompt's `fields`
    (the one-shot {example}); without one, our own short frame."""
    if prompt and prompt.get("user_template"):
        return prompt["user_template"].format(content=row["trace"], question=row["question"], **(prompt.get("fields") or {}))
    return f"Question: {row['question']}\n\nReasoning: {row['trace']}"


def run(traces_path, model_dir, out_path, stats_path, cfg: dict, prompt: dict, model_spec: dict,
        threads: int = 1, gpus: int = 0, cache_cfg: dict | None = None, model_name: str = "model",
        log_path: str | None = None, artifacts: dict | None = None, engine=None) -> None:
    rows = read_jsonl(traces_path)
    prompt, prompt_texts = texts.Resolver(cache_cfg, artifacts).resolve_prompt(prompt, "rewrite prompt")
    request_ids: dict = {}
    results, stats = generate("rewrite", [r["id"] for r in rows], [user_text(r, prompt) for r in rows], prompt, cfg,
                              model_dir, model_spec, out_path, threads, gpus, cache_cfg=cache_cfg,
                              model_name=model_name, log_path=log_path, request_ids=request_ids, engine=engine)
    out = []
    for r in rows:
        comp = results.get(r["id"])
        if comp is None:  # failed for good: recorded in the stats' failures, never written as data
            continue
        raw = comp.texts[0]
        rewritten = raw if cfg["mode"] == "full" else assemble(r["trace"], raw)
        out.append({**r, "rewrite_raw": raw, "rewritten": rewritten, "rewrite_finish_reason": comp.finish_reasons[0],
                    "rewrite_request": request_ids.get(r["id"])})
    write_jsonl(out_path, out)
    stats["rows"] = len(out)
    stats["mode"] = cfg["mode"]
    write_json(stats_path, {**stats, "provenance": provenance.collect("rewrite", cfg, [traces_path, model_dir or ""],
                                                                       prompt=prompt, texts={"prompt": prompt_texts})})
    finish(out_path)
    log.info("rewrite: %d rows written (%s)", len(out), out_path)
