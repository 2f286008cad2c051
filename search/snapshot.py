"""One Whoosh index generation as numpy arrays: posting lists, field
lengths, columns. Read in bulk from Whoosh's on-disk structures (`whoosh3` is
pinned exactly because of that, with public-API fallbacks), cached per
generation, and used by `search.engine` to evaluate queries.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .schema import MULTI_SEP

#: cap on cached posting entries per snapshot (ids + tf: ~12 bytes each)
POSTING_CACHE_ENTRIES = 4_000_000


@dataclass(frozen=True)
class Ranking:
    """Scoring parameters (BM25F with per-field length normalisation and a
    coordination reward for matching more of the query's words)."""

    k1: float = 1.2
    b: tuple[tuple[str, float], ...] = (("title", 0.75), ("excerpt", 0.75), ("topics", 0.3))
    #: weight of the share of query words matched: score × ((1 - c) + c × matched/total)
    coordination: float = 1.0
    #: reward for a title made of the query's words (a pasted headline finds the
    #: article with that headline first): score × (1 + t × share of title words in the query)
    title_coverage: float = 0.25

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
                    gid = folded.setdefault(text.lower(), len(folded))
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
                if part.strip().lower() == folded:
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


def _unfiltered(m: Any) -> Any:
    """The block matcher under Whoosh's deleted-documents filter: callers mask
    deleted documents with `Snapshot.live`, and the filter would force the
    slow one-posting-at-a-time path on every segment with deletions."""
    from whoosh.matching import FilterMatcher

    while isinstance(m, FilterMatcher):
        m = m.child
    return m


def _read_matcher(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """All (ids, weights) of a Whoosh leaf matcher, a block at a time
    (deleted documents included: mask them with `Snapshot.live`)."""
    m = _unfiltered(m)
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

    m = _unfiltered(m)
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
