"""`skyt1 recipe`: every effective value each stage of a preset will use, in one place.

Texts are resolved through skyt1.published.texts (so each shows its text, source, version and sha256), the
training section is rendered by the train stage's own argument builder, and eval settings are given per
model and benchmark the way the evaluate stage merges them. `skyt1 artifacts fetch` gets the pinned files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import config as skyt1_config
from . import lock
from ..published import paper, texts
from ..core.errors import SkyT1Error

REPO = Path(__file__).resolve().parents[3]


def load_config(configfiles: list[str], config_dir: Path = REPO / "config") -> dict:
    user: dict = {}
    for f in configfiles:
        user = skyt1_config.deep_merge(user, skyt1_config.load_yaml(Path(f)))
    resolved = skyt1_config.resolve(user, config_dir)
    skyt1_config.validate(resolved, config_dir / "schema.yaml")
    return resolved


class _Texts:
    """Resolves texts for the listing; with allow_missing an unavailable artifact is reported, not fatal."""

    def __init__(self, cfg: dict, allow_missing: bool):
        self.resolver = texts.Resolver(cfg.get("cache"), cfg.get("artifacts"))
        self.allow_missing = allow_missing
        self.used: set[str] = set()
        self.missing: set[str] = set()

    def text(self, value, where: str):
        if value is None:
            return None
        if texts.is_ref(value):
            self.used.add(value["artifact"])
        try:
            t = self.resolver.resolve(value, where)
        except SkyT1Error as e:
            if not self.allow_missing or not texts.is_ref(value) or value["artifact"] not in texts.ARTIFACTS:
                raise
            art = texts.ARTIFACTS[value["artifact"]]
            self.missing.add(art.name)
            # the pin and the way to get the file, so that an offline listing still says exactly what it lacks
            return {"missing": e.cause, "ref": value, "pin": art.source, "sha256": art.sha256,
                    "fetch": art.how_to_fetch(self.resolver.folder)}
        return {"text": t.text, **t.describe()}

    def template(self, spec, where: str):
        if spec is None:
            return None
        if isinstance(spec, str) or texts.is_ref(spec):
            spec = {"style": "plain", "parts": {"template": spec}}
        return {"style": spec.get("style", "plain"),
                "parts": {k: self.text(v, f"{where}.parts.{k}") for k, v in spec.get("parts", {}).items()}}

    def prompt(self, prompt: dict, where: str):
        out = {"system": self.text(prompt.get("system"), f"{where}.system"), "fewshot": prompt.get("fewshot") or []}
        if prompt.get("user_template") is not None:
            out["user_template"] = self.text(prompt["user_template"], f"{where}.user_template")
        for k, v in (prompt.get("fields") or {}).items():
            out.setdefault("fields", {})[k] = self.text(v, f"{where}.fields.{k}")
        return out


def _model(cfg: dict, name: str) -> dict:
    spec = cfg["models"][name]
    return {"name": name, **spec}


def _evaluator(spec: dict) -> dict | None:
    """A code entry's evaluator profile as the scorer applies it (name, the official files it follows, the
    rules and limits); None for other entries."""
    from ..scoring.evaluators import for_entry, load

    if spec.get("scorer") != "code" or spec.get("passthrough"):
        return None
    name = for_entry(spec)
    if not name:
        return None
    p = load(name)
    return {"name": p.name, "follows": [f"{dict(s)['repo']}@{dict(s)['commit'][:12]} {dict(s)['path']}" for s in p.sources],
            "stdout": p.stdout, "call": p.call, "wall_s": p.wall_s, "problem_wall_s": p.problem_wall_s,
            "recursion_limit": p.recursion_limit, "int_max_str_digits": p.int_max_str_digits,
            "system_exit": p.system_exit, "threads": p.threads, "tests": p.tests,
            "float_tolerance": p.float_tolerance, "preamble_lines": len(p.preamble.splitlines()),
            "deviations": len(p.deviations)}


def _source(t: _Texts, name: str, spec: dict, where: str) -> dict:
    out = {k: v for k, v in spec.items() if k not in ("user_template", "family_templates", "evaluator")}
    prof = _evaluator(spec)
    if prof:
        out["evaluator"] = prof
    out["user_template"] = t.template(spec.get("user_template"), f"{where}.{name}.user_template")
    if spec.get("family_templates"):
        out["family_templates"] = {f: t.template(s, f"{where}.{name}.family_templates.{f}")
                                   for f, s in spec["family_templates"].items()}
    return out


def _train(cfg: dict) -> dict:
    from ..stages.train import Spec, build_args  # the stage's own builder: what it renders is what training gets

    tr = cfg["train"]
    student = tr["student"]
    args = build_args(Spec(tr, cfg["models"][student], str(REPO)), Path("results/models") / student, Path("results/sft"),
                      cfg["mix"]["dataset_name"], Path("results/checkpoints") / f".{tr['name']}.work")
    out = {"student": _model(cfg, student), "name": tr["name"], "nproc_per_node": tr.get("nproc_per_node", 1),
           "llamafactory_args": args}
    if args.get("deepspeed"):
        out["deepspeed_config"] = json.loads(Path(args["deepspeed"]).read_text())
    return out


def _eval(t: _Texts, cfg: dict) -> dict:
    from ..benchmarks import declare
    from ..stages.evaluate import settings  # the evaluate stage's own merge of generation and templates

    ev = cfg["eval"]
    models, runs = {}, {}
    for label, m in ev["models"].items():
        model = {"checkpoint": cfg["train"]["name"]} if m.get("checkpoint") else _model(cfg, m["model"])
        models[label] = {"label": m["label"], "family": m.get("family"), "model": model,
                         **{k: m[k] for k in ("paper_model", "stands_in_for") if k in m},
                         "prompt": t.prompt(cfg["prompts"][m["prompt"]], f"prompts.{m['prompt']}"),
                         "prompt_name": m["prompt"]}
        for bench in ev["benchmarks"]:
            b = cfg["benchmarks"][bench]
            params, tmpl = settings(ev["params"], b, m.get("family"))
            decl = declare(bench, b)
            runs.setdefault(label, {})[bench] = {
                "params": params.__dict__,
                "user_template": t.template(tmpl, f"benchmarks.{bench}.user_template"),
                # the evaluator: a code benchmark's profile (config/evaluators), else the scorer
                "metric": decl.metric, "scorer": decl.scorer, "paper_name": b.get("paper_name"),
                "evaluator": _evaluator(b)["name"] if _evaluator(b) else decl.scorer}
    return {"backend": ev["backend"], "params": ev["params"], "models": models, "runs": runs}


def effective(cfg: dict, allow_missing: bool = False) -> dict:
    t = _Texts(cfg, allow_missing)
    sources = {n: _source(t, n, cfg["train_sources"][n], "train_sources") for n in cfg["sample"]["sources"]}
    benches = {n: _source(t, n, cfg["benchmarks"][n], "benchmarks") for n in cfg["benchmarks"]}
    out = {
        "preset": cfg["preset"], "seed": cfg["seed"],
        "data": {"train_sources": sources, "benchmarks": benches, "decontam": cfg.get("decontam", {}),
                 "pins": lock.describe(cfg, REPO)},
        "sample": {"model": _model(cfg, cfg["sample"]["model"]), "backend": cfg["sample"]["backend"],
                   "params": cfg["sample"]["params"],
                   "prompt": t.prompt(cfg["prompts"][cfg["sample"]["prompt"]], f"prompts.{cfg['sample']['prompt']}"),
                   "sources": [n for n in cfg["sample"]["sources"] if not cfg["train_sources"][n].get("passthrough")],
                   "passthrough": [n for n in cfg["sample"]["sources"] if cfg["train_sources"][n].get("passthrough")]},
        "rewrite": {"model": _model(cfg, cfg["rewrite"]["model"]), "mode": cfg["rewrite"]["mode"],
                    "backend": cfg["rewrite"]["backend"], "params": cfg["rewrite"]["params"],
                    "prompt": t.prompt(cfg["prompts"][cfg["rewrite"]["prompt"]], f"prompts.{cfg['rewrite']['prompt']}")},
        "reject": {"require_format": cfg["reject"].get("require_format", True), "sandbox": cfg.get("sandbox", {})},
        "mix": {"dataset_name": cfg["mix"]["dataset_name"],
                "system_prompt": t.text(cfg["mix"]["system_prompt"], "mix.system_prompt"),
                "quotas": cfg["mix"].get("quotas") or {}, "min_rows": cfg["mix"].get("min_rows", 1),
                "dedupe": ("exact and case/whitespace-normalized question copies, first kept" if cfg["mix"].get("dedupe", True)
                           else "off: every row kept, copies included")},
        "train": _train(cfg),
        "eval": _eval(t, cfg),
        "reported": {row: {m: paper.reported_all(row, m) for m in paper.PAPER_MODELS} for row in paper.PAPER_MAIN},
        "table": {**cfg.get("table", {}), "paper_source": paper.TARGET_SOURCE,
                  "bootstrap": cfg["eval"].get("bootstrap") or {}},
    }
    out["artifacts"] = {n: {"source": texts.ARTIFACTS[n].source, "url": texts.ARTIFACTS[n].url,
                            "sha256": texts.ARTIFACTS[n].sha256, "present": n not in t.missing,
                            **({"local_copy": cfg["artifacts"][n]["file"]} if n in (cfg.get("artifacts") or {}) else {}),
                            **({"fetch": texts.ARTIFACTS[n].how_to_fetch(t.resolver.folder)} if n in t.missing else {})}
                        for n in sorted(t.used)}
    return out


def _short(text: str, width: int = 90) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 3] + "..."


def listing(node, prefix: str = "") -> list[str]:
    """A readable listing: one `dotted.key: value` line per value; texts as a short excerpt plus sha256."""
    lines = []
    if isinstance(node, dict) and "sha256" in node and "text" in node:
        return [f"{prefix}: {_short(node['text'])!r} [{node['chars']} chars, sha256 {node['sha256'][:16]}, {node['source']}]"]
    if isinstance(node, dict) and "missing" in node and "pin" in node:
        return [f"{prefix}: MISSING, not read: {node['pin']} (sha256 {node['sha256'][:16]}); {node['fetch']}"]
    if isinstance(node, dict) and node:
        for k, v in node.items():
            lines += listing(v, f"{prefix}.{k}" if prefix else str(k))
        return lines
    return [f"{prefix}: {json.dumps(node, ensure_ascii=False)}"]


def _recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", nargs="+", default=[], help="preset/override files, merged in order (as snakemake)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the readable listing")
    p.add_argument("--strict", action="store_true",
                   help="stop with an error when a text's artifact is not fetched (default: list it as MISSING "
                        "with its pin and how to fetch it, and exit 0)")
    p.add_argument("--allow-missing", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts


def _recipe(args: argparse.Namespace) -> int:
    """Print every effective value each stage will use (sources, prompts with sha256, sampling, training, eval).
    Works offline: texts whose pinned artifact is not fetched are marked MISSING with the pin and the fetch
    command, every other value is printed, and the exit status is 0 (--strict makes a missing text an error)."""
    eff = effective(load_config(args.configfile), allow_missing=not args.strict)
    if args.json:
        print(json.dumps(eff, indent=2, ensure_ascii=False))
    else:
        print("\n".join(listing(eff)))
    missing = sorted(n for n, a in eff["artifacts"].items() if not a["present"])
    if missing:
        import sys

        print(f"skyt1 recipe: {len(missing)} pinned artifact(s) not fetched, their texts are marked MISSING: "
              + "; ".join(f"{n} = {eff['artifacts'][n]['source']}" for n in missing)
              + " -- fetch: `skyt1 artifacts fetch` (or `make install`) on a machine that reaches PyPI and GitHub",
              file=sys.stderr)
    return 0


def _artifacts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["fetch", "list"])
    p.add_argument("names", nargs="*", help="artifacts to fetch (default: all)")
    p.add_argument("--optional-github", action="store_true",
                   help="fetch: report GitHub files that cannot be reached instead of failing (CI/make install: "
                        "only PyPI is reachable there)")


def _artifacts(args: argparse.Namespace) -> int:
    """Fetch (pinned, sha256-checked) or list the artifacts the recipe's texts are read from."""
    folder = texts.artifact_dir()
    names = args.names or sorted(texts.ARTIFACTS)
    for n in names:
        if n not in texts.ARTIFACTS:
            raise SkyT1Error(f"unknown artifact {n!r}", f"use one of {sorted(texts.ARTIFACTS)}")
        art = texts.ARTIFACTS[n]
        if args.action == "list":
            have = (folder / art.filename).exists()
            print(f"{n}\t{art.source}\tsha256 {art.sha256}\t{'present' if have else 'absent'} ({folder / art.filename})")
            continue
        try:
            path = texts.fetch(n, folder)
            print(f"{n}: {path} (sha256 {art.sha256[:16]}... ok)")
        except SkyT1Error as e:
            if args.optional_github and art.kind == "github_file":
                print(f"{n}: not fetched ({e})")
                continue
            raise
    return 0
