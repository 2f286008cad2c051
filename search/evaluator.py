"""Vectorised evaluation of the query model over one index generation.

Whoosh's own matchers score one posting at a time in Python and, for the OR
queries a pasted headline produces, score every matching document before
picking the top ten. Here a query tree (`search.query.model`) is evaluated
with numpy over whole posting lists: each node becomes a boolean match mask
and a float score array over all document numbers, and Bool nodes combine
them with array operations. Totals, facets and top-k all come from the same
arrays, so they agree by construction.

numpy is a dependency for this module alone: vectorised BM25F over posting
arrays is what makes a 20,000-article query take milliseconds in Python.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import re
from dataclasses import dataclass, field

import numpy as np

from .analysis import stem
from .errors import UsageError
from .index_arrays import IndexArrays
from .query.model import (
    TEXT_FIELDS,
    Bool,
    Compound,
    Exists,
    MatchAll,
    MatchNone,
    Node,
    Occur,
    Phrase,
    Prefix,
    Range,
    Value,
    Wildcard,
    Word,
)
from .schema import MISSING, MISSING32

#: a prefix or wildcard expanding to more words than this is refused
MAX_EXPANSION = 20_000
#: numeric fields answered from a column: (column, missing value)
RANGE_COLUMNS = {"published": ("ts", MISSING), "quality": ("quality_col", MISSING32),
                 "year": ("year_col", MISSING32)}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class Match:
    """A node's result: which live documents match, their scores (None when
    the node does not score: filters, ranges), and the node's idf mass (its
    weight when counting how much of a query a document matched)."""

    mask: np.ndarray
    score: np.ndarray | None = None
    weight: float = 0.0


@dataclass
class Evaluation:
    """What evaluating a tree learned besides the match: each node's match
    (by node identity) and the index terms each prefix or wildcard expanded
    to, for highlighting and the title prior."""

    matches: dict[int, Match] = field(default_factory=dict)
    expanded: dict[int, list[str]] = field(default_factory=dict)


class Evaluator:
    """Evaluates query trees over one `IndexArrays`."""

    def __init__(self, arrays: IndexArrays) -> None:
        self.a = arrays
        self.r = arrays.ranking
        self.info = Evaluation()

    # ------------------------------------------------------------- dispatch

    def evaluate(self, node: Node) -> Match:
        match = self._evaluate(node)
        self.info.matches[id(node)] = match
        return match

    def _evaluate(self, node: Node) -> Match:
        if isinstance(node, Bool):
            return self.bool(node)
        if isinstance(node, Word):
            if node.variants:
                return self.terms([t for t, _ in node.variants], node.fields, node.boost,
                                  [w for _, w in node.variants])
            return self.word(node.term, node.fields, node.boost)
        if isinstance(node, Phrase):
            return self.phrase(node.terms, node.fields, node.slop, node.boost)
        if isinstance(node, Compound):
            return self.compound(node)
        if isinstance(node, Prefix):
            if node.limit:
                from .vocabulary import Vocabulary

                words = Vocabulary(self.a).complete(node.text, node.limit)
            else:
                words = self.a.expand("words", node.text)
            return self.expansion(node, words, node.text + "*")
        if isinstance(node, Wildcard):
            return self.wildcard(node)
        if isinstance(node, Value):
            return self.value(node)
        if isinstance(node, Range):
            return self.range(node)
        if isinstance(node, Exists):
            return self.exists(node.field)
        if isinstance(node, MatchAll):
            return Match(self.a.live.copy())
        if isinstance(node, MatchNone):
            return Match(self.a.none())
        raise TypeError(f"cannot evaluate {node!r}")

    # ------------------------------------------------------------- text

    def _idf(self, df: int) -> float:
        n = self.a.live_count
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _saturate(self, acc: np.ndarray) -> np.ndarray:
        k1 = self.r.k1
        return acc * (k1 + 1.0) / (acc + k1)

    def _norm(self, f: str, ids: np.ndarray) -> np.ndarray:
        """BM25's length normalisation by the article's length (all text
        fields): measured better than per-field lengths (bench/relevance.py)."""
        return self._norms()[ids]

    def _norms(self) -> np.ndarray:
        def make() -> np.ndarray:
            b = self.r.b
            lengths, avg = self.a.article_lengths()
            return ((1.0 - b) + b * lengths / avg).astype(np.float32)

        return self.a.memo(f"norm:{self.r.b}", make)

    def word(self, term: str, fields: tuple[str, ...], boost: float = 1.0) -> Match:
        """BM25F of one index term: per-field frequencies weighted, added,
        normalised by the article's length, then saturated once."""
        n = self.a.n
        lists = [(self.r.weight(f), *self.a.postings(f, term)) for f in fields]
        lists = [(w, ids, tfs) for w, ids, tfs in lists if len(ids)]
        if not lists:
            return Match(self.a.none(), np.zeros(n, np.float32), 0.0)
        live = self.a.live
        if sum(len(ids) for _, ids, _ in lists) * 16 < n:
            # a rare word: work on its postings only, not on every document
            ids = np.concatenate([i for _, i, _ in lists])
            tfs = np.concatenate([(w * t).astype(np.float32) for w, _, t in lists])
            docs, inverse = np.unique(ids, return_inverse=True)
            raw = np.bincount(inverse, weights=tfs).astype(np.float32)
            keep = live[docs]
            docs, raw = docs[keep], raw[keep]
            mask = self.a.none()
            score = np.zeros(n, dtype=np.float32)
            if not len(docs):
                return Match(mask, score, 0.0)
            idf = self._idf(len(docs))
            mask[docs] = True
            score[docs] = (idf * boost) * self._saturate(raw / self._norms()[docs])
            return Match(mask, score, idf)
        acc = np.zeros(n, dtype=np.float32)
        for w, ids, tfs in lists:
            acc[ids] += (w * tfs).astype(np.float32)
        mask = acc > 0
        mask &= live
        df = int(np.count_nonzero(mask))
        if not df:
            return Match(mask, np.zeros(n, np.float32), 0.0)
        idf = self._idf(df)
        acc /= self._norms()
        score = self._saturate(acc)
        score *= np.float32(idf * boost)
        score[~mask] = 0.0
        return Match(mask, score.astype(np.float32, copy=False), idf)

    def terms(self, terms: list[str], fields: tuple[str, ...], boost: float = 1.0,
              weights: list[float] | None = None) -> Match:
        """Documents with any of several index terms, each scoring as its best
        term (BM25F per term, times the term's weight): variants of one word
        are not rewarded for being several."""
        n = self.a.n
        terms = list(dict.fromkeys(terms))
        w = np.asarray(weights if weights is not None else [1.0] * len(terms), dtype=np.float64)
        keys: list[np.ndarray] = []
        contrib: list[np.ndarray] = []
        live = self.a.live
        for ti, term in enumerate(terms):
            for f in fields:
                ids, tfs = self.a.postings(f, term)
                if not len(ids):
                    continue
                keep = live[ids]
                ids, tfs = ids[keep], tfs[keep]
                keys.append(ti * n + ids)
                contrib.append(self.r.weight(f) * tfs / self._norm(f, ids))
        mask = self.a.none()
        score = np.zeros(n, dtype=np.float32)
        if not keys:
            return Match(mask, score, 0.0)
        uk, inv = np.unique(np.concatenate(keys), return_inverse=True)
        acc = np.bincount(inv, weights=np.concatenate(contrib))
        term_idx, docs = uk // n, uk % n
        df = np.bincount(term_idx, minlength=len(terms))
        total = self.a.live_count
        idf = np.log(1.0 + (total - df + 0.5) / (df + 0.5))
        values = (idf[term_idx] * w[term_idx] * boost * self._saturate(acc)).astype(np.float32)
        np.maximum.at(score, docs, values)
        mask[docs] = True
        return Match(mask, score, float((idf * w)[df > 0].max()) if (df > 0).any() else 0.0)

    def phrase(self, terms: tuple[str, ...], fields: tuple[str, ...], slop: int = 0,
               boost: float = 1.0) -> Match:
        """Documents with the terms at consecutive positions (`slop` more
        allowed), scored by BM25F of the phrase's frequency with the summed
        idf of its terms."""
        acc = np.zeros(self.a.n, dtype=np.float32)
        for f in fields:
            docs, freq = self._phrase_in(f, terms, slop)
            if len(docs):
                acc[docs] += (self.r.weight(f) * freq / self._norm(f, docs)).astype(np.float32)
        mask = (acc > 0) & self.a.live
        if not mask.any():
            return Match(mask, np.zeros(self.a.n, np.float32), 0.0)
        idf = sum(self._idf(int(self._any_field_mask(t, fields).sum())) for t in dict.fromkeys(terms))
        score = np.where(mask, (idf * boost) * self._saturate(acc), 0.0).astype(np.float32)
        return Match(mask, score, idf)

    def _any_field_mask(self, term: str, fields: tuple[str, ...]) -> np.ndarray:
        mask = self.a.none()
        for f in fields:
            ids, _ = self.a.postings(f, term)
            mask[ids] = True
        return mask & self.a.live

    def _phrase_in(self, f: str, terms: tuple[str, ...], slop: int) -> tuple[np.ndarray, np.ndarray]:
        """(documents, phrase frequency) of a phrase in one field.

        Exact phrases intersect (document, position - offset) keys with
        numpy; sloppy ones check candidate documents one by one."""
        # only documents with every term can hold the phrase: positions are
        # decoded for those alone (cheap postings first)
        common: np.ndarray | None = None
        for t in dict.fromkeys(terms):
            ids, _ = self.a.postings(f, t)
            common = np.unique(ids) if common is None else np.intersect1d(common, ids)
            if not len(common):
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
        lists = [self.a.positions(f, t, within=common) for t in terms]
        if any(not len(d) for d, _ in lists):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if slop == 0:
            keys: np.ndarray | None = None
            for i, (docs, poss) in enumerate(lists):
                k = (docs << 24) + (poss - i + (1 << 20))
                keys = np.unique(k) if keys is None else np.intersect1d(keys, k)
                if not len(keys):
                    return np.zeros(0, np.int64), np.zeros(0, np.float32)
            assert keys is not None
            found, freq = np.unique(keys >> 24, return_counts=True)
            return found, freq.astype(np.float32)
        common = lists[0][0]
        for docs, _ in lists[1:]:
            common = np.intersect1d(common, docs)
        out_docs: list[int] = []
        out_freq: list[float] = []
        per_term = [_positions_by_doc(d, p, common) for d, p in lists]
        for doc in common.tolist():
            count = _sloppy_count([pt[doc] for pt in per_term], slop)
            if count:
                out_docs.append(doc)
                out_freq.append(float(count))
        return np.array(out_docs, dtype=np.int64), np.array(out_freq, dtype=np.float32)

    def compound(self, node: Compound) -> Match:
        """`gpt-3`: the parts side by side, or a single-term form; scores as
        its best alternative."""
        parts = [self.phrase(node.parts, node.fields, 0, node.boost)] if len(node.parts) > 1 else []
        forms = [self.word(t, node.fields, node.boost) for t in node.forms]
        alternatives = [m for m in parts + forms if m.mask.any()]
        if not alternatives:
            return Match(self.a.none(), np.zeros(self.a.n, np.float32), 0.0)
        mask = alternatives[0].mask.copy()
        score = alternatives[0].score.copy() if alternatives[0].score is not None else None
        for m in alternatives[1:]:
            mask |= m.mask
            if m.score is not None and score is not None:
                np.maximum(score, m.score, out=score)
        return Match(mask, score, max(m.weight for m in alternatives))

    def expansion(self, node: Prefix | Wildcard, words: list[str], shown: str) -> Match:
        """A prefix or wildcard: every matching word as written, searched by
        its index form."""
        if len(words) > MAX_EXPANSION:
            raise UsageError(f"{shown!r} matches {len(words):,} different words; "
                             "type more letters before the *")
        stems = list(dict.fromkeys(stem(w) for w in words))
        self.info.expanded[id(node)] = stems
        if not stems:
            return Match(self.a.none(), np.zeros(self.a.n, np.float32), 0.0)
        return self.terms(stems, node.fields, node.boost)

    def wildcard(self, node: Wildcard) -> Match:
        literal = re.split(r"[*?]", node.text, maxsplit=1)[0]
        candidates = self.a.expand("words", literal) if literal else self.a.lexicon("words")
        pattern = re.compile(fnmatch.translate(node.text))
        return self.expansion(node, [w for w in candidates if pattern.match(w)], node.text)

    # ------------------------------------------------------------- filters

    def value(self, node: Value) -> Match:
        if not self.a.has_field(node.field):
            return Match(self.a.none())
        if not node.prefix:
            return Match(self.a.doc_mask(node.field, node.value))
        mask = self.a.none()
        for term in self.a.expand(node.field, node.value):
            mask |= self.a.doc_mask(node.field, term)
        return Match(mask)

    def range(self, node: Range) -> Match:
        """A numeric or date range against its column, in one pass."""
        column, missing = RANGE_COLUMNS[node.field]
        values = self.a.numeric_column(column, missing)
        mask = self.a.live & (values != missing)
        low, high = _column_units(node.low), _column_units(node.high)
        if low is not None:
            mask &= values >= low
        if high is not None:
            mask &= values <= high
        return Match(mask)

    def exists(self, name: str) -> Match:
        """Documents with a value in a field."""
        live = self.a.live
        if name in TEXT_FIELDS:
            return Match(live & (self.a.field_lengths(name) > 0))
        if name in RANGE_COLUMNS:
            column, missing = RANGE_COLUMNS[name]
            return Match(live & (self.a.numeric_column(column, missing) != missing))
        if name == "provider":
            ids, _ = self.a.ref_column("provider_name")
            return Match(live & (ids >= 0))
        mask = self.a.none()
        for term in self.a.lexicon(name):
            ids, _ = self.a.postings(name, term)
            mask[ids] = True
        return Match(mask & live)

    # ------------------------------------------------------------- Bool

    def bool(self, node: Bool) -> Match:
        parts = [(c.occur, self.evaluate(c.node)) for c in node.clauses]
        return combine(self.a, parts, node.min_should, node.boost,
                       self.r.coordination if node.words else 0.0)


def combine(arrays: IndexArrays, parts: list[tuple[Occur, Match]], min_should: int, boost: float,
            coordination: float) -> Match:
    """Combine clause matches as a Bool does (see `search.query.model.Bool`).

    A clause adds its score only where it matches, so a failed clause never
    adds anything; when some scoring clauses are optional, each document's
    score is scaled by the idf-weighted share of them it matched."""
    mask = arrays.live.copy()
    should = [m for o, m in parts if o is Occur.SHOULD]
    for occur, m in parts:
        if occur in (Occur.MUST, Occur.FILTER):
            mask &= m.mask
    if should and min_should > 0:
        count = np.zeros(arrays.n, dtype=np.int32)
        for m in should:
            count += m.mask
        mask &= count >= min_should
    for occur, m in parts:
        if occur is Occur.MUST_NOT:
            mask &= ~m.mask
    scoring = [m for o, m in parts if o in (Occur.MUST, Occur.SHOULD) and m.score is not None]
    if not scoring:
        return Match(mask, None, 0.0)
    score = np.zeros(arrays.n, dtype=np.float32)
    for m in scoring:
        score += np.where(m.mask, m.score, 0.0).astype(np.float32)
    total_weight = sum(m.weight for m in scoring)
    if should and coordination > 0 and len(scoring) > 1 and total_weight > 0:
        matched = np.zeros(arrays.n, dtype=np.float32)
        for m in scoring:
            matched += np.float32(m.weight) * m.mask
        score *= ((1.0 - coordination) + coordination * matched / total_weight).astype(np.float32)
    score[~mask] = 0.0
    if boost != 1.0:
        score *= np.float32(boost)
    return Match(mask, score, total_weight)


def _column_units(value: int | dt.datetime | None) -> int | None:
    """A range bound in column units (microseconds since 1970 for dates)."""
    if value is None or isinstance(value, int):
        return value
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def _positions_by_doc(docs: np.ndarray, poss: np.ndarray, wanted: np.ndarray) -> dict[int, list[int]]:
    keep = np.isin(docs, wanted)
    out: dict[int, list[int]] = {}
    for d, p in zip(docs[keep].tolist(), poss[keep].tolist(), strict=True):
        out.setdefault(d, []).append(p)
    return out


def _sloppy_count(positions: list[list[int]], slop: int) -> int:
    """How many times the terms occur in order with at most `slop` extra
    positions between consecutive terms in total."""
    count = 0
    for start in positions[0]:
        prev, used, ok = start, 0, True
        for later in positions[1:]:
            nxt = [p for p in later if p > prev and (p - prev - 1) + used <= slop]
            if not nxt:
                ok = False
                break
            used += nxt[0] - prev - 1
            prev = nxt[0]
        count += ok
    return count
