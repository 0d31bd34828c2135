"""`skyt1 data list`: every source and benchmark the presets read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list"], help="list: print every source and benchmark of every preset")
    p.add_argument("--config-dir", default=str(DEFAULT_CONFIG_DIR), help="folder holding the preset YAML files")
    p.add_argument("--preset", help="only entries read by this preset")
    p.add_argument("--no-count", action="store_true", help="skip loading offline data to count rows")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _data(args: argparse.Namespace) -> int:
    """Data sources and benchmarks: `skyt1 data list` shows what each preset reads."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from ..workflow.presets import count_rows, known

    entries = known(Path(args.config_dir))
    if args.preset:
        entries = [e for e in entries if args.preset in e["presets"]]
    for e in entries:
        e["rows"] = None if args.no_count else count_rows(e)
    entries.sort(key=lambda e: (e["role"] != "train", e["name"], e["presets"]))
    if args.json:
        print(json.dumps([{k: v for k, v in e.items() if k != "spec"} for e in entries], indent=2))
        return 0
    cols = ["role", "name", "presets", "domain", "where", "split", "rows", "licence"]
    table = [[e["role"], e["name"], ",".join(e["presets"]), e["domain"], e["where"], e["split"],
              "hub" if e["rows"] is None and not e["offline"] else ("-" if e["rows"] is None else str(e["rows"])),
              e["licence"]] for e in entries]
    widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print("\nrows: what the adapter yields after filters and limit; 'hub': read from the model hub when the "
          "pipeline runs (not available offline)")
    return 0
