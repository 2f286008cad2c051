"""Durable commits: what reaches the index folder is on disk before it is published.

The file system calls of real index runs are recorded in-process (os.fsync,
os.rename, os.replace, os.remove, os.unlink, wrapped to log and then do the
real call) and checked against the rules a power cut needs (see
search/durable.py): every file in the index folder has been flushed before
any rename publishes anything there; the folder is flushed after the last
rename; nothing in it is deleted before the rename that superseded it has
been flushed. Files are identified by inode, so a file flushed under its
temporary name counts once it is renamed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Corpus

from search.indexer import build_index


@dataclass
class Recorder:
    """Logs file system calls touching one folder and checks the rules as they happen."""

    folder: Path
    flushed: set[tuple[int, int]] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    #: a rename in the folder not yet followed by a flush of the folder
    unflushed_rename: str | None = None

    def _inode(self, path: Path) -> tuple[int, int]:
        st = path.lstat()
        return st.st_dev, st.st_ino

    def _in_folder(self, path: str | os.PathLike[str]) -> bool:
        return Path(os.path.abspath(path)).parent == self.folder

    def fsync(self, fd: int) -> None:
        st = os.fstat(fd)
        self.flushed.add((st.st_dev, st.st_ino))
        if stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == self._inode(self.folder):
            self.events.append("fsync folder")
            self.unflushed_rename = None

    def rename(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if not self._in_folder(dst):
            return
        self.events.append(f"rename {Path(dst).name}")
        for p in self.folder.iterdir():
            if p.is_file() and self._inode(p) not in self.flushed:
                self.violations.append(f"{p.name} not flushed when {Path(dst).name} was published")
        self.unflushed_rename = Path(dst).name

    def unlink(self, path: str | os.PathLike[str]) -> None:
        if not self._in_folder(path):
            return
        self.events.append(f"unlink {Path(path).name}")
        if self.unflushed_rename is not None:
            self.violations.append(f"{Path(path).name} deleted before the folder was flushed "
                                   f"after {self.unflushed_rename} was published")

    def finish(self) -> None:
        """The state a finished run must leave."""
        for p in self.folder.iterdir():
            if p.is_file() and self._inode(p) not in self.flushed:
                self.violations.append(f"{p.name} left in the index folder, never flushed")
        if self.unflushed_rename is not None:
            self.violations.append(f"folder not flushed after the last rename ({self.unflushed_rename})")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> Iterator[Recorder]:
    index_dir.mkdir()
    rec = Recorder(index_dir.resolve())
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace
    real_remove, real_unlink = os.remove, os.unlink

    def fsync(fd: int) -> None:
        rec.fsync(fd)
        real_fsync(fd)

    def rename(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        rec.rename(src, dst)
        return real_rename(src, dst, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        rec.rename(src, dst)
        return real_replace(src, dst, *args, **kwargs)

    def remove(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not kwargs.get("dir_fd"):
            rec.unlink(path)
        return real_remove(path, *args, **kwargs)

    def unlink(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not kwargs.get("dir_fd"):
            rec.unlink(path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "remove", remove)
    monkeypatch.setattr(os, "unlink", unlink)
    yield rec


def _corpus(corpus: Corpus, n: int, version: str = "") -> None:
    for i in range(n):
        corpus.add(f"_news/2022-01-{i % 28 + 1:02d}-story-{i}.md",
                   f"Harbour story {i} {version}", excerpt=f"The glacier report number {i}.",
                   topics=["Harbours", f"Topic {i % 3}"])


def _runs(corpus: Corpus, index_dir: Path) -> None:
    """A first build in several commits, then an incremental run with
    updates and deletions (old segments and TOCs get deleted)."""
    _corpus(corpus, 60)
    build_index(index_dir, [corpus.root], commit_docs=20, workers=1)
    _corpus(corpus, 30, "v2")
    for i in range(50, 60):
        next(corpus.root.glob(f"_news/*-story-{i}.md")).unlink()
    build_index(index_dir, [corpus.root], commit_docs=15, workers=1)


def test_every_published_file_is_flushed_first_and_the_folder_after(recorder: Recorder,
                                                                    corpus: Corpus, index_dir: Path):
    _runs(corpus, index_dir)
    recorder.finish()
    assert recorder.violations == []
    assert any(e.startswith("rename _MAIN_") for e in recorder.events)  # TOC commits seen
    assert any(e.startswith("unlink _MAIN_") for e in recorder.events)  # old TOCs deleted
    assert recorder.events[-1] == "fsync folder"
    names = {p.suffix for p in index_dir.iterdir()}
    assert {".seg", ".sum", ".fpost", ".toc", ".json"} <= names


def test_the_recorder_catches_a_storage_that_does_not_flush(recorder: Recorder, corpus: Corpus,
                                                            index_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    """The check above can fail: with Whoosh's plain FileStorage (no flush
    before the TOC rename) it reports the unflushed segment files."""
    from whoosh.filedb.filestore import FileStorage

    from search import whoosh_adapter

    monkeypatch.setattr(whoosh_adapter, "durable_storage", FileStorage)
    _runs(corpus, index_dir)
    recorder.finish()
    assert any(".seg not flushed when _MAIN_" in v for v in recorder.violations), recorder.violations
    assert any("left in the index folder, never flushed" in v for v in recorder.violations)


def test_each_segment_gets_a_checksum_of_its_files(built: Path):
    import json

    from search.durable import file_checksum

    sums = list(built.glob("MAIN_*.sum"))
    segments = list(built.glob("MAIN_*.seg"))
    assert sums and len(sums) == len(segments)
    for path in sums:
        files = json.loads(path.read_text())["files"]
        assert files, path
        for name, want in files.items():
            assert file_checksum(built / name) == (want["size"], want["crc32"])
