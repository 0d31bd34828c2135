"""Stage 2: the rewriter turns each trace into the thought/solution format.

mode full (the paper): the rewriter writes the whole formatted text from the trace.
mode solution_only: the rewriter writes only the final solution; the trace becomes the thought
section word for word (for rewriters too small to reproduce the tag structure)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import provenance
from ..published import texts
from ..core.formatting import assemble
from ..generation import Params
from ..generation.run import finish
from ..core.io import read_jsonl, write_json, write_jsonl
from .common import Job, Model, Paths, Target, domain_prompt, gen_model, generate

log = logging.getLogger(__name__)


def user_text(row: dict, prompt: dict | None = None) -> str:
    """The rewriter's user turn. With prompt.user_template (the original's convert prompt) it is that
    template with {content} = the teacher's trace, {question} = the question and the prompt's `fields`
    (the one-shot {example}); without one, our own short frame."""
    if prompt and prompt.get("user_template"):
        return prompt["user_template"].format(content=row["trace"], question=row["question"], **(prompt.get("fields") or {}))
    return f"Question: {row['question']}\n\nReasoning: {row['trace']}"


@dataclass(frozen=True)
class Spec:
    """What one rewrite target takes from the validated config (settings.split cuts it into the rule's
    params and the operational settings)."""
    cfg: dict  # the rewrite section without its sources (mode, backend, params, ...), defaults filled
    prompt: dict  # the rewriter's prompt (prompts.<name> for the source's domain)
    model_spec: dict  # models.<rewrite.model>, less its chat template
    model_name: str
    cache: dict  # the request cache section
    artifacts: dict  # pinned texts


def spec(config: dict, source: str | None = None) -> Spec:
    section = config["rewrite"]
    domain = config["train_sources"][source]["domain"] if source is not None else None
    return Spec(cfg={k: v for k, v in section.items() if k != "sources"},
                prompt=config["prompts"][domain_prompt(section, domain)],
                model_spec=gen_model(config["models"][section["model"]]), model_name=section["model"],
                cache=config["cache"], artifacts=config["artifacts"])


def run(spec: Spec, paths: Paths, job: Job = Job()) -> None:
    """paths.input: the source's traces (the sample stage's)."""
    cfg = spec.cfg
    rows = read_jsonl(paths.input)
    prompt, prompt_texts = texts.Resolver(spec.cache, spec.artifacts).resolve_prompt(spec.prompt, "rewrite prompt")
    request_ids: dict = {}
    target = Target("rewrite", Model(paths.model, spec.model_spec, spec.model_name), cfg["backend"], spec.cache,
                    paths.out, job)
    results, stats = generate(target, [r["id"] for r in rows], [user_text(r, prompt) for r in rows], prompt,
                              Params.from_config(cfg["params"]), request_ids=request_ids)
    out = []
    for r in rows:
        comp = results.get(r["id"])
        if comp is None:  # failed for good: recorded in the stats' failures, never written as data
            continue
        raw = comp.texts[0]
        rewritten = raw if cfg["mode"] == "full" else assemble(r["trace"], raw)
        out.append({**r, "rewrite_raw": raw, "rewritten": rewritten, "rewrite_finish_reason": comp.finish_reasons[0],
                    "rewrite_request": request_ids.get(r["id"])})
    write_jsonl(paths.out, out)
    stats["rows"] = len(out)
    stats["mode"] = cfg["mode"]
    write_json(paths.stats, {**stats, "provenance": provenance.collect("rewrite", cfg, [paths.input, paths.model or ""],
                                                                        prompt=prompt, texts={"prompt": prompt_texts})})
    finish(paths.out)
    log.info("rewrite: %d rows written (%s)", len(out), paths.out)
