"""Vectorised query evaluation over one Whoosh index generation.

Whoosh's own matchers score one posting at a time in Python and, for the OR
queries a pasted headline produces, score every matching document before
picking the top ten (about 50 ms for three words on 800 articles). Here a
query tree is evaluated with numpy over whole posting lists instead: each
leaf becomes a boolean match mask and a float score array over all document
numbers, and the tree combines them with array operations. Totals, facets and
top-k all come from the same arrays, so they agree by construction.

Posting lists and columns are read in bulk from Whoosh's on-disk structures
(`whoosh3` is pinned exactly because of that); anything this module does not
know how to evaluate falls back to Whoosh's own `docs_for_query`.

numpy is a dependency for this module alone: vectorised BM25 over posting
arrays is what makes a 20,000-article query take milliseconds in Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from .schema import MISSING, MISSING32
from .snapshot import Match, Ranking, Snapshot

__all__ = ["Match", "Ranking", "Snapshot", "evaluate", "sort_key", "top_documents"]

#: a wildcard expanding to more terms than this is matched without scoring
MAX_EXPANSION = 2_000


# ----------------------------------------------------------------- evaluation


def evaluate(snap: Snapshot, q: Any) -> Match:
    """Evaluate a Whoosh query tree to a Match."""
    from whoosh import query as wq

    if isinstance(q, wq.Every):
        if not q.fieldname:
            return Match(snap.live.copy(), None)
        if q.fieldname in snap.reader.schema.names() and snap.reader.schema[q.fieldname].scorable:
            return Match(snap.live & (snap.field_lengths(q.fieldname) > 0), None)
        return _fallback(snap, q)  # `field:*` on a filter field: documents that have it
    if isinstance(q, wq.NumericRange) and q.fieldname in _RANGE_COLUMNS:
        return _evaluate_range(snap, q)
    if q is wq.NullQuery or isinstance(q, wq.qcore._NullQuery):
        return Match(snap.none(), None)
    if isinstance(q, wq.Term) and isinstance(q.text, str):
        schema = snap.reader.schema
        field = schema[q.fieldname] if q.fieldname in schema.names() else None
        if field is not None and field.scorable:
            return snap.term_scores(q.fieldname, q.text, float(q.boost))
        if field is not None:
            ids, _ = snap.postings(q.fieldname, q.text)
            mask = snap.none()
            mask[ids] = True
            return Match(mask, None)
    if isinstance(q, wq.AndNot):
        a, b = evaluate(snap, q.a), evaluate(snap, q.b)
        a.mask &= ~b.mask
        return a
    if isinstance(q, wq.AndMaybe):
        a, b = evaluate(snap, q.a), evaluate(snap, q.b)
        a.score = _add(a.score, b.score)
        return a
    if isinstance(q, wq.Not):
        inner = evaluate(snap, q.query)
        return Match(snap.live & ~inner.mask, None)
    if isinstance(q, wq.And):
        parts = [evaluate(snap, sub) for sub in q.subqueries]
        if not parts:
            return Match(snap.none(), None)
        mask = parts[0].mask
        score: np.ndarray | None = None
        for part in parts:
            mask &= part.mask
            score = _add(score, part.score)
        return Match(mask, _boosted(score, q.boost))
    if isinstance(q, wq.DisjunctionMax):
        parts = [evaluate(snap, sub) for sub in q.subqueries]
        mask = snap.none()
        best = np.zeros(snap.n, dtype=np.float32)
        for part in parts:
            mask |= part.mask
            if part.score is not None:
                np.maximum(best, part.score, out=best)
        return Match(mask, _boosted(best, q.boost))
    if isinstance(q, wq.Or):
        return _evaluate_or(snap, q)
    if isinstance(q, wq.Phrase):
        return _evaluate_phrase(snap, q)
    if isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm, wq.Variations)):
        return _evaluate_expansion(snap, q)
    return _fallback(snap, q)


#: range fields answered from a numeric column: (column, missing value, scale)
_RANGE_COLUMNS = {"published": ("ts", MISSING), "quality": ("quality_col", MISSING32),
                  "year": ("year_col", MISSING32)}


def _evaluate_range(snap: Snapshot, q: Any) -> Match:
    """A numeric or date range compared against its column in one pass
    (Whoosh expands a range into many terms and walks them in Python:
    ~40 ms per query on 20,000 articles)."""
    column, missing = _RANGE_COLUMNS[q.fieldname]
    values = snap.numeric_column(column, missing)
    start, end = q.start, q.end
    if q.fieldname == "published":
        # Whoosh's date longs count microseconds from year 1; the column from 1970
        from whoosh.util.times import datetime_to_long

        epoch = datetime_to_long(dt.datetime(1970, 1, 1))
        start = None if start is None else start - epoch
        end = None if end is None else end - epoch
    mask = snap.live & (values != missing)
    if start is not None:
        mask &= (values > start) if q.startexcl else (values >= start)
    if end is not None:
        mask &= (values < end) if q.endexcl else (values <= end)
    return Match(mask, None)


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b.copy() if b is not None else None
    if b is not None:
        a += b
    return a


def _boosted(score: np.ndarray | None, boost: float) -> np.ndarray | None:
    if score is not None and boost != 1.0:
        score *= boost
    return score


def _unit_key(q: Any) -> Any:
    """Clauses on the same word in different fields are one 'word' for
    coordination (MultifieldParser expands each word into one per field)."""
    from whoosh import query as wq

    if isinstance(q, wq.Term):
        return ("term", q.text)
    if isinstance(q, wq.Or) and q.subqueries and all(isinstance(s, wq.Term) for s in q.subqueries):
        texts = {s.text for s in q.subqueries}
        if len(texts) == 1:
            return ("term", texts.pop())
    if isinstance(q, wq.Phrase):
        return ("phrase", tuple(q.words))
    return ("node", id(q))


def _evaluate_or(snap: Snapshot, q: Any) -> Match:
    mask = snap.none()
    score: np.ndarray | None = None
    units: dict[Any, np.ndarray] = {}
    for sub in q.subqueries:
        part = evaluate(snap, sub)
        mask |= part.mask
        score = _add(score, part.score)
        key = _unit_key(sub)
        if key in units:
            units[key] = units[key] | part.mask
        else:
            units[key] = part.mask.copy()
    c = snap.ranking.coordination
    if score is not None and len(units) > 1 and c > 0:
        matched = np.zeros(snap.n, dtype=np.float32)
        for unit_mask in units.values():
            matched += unit_mask
        score *= (1.0 - c) + c * (matched / len(units))
    return Match(mask, _boosted(score, q.boost))


def _evaluate_phrase(snap: Snapshot, q: Any) -> Match:
    """Documents containing the words at consecutive positions, scored as the
    sum of the words' BM25 in that field.

    Positions are intersected as (document, position - offset) keys with
    numpy: Whoosh's own phrase matcher took over a second for a common
    two-word phrase on 20,000 articles.
    """
    words = [w for w in q.words if isinstance(w, str)]
    if getattr(q, "slop", 1) != 1 or len(words) != len(q.words) or not words:
        match = _fallback(snap, q)
    else:
        keys: np.ndarray | None = None
        for i, word in enumerate(words):
            docs, poss = snap.positions(q.fieldname, word)
            if docs is None:
                keys = None
                break
            k = (docs << 24) + (poss - i + (1 << 20))
            keys = k if keys is None else np.intersect1d(keys, k, assume_unique=False)
            if not len(keys):
                break
        if keys is None:
            match = _fallback(snap, q)
        else:
            mask = snap.none()
            mask[np.unique(keys >> 24)] = True
            match = Match(mask, None)
    score = np.zeros(snap.n, dtype=np.float32)
    for word in q.words:
        if isinstance(word, str):
            score += snap.term_scores(q.fieldname, word, float(q.boost)).score
    score[~match.mask] = 0.0
    match.score = score
    return match


def _evaluate_expansion(snap: Snapshot, q: Any) -> Match:
    """Prefix/wildcard/fuzzy: any expanded term matches; a document scores
    as its best expanded term, so one word with many variants is not
    rewarded for the variants."""
    try:
        terms = [t for t in q.existing_terms(snap.reader, expand=True) if t[0] == q.fieldname]
    except Exception:  # noqa: BLE001
        terms = []
    if not terms or len(terms) > MAX_EXPANSION:
        return _fallback(snap, q)
    field = snap.reader.schema[q.fieldname]
    mask = snap.none()
    best = np.zeros(snap.n, dtype=np.float32)
    for _, text in terms:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
        if field.scorable:
            part = snap.term_scores(q.fieldname, text, float(q.boost))
            mask |= part.mask
            np.maximum(best, part.score, out=best)
        else:
            ids, _ = snap.postings(q.fieldname, text)
            mask[ids] = True
    return Match(mask, best if field.scorable else None)


def _fallback(snap: Snapshot, q: Any) -> Match:
    """Let Whoosh find the documents (ranges, phrases, anything exotic)."""
    mask = snap.none()
    docs = np.fromiter(snap.searcher.docs_for_query(q), dtype=np.int64)
    if len(docs):
        mask[docs] = True
    return Match(mask, None)


def _title_words(q: Any) -> set[str]:
    """The analysed words a query looks for in the title (not under a negation)."""
    from whoosh import query as wq

    from .query import positive_leaves

    out: set[str] = set()
    for leaf in positive_leaves(q):
        if getattr(leaf, "fieldname", None) != "title":
            continue
        if isinstance(leaf, wq.Term) and isinstance(leaf.text, str):
            out.add(leaf.text)
        elif isinstance(leaf, wq.Phrase):
            out.update(w for w in leaf.words if isinstance(w, str))
    return out


def title_coverage(snap: Snapshot, q: Any, score: np.ndarray) -> np.ndarray:
    """Scores × (1 + t × the share of each title's words that the query has).

    Known-item signal for pasted headlines: when several articles match most
    of the query, the one whose own headline the query is ranks first. Uses
    the title posting lists already read for scoring and the title lengths.
    """
    t = snap.ranking.title_coverage
    words = _title_words(q) if t > 0 else set()
    if not words:
        return score
    hits = np.zeros(snap.n, dtype=np.float32)
    for word in words:
        ids, _ = snap.postings("title", word)
        hits[ids] += 1.0
    share = np.minimum(hits / np.maximum(snap.field_lengths("title"), 1.0), 1.0)
    return score * (1.0 + t * share).astype(np.float32)


# ----------------------------------------------------------------- ordering


def top_documents(
    snap: Snapshot,
    matched: np.ndarray,
    primary: np.ndarray,
    want: int,
) -> list[int]:
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
    ts = snap.numeric_column("ts", MISSING)
    newest = np.where(ts[cand] == MISSING, np.iinfo(np.int64).max, -ts[cand])
    if len(cand) > 512:
        order = np.lexsort((snap.path_rank()[cand], newest, primary[cand]))
        return [int(d) for d in cand[order[:want]]]
    rows = sorted(
        (float(primary[d]), int(nw), _text(snap.column_value("path", d)), int(d))
        for d, nw in zip(cand.tolist(), newest.tolist(), strict=True)
    )
    return [row[3] for row in rows[:want]]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def sort_key(snap: Snapshot, sort: str, score: np.ndarray | None) -> np.ndarray:
    """The primary ordering key (smaller first) for a sort order."""
    big = np.float64(np.finfo(np.float64).max)
    if sort == "relevance" and score is not None:
        return -score.astype(np.float64)
    ts = snap.numeric_column("ts", MISSING)
    missing_ts = ts == MISSING
    if sort in ("newest", "relevance"):
        # newest first is also the order of a query that does not score
        return np.where(missing_ts, big, -ts.astype(np.float64))
    if sort == "oldest":
        return np.where(missing_ts, big, ts.astype(np.float64))
    quality = snap.numeric_column("quality_col", MISSING32)
    return np.where(quality == MISSING32, big, -quality.astype(np.float64))
