"""Applying an index run's changes as a sequence of self-consistent commits.

The run's changes go through one Whoosh writer at a time; `Batches` commits
the open batch every `CommitPolicy.docs` changes or `CommitPolicy.seconds`
seconds of work, whichever comes first, and once at the end. An update
deletes the old version and adds the new one in the same batch, so no
committed state ever holds a document twice or misses one. Each commit is
atomic and durable (see `store` and `whoosh_adapter.durable_storage`); the
caller records its progress after each one (`on_commit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import whoosh_adapter as wa

#: commit after this many changes... (measured: see `CommitPolicy`)
COMMIT_DOCS = 5_000
#: ...or after this many seconds with uncommitted changes, whichever comes first
COMMIT_SECONDS = 10.0


class PauseHooks(Protocol):
    """The indexer's test pause points (see `search.indexer`)."""

    points: set[str]

    def wants(self, point: str) -> bool: ...

    def pause(self, point: str) -> None: ...


def _drop_empty(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for intermediate commits: no merging (a merge rewrites
    whole segments, which would make frequent commits costly), but segments
    whose documents were all replaced are dropped."""
    _ = writer
    return [s for s in segments if s.doc_count() > 0]


#: segments with at least this many documents are left alone by a run's
#: last commit (a build's periodic commits write segments of up to
#: COMMIT_DOCS documents, which need no merging), unless they are holey
LARGE_SEGMENT = 2_000
#: a segment with more than this share of deleted documents is rewritten
HOLEY_SHARE = 1 / 3


def segments_to_merge(sizes: list[tuple[int, int]]) -> list[int]:
    """Which segments a run's last commit merges, by index into `sizes`
    (each a segment's (documents, deleted documents)).

    Small segments (the one or few an incremental run adds) are merged like
    a binary counter: sorted by size, the smallest are merged while they add
    up to at least half the next one, so a document is rewritten O(log n)
    times and one run rewrites at most about LARGE_SEGMENT documents.
    Large segments are never merged with others: Whoosh's own MERGE_SMALL
    merged every segment once there were about 22 (on a 100,000-article
    index, one incremental run in twenty-odd rewrote the whole index, a
    minute's work). A segment more than HOLEY_SHARE deleted (updated
    articles leave their old versions behind) is rewritten to drop them.
    """
    small = sorted((n, i) for i, (n, _) in enumerate(sizes) if n < LARGE_SEGMENT)
    chosen: list[int] = []
    if len(small) >= 2:
        total, taken = small[0][0], 1
        while taken < len(small) and 2 * total >= small[taken][0]:
            total += small[taken][0]
            taken += 1
        if taken >= 2:
            chosen = [i for _, i in small[:taken]]
    holey = [i for i, (n, deleted) in enumerate(sizes)
             if n >= LARGE_SEGMENT and deleted > HOLEY_SHARE * n]
    return sorted(chosen + holey)


def _drop_empty_merge_some(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy for a run's last commit: segments with no live documents
    are dropped (a --full run empties every old segment), then the ones
    `segments_to_merge` picks are merged into the new segment."""
    from whoosh.reading import SegmentReader

    live = _drop_empty(writer, segments)
    merge = set(segments_to_merge([(s.doc_count_all(), s.doc_count_all() - s.doc_count()) for s in live]))
    for i in sorted(merge):
        reader = SegmentReader(writer.storage, writer.schema, live[i])
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    return [s for i, s in enumerate(live) if i not in merge]


@dataclass(frozen=True)
class CommitPolicy:
    """When to commit.

    Measured on a 20,000-article generated corpus (bench/gen_corpus.py, two
    cores, medians of 3 interleaved runs): one commit at the end took 35.6 s
    (38.3 s CPU); committing every 5,000 documents took 23.3 s (27.8 s CPU),
    every 2,000 23.4 s, every 1,000 29.3 s. Periodic commits are *faster*:
    Whoosh's posting pool keeps 128 MB in memory and beyond that sorts runs
    on disk and merges them at commit time; a 5,000-document batch stays in
    memory. Intermediate commits merge nothing, so the build ends with a few
    segments (4 for 20,000), which measured no slower to query than one.

    The time limit bounds the work an interruption loses (Ctrl-C, a kill, a
    power cut), and makes an interrupted first build keep its progress. At 10 s
    (was 30 s) it costs nothing measurable where documents arrive fast: a
    20,000-article build (same corpus, 5 interleaved rounds, `bench/durability.py`)
    took a median 26.3 s at 10 s and 27.6 s at 30 s, 4 commits each, since
    5,000 documents take less than 10 s there; it commits more often only where
    documents arrive slowly, where each commit saves more work than it costs.
    Making each commit durable (44 fsyncs in that build) took 0.09-0.22 s.
    """

    docs: int = COMMIT_DOCS
    seconds: float = COMMIT_SECONDS


class Batches:
    """Applies changes through a sequence of Whoosh writers, committing one
    self-consistent batch at a time. The run's IndexLock is held throughout,
    so the writers do not take Whoosh's lock themselves."""

    def __init__(self, ix: Any, policy: CommitPolicy, hooks: PauseHooks,
                 on_commit: Callable[[], None] | None = None) -> None:
        """`on_commit()` is called after each commit (to record progress)."""
        self.ix = ix
        self.policy = policy
        self.hooks = hooks
        self.on_commit = on_commit
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
            writer.commit(mergetype=_drop_empty_merge_some if final else _drop_empty)
        except BaseException:
            # Whoosh cleans up after an Exception, not after KeyboardInterrupt
            self._writer = None
            wa.cancel_writer(writer)
            raise
        self._writer = None
        self.changes = 0
        self.commits = number
        if self.on_commit is not None:
            self.on_commit()
        self.hooks.pause(f"committed={number}")

    def cancel(self) -> None:
        """Drop the uncommitted batch (the index stays as of the last commit)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            wa.cancel_writer(writer)
