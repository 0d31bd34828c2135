"""One declaration per benchmark, one file each (the way lm-evaluation-harness declares tasks).

A benchmark is declared once, in config/benchmarks/<name>.yaml (schema: config/schema.yaml,
$defs.benchmark; docs/benchmarks.md): where its data comes from (adapter: a hub id + revision/split/filters
in `options`, or a package), the user template per model family, the sampling settings (`generation`: n,
temperature, top_p, max tokens, over `eval.params`), its scorer, the official evaluator's profile (code),
the metric, a version, and the loud-failure limits. A file may start from another (`include: <name>`) and
override keys. A preset lists benchmarks by name; `expand()` (called by skyt1.config.resolve) turns that list
into the full `benchmarks:` mapping the stages read. `declare()` turns one entry into a typed `Benchmark`
with every field filled; the evaluate and table stages use only that.

The scorer is declared, never guessed: not from the name, not from the adapter.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .core.errors import SkyT1Error
from .scoring import SCORERS
from .scoring.metrics import parse_metric

BENCHMARK_DIR = Path(__file__).resolve().parents[2] / "config" / "benchmarks"


def names(folder: Path = BENCHMARK_DIR) -> list[str]:
    """Every benchmark declared under config/benchmarks/."""
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def load_file(name: str, folder: Path = BENCHMARK_DIR, where: str | None = None, _seen: tuple = ()) -> dict:
    """The declaration config/benchmarks/<name>.yaml with its `include:` chain resolved (the file's keys
    override those of the file it includes; mappings merge key by key, lists are replaced)."""
    where = where or f"benchmarks.{name}"
    path = Path(folder) / f"{name}.yaml"
    if not isinstance(name, str) or not name.isidentifier() or not path.exists():
        raise SkyT1Error(f"config key {where!r}: unknown benchmark {name!r}",
                         f"use one of {names(folder)}, or add config/benchmarks/{name}.yaml (docs/benchmarks.md)")
    if name in _seen:
        raise SkyT1Error(f"benchmark file {name}.yaml includes itself ({' -> '.join(_seen + (name,))})",
                         "break the include chain")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SkyT1Error(f"benchmark file {path} is not valid YAML: {str(e).splitlines()[0]}", "fix the YAML syntax")
    if not isinstance(data, dict):
        raise SkyT1Error(f"benchmark file {path} must hold a mapping", "fix the file")
    parent = data.pop("include", None)
    if parent is None:
        return data
    return _merge(load_file(parent, folder, f"{name}.yaml: include", _seen + (name,)), data)


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def expand(section, base: dict | None = None, folder: Path = BENCHMARK_DIR) -> dict:
    """A preset's (or a user file's) `benchmarks:` as the full mapping name -> declaration.

    `section` is a list of names (each is config/benchmarks/<name>.yaml) or a mapping name -> overrides:
    an entry with `include: <file>` is that file under another name (a variant, a tiny size); an entry
    without it overrides the entry of that name in `base` (the preset below a layered file: the smoke
    run's fixtures), else the file of that name. A list replaces `base`; a mapping merges into it."""
    if section is None:
        return dict(base or {})
    if isinstance(section, list):
        if not all(isinstance(n, str) for n in section):
            raise SkyT1Error("config key 'benchmarks': a list must hold benchmark names",
                             "list names of config/benchmarks/*.yaml, or give a mapping name -> overrides")
        return {name: load_file(name, folder) for name in section}
    if not isinstance(section, dict):
        raise SkyT1Error("config key 'benchmarks' must be a list of names or a mapping name -> overrides",
                         "see docs/benchmarks.md")
    out = dict(base or {})
    for name, over in section.items():
        if over is not None and not isinstance(over, dict):
            raise SkyT1Error(f"config key 'benchmarks.{name}' must be a mapping of overrides", "see docs/benchmarks.md")
        over = dict(over or {})
        if "include" in over:
            out[name] = _merge(load_file(over.pop("include"), folder, f"benchmarks.{name}.include"), over)
        elif name in out:
            out[name] = _merge(out[name], over)
        else:
            out[name] = _merge(load_file(name, folder), over)
    return out


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
    scorer = entry.get("scorer")
    if scorer is None:  # declared, never guessed from the name or the adapter
        raise SkyT1Error(f"config key 'benchmarks.{name}.scorer' is missing",
                         f"declare the scorer ({'/'.join(SCORERS.names())}) in the benchmark's file")
    if scorer not in SCORERS:
        raise SkyT1Error(f"config key 'benchmarks.{name}.scorer': unknown scorer {scorer!r}", f"use one of {SCORERS.names()}")
    evaluator = None
    if scorer == "code":
        from .scoring.evaluators import load

        evaluator = entry.get("evaluator")
        if evaluator is None:
            raise SkyT1Error(f"config key 'benchmarks.{name}.evaluator' is missing (a code benchmark)",
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
    return Benchmark(name=name, adapter=adapter, domain=entry["domain"], scorer=scorer, metric=metric,
                     version=str(entry.get("version", "1")), options=dict(entry.get("options") or {}),
                     limit=entry.get("limit"), paper_name=entry.get("paper_name"),
                     user_template=entry.get("user_template"),
                     family_templates=dict(entry.get("family_templates") or {}),
                     family_generation=dict(entry.get("family_generation") or {}), generation=gen,
                     max_share=dict(entry.get("max_share") or {}), evaluator=evaluator)


def declare_all(config: dict) -> dict[str, Benchmark]:
    return {name: declare(name, entry) for name, entry in config["benchmarks"].items()}
