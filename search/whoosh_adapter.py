"""Every use of Whoosh's private structures, in one place.

Whoosh keeps what the engine reads in bulk (posting blocks, columns, field
lengths, deletion lists, the table of contents) behind per-item public calls
that cost a Python call per posting or per document. The fast readers here
slice the on-disk structures directly; they are written against exactly one
Whoosh distribution and version (`SUPPORTED`). With any other installed
Whoosh, `fast()` is False and every function uses the public API instead:
slower, never wrong. `tests/test_whoosh_adapter.py` checks each fast reader
against the public API on a generated index.

Nothing else in the package may touch a Whoosh attribute that starts with an
underscore.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

#: Whoosh's default index name: its files are `_MAIN_<gen>.toc`, `MAIN_<id>.seg`...
INDEX_NAME = "MAIN"
#: the Whoosh distribution and version the fast readers are written for
SUPPORTED = ("whoosh3", "3.54.0")


@functools.lru_cache(maxsize=1)
def installed() -> tuple[str, str]:
    """(distribution, version) of the Whoosh that `import whoosh` loads."""
    from importlib import metadata

    for dist in ("whoosh3", "Whoosh-Reloaded", "whoosh-ng", "Whoosh"):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown", "unknown"


@functools.lru_cache(maxsize=1)
def fast() -> bool:
    """Whether the fast readers may be used (the pinned Whoosh is installed).

    Read from `whoosh.__version__` (no fork other than whoosh3 has 3.54.0):
    importlib.metadata costs 10 ms of a cold query's start-up."""
    import whoosh

    return tuple(getattr(whoosh, "__version__", ())) == tuple(int(x) for x in SUPPORTED[1].split("."))


def _use_fast(override: bool | None) -> bool:
    return fast() if override is None else override


# ----------------------------------------------------------------- readers


def leaves(reader: Any) -> list[tuple[Any, int]]:
    """(segment reader, document number offset) for each segment."""
    if hasattr(reader, "leaf_readers"):
        return list(reader.leaf_readers())
    return [(reader, 0)]


def deleted_docs(leaf: Any, use_fast: bool | None = None) -> np.ndarray:
    """Document numbers deleted in one segment (segment-local)."""
    if not leaf.has_deletions():
        return np.zeros(0, np.int64)
    if _use_fast(use_fast):
        try:
            return np.sort(np.fromiter(leaf._perdoc.deleted_docs(), dtype=np.int64))
        except AttributeError:
            pass
    alive = np.fromiter(leaf.all_doc_ids(), dtype=np.int64)
    return np.setdiff1d(np.arange(leaf.doc_count_all(), dtype=np.int64), alive)


def numeric_column(leaf: Any, name: str, use_fast: bool | None = None) -> np.ndarray | None:
    """A NumericColumn of one segment as int64, or None when it has none."""
    if not leaf.has_column(name):
        return None
    cr = leaf.column_reader(name, translate=False)
    if _use_fast(use_fast):
        try:
            count, size = cr._count, cr._fixedlen
            raw = cr._dbfile.get(cr._basepos, count * size) if count else b""
            return np.frombuffer(raw, dtype=">" + cr._typecode).astype(np.int64)
        except AttributeError:
            pass
    return np.fromiter((int(v) for v in cr), dtype=np.int64)


def ref_column(leaf: Any, name: str, use_fast: bool | None = None) -> tuple[np.ndarray, list[bytes]] | None:
    """A RefBytesColumn of one segment as (per-doc reference, distinct
    values), or None when it has none."""
    count = leaf.doc_count_all()
    if not leaf.has_column(name) or count == 0:
        return None
    cr = leaf.column_reader(name, translate=False)
    if _use_fast(use_fast):
        try:
            raw = cr._dbfile.get(cr._basepos, count * cr._itemsize)
            refs = np.frombuffer(raw, dtype=">" + cr._typecode).astype(np.int64)
            return refs, list(cr._uniques)
        except AttributeError:
            pass
    values = list(cr)
    uniques = sorted(set(values))
    index = {v: i for i, v in enumerate(uniques)}
    return np.array([index[v] for v in values], dtype=np.int64), uniques


def bytes_column(leaf: Any, name: str, use_fast: bool | None = None) -> list[bytes]:
    """A VarBytesColumn of one segment: each document's raw value (b"" when
    it has none), deleted documents included. Read in one piece: per-document
    reads cost a file seek each (a second for two columns at 100,000 articles)."""
    count = leaf.doc_count_all()
    if not leaf.has_column(name) or count == 0:
        return [b""] * count
    cr = leaf.column_reader(name, translate=False)
    if _use_fast(use_fast):
        try:
            lengths = np.asarray(cr._lengths, dtype=np.int64)
            offsets = np.asarray(cr._offsets, dtype=np.int64)
            if len(lengths) == count:
                end = int((offsets + lengths).max())
                raw = cr._dbfile.get(cr._basepos, end) if end else b""
                return [raw[o : o + n] for o, n in zip(offsets.tolist(), lengths.tolist(), strict=True)]
        except AttributeError:
            pass
    return [bytes(v) for v in cr]


@functools.lru_cache(maxsize=1)
def _length_table() -> np.ndarray:
    from whoosh.util.numeric import byte_to_length

    return np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)


def field_lengths(leaf: Any, field: str, use_fast: bool | None = None) -> np.ndarray:
    """Per-document token counts of a field in one segment (Whoosh stores
    them byte-coded, so long fields are approximate, exactly as Whoosh's own
    scorer sees them)."""
    total = leaf.doc_count_all()
    if _use_fast(use_fast):
        try:
            from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

            cr = leaf._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
            if cr is None:
                return np.zeros(total, np.float32)
            count = cr._count
            raw = cr._dbfile.get(cr._basepos, count) if count else b""
            out = np.zeros(total, np.float32)
            out[:count] = _length_table()[np.frombuffer(raw, dtype=np.uint8)]
            return out
        except (AttributeError, ImportError):
            pass
    return np.array([leaf.doc_field_length(d, field, 0) or 0 for d in range(total)], dtype=np.float32)


def _unfiltered(m: Any) -> Any:
    """The block matcher under Whoosh's deleted-documents filter: callers mask
    deleted documents themselves, and the filter would force the slow
    one-posting-at-a-time path on every segment with deletions."""
    from whoosh.matching import FilterMatcher

    while isinstance(m, FilterMatcher):
        m = m.child
    return m


def _public_postings(m: Any) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    tfs: list[float] = []
    while m.is_active():
        ids.append(m.id())
        tfs.append(m.weight())
        m.next()
    return np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float32)


def read_matcher(m: Any, use_fast: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All (segment-local ids, term frequencies) of a leaf matcher, a block
    at a time. With the fast path deleted documents are included (mask them
    with the live mask); the public path follows Whoosh (skips them)."""
    if _use_fast(use_fast):
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
        except AttributeError:  # not the block matcher this was written for
            pass
        else:
            if not id_parts:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            return np.concatenate(id_parts), np.concatenate(tf_parts)
    return _public_postings(m)


def postings(leaf: Any, field: str, text: str | bytes,
             use_fast: bool | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(segment-local ids, term frequencies) of one term in one segment, or
    None when the segment does not have the term."""
    from whoosh.reading import TermNotFound

    try:
        m = leaf.postings(field, text)
    except (TermNotFound, KeyError):
        return None
    return read_matcher(m, use_fast)


def positions(leaf: Any, field: str, text: str, use_fast: bool | None = None,
              within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat (segment-local doc, position) pairs of a term in one segment, or
    None when the segment does not have the term. With `within` (sorted
    segment-local ids) only those documents' positions are decoded, and
    blocks holding none of them are not read: a phrase of common words
    needs the positions of the few documents that have every word."""
    from whoosh.reading import TermNotFound

    try:
        m = leaf.postings(field, text)
    except (TermNotFound, KeyError):
        return None
    fmt = leaf.schema[field].format
    docs: list[int] = []
    poss: list[int] = []
    if _use_fast(use_fast):
        m = _unfiltered(m)
        try:
            low = 0  # every id of the current block is >= low
            while m.is_active():
                wanted = None
                if within is not None:
                    high = m._maxid
                    start = int(np.searchsorted(within, low))
                    if high is not None:
                        low = high + 1
                        stop = int(np.searchsorted(within, high, side="right"))
                        if start == stop:
                            m._next_block()
                            continue
                        wanted = within[start:stop]
                    else:
                        wanted = within[start:]
                if m._data is None:
                    m._read_data()
                raw_ids = m._data[0]
                ids = np.cumsum(np.asarray(raw_ids, dtype=np.int64)) if not m._byteids else raw_ids
                pairs: Any = zip(np.asarray(ids).tolist(), m._data[2], strict=True)
                if wanted is not None:
                    keep = set(wanted.tolist())
                    pairs = [(doc, value) for doc, value in pairs if doc in keep]
                for doc, value in pairs:
                    # a Positions value: 4 bytes of count, then pickled deltas
                    body = value[4:]
                    pos = 0
                    for d in pickle.loads(body if body.endswith(b".") else body + b"."):
                        pos += d
                        docs.append(doc)
                        poss.append(pos)
                m._next_block()
            return np.array(docs, dtype=np.int64), np.array(poss, dtype=np.int64)
        except (AttributeError, TypeError, ValueError, pickle.UnpicklingError):
            docs, poss = [], []
            m = leaf.postings(field, text)
    keep = None if within is None else set(within.tolist())
    while m.is_active():
        if keep is None or m.id() in keep:
            for pos in fmt.decode_positions(m.value()):
                docs.append(m.id())
                poss.append(pos)
        m.next()
    return np.array(docs, dtype=np.int64), np.array(poss, dtype=np.int64)


def lexicon(reader: Any, field: str) -> list[str]:
    """Every term of a field (merged over segments), decoded."""
    try:
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.lexicon(field)]
    except Exception:  # noqa: BLE001 - a field with no terms at all
        return []


def terms_with_info(leaf: Any, field: str) -> Any:
    """(term bytes, TermInfo) of a field in one segment."""
    try:
        yield from leaf.iter_field(field)
    except Exception:  # noqa: BLE001 - a field with no terms in this segment
        return


# ----------------------------------------------------------------- segments


def segment(leaf: Any) -> Any | None:
    """The Segment object behind a segment reader (None if it has none)."""
    return getattr(leaf, "_segment", None) or getattr(leaf, "segment", lambda: None)()


def segment_filename(seg: Any, suffix: str) -> str:
    """A file name beside a segment's own files (deleted with the segment)."""
    return seg.make_filename(suffix)


def segment_id(seg: Any) -> str:
    return str(seg.segment_id())


def segment_reader(ix: Any, seg: Any) -> Any:
    """A reader of one segment alone (close it after use)."""
    from whoosh.reading import SegmentReader

    return SegmentReader(ix.storage, ix.schema, seg)


# ----------------------------------------------------------------- storage


@functools.lru_cache(maxsize=1)
def _durable_storage_class() -> type:
    """FileStorage that makes each commit durable (see `durable_storage`);
    built on first use so that importing this module does not import Whoosh."""
    import re

    from whoosh.filedb.filestore import FileStorage

    from . import durable

    class DurableFileStorage(FileStorage):
        """Files created through this storage are flushed to disk, and each
        segment's files checksummed, just before the next rename, which is how
        Whoosh publishes a commit (its new TOC is written to a temporary name
        and renamed into place); the folder is flushed right after the rename.
        Whoosh deletes the files a commit made obsolete only after that
        rename returns, so old files go only once the new state is on disk.

        Flushing is deferred to the rename rather than done as each file is
        closed: a commit writes each segment's parts as separate files, copies
        them into one compound `.seg` file and deletes the parts, which would
        otherwise be flushed for nothing.
        """

        def __init__(self, path: str, **kwargs: Any) -> None:
            super().__init__(path, **kwargs)
            self._unsynced: set[str] = set()
            # Whoosh's own segment file pattern (`whoosh.index.TOC._segment_pattern`)
            self._segment_re = re.compile(rf"^({INDEX_NAME}_[0-9a-z]+)[.][A-Za-z0-9_.]+$")

        def create_file(self, name: str, *args: Any, **kwargs: Any) -> Any:
            f = super().create_file(name, *args, **kwargs)
            self._unsynced.add(name)
            return f

        def delete_file(self, name: str) -> None:
            super().delete_file(name)
            self._unsynced.discard(name)

        def rename_file(self, oldname: str, newname: str, safe: bool = False) -> None:
            self.flush_pending()
            super().rename_file(oldname, newname, safe)
            durable.fsync_dir(self.folder)

        def flush_pending(self) -> None:
            """Flush every file created since the last rename, and write the
            checksum file of each new segment."""
            from pathlib import Path

            folder = Path(self.folder)
            segments: dict[str, list[str]] = {}
            for name in sorted(self._unsynced):
                path = folder / name
                if not path.exists():
                    continue
                durable.fsync_file(path)
                m = self._segment_re.match(name)
                if m:
                    segments.setdefault(m.group(1), []).append(name)
            for segment_id, names in segments.items():
                durable.write_sums(folder, segment_id, names)
            self._unsynced.clear()

    return DurableFileStorage


def durable_storage(path: str) -> Any:
    """A Whoosh FileStorage on `path` whose commits survive power loss:
    every file a commit publishes is flushed before the TOC rename, the folder
    after it, and each segment gets a checksum file (`search.durable`).

    Files are read, not memory-mapped. With mmap whoosh3 wraps each part of
    a compound segment in io.BytesIO, which copies it: opening an index
    copied every segment's term index and postings into memory (370 MB for
    100,000 articles, before any query); read through the file instead, a
    cold query's peak RSS at 100k went from 918 to 68 MiB and a 200-query
    batch's from 657 to 177 MiB, with the same REPL-path latency and index
    time (bench/perf.py, /tmp/p95.py-style interleaved runs). A segment's
    parts share one file object, so a reader must not be used from two
    threads at once (the REPL serialises its searches with a lock)."""
    return _durable_storage_class()(path, supports_mmap=False)


def open_dir(path: str) -> Any:
    """Open the Whoosh index in `path` on durable storage."""
    from whoosh.index import FileIndex

    return FileIndex(durable_storage(path), indexname=INDEX_NAME)


class IndexView:
    """What the engine needs of a Whoosh searcher (a reader of one index
    generation, stored fields, whether a newer generation exists), without
    `ix.searcher()`: importing whoosh.searching and its query, scoring and
    highlighting modules took 9 ms of a 160 ms cold query."""

    def __init__(self, ix: Any) -> None:
        self._ix = ix
        self._reader = ix.reader()

    def reader(self) -> Any:
        return self._reader

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        return self._reader.stored_fields(docnum)

    def doc_count(self) -> int:
        return int(self._reader.doc_count())

    def up_to_date(self) -> bool:
        """Whether the index has no newer generation than this view's."""
        return bool(self._ix.latest_generation() == self._reader.generation())

    def close(self) -> None:
        self._reader.close()


def view(ix: Any) -> IndexView:
    """An IndexView of the index's current generation."""
    return IndexView(ix)


def create_in(path: str, schema: Any) -> Any:
    """Create an empty Whoosh index in `path` on durable storage (replacing
    any TOC there)."""
    from whoosh.index import FileIndex

    return FileIndex.create(durable_storage(path), schema, INDEX_NAME)


# ----------------------------------------------------------------- writing


def current_toc(ix: Any) -> tuple[int, list[Any]]:
    """(generation, segments) of an index's newest table of contents."""
    toc = ix._read_toc()
    return toc.generation, list(toc.segments)


def clean_unreferenced(ix: Any) -> None:
    """Delete segment files and old TOCs that the newest TOC does not use."""
    from whoosh.index import clean_files

    generation, segments = current_toc(ix)
    clean_files(ix.storage, ix.indexname, generation, segments)


def before_toc(writer: Any, hook: Callable[[], None]) -> None:
    """Call `hook` inside the writer's commit, after its segment is written
    and before the new TOC makes it visible (a test pause point)."""
    commit_toc = writer._commit_toc

    def paused(segments: Any) -> None:
        hook()
        commit_toc(segments)

    writer._commit_toc = paused


def cancel_writer(writer: Any) -> None:
    """Cancel a writer without letting a second error hide the first."""
    if getattr(writer, "is_closed", True):
        return
    try:
        writer.cancel()
    except Exception:  # noqa: BLE001 - best effort; whoosh releases what it can
        try:
            writer._cleanup_on_error()
        except Exception:  # noqa: BLE001
            pass
