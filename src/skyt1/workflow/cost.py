"""The cost ledger: what each stage of a run took, and for the 32B preset what training will take.

Measured (`ledger`): per stage, from the rules' Snakemake benchmark files (benchmarks/<stage>/...):
jobs, wall hours, CPU hours (the benchmark's cpu_time), GPU hours (wall time x the GPUs the rule
declares in config.resources); from the generation stages' stats: tokens actually generated (cache
hits and resumed items cost nothing and are not counted) and, for API models, dollars from the
config's price table (models.<name>.price_per_mtok, USD per million tokens).

Estimated (`estimate`): training GPU hours and dollars before anything runs, from the SFT set's token
count (counted with the student's tokenizer when both exist; else estimated from its characters; else
config.cost.expected_sft_tokens) and config.cost.train_tokens_per_gpu_second, beside the paper's
19 hours on 8 H100 (~$450)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..config import resource
from ..engine.owned import engine_gpus, on_engine
from ..core.io import write_text
from ..settings import ENGINE_RESOURCES

# The Sky-T1-32B-Preview post: "The model training finishes in 19 hours on 8 H100 with DeepSpeed
# Zero-3 offload (~ $450 according to Lambda Cloud pricing)."
PAPER_TRAIN = {"hours": 19.0, "gpus": 8, "gpu": "H100", "usd": 450.0}

# benchmarks/<folder>/ -> the stage (and config.resources key) it belongs to
_FOLDER_STAGE = {"eval": "evaluate"}
STAGE_ORDER = ("prepare_model", "data", "decontaminate", "sample", "sample_merge", "rewrite", "reject", "mix", "train",
               "evaluate", "table", "cost")
# engine_loads: engines the stage's jobs started (their manifests, results/engines/<stage>/: a job whose
# requests all hit the request cache started none); an engine runs inside its job, so its time and GPUs
# are in the job's wall and GPU hours.
COLUMNS = ("stage", "jobs", "wall_hours", "cpu_hours", "gpu_hours", "prompt_tokens", "completion_tokens",
           "api_usd", "engine_loads")


def _declared(config: dict, stage: str, key: str):
    return resource(config, stage, key) or 0


def read_benchmark(path: Path) -> dict:
    """One Snakemake benchmark TSV (a header and one row per repeat): the mean of its rows."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = {}
    for key in ("s", "cpu_time"):
        values = [float(r[key]) for r in rows if r.get(key) not in (None, "", "NA", "-")]
        out[key] = sum(values) / len(values) if values else 0.0
    return out


def price_of(config: dict, model_identity: dict | None) -> dict | None:
    """The price table of the API model a stats file names, looked up in this config."""
    if not model_identity or "api_model" not in model_identity:
        return None
    for spec in config["models"].values():
        if spec["source"] == "api" and spec.get("api_model") == model_identity["api_model"]:
            return spec.get("price_per_mtok")
    return None


def _generation_stats(results: Path):
    for stage, pattern in (("sample", "sample/*.stats.json"), ("rewrite", "rewrite/*.stats.json"),
                           ("evaluate", "eval/*/*.summary.json")):
        for path in sorted(results.glob(pattern)):
            data = json.loads(path.read_text())
            yield stage, data.get("generation", data)


def ledger(config: dict, workdir: str | Path = ".") -> list[dict]:
    """One row per stage that has run in `workdir`, then a total row."""
    workdir = Path(workdir)
    rows: dict[str, dict] = {}

    def row(stage):
        return rows.setdefault(stage, {"stage": stage, "jobs": 0, "wall_hours": 0.0, "cpu_hours": 0.0,
                                       "gpu_hours": 0.0, "prompt_tokens": 0, "completion_tokens": 0,
                                       "api_usd": 0.0, "engine_loads": 0})

    bench_root = workdir / "benchmarks"
    for path in sorted(bench_root.rglob("*.tsv")) if bench_root.exists() else []:
        folder = path.relative_to(bench_root).parts[0]
        stage = _FOLDER_STAGE.get(folder, folder)
        b = read_benchmark(path)
        r = row(stage)
        r["jobs"] += 1
        r["wall_hours"] += b["s"] / 3600
        r["cpu_hours"] += b["cpu_time"] / 3600
        # the ledger's config holds resources, not backends: a generation job's GPUs (its engine's) are
        # its stage's resources
        gpus = _declared(config, stage, "gpu")
        r["gpu_hours"] += b["s"] / 3600 * gpus
    for stage, stats in _generation_stats(workdir / "results"):
        r = row(stage)
        pt, ct = int(stats.get("prompt_tokens", 0)), int(stats.get("completion_tokens", 0))
        r["prompt_tokens"] += pt
        r["completion_tokens"] += ct
        price = price_of(config, stats.get("model"))
        if price:
            r["api_usd"] += pt * price.get("input", 0) / 1e6 + ct * price.get("output", 0) / 1e6
    engines_root = workdir / "results" / "engines"
    for path in sorted(engines_root.glob("*/*.json")) if engines_root.exists() else []:
        if path.name.endswith(".lineage.json"):
            continue
        stage = ENGINE_RESOURCES.get(path.parent.name, path.parent.name)
        row(stage)["engine_loads"] += int(json.loads(path.read_text()).get("loads", 0))
    ordered = sorted(rows.values(), key=lambda r: (STAGE_ORDER.index(r["stage"]) if r["stage"] in STAGE_ORDER
                                                   else len(STAGE_ORDER), r["stage"]))
    total = {"stage": "total", **{k: sum(r[k] for r in ordered) for k in COLUMNS[1:]}}
    return [*ordered, total] if ordered else []


def sft_tokens(config: dict, workdir: str | Path = ".") -> tuple[int, str]:
    """(tokens in the SFT set, how they were counted)."""
    workdir = Path(workdir)
    data = workdir / "results" / "sft" / f"{config['mix']['dataset_name']}.json"
    cost_cfg = config["cost"]
    if not data.exists():
        return int(cost_cfg["expected_sft_tokens"]), "expected (config cost.expected_sft_tokens; no SFT set yet)"
    rows = json.loads(data.read_text(encoding="utf-8"))
    texts = [r.get("system", "") + "".join(t["value"] for t in r["conversations"]) for r in rows]
    tok_dir = workdir / "results" / "models" / config["train"]["student"]
    if (tok_dir / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tok_dir))
        return sum(len(tok(t, add_special_tokens=False).input_ids) for t in texts), f"counted ({data}, student tokenizer)"
    chars = sum(len(t) for t in texts)
    per = float(cost_cfg["chars_per_token"])
    return int(chars / per), f"estimated ({data}: {chars} characters / {per} per token)"


def estimate(config: dict, workdir: str | Path = ".") -> dict:
    """Training's GPU hours and dollars before it runs."""
    cost_cfg = config["cost"]
    tokens, how = sft_tokens(config, workdir)
    epochs = float(config["train"]["args"]["num_train_epochs"])
    gpus = int(_declared(config, "train", "gpu")) or 1
    rate = cost_cfg.get("train_tokens_per_gpu_second")  # optional: without it, no estimate
    out = {"sft_tokens": tokens, "sft_tokens_source": how, "epochs": epochs, "gpus": gpus,
           "train_tokens_per_gpu_second": rate, "gpu_hour_usd": cost_cfg.get("gpu_hour_usd")}
    if rate and tokens:
        gpu_hours = tokens * epochs / rate / 3600
        out.update(gpu_hours=round(gpu_hours, 2), wall_hours=round(gpu_hours / gpus, 2))
        if cost_cfg.get("gpu_hour_usd"):
            out["usd"] = round(gpu_hours * float(cost_cfg["gpu_hour_usd"]), 2)
    return out


def engine_loads(config: dict) -> dict:
    """Engine loads of a full run: one per generation job, i.e. per (stage, model) and per teacher shard
    (sample.shards), against one load per target (every (model, benchmark) evaluation and every sampled
    source loading its own), and their GPU-hours at the stated load time (cost.engine_load_minutes)."""
    generated = [s for s in config["sample"]["sources"] if not config["train_sources"][s].get("passthrough")]
    models, benches = len(config["eval"]["models"]), len(config["eval"]["benchmarks"])
    minutes = float(config["cost"]["engine_load_minutes"])
    rows = []
    shards = int(config["sample"]["shards"])
    for stage, shared, per_job in (("sample", shards, max(len(generated), shards)), ("rewrite", 1, len(generated)),
                                   ("eval", models, models * benches)):
        if not on_engine(config, stage):
            continue
        gpus = engine_gpus(config, stage)
        rows.append({"stage": stage, "engine": config[stage]["backend"]["name"], "loads": shared, "loads_one_per_job": per_job,
                     "gpus": gpus})
    out = {"stages": rows, "loads": sum(r["loads"] for r in rows),
           "loads_one_per_job": sum(r["loads_one_per_job"] for r in rows), "load_minutes": minutes}
    if minutes:
        out["gpu_hours"] = round(sum(r["loads"] * r["gpus"] for r in rows) * minutes / 60, 2)
        out["gpu_hours_one_per_job"] = round(sum(r["loads_one_per_job"] * r["gpus"] for r in rows) * minutes / 60, 2)
    return out


def describe_loads(loads: dict) -> str:
    parts = ", ".join(f"{r['stage']} {r['loads']} ({r['engine']}, {r['gpus']} GPUs)" for r in loads["stages"])
    line = (f"engine loads per run: {loads['loads']} [{parts}]; one per job would be {loads['loads_one_per_job']}")
    if "gpu_hours" in loads:
        line += (f"; at {loads['load_minutes']:g} min a load (cost.engine_load_minutes): {loads['gpu_hours']:g} GPU-hours "
                 f"against {loads['gpu_hours_one_per_job']:g}")
    return line


def _fmt(v) -> str:
    return str(round(v, 6)) if isinstance(v, float) else str(v)


def to_csv(rows: list[dict], est: dict | None = None) -> str:
    """The ledger, then (for presets with a GPU training) the estimate and the paper's figure as rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("kind",) + COLUMNS)
    for r in rows:
        w.writerow(("measured",) + tuple(_fmt(r[k]) for k in COLUMNS))
    if est and est.get("gpu_hours") is not None:
        w.writerow(("estimate", "train", 1, _fmt(est["wall_hours"]), "", _fmt(est["gpu_hours"]), "", "",
                    _fmt(est.get("usd", "")), ""))
        p = PAPER_TRAIN
        w.writerow(("paper", "train", 1, _fmt(p["hours"]), "", _fmt(p["hours"] * p["gpus"]), "", "", _fmt(p["usd"]), ""))
    return buf.getvalue()


def describe(rows: list[dict], est: dict | None) -> str:
    """Human-readable ledger and estimate (what `skyt1 cost` prints)."""
    lines = []
    if rows:
        widths = [max(len(c), 14) for c in COLUMNS]
        lines.append("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
        for r in rows:
            lines.append("  ".join(_fmt(r[c]).ljust(w) for c, w in zip(COLUMNS, widths)))
    else:
        lines.append("no stage has run here yet (no benchmarks/ files): nothing measured")
    if est and est.get("gpu_hours") is not None:
        p = PAPER_TRAIN
        usd = f", ${est['usd']:.0f} at ${est['gpu_hour_usd']}/GPU-hour" if "usd" in est else ""
        lines += ["",
                  (f"training estimate: {est['sft_tokens']:,} SFT tokens [{est['sft_tokens_source']}] x {est['epochs']:g} epochs "
                   f"at {est['train_tokens_per_gpu_second']:g} tokens/s per GPU on {est['gpus']} GPUs"),
                  f"  = {est['wall_hours']:.1f} h wall, {est['gpu_hours']:.0f} GPU-hours{usd}",
                  f"paper: {p['hours']:g} h on {p['gpus']} {p['gpu']} = {p['hours'] * p['gpus']:.0f} GPU-hours, ~${p['usd']:.0f}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Spec:
    """The ledger's own slice of the config (kept under one `config` key, as the rule's params have it):
    prices and declared GPUs change its numbers here (unlike in sample)."""
    config: dict


@dataclass(frozen=True)
class Paths:
    csv: str
    workdir: str = "."   # where the run's results/ and benchmarks/ are


def spec(config: dict, **_wildcards) -> Spec:
    models = config["models"]
    # num_train_epochs: LLaMA-Factory's argument, which the schema requires of every preset
    return Spec({"models": {n: {k: m[k] for k in ("source", "api_model", "price_per_mtok") if k in m}
                            for n, m in models.items()},
                 "resources": config["resources"], "cost": config["cost"],
                 "mix": {"dataset_name": config["mix"]["dataset_name"]},
                 "train": {"student": config["train"]["student"],
                           "args": {"num_train_epochs": config["train"]["args"]["num_train_epochs"]}}})


def run(spec: Spec, paths: Paths) -> None:
    config, workdir = spec.config, paths.workdir
    rows = ledger(config, workdir)
    est = estimate(config, workdir) if _declared(config, "train", "gpu") else None
    write_text(paths.csv, to_csv(rows, est))


# ---- `skyt1 cost` --------------------------------------------------------------------------------

def _configure(p) -> None:
    p.add_argument("--configfile", action="append", default=[],
                   help="config file(s) as given to snakemake (e.g. config/sky-t1-32b.yaml); none: the tiny preset")
    p.add_argument("--config-dir", default=str(Path(__file__).resolve().parents[3] / "config"),
                   help="folder holding the presets and schema.yaml")
    p.add_argument("--workdir", default=".", help="where results/ and benchmarks/ of a run are (default: here)")
    p.add_argument("--csv", action="store_true", help="print results/cost.csv's format instead of a table")


def _cost(args) -> int:
    """The cost ledger of a run, and the training estimate, without running anything."""
    from .. import config as cfg_mod

    user: dict = {}
    for path in args.configfile:
        user = cfg_mod.deep_merge(user, cfg_mod.load_yaml(Path(path)))
    config = cfg_mod.resolve(user, Path(args.config_dir))
    cfg_mod.validate(config, Path(args.config_dir) / "schema.yaml")
    rows = ledger(config, args.workdir)
    est = estimate(config, args.workdir) if _declared(config, "train", "gpu") else None
    print(to_csv(rows, est) if args.csv else describe(rows, est) + describe_loads(engine_loads(config)) + "\n", end="")
    return 0

