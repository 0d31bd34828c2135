"""Stage 0: one source or benchmark -> records JSONL in the one schema."""

from __future__ import annotations

import logging
import re
from collections import Counter

from .. import data, provenance, records
from ..io import write_json, write_jsonl

log = logging.getLogger(__name__)


def run(name: str, spec: dict, out_path: str, meta_path: str) -> None:
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
