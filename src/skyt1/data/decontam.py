"""Decontamination: drop every training question that overlaps a benchmark question.

Two passes over normalized text (lower case; runs of letters/digits and math operators are the tokens,
so LaTeX/whitespace/punctuation differences vanish):

1. n-gram overlap (n = 8 by default, as open-r1 and OpenThoughts use): a training question that
   shares any n-gram of tokens with a benchmark question is contaminated. Texts shorter than n
   tokens count as one gram made of the whole text (so they match only an identical text).
   An n-gram found in more than `ngram_max_df` documents of the corpus (training questions and
   benchmark questions together) is boilerplate, not evidence of a copy, and is ignored: Codeforces'
   "the first line contains a single integer t ... the number of test cases" links thousands of
   problems, a copied problem links its few copies. A gram that shares a token with a common gram
   of its text is ignored too (a word plus seven words of boilerplate is still boilerplate). A copy
   repeated more often than the cap still goes through the fuzzy pass, whose candidates are limited by
   benchmark frequency only.
   N-grams are hashed with a vectorized polynomial hash (numpy), looked up in the sorted benchmark
   hashes, and every hit is confirmed on the token tuples, so a hash collision never removes a row.
2. fuzzy match: for the rows that survive, candidate benchmark items are those sharing rare token
   3-grams (found the same vectorized way); the best few candidates are compared with an edit-distance
   similarity (rapidfuzz's normalized Indel ratio) on the normalized text. A similarity at or above
   the threshold is contaminated: this catches near copies whose edits break every n-gram.

Cost is linear in the total text size plus the number of candidate pairs, never train x benchmark."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import SkyT1Error

_TOKEN = re.compile(r"[^\W_]+|[+\-*/^=<>!%|&~]")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)
_MIX = np.uint64(0xBF58476D1CE4E5B9)

# `decontam: off` (YAML reads it as false) or enabled: false: no decontamination, as in the original.
OFF = (False, "off", None)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def normalized(text: str) -> str:
    return " ".join(tokens(text))


@dataclass
class Corpus:
    """Token ids of many texts, concatenated, with document boundaries."""
    ids: np.ndarray            # uint64, all tokens
    starts: np.ndarray         # int64, start of each doc in ids
    lengths: np.ndarray        # int64
    toks: list[list[str]] = field(repr=False, default_factory=list)


def enabled(cfg) -> bool:
    """Whether a `decontam:` setting asks for decontamination at all."""
    if cfg in OFF:
        return False
    return bool(cfg["enabled"])  # validation fills it (true)


def build_corpus(texts: list[str]) -> Corpus:
    return corpus_of_tokens([tokens(t) for t in texts])


def corpus_of_tokens(toks: list[list[str]]) -> Corpus:
    """Token ids are the tokens' string hashes (consistent within one process, which is all we need)."""
    lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    total = int(lengths.sum())
    ids = np.fromiter(map(hash, itertools.chain.from_iterable(toks)), dtype=np.int64, count=total).view(np.uint64)
    starts = np.zeros(len(toks), dtype=np.int64)
    if len(toks) > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    return Corpus(ids, starts, lengths, toks)


def _finalize(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(31))
    h = h * _MIX
    return h ^ (h >> np.uint64(29))


def gram_hashes(c: Corpus, n: int, short_as_gram: bool = True, bits: int = 24,
                common: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hash, doc) for every n-gram of every doc, de-duplicated within a doc, sorted by hash. Docs with
    0 < len < n contribute one gram made of all their tokens (if short_as_gram). With `common` (sorted
    hashes, as returned here), a gram that shares a token with a common gram of its doc is left out:
    "<word> the first line contains a single integer" is boilerplate too, whatever the word."""
    hashes, docs = _raw_gram_hashes(c, n, short_as_gram, common, bits)
    if len(hashes) == 0:
        return hashes, docs
    # unique (hash, doc) pairs, sorted by hash: the doc id goes in the low bits of one 64-bit key
    # (the hash keeps its top 64 - bits bits; n-gram hits are confirmed on the tokens anyway).
    # Corpora compared with each other must use the same `bits`.
    if len(c.lengths) >= 1 << bits:
        raise SkyT1Error(f"{len(c.lengths)} texts are too many for {bits}-bit document ids", "raise `bits`")
    key = np.unique((hashes >> np.uint64(bits) << np.uint64(bits)) | docs.astype(np.uint64))
    return key >> np.uint64(bits), (key & np.uint64((1 << bits) - 1)).astype(np.int64)


def _raw_gram_hashes(c: Corpus, n: int, short_as_gram: bool, common=None, bits: int = 0) -> tuple[np.ndarray, np.ndarray]:
    total = len(c.ids)
    doc_of = np.repeat(np.arange(len(c.lengths), dtype=np.int64), c.lengths)
    hashes = np.empty(0, dtype=np.uint64)
    docs = np.empty(0, dtype=np.int64)
    if total >= n:
        m = total - n + 1
        h = np.zeros(m, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                h = h * _MULT + c.ids[k:k + m] + np.uint64(1)
            h = _finalize(h)
        pos = np.arange(m, dtype=np.int64)
        ok = doc_of[pos] == doc_of[pos + n - 1]  # the gram lies inside one doc
        if common is not None and len(common):
            ok &= ~_near(np.where(ok, _member(h >> np.uint64(bits), common), False), n)
        hashes, docs = h[ok], doc_of[pos[ok]]
    if short_as_gram:
        short = np.nonzero((c.lengths > 0) & (c.lengths < n))[0]
        if len(short):
            sh = np.empty(len(short), dtype=np.uint64)
            with np.errstate(over="ignore"):
                for j, d in enumerate(short):
                    s, ln = c.starts[d], c.lengths[d]
                    v = np.uint64(ln) * np.uint64(0xD6E8FEB86659FD93)
                    for x in c.ids[s:s + ln]:
                        v = v * _MULT + x + np.uint64(1)
                    sh[j] = v
                sh = _finalize(sh)
            hashes = np.concatenate([hashes, sh])
            docs = np.concatenate([docs, short.astype(np.int64)])
    return hashes, docs


class GramIndex:
    """Sorted benchmark gram hashes -> benchmark docs, with document frequency."""

    def __init__(self, hashes: np.ndarray, docs: np.ndarray, max_df: int | None = None):
        order = np.argsort(hashes, kind="stable")  # already sorted when it comes from gram_hashes: cheap
        h, d = hashes[order], docs[order]
        uniq, first, counts = np.unique(h, return_index=True, return_counts=True)
        if max_df:
            ok = np.repeat(counts <= max_df, counts)
            h, d = h[ok], d[ok]
            uniq, first, counts = np.unique(h, return_index=True, return_counts=True)
        self.hashes, self.docs, self.uniq, self.first, self.counts = h, d, uniq, first, counts

    def pairs(self, hashes: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (query doc, benchmark doc) pair per shared gram (with repeats: one per gram)."""
        if len(self.uniq) == 0 or len(hashes) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        idx = np.searchsorted(self.uniq, hashes)
        idx[idx == len(self.uniq)] = 0
        hit = self.uniq[idx] == hashes
        qdocs, idx = docs[hit], idx[hit]
        cnt = self.counts[idx]
        total = int(cnt.sum())
        left = np.repeat(qdocs, cnt)
        # positions first[idx] .. first[idx]+cnt-1, flattened
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        right = self.docs[np.repeat(self.first[idx], cnt) + offsets]
        return left, right


def _pair_counts(left: np.ndarray, right: np.ndarray, nright: int):
    """Unique (left, right) pairs with their multiplicity, sorted by left then count descending."""
    if len(left) == 0:
        e = np.empty(0, np.int64)
        return e, e, e
    code = left * np.int64(nright) + right
    uniq, counts = np.unique(code, return_counts=True)
    lq, rq = uniq // nright, uniq % nright
    order = np.lexsort((-counts, lq))
    return lq[order], rq[order], counts[order]


def _ngrams(toks: list[str], n: int) -> set[tuple]:
    if 0 < len(toks) < n:
        return {tuple(toks)}
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def decontaminate(train: list[dict], bench: list[dict], cfg: dict) -> tuple[list[bool], list[dict], dict]:
    """Return (keep mask over `train`, one match per removed training item, timings/stats).

    `train` and `bench` are records (id, source, question, ...); `cfg` the validated `decontam:` settings
    (every key filled from config/schema.yaml's defaults)."""
    n = int(cfg["ngram"])
    if n < 1:
        raise SkyT1Error(f"decontam.ngram must be >= 1, got {n}", "set decontam.ngram (8 by default)")
    thr = float(cfg["fuzzy_threshold"])
    if not 0 < thr <= 1:
        raise SkyT1Error(f"decontam.fuzzy_threshold must be in (0, 1], got {thr}", "set e.g. 0.9")
    t0 = time.perf_counter()
    tc = build_corpus([r["question"] for r in train])
    bc = build_corpus([r["question"] for r in bench])
    t_tok = time.perf_counter()

    # ---- pass 1: n-grams
    bits = max(len(train), len(bench), 1).bit_length()
    th, td = gram_hashes(tc, n, bits=bits)
    bh, bd = gram_hashes(bc, n, bits=bits)
    common, common_df = _common_grams(th, bh, cfg.get("ngram_max_df"))
    if len(common):  # a short text's one gram is the whole text: an identical question, never boilerplate
        whole = np.concatenate([th[tc.lengths[td] < n], bh[bc.lengths[bd] < n]])
        rare = ~np.isin(common, whole)
        common, common_df = common[rare], common_df[rare]
    sides = [(th, td, tc), (bh, bd, bc)]
    if len(common):  # again, without the grams that touch boilerplate
        th, td = gram_hashes(tc, n, bits=bits, common=common)
        bh, bd = gram_hashes(bc, n, bits=bits, common=common)
    index = GramIndex(bh, bd)
    left, right = index.pairs(th, td)
    lq, rq, cnt = _pair_counts(left, right, max(len(bench), 1))
    matches: dict[int, dict] = {}
    bench_grams: dict[int, set] = {}
    i = 0
    while i < len(lq):  # groups by training doc, best candidate first; confirm on the token tuples
        t = int(lq[i])
        j = i
        while j < len(lq) and lq[j] == t:
            j += 1
        all_grams = _ngrams(tc.toks[t], n)
        tgrams = _clean_grams(tc.toks[t], n, bits, common) if len(common) else all_grams
        for k in range(i, j):
            b = int(rq[k])
            if b not in bench_grams:
                bench_grams[b] = _clean_grams(bc.toks[b], n, bits, common) if len(common) else _ngrams(bc.toks[b], n)
            shared = tgrams & bench_grams[b]  # confirmed on the tokens: a hash collision never removes a row
            if shared:
                matches[t] = {"method": "ngram", "bench_index": b, "shared_ngrams": len(shared),
                              "ngram_overlap": round(len(shared) / max(len(all_grams), 1), 4),
                              "example_ngram": " ".join(min(shared)),
                              "shared_text": _longest_shared_span(tc.toks[t], shared, n)}
                break
        i = j
    t_ngram = time.perf_counter()

    # ---- pass 2: fuzzy
    fuzzy_pairs = 0
    if cfg["fuzzy"] and len(bench):
        from rapidfuzz.distance import Indel

        g = int(cfg["fuzzy_gram"])
        fh, fd = gram_hashes(tc, g, short_as_gram=False, bits=bits)
        gh, gd = gram_hashes(bc, g, short_as_gram=False, bits=bits)
        tnorm = [" ".join(x) for x in tc.toks]
        alive = np.array([(k not in matches) and len(tnorm[k]) >= int(cfg["fuzzy_min_chars"]) for k in range(len(train))],
                         dtype=bool)
        sel = alive[fd] if len(fd) else np.zeros(0, bool)
        left, right = GramIndex(gh, gd, int(cfg["fuzzy_max_df"])).pairs(fh[sel], fd[sel])
        lq, rq, _ = _pair_counts(left, right, len(bench))
        if len(lq):
            starts = np.r_[0, np.nonzero(lq[1:] != lq[:-1])[0] + 1]
            rank = np.arange(len(lq)) - np.repeat(starts, np.diff(np.r_[starts, len(lq)]))
            top = rank < int(cfg["fuzzy_candidates"])
            lq, rq = lq[top], rq[top]
        bnorm: dict[int, str] = {}
        for t, b in zip(lq.tolist(), rq.tolist()):
            if t in matches and matches[t]["similarity"] >= 1.0:
                continue
            a = tnorm[t]
            s = bnorm.get(b)
            if s is None:
                s = bnorm[b] = " ".join(bc.toks[b])
            if 2 * min(len(a), len(s)) / (len(a) + len(s)) < thr:
                continue  # the length difference alone keeps the ratio below the threshold
            fuzzy_pairs += 1
            sim = Indel.normalized_similarity(a, s, score_cutoff=thr)
            if sim >= thr and (t not in matches or sim > matches[t]["similarity"]):
                matches[t] = {"method": "fuzzy", "bench_index": b, "similarity": round(sim, 4)}
    t_fuzzy = time.perf_counter()

    keep = [k not in matches for k in range(len(train))]
    removed = []
    for t in sorted(matches):
        m = dict(matches[t])
        b = bench[m.pop("bench_index")]
        removed.append({"train_id": train[t]["id"], "train_source": train[t]["source"],
                        "benchmark": b["source"], "benchmark_id": b["id"], **m,
                        "train_question": train[t]["question"][:300], "benchmark_question": b["question"][:300]})
    stats = {"train": len(train), "benchmark_items": len(bench), "removed": len(removed),
             "removed_ngram": sum(r["method"] == "ngram" for r in removed),
             "removed_fuzzy": sum(r["method"] == "fuzzy" for r in removed),
             "fuzzy_pairs_compared": fuzzy_pairs,
             "ngrams_ignored_as_common": int(len(common)),
             "most_common_ignored": _describe_common(common, common_df, sides, n, bits),
             "seconds": {"tokenize": round(t_tok - t0, 3), "ngram": round(t_ngram - t_tok, 3),
                         "fuzzy": round(t_fuzzy - t_ngram, 3), "total": round(t_fuzzy - t0, 3)},
             "settings": cfg}
    return keep, removed, stats


def _common_grams(th: np.ndarray, bh: np.ndarray, max_df) -> tuple[np.ndarray, np.ndarray]:
    """Sorted gram hashes found in more than max_df documents (training and benchmark together), with
    their document counts. gram_hashes gives each (gram, doc) once, so a count is a document count."""
    if not max_df:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    u, c = np.unique(np.concatenate([th, bh]), return_counts=True)
    over = c > int(max_df)
    return u[over], c[over]


def _near(bad: np.ndarray, n: int) -> np.ndarray:
    """Per gram position p: whether a flagged gram starts within n - 1 of p, i.e. shares a token with it
    (a gram of another doc never does: it ends before this doc starts)."""
    cs = np.concatenate([[0], np.cumsum(bad, dtype=np.int64)])
    p = np.arange(len(bad))
    return cs[np.minimum(p + n, len(bad))] - cs[np.maximum(p - n + 1, 0)] > 0


def _clean_grams(toks: list[str], n: int, bits: int, common: np.ndarray) -> set[tuple]:
    """The n-grams of one text that share no token with a common gram (the set gram_hashes keeps)."""
    if len(toks) < n:
        return _ngrams(toks, n)
    grams = [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    if not len(common):
        return set(grams)
    near = _near(_member(_tuple_hashes(grams, n, bits), common), n)
    return {g for g, x in zip(grams, near) if not x}


def _member(values, sorted_set: np.ndarray):
    """Elementwise `values in sorted_set` (sorted_set sorted, non-empty)."""
    idx = np.searchsorted(sorted_set, values)
    idx = np.minimum(idx, len(sorted_set) - 1)
    return sorted_set[idx] == values


def _tuple_hashes(grams: list[tuple], n: int, bits: int) -> np.ndarray:
    """The hash gram_hashes gives each token tuple (a full gram, or a short doc's whole text)."""
    h, d = _raw_gram_hashes(corpus_of_tokens([list(g) for g in grams]), n, True)
    out = np.empty(len(grams), np.uint64)
    out[d] = h >> np.uint64(bits)
    return out


def _longest_shared_span(toks: list[str], shared: set[tuple], n: int, limit: int = 300) -> str:
    """The longest run of the training question's tokens covered by shared n-grams (what was copied)."""
    if 0 < len(toks) < n:
        return " ".join(toks)[:limit]
    best, start, end = (0, 0), None, -1
    for i in range(len(toks) - n + 1):
        if tuple(toks[i:i + n]) in shared:
            if start is None or i > end:
                start = i
            end = i + n
            if end - start > best[1] - best[0]:
                best = (start, end)
    return " ".join(toks[best[0]:best[1]])[:limit]


def _describe_common(common, df, sides, n: int, bits: int, top: int = 5) -> list[dict]:
    """The most frequent ignored n-grams as text, with their document counts (what the cap left out).
    sides: (hashes sorted, docs, corpus) of the training and the benchmark questions. Ties in the count
    are broken by the text, so the report is the same on every run (gram hashes depend on token ids)."""
    if not len(common):
        return []
    order = np.argsort(-df, kind="stable")
    cut = df[order[min(top, len(order)) - 1]]
    candidates = [k for k in order[:max(top, 200)] if df[k] >= cut]  # every gram tied with the top-th one
    out = []
    for k in candidates:
        h = common[k]
        for hs, ds, c in sides:
            at = int(np.searchsorted(hs, h))
            if at < len(hs) and hs[at] == h:
                toks = c.toks[int(ds[at])]
                grams = [tuple(toks[i:i + n]) for i in range(max(len(toks) - n + 1, 0))] or [tuple(toks)]
                text = next((" ".join(g) for g, gh in zip(grams, _tuple_hashes(grams, n, bits)) if gh == h), None)
                if text:
                    out.append({"ngram": text, "documents": int(df[k])})
                    break
    return sorted(out, key=lambda c: (-c["documents"], c["ngram"]))[:top]


def naive_contaminated(train_q: str, bench_qs: list[str], n: int = 8, threshold: float = 0.9,
                       min_chars: int = 64) -> bool:
    """The all-pairs reference (for tests and the benchmark script): n-gram sets intersected with
    every benchmark question, then the similarity to every benchmark question."""
    from rapidfuzz.distance import Indel

    tt = tokens(train_q)
    grams = _ngrams(tt, n)
    a = " ".join(tt)
    for q in bench_qs:
        bt = tokens(q)
        if grams & _ngrams(bt, n):
            return True
    if len(a) < min_chars:
        return False
    return any(Indel.normalized_similarity(a, " ".join(tokens(q))) >= threshold for q in bench_qs)
