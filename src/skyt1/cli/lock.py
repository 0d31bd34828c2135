"""`skyt1 lock`: pin every hub input of a preset (the pins themselves: skyt1.workflow.lock)."""

from __future__ import annotations

import argparse

from ..workflow.lock import apply, hub_inputs, lock_path, write
from ..workflow.recipe import REPO, load_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configfile", nargs="+", required=True, help="preset/override files, merged in order (as snakemake)")
    p.add_argument("--check", action="store_true", help="do not ask the hub: say what is pinned and what is not")


def run(args: argparse.Namespace) -> int:
    """Pin every hub dataset and model of a preset to its current commit (writes the preset's lock file)."""
    cfg = load_config(args.configfile)
    items = hub_inputs(cfg)
    if not items:
        print(f"{cfg['preset']}: no hub inputs (local files, packaged data, api models): nothing to lock")
        return 0
    path = lock_path(cfg, args.configfile, REPO)
    if args.check:
        _, unpinned = apply(cfg, REPO)
        print(f"{path}: {len(items) - len(unpinned)} of {len(items)} hub inputs pinned")
        for u in unpinned:
            print(f"  unpinned {u['kind']} {u['repo']}@{u['revision']} ({u['where']})")
        return 1 if unpinned else 0
    lock = write(cfg, path)
    print(f"{path}: {len(lock['datasets'])} datasets, {len(lock['models'])} models pinned")
    for table in ("datasets", "models"):
        for e in lock[table].values():
            print(f"  {e['repo']}@{e['revision']} -> {e['commit']}")
    if not cfg.get("lock"):
        print(f"add `lock: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}` to the config so the pipeline reads it")
    return 0
