"""Metrics of the relevance benchmark, over the top k = 10 results of each query.

* MRR@10: mean over queries of 1/rank of the first relevant result (0 when
  none is in the top 10);
* success@10: the share of queries with a relevant result in the top 10
  (v1 called it recall@10);
* nDCG@10 with binary relevance: DCG = Σ rel_i / log2(i + 1) over ranks
  i = 1..10, divided by the ideal DCG of min(|relevant|, 10) relevant results
  at the top.

The bootstrap resamples clusters (targets, listing articles) rather than
queries: the three queries of one target, or the headlines of one article,
are not independent, and resampling them one by one would overstate the
certainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

K = 10


class Judged(Protocol):
    """What the metrics need of a query."""

    text: str
    relevant: frozenset[str]
    cluster: str


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str] | set[str], k: int = K) -> float:
    """1/rank of the first relevant path in the top `k`, else 0."""
    for i, path in enumerate(ranked[:k]):
        if path in relevant:
            return 1.0 / (i + 1)
    return 0.0


def success(ranked: Sequence[str], relevant: frozenset[str] | set[str], k: int = K) -> float:
    """1.0 when a relevant path is in the top `k`, else 0.0."""
    return 1.0 if any(p in relevant for p in ranked[:k]) else 0.0


def ndcg(ranked: Sequence[str], relevant: frozenset[str] | set[str], k: int = K) -> float:
    """Binary-relevance nDCG@k (0 when nothing is relevant)."""
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    if ideal == 0:
        return 0.0
    return sum(1.0 / math.log2(i + 2) for i, p in enumerate(ranked[:k]) if p in relevant) / ideal


@dataclass(frozen=True)
class PerQuery:
    """One query's scores."""

    rr: float
    success: float
    ndcg: float


def per_query(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> PerQuery:
    return PerQuery(reciprocal_rank(ranked, relevant, k), success(ranked, relevant, k),
                    ndcg(ranked, relevant, k))


METRICS = ("rr", "success", "ndcg")
METRIC_NAMES = {"rr": f"MRR@{K}", "success": f"success@{K}", "ndcg": f"nDCG@{K}"}


@dataclass(frozen=True)
class Quality:
    """Mean metrics over a set of queries (`recall` is v1's name for success)."""

    mrr: float
    success: float
    ndcg: float
    n: int

    @property
    def recall(self) -> float:
        return self.success

    def get(self, metric: str) -> float:
        return {"rr": self.mrr, "success": self.success, "ndcg": self.ndcg}[metric]


def mean_quality(scores: Sequence[PerQuery]) -> Quality:
    if not scores:
        return Quality(0.0, 0.0, 0.0, 0)
    n = len(scores)
    return Quality(sum(s.rr for s in scores) / n, sum(s.success for s in scores) / n,
                   sum(s.ndcg for s in scores) / n, n)


def quality(rankings: Sequence[Sequence[str]], queries: Sequence[Judged], k: int = K) -> Quality:
    """Score rankings (one per query, same order as `queries`)."""
    if len(rankings) != len(queries):
        raise ValueError("one ranking per query")
    return mean_quality([per_query(r, q.relevant, k) for r, q in zip(rankings, queries, strict=True)])


@dataclass(frozen=True)
class Ceiling:
    """The best scores any deterministic engine can reach on a query set."""

    mrr: float
    success: float
    ndcg: float | None  # None: not computed (only bounded by 1)
    exact: bool  # False: mrr/success are upper bounds, not tight

    def get(self, metric: str) -> float | None:
        return {"rr": self.mrr, "success": self.success, "ndcg": self.ndcg}[metric]


def ceiling(queries: Sequence[Judged], k: int = K, key: object = None) -> Ceiling:
    """The best MRR@k and success@k any ranking can reach.

    Queries with the same text (compared by `key(text)`, default the text
    case- and space-folded) get the same ranking from a deterministic engine.
    Per group of identical texts: when one article answers them all, every
    query can be at rank 1; when no article answers two of them, the best is
    ranks 1, 2, ... for MRR and min(n, k) successes; otherwise the bound used
    is n (every query at rank 1), which is not tight (hence `exact`). nDCG's
    ceiling is 1.0 when every text is unique, else not computed.
    """
    fold = key if callable(key) else (lambda t: " ".join(t.casefold().split()))
    groups: dict[str, list[frozenset[str]]] = {}
    for q in queries:
        groups.setdefault(fold(q.text), []).append(q.relevant)
    rr_total, ok_total, exact = 0.0, 0.0, True
    for sets in groups.values():
        n = len(sets)
        if frozenset.intersection(*sets):
            rr_total += n
            ok_total += n
        elif sum(len(s) for s in sets) == len(frozenset.union(*sets)):
            rr_total += sum(1 / r for r in range(1, min(n, k) + 1))
            ok_total += min(n, k)
        else:
            rr_total += n
            ok_total += n
            exact = False
    n = max(len(queries), 1)
    unique = all(len(sets) == 1 for sets in groups.values())
    return Ceiling(rr_total / n, ok_total / n, 1.0 if unique else None, exact)


def cluster_bootstrap(diffs: Sequence[float], clusters: Sequence[str], rounds: int = 2000,
                      seed: int = 4) -> tuple[float, float]:
    """95% interval of the mean of per-query `diffs`, resampling whole clusters
    with replacement (each resample has as many clusters as the data)."""
    import numpy as np

    if len(diffs) != len(clusters):
        raise ValueError("one cluster per difference")
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for d, c in zip(diffs, clusters, strict=True):
        sums[c] = sums.get(c, 0.0) + d
        counts[c] = counts.get(c, 0) + 1
    keys = sorted(sums)
    if not keys:
        return 0.0, 0.0
    s = np.array([sums[c] for c in keys])
    n = np.array([counts[c] for c in keys], dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(keys), size=(rounds, len(keys)))
    means = np.sort(s[picks].sum(axis=1) / n[picks].sum(axis=1))
    return float(means[int(0.025 * rounds)]), float(means[int(0.975 * rounds) - 1])
