"""Corpus folders → Whoosh index, incrementally, surviving crashes.

A run takes the index's write lock (`store.IndexLock`, held until the run
ends), walks the corpus roots, compares each file with what the index holds
(size and mtime first, then a content hash), parses only new and changed files
(in worker processes when there are many), and applies every addition, update
and removal.

Crash safety. Changes are committed in batches: every `COMMIT_DOCS` changes or
`COMMIT_SECONDS` seconds, whichever comes first, and once at the end. Each
Whoosh commit is atomic (segment files first, then the new table of contents
is renamed into place), and every commit is self-consistent: an update deletes
the old version and adds the new one in the same commit, so a document is
never doubled nor missing in any committed state. A run killed at any moment
(SIGKILL included) leaves the index as of its last commit; the next run sees
the committed files as unchanged (their size, mtime and hash are stored) and
applies only what is still pending, so it converges to the same index as an
uninterrupted run. Ctrl-C cancels the uncommitted batch, releases the lock and
propagates KeyboardInterrupt (the CLI exits 130). `--full` re-parses every
file and replaces documents in place, batch by batch, so queries keep seeing
every article (old or new version) while it runs and a killed rebuild leaves a
complete, usable index; only an unreadable or incompatible index is recreated
empty first.

Test-only hooks (environment variables, read once per run; no effect unless
both of the first two are set):

* `SEARCH_TEST_PAUSE=POINT[,POINT...]` and `SEARCH_TEST_PAUSE_FILE=PATH`: at
  each named point the indexer writes `POINT PID` to PATH (atomically), then
  waits until PATH is deleted. A test waits for the file, then kills,
  interrupts or inspects the paused indexer, or deletes the file to let it go
  on. Points: `locked` (lock taken, index not yet read), `doc=N` (after the
  N-th change was handed to the writer: mid-parse), `waiting` (another
  process holds the lock; this one is about to wait for it), `commit=N` (before the
  N-th commit), `toc=N` (inside the N-th commit: segment written, TOC not
  yet), `committed=N` (after the N-th commit), `done` (after the last commit,
  before the metadata is written and the lock released).
* `SEARCH_TEST_COMMIT_DOCS=N`: commit after exactly every N changes (and never
  on time), so a test knows what each commit holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import whoosh_adapter as wa
from .documents import MAX_FILE_BYTES, Article, CorpusFile, parse_article, read_capped, walk_corpus
from .errors import CorpusNotFoundError, SearchError, SkipFile
from .schema import MISSING, MISSING32, MULTI_SEP
from .store import (
    IndexLock,
    IndexMeta,
    create_index,
    damaged,
    open_for_writing,
    prepare_index_dir,
    read_meta,
    remove_leftovers,
    write_error,
    write_meta,
)

#: how long a second indexer waits for the lock before giving up
DEFAULT_LOCK_TIMEOUT = 10.0
#: below this many files to parse, worker processes cost more than they save
PARALLEL_THRESHOLD = 400
#: commit after this many changes... (measured: see `_CommitPolicy`)
COMMIT_DOCS = 5_000
#: ...or after this many seconds with uncommitted changes, whichever comes first
COMMIT_SECONDS = 30.0

ENV_PAUSE = "SEARCH_TEST_PAUSE"
ENV_PAUSE_FILE = "SEARCH_TEST_PAUSE_FILE"
ENV_COMMIT_DOCS = "SEARCH_TEST_COMMIT_DOCS"

SkipCallback = Callable[[str, str], None]
ProgressCallback = Callable[[int, int], None]
WaitCallback = Callable[[str], None]

#: errno values that mean "reading the index failed because it is damaged"
#: rather than "writing failed" (a segment file that vanished or is cut short)
_READ_DAMAGE_ERRNOS = {errno.ENOENT, errno.ENOTDIR}


@dataclass
class IndexReport:
    """What one index run did."""

    indexed: int = 0  # new documents
    updated: int = 0  # changed files re-indexed
    removed: int = 0  # documents dropped (file deleted or now unindexable)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    documents: int = 0  # documents in the index after the run
    seconds: float = 0.0
    commits: int = 0  # Whoosh commits made (0 when nothing changed)

    def summary(self) -> str:
        return (
            f"indexed {self.indexed}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, skipped {len(self.skipped)}"
        )


def make_uid(root: Path, relpath: str) -> str:
    """The unique document id: corpus root and path relative to it."""
    return f"{root.as_posix()}{MULTI_SEP}{relpath}"


def stamp(size: int, mtime_ns: int, digest: str) -> bytes:
    return f"{size}:{mtime_ns}:{digest}".encode()


def parse_stamp(value: bytes) -> tuple[int, int, str]:
    try:
        size, mtime, digest = value.decode().split(":", 2)
        return int(size), int(mtime), digest
    except (ValueError, UnicodeDecodeError, AttributeError):
        return -1, -1, ""


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def display_path(path: str) -> str:
    """A path as printable text: bytes that are not UTF-8 (kept by the OS as
    surrogate escapes) become `\\xNN`, so printing or JSON-encoding it never
    fails."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------- test hooks


class _TestHooks:
    """Test-only pause points (see the module docstring). Inert unless both
    environment variables are set."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        spec = environ.get(ENV_PAUSE, "")
        self.file = environ.get(ENV_PAUSE_FILE, "")
        self.points = {p.strip() for p in spec.split(",") if p.strip()} if self.file else set()
        try:
            self.commit_docs = int(environ.get(ENV_COMMIT_DOCS, "") or 0)
        except ValueError:
            self.commit_docs = 0

    def wants(self, point: str) -> bool:
        return point in self.points

    def pause(self, point: str) -> None:
        """Announce `point` in the pause file and wait until a test removes it."""
        if point not in self.points:
            return
        target = Path(self.file)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(f"{point} {os.getpid()}\n", "utf-8")
        os.replace(tmp, target)  # atomic: the test never reads half a line
        while target.exists():
            time.sleep(0.01)  # interruptible: SIGINT here is a Ctrl-C at this point


# ----------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Job:
    abspath: str
    relpath: str
    old_digest: str


@dataclass(frozen=True)
class _Parsed:
    digest: str
    article: Article | None  # None: unchanged content, or skipped
    reason: str = ""  # why it was skipped; "" when not skipped
    size: int = -1
    mtime_ns: int = -1


def _parse_job(job: _Job) -> _Parsed:
    """Read, hash and parse one file (runs in worker processes too)."""
    try:
        data, st = read_capped(job.abspath)
    except SkipFile as exc:
        return _Parsed("", None, str(exc))
    digest = content_digest(data)
    if digest == job.old_digest:
        return _Parsed(digest, None, "", st.st_size, st.st_mtime_ns)
    try:
        article = parse_article(job.relpath, data)
    except SkipFile as exc:
        return _Parsed(digest, None, str(exc), st.st_size, st.st_mtime_ns)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
        return _Parsed(digest, None, f"unexpected error: {type(exc).__name__}: {exc}")
    return _Parsed(digest, article, "", st.st_size, st.st_mtime_ns)


def _die_with_parent(parent: int) -> None:
    """Make this worker exit as soon as the indexer dies, even by SIGKILL.

    Otherwise a worker notices only when it next talks to its parent, after
    finishing its current chunk of 64 files (seconds of YAML for hostile
    ones), and lingers until then.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        import signal

        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        import threading

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker_init(parent: int, close_fds: tuple[int, ...]) -> None:
    """Pool worker set-up: Ctrl-C is the parent's to handle (a terminal sends
    SIGINT to the whole process group; workers would print a traceback each),
    inherited lock descriptors are closed (the lock must die with the
    indexer, not with its slowest worker), and the worker dies with its parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by _parse_all
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    _die_with_parent(parent)


def _parse_all(jobs: Sequence[_Job], workers: int, close_fds: tuple[int, ...] = ()) -> Iterator[_Parsed]:
    """Parse jobs in order, with a process pool when it pays off."""
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        for job in jobs:
            yield _parse_job(job)
        return
    import multiprocessing
    import signal

    # fork is cheapest and safe here: workers only read files and parse YAML
    ctx: Any = multiprocessing.get_context("fork") if hasattr(os, "fork") else multiprocessing
    # SIGINT stays blocked while the pool starts, so that a Ctrl-C cannot reach a
    # worker before its initializer ignores it (each would print a traceback), and
    # the pool's helper threads never take it: it is left pending for this thread
    masking = hasattr(signal, "pthread_sigmask")
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masking else None
    try:
        pool = ctx.Pool(workers, initializer=_worker_init, initargs=(os.getpid(), close_fds))
    finally:
        if masking:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    try:
        yield from pool.imap(_parse_job, jobs, chunksize=64)
    finally:
        pool.terminate()
        pool.join()


def _checked_fields(doc: dict[str, Any]) -> str:
    """Why Whoosh would fail on this document, or "" when it is fine.

    Whoosh's add_document can leave a half-written document behind when it
    raises, so anything it would reject is caught here first.
    """
    for name, value in doc.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str):
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    return f"field {name} is not valid Unicode text"
            elif (isinstance(v, int) and name in ("quality", "quality_col", "year", "year_col")
                  and not -(2**31) <= v < 2**31):
                return f"field {name} is out of range"
    return ""


def article_fields(article: Article, root: Path, st: bytes) -> dict[str, Any]:
    """The Whoosh document for one article."""
    published = article.published
    doc: dict[str, Any] = {
        "uid": make_uid(root, article.path),
        "path": article.path,
        "root": root.as_posix(),
        "stamp": st,
        "title": article.title,
        "excerpt": article.excerpt,
        "topics": " ; ".join(article.topics),
        "words": "\n".join((article.title, article.excerpt, *article.topics)),
        "topic": MULTI_SEP.join(article.topics),
        "topic_names": MULTI_SEP.join(article.topics).encode(),
        "topics_list": list(article.topics),
        "provider_name": article.provider.encode(),
        "provider_domain": article.provider_domain,
        "url": article.url,
        "original_url": article.original_url,
        "ts": MISSING,
        "year_col": MISSING32,
        "quality_col": MISSING32 if article.quality is None else article.quality,
    }
    if article.provider:
        doc["provider"] = article.provider
    if article.type:
        doc["type"] = article.type
    if article.category:
        doc["category"] = article.category
    if published is not None:
        naive = published.astimezone(dt.timezone.utc).replace(tzinfo=None)
        doc["published"] = naive
        doc["year"] = naive.year
        doc["year_col"] = naive.year
        doc["ts"] = int(published.timestamp() * 1_000_000)
    if article.quality is not None:
        doc["quality"] = article.quality
    return doc


def _existing_stamps(reader: Any, roots: set[str] | None) -> dict[str, tuple[int, bytes]]:
    """uid → (docnum, stamp) for live documents under the given roots (all
    documents when `roots` is None).

    Reads each segment's columns whole: periodic commits leave several
    segments, and per-document lookups through a multi-segment reader cost
    a dispatch each.
    """
    if reader.doc_count_all() == 0:
        return {}  # an empty index's reader has no columns at all
    out: dict[str, tuple[int, bytes]] = {}
    for leaf, base in wa.leaves(reader):
        if leaf.doc_count_all() == 0:
            continue
        uids = list(leaf.column_reader("uid"))
        stamps = list(leaf.column_reader("stamp"))
        for docnum in leaf.all_doc_ids():
            uid = uids[docnum]
            uid = uid.decode() if isinstance(uid, bytes) else uid
            if roots is None or uid.split(MULTI_SEP, 1)[0] in roots:
                out[uid] = (base + docnum, stamps[docnum])
    return out


# ----------------------------------------------------------------- writing


def _drop_empty(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for intermediate commits: no merging (a merge rewrites
    whole segments, which would make frequent commits costly), but segments
    whose documents were all replaced are dropped."""
    _ = writer
    return [s for s in segments if s.doc_count() > 0]


def _drop_empty_merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for a run's last commit: Whoosh's default (merge small
    segments), after dropping segments with no live documents left (a --full
    run empties every old segment)."""
    from whoosh.writing import MERGE_SMALL

    return list(MERGE_SMALL(writer, _drop_empty(writer, segments)))


@dataclass(frozen=True)
class _CommitPolicy:
    """When to commit.

    Measured on a 20,000-article generated corpus (bench/gen_corpus.py, two
    cores, medians of 3 interleaved runs): one commit at the end took 35.6 s
    (38.3 s CPU); committing every 5,000 documents took 23.3 s (27.8 s CPU),
    every 2,000 23.4 s, every 1,000 29.3 s. Periodic commits are *faster*:
    Whoosh's posting pool keeps 128 MB in memory and beyond that sorts runs
    on disk and merges them at commit time; a 5,000-document batch stays in
    memory. Intermediate commits merge nothing, so the build ends with a few
    segments (4 for 20,000), which measured no slower to query than one. The
    time limit bounds the work a kill loses on slow disks or huge files.
    """

    docs: int = COMMIT_DOCS
    seconds: float = COMMIT_SECONDS


class _Batches:
    """Applies changes through a sequence of Whoosh writers, committing one
    self-consistent batch at a time. The run's IndexLock is held throughout,
    so the writers do not take Whoosh's lock themselves."""

    def __init__(self, ix: Any, policy: _CommitPolicy, hooks: _TestHooks) -> None:
        self.ix = ix
        self.policy = policy
        self.hooks = hooks
        self.commits = 0
        self.changes = 0  # in the open batch
        self.total = 0  # over the run
        self._writer: Any = None
        self._opened = 0.0

    def _current(self) -> Any:
        if self._writer is None:
            self._writer = self.ix.writer(_lk=False)
            self._opened = time.monotonic()
        return self._writer

    def _changed(self) -> None:
        self.changes += 1
        self.total += 1
        if self.hooks.points:
            self.hooks.pause(f"doc={self.total}")

    def add(self, fields: dict[str, Any], replace: bool) -> None:
        writer = self._current()
        if replace:
            writer.update_document(**fields)
        else:
            writer.add_document(**fields)
        self._changed()

    def delete(self, uid: str) -> None:
        self._current().delete_by_term("uid", uid)
        self._changed()

    def due(self) -> bool:
        if not self.changes:
            return False
        return (self.changes >= self.policy.docs
                or time.monotonic() - self._opened >= self.policy.seconds)

    def commit(self, final: bool = False) -> None:
        """Commit the open batch (nothing to do when no writer is open)."""
        writer = self._writer
        if writer is None:
            return
        number = self.commits + 1
        self.hooks.pause(f"commit={number}")
        if self.hooks.wants(f"toc={number}"):
            wa.before_toc(writer, lambda: self.hooks.pause(f"toc={number}"))
        try:
            writer.commit(mergetype=_drop_empty_merge_small if final else _drop_empty)
        except BaseException:
            # Whoosh cleans up after an Exception, not after KeyboardInterrupt
            self._writer = None
            wa.cancel_writer(writer)
            raise
        self._writer = None
        self.changes = 0
        self.commits = number
        self.hooks.pause(f"committed={number}")

    def cancel(self) -> None:
        """Drop the uncommitted batch (the index stays as of the last commit)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            wa.cancel_writer(writer)


def _os_error(index_dir: Path, exc: OSError) -> SearchError:
    """An OSError met while applying changes: a damaged index when a file it
    refers to is missing, else a write failure (full disk, permissions...)."""
    if exc.errno in _READ_DAMAGE_ERRNOS:
        return damaged(index_dir, exc)
    return write_error(index_dir, exc)


# ----------------------------------------------------------------- the run


def _resolve_roots(roots: Sequence[Path]) -> list[Path]:
    resolved: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise CorpusNotFoundError(
                f"{root}: corpus folder not found" if not root.exists() else f"{root}: not a folder"
            )
        real = root.resolve()
        if display_path(str(real)) != str(real):
            raise CorpusNotFoundError(f"{display_path(str(real))}: corpus folder name is not valid UTF-8")
        resolved.append(real)
    return resolved


def build_index(
    index_dir: Path,
    roots: Sequence[Path],
    *,
    full: bool = False,
    on_skip: SkipCallback | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    workers: int | None = None,
    on_wait: WaitCallback | None = None,
    commit_docs: int | None = None,
    commit_seconds: float | None = None,
) -> IndexReport:
    """Index the Markdown articles under `roots` into the index at `index_dir`.

    New files are added, changed ones re-indexed, deleted ones removed, the
    rest left untouched; `full=True` re-indexes everything and drops documents
    of other roots. Unindexable files are reported through
    `on_skip(path, reason)` and never stop the run. When another indexer holds
    the index, `on_wait(message)` is called once and the run waits up to
    `lock_timeout` seconds. Changes are committed every `commit_docs` changes
    or `commit_seconds` seconds (defaults: COMMIT_DOCS, COMMIT_SECONDS).
    Raises CorpusNotFoundError, IndexBusyError, IndexWriteError,
    IndexIncompatibleError, IndexCorruptError, or KeyboardInterrupt (with the
    uncommitted batch cancelled and the lock released).
    """
    started = time.perf_counter()
    resolved = _resolve_roots(roots)
    hooks = _TestHooks(os.environ)
    if hooks.commit_docs and commit_docs is None and commit_seconds is None:
        # tests ask for commits at exact document counts: no time-based commits
        commit_docs, commit_seconds = hooks.commit_docs, float("inf")
    policy = _CommitPolicy(
        docs=max(1, commit_docs or COMMIT_DOCS),
        seconds=commit_seconds if commit_seconds is not None else COMMIT_SECONDS,
    )
    prepare_index_dir(index_dir)
    lock = IndexLock(index_dir)

    def waiting(message: str) -> None:
        hooks.pause("waiting")
        if on_wait is not None:
            on_wait(message)

    lock.acquire(lock_timeout, waiting if on_wait is not None or hooks.wants("waiting") else None)
    try:
        hooks.pause("locked")
        report = _run(index_dir, resolved, full, lock, policy, hooks, on_skip, progress, workers)
        hooks.pause("done")
        write_meta(index_dir, IndexMeta.for_run(
            roots=[r.as_posix() for r in resolved],
            documents=report.documents,
            summary=report.summary(),
        ))
    finally:
        lock.release()
    report.seconds = time.perf_counter() - started
    return report


def _open_existing(
    index_dir: Path, full: bool, roots: list[Path]
) -> tuple[Any, dict[str, tuple[int, bytes]]]:
    """Open (or create) the index under the lock, clean up after killed runs,
    and read what it holds. A --full run recreates an index it cannot read."""
    ix, created = open_for_writing(index_dir, recreate=full)
    remove_leftovers(index_dir, ix)
    existing: dict[str, tuple[int, bytes]] = {}
    if not created:
        try:
            with ix.reader() as reader:
                existing = _existing_stamps(reader, None if full else {r.as_posix() for r in roots})
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
            if not full:
                raise damaged(index_dir, exc) from None
            ix = create_index(index_dir)
    meta = read_meta(index_dir)
    root_names = [r.as_posix() for r in roots]
    if meta is not None and meta.roots != root_names:
        # recorded now, so that `search index` without folders resumes a killed first run
        meta.roots = root_names
        write_meta(index_dir, meta)
    return ix, existing


def _sync_sidecars(index_dir: Path) -> None:
    """Write the posting sidecars of new segments (see fastpostings), still
    under the lock. They are derived and optional: a failure here only means
    queries read Whoosh's postings, so it must not fail the run."""
    from .fastpostings import sync_sidecars

    try:
        sync_sidecars(index_dir)
    except (OSError, ValueError, MemoryError):
        pass


def _run(
    index_dir: Path,
    resolved: list[Path],
    full: bool,
    lock: IndexLock,
    policy: _CommitPolicy,
    hooks: _TestHooks,
    on_skip: SkipCallback | None,
    progress: ProgressCallback | None,
    workers: int | None,
) -> IndexReport:
    ix, existing = _open_existing(index_dir, full, resolved)
    report = IndexReport()

    def skip(path: str, reason: str) -> None:
        shown = display_path(path)
        report.skipped.append((shown, reason))
        if on_skip:
            on_skip(shown, reason)

    seen: set[str] = set()
    jobs: list[_Job] = []
    job_meta: list[tuple[Path, CorpusFile]] = []
    for root in resolved:
        for cf in walk_corpus(root, on_error=skip):
            if display_path(cf.relpath) != cf.relpath:
                skip(str(cf.abspath), "file name is not valid UTF-8")
                continue
            if cf.size > MAX_FILE_BYTES:
                # skipped without reading: a sparse 10 GB file must cost nothing
                skip(str(cf.abspath), f"file too large ({cf.size} bytes; limit {MAX_FILE_BYTES})")
                continue
            uid = make_uid(root, cf.relpath)
            seen.add(uid)
            old = existing.get(uid)
            old_digest = ""
            if old is not None and not full:
                size, mtime, old_digest = parse_stamp(old[1])
                if size == cf.size and mtime == cf.mtime_ns:
                    report.unchanged += 1
                    continue
            jobs.append(_Job(str(cf.abspath), cf.relpath, old_digest))
            job_meta.append((root, cf))

    batches = _Batches(ix, policy, hooks)
    total = len(jobs)
    nworkers = workers if workers is not None else min(2, os.cpu_count() or 1)
    close_fds = (lock.fd,) if lock.fd is not None else ()
    try:
        with contextlib.closing(_parse_all(jobs, nworkers, close_fds)) as parsed_jobs:
            for i, (parsed, (root, cf)) in enumerate(zip(parsed_jobs, job_meta, strict=True)):
                uid = make_uid(root, cf.relpath)
                was_indexed = uid in existing
                article = parsed.article
                reason = parsed.reason
                fields: dict[str, Any] = {}
                if article is not None:
                    size = parsed.size if parsed.size >= 0 else cf.size
                    mtime = parsed.mtime_ns if parsed.mtime_ns >= 0 else cf.mtime_ns
                    fields = article_fields(article, root, stamp(size, mtime, parsed.digest))
                    reason = _checked_fields(fields)
                    if reason:
                        article = None
                if article is None and not reason:
                    report.unchanged += 1  # touched but same content
                elif article is None:
                    skip(str(cf.abspath), reason)
                    if was_indexed:
                        batches.delete(uid)
                        report.removed += 1
                else:
                    batches.add(fields, replace=was_indexed)
                    if was_indexed and not full:  # a rebuild counts every document as indexed
                        report.updated += 1
                    else:
                        report.indexed += 1
                if batches.due():
                    batches.commit()
                if progress:
                    progress(i + 1, total)

        for uid in sorted(existing.keys() - seen):
            batches.delete(uid)
            report.removed += 1
            if batches.due():
                batches.commit()
        batches.commit(final=True)
    except OSError as exc:
        batches.cancel()
        raise _os_error(index_dir, exc) from None
    except BaseException:
        batches.cancel()
        raise
    report.commits = batches.commits
    _sync_sidecars(index_dir)

    try:
        with ix.reader() as r:
            report.documents = r.doc_count()
    except OSError as exc:
        raise _os_error(index_dir, exc) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        raise damaged(index_dir, exc) from None
    return report

