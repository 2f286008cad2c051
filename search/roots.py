"""Corpus roots: which folders a run indexes, and what the index holds of others.

Documents are keyed by corpus root + path relative to it, so the same file
reached through two roots would be two documents. A run therefore names each
folder once (duplicates are dropped), refuses folders nested in one another,
and, when the index holds articles of roots the run does not name (an older
run's folder, or one that was moved or deleted), keeps them but says so:
`search index --prune` (or `--full`) removes them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusNotFoundError, UsageError


@dataclass(frozen=True)
class KeptRoot:
    """Articles of a root that a run did not name, left in the index."""

    root: str
    articles: int
    exists: bool

    def message(self) -> str:
        """The one line a user sees about these articles."""
        why = "which no longer exists" if not self.exists else "which this run did not name"
        noun = "article" if self.articles == 1 else "articles"
        return (f"kept {self.articles} {noun} of {self.root}, {why}: "
                "'search index --prune' removes them")


def display_path(path: str) -> str:
    """A path as printable text: bytes that are not UTF-8 (kept by the OS as
    surrogate escapes) become `\\xNN`, so printing or JSON-encoding it never
    fails."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def resolve_roots(roots: Sequence[Path]) -> list[Path]:
    """The run's corpus folders, resolved, each once, in the order given.

    Raises CorpusNotFoundError for a missing folder (or one whose name is not
    UTF-8) and UsageError for folders nested in one another (their articles
    would be indexed twice).
    """
    resolved: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise CorpusNotFoundError(
                f"{root}: corpus folder not found" if not root.exists() else f"{root}: not a folder"
            )
        real = root.resolve()
        if display_path(str(real)) != str(real):
            raise CorpusNotFoundError(f"{display_path(str(real))}: corpus folder name is not valid UTF-8")
        if real not in resolved:
            resolved.append(real)
    for outer in resolved:
        for inner in resolved:
            if inner != outer and inner.is_relative_to(outer):
                raise UsageError(f"{inner} is inside {outer}: its articles would be indexed twice; "
                                 f"name only {outer}")
    return resolved


def kept_roots(roots_of_documents: Iterable[str], named: set[str]) -> list[KeptRoot]:
    """The roots other than `named` that documents belong to, with their
    article counts, in name order."""
    counts = Counter(r for r in roots_of_documents if r not in named)
    return [KeptRoot(root, n, Path(root).is_dir()) for root, n in sorted(counts.items())]
