"""Contract tests: each fast reader of `search.whoosh_adapter` returns what
Whoosh's public API says, on an index with several segments and deletions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Corpus

from search import commits
from search import whoosh_adapter as wa
from search.indexer import build_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("adapter")
    corpus = Corpus(base / "c")
    words = ["power", "apps", "portal", "robots", "learning", "vision", "cloud", "data", "azure"]
    for i in range(300):
        title = " ".join(words[(i + k) % len(words)] for k in range(1 + i % 5)) + f" item{i % 13}"
        corpus.add(f"n/{i:04d}.md", title, excerpt=" ".join(words[(i * k) % 9] for k in range(i % 40)),
                   provider=f"P{i % 7}", topics=[words[i % 3], "Shared"], quality=i % 50)
    index_dir = base / "ix"
    large = commits.LARGE_SEGMENT
    commits.LARGE_SEGMENT = 50  # segments this size stay apart, as 2,000-article ones do
    try:
        build_index(index_dir, [corpus.root], commit_docs=120)  # several segments
        for i in range(0, 300, 7):  # deletions in every segment
            (corpus.root / f"n/{i:04d}.md").unlink()
        for i in range(3, 300, 11):
            corpus.add(f"n/{i:04d}.md", f"changed robots {i}", excerpt="cloud data", provider="P1")
        build_index(index_dir, [corpus.root], commit_docs=10_000)
    finally:
        commits.LARGE_SEGMENT = large
    return index_dir


@pytest.fixture(scope="module")
def reader(index: Path):  # type: ignore[no-untyped-def]
    from whoosh import index as windex

    ix = windex.open_dir(str(index))
    with ix.reader() as r:
        yield r


def test_the_pinned_whoosh_uses_the_fast_paths() -> None:
    assert wa.installed() == wa.SUPPORTED
    assert wa.fast()


def test_index_has_segments_with_deletions(reader) -> None:  # type: ignore[no-untyped-def]
    leaves = wa.leaves(reader)
    assert len(leaves) >= 2
    assert any(leaf.has_deletions() for leaf, _ in leaves)


def test_deleted_docs(reader) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        public = [d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)]
        assert wa.deleted_docs(leaf, use_fast=True).tolist() == public
        assert wa.deleted_docs(leaf, use_fast=False).tolist() == public


@pytest.mark.parametrize("column", ["ts", "year_col", "quality_col"])
def test_numeric_columns(reader, column: str) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        public = list(leaf.column_reader(column, translate=False))
        assert wa.numeric_column(leaf, column, use_fast=True).tolist() == public
        assert wa.numeric_column(leaf, column, use_fast=False).tolist() == public


def test_ref_column(reader) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        public = list(leaf.column_reader("provider_name", translate=False))
        for fast in (True, False):
            got = wa.ref_column(leaf, "provider_name", use_fast=fast)
            assert got is not None
            refs, uniques = got
            assert [uniques[r] for r in refs.tolist()] == public


@pytest.mark.parametrize("column", ["uid", "stamp"])
def test_bytes_column(reader, column: str) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        public = [bytes(v) for v in leaf.column_reader(column, translate=False)]
        assert len(public) == leaf.doc_count_all() and all(public)
        assert wa.bytes_column(leaf, column, use_fast=True) == public
        assert wa.bytes_column(leaf, column, use_fast=False) == public


@pytest.mark.parametrize("field", ["title", "excerpt", "topics"])
def test_field_lengths(reader, field: str) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        # Whoosh answers None for a document without the field
        public = [leaf.doc_field_length(d, field, 0) or 0 for d in range(leaf.doc_count_all())]
        assert wa.field_lengths(leaf, field, use_fast=True).tolist() == public
        assert wa.field_lengths(leaf, field, use_fast=False).tolist() == public


@pytest.mark.parametrize("field", ["title", "excerpt", "topics", "provider", "topic", "words"])
def test_postings(reader, field: str) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for leaf, _ in wa.leaves(reader):
        for term in list(leaf.lexicon(field))[:40]:
            m = leaf.postings(field, term)
            ids, weights = [], []
            while m.is_active():
                ids.append(m.id())
                weights.append(m.weight())
                m.next()
            fast = wa.postings(leaf, field, term, use_fast=True)
            assert fast is not None
            live = ~np.isin(fast[0], wa.deleted_docs(leaf))  # the fast path keeps deleted docs
            assert fast[0][live].tolist() == ids
            assert np.allclose(fast[1][live], weights)
            slow = wa.postings(leaf, field, term, use_fast=False)
            assert slow is not None and slow[0].tolist() == ids
            checked += 1
    assert checked >= 10
    assert wa.postings(wa.leaves(reader)[0][0], field, "no-such-term-zz") is None


@pytest.mark.parametrize("field", ["title", "excerpt"])
def test_positions(reader, field: str) -> None:  # type: ignore[no-untyped-def]
    for leaf, _ in wa.leaves(reader):
        for term in list(leaf.lexicon(field))[:25]:
            m = leaf.postings(field, term)
            public: list[tuple[int, int]] = []
            while m.is_active():
                public += [(m.id(), p) for p in m.value_as("positions")]
                m.next()
            fast = wa.positions(leaf, field, term, use_fast=True)
            assert fast is not None
            dead = set(wa.deleted_docs(leaf).tolist())
            got = [(d, p) for d, p in zip(*(a.tolist() for a in fast), strict=True) if d not in dead]
            assert got == public
            slow = wa.positions(leaf, field, term, use_fast=False)
            assert slow is not None
            assert list(zip(*(a.tolist() for a in slow), strict=True)) == public


@pytest.fixture(scope="module")
def long_postings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One segment whose common words span several postings blocks."""
    base = tmp_path_factory.mktemp("adapter-long")
    corpus = Corpus(base / "c")
    for i in range(700):
        extra = " beta" if i % 5 == 0 else ""
        corpus.add(f"n/{i:04d}.md", f"alpha gamma{extra} alpha item{i}", excerpt="alpha " * (i % 3))
    index_dir = base / "ix"
    build_index(index_dir, [corpus.root], commit_docs=10_000)
    return index_dir


@pytest.mark.parametrize("fast", [True, False])
def test_positions_within_some_documents(long_postings: Path, fast: bool) -> None:
    from whoosh import index as windex

    with windex.open_dir(str(long_postings)).reader() as reader:
        (leaf, _), = wa.leaves(reader)
        for term in ("alpha", "beta", "gamma"):
            everything = wa.positions(leaf, "title", term, use_fast=fast)
            assert everything is not None
            pairs = list(zip(*(a.tolist() for a in everything), strict=True))
            assert len({d for d, _ in pairs}) > 128  # several blocks
            for within in ([], [0], [699], [650, 651], list(range(3, 700, 7)), list(range(130, 260)),
                           [5, 5000]):
                got = wa.positions(leaf, "title", term, use_fast=fast,
                                   within=np.asarray(within, dtype=np.int64))
                assert got is not None
                wanted = set(within)
                assert list(zip(*(a.tolist() for a in got), strict=True)) == [
                    (d, p) for d, p in pairs if d in wanted]


def test_segment_names_and_toc(index: Path) -> None:
    from whoosh import index as windex

    ix = windex.open_dir(str(index))
    generation, segments = wa.current_toc(ix)
    assert generation >= 1 and segments
    with ix.reader() as r:
        for leaf, _ in wa.leaves(r):
            seg = wa.segment(leaf)
            assert seg is not None
            name = wa.segment_filename(seg, ".x")
            assert name.endswith(".x") and wa.segment_id(seg) in name


def test_searches_agree_without_the_fast_paths(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another Whoosh version: every reader takes the public API, same answers."""
    from search.searcher import Searcher, SearchRequest

    queries = ["robots", "cloud data", '"power apps"', "item1*", "provider:P3 azure", "-robots", "*"]

    def answers() -> list[object]:
        with Searcher(index) as s:
            out = []
            for q in queries:
                page = s.search(SearchRequest(q, limit=20, facets=("provider", "topic", "year")))
                out.append((page.total, [(h.path, round(h.score, 4)) for h in page.hits],
                            {k: v.values for k, v in page.facets.items()}))
            return out

    fast = answers()
    monkeypatch.setattr(wa, "fast", lambda: False)
    assert answers() == fast
