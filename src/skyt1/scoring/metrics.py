"""Aggregate metrics: accuracy as the mean over samples, pass@k with the unbiased estimator."""

from __future__ import annotations

from math import comb
from typing import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c of them correct) is
    correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021), exact in integers."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_accuracy(correct: Sequence[bool]) -> float:
    """Accuracy of one item: the share of its samples that are correct."""
    if not correct:
        raise ValueError("no samples")
    return sum(bool(x) for x in correct) / len(correct)


def summarize(per_item: Iterable[Sequence[bool]], ks: Iterable[int] = (1,)) -> dict:
    """Benchmark summary in percent: accuracy (mean over items of the mean over samples) and pass@k for each k
    no larger than every item's number of samples."""
    items = [list(x) for x in per_item]
    if not items:
        raise ValueError("no items")
    out = {"items": len(items), "accuracy": 100.0 * sum(mean_accuracy(x) for x in items) / len(items)}
    n_min = min(len(x) for x in items)
    for k in ks:
        if k <= n_min:
            out[f"pass@{k}"] = 100.0 * sum(pass_at_k(len(x), sum(map(bool, x)), k) for x in items) / len(items)
    return out


# ------------------------------------------------------------------------------ declared metrics
def parse_metric(metric: str) -> tuple[str, int]:
    """('accuracy', 0) or ('pass', k) for a declared metric name ('accuracy', 'pass@k')."""
    if metric == "accuracy":
        return "accuracy", 0
    if metric.startswith("pass@") and metric[5:].isdigit() and int(metric[5:]) >= 1:
        return "pass", int(metric[5:])
    raise ValueError(f"unknown metric {metric!r}: use 'accuracy' or 'pass@k'")


def item_scores(metric: str, per_item: Iterable[Sequence[bool]]) -> list[float]:
    """One score in [0, 1] per item for the declared metric: accuracy is the mean over the item's samples,
    pass@k the unbiased estimator over its n samples (n >= k)."""
    kind, k = parse_metric(metric)
    out = []
    for samples in per_item:
        samples = list(samples)
        if kind == "accuracy":
            out.append(mean_accuracy(samples))
        else:
            if len(samples) < k:
                raise ValueError(f"{metric} needs at least {k} samples per item, got {len(samples)}")
            out.append(pass_at_k(len(samples), sum(map(bool, samples)), k))
    return out


def _log_binom_pmf(n: int, i: int, p: float) -> float:
    from math import lgamma, log
    if p <= 0.0:
        return 0.0 if i == 0 else float("-inf")
    if p >= 1.0:
        return 0.0 if i == n else float("-inf")
    return lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) + i * log(p) + (n - i) * log(1 - p)


def _binom_cdf(n: int, k: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    from math import exp
    return min(1.0, sum(exp(_log_binom_pmf(n, i, p)) for i in range(0, k + 1)))


def _bisect(f, lo: float = 0.0, hi: float = 1.0, iters: int = 80) -> float:
    """Root of a function that is decreasing on [lo, hi] (f(lo) > 0 > f(hi))."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion, as fractions in [0, 1]."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    alpha = 1.0 - level
    k = successes
    # lower: P(X >= k; p) = alpha/2, i.e. 1 - cdf(k-1) = alpha/2 (increasing in p)
    lower = 0.0 if k == 0 else _bisect(lambda p: alpha / 2 - (1.0 - _binom_cdf(n, k - 1, p)))
    # upper: P(X <= k; p) = alpha/2 (decreasing in p)
    upper = 1.0 if k == n else _bisect(lambda p: _binom_cdf(n, k, p) - alpha / 2)
    return lower, upper


def bootstrap_interval(scores: Sequence[float], *, seed: int, resamples: int = 2000,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over items (items resampled with replacement), seeded so
    that the same scores always give the same interval."""
    import numpy as np

    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no items")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = np.sort(arr[idx].mean(axis=1))
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2], method="linear")
    return float(lo), float(hi)


def confidence_interval(scores: Sequence[float], *, binary: bool, seed: int, resamples: int = 2000,
                        level: float = 0.95) -> dict:
    """95% interval of the mean item score, in percent, and how it was made: exact (Clopper-Pearson) when
    every item score is 0 or 1 from a single sample (n = 1), else a seeded percentile bootstrap over items."""
    scores = list(scores)
    if binary and all(s in (0.0, 1.0) for s in scores):
        lo, hi = clopper_pearson(int(sum(scores)), len(scores), level)
        method = "clopper-pearson (exact, n=1)"
    else:
        lo, hi = bootstrap_interval(scores, seed=seed, resamples=resamples, level=level)
        method = f"bootstrap over items (percentile, {resamples} resamples, seed {seed})"
    return {"level": level, "low": round(100.0 * lo, 2), "high": round(100.0 * hi, 2), "method": method}


def verdict(reported: float | None, low: float, high: float) -> str | None:
    """'reproduced' when the paper's value lies inside our interval, 'below' when our interval lies below it,
    'above' when above; None without a reported value."""
    if reported is None:
        return None
    if low <= reported <= high:
        return "reproduced"
    return "below" if high < reported else "above"


def paired_gain(student: Sequence[float], base: Sequence[float], *, seed: int, resamples: int = 2000,
                level: float = 0.95) -> dict:
    """The student's gain over its base on the same items (item i of each list is the same question), in
    percentage points, with a paired percentile-bootstrap interval: items are resampled with replacement and
    the mean of the per-item differences is taken each time, so the base's and the student's scores on an
    item always move together (seeded: the same scores always give the same interval)."""
    import numpy as np

    s, b = np.asarray(student, dtype=np.float64), np.asarray(base, dtype=np.float64)
    if s.shape != b.shape:
        raise ValueError(f"paired scores need the same items: {s.size} student vs {b.size} base scores")
    if s.size == 0:
        raise ValueError("no paired items")
    diff = s - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = np.sort(diff[idx].mean(axis=1))
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2], method="linear")
    return {"gain": round(100.0 * float(diff.mean()), 2), "low": round(100.0 * float(lo), 2),
            "high": round(100.0 * float(hi), 2), "items": int(diff.size), "level": level,
            "method": f"paired bootstrap over items (percentile, {resamples} resamples, seed {seed})"}
