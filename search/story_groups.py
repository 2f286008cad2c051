"""Stories at search time: grouping matches by story, and what a hit says
about its story (id, size, the other outlets, the dates it spans)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from .index_arrays import IndexArrays
from .results import StoryInfo, StoryMember
from .schema import MISSING
from .story_store import StoryLabels, load_labels

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def labels(arrays: IndexArrays) -> StoryLabels | None:
    """The stories of the arrays' index generation, or None when it has none
    (an index run in progress, or one killed before it wrote them)."""

    def make() -> StoryLabels | None:
        if arrays.index_dir is None:
            return None
        return load_labels(arrays.index_dir, int(arrays.reader.generation() or 0), arrays.n)

    return arrays.memo("stories", make)


def _group_of(arrays: IndexArrays, story: StoryLabels) -> np.ndarray:
    """A group number per document: its story, or a group of its own."""
    return arrays.memo("story:group", lambda: np.where(
        story.label >= 0, story.label, -1 - np.arange(arrays.n, dtype=np.int64)).astype(np.int64))


def representatives(arrays: IndexArrays, matched: np.ndarray, key: np.ndarray,
                    story: StoryLabels, want: int) -> tuple[np.ndarray, int]:
    """(the best matching member of each of the `want` best stories, in
    order; how many stories match). A story ranks by its best member (by
    `key`, smaller first; ties by newest, then path).

    Only the best documents are sorted: if the best M matching documents
    (with every document tied with the M-th) hold `want` stories, no other
    story can rank among them; M grows until they do."""
    if not len(matched) or want <= 0:
        return matched[:0], _count(arrays, matched, story)
    groups = _group_of(arrays, story)
    keys = key[matched]
    size = min(len(matched), max(4 * want, 64))
    while True:
        if size < len(matched):
            kth = np.partition(keys, size - 1)[size - 1]
            cand = matched[keys <= kth]
        else:
            cand = matched
        ts = arrays.numeric_column("ts", MISSING)[cand]
        newest = np.where(ts == MISSING, np.iinfo(np.int64).max, -ts)
        ranked = cand[np.lexsort((arrays.path_rank()[cand], newest, key[cand]))]
        _, first = np.unique(groups[ranked], return_index=True)
        reps = ranked[np.sort(first)]
        if len(reps) >= want or len(cand) == len(matched):
            return reps[:want], _count(arrays, matched, story)
        size *= 4


def _count(arrays: IndexArrays, matched: np.ndarray, story: StoryLabels) -> int:
    """How many stories the matching documents belong to (a document
    without a story counts as one)."""
    labels = story.label[matched]
    known = labels[labels >= 0]
    n = int(np.count_nonzero(np.bincount(known))) if len(known) else 0
    return n + int(np.count_nonzero(labels < 0))


def _members(arrays: IndexArrays, story: StoryLabels) -> tuple[np.ndarray, np.ndarray]:
    """(live documents ordered by story, then date, then document number;
    each story's start in it)."""

    def make() -> tuple[np.ndarray, np.ndarray]:
        live = np.flatnonzero(arrays.live & (story.label >= 0))
        ts = arrays.numeric_column("ts", MISSING)[live]
        when = np.where(ts == MISSING, np.iinfo(np.int64).max, ts)
        order = live[np.lexsort((live, when, story.label[live]))]
        starts = np.searchsorted(story.label[order], np.arange(len(story.head) + 1))
        return order, starts

    return arrays.memo("story:members", make)


def members_of(arrays: IndexArrays, story: StoryLabels, docnum: int) -> list[int]:
    """Every live document of `docnum`'s story, oldest first (undated last);
    `[docnum]` alone when it has no story."""
    label = int(story.label[docnum])
    if label < 0:
        return [docnum]
    order, starts = _members(arrays, story)
    return [int(d) for d in order[starts[label] : starts[label + 1]].tolist()]


def _sizes(arrays: IndexArrays, story: StoryLabels) -> np.ndarray:
    """Live articles per story."""
    return arrays.memo("story:sizes", lambda: np.bincount(
        story.label[arrays.live & (story.label >= 0)], minlength=len(story.head)))


def info(arrays: IndexArrays, story: StoryLabels, docnum: int, members: int | None) -> StoryInfo | None:
    """A hit's story; with `members` (grouped results) the other members
    too: at most that many listed, every provider, the dates spanned."""
    label = int(story.label[docnum])
    if label < 0:
        return None
    if members is None:
        return StoryInfo(story.ids[label], max(1, int(_sizes(arrays, story)[label])))
    order, starts = _members(arrays, story)
    everyone = order[starts[label] : starts[label + 1]]
    others = [int(d) for d in everyone.tolist() if d != docnum]
    ts = arrays.numeric_column("ts", MISSING)[everyone]
    dated = ts[ts != MISSING]
    providers: list[str] = []
    ids, names = arrays.ref_column("provider_name")
    for d in others:
        name = names[ids[d]] if ids[d] >= 0 else ""
        if name and name not in providers:
            providers.append(name)
    listed = tuple(_member(arrays, d) for d in others[:members])
    return StoryInfo(
        story.ids[label], len(everyone), listed, tuple(providers),
        _when(int(dated.min())) if len(dated) else None, _when(int(dated.max())) if len(dated) else None,
    )


def _member(arrays: IndexArrays, docnum: int) -> StoryMember:
    stored: dict[str, Any] = arrays.searcher.stored_fields(docnum)
    published = stored.get("published")
    if isinstance(published, dt.datetime):
        published = published.replace(tzinfo=dt.timezone.utc)
    raw = arrays.column_value("provider_name", docnum)
    return StoryMember(
        title=stored.get("title", "") or "",
        provider=raw.decode("utf-8", "replace") if raw else "",
        published=published,
        path=stored.get("path", "") or "",
        url=stored.get("url", "") or "",
    )


def _when(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)
