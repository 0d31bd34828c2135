"""Stage 6: one model on one benchmark -> per-sample JSONL and a summary JSON.

The benchmark's declaration (skyt1.benchmarks) gives the user template, the sampling settings, the scorer
and the metric; the metric and its 95% interval come from skyt1.scoring.metrics. The summary counts the
responses that are empty, hit max tokens, have no extractable answer or time out in the sandbox, and the
stage fails with one line when a share passes its limit (so an all-zero column cannot pass silently)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import provenance
from ..published import texts
from ..benchmarks import FAILURE_KINDS, declare
from ..core.errors import SkyT1Error
from ..generation import Params
from ..generation.run import finish
from ..core.io import read_jsonl, write_json, write_jsonl
from ..published.paper import reported
from ..scoring import make_sandbox, score_batch
from ..scoring import metrics
from .common import Job, Model, Paths, Target, domain_prompt, gen_model, generate

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


@dataclass(frozen=True)
class Spec:
    """What one model on one benchmark takes from the validated config: only this model's entry and this
    benchmark's declaration, so adding a model or a benchmark leaves the other evaluations alone
    (settings.split cuts it into the rule's params and the operational settings)."""
    label: str  # eval.models.<label>
    benchmark: str  # benchmarks.<benchmark>
    eval_cfg: dict  # eval's backend, params, bootstrap and max_share, defaults filled
    bench_spec: dict  # benchmarks.<benchmark>
    model: dict  # eval.models.<label> less stands_in_for (it only labels the table)
    prompt: dict  # prompts.<name> for the benchmark's domain
    model_spec: dict  # the model it runs (the student's for the checkpoint), less its chat template
    cache: dict  # the request cache section
    sandbox: dict  # limits for model-written code (skyt1.scoring.sandbox.Limits.from_config)
    artifacts: dict  # pinned texts
    evaluator: dict | None = None  # a code benchmark's evaluator profile (skyt1.scoring.evaluators)

    @property
    def display(self) -> str:
        return self.model["label"]

    @property
    def family(self) -> str | None:
        """eval.models.<label>.family: picks the benchmark's family_templates / family_generation entry."""
        return self.model.get("family")

    @property
    def paper_model(self) -> str | None:
        return self.model.get("paper_model")


def spec(config: dict, label: str, bench: str) -> Spec:
    ev, entry, bench_spec = config["eval"], config["eval"]["models"][label], config["benchmarks"][bench]
    model_name = config["train"]["student"] if entry.get("checkpoint") else entry["model"]
    return Spec(label=label, benchmark=bench,
                eval_cfg={k: ev[k] for k in ("backend", "params", "bootstrap", "max_share") if k in ev},
                bench_spec=bench_spec, model={k: v for k, v in entry.items() if k != "stands_in_for"},
                prompt=config["prompts"][domain_prompt(entry, bench_spec["domain"])],
                model_spec=gen_model(config["models"][model_name]), cache=config["cache"],
                sandbox=config["sandbox"], artifacts=config["artifacts"],
                evaluator=_bench_evaluator(bench_spec))


def _bench_evaluator(entry: dict) -> dict | None:
    """A code benchmark's declared evaluator profile; None otherwise."""
    from ..scoring.evaluators import params_of

    if entry["scorer"] != "code":
        return None
    return params_of(entry) or None


def run(spec: Spec, paths: Paths, job: Job = Job()) -> None:
    """paths.input: the benchmark's items. The model's family picks the benchmark's family_templates /
    family_generation entry over its user_template / generation (the original prompts Sky-T1 models
    differently)."""
    benchmark, bench_spec, label, eval_cfg = spec.benchmark, spec.bench_spec, spec.label, spec.eval_cfg
    family, paper_model = spec.family, spec.paper_model
    bench_path, model_dir, out_path, summary_path = paths.input, paths.model, paths.out, paths.stats
    bench = declare(benchmark, bench_spec)
    items = read_jsonl(bench_path)
    sandbox = make_sandbox(spec.sandbox) if bench.scorer == "code" else None
    params, spec_template = settings(eval_cfg["params"], bench_spec, family)
    resolver = texts.Resolver(spec.cache, spec.artifacts)
    prompt, prompt_texts = resolver.resolve_prompt(spec.prompt, f"eval prompt of {label}")
    template, template_texts = resolver.resolve_template(spec_template, f"benchmarks.{benchmark}.user_template")
    kind, k = metrics.parse_metric(bench.metric)
    if kind == "pass" and params.n < k:
        raise SkyT1Error(f"benchmark {benchmark!r}: {bench.metric} needs n >= {k} samples, the settings give n={params.n}",
                         f"set benchmarks.{benchmark}.generation.n to {k} or more")
    target = Target(f"evaluate {label}/{benchmark}", Model(model_dir, spec.model_spec, label), eval_cfg["backend"],
                    spec.cache, out_path, job)
    results, stats = generate(target, [it["id"] for it in items], [texts.render(template, it) for it in items],
                              {**prompt, "user_template": template}, params)
    done = [it for it in items if it["id"] in results]
    if not done:
        raise SkyT1Error(f"evaluate {label}/{benchmark}: no item was generated", "see the stage's log")
    # One sandbox per code response, as many at once as the rule has threads.
    pairs = [(it, t) for it in done for t in results[it["id"]].texts]
    evaluator = spec.evaluator or (bench.evaluator if bench.scorer == "code" else None)
    scored = iter(score_batch(pairs, sandbox=sandbox, workers=max(1, job.threads), scorer=bench.scorer,
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
    boot = eval_cfg["bootstrap"]
    ci = metrics.confidence_interval(scores, binary=params.n == 1, seed=boot["seed"], resamples=boot["resamples"])
    paper_value = reported(bench.paper_name, paper_model) if paper_model else None
    failures = failure_counts(rows, bench.scorer)
    limits = bench.limits(eval_cfg.get("max_share"))
    failures["limits"] = limits
    for kind_ in FAILURE_KINDS:
        if failures["counts"][kind_]:
            log.info("%s: %d of %d responses", kind_, failures["counts"][kind_], failures["responses"])
    check_failure_shares(f"evaluate {label}/{benchmark}", failures, limits)
    write_jsonl(out_path, rows)
    summary = {"benchmark": benchmark, "model": label, "model_display": spec.display, "family": family or "default",
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
