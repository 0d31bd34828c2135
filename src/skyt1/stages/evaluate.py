"""Stage 6: one model on one benchmark -> per-sample JSONL and a summary JSON."""

from __future__ import annotations

import logging

from .. import provenance, texts
from ..errors import SkyT1Error
from ..generation import Params
from ..generation.run import finish
from ..io import read_jsonl, write_json, write_jsonl
from ..scoring import make_sandbox, score_item, scorer_kind
from .common import generate

log = logging.getLogger(__name__)


def settings(eval_params: dict, bench_spec: dict, family: str | None):
    """What one model family gets on one benchmark: (sampling Params, user template spec). family_generation
    and family_templates entries for the family win over the benchmark's generation / user_template."""
    gen = dict(bench_spec.get("generation") or {})
    gen.update((bench_spec.get("family_generation") or {}).get(family or "", {}))
    template = (bench_spec.get("family_templates") or {}).get(family or "", bench_spec.get("user_template"))
    return Params.from_config(eval_params, gen or None), template


def run(bench_path, model_dir, out_path, summary_path, *, benchmark: str, bench_spec: dict, label: str,
        display: str, eval_cfg: dict, prompt: dict, model_spec: dict, threads: int = 1, gpus: int = 0,
        cache_cfg: dict | None = None, log_path: str | None = None, sandbox_cfg: dict | None = None,
        family: str | None = None, artifacts: dict | None = None) -> None:
    """family (eval.models.<label>.family) picks the benchmark's family_templates / family_generation
    entry over its user_template / generation (the original prompts Sky-T1 models differently)."""
    items = read_jsonl(bench_path)
    sandbox = make_sandbox(sandbox_cfg) if any(scorer_kind(it) == "code" for it in items) else None
    params, spec_template = settings(eval_cfg["params"], bench_spec, family)
    resolver = texts.Resolver(cache_cfg, artifacts)
    prompt, prompt_texts = resolver.resolve_prompt(prompt, f"eval prompt of {label}")
    template, template_texts = resolver.resolve_template(spec_template, f"benchmarks.{benchmark}.user_template")
    users = [texts.render(template, it) for it in items]
    results, stats = generate(f"evaluate {label}/{benchmark}", [it["id"] for it in items],
                              users, {**prompt, "user_template": template}, eval_cfg, model_dir, model_spec, out_path,
                              threads, gpus, params=params, cache_cfg=cache_cfg, model_name=label,
                              log_path=log_path)
    rows, total = [], 0.0
    for it in items:
        comp = results.get(it["id"])
        if comp is None:
            continue
        samples = [{"text": t, "finish_reason": r, **score_item(it, t, sandbox=sandbox)}
                   for t, r in zip(comp.texts, comp.finish_reasons)]
        acc = sum(s["correct"] for s in samples) / len(samples)
        total += acc
        rows.append({"id": it["id"], "question": it["question"], "gold": it["answer"], "accuracy": acc,
                     "samples": samples})
    if not rows:
        raise SkyT1Error(f"evaluate {label}/{benchmark}: no item was generated", "see the stage's log")
    write_jsonl(out_path, rows)
    summary = {"benchmark": benchmark, "model": label, "model_display": display,
               "metric": bench_spec.get("metric", "accuracy"), "items": len(rows), "samples_per_item": params.n,
               "accuracy": round(100.0 * total / len(rows), 2), "paper_name": bench_spec.get("paper_name"),
               "generation": {k: v for k, v in stats.items() if k != "failures"},
               "provenance": provenance.collect("evaluate", eval_cfg, [bench_path, model_dir or ""], prompt=prompt,
                                                     texts={"prompt": prompt_texts, "user_template": template_texts},
                                                     family=family)}
    write_json(summary_path, summary)
    finish(out_path)
    log.info("evaluate %s on %s: %.2f%% over %d items", label, benchmark, summary["accuracy"], len(rows))
