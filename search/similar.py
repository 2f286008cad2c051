"""More like this: the articles most like a given one.

The source article's most telling words (its title counted twice, its
excerpt and topics; by tf·idf, at most `key_terms`) are searched as one
weighted any-word query with the engine's BM25F; the best `candidates`
articles are then re-ranked with what a news reader means by "like this":
close in time (the same event is covered within days), on the same topics,
from other outlets or the same one. The parameters were chosen with
`bench/similar.py` (see BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .analysis import index_terms
from .index_arrays import IndexArrays
from .query.model import TEXT_FIELDS
from .schema import MISSING

_DAY_MICROS = 86_400 * 1_000_000


@dataclass(frozen=True)
class SimilarParams:
    """How similar articles are found and ranked."""

    key_terms: int = 25
    title_weight: float = 3.0
    candidates: int = 500
    #: closeness in time: exp(-|days apart| / tau)
    tau_days: float = 14.0
    date_weight: float = 1.0
    #: share of the source's topics a candidate has
    topic_weight: float = 0.15
    #: the same provider (negative: prefer other outlets)
    provider_weight: float = 0.1


@dataclass(frozen=True)
class SourceText:
    """What is read of the source article."""

    docnum: int
    title: str
    excerpt: str
    topics: tuple[str, ...]


def key_terms(arrays: IndexArrays, source: SourceText, params: SimilarParams) -> list[tuple[str, float]]:
    """The source's most telling index terms with their weights, best first:
    (1 + ln tf) × idf, words only the source has left out."""
    tf: Counter[str] = Counter()
    for _, term in index_terms(source.title):
        tf[term] += params.title_weight
    for text in (source.excerpt, " ; ".join(source.topics)):
        for _, term in index_terms(text):
            tf[term] += 1.0
    n = max(arrays.live_count, 1)
    live = arrays.live
    scored: list[tuple[float, str]] = []
    for term, count in tf.items():
        seen = arrays.none()
        for f in TEXT_FIELDS:
            ids, _ = arrays.postings(f, term)
            seen[ids] = True
        df = int(np.count_nonzero(seen & live))
        if df <= 1:
            continue  # in no other article: finds nothing
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        scored.append(((1.0 + math.log(count)) * idf, term))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(term, weight) for weight, term in scored[: params.key_terms]]


def similar_scores(arrays: IndexArrays, source: SourceText, allowed: np.ndarray,
                   params: SimilarParams) -> np.ndarray:
    """A score per document (0: not similar): the `candidates` best by the
    weighted key-term query, re-ranked by time, topics and provider. The
    source itself and documents outside `allowed` score 0."""
    from .evaluator import Evaluator

    ev = Evaluator(arrays)
    base = np.zeros(arrays.n, dtype=np.float32)
    for term, weight in key_terms(arrays, source, params):
        m = ev.word(term, TEXT_FIELDS)
        if m.score is not None:
            base += np.float32(weight) * m.score
    base[source.docnum] = 0.0
    base[~(allowed & arrays.live)] = 0.0
    found = np.flatnonzero(base > 0)
    if not len(found):
        return base
    if len(found) > params.candidates:
        found = found[np.argpartition(-base[found], params.candidates - 1)[: params.candidates]]
    final = np.zeros(arrays.n, dtype=np.float32)
    rel = base[found] / base[found].max()
    ts = arrays.numeric_column("ts", MISSING)
    if ts[source.docnum] != MISSING:
        days = np.abs(ts[found] - ts[source.docnum]) / _DAY_MICROS
        near = np.where(ts[found] == MISSING, 0.0, np.exp(-days / params.tau_days))
    else:
        near = np.zeros(len(found))
    topics = _shared_topics(arrays, source, found)
    same = _same_provider(arrays, source.docnum, found)
    final[found] = (rel + params.date_weight * near + params.topic_weight * topics
                    + params.provider_weight * same).astype(np.float32)
    # every candidate stays above zero (it is similar), whatever the bonuses
    final[found] = np.maximum(final[found], 1e-6)
    return final


def _shared_topics(arrays: IndexArrays, source: SourceText, found: np.ndarray) -> np.ndarray:
    names = {t.strip().lower() for t in source.topics if t.strip()}
    if not names:
        return np.zeros(len(found))
    count = np.zeros(len(found))
    for name in names:
        count += arrays.doc_mask("topic", name)[found]
    return count / len(names)


def _same_provider(arrays: IndexArrays, docnum: int, found: np.ndarray) -> np.ndarray:
    ids, _ = arrays.ref_column("provider_name")
    mine = ids[docnum]
    if mine < 0:
        return np.zeros(len(found))
    return (ids[found] == mine).astype(np.float64)
