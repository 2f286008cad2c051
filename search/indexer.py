"""Corpus folders → Whoosh index, incrementally, surviving crashes.

A run takes the index's write lock (`store.IndexLock`, held until the run
ends), walks the corpus roots, compares each file with what the index holds
(size and mtime first, then a content hash), parses only new and changed files
(in worker processes when there are many), and applies every addition, update
and removal.

Crash safety. Changes are committed in batches (`search.commits`): every
`COMMIT_DOCS` changes or `COMMIT_SECONDS` seconds of work, whichever comes
first, and once at the end. Each Whoosh commit is atomic (segment files first,
then the new table of contents is renamed into place) and durable (flushed to
disk before that rename), and every commit is self-consistent: an update
deletes the old version and adds the new one in the same commit, so a
document is never doubled nor missing in any committed state. A run killed at
any moment (SIGKILL included) leaves the index as of its last commit; the
metadata says that a run is in progress and how many files its last commit
settled, so readers can say the index is incomplete. The next run sees the
committed files as unchanged (their size, mtime and hash are stored) and
applies only what is still pending, so it converges to the same index as an
uninterrupted run. Ctrl-C cancels the uncommitted batch, releases the lock and
propagates KeyboardInterrupt (the CLI exits 130). `--full` re-parses every
file and replaces documents in place, batch by batch, so queries keep seeing
every article (old or new version) while it runs and a killed rebuild leaves a
complete, usable index; only an unreadable or incompatible index is recreated
empty first.

Roots (`search.roots`): a run names its corpus folders (each once, none
inside another). Articles the index holds from other folders are kept and
reported (`IndexReport.kept`), or removed with `prune=True` (and `full=True`).

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import story_store
from . import whoosh_adapter as wa
from .commits import COMMIT_DOCS, COMMIT_SECONDS, Batches, CommitPolicy
from .documents import MAX_FILE_BYTES, Article, CorpusFile, parse_article, read_capped, walk_corpus
from .errors import SearchError, SkipFile
from .roots import KeptRoot, display_path, kept_roots, resolve_roots
from .schema import MISSING, MISSING32, MULTI_SEP
from .store import (
    IndexLock,
    IndexMeta,
    RunProgress,
    create_index,
    damaged,
    forget_verified_except,
    open_for_writing,
    prepare_index_dir,
    read_meta,
    remove_leftovers,
    write_error,
    write_meta,
)

__all__ = ["COMMIT_DOCS", "COMMIT_SECONDS", "IndexReport", "KeptRoot", "article_fields",
           "build_index", "display_path", "indexed_stamps", "make_uid"]

#: how long a second indexer waits for the lock before giving up
DEFAULT_LOCK_TIMEOUT = 10.0
#: below this many files to parse, worker processes cost more than they save
PARALLEL_THRESHOLD = 400
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
    #: articles of roots this run did not name, left in the index
    kept: list[KeptRoot] = field(default_factory=list)
    pruned: int = 0  # of `removed`: articles of roots this run did not name

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
    #: an unchanged article read again only for its story features (the
    #: saved story index could not be used)
    features_only: bool = False


@dataclass(frozen=True)
class _Parsed:
    digest: str
    article: Article | None  # None: skipped
    reason: str = ""  # why it was skipped; "" when not skipped
    size: int = -1
    mtime_ns: int = -1
    #: the content is what the index holds (the file was only touched)
    same: bool = False
    #: the article's story features (StoryFeatures.to_bytes, keyed by path)
    features: bytes = b""


def _parse_job(job: _Job) -> _Parsed:
    """Read, hash and parse one file (runs in worker processes too).

    A file whose content is unchanged (touched, or copied back) is parsed
    too: its document is re-written with the new size and time, so later
    runs recognise it without reading it again.
    """
    try:
        data, st = read_capped(job.abspath)
    except SkipFile as exc:
        return _Parsed("", None, str(exc))
    digest = content_digest(data)
    same = digest == job.old_digest
    try:
        article = parse_article(job.relpath, data)
    except SkipFile as exc:
        return _Parsed(digest, None, str(exc), st.st_size, st.st_mtime_ns, same)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
        return _Parsed(digest, None, f"unexpected error: {type(exc).__name__}: {exc}")
    from .stories import article_features

    return _Parsed(digest, article, "", st.st_size, st.st_mtime_ns, same,
                   article_features(article).to_bytes())


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
        # a bounded window of chunks in flight: Pool.imap parses as fast as the
        # workers can, and the writer is slower, so every parsed article piled
        # up in this process (1.2 GiB at 100k articles)
        from collections import deque

        starts = iter(range(0, len(jobs), PARSE_CHUNK))
        pending: deque[Any] = deque()

        def submit() -> None:
            start = next(starts, None)
            if start is not None:
                pending.append(pool.map_async(_parse_job, jobs[start : start + PARSE_CHUNK],
                                              chunksize=PARSE_CHUNK))

        for _ in range(PARSE_WINDOW * workers):
            submit()
        while pending:
            done = pending.popleft().get()
            submit()
            yield from done
    finally:
        _stop_pool(pool)


#: files a parser worker takes at a time, and chunks in flight per worker
PARSE_CHUNK = 64
PARSE_WINDOW = 8


#: how long stopping the parser pool may take before it is left to die
POOL_STOP_SECONDS = 10.0


def _stop_pool(pool: Any) -> None:
    """Terminate the parser pool without hanging.

    CPython's Pool.terminate kills the workers, then joins its task-feeding
    thread; when a worker was killed while holding the result queue's lock
    (an error or Ctrl-C while results stream in), that thread never gets it
    and terminate waits forever. The workers are dead either way (they also
    die with this process), so the wait is bounded.
    """
    import threading

    stopper = threading.Thread(target=pool.terminate, name="search-pool-stop", daemon=True)
    stopper.start()
    stopper.join(POOL_STOP_SECONDS)
    if not stopper.is_alive():
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


def indexed_stamps(reader: Any) -> dict[str, tuple[int, bytes]]:
    """uid → (docnum, stamp) for every live document.

    Reads each segment's columns whole: periodic commits leave several
    segments, and per-document lookups cost a file seek each.
    """
    if reader.doc_count_all() == 0:
        return {}  # an empty index's reader has no columns at all
    out: dict[str, tuple[int, bytes]] = {}
    for leaf, base in wa.leaves(reader):
        if leaf.doc_count_all() == 0:
            continue
        uids = wa.bytes_column(leaf, "uid")
        stamps = wa.bytes_column(leaf, "stamp")
        deleted = set(wa.deleted_docs(leaf).tolist())
        for docnum, (uid, stamp) in enumerate(zip(uids, stamps, strict=True)):
            if docnum not in deleted:
                out[uid.decode()] = (base + docnum, stamp)
    return out


def _os_error(index_dir: Path, exc: OSError) -> SearchError:
    """An OSError met while applying changes: a damaged index when a file it
    refers to is missing, else a write failure (full disk, permissions...)."""
    if exc.errno in _READ_DAMAGE_ERRNOS:
        return damaged(index_dir, exc)
    return write_error(index_dir, exc)


# ----------------------------------------------------------------- the run


def build_index(
    index_dir: Path,
    roots: Sequence[Path],
    *,
    full: bool = False,
    prune: bool = False,
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
    rest left untouched; `full=True` re-indexes everything. Documents of roots
    not named here are kept and listed in `IndexReport.kept`, or removed
    when `prune` or `full` is set. Unindexable files are reported through
    `on_skip(path, reason)` and never stop the run. When another indexer holds
    the index, `on_wait(message)` is called once and the run waits up to
    `lock_timeout` seconds. Changes are committed every `commit_docs` changes
    or `commit_seconds` seconds (defaults: COMMIT_DOCS, COMMIT_SECONDS).
    Raises CorpusNotFoundError, UsageError (nested roots), IndexBusyError, IndexWriteError,
    IndexIncompatibleError, IndexCorruptError, or KeyboardInterrupt (with the
    uncommitted batch cancelled and the lock released).
    """
    started = time.perf_counter()
    resolved = resolve_roots(roots)
    hooks = _TestHooks(os.environ)
    if hooks.commit_docs and commit_docs is None and commit_seconds is None:
        # tests ask for commits at exact document counts: no time-based commits
        commit_docs, commit_seconds = hooks.commit_docs, float("inf")
    policy = CommitPolicy(
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
        report = _run(index_dir, resolved, full or prune, full, lock, policy, hooks, on_skip,
                      progress, workers)
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
) -> tuple[Any, dict[str, tuple[int, bytes]], IndexMeta]:
    """Open (or create) the index under the lock, clean up after killed runs,
    read what it holds, and record in the metadata that a run on `roots` has
    started. A --full run recreates an index it cannot read."""
    ix, created = open_for_writing(index_dir, recreate=full)
    remove_leftovers(index_dir, ix)
    existing: dict[str, tuple[int, bytes]] = {}
    if not created:
        try:
            with ix.reader() as reader:
                existing = indexed_stamps(reader)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
            if not full:
                raise damaged(index_dir, exc) from None
            ix = create_index(index_dir)
            existing = {}
    # recorded now, so that `search index` without folders resumes a killed first
    # run, and so that readers can tell an interrupted run from a finished one
    meta = (read_meta(index_dir) or IndexMeta()).started([r.as_posix() for r in roots])
    write_meta(index_dir, meta)
    return ix, existing, meta


def _sync_sidecars(index_dir: Path) -> None:
    """Write the posting sidecars of new segments (see fastpostings), still
    under the lock. They are derived and optional: a failure here only means
    queries read Whoosh's postings, so it must not fail the run."""
    from .fastpostings import sync_sidecars

    try:
        sync_sidecars(index_dir)
    except (OSError, ValueError, MemoryError):
        pass


class _Progress:
    """Records in the metadata how far the run got, after each commit."""

    def __init__(self, index_dir: Path, meta: IndexMeta) -> None:
        self.index_dir = index_dir
        self.meta = meta
        self.done = 0  # corpus files settled so far
        self.total = 0  # corpus files of the run

    def record(self) -> None:
        self.meta.run = replace(self.meta.run or RunProgress.now(), done=self.done, total=self.total)
        write_meta(self.index_dir, self.meta)


def _run(
    index_dir: Path,
    resolved: list[Path],
    prune: bool,
    full: bool,
    lock: IndexLock,
    policy: CommitPolicy,
    hooks: _TestHooks,
    on_skip: SkipCallback | None,
    progress: ProgressCallback | None,
    workers: int | None,
) -> IndexReport:
    ix, existing, meta = _open_existing(index_dir, full, resolved)
    report = IndexReport()
    from .stories import StoryFeatures

    stories = story_store.start(index_dir, ix.latest_generation(), full)
    named = {r.as_posix() for r in resolved}
    others = [uid for uid in existing if uid.split(MULTI_SEP, 1)[0] not in named]
    if not prune:
        report.kept = kept_roots((uid.split(MULTI_SEP, 1)[0] for uid in others), named)
        for uid in others:
            del existing[uid]

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
                    if stories.needs_all:
                        jobs.append(_Job(str(cf.abspath), cf.relpath, old_digest, features_only=True))
                        job_meta.append((root, cf))
                    continue
            jobs.append(_Job(str(cf.abspath), cf.relpath, old_digest))
            job_meta.append((root, cf))

    tracker = _Progress(index_dir, meta)
    tracker.done = report.unchanged
    tracker.total = report.unchanged + len(jobs)
    tracker.record()
    batches = Batches(ix, policy, hooks, on_commit=tracker.record)
    total = len(jobs)
    nworkers = workers if workers is not None else min(2, os.cpu_count() or 1)
    close_fds = (lock.fd,) if lock.fd is not None else ()
    try:
        with contextlib.closing(_parse_all(jobs, nworkers, close_fds)) as parsed_jobs:
            for i, (job, parsed, (root, cf)) in enumerate(zip(jobs, parsed_jobs, job_meta, strict=True)):
                uid = make_uid(root, cf.relpath)
                features = (replace(StoryFeatures.from_bytes(parsed.features), key=uid)
                            if parsed.features else None)
                if job.features_only:
                    if parsed.article is not None and features is not None:
                        stories.upsert(features)
                    continue
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
                if article is None:
                    skip(str(cf.abspath), reason)
                    stories.remove(uid)
                    if was_indexed:
                        batches.delete(uid)
                        report.removed += 1
                else:
                    batches.add(fields, replace=was_indexed)
                    if features is not None:
                        stories.upsert(features)
                    if parsed.same and not full:
                        report.unchanged += 1  # touched: re-stamped, content as indexed
                    elif was_indexed and not full:  # a rebuild counts every document as indexed
                        report.updated += 1
                    else:
                        report.indexed += 1
                if batches.due():
                    tracker.done = tracker.total - len(jobs) + i + 1
                    batches.commit()
                if progress:
                    progress(i + 1, total)

        tracker.done = tracker.total
        for uid in sorted(existing.keys() - seen):
            batches.delete(uid)
            stories.remove(uid)
            report.removed += 1
            if uid.split(MULTI_SEP, 1)[0] not in named:
                report.pruned += 1
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
    forget_verified_except(index_dir, ix)
    try:
        story_store.finish(index_dir, ix, stories)
    except OSError as exc:
        raise _os_error(index_dir, exc) from None

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

