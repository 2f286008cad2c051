"""An interrupted index run: recorded in the metadata, reported by stats, query
and the REPL, resumed by `search index`; touched files re-stamped once.

(The real-process version, Ctrl-C after the time-based commit on
`../shared/corpus-azure`, is in test_reliability.py.)
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import Corpus

from search.cli import main
from search.env import Env
from search.indexer import build_index
from search.store import read_meta

NOTICE = "index incomplete: the last run stopped after {} of {} files; run 'search index' to finish"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdin=io.StringIO("power\n"), stdout=out, stderr=err,
                                environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def fill(corpus: Corpus, n: int) -> None:
    for i in range(n):
        corpus.add(f"_news/story-{i:03d}.md", f"Power story {i}", excerpt=f"Report {i}.")


def interrupt_after(index: Path, root: Path, jobs: int, commit_docs: int) -> None:
    """Run the indexer in-process and Ctrl-C it after `jobs` files."""

    def progress(done: int, total: int) -> None:
        if done == jobs:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(index, [root], progress=progress, commit_docs=commit_docs,
                    commit_seconds=float("inf"), workers=1)


def test_interrupted_first_build_is_reported_everywhere_until_resumed(corpus: Corpus, index_dir: Path,
                                                                      tmp_path: Path):
    fill(corpus, 40)
    interrupt_after(index_dir, corpus.root, 25, commit_docs=10)
    meta = read_meta(index_dir)
    assert meta is not None and meta.run is not None
    assert (meta.run.done, meta.run.total) == (20, 40)  # two commits of 10 made it
    notice = NOTICE.format(20, 40)

    code, out, err = cli("stats", "--index", str(index_dir))
    assert code == 0 and "documents  20" in out and f"status  {notice}" in out
    code, out, _ = cli("stats", "--index", str(index_dir), "--format", "json")
    assert json.loads(out)["incomplete"] == notice
    code, out, err = cli("query", "power", "--index", str(index_dir))
    assert code == 0 and err == f"search: {notice}\n" and "20 hits" in out
    code, out, err = cli("query", "--batch", "--index", str(index_dir))
    assert code == 0 and json.loads(err)["warning"]["message"] == notice
    assert json.loads(out)["total"] == 20

    from test_repl import drive

    session = drive(index_dir, ":quit\n", tmp_path)
    # under the banner (both wrapped between words to the terminal's width)
    banner_and_notice = " ".join(session.out.split())
    assert banner_and_notice.endswith("Ctrl-D quits " + notice)

    code, out, err = cli("index", "--index", str(index_dir))  # resumes from the recorded folder
    assert code == 0, err
    assert out.startswith("indexed 20, updated 0, removed 0, unchanged 20")
    assert read_meta(index_dir).run is None  # type: ignore[union-attr]
    code, out, err = cli("query", "power", "--index", str(index_dir))
    assert code == 0 and err == "" and "40 hits" in out
    assert "status" not in cli("stats", "--index", str(index_dir))[1]


def test_interrupted_before_any_commit_says_so(corpus: Corpus, index_dir: Path):
    fill(corpus, 12)
    interrupt_after(index_dir, corpus.root, 5, commit_docs=100)
    code, out, err = cli("query", "power", "--index", str(index_dir))
    assert code == 1 and "no hits" in out
    assert err == "search: " + NOTICE.format(0, 12) + "\n"


def test_a_run_in_progress_is_not_called_stopped(corpus: Corpus, index_dir: Path):
    """While another process is indexing, readers say so instead of "stopped"."""
    import os

    from search.store import incomplete_notice

    fill(corpus, 3)
    build_index(index_dir, [corpus.root])
    meta = read_meta(index_dir)
    assert meta is not None
    started = meta.started([str(corpus.root)])
    assert started.run is not None
    started.run.pid = os.getppid()  # alive, and not this process
    started.run.done, started.run.total = 1, 3
    assert incomplete_notice(started) == "index incomplete: an index run is in progress (1 of 3 files so far)"
    started.run.pid = 2**22 + 12345  # no such process
    assert incomplete_notice(started) == NOTICE.format(1, 3)


def test_touched_file_is_restamped_once_and_then_not_read(corpus: Corpus, index_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    from search import indexer

    fill(corpus, 3)
    build_index(index_dir, [corpus.root], workers=1)
    touched = corpus.root / "_news/story-001.md"
    corpus.touch_later(touched)
    reads: list[str] = []
    real = indexer.read_capped

    def counting(path):  # type: ignore[no-untyped-def]
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(indexer, "read_capped", counting)
    report = build_index(index_dir, [corpus.root], workers=1)
    assert reads == [str(touched)]
    assert (report.indexed, report.updated, report.unchanged) == (0, 0, 3)
    reads.clear()
    report = build_index(index_dir, [corpus.root], workers=1)
    assert reads == []  # the new time was recorded: no read, no hash
    assert report.unchanged == 3 and report.commits == 0
    code, out, _ = cli("query", "power", "--index", str(index_dir), "--format", "json")
    assert code == 0 and json.loads(out)["total"] == 3
