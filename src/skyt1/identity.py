"""What identifies a model's content, for the request caches and provenance.

A prepared model folder carries a manifest (MANIFEST) written by its prepare or train job; its identity
is the sha256 of the files that decide its outputs (weights, config, tokenizer), or for a hub snapshot the
commit it was read at; an API model is its model id. The request cache's key
(skyt1.generation.cache.request_key) combines this with the engine's identity (skyt1.settings.engine_identity)."""

from __future__ import annotations

import json
from pathlib import Path

from .core.io import sha256_file, stable_hash

MANIFEST = "skyt1_model.json"


# Files a training run leaves beside the weights: they say how the model was made, not what it computes.
_NOT_CONTENT = {MANIFEST, "all_results.json", "train_results.json", "eval_results.json", "trainer_state.json",
                "trainer_log.jsonl", "training_args.bin", "training_loss.png", "README.md", "skyt1_train_args.yaml"}


def _content_files(folder: Path) -> list[Path]:
    def content(p: Path) -> bool:
        parts = p.relative_to(folder).parts
        return p.is_file() and p.name not in _NOT_CONTENT and not any(
            q.startswith((".", "checkpoint-")) or q == "runs" for q in parts)

    return sorted(p for p in folder.rglob("*") if content(p))


def weights_sha256(folder: str | Path) -> str:
    """One sha256 over the files of a model folder that decide its outputs (weights, config, tokenizer):
    two prepares of the same weights give the same value, whatever they took or when they ran."""
    folder = Path(folder)
    return stable_hash([[p.relative_to(folder).as_posix(), sha256_file(p)] for p in _content_files(folder)])


_HASHED: dict = {}  # the content files' (path, size, mtime) -> weights_sha256, for manifests without it


def identity(model_dir: str | Path) -> dict:
    """What identifies a prepared model's content, for request caches and provenance: the weights'
    sha256 (every prepared model and, since issue 24, trained checkpoint has it in its manifest), or for a
    hub snapshot its resolved commit. Never the time a prepare took, or its date."""
    folder = Path(model_dir)
    path = folder / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {}
    if manifest.get("weights_sha256"):
        return {"weights_sha256": manifest["weights_sha256"]}
    if manifest.get("source") == "hub" and manifest.get("commit"):
        return {"hub": manifest["repo"], "commit": manifest["commit"]}
    # A folder made before its manifest held the hash (an older checkpoint): hash it, once per process.
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in _content_files(folder))
    if key not in _HASHED:
        _HASHED[key] = weights_sha256(folder)
    return {"weights_sha256": _HASHED[key]}


def api_identity(model_spec: dict) -> dict:
    """An API model is named by its model id; its price or endpoint never changes an answer."""
    return {"api_model": model_spec["api_model"]}
