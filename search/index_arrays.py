"""One Whoosh index generation as numpy arrays: posting lists, field
lengths, columns, the live-document mask. Read in bulk through
`search.whoosh_adapter`, cached per generation, and used by
`search.evaluator` to evaluate queries and by `search.searcher` for facets
and ordering.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import whoosh_adapter as wa
from .ranking import Ranking
from .schema import MULTI_SEP

#: cap on cached posting entries per generation (ids + tf: ~12 bytes each)
POSTING_CACHE_ENTRIES = 4_000_000


class IndexArrays:
    """Arrays for one Whoosh searcher generation; build once, reuse per query."""

    def __init__(self, searcher: Any, ranking: Ranking | None = None,
                 index_dir: Path | None = None) -> None:
        self.searcher = searcher
        self.index_dir = index_dir
        self.reader = searcher.reader()
        self.ranking = ranking or Ranking()
        self.n = self.reader.doc_count_all()
        self.leaves = wa.leaves(self.reader)
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._posting_entries = 0
        self._cache: dict[str, Any] = {}
        self._sidecar_problems: list[str] = []

    # ------------------------------------------------------------- basics

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """A value computed once per generation (`make()` on first use)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    _memo = memo

    @property
    def live(self) -> np.ndarray:
        """Mask of documents that are not deleted."""

        def make() -> np.ndarray:
            mask = np.ones(self.n, dtype=bool)
            for leaf, offset in self.leaves:
                dead = wa.deleted_docs(leaf)
                if len(dead):
                    mask[dead + offset] = False
            return mask

        return self._memo("live", make)

    @property
    def live_count(self) -> int:
        return self._memo("live_count", lambda: int(self.live.sum()))

    def none(self) -> np.ndarray:
        return np.zeros(self.n, dtype=bool)

    def has_field(self, name: str) -> bool:
        return name in self.reader.schema.names()

    # ------------------------------------------------------------- columns

    def numeric_column(self, name: str, default: int) -> np.ndarray:
        """A NumericColumn as an int64 array over all documents."""

        def make() -> np.ndarray:
            out = np.full(self.n, default, dtype=np.int64)
            for leaf, offset in self.leaves:
                values = wa.numeric_column(leaf, name)
                if values is not None:
                    count = min(len(values), leaf.doc_count_all())
                    out[offset : offset + count] = values[:count]
            return out

        return self._memo("num:" + name, make)

    def field_lengths(self, field: str) -> np.ndarray:
        """Per-document token counts of a text field."""

        def make() -> np.ndarray:
            out = np.zeros(self.n, dtype=np.float32)
            for leaf, offset in self.leaves:
                lengths = wa.field_lengths(leaf, field)
                out[offset : offset + len(lengths)] = lengths
            return out

        return self._memo("len:" + field, make)

    def article_lengths(self) -> tuple[np.ndarray, float]:
        """Per-document token count of title + excerpt + topics, and its mean
        over live documents."""

        def make() -> tuple[np.ndarray, float]:
            from .schema import TEXT_FIELDS

            total = sum((self.field_lengths(f) for f in TEXT_FIELDS), np.zeros(self.n, np.float32))
            mean = float(total[self.live].mean()) if self.live_count else 0.0
            return total, mean if mean > 0 else 1.0

        return self.memo("len:article", make)

    def ref_column(self, name: str) -> tuple[np.ndarray, list[str]]:
        """A RefBytesColumn as (per-doc id, id → label): ids are shared by
        values equal ignoring case, labelled by their most common spelling;
        -1 means no value."""

        def make() -> tuple[np.ndarray, list[str]]:
            out = np.full(self.n, -1, dtype=np.int32)
            folded: dict[str, int] = {}
            spellings: list[Counter[str]] = []
            for leaf, offset in self.leaves:
                got = wa.ref_column(leaf, name)
                if got is None:
                    continue
                refs, uniques = got
                counts = np.bincount(refs, minlength=len(uniques))
                local = np.full(len(uniques), -1, dtype=np.int32)
                for ref, value in enumerate(uniques):
                    text = value.decode("utf-8", "replace").strip() if value else ""
                    if not text or not counts[ref]:
                        continue
                    gid = folded.setdefault(text.lower(), len(folded))
                    if gid == len(spellings):
                        spellings.append(Counter())
                    spellings[gid][text] += int(counts[ref])
                    local[ref] = gid
                out[offset : offset + len(refs)] = local[refs]
            return out, [_most_common(s) for s in spellings]

        return self._memo("ref:" + name, make)

    def multi_postings(self, field: str, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(doc numbers, value ids, labels) for a multi-valued filter field,
        from its posting lists; each label is the value's most common
        spelling among live documents."""

        def make() -> tuple[np.ndarray, np.ndarray, list[str]]:
            docs: list[np.ndarray] = []
            ids: list[np.ndarray] = []
            labels: list[str] = []
            spellings = self._spellings(label_column)
            for text in wa.lexicon(self.reader, field):
                pdocs, _ = self.postings(field, text)
                pdocs = pdocs[self.live[pdocs]]
                if not len(pdocs):
                    continue
                docs.append(pdocs)
                ids.append(np.full(len(pdocs), len(labels), dtype=np.int32))
                counted = spellings.get(text)
                labels.append(_most_common(counted) if counted else text)
            if not docs:
                return np.zeros(0, np.int64), np.zeros(0, np.int32), labels
            return np.concatenate(docs), np.concatenate(ids), labels

        return self._memo("multi:" + field, make)

    def _spellings(self, column: str) -> dict[str, Counter[str]]:
        """folded value → Counter of its spellings over live documents."""
        out: dict[str, Counter[str]] = {}
        if self.n == 0 or not self.reader.has_column(column):
            return out
        live = self.live
        for docnum, raw in enumerate(self.reader.column_reader(column, translate=False)):
            if not raw or not live[docnum]:
                continue
            for part in raw.decode("utf-8", "replace").split(MULTI_SEP):
                label = part.strip()
                if label:
                    out.setdefault(label.lower(), Counter())[label] += 1
        return out

    def column_value(self, name: str, docnum: int) -> Any:
        """One document's raw column value (column readers are kept open)."""
        reader = self._memo("reader:" + name,
                            lambda: self.reader.column_reader(name, translate=False))
        return reader[docnum]

    def texts(self, name: str) -> list[str]:
        """A bytes column decoded to strings for every document."""

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
        """(document numbers, term frequencies) of a term over all segments
        (deleted documents included: mask them with `live`)."""
        key = (field, text)
        hit = self._postings.get(key)
        if hit is not None:
            self._postings.move_to_end(key)
            return hit
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        btext: bytes | None = None
        for i, (leaf, offset) in enumerate(self.leaves):
            got = None
            side = self._sidecar(i)
            if side is not None:
                if btext is None:
                    btext = self.reader.schema[field].to_bytes(text)
                got = side.get(field, btext)
            if got is None:
                got = wa.postings(leaf, field, text)
                if got is None:
                    continue
            id_parts.append(got[0] + offset)
            tf_parts.append(got[1])
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

    def doc_mask(self, field: str, text: str) -> np.ndarray:
        """Live documents that have a term."""
        ids, _ = self.postings(field, text)
        mask = self.none()
        mask[ids] = True
        return mask & self.live

    def positions(self, field: str, text: str,
                  within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flat (document number, position) pairs of a term; with `within`
        (sorted document numbers), of those documents only (not cached:
        decoding a few documents' positions is cheap, all of a common
        word's is not)."""
        key = "pos:" + field + "\x00" + text
        hit = self._cache.get(key)
        if hit is not None:
            if within is None:
                return hit
            keep = np.isin(hit[0], within)
            return hit[0][keep], hit[1][keep]
        # one query evaluates its phrases more than once (matching strategy,
        # then scoring): the last restricted read of each term is kept
        some_key = "pos-within:" + field + "\x00" + text
        some = self._cache.get(some_key)
        if some is not None and within is not None and np.array_equal(some[0], within):
            return some[1]
        doc_parts: list[np.ndarray] = []
        pos_parts: list[np.ndarray] = []
        for leaf, offset in self.leaves:
            local = None
            if within is not None:
                lo, hi = np.searchsorted(within, [offset, offset + leaf.doc_count_all()])
                if lo == hi:
                    continue
                local = within[lo:hi] - offset
            got = wa.positions(leaf, field, text, within=local)
            if got is None:
                continue
            doc_parts.append(got[0] + offset)
            pos_parts.append(got[1])
        result = (np.concatenate(doc_parts) if doc_parts else np.zeros(0, np.int64),
                  np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64))
        if len(self._cache) < 10_000:
            if within is None:
                self._cache[key] = result
            else:
                self._cache[some_key] = (within, result)
        return result

    def _sidecar(self, i: int) -> Any:
        """The fast-postings sidecar of leaf i, or None (see fastpostings);
        a damaged one is set aside (its problem kept for `problems`), so
        Whoosh's postings are read instead."""
        key = f"sidecar:{i}"
        if key not in self._cache:
            side = None
            if self.index_dir is not None:
                from .fastpostings import SidecarError, load_sidecar

                try:
                    side = load_sidecar(self.index_dir, self.leaves[i][0])
                except SidecarError as exc:
                    self._sidecar_problems.append(
                        _sidecar_problem(self.index_dir, self.leaves[i][0], str(exc)))
            self._cache[key] = side
        return self._cache[key]

    @property
    def problems(self) -> list[str]:
        """Damaged posting sidecars met so far (read around: results stay
        exact), one line each, for the caller to report."""
        out = list(self._sidecar_problems)
        for key, side in self._cache.items():
            if key.startswith("sidecar:") and side is not None and side.damaged:
                out.append(f"{side.path}: {len(side.damaged)} damaged posting list(s) in this "
                           "sidecar; read from the index instead (run 'search check')")
        return out

    # ------------------------------------------------------------- vocabulary

    def expand(self, field: str, prefix: str) -> list[str]:
        """Terms of a field starting with `prefix`, in order, over all segments."""
        try:
            terms = self.reader.expand_prefix(field, prefix)
            return sorted({t.decode("utf-8") if isinstance(t, bytes) else t for t in terms})
        except Exception:  # noqa: BLE001 - a field without terms
            return []

    def lexicon(self, field: str) -> list[str]:
        """Every term of a field, sorted (cached: costs a read of the term index)."""
        return self._memo("lex:" + field, lambda: wa.lexicon(self.reader, field))

    def term_frequencies(self, field: str) -> tuple[list[str], np.ndarray]:
        """Every term of a field, sorted, with its document frequency (summed
        over segments; deleted documents count until merged away): one pass
        over the term index, cached."""

        def make() -> tuple[list[str], np.ndarray]:
            counts: dict[str, int] = {}
            for leaf, _ in self.leaves:
                for btext, info in wa.terms_with_info(leaf, field):
                    term = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                    counts[term] = counts.get(term, 0) + int(info.doc_frequency())
            terms = sorted(counts)
            return terms, np.array([counts[t] for t in terms], dtype=np.int64)

        return self.memo("tf:" + field, make)

    def doc_frequency(self, field: str, text: str) -> int:
        """Documents (deleted ones included until merged away) with a term."""
        try:
            return int(self.reader.doc_frequency(field, text))
        except Exception:  # noqa: BLE001
            return 0


def _sidecar_problem(index_dir: Path, leaf: Any, problem: str) -> str:
    from .fastpostings import sidecar_path

    segment = wa.segment(leaf)
    where = sidecar_path(index_dir, segment) if segment is not None else index_dir
    return f"{where}: posting sidecar ignored ({problem}); run 'search check'"


def _most_common(spellings: Counter[str]) -> str:
    """The most common spelling; ties go to the alphabetically first."""
    return min(spellings.items(), key=lambda kv: (-kv[1], kv[0]))[0]
