"""The on-disk index: opening, creating, locking, and its metadata sidecar.

`search-meta.json` beside the Whoosh files records the schema version (so an
index from an incompatible version is refused with a remedy rather than
misread), the corpus roots, when the last run finished and, while a run is
going on, how far it got (so an interrupted build is reported as incomplete).
It is replaced atomically and durably (`durable.atomic_write`).

Crash safety rests on how Whoosh commits: segment files are written first,
then a new table of contents (`_MAIN_<generation>.toc`) is written to a
temporary name and renamed into place. Readers only follow the newest TOC, so
a process killed at any point leaves the index as of its last commit; what it
leaves behind (unreferenced segment files, temporary TOC and meta files, the
writer's scratch folder) is garbage that `remove_leftovers` deletes under the
write lock. Indexes are opened on `whoosh_adapter.durable_storage`, which
flushes every file of a commit to disk before that rename and the folder
after it, so a commit that returned also survives a power cut, and writes
each segment's checksum file, verified when the index is opened.

The write lock is Whoosh's own `MAIN_WRITELOCK` file, locked with `flock`:
the kernel releases it when its holder dies, so a lock left by a killed
process never blocks the next run. `IndexLock` holds it for a whole index
run (across several commits), so a second indexer cannot slip in between two
commits of the first.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexIncompatibleError,
    IndexNotFoundError,
    IndexWriteError,
)
from .schema import SCHEMA_VERSION, build_schema

META_FILENAME = "search-meta.json"
REBUILD_HINT = "rebuild it with `search index --full CORPUS_DIR`"
#: Whoosh's default index name: its files are `_MAIN_<gen>.toc`, `MAIN_<id>.seg`...
INDEX_NAME = "MAIN"
#: the lock file Whoosh's own writers use, so raw Whoosh writers and our runs exclude each other
LOCK_FILENAME = f"{INDEX_NAME}_WRITELOCK"
_TOC_RE = re.compile(rf"^_{INDEX_NAME}_(\d+)\.toc$")
#: a TOC being written (`_MAIN_<gen>.toc.<time>`), renamed into place on success
_TOC_TEMP_RE = re.compile(rf"^_{INDEX_NAME}_\d+\.toc\..+$")
#: how often a waiting indexer retries the lock
LOCK_POLL_SECONDS = 0.05


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class RunProgress:
    """An index run that has not finished (yet, or ever): `done` of `total`
    corpus files were settled by its last commit (`total` is 0 until the
    corpus walk has counted them). `pid` and `host` identify the process, so
    that a run still going on is not reported as stopped."""

    started: str
    done: int = 0
    total: int = 0
    pid: int = 0
    host: str = ""

    @classmethod
    def now(cls) -> RunProgress:
        import socket

        return cls(started=_now(), pid=os.getpid(), host=socket.gethostname())

    def running(self) -> bool:
        """Whether the process that started the run is still alive (as far as
        this machine can tell)."""
        import socket

        if not self.pid or self.host != socket.gethostname() or os.name == "nt":
            return False  # (on Windows, os.kill(pid, 0) would send that process a Ctrl-C)
        if self.pid == os.getpid():
            return False  # runs are synchronous: one that started here has ended (or raised)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # alive, but someone else's
            return True
        return True


@dataclass
class IndexMeta:
    """Facts about an index that Whoosh itself does not keep."""

    schema_version: int = SCHEMA_VERSION
    roots: list[str] = field(default_factory=list)
    last_indexed: str | None = None  # ISO 8601 UTC
    documents: int = 0
    summary: str = ""
    #: set while a run is going on; left set by a run that was interrupted
    run: RunProgress | None = None

    @classmethod
    def for_run(cls, roots: list[str], documents: int, summary: str) -> IndexMeta:
        return cls(roots=roots, last_indexed=_now(), documents=documents, summary=summary)

    def started(self, roots: list[str]) -> IndexMeta:
        """This metadata with a run in progress on `roots`."""
        return replace(self, roots=roots, run=RunProgress.now())


def incomplete_notice(meta: IndexMeta | None) -> str | None:
    """The line that tells a user the last index run did not finish, or None."""
    if meta is None or meta.run is None:
        return None
    run = meta.run
    if run.running():
        so_far = f" ({run.done} of {run.total} files so far)" if run.total else ""
        return f"index incomplete: an index run is in progress{so_far}"
    where = (f"after {run.done} of {run.total} files" if run.total
             else "before it had counted the corpus files")
    return f"index incomplete: the last run stopped {where}; run 'search index' to finish"


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
        run = known.get("run")
        if run is not None:
            known["run"] = RunProgress(str(run["started"]), int(run["done"]), int(run["total"]),
                                       int(run.get("pid", 0)), str(run.get("host", "")))
        return IndexMeta(**known)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def write_error(index_dir: Path, exc: OSError, what: str = "cannot write index") -> IndexWriteError:
    """A one-line IndexWriteError for an OSError met while writing the index."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason += " (free some space, then run the indexer again: it resumes from its last commit)"
    return IndexWriteError(f"{index_dir}: {what}: {reason}")


def write_meta(index_dir: Path, meta: IndexMeta) -> None:
    """Atomically and durably replace the metadata file."""
    from .durable import atomic_write

    body = json.dumps(asdict(meta), indent=2).encode()
    try:
        atomic_write(index_dir / META_FILENAME, lambda fh: fh.write(body), prefix=".meta-")
    except OSError as exc:
        raise write_error(index_dir, exc, "cannot write index metadata") from None


def _toc_generations(index_dir: Path) -> list[int]:
    try:
        names = os.listdir(index_dir)
    except OSError:
        return []
    return [int(m.group(1)) for m in map(_TOC_RE.match, names) if m]


def toc_file(index_dir: Path) -> Path | None:
    """The newest table of contents file, or None when there is none."""
    generations = _toc_generations(index_dir)
    return index_dir / f"_{INDEX_NAME}_{max(generations)}.toc" if generations else None


def index_exists(index_dir: Path) -> bool:
    """Whether `index_dir` holds a Whoosh index (a table of contents file).

    Only looks for the file: a damaged TOC still means "there is an index",
    so that opening it reports the damage (and the `--full` remedy) instead of
    "no index here" or silently building a new one over it.
    """
    return bool(_toc_generations(index_dir))


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


def damaged(index_dir: Path, exc: BaseException) -> IndexCorruptError:
    """The one-line IndexCorruptError (with the --full remedy) for a read failure."""
    detail = " ".join(str(exc).split())[:200]
    return IndexCorruptError(
        f"{index_dir}: index is damaged ({type(exc).__name__}: {detail}); {REBUILD_HINT}"
    )


def damaged_file(path: Path, problem: str) -> IndexCorruptError:
    """The one-line IndexCorruptError naming one damaged index file."""
    return IndexCorruptError(f"{path}: index file is damaged ({problem}); {REBUILD_HINT}")


#: segments whose files a reader verified, with each file's identity then
#: (size, mtime, ctime, inode): a cache, so that a cold query does not
#: checksum the whole index on every start (17 ms at 20k articles, 66 ms at 100k)
VERIFIED_FILENAME = "verified-segments.json"


def _file_identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_verified(index_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((index_dir / VERIFIED_FILENAME).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _still_verified(index_dir: Path, record: Any, names: list[str]) -> bool:
    """Whether every file of a segment is the very file verified before:
    any write to it changes its ctime, which no tool can set back."""
    if not isinstance(record, dict) or sorted(record) != sorted(names):
        return False
    try:
        return all(record[name] == _file_identity(index_dir / name) for name in names)
    except OSError:
        return False


def _remember_verified(index_dir: Path, records: dict[str, Any]) -> None:
    """Best effort (a read-only index folder is fine): a lost or stale
    record only means verifying again. Written like every index file
    (flushed, renamed, folder flushed), once per index change."""
    from .durable import atomic_write

    body = json.dumps(records).encode()
    try:
        atomic_write(index_dir / VERIFIED_FILENAME, lambda fh: fh.write(body), prefix=".verified-")
    except OSError:
        pass


def forget_verified_except(index_dir: Path, ix: Any) -> None:
    """Drop the verification records of segments the current TOC no longer
    lists (merged or deleted by an index run): best effort."""
    from . import whoosh_adapter as wa

    before = _read_verified(index_dir)
    if not before:
        return
    try:
        _, segments = wa.current_toc(ix)
    except Exception:  # noqa: BLE001 - damage is reported by whoever opens the index
        return
    live = {wa.segment_id(seg) for seg in segments}
    kept = {k: v for k, v in before.items() if k in live}
    if kept != before:
        _remember_verified(index_dir, kept)


def verify_segments(index_dir: Path, ix: Any, verified: set[str] | None = None,
                    *, remember: bool = True) -> None:
    """Check each segment of the index's current TOC against its checksum
    file, skipping (and adding to) `verified`, segment ids already checked by
    this process; segments are immutable, so once is enough. A segment whose
    files are unchanged since an earlier process verified them (the record in
    VERIFIED_FILENAME: size, mtime, ctime and inode of each file) is not read
    again; `remember=False` neither trusts nor writes that record. Raises
    IndexCorruptError naming the first damaged file. A segment without a
    checksum file (written before checksums existed) is not checked here;
    `search check` reports it (and always reads every file)."""
    from . import whoosh_adapter as wa
    from .durable import read_sums, sum_filename, verify_files

    seen = verified if verified is not None else set()
    try:
        _, segments = wa.current_toc(ix)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        raise damaged(index_dir, exc) from None
    ids = [wa.segment_id(seg) for seg in segments]
    if all(segment_id in seen for segment_id in ids):
        return
    before = _read_verified(index_dir) if remember else {}
    records: dict[str, Any] = {}
    for segment_id in ids:
        if segment_id in seen:
            if segment_id in before:
                records[segment_id] = before[segment_id]
            continue
        try:
            sums = read_sums(index_dir, segment_id)
        except ValueError as exc:
            raise damaged_file(index_dir / sum_filename(segment_id), str(exc)) from None
        if sums is not None:
            names = sorted(sums)
            if remember and _still_verified(index_dir, before.get(segment_id), names):
                records[segment_id] = before[segment_id]
            else:
                bad = verify_files(index_dir, sums)
                if bad is not None:
                    raise damaged_file(index_dir / bad[0], bad[1])
                try:
                    records[segment_id] = {name: _file_identity(index_dir / name) for name in names}
                except OSError:
                    pass
        seen.add(segment_id)
    if remember and records != before:
        _remember_verified(index_dir, records)


def open_index(index_dir: Path, *, check_version: bool = True,
               verified: set[str] | None = None) -> Any:
    """Open an existing index for reading, its segments verified against
    their checksums (see `verify_segments`); raise a named error otherwise."""
    from . import whoosh_adapter as wa

    try:
        os.listdir(index_dir)
    except PermissionError as exc:
        raise IndexCorruptError(f"{index_dir}: cannot read index: {exc.strerror}") from None
    except OSError:
        pass  # missing or not a folder: "no index here" below
    if not index_dir.exists() or not index_exists(index_dir):
        raise IndexNotFoundError(
            f"{index_dir}: no index here; build one with `search index CORPUS_DIR`"
        )
    if check_version:
        _check_version(index_dir)
    try:
        ix = wa.open_dir(str(index_dir))
    except PermissionError as exc:
        raise IndexCorruptError(f"{index_dir}: cannot read index: {exc.strerror}") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        raise damaged(index_dir, exc) from None
    verify_segments(index_dir, ix, verified)
    return ix


def _is_empty_index(index_dir: Path) -> bool:
    """True when the index's TOC is readable and lists no segments: there is
    nothing in it to lose by recreating it."""
    try:
        return bool(open_index(index_dir, check_version=False).is_empty())
    except Exception:  # noqa: BLE001 - unreadable: not known to be empty
        return False


def prepare_index_dir(index_dir: Path) -> None:
    """Create the index folder if needed and check that it is writable."""
    try:
        created = not index_dir.exists()
        index_dir.mkdir(parents=True, exist_ok=True)
        if created:
            from .durable import fsync_dir

            fsync_dir(index_dir.resolve().parent)  # the new folder's own name
    except FileExistsError:
        raise IndexWriteError(f"{index_dir}: cannot create index folder: a file is in the way") from None
    except OSError as exc:
        raise write_error(index_dir, exc, "cannot create index folder") from None
    if not index_dir.is_dir():
        raise IndexWriteError(f"{index_dir}: cannot create index folder: not a folder")
    if not os.access(index_dir, os.W_OK | os.X_OK):
        raise IndexWriteError(f"{index_dir}: index folder is not writable")


def create_index(index_dir: Path) -> Any:
    """Create a new, empty index in `index_dir` (replacing whatever is there).

    The metadata is written after the table of contents: a crash in between
    leaves an empty index without metadata, which `open_for_writing` recreates
    on the next run (an empty index has nothing to lose), never an old index
    with new metadata that would be misread.
    """
    from . import whoosh_adapter as wa

    try:
        ix = wa.create_in(str(index_dir), build_schema())
    except OSError as exc:
        raise write_error(index_dir, exc, "cannot create index") from None
    write_meta(index_dir, IndexMeta())
    return ix


def open_for_writing(index_dir: Path, recreate: bool = False) -> tuple[Any, bool]:
    """Open the index for a run, creating it when missing. Call under the lock.

    Returns (index, created). An incompatible or damaged index is replaced
    only when `recreate` is set (--full), or when it is empty anyway; a
    compatible one is always opened, so a --full rebuild keeps the old
    documents visible until it replaces them.
    """
    if index_exists(index_dir):
        try:
            return open_index(index_dir), False
        except (IndexIncompatibleError, IndexCorruptError):
            if not recreate and not _is_empty_index(index_dir):
                raise
    return create_index(index_dir), True


# ----------------------------------------------------------------- locking


class IndexLock:
    """The index's write lock, held for a whole index run.

    `flock`-based (Whoosh's FcntlLock on the `MAIN_WRITELOCK` file): the kernel
    drops it when the holding process dies, however it dies.
    """

    def __init__(self, index_dir: Path) -> None:
        from whoosh.util.filelock import FileLock

        self.index_dir = index_dir
        self._lock = FileLock(str(index_dir / LOCK_FILENAME))
        self.held = False

    @property
    def fd(self) -> int | None:
        """The open lock file descriptor (forked workers close their copy)."""
        return getattr(self._lock, "fd", None)

    def acquire(self, timeout: float, on_wait: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting at most `timeout` seconds for another writer.

        Raises IndexBusyError when it stays taken, IndexWriteError when the
        lock file cannot be created.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        try:
            while not self._lock.acquire(blocking=False):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise IndexBusyError(
                        f"{self.index_dir}: index is busy: another indexer is writing to it "
                        f"(waited {timeout:g}s); try again when it has finished"
                    )
                if on_wait is not None and not told:
                    told = True
                    on_wait(f"{self.index_dir}: another indexer is writing to this index; "
                            f"waiting up to {timeout:g}s for it to finish")
                time.sleep(min(LOCK_POLL_SECONDS, remaining))
        except OSError as exc:
            raise write_error(self.index_dir, exc, "cannot lock index") from None
        self.held = True
        if self.fd is not None:
            try:
                os.fsync(self.fd)  # empty, but every file left in the index folder is on disk
            except OSError:
                pass

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self._lock.release()
            except Exception:  # noqa: BLE001 - closing our own fd; the kernel drops the lock anyway
                pass

    def __enter__(self) -> IndexLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_leftovers(index_dir: Path, ix: Any) -> None:
    """Delete what killed runs left behind. Call under the lock, with no writer open.

    Segment files no TOC refers to and older TOCs (a commit killed before its
    TOC rename), temporary TOC and metadata files, and the writer's scratch
    folder. Best effort: a file that cannot be removed is left for next time.
    """
    from . import whoosh_adapter as wa

    try:
        names = os.listdir(index_dir)
    except OSError:
        return
    for name in names:
        path = index_dir / name
        try:
            if _TOC_TEMP_RE.match(name) or name.startswith((".meta-", ".fpost-", ".stories-",
                                                            ".verified-")):
                path.unlink()
            elif name.endswith(".tmp") and path.is_dir():
                shutil.rmtree(path)  # Whoosh's `MAIN.tmp` posting-pool scratch folder
        except OSError:
            pass
    try:
        wa.clean_unreferenced(ix)
    except Exception:  # noqa: BLE001 - cleaning is optional; the run reports real damage itself
        pass
    forget_verified_except(index_dir, ix)
