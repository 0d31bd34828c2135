"""Stage 6: one model on one benchmark -> per-sample JSONL and a summary JSON.

The benchmark's declaration (skyt1.benchmarks) gives the user template, the sampling settings, the scorer
and the metric; the metric and its 95% interval come from skyt1.scoring.metrics. The summary counts the
responses that are empty, hit max tokens, have no extractable answer or time out in the sandbox, and the
stage fails with one line when a share passes its limit (so an all-zero column cannot pass silently)."""

from __future__ import annotations

import logging

from .. import provenance, texts
from ..benchmarks import FAILURE_KINDS, declare
from ..errors import SkyT1Error
from ..generation import Params
from ..generation.run import finish
from ..io import read_jsonl, write_json, write_jsonl
from ..paper import reported
from ..scoring import make_sandbox, score_batch
from ..scoring import metrics
from .common import generate

log = logging.getLogger(__name__)


def failure_kinds(sample: dict, scorer: str) -> list[str]:
    """Which of FAILURE_KINDS one scored response shows."""
    kinds = []
    if not (sample.get("text") or "").strip():
        kinds.append("empty")
    if sample.get("finish_reason") == "length":
        kinds.append("max_tokens")
    if sample.get("predicted") is None:
        kinds.append("no_answer")
    if scorer == "code" and "time limit" in (sample.get("reason") or ""):
        kinds.append("sandbox_timeout")
    return kinds


def failure_counts(rows: list[dict], scorer: str) -> dict:
    responses = sum(len(r["samples"]) for r in rows)
    counts = dict.fromkeys(FAILURE_KINDS, 0)
    for r in rows:
        for s in r["samples"]:
            for k in failure_kinds(s, scorer):
                counts[k] += 1
    shares = {k: round(v / responses, 4) if responses else 0.0 for k, v in counts.items()}
    return {"responses": responses, "counts": counts, "shares": shares}


def check_failure_shares(where: str, failures: dict, limits: dict) -> None:
    """One clear line when a share of bad responses passes its configured limit."""
    for kind in FAILURE_KINDS:
        share, limit = failures["shares"][kind], limits[kind]
        if share > limit:
            raise SkyT1Error(f"{where}: {failures['counts'][kind]} of {failures['responses']} responses are "
                             f"{kind.replace('_', ' ')} ({share:.1%} > max_share.{kind} {limit:.1%})",
                             "look at the responses in the stage's log; fix the template, max_new_tokens or "
                             f"the scorer, or raise eval.max_share.{kind} / benchmarks.<name>.max_share.{kind}")


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
        family: str | None = None, paper_model: str | None = None, artifacts: dict | None = None, engine=None,
        evaluator: dict | None = None) -> None:
    """family (eval.models.<label>.family) picks the benchmark's family_templates / family_generation
    entry over its user_template / generation (the original prompts Sky-T1 models differently).
    evaluator: a code benchmark's evaluator profile (skyt1.scoring.evaluators), as the rule's params give it."""
    bench = declare(benchmark, bench_spec)
    items = read_jsonl(bench_path)
    sandbox = make_sandbox(sandbox_cfg) if bench.scorer == "code" else None
    params, spec_template = settings(eval_cfg["params"], bench_spec, family)
    resolver = texts.Resolver(cache_cfg, artifacts)
    prompt, prompt_texts = resolver.resolve_prompt(prompt, f"eval prompt of {label}")
    template, template_texts = resolver.resolve_template(spec_template, f"benchmarks.{benchmark}.user_template")
    kind, k = metrics.parse_metric(bench.metric)
    if kind == "pass" and params.n < k:
        raise SkyT1Error(f"benchmark {benchmark!r}: {bench.metric} needs n >= {k} samples, the settings give n={params.n}",
                         f"set benchmarks.{benchmark}.generation.n to {k} or more")
    results, stats = generate(f"evaluate {label}/{benchmark}", [it["id"] for it in items],
                              [texts.render(template, it) for it in items], {**prompt, "user_template": template},
                              eval_cfg, model_dir, model_spec, out_path, threads, gpus, params=params, cache_cfg=cache_cfg, model_name=label,
                              log_path=log_path, engine=engine)
    done = [it for it in items if it["id"] in results]
    if not done:
        raise SkyT1Error(f"evaluate {label}/{benchmark}: no item was generated", "see the stage's log")
    # One sandbox per code response, as many at once as the rule has threads.
    pairs = [(it, t) for it in done for t in results[it["id"]].texts]
    evaluator = evaluator or (bench.evaluator if bench.scorer == "code" else None)
    scored = iter(score_batch(pairs, sandbox=sandbox, workers=max(1, threads), scorer=bench.scorer,
                              evaluator=evaluator))
    rows = []
    for it in done:
        comp = results[it["id"]]
        samples = [{"text": t, "finish_reason": r, **next(scored)} for t, r in zip(comp.texts, comp.finish_reasons)]
        rows.append({"id": it["id"], "question": it["question"], "gold": it["answer"],
                     "accuracy": metrics.mean_accuracy([s["correct"] for s in samples]), "samples": samples})
    correct = [[s["correct"] for s in r["samples"]] for r in rows]
    scores = metrics.item_scores(bench.metric, correct)
    value = round(100.0 * sum(scores) / len(scores), 2)
    boot = eval_cfg.get("bootstrap") or {}
    ci = metrics.confidence_interval(scores, binary=params.n == 1, seed=boot.get("seed", 0),
                                     resamples=boot.get("resamples", 2000))
    paper_value = reported(bench.paper_name, paper_model) if paper_model else None
    failures = failure_counts(rows, bench.scorer)
    limits = bench.limits(eval_cfg.get("max_share"))
    failures["limits"] = limits
    for kind_ in FAILURE_KINDS:
        if failures["counts"][kind_]:
            log.info("%s: %d of %d responses", kind_, failures["counts"][kind_], failures["responses"])
    check_failure_shares(f"evaluate {label}/{benchmark}", failures, limits)
    write_jsonl(out_path, rows)
    summary = {"benchmark": benchmark, "model": label, "model_display": display, "family": family or "default",
               "metric": bench.metric, "scorer": bench.scorer, "version": bench.version, "items": len(rows),
               "evaluator": evaluator.get("name") if isinstance(evaluator, dict) else evaluator,
               "judge_errors": sum(1 for r in rows for s_ in r["samples"] if s_.get("judge_error")),
               "samples_per_item": params.n, "value": value, "ci95": ci,
               "accuracy": round(100.0 * sum(r["accuracy"] for r in rows) / len(rows), 2),
               "paper_name": bench.paper_name, "paper_model": paper_model, "reported": paper_value,
               "verdict": metrics.verdict(paper_value, ci["low"], ci["high"]),
               "failures": failures, "declaration": bench.describe(),
               "generation": {k_: v for k_, v in stats.items() if k_ != "failures"},
               "provenance": provenance.collect("evaluate", eval_cfg, [bench_path, model_dir or ""], prompt=prompt,
                                                texts={"prompt": prompt_texts, "user_template": template_texts},
                                                family=family)}
    write_json(summary_path, summary)
    finish(out_path)
    log.info("evaluate %s on %s: %s %.2f [%.2f, %.2f] over %d items", label, benchmark, bench.metric, value,
             ci["low"], ci["high"], len(rows))
