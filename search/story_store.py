"""Stories in the index folder: kept up to date by each index run, read by searches.

Two kinds of files sit beside Whoosh's:

* `stories.npz`: the `StoryIndex` (every article's story features, the
  document frequencies, the links), keyed by document uid, with the index
  generation it was saved for. An index run loads it, applies the run's
  additions, changes and removals (`StoryIndex.update`: the same stories as
  a full build), and saves it after its last commit. When it is missing,
  unreadable or saved for another generation (a run killed after a commit),
  the run computes every article's features again and builds it whole.
* `stories-<generation>.npz`: for the searcher, each document number's story
  in that generation (segment merges renumber documents), each story's
  earliest member and id. Written with the story index; older ones are
  deleted. A search of a generation without one (during an index run, or
  after a crash) has no stories until the next run finishes.

Both are written durably (fsync, rename, folder fsync), like every index file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .stories import StoryFeatures, StoryIndex

STORY_FILE = "stories.npz"
LABELS_PREFIX = "stories-"


def story_id(uid: str) -> str:
    """A story's id: derived from its earliest member's uid (stable while the
    membership is), 16 hex digits."""
    return hashlib.blake2b(uid.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def labels_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"{LABELS_PREFIX}{generation}.npz"


@dataclass
class StoryLabels:
    """Each document's story in one index generation."""

    label: np.ndarray  # int32 per document number, -1: no story (a deleted document)
    head: np.ndarray  # int32 per story: its earliest member's document number
    ids: list[str]  # per story


def load_labels(index_dir: Path, generation: int, n_docs: int) -> StoryLabels | None:
    """The stories of a generation, or None when that generation has none."""
    try:
        with np.load(labels_path(index_dir, generation), allow_pickle=False) as data:
            label, head, ids = data["label"], data["head"], data["ids"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if len(label) != n_docs or len(head) != len(ids) or (len(label) and label.max() >= len(head)):
        return None
    return StoryLabels(label.astype(np.int32), head.astype(np.int32), [str(i) for i in ids])


@dataclass
class StoryRun:
    """One index run's story changes: collected while documents are written,
    applied after the last commit."""

    base: StoryIndex | None  # None: build from every article's features
    removed: set[str] = field(default_factory=set)
    upserted: dict[str, StoryFeatures] = field(default_factory=dict)

    @property
    def needs_all(self) -> bool:
        """Whether every article's features must be computed (no usable base)."""
        return self.base is None

    def remove(self, uid: str) -> None:
        self.removed.add(uid)
        self.upserted.pop(uid, None)

    def upsert(self, features: StoryFeatures) -> None:
        self.removed.discard(features.key)
        self.upserted[features.key] = features

    def changed(self) -> bool:
        return self.base is None or bool(self.removed or self.upserted)


def start(index_dir: Path, generation: int, full: bool) -> StoryRun:
    """The story state a run starts from: the saved story index when it
    describes `generation` (the index as the run finds it), else none."""
    from .errors import IndexCorruptError, IndexIncompatibleError
    from .stories import StoryIndex

    if full:
        return StoryRun(None)
    try:
        base = StoryIndex.load(index_dir / STORY_FILE)
    except (IndexCorruptError, IndexIncompatibleError, OSError):
        return StoryRun(None)
    return StoryRun(base if base.generation == generation else None)


def finish(index_dir: Path, ix: Any, run: StoryRun) -> None:
    """Apply the run's changes, save the story index and the stories of the
    index's current generation (both durably), delete older story files."""
    from .durable import atomic_write
    from .stories import StoryIndex

    generation = int(ix.latest_generation() or 0)
    target = labels_path(index_dir, generation)
    if not run.changed() and target.is_file():
        return
    with ix.reader() as reader:
        uids = _uids(reader)
    if run.base is None:
        stories_index = StoryIndex.build(run.upserted.values())
    else:
        stories_index = run.base.update(run.removed, run.upserted.values())
    live = {u for u in uids if u is not None}
    extra = set(stories_index.table.keys.tolist()) - live
    if extra:  # articles the index no longer has (say, features of a skipped file)
        stories_index = stories_index.update(extra, ())
    atomic_write(index_dir / STORY_FILE, lambda fh: stories_index.write(fh, generation),
                 prefix=".stories-")
    label, head, ids = _labels(uids, stories_index.stories())
    atomic_write(target, lambda fh: np.savez(fh, label=label, head=head, ids=np.array(ids, dtype="U16")),
                 prefix=".stories-")
    for old in index_dir.glob(f"{LABELS_PREFIX}*.npz"):
        if old != target:
            try:
                old.unlink()
            except OSError:
                pass


def _uids(reader: Any) -> list[str | None]:
    """Each document number's uid (None for a deleted document)."""
    from . import whoosh_adapter as wa

    out: list[str | None] = [None] * reader.doc_count_all()
    for leaf, offset in wa.leaves(reader):
        if leaf.doc_count_all() == 0:
            continue
        deleted = set(wa.deleted_docs(leaf).tolist())
        for docnum, value in enumerate(wa.bytes_column(leaf, "uid")):
            if docnum not in deleted:
                out[offset + docnum] = value.decode()
    return out


def _labels(uids: Iterable[str | None], stories: dict[str, str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    uids = list(uids)
    label = np.full(len(uids), -1, dtype=np.int32)
    number: dict[str, int] = {}
    heads: list[int] = []
    head_uids: list[str] = []
    position = {u: d for d, u in enumerate(uids) if u is not None}
    for docnum, uid in enumerate(uids):
        if uid is None or uid not in stories:
            continue
        key = stories[uid]
        n = number.get(key)
        if n is None:
            n = number[key] = len(heads)
            heads.append(position.get(key, docnum))
            head_uids.append(key)
        label[docnum] = n
    return label, np.array(heads, dtype=np.int32), [story_id(u) for u in head_uids]
