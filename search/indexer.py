"""Corpus folders → Whoosh index, incrementally.

A run walks the corpus roots, compares each file with what the index holds
(size and mtime first, then a content hash), parses only new and changed files
(in worker processes when there are many), and applies every addition, update
and removal in one Whoosh commit. Whoosh commits are atomic (the new table of
contents replaces the old one last), so a run killed at any point leaves the
index as of the previous commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .documents import Article, CorpusFile, parse_article, walk_corpus
from .errors import (
    CorpusNotFoundError,
    IndexBusyError,
    IndexWriteError,
    SkipFile,
)
from .schema import MISSING, MISSING32, MULTI_SEP
from .store import IndexMeta, open_index, open_or_create_index, write_meta

#: how long a second indexer waits for the lock before giving up
DEFAULT_LOCK_TIMEOUT = 10.0
#: below this many files to parse, worker processes cost more than they save
PARALLEL_THRESHOLD = 400

SkipCallback = Callable[[str, str], None]
ProgressCallback = Callable[[int, int], None]


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
    except (ValueError, UnicodeDecodeError):
        return -1, -1, ""


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


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
        with open(job.abspath, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as exc:
        return _Parsed("", None, f"cannot read file ({exc.strerror or exc})")
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


def _parse_all(jobs: Sequence[_Job], workers: int) -> Iterator[_Parsed]:
    """Parse jobs in order, with a process pool when it pays off."""
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        for job in jobs:
            yield _parse_job(job)
        return
    import multiprocessing

    # fork is cheapest and safe here: workers only read files and parse YAML
    ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
    pool = (ctx or multiprocessing).Pool(workers)
    try:
        yield from pool.imap(_parse_job, jobs, chunksize=64)
    finally:
        pool.terminate()
        pool.join()


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


def _existing_stamps(reader: Any, roots: set[str]) -> dict[str, tuple[int, bytes]]:
    """uid → (docnum, stamp) for live documents under the given roots."""
    if reader.doc_count_all() == 0:
        return {}  # an empty index's reader has no columns at all
    uids = reader.column_reader("uid")
    stamps = reader.column_reader("stamp")
    out: dict[str, tuple[int, bytes]] = {}
    for docnum in reader.all_doc_ids():
        uid = uids[docnum]
        uid = uid.decode() if isinstance(uid, bytes) else uid
        if uid.split(MULTI_SEP, 1)[0] in roots:
            out[uid] = (docnum, stamps[docnum])
    return out


def build_index(
    index_dir: Path,
    roots: Sequence[Path],
    *,
    full: bool = False,
    on_skip: SkipCallback | None = None,
    progress: ProgressCallback | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    workers: int | None = None,
) -> IndexReport:
    """Index the Markdown articles under `roots` into the index at `index_dir`.

    New files are added, changed ones re-indexed, deleted ones removed, the
    rest left untouched; `full=True` rebuilds from scratch. Unindexable files
    are reported through `on_skip(path, reason)` and never stop the run.
    Raises CorpusNotFoundError, IndexBusyError, IndexWriteError,
    IndexIncompatibleError or IndexCorruptError.
    """
    from whoosh.index import LockError
    from whoosh.writing import CLEAR

    started = time.perf_counter()
    resolved: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise CorpusNotFoundError(
                f"{root}: corpus folder not found" if not root.exists() else f"{root}: not a folder"
            )
        resolved.append(root.resolve())

    ix = open_or_create_index(index_dir, recreate=full)
    try:
        writer = ix.writer(timeout=lock_timeout)
    except LockError:
        raise IndexBusyError(
            f"{index_dir}: index is busy: another indexer is writing to it "
            f"(waited {lock_timeout:g}s); try again when it has finished"
        ) from None
    except OSError as exc:
        raise IndexWriteError(f"{index_dir}: cannot write index: {exc.strerror or exc}") from None

    report = IndexReport()
    committed = False
    try:
        reader = writer.reader()
        existing = {} if full else _existing_stamps(reader, {r.as_posix() for r in resolved})
        seen: set[str] = set()
        jobs: list[_Job] = []
        job_meta: list[tuple[Path, CorpusFile]] = []
        for root in resolved:
            for cf in walk_corpus(root):
                uid = make_uid(root, cf.relpath)
                seen.add(uid)
                old = existing.get(uid)
                old_digest = ""
                if old is not None:
                    size, mtime, old_digest = parse_stamp(old[1])
                    if size == cf.size and mtime == cf.mtime_ns:
                        report.unchanged += 1
                        continue
                jobs.append(_Job(str(cf.abspath), cf.relpath, old_digest))
                job_meta.append((root, cf))

        total = len(jobs)
        nworkers = workers if workers is not None else min(2, os.cpu_count() or 1)
        for i, (parsed, (root, cf)) in enumerate(zip(_parse_all(jobs, nworkers), job_meta, strict=True)):
            uid = make_uid(root, cf.relpath)
            was_indexed = uid in existing
            if parsed.article is None and not parsed.reason:
                report.unchanged += 1  # touched but same content
            elif parsed.article is None:
                report.skipped.append((str(cf.abspath), parsed.reason))
                if on_skip:
                    on_skip(str(cf.abspath), parsed.reason)
                if was_indexed:
                    writer.delete_by_term("uid", uid)
                    report.removed += 1
            else:
                size = parsed.size if parsed.size >= 0 else cf.size
                mtime = parsed.mtime_ns if parsed.mtime_ns >= 0 else cf.mtime_ns
                fields = article_fields(parsed.article, root, stamp(size, mtime, parsed.digest))
                if was_indexed:
                    writer.update_document(**fields)
                    report.updated += 1
                else:
                    writer.add_document(**fields)
                    report.indexed += 1
            if progress:
                progress(i + 1, total)

        for uid in existing.keys() - seen:
            writer.delete_by_term("uid", uid)
            report.removed += 1

        writer.commit(mergetype=CLEAR) if full else writer.commit()
        committed = True
    except OSError as exc:
        raise IndexWriteError(f"{index_dir}: cannot write index: {exc.strerror or exc}") from None
    finally:
        if not committed:
            writer.cancel()

    with open_index(index_dir).reader() as r:
        report.documents = r.doc_count()
    report.seconds = time.perf_counter() - started
    write_meta(
        index_dir,
        IndexMeta.for_run(
            roots=[r.as_posix() for r in resolved],
            documents=report.documents,
            summary=report.summary(),
        ),
    )
    return report
