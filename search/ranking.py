"""Ranking parameters and result ordering.

Scoring is BM25F (Robertson, Zaragoza & Taylor, "Simple BM25 extension to
multiple weighted fields", CIKM 2004): a word's frequencies in the title,
excerpt and topics are weighted, added, normalised by the article's length
(title + excerpt + topics) and saturated once, so a word in the title and
the excerpt counts more than in one field but a word repeated everywhere
cannot run away. The values below were chosen with `bench/relevance.py`
(see BENCHMARKS.md): per-field length normalisation, a title weight of 2.5
and a title-coverage prior all measured worse or no better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .schema import MISSING, MISSING32

if TYPE_CHECKING:
    from .index_arrays import IndexArrays


@dataclass(frozen=True)
class Ranking:
    """Scoring and matching parameters."""

    k1: float = 1.2
    #: per-field weight of a word's frequency
    weights: tuple[tuple[str, float], ...] = (("title", 1.5), ("excerpt", 1.0), ("topics", 1.5))
    #: length normalisation (by the article's length)
    b: float = 0.75
    #: weight of the share of the query's words an article has (each word
    #: weighted by its idf), where articles may miss some words:
    #: score × ((1 - c) + c × matched idf / total idf)
    coordination: float = 1.0
    #: a typo-corrected word scores this much per edit (below an exact word)
    typo_weight: float = 0.6
    #: queries of this many words or more (pasted headlines) match articles
    #: with at least `long_share` of them instead of all
    long_words: int = 6
    long_share: float = 0.2
    #: when no article has every word: "union" matches the articles with the
    #: most of them; "subset" keeps the largest set of the rarest words
    relax: str = "union"

    def weight(self, field: str) -> float:
        for key, value in self.weights:
            if key == field:
                return value
        return 1.0


# ----------------------------------------------------------------- ordering


def top_documents(arrays: IndexArrays, matched: np.ndarray, primary: np.ndarray, want: int) -> list[int]:
    """The `want` best of `matched` by `primary` (smaller first), ties broken
    by newest, then path. Exact: every document tied with the last one kept
    takes part in the tie-break."""
    if want <= 0 or not len(matched):
        return []
    keys = primary[matched]
    if want < len(matched):
        kth = np.partition(keys, want - 1)[want - 1]
        cand = matched[keys <= kth]
    else:
        cand = matched
    ts = arrays.numeric_column("ts", MISSING)
    newest = np.where(ts[cand] == MISSING, np.iinfo(np.int64).max, -ts[cand])
    if len(cand) > 512:
        order = np.lexsort((arrays.path_rank()[cand], newest, primary[cand]))
        return [int(d) for d in cand[order[:want]]]
    rows = sorted(
        (float(primary[d]), int(nw), _text(arrays.column_value("path", d)), int(d))
        for d, nw in zip(cand.tolist(), newest.tolist(), strict=True)
    )
    return [row[3] for row in rows[:want]]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def sort_key(arrays: IndexArrays, sort: str, score: np.ndarray | None) -> np.ndarray:
    """The primary ordering key (smaller first) for a sort order."""
    big = np.float64(np.finfo(np.float64).max)
    if sort == "relevance" and score is not None:
        return -score.astype(np.float64)
    ts = arrays.numeric_column("ts", MISSING)
    missing_ts = ts == MISSING
    if sort in ("newest", "relevance"):
        # newest first is also the order of a query that does not score
        return np.where(missing_ts, big, -ts.astype(np.float64))
    if sort == "oldest":
        return np.where(missing_ts, big, ts.astype(np.float64))
    quality = arrays.numeric_column("quality_col", MISSING32)
    return np.where(quality == MISSING32, big, -quality.astype(np.float64))
