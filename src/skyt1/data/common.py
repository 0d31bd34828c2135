"""Helpers shared by the adapters: loading rows through `datasets`, multiple-choice formatting."""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

from ..core.errors import SkyT1Error
from ..provenance import note_source

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FORMATS = {".jsonl": "json", ".json": "json", ".gz": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}


def _format_of(files: list[str], given: str | None) -> str:
    if given:
        return given
    suffixes = {Path(f.split("::")[0]).suffixes[-2] if f.endswith(".gz") and len(Path(f).suffixes) > 1
                else Path(f).suffix for f in files}
    kinds = {_FORMATS.get(s) for s in suffixes}
    if len(kinds) != 1 or None in kinds:
        raise SkyT1Error(f"cannot tell the file format of {files}", "set options.format (json, parquet, csv or arrow)")
    return kinds.pop()


def resolved_commit(repo: str, revision: str | None, ds=None) -> str | None:
    """The hub commit a dataset revision (a branch, tag or commit; None = main) resolves to: asked of the
    hub when it is reachable, else read from the datasets cache folder (named by the commit), else None."""
    import os
    import re

    if os.environ.get("HF_HUB_OFFLINE") != "1":
        try:
            from huggingface_hub import HfApi

            return HfApi().dataset_info(repo, revision=revision).sha
        except Exception:  # noqa: BLE001 (unreachable or unknown: fall back to the cache)
            pass
    for f in getattr(ds, "cache_files", None) or []:
        for part in Path(f.get("filename", "")).parts[::-1]:
            if re.fullmatch(r"[0-9a-f]{40}", part):
                return part
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    return None


def load_rows(name: str, options: dict):
    """Rows of a hub dataset, as an iterable of dicts.

    The one seam between the hub and local files: with `options.data_files` (a path or a list of
    paths, local or hf://) the same adapter reads those files instead of `options.repo`; tests point it
    at fixtures written in the dataset's real schema. `options.files` names files inside the hub
    repository (read through hf://datasets/<repo>/<file>), for repositories whose loading script we
    do not want to run."""
    try:
        import datasets
    except ImportError:
        raise SkyT1Error("package 'datasets' is not installed", "run `make install`")
    data_files = options.get("data_files")
    repo = options.get("repo")
    if not data_files and options.get("files"):
        if not repo:
            raise SkyT1Error(f"source {name!r}: options.files needs options.repo", "set the hub id of the dataset")
        at = f"@{options['revision']}" if options.get("revision") else ""
        data_files = [f"hf://datasets/{repo}{at}/{f}" for f in options["files"]]
    try:
        if data_files:
            files = [str(f) for f in ([data_files] if isinstance(data_files, (str, Path)) else data_files)]
            local = [f for f in files if "://" not in f]
            missing = [f for f in local if not Path(f).exists()]
            if missing:
                raise SkyT1Error(f"source {name!r}: data file {missing[0]} does not exist",
                                 "fix options.data_files, or drop it to read from the hub")
            ds = datasets.load_dataset(_format_of(files, options.get("format")), data_files=files, split="train")
            for f in files:
                if "://" not in f:
                    note_source(kind="local file", path=str(Path(f).resolve()))
                else:
                    note_source(kind="hub file", url=f, repo=repo, revision=options.get("revision"),
                                resolved_commit=resolved_commit(repo, options.get("revision")) if repo else None)
            return ds
        if not repo:
            raise SkyT1Error(f"source {name!r}: options.repo is required", "set the hub id of the dataset")
        kwargs = {}
        if options.get("trust_remote_code"):
            kwargs["trust_remote_code"] = True
        if options.get("revision"):
            kwargs["revision"] = options["revision"]
        ds = datasets.load_dataset(repo, options.get("name"), split=options.get("split", "train"), **kwargs)
        note_source(kind="hub dataset", repo=repo, name=options.get("name"), split=options.get("split", "train"),
                    revision=options.get("revision"), resolved_commit=resolved_commit(repo, options.get("revision"), ds))
        return ds
    except SkyT1Error:
        raise
    except Exception as e:  # offline, gated, renamed: one line with the cause
        where = data_files or repo
        raise SkyT1Error(f"source {name!r}: cannot load {where!r} ({type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]})",
                         "run where the hub is reachable (unset HF_HUB_OFFLINE, log in for gated sets), "
                         "pre-download it into the HF cache, or point options.data_files at local copies")


def parse_choices(value, where: str) -> list[str]:
    """Choices as a list of strings: a list, a JSON list, or a stringified Python list."""
    if isinstance(value, dict) and "text" in value:  # ARC: {"text": [...], "label": [...]}
        value = value["text"]
    if isinstance(value, str):
        text = value.strip()
        parsed = None
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
                break
            except (ValueError, SyntaxError):
                continue
        if not isinstance(parsed, (list, tuple)):
            raise SkyT1Error(f"{where}: choices {text[:80]!r} are not a list", "fix the input row")
        value = parsed
    if not isinstance(value, (list, tuple)) or not value or len(value) > len(LETTERS):
        raise SkyT1Error(f"{where}: choices must be a non-empty list (got {type(value).__name__})", "fix the input row")
    return [str(c).strip() for c in value]


def mc_question(question: str, choices: list[str]) -> str:
    lines = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return question.strip() + "\n\nAnswer choices:\n" + "\n".join(lines)


def answer_letter(answer, choices: list[str], where: str, labels: list[str] | None = None) -> str:
    """Gold letter from an index, a letter, an ARC label ('1'..'4') or the correct choice's text."""
    if isinstance(answer, bool):
        raise SkyT1Error(f"{where}: answer {answer!r} is not an index or a letter", "fix the input row")
    if labels and str(answer) in labels:
        return LETTERS[labels.index(str(answer))]
    if isinstance(answer, int) and 0 <= answer < len(choices):
        return LETTERS[answer]
    if isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().upper() in LETTERS[: len(choices)]:
        return answer.strip().upper()
    raise SkyT1Error(f"{where}: answer {answer!r} does not name one of {len(choices)} choices", "fix the input row")


def shuffled(items: list, key: str, seed: int) -> list[int]:
    """A permutation of range(len(items)) fixed by (seed, key): independent of row order."""
    order = list(range(len(items)))
    random.Random(f"{seed}:{key}").shuffle(order)
    return order


def number_text(value) -> str:
    """27.0 -> '27' (aimo-validation-amc stores answers as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
