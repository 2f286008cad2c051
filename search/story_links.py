"""The numeric core of story grouping: which pairs of articles are linked.

Articles live in a columnar `FeatureTable` (one row per article, terms as
64-bit hashes). Two articles are linked when

* their normalised URLs are equal and they were published within the window
  of each other (the same article stored twice), or
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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .story_table import (
    CLASSES_PER_DOUBLING,
    IDF_UNIT,
    NO_TIME,
    FeatureTable,
    Vocabulary,
    corpus_class,
    df_class,
)

if TYPE_CHECKING:
    from .stories import StoryParams

_UNIT = IDF_UNIT
#: fixed-point scale of normalised term weights; products are compared as int64
_SCALE_BITS = 24
#: the most common terms are scored through small dense rows instead of the
#: pairwise join, where they would make up most of the volume
DENSE_TERMS = 64
#: upper bound on pair contributions expanded at once (memory ~ 60 bytes each)
_CHUNK = 500_000


@dataclass(frozen=True)
class Thresholds:
    """StoryParams turned into the integers the link rule compares."""

    window: int  # seconds
    high: int  # cosine thresholds in weight-product units
    low: int
    related: int
    rare_units: int  # a term is rare when its IDF is at least this many units...
    rare_class: int  # ...or its df class is at most this (a floor for small corpora)
    rare_mass: int  # shared rare terms must sum to this many IDF units
    name_units: int  # a title name is rare when its IDF units reach this...
    name_class: int  # ...or its df class is at most this (df ≤ 3)
    power: float
    veto: bool
    background: int  # articles added to the corpus size for IDF

    @classmethod
    def of(cls, p: StoryParams) -> Thresholds:
        one = 1 << (2 * _SCALE_BITS)
        return cls(
            window=round(p.window_days * 86400),
            high=math.ceil(p.high * one), low=math.ceil(p.low * one),
            related=math.ceil(p.related_low * one),
            rare_units=round(math.log2(p.rare_ratio) * CLASSES_PER_DOUBLING),
            rare_class=int(df_class(p.rare_min_df)),
            rare_mass=math.ceil(p.rare_mass / _UNIT),
            name_units=round(math.log2(p.name_ratio) * CLASSES_PER_DOUBLING),
            name_class=int(df_class(p.name_max_df)),
            power=p.idf_power, veto=p.name_veto, background=p.background,
        )

    @property
    def lowest(self) -> int:
        return min(self.high, self.low, self.related)


# ------------------------------------------------------------------ weights


@dataclass(frozen=True)
class _Weights:
    """Per-posting integers for the rows a link computation needs."""

    w: np.ndarray  # int64 normalised weight × 2^24
    units: np.ndarray  # int64 IDF units
    rare: np.ndarray  # bool
    name_rare: np.ndarray  # bool: a rare name of the title
    n_names: np.ndarray  # int64 per row: how many rare names its title has


def _weights(table: FeatureTable, vocab: Vocabulary, th: Thresholds, n_total: int) -> _Weights:
    """Weights of the table's postings in a corpus of `n_total` articles."""
    n_class = corpus_class(n_total + th.background)
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
    rare = (units >= th.rare_units) | (cls <= th.rare_class)
    return _Weights(w=w, units=units, rare=rare, name_rare=name_rare, n_names=n_names)


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
    parts = [_url_links(table, is_source, th.window), _text_links(table, vocab, th, is_source)]
    links = np.concatenate(parts)
    if len(links) == 0:
        return links
    keys = np.unique(links[:, 0] * n + links[:, 1])
    return np.stack([keys // n, keys % n], axis=1)


def _url_links(table: FeatureTable, is_source: np.ndarray, window: int) -> np.ndarray:
    """Pairs of rows with the same normalised URL published within the window
    (or undated): one article stored twice. The same URL weeks apart is a
    page that was rewritten (a monthly deals page), not a copy."""
    wanted = table.url[is_source]
    rows = np.flatnonzero((table.url != 0) & np.isin(table.url, wanted[wanted != 0]))
    if len(rows) < 2:
        return np.zeros((0, 2), np.int64)
    order = rows[np.argsort(table.url[rows], kind="stable")]
    urls = table.url[order]
    starts = np.flatnonzero(np.r_[True, urls[1:] != urls[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    out = []
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        group = np.sort(order[start:start + size])
        a, b = np.triu_indices(size, 1)
        pairs = np.stack([group[a], group[b]], axis=1)
        ta, tb = table.ts[pairs[:, 0]], table.ts[pairs[:, 1]]
        close = (ta == NO_TIME) | (tb == NO_TIME)
        dated = ~close
        close[dated] = np.abs(ta[dated] - tb[dated]) <= window
        out.append(pairs[close & (is_source[pairs[:, 0]] | is_source[pairs[:, 1]])])
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def _related_pairs(table: FeatureTable) -> np.ndarray:
    """Sorted pair keys (a·n + b, a < b) of rows where one lists the other's URL as related."""
    n = len(table)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(table.rptr))
    listed = table.related
    has_url = np.flatnonzero(table.url != 0)
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
    """Links by text between a source row and a row in its window."""
    needed = _rows_near(table, is_source & (table.ts != NO_TIME), th.window)
    rows = np.flatnonzero(needed)
    if len(rows) < 2:
        return np.zeros((0, 2), np.int64)
    # work on the rows near a source only: an incremental run touches a few days
    sub = table if len(rows) == len(table) else table.take(rows)
    local = _text_links_local(sub, vocab, th, is_source[rows], len(table))
    return rows[local]  # rows is sorted, so a < b still holds


def _text_links_local(table: FeatureTable, vocab: Vocabulary, th: Thresholds, is_source: np.ndarray,
                      n_total: int) -> np.ndarray:
    n = len(table)
    weights = _weights(table, vocab, th, n_total)
    row = table.row_of_posting()
    dense_terms = _dense_terms(vocab)
    k = len(dense_terms)
    col = np.minimum(np.searchsorted(dense_terms, table.terms), max(k - 1, 0))
    is_dense = dense_terms[col] == table.terms if k else np.zeros(len(table.terms), bool)
    # the common terms as small dense rows: weight, presence, rare title names
    dense = np.zeros((n, k), np.int64)
    dense[row[is_dense], col[is_dense]] = weights.w[is_dense]
    present = np.zeros((n, k), bool)
    present[row[is_dense], col[is_dense]] = True
    named = np.zeros((n, k), bool)
    named[row[is_dense], col[is_dense]] = weights.name_rare[is_dense]
    dense_rare = np.zeros(k, np.int64)  # a term's rarity and units are the same in every row
    dense_rare[col[is_dense]] = np.where(weights.rare[is_dense], weights.units[is_dense], 0)
    dense_norm = np.sqrt(np.einsum("ij,ij->i", dense.astype(np.float64), dense.astype(np.float64)))

    cand = _sparse_candidates(table, weights, th, is_source, row, np.flatnonzero(~is_dense))
    heavy = _dense_candidates(table, th, is_source, dense_norm)
    keys, first = np.unique(np.concatenate([cand.keys, heavy]), return_index=True)
    from_sparse = first < len(cand.keys)
    at = np.where(from_sparse, first, 0)

    def pick(values: np.ndarray) -> np.ndarray:
        return np.where(from_sparse, values[at], 0) if len(values) else np.zeros(len(keys), np.int64)

    dots, rare, names_a, names_b = pick(cand.dots), pick(cand.rare), pick(cand.names_a), pick(cand.names_b)
    a, b = keys // n, keys % n
    # the common terms can add at most |a_dense|·|b_dense| (Cauchy-Schwarz):
    # skip the pairs that cannot reach the lowest threshold even so
    bound = dots + dense_norm[a] * dense_norm[b] * (1 + 1e-9) + 2.0 * k
    hopeful = np.flatnonzero(bound >= th.lowest)
    a, b, keys = a[hopeful], b[hopeful], keys[hopeful]
    dots, rare, names_a, names_b = dots[hopeful], rare[hopeful], names_a[hopeful], names_b[hopeful]
    step = 1 << 16
    for i in range(0, len(a), step):
        pa, pb = a[i:i + step], b[i:i + step]
        dots[i:i + step] += np.einsum("ij,ij->i", dense[pa], dense[pb])
        both = present[pa] & present[pb]
        rare[i:i + step] += both.astype(np.int64) @ dense_rare
        names_a[i:i + step] += (named[pa] & present[pb]).sum(axis=1)
        names_b[i:i + step] += (named[pb] & present[pa]).sum(axis=1)
    is_related = np.isin(keys, _related_pairs(table))
    ok = (dots >= th.high) | ((dots >= th.low) & (rare >= th.rare_mass)) | (is_related & (dots >= th.related))
    if th.veto:
        ok &= ~((weights.n_names[a] > names_a) & (weights.n_names[b] > names_b))
    return np.stack([a[ok], b[ok]], axis=1)


def _rows_near(table: FeatureTable, seeds: np.ndarray, window: int) -> np.ndarray:
    """Dated rows within `window` of some seed row's time (seeds included)."""
    out = np.zeros(len(table), bool)
    seed_times = np.sort(table.ts[seeds])
    if len(seed_times) == 0:
        return out
    timed = np.flatnonzero(table.ts != NO_TIME)
    times = table.ts[timed]
    pos = np.searchsorted(seed_times, times)
    after = seed_times[np.minimum(pos, len(seed_times) - 1)] - times
    before = times - seed_times[np.maximum(pos - 1, 0)]
    out[timed[((pos < len(seed_times)) & (after <= window)) | ((pos > 0) & (before <= window))]] = True
    return out


def _dense_terms(vocab: Vocabulary) -> np.ndarray:
    """The DENSE_TERMS most frequent terms (ties by hash), sorted."""
    if len(vocab.terms) <= DENSE_TERMS:
        return np.sort(vocab.terms)
    top = np.lexsort((vocab.terms, -vocab.df))[:DENSE_TERMS]
    return np.sort(vocab.terms[top])


@dataclass(frozen=True)
class _Candidates:
    keys: np.ndarray  # a·n + b, sorted
    dots: np.ndarray  # sparse part of the cosine
    rare: np.ndarray  # IDF units of shared rare terms
    names_a: np.ndarray  # rare title names of a found in b
    names_b: np.ndarray


def _sparse_candidates(table: FeatureTable, weights: _Weights, th: Thresholds, is_source: np.ndarray,
                       row: np.ndarray, postings: np.ndarray) -> _Candidates:
    """Pairs of rows in the window sharing a sparse term, with the sums over
    their shared sparse terms (a self-join of postings sorted by term, time)."""
    n = len(table)
    order = postings[np.lexsort((table.ts[row[postings]], table.terms[postings]))]
    terms, times = table.terms[order], table.ts[row[order]]
    new_term = np.r_[True, terms[1:] != terms[:-1]]
    t0 = times.min() if len(times) else 0
    key = np.cumsum(new_term, dtype=np.int64) * (1 << 40) + (times - t0)
    del terms, times, new_term  # one array per posting each: free them before the join
    rows = row[order]
    src = np.flatnonzero(is_source[rows])
    # each pair of postings once: from its earlier posting when both rows are
    # sources (then the later one is in range), from the source end otherwise
    hi = np.searchsorted(key, key[src] + th.window, "right")
    lo = np.searchsorted(key, key[src] - th.window, "left")
    all_sources = bool(is_source.all())
    if all_sources:
        lo = src + 1
    sizes = np.maximum(hi - lo, 0)
    del key, hi
    bounds = np.cumsum(sizes)
    # each chunk's pairs are summed by pair before the next chunk, so memory
    # holds distinct pairs, not every shared posting (474 -> see bench)
    key_parts: list[np.ndarray] = []
    col_parts: list[list[np.ndarray]] = [[], [], [], []]
    start = 0
    while start < len(src):
        done = int(bounds[start - 1]) if start else 0
        stop = max(int(np.searchsorted(bounds, done + _CHUNK, "right")), start + 1)
        p = np.repeat(src[start:stop], sizes[start:stop])
        q = np.repeat(lo[start:stop], sizes[start:stop]) + _ranges(sizes[start:stop])
        pr, qr = rows[p], rows[q]
        keep = (pr != qr) & ((table.provider[pr] != table.provider[qr]) | (table.provider[pr] == 0))
        if not all_sources:
            keep &= ~is_source[qr] | (q > p)
        p, q, pr, qr = p[keep], q[keep], pr[keep], qr[keep]
        swap = pr > qr  # orient every pair as (a, b) with a < b
        gp, gq = order[np.where(swap, q, p)], order[np.where(swap, p, q)]
        keys, sums = _sum_by_pair(
            np.minimum(pr, qr) * n + np.maximum(pr, qr),
            [weights.w[gp] * weights.w[gq], np.where(weights.rare[gp], weights.units[gp], 0),
             weights.name_rare[gp].astype(np.int64), weights.name_rare[gq].astype(np.int64)])
        del p, q, pr, qr, keep, swap, gp, gq
        key_parts.append(keys)
        for part, col in zip(col_parts, sums, strict=True):
            part.append(col)
        start = stop
    if not key_parts:
        return _Candidates(*(np.zeros(0, np.int64) for _ in range(5)))
    keys = np.concatenate(key_parts)
    del key_parts[:]
    cols = []
    for part in col_parts:
        cols.append(np.concatenate(part))
        del part[:]
    keys, cols = _sum_by_pair(keys, cols)  # a pair can have postings in several chunks
    return _Candidates(keys, *cols)


def _sum_by_pair(keys: np.ndarray, cols: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct keys, sorted, with each column summed over its key's rows
    (integer sums: exact whatever the order the rows came in)."""
    if len(keys) == 0:
        return keys, cols
    by_pair = np.argsort(keys, kind="stable")
    keys = keys[by_pair]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], [np.add.reduceat(col[by_pair], starts) for col in cols]


def _dense_candidates(table: FeatureTable, th: Thresholds, is_source: np.ndarray,
                      dense_norm: np.ndarray) -> np.ndarray:
    """Pair keys of dated rows in the window whose common-term parts alone
    could reach the lowest threshold: both rows' dense norms must reach it,
    since |a·b| ≤ |a||b| and every norm is at most 1."""
    n = len(table)
    one = float(1 << _SCALE_BITS)
    floor = th.lowest / (one * one) * one * (1 - 1e-9)
    heavy = np.flatnonzero((dense_norm >= floor) & (table.ts != NO_TIME))
    if len(heavy) < 2:
        return np.zeros(0, np.int64)
    heavy = heavy[np.argsort(table.ts[heavy], kind="stable")]
    times = table.ts[heavy]
    hi = np.searchsorted(times, times + th.window, "right")
    sizes = hi - np.arange(len(heavy)) - 1
    p = np.repeat(np.arange(len(heavy)), sizes)
    q = p + 1 + _ranges(sizes)
    pr, qr = heavy[p], heavy[q]
    keep = (is_source[pr] | is_source[qr]) & ((table.provider[pr] != table.provider[qr])
                                              | (table.provider[pr] == 0))
    return np.minimum(pr, qr)[keep] * n + np.maximum(pr, qr)[keep]


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


@dataclass(frozen=True)
class PairExplanation:
    """Why two rows are or are not linked (for benchmarks and debugging)."""

    cosine: float
    rare_idf: float  # nats of IDF over shared rare terms
    related: bool
    same_url: bool
    within_window: bool
    same_provider: bool
    unshared_names: tuple[int, int]  # rare title names of each side missing from the other
    linked: bool


def explain_pair(table: FeatureTable, vocab: Vocabulary, params: StoryParams, a: int,
                 b: int) -> PairExplanation:
    """The quantities the link rule looks at for rows a and b."""
    th = Thresholds.of(params)
    weights = _weights(table, vocab, th, len(table))
    ra = np.arange(table.tptr[a], table.tptr[a + 1])
    rb = np.arange(table.tptr[b], table.tptr[b + 1])
    shared_a = np.isin(table.terms[ra], table.terms[rb])
    shared_b = np.isin(table.terms[rb], table.terms[ra])
    pa, pb = ra[shared_a], rb[shared_b]  # both sorted by term: aligned
    dot = int((weights.w[pa] * weights.w[pb]).sum())
    rare = int(np.where(weights.rare[pa], weights.units[pa], 0).sum())
    listed_a = table.related[table.rptr[a]:table.rptr[a + 1]]
    listed_b = table.related[table.rptr[b]:table.rptr[b + 1]]
    related = bool((table.url[b] != 0 and table.url[b] in listed_a)
                   or (table.url[a] != 0 and table.url[a] in listed_b))
    dated = table.ts[a] != NO_TIME and table.ts[b] != NO_TIME
    window = bool(dated and abs(int(table.ts[a]) - int(table.ts[b])) <= th.window)
    same_provider = bool(table.provider[a] == table.provider[b] and table.provider[a] != 0)
    unshared = (int(weights.n_names[a] - weights.name_rare[pa].sum()),
                int(weights.n_names[b] - weights.name_rare[pb].sum()))
    pair = compute_links(table, vocab, params, sources=np.array([a]))
    linked = bool(((pair[:, 0] == min(a, b)) & (pair[:, 1] == max(a, b))).any())
    one = float(1 << (2 * _SCALE_BITS))
    return PairExplanation(dot / one, rare * _UNIT, related, bool(table.url[a] == table.url[b] != 0), window,
                           same_provider, unshared, linked)
