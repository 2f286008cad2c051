"""Per-segment sidecar files of posting arrays, for fast first reads.

Whoosh stores postings in pickled blocks of 128, with each posting's
positions pickled inside: reading one block costs ~100-150 µs, so a common
word in a 20,000-article index (150 blocks per field) takes milliseconds
before any scoring starts. After each commit the indexer writes, next to each
new segment, a `<segment>.fpost` file with the document numbers and term
frequencies of every term long enough to span several blocks, as flat arrays
that the query engine slices without unpickling anything.

The sidecar is derived data and strictly optional: it is named after its
segment (so Whoosh deletes it with the segment), written atomically, checked
against the segment's document count, and any problem makes the engine fall
back to reading Whoosh's postings. Segments are immutable, so a sidecar never
goes stale.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SUFFIX = ".fpost"
MAGIC = b"FPOST1\n"
#: terms with fewer postings than this are read from Whoosh (one block, cheap)
MIN_POSTINGS = 128
#: fields whose postings the engine reads on every query
FIELDS = ("title", "excerpt", "topics", "provider", "topic", "words")


def sidecar_path(index_dir: Path, segment: Any) -> Path:
    from .whoosh_adapter import segment_filename

    return Path(index_dir) / segment_filename(segment, SUFFIX)


def write_sidecar(index_dir: Path, leaf: Any, segment: Any) -> Path:
    """Write the sidecar for one segment (reader `leaf`); atomic."""
    from . import whoosh_adapter as wa

    keys: list[bytes] = []
    id_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    offsets = [0]
    for field in FIELDS:
        if field not in leaf.schema.names():
            continue
        for btext, info in wa.terms_with_info(leaf, field):
            if info.doc_frequency() < MIN_POSTINGS or b"\x00" in btext or b"\x01" in btext:
                continue  # short lists are cheap to read; separators must stay unambiguous
            ids, tfs = wa.read_matcher(leaf.postings(field, btext))
            keys.append(field.encode() + b"\x00" + btext)
            id_parts.append(ids.astype(np.uint32))
            tf_parts.append(tfs.astype(np.float32))
            offsets.append(offsets[-1] + len(ids))
    ids_all = np.concatenate(id_parts) if id_parts else np.zeros(0, np.uint32)
    tfs_all = np.concatenate(tf_parts) if tf_parts else np.zeros(0, np.float32)
    header = json.dumps({
        "doccount": leaf.doc_count_all(),
        "terms": len(keys),
        "postings": len(ids_all),
    }).encode()
    blob = b"\x01".join(keys)
    target = sidecar_path(index_dir, segment)
    fd, tmp = tempfile.mkstemp(prefix=".fpost-", dir=index_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC)
            fh.write(struct.pack("<III", len(header), len(blob), len(offsets)))
            fh.write(header)
            fh.write(blob)
            _pad(fh)
            fh.write(np.asarray(offsets, dtype=np.int64).tobytes())
            fh.write(ids_all.tobytes())
            fh.write(tfs_all.tobytes())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; index files are world-readable
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def _pad(fh: Any) -> None:
    # align the arrays to 8 bytes so they can be viewed without copying
    pad = (-fh.tell()) % 8
    fh.write(b"\x00" * pad)


def sync_sidecars(index_dir: Path) -> int:
    """Write missing sidecars for the index's current segments; returns how
    many were written. Safe to run at any time (derived, atomic files)."""
    from whoosh import index

    from . import whoosh_adapter as wa

    ix = index.open_dir(str(index_dir))
    written = 0
    with ix.reader() as reader:
        for leaf, _ in wa.leaves(reader):
            segment = wa.segment(leaf)
            if segment is None or sidecar_path(index_dir, segment).exists():
                continue
            write_sidecar(index_dir, leaf, segment)
            written += 1
    return written


class Sidecar:
    """A loaded sidecar: `get(field, text)` → (ids, tfs) or None."""

    def __init__(self, path: Path, doccount: int) -> None:
        data = np.memmap(path, dtype=np.uint8, mode="r")
        raw = bytes(data[: len(MAGIC) + 12])
        if raw[: len(MAGIC)] != MAGIC:
            raise ValueError("not a sidecar")
        hlen, blen, olen = struct.unpack("<III", raw[len(MAGIC):])
        pos = len(MAGIC) + 12
        header = json.loads(bytes(data[pos : pos + hlen]))
        if header["doccount"] != doccount:
            raise ValueError("sidecar does not match its segment")
        pos += hlen
        blob = bytes(data[pos : pos + blen])
        pos += blen
        pos += (-pos) % 8
        self._offsets = np.frombuffer(data, dtype=np.int64, count=olen, offset=pos)
        pos += 8 * olen
        total = header["postings"]
        self._ids = np.frombuffer(data, dtype=np.uint32, count=total, offset=pos)
        pos += 4 * total
        self._tfs = np.frombuffer(data, dtype=np.float32, count=total, offset=pos)
        keys = blob.split(b"\x01") if blob else []
        self._index = {k: i for i, k in enumerate(keys)}

    def get(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        i = self._index.get(field.encode() + b"\x00" + btext)
        if i is None:
            return None
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return self._ids[start:end].astype(np.int64), self._tfs[start:end]


def load_sidecar(index_dir: Path, leaf: Any) -> Sidecar | None:
    """The sidecar of a segment reader, or None when absent or unusable."""
    from .whoosh_adapter import segment as segment_of

    segment = segment_of(leaf)
    if segment is None:
        return None
    path = sidecar_path(index_dir, segment)
    try:
        return Sidecar(path, leaf.doc_count_all())
    except (OSError, ValueError, KeyError, struct.error):
        return None
