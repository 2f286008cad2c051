"""The numeric core of story grouping: which pairs of articles are linked.

Articles live in a columnar `FeatureTable` (one row per article, terms as
64-bit hashes). Two articles are linked when

* their normalised URLs are equal (the same article stored twice), or
* they were published within the window of each other, come from different
  providers, their titles do not name different rare entities, and the
  TF-IDF cosine of their terms clears a threshold (a lower one when they share
  enough rare terms, or when one lists the other as related coverage).

Everything that decides a link is integer arithmetic on values that depend
only on the two rows and on the IDF *classes* of their terms (IDF quantised
to quarter-bits of document frequency): sums are exact whatever their order,
so the links of a pair computed in an incremental run are bit-for-bit those
of a full run, and a change to the corpus only moves the classes of the few
terms whose document frequency crosses a class boundary. `StoryIndex` in
`stories.py` builds on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .stories import StoryFeatures, StoryParams

#: IDF classes per doubling of document frequency
CLASSES_PER_DOUBLING = 4
_UNIT = math.log(2) / CLASSES_PER_DOUBLING  # one IDF unit in nats
#: fixed-point scale of normalised term weights; products are compared as int64
_SCALE_BITS = 24
NO_TIME = np.iinfo(np.int64).min
#: the most common terms are scored through small dense rows instead of the
#: pairwise join, where they would make up most of the volume
DENSE_TERMS = 64
#: upper bound on pair contributions expanded at once (memory ~ 60 bytes each)
_CHUNK = 2_000_000


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Articles' story features in columns; row i is article `keys[i]`."""

    keys: tuple[str, ...]
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

        return cls(
            keys=tuple(r.key for r in rows),
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
            keys=tuple(self.keys[i] for i in rows.tolist()),
            ts=self.ts[rows], provider=self.provider[rows], url=self.url[rows],
            tptr=tptr, terms=self.terms[tsel], counts=self.counts[tsel], names=self.names[tsel],
            rptr=rptr, related=self.related[rsel],
        )

    @staticmethod
    def concat(a: FeatureTable, b: FeatureTable) -> FeatureTable:
        return FeatureTable(
            keys=a.keys + b.keys,
            ts=np.concatenate([a.ts, b.ts]), provider=np.concatenate([a.provider, b.provider]),
            url=np.concatenate([a.url, b.url]),
            tptr=np.concatenate([a.tptr, b.tptr[1:] + a.tptr[-1]]),
            terms=np.concatenate([a.terms, b.terms]), counts=np.concatenate([a.counts, b.counts]),
            names=np.concatenate([a.names, b.names]),
            rptr=np.concatenate([a.rptr, b.rptr[1:] + a.rptr[-1]]),
            related=np.concatenate([a.related, b.related]),
        )

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
class Thresholds:
    """StoryParams turned into the integers the link rule compares."""

    window: int  # seconds
    high: int  # cosine thresholds in weight-product units
    low: int
    related: int
    rare_units: int  # a term is rare when its IDF is at least this many units
    rare_mass: int  # shared rare terms must sum to this many IDF units
    name_units: int  # a title name is rare when its IDF units reach this...
    name_class: int  # ...or its df class is at most this (df ≤ 3)
    power: float
    veto: bool

    @classmethod
    def of(cls, p: StoryParams) -> Thresholds:
        one = 1 << (2 * _SCALE_BITS)
        return cls(
            window=int(round(p.window_days * 86400)),
            high=int(math.ceil(p.high * one)), low=int(math.ceil(p.low * one)),
            related=int(math.ceil(p.related_low * one)),
            rare_units=int(round(math.log2(p.rare_ratio) * CLASSES_PER_DOUBLING)),
            rare_mass=int(math.ceil(p.rare_mass / _UNIT)),
            name_units=int(round(math.log2(p.name_ratio) * CLASSES_PER_DOUBLING)),
            name_class=int(df_class(p.name_max_df)),
            power=p.idf_power, veto=p.name_veto,
        )

    @property
    def lowest(self) -> int:
        return min(self.high, self.low, self.related)


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


# ------------------------------------------------------------------ weights


@dataclass(frozen=True)
class _Weights:
    """Per-posting integers for the rows a link computation needs."""

    w: np.ndarray  # int64 normalised weight × 2^24
    units: np.ndarray  # int64 IDF units
    rare: np.ndarray  # bool
    name_rare: np.ndarray  # bool: a rare name of the title
    n_names: np.ndarray  # int64 per row: how many rare names its title has


def _weights(table: FeatureTable, vocab: Vocabulary, th: Thresholds) -> _Weights:
    n_class = corpus_class(len(table))
    cls = vocab.classes(table.terms)
    units = np.maximum(n_class - cls, 0)
    table_units = np.arange(n_class + 1, dtype=np.float64)
    idf_pow = (table_units * _UNIT) ** th.power  # a lookup, so equal units give equal floats
    raw = (1.0 + np.log(np.maximum(table.counts, 1).astype(np.float64))) * idf_pow[units]
    row = table.row_of_posting()
    # bincount sums each row's squares in posting order: the same floats
    # whichever other rows are in the table
    norm = np.sqrt(np.bincount(row, weights=raw * raw, minlength=len(table)))
    scale = float(1 << _SCALE_BITS)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(norm[row] > 0, np.floor(raw / norm[row] * scale + 0.5), 0).astype(np.int64)
    name_rare = table.names & ((units >= th.name_units) | (cls <= th.name_class))
    n_names = np.bincount(row, weights=name_rare.astype(np.float64), minlength=len(table)).astype(np.int64)
    return _Weights(w=w, units=units, rare=units >= th.rare_units, name_rare=name_rare, n_names=n_names)


# ------------------------------------------------------------------ links


def compute_links(table: FeatureTable, vocab: Vocabulary, params: StoryParams,
                  sources: np.ndarray | None = None) -> np.ndarray:
    """Every link (a, b), a < b, with at least one end in `sources` (all rows
    when None), as an int64 array of shape (k, 2), sorted."""
    th = Thresholds.of(params)
    n = len(table)
    if n == 0:
        return np.zeros((0, 2), np.int64)
    is_source = np.ones(n, bool) if sources is None else np.zeros(n, bool)
    if sources is not None:
        is_source[np.asarray(sources, dtype=np.int64)] = True
    parts = [_url_links(table, is_source), _text_links(table, vocab, th, is_source)]
    links = np.concatenate(parts)
    if len(links) == 0:
        return links
    keys = np.unique(links[:, 0] * n + links[:, 1])
    return np.stack([keys // n, keys % n], axis=1)


def _url_links(table: FeatureTable, is_source: np.ndarray) -> np.ndarray:
    """Pairs of rows with the same normalised URL: one article stored twice."""
    rows = np.flatnonzero(table.url != 0)
    if len(rows) < 2:
        return np.zeros((0, 2), np.int64)
    order = rows[np.argsort(table.url[rows], kind="stable")]
    urls = table.url[order]
    starts = np.flatnonzero(np.r_[True, urls[1:] != urls[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    out = []
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
        group = np.sort(order[start:start + size])
        a, b = np.triu_indices(size, 1)
        pairs = np.stack([group[a], group[b]], axis=1)
        out.append(pairs[is_source[pairs[:, 0]] | is_source[pairs[:, 1]]])
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def _related_pairs(table: FeatureTable, needed: np.ndarray) -> np.ndarray:
    """Sorted pair keys (a·n + b, a < b) of needed rows where one lists the
    other's URL as related."""
    n = len(table)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(table.rptr))
    mine = needed[owner]
    owner, listed = owner[mine], table.related[mine]
    has_url = np.flatnonzero((table.url != 0) & needed)
    if len(listed) == 0 or len(has_url) == 0:
        return np.zeros(0, np.int64)
    by_url = has_url[np.argsort(table.url[has_url], kind="stable")]
    urls = table.url[by_url]
    lo = np.searchsorted(urls, listed, "left")
    hi = np.searchsorted(urls, listed, "right")
    counts = hi - lo
    src = np.repeat(owner, counts)
    dst = by_url[np.repeat(lo, counts) + _ranges(counts)]
    keep = src != dst
    a, b = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    return np.unique(a * n + b)


def _ranges(counts: np.ndarray) -> np.ndarray:
    """[0..c0-1, 0..c1-1, ...] for the given counts."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)


def _text_links(table: FeatureTable, vocab: Vocabulary, th: Thresholds, is_source: np.ndarray) -> np.ndarray:
    n = len(table)
    timed = table.ts != NO_TIME
    needed = _rows_near(table, is_source & timed, th.window)
    if not needed.any():
        return np.zeros((0, 2), np.int64)
    weights = _weights(table, vocab, th)
    row = table.row_of_posting()
    live = needed[row] & (weights.w > 0)
    dense_terms = _dense_terms(vocab)
    dense_col = np.searchsorted(dense_terms, table.terms)
    is_dense = (dense_col < len(dense_terms)) & (dense_terms[np.minimum(dense_col, len(dense_terms) - 1)]
                                                  == table.terms)
    dense = np.zeros((n, len(dense_terms)), np.int64)
    sel = live & is_dense
    dense[row[sel], dense_col[sel]] = weights.w[sel]
    related = _related_pairs(table, needed)

    sparse = np.flatnonzero(live & ~is_dense)
    cand = _sparse_candidates(table, weights, th, is_source, row, sparse)
    heavy = _dense_candidates(table, th, is_source, needed, dense)
    keys = np.concatenate([cand.keys, heavy])
    dots = np.concatenate([cand.dots, np.zeros(len(heavy), np.int64)])
    rare = np.concatenate([cand.rare, np.zeros(len(heavy), np.int64)])
    names_a = np.concatenate([cand.names_a, np.zeros(len(heavy), np.int64)])
    names_b = np.concatenate([cand.names_b, np.zeros(len(heavy), np.int64)])
    keys, first = np.unique(keys, return_index=True)
    dots, rare, names_a, names_b = dots[first], rare[first], names_a[first], names_b[first]
    a, b = keys // n, keys % n
    dots = dots + np.einsum("ij,ij->i", dense[a], dense[b])
    is_related = np.isin(keys, related, assume_unique=True)
    ok = (dots >= th.high) | ((dots >= th.low) & (rare >= th.rare_mass)) | (is_related & (dots >= th.related))
    if th.veto:
        ok &= ~((weights.n_names[a] > names_a) & (weights.n_names[b] > names_b))
    return np.stack([a[ok], b[ok]], axis=1)


def _rows_near(table: FeatureTable, seeds: np.ndarray, window: int) -> np.ndarray:
    """Rows with a time within `window` of some seed row's time (seeds included)."""
    timed = np.flatnonzero(table.ts != NO_TIME)
    order = timed[np.argsort(table.ts[timed], kind="stable")]
    times = table.ts[order]
    seed_times = np.sort(table.ts[seeds])
    out = np.zeros(len(table), bool)
    if len(seed_times) == 0:
        return out
    # a row is near when the nearest seed time on either side is within the window
    pos = np.searchsorted(seed_times, times)
    after = seed_times[np.minimum(pos, len(seed_times) - 1)] - times
    before = times - seed_times[np.maximum(pos - 1, 0)]
    near = ((pos < len(seed_times)) & (after <= window)) | ((pos > 0) & (before <= window))
    out[order[near]] = True
    return out


def _dense_terms(vocab: Vocabulary) -> np.ndarray:
    """The DENSE_TERMS most frequent terms (ties by hash), sorted."""
    if len(vocab.terms) <= DENSE_TERMS:
        return np.sort(vocab.terms)
    top = np.lexsort((vocab.terms, -vocab.df))[:DENSE_TERMS]
    return np.sort(vocab.terms[top])


@dataclass(frozen=True)
class _Candidates:
    keys: np.ndarray  # a·n + b
    dots: np.ndarray  # sparse part of the cosine
    rare: np.ndarray  # IDF units of shared rare terms
    names_a: np.ndarray  # rare title names of a found in b
    names_b: np.ndarray


def _sparse_candidates(table: FeatureTable, weights: _Weights, th: Thresholds, is_source: np.ndarray,
                       row: np.ndarray, postings: np.ndarray) -> _Candidates:
    """Pairs of rows in the window sharing a sparse term, with the sums over
    their shared sparse terms (a self-join of postings sorted by term, time)."""
    n = len(table)
    ts = table.ts[row[postings]]
    order = postings[np.lexsort((ts, table.terms[postings]))]
    terms, times = table.terms[order], table.ts[row[order]]
    tstart = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
    term_no = np.repeat(np.arange(len(tstart), dtype=np.int64), np.diff(np.r_[tstart, len(order)]))
    t0 = times.min() if len(times) else 0
    key = term_no * (1 << 40) + (times - t0)
    src_rows = row[order]
    sources = np.flatnonzero(is_source[src_rows])
    # each pair of postings once: from its earlier posting when both ends are
    # sources, from the source end otherwise
    lo = np.searchsorted(key, key[sources] - th.window, "left")
    hi = np.searchsorted(key, key[sources] + th.window, "right")
    parts: list[tuple[np.ndarray, ...]] = []
    start = 0
    sizes = hi - lo
    bounds = np.cumsum(sizes)
    while start < len(sources):
        stop = int(np.searchsorted(bounds, (bounds[start - 1] if start else 0) + _CHUNK, "right"))
        stop = max(stop, start + 1)
        p = np.repeat(sources[start:stop], sizes[start:stop])
        q = np.repeat(lo[start:stop], sizes[start:stop]) + _ranges(sizes[start:stop])
        pr, qr = src_rows[p], src_rows[q]
        keep = (pr != qr) & ((table.provider[pr] != table.provider[qr]) | (table.provider[pr] == 0))
        keep &= ~is_source[qr] | (q > p)
        p, q, pr, qr = p[keep], q[keep], pr[keep], qr[keep]
        a, b = np.minimum(pr, qr), np.maximum(pr, qr)
        pa = np.where(pr < qr, p, q)  # the posting on a's side
        pb = np.where(pr < qr, q, p)
        gp, gq = order[pa], order[pb]
        parts.append((a * n + b, weights.w[gp] * weights.w[gq],
                      np.where(weights.rare[gp], weights.units[gp], 0),
                      weights.name_rare[gp].astype(np.int64), weights.name_rare[gq].astype(np.int64)))
        start = stop
    if not parts:
        empty = np.zeros(0, np.int64)
        return _Candidates(empty, empty, empty, empty, empty)
    cols = [np.concatenate([part[i] for part in parts]) for i in range(5)]
    by_pair = np.argsort(cols[0], kind="stable")
    keys = cols[0][by_pair]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    # integer sums: exact whatever the order the contributions came in
    sums = [np.add.reduceat(col[by_pair], starts) for col in cols[1:]]
    return _Candidates(keys[starts], *sums)


def _dense_candidates(table: FeatureTable, th: Thresholds, is_source: np.ndarray, needed: np.ndarray,
                      dense: np.ndarray) -> np.ndarray:
    """Pair keys of rows in the window whose common-term parts alone could
    reach the lowest threshold (both rows' dense norms must reach it)."""
    n = len(table)
    norm2 = np.einsum("ij,ij->i", dense.astype(np.float64), dense.astype(np.float64))
    one = float(1 << _SCALE_BITS)
    # |a·b| ≤ |a||b| ≤ min(|a|,|b|)·1: a pair can only clear `lowest` with both norms ≥ it
    floor = th.lowest / (one * one)
    heavy = np.flatnonzero(needed & (np.sqrt(norm2) / one >= floor * (1 - 1e-9)) & (table.ts != NO_TIME))
    if len(heavy) < 2:
        return np.zeros(0, np.int64)
    heavy = heavy[np.argsort(table.ts[heavy], kind="stable")]
    times = table.ts[heavy]
    hi = np.searchsorted(times, times + th.window, "right")
    idx = np.arange(len(heavy))
    sizes = hi - idx - 1
    p = np.repeat(idx, sizes)
    q = p + 1 + _ranges(sizes)
    pr, qr = heavy[p], heavy[q]
    keep = (is_source[pr] | is_source[qr]) & ((table.provider[pr] != table.provider[qr])
                                              | (table.provider[pr] == 0))
    a, b = np.minimum(pr, qr)[keep], np.maximum(pr, qr)[keep]
    return a * n + b


# ------------------------------------------------------------------ stories


def components(n: int, links: np.ndarray) -> np.ndarray:
    """Connected components: for each row, the smallest row number of its component."""
    label = np.arange(n, dtype=np.int64)
    if len(links) == 0:
        return label
    a, b = links[:, 0], links[:, 1]
    while True:
        # hook the root of each edge's larger label onto the smaller label...
        la, lb = label[a], label[b]
        if np.array_equal(la, lb):
            return label
        low = np.minimum(la, lb)
        np.minimum.at(label, la, low)
        np.minimum.at(label, lb, low)
        # ...then flatten every tree to its root
        while True:
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up
