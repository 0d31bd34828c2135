"""Stage 4: mix accepted rows into one SFT set in LLaMA-Factory's sharegpt format."""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import provenance
from ..published import texts
from ..core.errors import SkyT1Error
from ..core.io import read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)


def normalize(question: str) -> str:
    return re.sub(r"\s+", " ", question).strip().lower()


def dedupe_counts(rows: list[dict]) -> tuple[list[dict], dict]:
    """Keep the first row of each question. Counts exact copies (same text) and copies that differ
    only in case or whitespace (the published 17K set had 16,401 rows, 15,586 of them unique)."""
    exact, norm, out = set(), set(), []
    counts = {"exact": 0, "normalized": 0}
    for r in rows:
        q = r["question"]
        if q in exact:
            counts["exact"] += 1
            continue
        exact.add(q)
        key = normalize(q)
        if key in norm:
            counts["normalized"] += 1
            continue
        norm.add(key)
        out.append(r)
    return out, counts


def token_lengths(texts: list[str], tokenizer_dir=None) -> tuple[list[int], str]:
    """Token count per text: with the student's tokenizer when a folder is given, else an
    approximation (words and symbols; close to BPE counts for English, low for LaTeX/code)."""
    if tokenizer_dir:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]], f"tokenizer {tokenizer_dir}"
    pattern = re.compile(r"\w+|[^\w\s]")
    return [len(pattern.findall(t)) for t in texts], "approximate (words and symbols)"


def histogram(lengths: list[int], path, title: str, cutoff: int | None = None) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..core.io import atomic_path

    arr = np.asarray(lengths or [0])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.hist(arr, bins=min(50, max(5, len(set(lengths)))), color="#4c72b0")
    if cutoff:
        ax.axvline(cutoff, color="#c44e52", linestyle="--", label=f"cutoff_len {cutoff}")
        ax.legend()
    ax.set_xlabel("tokens per training example (user + assistant)")
    ax.set_ylabel("examples")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    stats = {"min": int(arr.min()), "median": float(np.median(arr)), "p95": float(np.percentile(arr, 95)),
             "max": int(arr.max()), "mean": round(float(arr.mean()), 1)}
    if cutoff:
        stats["over_cutoff"] = int((arr > cutoff).sum())
    return stats


def apply_quotas(rows: list[dict], quotas: dict | None, seed: int) -> list[dict]:
    """Quotas are caps: a domain with a quota keeps a seeded random subset of at most that many rows,
    a domain without one keeps every row (the original kept every accepted row)."""
    quotas = quotas or {}
    by_domain: dict[str, list[dict]] = {}
    for r in rows:
        by_domain.setdefault(r["domain"], []).append(r)
    rng = random.Random(seed)
    out = []
    for domain in sorted(by_domain):
        pool = sorted(by_domain[domain], key=lambda r: r["id"])
        rng.shuffle(pool)
        out.extend(pool[: quotas[domain]] if domain in quotas else pool)
    return sorted(out, key=lambda r: (r["source"], r["id"]))


def response(row: dict) -> str:
    """The assistant turn: the rewritten trace, or for a passthrough source (STILL-2, the published set)
    the row's own response as it is."""
    if row.get("rewritten") is not None:
        return row["rewritten"]
    ref = (row.get("metadata") or {}).get("reference_response")
    if not ref:
        raise SkyT1Error(f"mix: row {row.get('id')} has neither a rewritten trace nor metadata.reference_response",
                         "mark only sources whose adapter keeps their own responses as passthrough")
    return ref


def to_sharegpt(row: dict, system_prompt: str) -> dict:
    """The user turn is the one the teacher saw (the task template applied), else the question."""
    return {"system": system_prompt,
            "conversations": [{"from": "user", "value": row.get("user") or row["question"]},
                              {"from": "assistant", "value": response(row)}]}


def row_lineage(index: int, row: dict) -> dict:
    """The ids that trace one SFT row back through reject, rewrite and sample to its source record."""
    return {"row": index, "id": row["id"], "record_id": row.get("record_id", row["id"]), "source": row["source"],
            "sample_index": row.get("sample_index"), "origin": (row.get("metadata") or {}).get("origin"),
            "teacher_request": row.get("teacher_request"), "rewrite_request": row.get("rewrite_request"),
            "verdict": row.get("verdict")}


def dataset_info(name: str, file_name: str) -> dict:
    return {name: {"file_name": file_name, "formatting": "sharegpt",
                   "columns": {"messages": "conversations", "system": "system"},
                   "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "user", "assistant_tag": "assistant"}}}


def acceptance_by_domain(stats_paths: list[str]) -> dict:
    """Reject sampling's acceptance rate per domain, summed over the sources of each domain."""
    from ..core.io import read_json

    per: dict[str, dict] = {}
    for p in stats_paths:
        st = read_json(p)
        d = per.setdefault(st.get("domain") or "?", {"rows": 0, "accepted": 0})
        d["rows"] += st["rows"]
        d["accepted"] += st["accepted"]
    for d in per.values():
        d["acceptance_rate"] = round(d["accepted"] / d["rows"], 4) if d["rows"] else 0.0
    return dict(sorted(per.items()))


@dataclass(frozen=True)
class Spec:
    """cfg: the `mix:` section; seed: the run's seed (quota subsets); cutoff_len: training's, drawn on the
    length histogram; artifacts: the pinned texts (the system prompt may be one)."""
    cfg: dict
    seed: int
    cutoff_len: int | None = None
    artifacts: dict | None = None


@dataclass(frozen=True)
class Paths:
    accepted: tuple[str, ...]
    data: str
    info: str
    report: str
    histogram: str | None = None       # default: mix_token_lengths.png beside the report
    tokenizer: str | None = None       # the student's tokenizer folder (else an approximate count)
    rows: str | None = None            # JSONL, line N for SFT row N: its lineage ids
    reject_stats: tuple[str, ...] = ()  # reject's stats files (acceptance per domain)


def spec(config: dict, **_wildcards) -> Spec:
    return Spec(config["mix"], config["seed"], config["train"]["args"].get("cutoff_len"), config["artifacts"])


def run(spec: Spec, paths: Paths) -> None:
    """rows (a JSONL, line N for SFT row N) gets each row's lineage ids: source record, teacher and rewrite
    requests, scorer verdict."""
    cfg, seed, cutoff_len = spec.cfg, spec.seed, spec.cutoff_len
    accepted_paths, data_path, info_path, report_path = list(paths.accepted), paths.data, paths.info, paths.report
    tokenizer_dir, rows_path = paths.tokenizer, paths.rows
    system = texts.Resolver(None, spec.artifacts).resolve(cfg["system_prompt"], "mix.system_prompt")
    rows = [r for p in accepted_paths for r in read_jsonl(p)]
    unique, dup_counts = dedupe_counts(rows)
    dupes = dup_counts["exact"] + dup_counts["normalized"]
    if not cfg["dedupe"]:  # the published 17K: its STILL-2 rows twice, as the model was trained on them
        unique, dupes = rows, 0
    mixed = apply_quotas(unique, cfg.get("quotas"), seed)  # optional: no quota keeps every row
    if len(mixed) < cfg["min_rows"]:
        raise SkyT1Error(f"mix: only {len(mixed)} accepted rows reached the SFT set (min_rows is {cfg['min_rows']})",
                         "sample more questions (train_sources.<name>.options.size / limit) or lower mix.min_rows")
    examples = [to_sharegpt(r, system.text) for r in mixed]
    lengths, counter = token_lengths([e["conversations"][0]["value"] + "\n" + e["conversations"][1]["value"]
                                      for e in examples], tokenizer_dir)
    histogram_path = paths.histogram or Path(report_path).with_name("mix_token_lengths.png")
    available = Counter(r["domain"] for r in unique)
    write_json(data_path, examples)
    write_json(info_path, dataset_info(cfg["dataset_name"], Path(data_path).name))
    if rows_path:
        write_jsonl(rows_path, [row_lineage(i, r) for i, r in enumerate(mixed)])
    length_stats = histogram(lengths, histogram_path, f"{cfg['dataset_name']}: {len(mixed)} examples", cutoff_len)
    write_json(report_path, {
        "rows": len(mixed), "accepted_in": len(rows), "dedupe": bool(cfg["dedupe"]), "duplicates_removed": dupes,
        "exact_duplicates": dup_counts["exact"], "normalized_duplicates": dup_counts["normalized"],
        "per_source": dict(sorted(Counter(r["source"] for r in mixed).items())),
        "per_domain": dict(sorted(Counter(r["domain"] for r in mixed).items())),
        "acceptance_by_domain": acceptance_by_domain(list(paths.reject_stats)),
        "quota_shortfall": {d: q - min(q, available.get(d, 0)) for d, q in sorted((cfg.get("quotas") or {}).items())
                            if available.get(d, 0) < q},
        "token_lengths": {"counter": counter, **length_stats, "histogram": str(histogram_path)},
        "provenance": provenance.collect("mix", cfg, accepted_paths, seed=seed,
                                         texts={"system_prompt": system.describe()})})
    log.info("mix: %d rows (%d duplicates removed%s)", len(mixed), dupes,
             "" if cfg["dedupe"] else f"; dedupe off: {dup_counts['exact'] + dup_counts['normalized']} copies kept")
