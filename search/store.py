"""The on-disk index: opening, creating, and its metadata sidecar.

`search-meta.json` beside the Whoosh files records the schema version (so an
index from an incompatible version is refused with a remedy rather than
misread), the corpus roots, and when the last run finished. It is replaced
atomically (write to a temporary file, then rename).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    IndexCorruptError,
    IndexIncompatibleError,
    IndexNotFoundError,
    IndexWriteError,
)
from .schema import SCHEMA_VERSION, build_schema

META_FILENAME = "search-meta.json"
REBUILD_HINT = "rebuild it with `search index --full CORPUS_DIR`"


@dataclass
class IndexMeta:
    """Facts about an index that Whoosh itself does not keep."""

    schema_version: int = SCHEMA_VERSION
    roots: list[str] = field(default_factory=list)
    last_indexed: str | None = None  # ISO 8601 UTC
    documents: int = 0
    summary: str = ""

    @classmethod
    def for_run(cls, roots: list[str], documents: int, summary: str) -> IndexMeta:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        return cls(roots=roots, last_indexed=now, documents=documents, summary=summary)


def read_meta(index_dir: Path) -> IndexMeta | None:
    """The index's metadata, or None when there is none or it is unreadable."""
    try:
        raw = json.loads((index_dir / META_FILENAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    known = {k: v for k, v in raw.items() if k in IndexMeta.__dataclass_fields__}
    try:
        return IndexMeta(**known)
    except TypeError:
        return None


def write_meta(index_dir: Path, meta: IndexMeta) -> None:
    """Atomically replace the metadata file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".meta-", dir=index_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(meta), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, index_dir / META_FILENAME)
    except OSError as exc:
        raise IndexWriteError(f"{index_dir}: cannot write index metadata: {exc.strerror or exc}") from None


def index_exists(index_dir: Path) -> bool:
    from whoosh.index import exists_in

    try:
        return index_dir.is_dir() and exists_in(str(index_dir))
    except Exception:  # noqa: BLE001 - an unreadable folder is "no index" here
        return False


def _check_version(index_dir: Path) -> None:
    meta = read_meta(index_dir)
    if meta is None:
        raise IndexIncompatibleError(
            f"{index_dir}: index has no readable {META_FILENAME} (not built by this "
            f"version of search); {REBUILD_HINT}"
        )
    if meta.schema_version != SCHEMA_VERSION:
        raise IndexIncompatibleError(
            f"{index_dir}: index format {meta.schema_version} is not the current "
            f"format {SCHEMA_VERSION}; {REBUILD_HINT}"
        )


def open_index(index_dir: Path) -> Any:
    """Open an existing index for reading; raise a named error otherwise."""
    from whoosh import index

    if not index_dir.exists():
        raise IndexNotFoundError(
            f"{index_dir}: no index here; build one with `search index CORPUS_DIR`"
        )
    if not index_exists(index_dir):
        raise IndexNotFoundError(
            f"{index_dir}: no index here; build one with `search index CORPUS_DIR`"
        )
    _check_version(index_dir)
    try:
        return index.open_dir(str(index_dir))
    except PermissionError as exc:
        raise IndexCorruptError(f"{index_dir}: cannot read index: {exc.strerror}") from None
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        raise IndexCorruptError(
            f"{index_dir}: index is damaged ({type(exc).__name__}: {exc}); {REBUILD_HINT}"
        ) from None


def open_or_create_index(index_dir: Path, recreate: bool = False) -> Any:
    """Open the index for writing, creating it (and its folder) when missing.

    An incompatible index is replaced only when `recreate` is set (--full);
    a compatible one is always opened, so a --full rebuild keeps the old
    documents visible until its commit.
    """
    from whoosh import index

    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"{index_dir}: cannot create index folder: {exc.strerror or exc}") from None
    if not os.access(index_dir, os.W_OK):
        raise IndexWriteError(f"{index_dir}: index folder is not writable")
    if index_exists(index_dir):
        try:
            return open_index(index_dir)
        except (IndexIncompatibleError, IndexCorruptError):
            if not recreate:
                raise
    write_meta(index_dir, IndexMeta())
    try:
        return index.create_in(str(index_dir), build_schema())
    except OSError as exc:
        raise IndexWriteError(f"{index_dir}: cannot create index: {exc.strerror or exc}") from None
