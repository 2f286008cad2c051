"""Per-segment sidecar files of posting arrays, for fast first reads.

Whoosh stores postings in pickled blocks of 128, with each posting's
positions pickled inside: reading one block costs ~100-150 µs, so a common
word in a 20,000-article index (150 blocks per field) takes milliseconds
before any scoring starts. After each commit the indexer writes, next to each
new segment, a `<segment>.fpost` file with the document numbers and term
frequencies of every term long enough to span several blocks, as flat arrays
that the query engine slices without unpickling anything.

The sidecar is derived data and strictly optional: it is named after its
segment (so Whoosh deletes it with the segment), written atomically and
durably, and checked against the segment's document count. It carries
checksums (format 2): a CRC-32 of its header, term keys, offsets and term
checksums, verified when it is loaded, and a CRC-32 of each term's arrays,
verified when the term is read, so a torn or damaged sidecar is never
believed: a bad header makes the whole sidecar ignored, a bad term makes that
term read from Whoosh's postings, and either is recorded in `problems` for
the caller to report. Segments are immutable, so a sidecar never goes stale.
A sidecar of an older format is ignored, and rewritten by the next index run.

Layout: MAGIC, then `<IIII` (header length, key blob length, offsets count,
CRC-32 of everything up to the term arrays), the JSON header, the key blob,
padding to 8 bytes, offsets (int64, terms + 1), term checksums (uint32, one
per term, padded to 8 bytes), then all ids (uint32) and all term frequencies
(float32).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

SUFFIX = ".fpost"
MAGIC = b"FPOST2\n"
_FIXED = struct.Struct("<IIII")
#: terms with fewer postings than this are read from Whoosh (one block, cheap)
MIN_POSTINGS = 128
#: fields whose postings the engine reads on every query
FIELDS = ("title", "excerpt", "topics", "provider", "topic", "words")


def sidecar_path(index_dir: Path, segment: Any) -> Path:
    from .whoosh_adapter import segment_filename

    return Path(index_dir) / segment_filename(segment, SUFFIX)


def sidecar_terms(leaf: Any) -> Iterator[tuple[str, bytes, int]]:
    """(field, term bytes, document frequency) of each term a segment's
    sidecar holds."""
    from . import whoosh_adapter as wa

    for field in FIELDS:
        if field not in leaf.schema.names():
            continue
        for btext, info in wa.terms_with_info(leaf, field):
            if info.doc_frequency() < MIN_POSTINGS or b"\x00" in btext or b"\x01" in btext:
                continue  # short lists are cheap to read; separators must stay unambiguous
            yield field, btext, info.doc_frequency()


def term_key(field: str, btext: bytes) -> bytes:
    return field.encode() + b"\x00" + btext


def write_sidecar(index_dir: Path, leaf: Any, segment: Any) -> Path:
    """Write the sidecar for one segment (reader `leaf`); atomic."""
    from . import whoosh_adapter as wa

    keys: list[bytes] = []
    id_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    offsets = [0]
    for field, btext, _ in sidecar_terms(leaf):
        ids, tfs = wa.read_matcher(leaf.postings(field, btext))
        keys.append(term_key(field, btext))
        id_parts.append(ids.astype(np.uint32))
        tf_parts.append(tfs.astype(np.float32))
        offsets.append(offsets[-1] + len(ids))
    ids_all = np.concatenate(id_parts) if id_parts else np.zeros(0, np.uint32)
    tfs_all = np.concatenate(tf_parts) if tf_parts else np.zeros(0, np.float32)
    term_crcs = np.array([_term_crc(ids, tfs) for ids, tfs in zip(id_parts, tf_parts, strict=True)],
                         dtype=np.uint32)
    header = json.dumps({
        "doccount": leaf.doc_count_all(),
        "terms": len(keys),
        "postings": len(ids_all),
    }).encode()
    blob = b"\x01".join(keys)
    offsets_bytes = np.asarray(offsets, dtype=np.int64).tobytes()
    crcs_bytes = term_crcs.tobytes()
    body = header + blob + _padding(len(MAGIC) + _FIXED.size + len(header) + len(blob))
    meta_crc = zlib.crc32(crcs_bytes, zlib.crc32(offsets_bytes, zlib.crc32(body)))

    def write(fh: Any) -> None:
        fh.write(MAGIC)
        fh.write(_FIXED.pack(len(header), len(blob), len(offsets), meta_crc))
        fh.write(body)
        fh.write(offsets_bytes)
        fh.write(crcs_bytes)
        fh.write(_padding(len(crcs_bytes)))
        fh.write(ids_all.tobytes())
        fh.write(tfs_all.tobytes())

    from .durable import atomic_write

    target = sidecar_path(index_dir, segment)
    atomic_write(target, write, prefix=".fpost-")
    return target


def _padding(position: int) -> bytes:
    # align the arrays to 8 bytes so they can be viewed without copying
    return b"\x00" * ((-position) % 8)


def _term_crc(ids: np.ndarray, tfs: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(tfs, dtype=np.float32).tobytes(),
                      zlib.crc32(np.ascontiguousarray(ids, dtype=np.uint32).tobytes()))


def is_current(path: Path) -> bool:
    """Whether the file at `path` is a sidecar of the current format (by its magic)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def sync_sidecars(index_dir: Path) -> int:
    """Write missing, older-format or damaged sidecars for the index's
    current segments; returns how many were written. Safe to run at any time
    (derived, atomic files). Verifying a sidecar reads all of it, which is
    cheap: sidecars are a tenth of their segment's size."""
    from . import whoosh_adapter as wa

    ix = wa.open_dir(str(index_dir))
    written = 0
    with ix.reader() as reader:
        for leaf, _ in wa.leaves(reader):
            segment = wa.segment(leaf)
            if segment is None or _intact(index_dir, leaf):
                continue
            write_sidecar(index_dir, leaf, segment)
            written += 1
    return written


def _intact(index_dir: Path, leaf: Any) -> bool:
    """Whether a segment has a current, undamaged sidecar."""
    try:
        side = load_sidecar(index_dir, leaf)
    except SidecarError:
        return False
    return side is not None and not side.verify()


class SidecarError(ValueError):
    """A sidecar that cannot be believed; the message says why."""


class Sidecar:
    """A loaded sidecar: `get(field, text)` → (ids, tfs) or None.

    Loading verifies the header checksum (raising SidecarError); `get`
    verifies the term's own checksum and returns None for a damaged term
    (the caller reads Whoosh's postings instead), recording it in `damaged`.
    """

    def __init__(self, path: Path, doccount: int) -> None:
        self.path = path
        #: keys of terms whose arrays failed their checksum
        self.damaged: set[bytes] = set()
        data = np.memmap(path, dtype=np.uint8, mode="r")
        fixed = len(MAGIC) + _FIXED.size
        if len(data) < fixed or bytes(data[: len(MAGIC)]) != MAGIC:
            raise SidecarError("not a sidecar of the current format")
        hlen, blen, olen, meta_crc = _FIXED.unpack(bytes(data[len(MAGIC):fixed]))
        pos = fixed
        end = pos + hlen + blen
        end += (-end) % 8
        body = bytes(data[pos:end])
        offsets_bytes = bytes(data[end : end + 8 * olen])
        terms = max(olen - 1, 0)
        crcs_bytes = bytes(data[end + 8 * olen : end + 8 * olen + 4 * terms])
        if (len(offsets_bytes) != 8 * olen or len(crcs_bytes) != 4 * terms
                or zlib.crc32(crcs_bytes, zlib.crc32(offsets_bytes, zlib.crc32(body))) != meta_crc):
            raise SidecarError("header checksum mismatch")
        try:
            header = json.loads(body[:hlen])
            total = int(header["postings"])
        except (ValueError, KeyError, TypeError):
            raise SidecarError("unreadable header") from None
        if header.get("doccount") != doccount:
            raise SidecarError(f"made for {header.get('doccount')} documents, "
                               f"its segment has {doccount}")
        blob = body[hlen : hlen + blen]
        self._offsets = np.frombuffer(offsets_bytes, dtype=np.int64)
        self._crcs = np.frombuffer(crcs_bytes, dtype=np.uint32)
        pos = end + 8 * olen + 4 * terms
        pos += (-pos) % 8
        if len(data) != pos + 8 * total or (terms and int(self._offsets[-1]) != total):
            raise SidecarError("arrays are cut short or overlong")
        self._ids = np.frombuffer(data, dtype=np.uint32, count=total, offset=pos)
        self._tfs = np.frombuffer(data, dtype=np.float32, count=total, offset=pos + 4 * total)
        keys = blob.split(b"\x01") if blob else []
        if len(keys) != terms:
            raise SidecarError("term count does not match its offsets")
        self._index = {k: i for i, k in enumerate(keys)}

    def term_keys(self) -> list[bytes]:
        """Every term key (`field NUL term`), in file order."""
        return sorted(self._index, key=self._index.__getitem__)

    def _slice(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        if not 0 <= start <= end <= len(self._ids):
            return None
        ids, tfs = self._ids[start:end], self._tfs[start:end]
        if _term_crc(ids, tfs) != int(self._crcs[i]):
            return None
        return ids, tfs

    def get(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        key = term_key(field, btext)
        i = self._index.get(key)
        if i is None:
            return None
        got = self._slice(i)
        if got is None:
            self.damaged.add(key)
            return None
        return got[0].astype(np.int64), got[1]

    def verify(self) -> list[bytes]:
        """Keys of every term whose arrays fail their checksum (all of them
        are read: for `search check`)."""
        return [key for key, i in self._index.items() if self._slice(i) is None]

    def doc_frequency(self, key: bytes) -> int:
        i = self._index[key]
        return int(self._offsets[i + 1] - self._offsets[i])


def load_sidecar(index_dir: Path, leaf: Any) -> Sidecar | None:
    """The sidecar of a segment reader, or None when it has none. Raises
    SidecarError when it has one that is damaged or of another format."""
    from .whoosh_adapter import segment as segment_of

    segment = segment_of(leaf)
    if segment is None:
        return None
    path = sidecar_path(index_dir, segment)
    if not path.exists():
        return None
    try:
        return Sidecar(path, leaf.doc_count_all())
    except (OSError, struct.error) as exc:
        raise SidecarError(str(exc)) from None
