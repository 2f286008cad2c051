"""The indexer: full builds, incremental runs, skips, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Corpus

from search.errors import CorpusNotFoundError, IndexBusyError, IndexIncompatibleError
from search.indexer import build_index
from search.searcher import Searcher, SearchRequest
from search.store import META_FILENAME


def paths(index_dir: Path, query: str = "*") -> list[str]:
    with Searcher(index_dir) as s:
        page = s.search(SearchRequest(query, limit=1000, sort="newest"))
        return sorted(h.path for h in page.hits)


def test_full_build_counts(news: Corpus, index_dir: Path):
    report = build_index(index_dir, [news.root])
    assert (report.indexed, report.updated, report.removed, report.unchanged) == (6, 0, 0, 0)
    assert report.documents == 6 and not report.skipped
    assert len(paths(index_dir)) == 6


def test_rerun_without_changes_touches_nothing(built: Path, news: Corpus):
    report = build_index(built, [news.root])
    assert (report.indexed, report.updated, report.removed, report.unchanged) == (0, 0, 0, 6)


def test_incremental_add_change_delete(built: Path, news: Corpus):
    changed = news.root / "_news/2021-03-01-portals.md"
    text = changed.read_text().replace("Power Apps portals FAQs", "Portals questions answered")
    changed.write_text(text)
    news.touch_later(changed)
    (news.root / "_news/2020-01-10-chips.md").unlink()
    news.add("_news/2024-01-01-new.md", "Quantum computers arrive", provider="Nature")

    report = build_index(built, [news.root])
    assert (report.indexed, report.updated, report.removed, report.unchanged) == (1, 1, 1, 4)
    assert report.documents == 6
    assert paths(built, "quantum") == ["_news/2024-01-01-new.md"]
    assert paths(built, "chips") == []
    assert paths(built, "FAQs") == []
    assert paths(built, "questions answered") == ["_news/2021-03-01-portals.md"]


def test_touched_but_identical_file_is_unchanged(built: Path, news: Corpus):
    news.touch_later(news.root / "_news/2021-05-02-mobile.md")
    report = build_index(built, [news.root])
    assert (report.updated, report.unchanged) == (0, 6)


def test_file_turning_broken_is_removed_and_reported(built: Path, news: Corpus):
    broken = news.root / "_news/2021-05-02-mobile.md"
    broken.write_text("---\ntitle: [oops\n---\n")
    news.touch_later(broken)
    skipped: list[tuple[str, str]] = []
    report = build_index(built, [news.root], on_skip=lambda p, r: skipped.append((p, r)))
    assert report.removed == 1 and len(report.skipped) == 1
    assert skipped[0][0].endswith("2021-05-02-mobile.md")
    assert skipped[0][1].startswith("invalid YAML")
    assert paths(built, "mobile") == []


def test_broken_files_never_stop_the_run(corpus: Corpus, index_dir: Path):
    corpus.add("good.md", "Good article")
    corpus.write("bad-yaml.md", "---\ntitle: : :\n  - x\n---\n")
    corpus.write("binary.md", b"\x00\x01\x02\xff" * 100)
    corpus.write("none.md", "no front matter")
    report = build_index(index_dir, [corpus.root])
    assert report.indexed == 1 and len(report.skipped) == 3
    assert paths(index_dir) == ["good.md"]


def test_full_rebuild(built: Path, news: Corpus):
    report = build_index(built, [news.root], full=True)
    assert report.indexed == 6 and report.documents == 6


def test_two_roots_with_same_relative_paths(tmp_path: Path, index_dir: Path):
    a, b = Corpus(tmp_path / "a"), Corpus(tmp_path / "b")
    a.add("_news/x.md", "Alpha story")
    b.add("_news/x.md", "Beta story")
    report = build_index(index_dir, [a.root, b.root])
    assert report.documents == 2
    # re-indexing only root a leaves root b's documents alone
    (a.root / "_news/x.md").unlink()
    report = build_index(index_dir, [a.root])
    assert report.removed == 1 and report.documents == 1
    assert paths(index_dir, "beta") == ["_news/x.md"]


def test_missing_corpus(index_dir: Path, tmp_path: Path):
    with pytest.raises(CorpusNotFoundError):
        build_index(index_dir, [tmp_path / "nope"])


def test_meta_records_roots_and_time(built: Path, news: Corpus):
    meta = json.loads((built / META_FILENAME).read_text())
    assert meta["roots"] == [news.root.resolve().as_posix()]
    assert meta["documents"] == 6 and meta["last_indexed"]


def test_incompatible_index_requires_full(built: Path, news: Corpus):
    meta_path = built / META_FILENAME
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = 999
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(IndexIncompatibleError, match="--full"):
        build_index(built, [news.root])
    assert build_index(built, [news.root], full=True).documents == 6


def test_busy_index(built: Path, news: Corpus):
    from whoosh import index

    ix = index.open_dir(str(built))
    writer = ix.writer()
    try:
        with pytest.raises(IndexBusyError, match="busy"):
            build_index(built, [news.root], lock_timeout=0.2)
    finally:
        writer.cancel()
    assert build_index(built, [news.root]).unchanged == 6


def test_parallel_parse_matches_serial(tmp_path: Path):
    from search import indexer

    corpus = Corpus(tmp_path / "c")
    for i in range(40):
        corpus.add(f"n/{i:03d}.md", f"Story number {i} about topic{i % 5}", provider=f"P{i % 3}")
    corpus.write("n/bad.md", "---\n: [\n---\n")
    old = indexer.PARALLEL_THRESHOLD
    indexer.PARALLEL_THRESHOLD = 10
    try:
        par = build_index(tmp_path / "i1", [corpus.root], workers=2)
    finally:
        indexer.PARALLEL_THRESHOLD = old
    ser = build_index(tmp_path / "i2", [corpus.root], workers=1)
    assert (par.indexed, len(par.skipped)) == (ser.indexed, len(ser.skipped)) == (40, 1)
    assert paths(tmp_path / "i1") == paths(tmp_path / "i2")


def _logged_parse(job):  # type: ignore[no-untyped-def]
    """A stand-in parser (runs in the forked workers): logs each job it takes."""
    import os

    from search import indexer

    with open(os.environ["PARSE_LOG"], "a") as fh:
        fh.write(job.relpath + "\n")
    return indexer._Parsed(job.relpath, None, "logged")


def test_parser_workers_stay_a_bounded_window_ahead_of_the_writer(tmp_path, monkeypatch):
    """Parsed articles wait in the writer's process until it takes them: the
    workers may run only a few chunks ahead (a pool's imap ran all of a 100k
    corpus ahead, 1.2 GiB), and every job still comes back, in order."""
    import time

    from search import indexer

    log = tmp_path / "parsed.log"
    log.touch()
    monkeypatch.setenv("PARSE_LOG", str(log))
    monkeypatch.setattr(indexer, "_parse_job", _logged_parse)
    monkeypatch.setattr(indexer, "PARSE_CHUNK", 4)
    monkeypatch.setattr(indexer, "PARSE_WINDOW", 1)
    monkeypatch.setattr(indexer, "PARALLEL_THRESHOLD", 10)
    jobs = [indexer._Job(f"/nonexistent/{i}", f"{i:03d}", "") for i in range(200)]
    results = indexer._parse_all(jobs, 2)
    got = [next(results).digest]
    time.sleep(1.0)  # time enough for unbounded workers to parse everything
    ahead = len(log.read_text().split())
    assert ahead <= 4 * 3  # two chunks submitted at first, one more for the one taken
    got += [p.digest for p in results]
    assert got == [job.relpath for job in jobs]
