"""Stage 0: one source or benchmark -> records JSONL in the one schema."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

from .. import data, provenance
from ..core import records
from ..core.io import write_json, write_jsonl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    """What loading one source or benchmark reads: its declaration (the field keeps the params' old name)."""
    spec: dict


@dataclass(frozen=True)
class Paths:
    name: str       # the source or benchmark (the job's wildcard)
    records: str
    meta: str


def spec(config: dict, source: str | None = None, bench: str | None = None, **_wildcards) -> Spec:
    if source is not None:
        return Spec(config["train_sources"][source])
    # paper_name, metric and generation are read by evaluate and the table, not by loading the data
    return Spec({k: v for k, v in config["benchmarks"][bench].items() if k not in ("paper_name", "metric", "generation")})


def run(spec: Spec, paths: Paths) -> None:
    name, out_path, meta_path, spec = paths.name, paths.records, paths.meta, spec.spec
    recs = records.check_all(data.load(name, spec), f"source {name}")
    domains = {}
    for r in recs:
        domains[r["domain"]] = domains.get(r["domain"], 0) + 1
    skipped = data.dropped(name)
    write_jsonl(out_path, recs)
    write_json(meta_path, {"source": name, "rows": len(recs), "domains": domains,
                           "dropped": {"rows": len(skipped), "by_reason": dict(Counter(_kind(d["reason"]) for d in skipped)),
                                       "items": skipped},
                           "provenance": provenance.collect("data", spec)})
    log.info("%s: %d records", name, len(recs))
    for d in skipped:
        log.warning("%s: row %s dropped: %s", name, d["row"], d["reason"])


def _kind(reason: str) -> str:
    """A drop reason without its numbers, to count drops of one kind together."""
    return re.sub(r"\d+", "N", reason)
