"""Pins: every hub input of a preset (datasets, difficulty labels, models) resolved to a commit.

`skyt1 lock --configfile config/sky-t1-32b.yaml`, run where the hub is reachable, asks the hub which
commit each input's revision (a branch, a tag, `main` by default) names now and writes the answers to the
preset's lock file (the config's `lock:` path, else <configfile>.lock.yaml beside the last config file).
The pipeline reads through it (rules/common.smk calls `apply`): each hub input's revision becomes its
locked commit (so `load_dataset`, `hf://` files and `snapshot_download` read exactly that commit, and a new
lock reruns what it changes), and a data source's options carry `pinned: {lock, revision, commit}`, which
the job's provenance records. A hub input the lock does not cover stops the run with one line naming the
fix, unless the config says `allow_unpinned: true` (then it is read at its revision, as before, and the
run says so). A revision that is already a 40-hex commit is pinned by itself. Local files
(options.data_files), packaged data and api models are not hub inputs: the tiny preset needs no lock."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from ..core.errors import SkyT1Error

_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(revision) -> bool:
    return isinstance(revision, str) and bool(_COMMIT.fullmatch(revision))


def _dataset_specs(cfg: dict):
    """(where, options dict) of every dataset spec that reads the hub, labels included."""
    sections = [("train_sources", n, cfg["train_sources"][n]) for n in cfg["sample"]["sources"]]
    sections += [("benchmarks", n, b) for n, b in cfg["benchmarks"].items()]
    for section, name, spec in sections:
        o = spec.get("options") or {}
        if o.get("repo") and not o.get("data_files"):
            yield f"{section}.{name}.options", o
        lab = o.get("labels")
        if isinstance(lab, dict) and lab.get("repo") and not lab.get("data_files"):
            yield f"{section}.{name}.options.labels", lab


def hub_inputs(cfg: dict) -> list[dict]:
    """Every hub input of a resolved config: {kind, repo, revision, where}, in config order."""
    out = [{"kind": "dataset", "repo": o["repo"], "revision": o.get("revision") or "main", "where": where}
           for where, o in _dataset_specs(cfg)]
    out += [{"kind": "model", "repo": m["repo"], "revision": m.get("revision") or "main", "where": f"models.{name}"}
            for name, m in cfg["models"].items() if m.get("source") == "hub"]
    return out


def lock_path(cfg: dict, configfiles: list[str], root: Path) -> Path:
    """The config's `lock:` (relative to the repository), else beside the last config file given."""
    if cfg.get("lock"):
        p = Path(cfg["lock"])
        return p if p.is_absolute() else root / p
    if not configfiles:
        raise SkyT1Error("no config file given to put the lock beside", "pass --configfile config/<preset>.yaml")
    last = Path(configfiles[-1])
    return last.with_name(last.name[:-len(".yaml")] + ".lock.yaml" if last.name.endswith(".yaml") else last.name + ".lock.yaml")


def hub_resolver(kind: str, repo: str, revision: str) -> str:
    """The commit `revision` names on the hub now (huggingface_hub; the token, if any, from the environment)."""
    from huggingface_hub import HfApi

    info = HfApi().dataset_info(repo, revision=revision) if kind == "dataset" else HfApi().model_info(repo, revision=revision)
    return info.sha


def write(cfg: dict, path: Path, resolver=None) -> dict:
    """Resolve every hub input and write the lock file (temp file, then rename: never half-written)."""
    from ..core.io import write_text

    resolver = resolver or hub_resolver

    entries: dict[str, dict] = {"datasets": {}, "models": {}}
    for item in hub_inputs(cfg):
        table = entries["datasets" if item["kind"] == "dataset" else "models"]
        key = f"{item['repo']}@{item['revision']}"
        if key in table:
            table[key]["used_by"].append(item["where"])
            continue
        try:
            commit = resolver(item["kind"], item["repo"], item["revision"])
        except Exception as e:  # noqa: BLE001 (offline, gated, unknown: one line with the cause)
            raise SkyT1Error(f"lock: cannot resolve {item['kind']} {item['repo']}@{item['revision']} "
                             f"({type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]})",
                             "run `skyt1 lock` where the hub is reachable (log in for gated sets: huggingface-cli login)")
        if not is_commit(commit):
            raise SkyT1Error(f"lock: the hub answered {commit!r} for {item['repo']}@{item['revision']}, not a commit",
                             "check the repository id and revision")
        table[key] = {"repo": item["repo"], "revision": item["revision"], "commit": commit, "used_by": [item["where"]]}
    lock = {"preset": cfg["preset"],
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "datasets": entries["datasets"], "models": entries["models"]}
    header = ("# Written by `skyt1 lock`: the hub commit each input's revision named when it ran. The pipeline\n"
              "# reads these commits (src/skyt1/workflow/lock.py). Rerun `skyt1 lock` to move the pins; commit this file.\n")
    write_text(path, header + yaml.safe_dump(lock, sort_keys=False, width=120))
    return lock


def read(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SkyT1Error(f"lock file {path} is not valid YAML: {str(e).splitlines()[0]}", "rewrite it with `skyt1 lock`")
    if not isinstance(data.get("datasets", {}), dict) or not isinstance(data.get("models", {}), dict):
        raise SkyT1Error(f"lock file {path} has no datasets/models mappings", "rewrite it with `skyt1 lock`")
    return data


def apply(cfg: dict, root: Path) -> tuple[dict, list[dict]]:
    """Pin `cfg` in place through its lock; return (cfg, the hub inputs left unpinned).

    No hub inputs: nothing to do and no lock needed. A missing lock file leaves every input unpinned."""
    items = hub_inputs(cfg)
    if not items:
        return cfg, []
    path = lock_path(cfg, [], root) if cfg.get("lock") else None
    lock = read(path) if path and path.exists() else {"datasets": {}, "models": {}}
    rel = str(path.relative_to(root)) if path and path.is_relative_to(root) else (str(path) if path else None)
    unpinned = []
    for where, o in _dataset_specs(cfg):
        rev = o.get("revision") or "main"
        hit = lock["datasets"].get(f"{o['repo']}@{rev}")
        if hit:
            o["revision"] = hit["commit"]
            o["pinned"] = {"lock": rel, "revision": rev, "commit": hit["commit"]}
        elif not is_commit(rev):
            unpinned.append({"kind": "dataset", "repo": o["repo"], "revision": rev, "where": where})
    for name, m in cfg["models"].items():
        if m.get("source") != "hub":
            continue
        rev = m.get("revision") or "main"
        hit = lock["models"].get(f"{m['repo']}@{rev}")
        if hit:
            m["revision"] = hit["commit"]  # prepare_model's manifest records it (repo, revision, commit)
        elif not is_commit(rev):
            unpinned.append({"kind": "model", "repo": m["repo"], "revision": rev, "where": f"models.{name}"})
    return cfg, unpinned


def describe(cfg: dict, root: Path) -> dict:
    """For `skyt1 recipe`: the lock, and each hub input with the commit it will be read at (None: unpinned)."""
    import copy

    items = hub_inputs(cfg)
    pinned, unpinned = apply(copy.deepcopy(cfg), root)
    left = {(u["where"]) for u in unpinned}
    after = {i["where"]: i["revision"] for i in hub_inputs(pinned)}
    path = lock_path(cfg, [], root) if cfg.get("lock") else None
    return {"lock": cfg.get("lock"), "lock_exists": bool(path and path.exists()),
            "allow_unpinned": bool(cfg.get("allow_unpinned")),
            "inputs": [{**i, "commit": None if i["where"] in left else after[i["where"]]} for i in items]}


def refusal(cfg: dict, unpinned: list[dict]) -> SkyT1Error:
    first = unpinned[0]
    more = f" and {len(unpinned) - 1} more" if len(unpinned) > 1 else ""
    where = cfg.get("lock") or "no lock: set `lock:` in the preset"
    return SkyT1Error(f"hub {first['kind']} {first['repo']}@{first['revision']} ({first['where']}){more} is not pinned "
                      f"({where})",
                      "run `skyt1 lock --configfile <your config files>` where the hub is reachable and commit the lock, "
                      "or set allow_unpinned: true to read unpinned revisions")
