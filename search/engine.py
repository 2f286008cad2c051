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

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .schema import MISSING, MISSING32, MULTI_SEP

#: cap on cached posting entries per snapshot (ids + tf: ~8 bytes each)
POSTING_CACHE_ENTRIES = 4_000_000
#: a wildcard expanding to more terms than this is matched without scoring
MAX_EXPANSION = 2_000


@dataclass(frozen=True)
class Ranking:
    """Scoring parameters (BM25F with per-field length normalisation and a
    coordination reward for matching more of the query's words)."""

    k1: float = 1.2
    b: tuple[tuple[str, float], ...] = (("title", 0.75), ("excerpt", 0.75), ("topics", 0.3))
    #: weight of the share of query words matched: score × ((1 - c) + c × matched/total)
    coordination: float = 1.0

    def b_for(self, field: str) -> float:
        for name, value in self.b:
            if name == field:
                return value
        return 0.75


@dataclass
class Match:
    """A query node's result: which documents match, and their scores
    (None when the node does not score, e.g. filters and ranges)."""

    mask: np.ndarray
    score: np.ndarray | None = None


def _length_table() -> np.ndarray:
    from whoosh.util.numeric import byte_to_length

    return np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)


class Snapshot:
    """Arrays for one Whoosh searcher generation; build once, reuse per query."""

    def __init__(self, searcher: Any, ranking: Ranking | None = None,
                 index_dir: Any = None) -> None:
        self.searcher = searcher
        self.index_dir = index_dir
        self.reader = searcher.reader()
        self.ranking = ranking or Ranking()
        self.n = self.reader.doc_count_all()
        if hasattr(self.reader, "leaf_readers"):
            self.leaves: list[tuple[Any, int]] = list(self.reader.leaf_readers())
        else:
            self.leaves = [(self.reader, 0)]
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._posting_entries = 0
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------- basics

    def _memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def live(self) -> np.ndarray:
        """Mask of documents that are not deleted."""

        def make() -> np.ndarray:
            mask = np.ones(self.n, dtype=bool)
            for leaf, offset in self.leaves:
                if leaf.has_deletions():
                    try:
                        dead = np.fromiter(leaf._perdoc.deleted_docs(), dtype=np.int64)
                    except AttributeError:  # a Whoosh without these internals
                        alive = np.fromiter(leaf.all_doc_ids(), dtype=np.int64)
                        dead = np.setdiff1d(np.arange(leaf.doc_count_all()), alive)
                    mask[dead + offset] = False
            return mask

        return self._memo("live", make)

    @property
    def live_count(self) -> int:
        return self._memo("live_count", lambda: int(self.live.sum()))

    def none(self) -> np.ndarray:
        return np.zeros(self.n, dtype=bool)

    # ------------------------------------------------------------- columns

    def numeric_column(self, name: str, default: int) -> np.ndarray:
        """A NumericColumn as an int64 array (bulk read, no per-doc Python)."""

        def make() -> np.ndarray:
            out = np.full(self.n, default, dtype=np.int64)
            for leaf, offset in self.leaves:
                if not leaf.has_column(name):
                    continue
                cr = leaf.column_reader(name, translate=False)
                try:
                    count, size = cr._count, cr._fixedlen
                    raw = cr._dbfile.get(cr._basepos, count * size) if count else b""
                    values = np.frombuffer(raw, dtype=">" + cr._typecode).astype(np.int64)
                except AttributeError:  # a Whoosh without these internals
                    values = np.fromiter(cr, dtype=np.int64)
                    count = len(values)
                out[offset : offset + count] = values[:count]
            return out

        return self._memo("num:" + name, make)

    def field_lengths(self, field: str) -> np.ndarray:
        """Per-document token counts of a text field (Whoosh's byte-coded lengths)."""

        def make() -> np.ndarray:
            from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

            table = _length_table()
            out = np.zeros(self.n, dtype=np.float32)
            for leaf, offset in self.leaves:
                try:
                    cr = leaf._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
                    if cr is None:
                        continue
                    count = cr._count
                    raw = cr._dbfile.get(cr._basepos, count) if count else b""
                    codes = np.frombuffer(raw, dtype=np.uint8)
                except AttributeError:  # a Whoosh without these internals
                    total = leaf.doc_count_all()
                    out[offset : offset + total] = [
                        leaf.doc_field_length(d, field, 0) for d in range(total)
                    ]
                    continue
                out[offset : offset + count] = table[codes]
            return out

        return self._memo("len:" + field, make)

    def avg_length(self, field: str) -> float:
        def make() -> float:
            lengths = self.field_lengths(field)[self.live]
            return float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0

        return self._memo("avg:" + field, make)

    def ref_column(self, name: str) -> tuple[np.ndarray, list[str]]:
        """A RefBytesColumn as (per-doc id, id → label): ids are shared by
        values equal ignoring case, labelled by their most common spelling;
        -1 means no value."""

        def make() -> tuple[np.ndarray, list[str]]:
            out = np.full(self.n, -1, dtype=np.int32)
            folded: dict[str, int] = {}
            spellings: list[dict[str, int]] = []
            for leaf, offset in self.leaves:
                count = leaf.doc_count_all()
                if not leaf.has_column(name) or count == 0:
                    continue
                cr = leaf.column_reader(name, translate=False)
                try:
                    raw = cr._dbfile.get(cr._basepos, count * cr._itemsize)
                    refs = np.frombuffer(raw, dtype=">" + cr._typecode).astype(np.int64)
                    uniques = list(cr._uniques)
                except AttributeError:
                    values = list(cr)
                    uniques = sorted(set(values))
                    index = {v: i for i, v in enumerate(uniques)}
                    refs = np.array([index[v] for v in values], dtype=np.int64)
                counts = np.bincount(refs, minlength=len(uniques))
                local = np.full(len(uniques), -1, dtype=np.int32)
                for ref, value in enumerate(uniques):
                    text = value.decode("utf-8", "replace").strip() if value else ""
                    if not text or not counts[ref]:
                        continue
                    gid = folded.setdefault(text.casefold(), len(folded))
                    if gid == len(spellings):
                        spellings.append({})
                    spellings[gid][text] = spellings[gid].get(text, 0) + int(counts[ref])
                    local[ref] = gid
                out[offset : offset + count] = local[refs]
            labels = [min(s.items(), key=lambda kv: (-kv[1], kv[0]))[0] for s in spellings]
            return out, labels

        return self._memo("ref:" + name, make)

    def multi_postings(self, field: str, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(doc numbers, value ids, labels) for a multi-valued filter field,
        from its posting lists; labels are the spelling in the first document
        that has the value."""

        def make() -> tuple[np.ndarray, np.ndarray, list[str]]:
            docs: list[np.ndarray] = []
            ids: list[np.ndarray] = []
            labels: list[str] = []
            seen: dict[str, int] = {}
            for text in _lexicon(self.reader, field):
                pdocs, _ = self.postings(field, text)
                pdocs = pdocs[self.live[pdocs]]
                if not len(pdocs):
                    continue
                vid = seen.get(text)
                if vid is None:
                    vid = seen[text] = len(labels)
                    labels.append(self._spelling(label_column, int(pdocs[0]), text))
                docs.append(pdocs)
                ids.append(np.full(len(pdocs), vid, dtype=np.int32))
            if not docs:
                return np.zeros(0, np.int64), np.zeros(0, np.int32), labels
            return np.concatenate(docs), np.concatenate(ids), labels

        return self._memo("multi:" + field, make)

    def _spelling(self, column: str, docnum: int, folded: str) -> str:
        try:
            raw = self.reader.column_reader(column, translate=False)[docnum]
            for part in raw.decode("utf-8", "replace").split(MULTI_SEP):
                if part.strip().casefold() == folded:
                    return part.strip()
        except Exception:  # noqa: BLE001 - a label is cosmetic; fall back to the term
            pass
        return folded

    def column_value(self, name: str, docnum: int) -> Any:
        """One document's raw column value (column readers are kept open)."""
        reader = self._memo("reader:" + name,
                            lambda: self.reader.column_reader(name, translate=False))
        return reader[docnum]

    def texts(self, name: str) -> list[str]:
        """A bytes column decoded to strings for every document (sorting aid)."""

        def make() -> list[str]:
            if self.n == 0:
                return []
            return [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in self.reader.column_reader(name, translate=False)
            ]

        return self._memo("text:" + name, make)

    def path_rank(self) -> np.ndarray:
        """Each document's position in path order (for tie-breaks)."""

        def make() -> np.ndarray:
            paths = self.texts("path")
            order = sorted(range(self.n), key=paths.__getitem__)
            rank = np.empty(self.n, dtype=np.int64)
            rank[np.array(order, dtype=np.int64)] = np.arange(self.n)
            return rank

        return self._memo("path_rank", make)

    # ------------------------------------------------------------- postings

    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of a term, over all segments."""
        key = (field, text)
        hit = self._postings.get(key)
        if hit is not None:
            self._postings.move_to_end(key)
            return hit
        from whoosh.reading import TermNotFound

        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        btext: bytes | None = None
        for i, (leaf, offset) in enumerate(self.leaves):
            side = self._sidecar(i)
            got = None
            if side is not None:
                if btext is None:
                    btext = self.reader.schema[field].to_bytes(text)
                got = side.get(field, btext)
            if got is not None:
                ids, tfs = got
            else:
                try:
                    m = leaf.postings(field, text)
                except (TermNotFound, KeyError):
                    continue
                ids, tfs = _read_matcher(m)
            id_parts.append(ids + offset)
            tf_parts.append(tfs)
        if id_parts:
            result = (np.concatenate(id_parts), np.concatenate(tf_parts))
        else:
            result = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        self._postings[key] = result
        self._posting_entries += len(result[0])
        while self._posting_entries > POSTING_CACHE_ENTRIES and len(self._postings) > 1:
            _, old = self._postings.popitem(last=False)
            self._posting_entries -= len(old[0])
        return result

    def positions(self, field: str, text: str) -> tuple[np.ndarray | None, np.ndarray]:
        """Flat (document number, position) pairs of a term, or (None, _)
        when the field has no positions."""
        key = "pos:" + field + "\x00" + text
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        from whoosh.reading import TermNotFound

        fieldobj = self.reader.schema[field]
        if not fieldobj.format.supports("positions"):
            return None, np.zeros(0, np.int64)
        doc_parts: list[np.ndarray] = []
        pos_parts: list[np.ndarray] = []
        for leaf, offset in self.leaves:
            try:
                m = leaf.postings(field, text)
            except (TermNotFound, KeyError):
                continue
            docs, poss = _read_positions(m, fieldobj.format)
            doc_parts.append(docs + offset)
            pos_parts.append(poss)
        result = (np.concatenate(doc_parts) if doc_parts else np.zeros(0, np.int64),
                  np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64))
        if len(self._cache) < 10_000:
            self._cache[key] = result
        return result

    def _sidecar(self, i: int) -> Any:
        """The fast-postings sidecar of leaf i, or None (see fastpostings)."""
        key = f"sidecar:{i}"
        if key not in self._cache:
            side = None
            if self.index_dir is not None:
                from .fastpostings import load_sidecar

                side = load_sidecar(self.index_dir, self.leaves[i][0])
            self._cache[key] = side
        return self._cache[key]

    def term_scores(self, field: str, text: str, boost: float) -> Match:
        """BM25 for one term in one field, as a Match over all documents."""
        ids, tfs = self.postings(field, text)
        mask = self.none()
        score = np.zeros(self.n, dtype=np.float32)
        if not len(ids):
            return Match(mask, score)
        live_ids = ids[self.live[ids]]
        df = len(live_ids)
        if df == 0:
            return Match(mask, score)
        n = self.live_count
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        k1 = self.ranking.k1
        b = self.ranking.b_for(field)
        dl = self.field_lengths(field)[ids]
        norm = k1 * ((1.0 - b) + b * dl / self.avg_length(field))
        score[ids] = (boost * idf) * (tfs * (k1 + 1.0)) / (tfs + norm)
        mask[ids] = True
        return Match(mask, score)


def _read_matcher(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """All (ids, weights) of a Whoosh leaf matcher, a block at a time."""
    id_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    try:
        while m.is_active():
            if m._data is None:
                m._read_data()
            raw_ids, raw_w = m._data[0], m._data[1]
            ids = np.asarray(raw_ids, dtype=np.int64)
            if not m._byteids:
                ids = np.cumsum(ids)
            count = m._blocklength
            if raw_w is None:
                tfs = np.ones(count, dtype=np.float32)
            elif isinstance(raw_w, float):
                tfs = np.full(count, raw_w, dtype=np.float32)
            else:
                tfs = np.asarray(raw_w, dtype=np.float32)
            id_parts.append(ids)
            tf_parts.append(tfs)
            m._next_block()
    except AttributeError:  # not the whoosh3 block matcher: use the public API
        ids_list: list[int] = []
        tfs_list: list[float] = []
        while m.is_active():
            ids_list.append(m.id())
            tfs_list.append(m.weight())
            m.next()
        return np.array(ids_list, dtype=np.int64), np.array(tfs_list, dtype=np.float32)
    if not id_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(id_parts), np.concatenate(tf_parts)


def _read_positions(m: Any, fmt: Any) -> tuple[np.ndarray, np.ndarray]:
    """All (doc, position) pairs of a leaf matcher, decoding Whoosh's
    Positions values (a count, then pickled position deltas) directly."""
    import pickle

    docs: list[int] = []
    poss: list[int] = []
    try:
        while m.is_active():
            if m._data is None:
                m._read_data()
            raw_ids = m._data[0]
            ids = np.cumsum(np.asarray(raw_ids, dtype=np.int64)) if not m._byteids else raw_ids
            for doc, value in zip(np.asarray(ids).tolist(), m._data[2], strict=True):
                body = value[4:]
                deltas = pickle.loads(body if body.endswith(b".") else body + b".")
                pos = 0
                for d in deltas:
                    pos += d
                    docs.append(doc)
                    poss.append(pos)
            m._next_block()
    except (AttributeError, TypeError, ValueError, pickle.UnpicklingError):
        # not the layout this reader knows: use Whoosh's public decoding
        docs, poss = [], []
        m.reset() if hasattr(m, "reset") else None
        while m.is_active():
            for pos in fmt.decode_positions(m.value()):
                docs.append(m.id())
                poss.append(pos)
            m.next()
    return np.array(docs, dtype=np.int64), np.array(poss, dtype=np.int64)


def _lexicon(reader: Any, field: str) -> list[str]:
    try:
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.lexicon(field)]
    except Exception:  # noqa: BLE001 - a field with no terms at all
        return []


# ----------------------------------------------------------------- evaluation


def evaluate(snap: Snapshot, q: Any) -> Match:
    """Evaluate a Whoosh query tree to a Match."""
    from whoosh import query as wq

    if isinstance(q, wq.Every):
        return Match(snap.live.copy(), None)
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
