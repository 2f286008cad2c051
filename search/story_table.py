"""The columnar store of story features, and document frequencies by IDF class.

`FeatureTable` holds one row per article (terms as 64-bit hashes, sorted
within a row); `Vocabulary` counts in how many rows each term occurs. IDF is
quantised to classes of a quarter-bit of document frequency, so adding or
removing an article moves the class of only the few terms whose count
crosses a class boundary: the basis of exact incremental story updates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .story_text import text_hash

if TYPE_CHECKING:
    from .stories import StoryFeatures

#: IDF classes per doubling of document frequency
CLASSES_PER_DOUBLING = 4
#: one IDF unit in nats
IDF_UNIT = math.log(2) / CLASSES_PER_DOUBLING
NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Articles' story features in columns; row i is article `keys[i]`."""

    keys: np.ndarray  # object: str
    key_hash: np.ndarray  # uint64 hashes of the keys, to find rows fast
    ts: np.ndarray  # int64 seconds, NO_TIME when unknown
    provider: np.ndarray  # uint64, 0 when unknown
    url: np.ndarray  # uint64, 0 when none
    tptr: np.ndarray  # int64 [n+1]: row i owns terms[tptr[i]:tptr[i+1]]
    terms: np.ndarray  # uint64, sorted within a row
    counts: np.ndarray  # uint16: title occurrences × title weight + excerpt occurrences
    names: np.ndarray  # bool: the term is a name in the title
    rptr: np.ndarray  # int64 [n+1]
    related: np.ndarray  # uint64 normalised URL hashes of the row's related list

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_features(cls, rows: Sequence[StoryFeatures]) -> FeatureTable:
        def ptr(lengths: list[int]) -> np.ndarray:
            out = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=out[1:])
            return out

        def cat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)

        keys = np.empty(len(rows), dtype=object)
        keys[:] = [r.key for r in rows]
        return cls(
            keys=keys,
            key_hash=np.fromiter((text_hash(r.key) for r in rows), np.uint64, len(rows)),
            ts=np.array([NO_TIME if r.ts is None else r.ts for r in rows], dtype=np.int64),
            provider=np.array([r.provider for r in rows], dtype=np.uint64),
            url=np.array([r.url for r in rows], dtype=np.uint64),
            tptr=ptr([len(r.terms) for r in rows]),
            terms=cat([r.terms for r in rows], np.uint64),
            counts=cat([r.counts for r in rows], np.uint16),
            names=cat([r.names for r in rows], np.bool_),
            rptr=ptr([len(r.related) for r in rows]),
            related=cat([r.related for r in rows], np.uint64),
        )

    def take(self, rows: np.ndarray) -> FeatureTable:
        """The table of the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        tsel, tptr = _gather(self.tptr, rows)
        rsel, rptr = _gather(self.rptr, rows)
        return FeatureTable(
            keys=self.keys[rows], key_hash=self.key_hash[rows],
            ts=self.ts[rows], provider=self.provider[rows], url=self.url[rows],
            tptr=tptr, terms=self.terms[tsel], counts=self.counts[tsel], names=self.names[tsel],
            rptr=rptr, related=self.related[rsel],
        )

    @staticmethod
    def concat(a: FeatureTable, b: FeatureTable) -> FeatureTable:
        return FeatureTable(
            keys=np.concatenate([a.keys, b.keys]), key_hash=np.concatenate([a.key_hash, b.key_hash]),
            ts=np.concatenate([a.ts, b.ts]), provider=np.concatenate([a.provider, b.provider]),
            url=np.concatenate([a.url, b.url]),
            tptr=np.concatenate([a.tptr, b.tptr[1:] + a.tptr[-1]]),
            terms=np.concatenate([a.terms, b.terms]), counts=np.concatenate([a.counts, b.counts]),
            names=np.concatenate([a.names, b.names]),
            rptr=np.concatenate([a.rptr, b.rptr[1:] + a.rptr[-1]]),
            related=np.concatenate([a.related, b.related]),
        )

    def rows_of(self, keys: Sequence[str]) -> np.ndarray:
        """The rows holding these keys (sorted; keys not in the table are ignored)."""
        if not keys or not len(self):
            return np.zeros(0, np.int64)
        wanted = np.fromiter((text_hash(k) for k in keys), np.uint64, len(keys))
        hits = np.flatnonzero(np.isin(self.key_hash, wanted))
        names = set(keys)
        return np.array([i for i in hits.tolist() if self.keys[i] in names], dtype=np.int64)

    def row_of_posting(self) -> np.ndarray:
        """For every entry of `terms`, the row it belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.tptr))


def _gather(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the segments of `rows` in a ptr-indexed array, and their new ptr."""
    starts, ends = ptr[rows], ptr[rows + 1]
    lengths = ends - starts
    new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_ptr[1:])
    idx = np.repeat(starts - new_ptr[:-1], lengths) + np.arange(new_ptr[-1], dtype=np.int64)
    return idx, new_ptr


# ------------------------------------------------------------------ IDF classes


def df_class(df: np.ndarray | int) -> np.ndarray:
    """⌈4·log2(df)⌉: the IDF class of a term found in `df` articles (df ≥ 1)."""
    return np.ceil(CLASSES_PER_DOUBLING * np.log2(np.maximum(df, 1))).astype(np.int64)


def corpus_class(n: int) -> int:
    """⌈4·log2(n)⌉ for the number of articles, exactly (integers, no rounding)."""
    return max(0, (max(n, 1) ** CLASSES_PER_DOUBLING - 1).bit_length())


@dataclass(frozen=True)
class Vocabulary:
    """Sorted term hashes with their document frequencies."""

    terms: np.ndarray  # uint64 sorted unique
    df: np.ndarray  # int64

    @classmethod
    def of(cls, table: FeatureTable) -> Vocabulary:
        terms, df = np.unique(table.terms, return_counts=True)
        return cls(terms, df.astype(np.int64))

    def classes(self, terms: np.ndarray) -> np.ndarray:
        """The df class of each given term (all must be in the vocabulary)."""
        return df_class(self.df[np.searchsorted(self.terms, terms)])

    def updated(self, minus: np.ndarray, plus: np.ndarray) -> tuple[Vocabulary, np.ndarray]:
        """The vocabulary after removing the postings `minus` and adding `plus`,
        and the terms whose df class changed (sorted)."""
        delta_terms = np.concatenate([minus, plus])
        delta = np.concatenate([-np.ones(len(minus), np.int64), np.ones(len(plus), np.int64)])
        touched, inverse = np.unique(delta_terms, return_inverse=True)
        change = np.bincount(inverse, weights=delta, minlength=len(touched)).astype(np.int64)
        pos = np.searchsorted(self.terms, touched)
        known = (pos < len(self.terms)) & (self.terms[np.minimum(pos, len(self.terms) - 1)] == touched) \
            if len(self.terms) else np.zeros(len(touched), bool)
        old_df = np.zeros(len(touched), np.int64)
        old_df[known] = self.df[pos[known]]
        new_df = old_df + change
        merged_terms = np.concatenate([self.terms, touched[~known]])
        merged_df = np.concatenate([self.df, new_df[~known]])
        merged_df[pos[known]] = new_df[known]
        order = np.argsort(merged_terms, kind="stable")
        merged_terms, merged_df = merged_terms[order], merged_df[order]
        keep = merged_df > 0
        moved = df_class(np.maximum(old_df, 1)) != df_class(np.maximum(new_df, 1))
        moved |= (old_df == 0) != (new_df == 0)
        return Vocabulary(merged_terms[keep], merged_df[keep]), touched[moved]


