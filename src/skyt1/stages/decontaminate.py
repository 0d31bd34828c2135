"""Stage 0b: remove every training question that overlaps any benchmark question.

Inputs: the training sources' record JSONL files and the benchmarks' record JSONL files (stage 0).
Outputs: one cleaned JSONL per training source (same order as the inputs) and a JSON report that lists
each removed item, the benchmark item it matched and the text they share, with counts per source, per
benchmark and per (source, benchmark) pair. With `decontam: off` every file is copied as it is (the
original SkyThought recipe had no decontamination) and the report says so."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import provenance
from ..core import records
from ..data.decontam import decontaminate, enabled
from ..core.errors import SkyT1Error
from ..core.io import iter_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)


def read_records(path) -> list[dict]:
    """Records of one file, each validated: an invalid one stops the stage naming file:line and field."""
    out, seen = [], set()
    for lineno, rec in _numbered(path):
        records.check(rec, f"{path}:{lineno}")
        if rec["id"] in seen:
            raise SkyT1Error(f"{path}:{lineno}: duplicate record id {rec['id']!r}", "make ids unique within a source")
        seen.add(rec["id"])
        out.append(rec)
    return out


def per_pair(removed: list[dict]) -> dict:
    """{training source: {benchmark: {removed, examples: [{train_id, benchmark_id, method, shared}]}}}: what
    each source lost to each benchmark, with the shared text of the first few (to tell copies from boilerplate)."""
    out: dict = {}
    for r in removed:
        cell = out.setdefault(r["train_source"], {}).setdefault(r["benchmark"], {"removed": 0, "examples": []})
        cell["removed"] += 1
        if len(cell["examples"]) < 5:
            cell["examples"].append({"train_id": r["train_id"], "benchmark_id": r["benchmark_id"], "method": r["method"],
                                     "shared": r.get("shared_text") or f"similarity {r.get('similarity')}"})
    return out


def _numbered(path):
    # iter_jsonl skips blank lines; count them so the line number is the file's own
    with open(path, encoding="utf-8") as f:
        raw = [i for i, line in enumerate(f, 1) if line.strip()]
    return zip(raw, iter_jsonl(path))


@dataclass(frozen=True)
class Spec:
    """The `decontam:` setting as the validated config gives it: `off`/false, or its settings (every unset one
    filled from the schema's defaults)."""
    cfg: dict | bool | str | None


@dataclass(frozen=True)
class Paths:
    train: tuple[str, ...]   # the training sources' records
    bench: tuple[str, ...]   # the benchmarks' records
    out: tuple[str, ...]     # one cleaned file per training source, in the same order
    report: str


def spec(config: dict, **_wildcards) -> Spec:
    return Spec(config["decontam"])


def run(spec: Spec, paths: Paths) -> dict:
    train_paths, bench_paths, out_paths, report_path = list(paths.train), list(paths.bench), list(paths.out), paths.report
    cfg = spec.cfg
    if len(train_paths) != len(out_paths):
        raise SkyT1Error(f"decontaminate: {len(train_paths)} training inputs but {len(out_paths)} outputs",
                         "give one output path per training file")
    if not bench_paths:
        raise SkyT1Error("decontaminate: no benchmark files given", "list the benchmarks under `benchmarks:` in the config")
    for src, dst in zip(train_paths, out_paths):
        if Path(src).resolve() == Path(dst).resolve():
            raise SkyT1Error(f"decontaminate: output {dst} would overwrite its input", "write cleaned files elsewhere")
    on = enabled(cfg)
    cfg = {k: v for k, v in cfg.items() if k != "enabled"} if on else {"enabled": False}
    per_file = [read_records(p) for p in train_paths]
    bench = [r for p in bench_paths for r in read_records(p)]
    train = [r for recs in per_file for r in recs]
    if on:
        keep, removed, stats = decontaminate(train, bench, cfg)
    else:  # the original's behaviour: every training question is kept
        keep, removed = [True] * len(train), []
        stats = {"enabled": False, "train": len(train), "benchmark_items": len(bench), "removed": 0,
                 "removed_ngram": 0, "removed_fuzzy": 0, "seconds": {"total": 0.0}, "settings": cfg}
    pos = 0
    kept_per_source = {}
    for path, recs, out in zip(train_paths, per_file, out_paths):
        kept = [r for r, k in zip(recs, keep[pos:pos + len(recs)]) if k]
        pos += len(recs)
        if not kept:
            raise SkyT1Error(f"decontaminate: every question of {path} overlaps a benchmark",
                             "check that the training source is not a benchmark, or relax decontam settings")
        kept_per_source[str(path)] = {"in": len(recs), "kept": len(kept)}
    # write only once everything succeeded
    pos = 0
    for recs, out in zip(per_file, out_paths):
        write_jsonl(out, [r for r, k in zip(recs, keep[pos:pos + len(recs)]) if k])
        pos += len(recs)
    report = {**stats,
              "per_file": kept_per_source,
              "removed_per_source": dict(Counter(r["train_source"] for r in removed)),
              "removed_per_benchmark": dict(Counter(r["benchmark"] for r in removed)),
              "removed_per_source_and_benchmark": per_pair(removed),
              "removed_items": removed,
              "provenance": provenance.collect("decontaminate", cfg, [*train_paths, *bench_paths])}
    write_json(report_path, report)
    if not on:
        log.info("decontaminate: off (decontam: off): %d training questions kept as they are", len(train))
        return report
    log.info("decontaminate: %d of %d training questions removed (%d n-gram, %d fuzzy) against %d benchmark items in %.1f s",
             stats["removed"], stats["train"], stats["removed_ngram"], stats["removed_fuzzy"], stats["benchmark_items"],
             stats["seconds"]["total"])
    return report
