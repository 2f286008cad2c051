"""The vectorised engine and its helpers agree with the slow, obvious paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from search.fastpostings import load_sidecar, sync_sidecars
from search.indexer import build_index
from search.query import QueryBuilder, _rewrite_negations, _split_filters
from search.schema import build_schema, text_analyzer
from search.searcher import Searcher, SearchRequest, highlight_spans

BUILDER = QueryBuilder(build_schema())


def terms_of(q) -> set:
    return {(t.fieldname, t.text, t.boost) for t in q.leaves()} if not q.is_leaf() else {
        (q.fieldname, q.text, q.boost)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["power", "apps", "the", "AI", "face-detection", "e-mail", "2022",
                                 "Microsoft’s", "café", "x.y", "of", "New", "covid-19", "and", "or"]),
                min_size=1, max_size=12))
def test_plain_fast_path_builds_the_full_parsers_query(words):
    text = " ".join(words)
    fast = BUILDER._plain_words(text)
    assert fast is not None
    ref = _split_filters(_rewrite_negations(BUILDER.parser.parse(text, normalize=False)))
    if ref.ranked.is_leaf() and not hasattr(ref.ranked, "text"):
        assert fast.ranked.is_leaf() and not hasattr(fast.ranked, "text")  # both null
    else:
        assert terms_of(fast.ranked) == terms_of(ref.ranked)


@pytest.mark.parametrize("text", ['"phrase"', "title:x", "a AND b", "-x", "x*", "(a b)", "a:b"])
def test_syntax_takes_the_full_parser(text):
    assert BUILDER._plain_words(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_fast_highlighter_matches_the_analyzer(text):
    analyzer = text_analyzer()
    tokens = [(t.startchar, t.endchar, t.text) for t in analyzer(text, chars=True, mode="index")]
    wanted = {t[2] for t in tokens[::2]}
    expected = tuple((a, b) for a, b, t in tokens if t in wanted)
    assert highlight_spans(text, wanted) == expected


@pytest.fixture
def big(tmp_path: Path) -> tuple[Corpus, Path]:
    corpus = Corpus(tmp_path / "c")
    words = ["power", "apps", "portal", "robots", "learning", "vision", "cloud", "data"]
    for i in range(400):
        title = " ".join(words[(i + k) % len(words)] for k in range(1 + i % 4))
        corpus.add(f"n/{i:04d}.md", f"{title} story {i}", excerpt=f"About {words[i % 8]} and more",
                   provider=f"P{i % 7}", topics=[words[i % 3]])
    index = tmp_path / "ix"
    build_index(index, [corpus.root])
    return corpus, index


def test_sidecar_postings_equal_whoosh_postings(big):
    _, index = big
    sync_sidecars(index)
    with Searcher(index) as s:
        reader = s.whoosh_searcher().reader()
        leaf = reader.leaf_readers()[0][0] if hasattr(reader, "leaf_readers") else reader
        side = load_sidecar(index, leaf)
        assert side is not None
        checked = 0
        for field in ("title", "excerpt", "provider"):
            for btext in leaf.lexicon(field):
                got = side.get(field, btext)
                if got is None:
                    continue
                m = leaf.postings(field, btext)
                ids, tfs = [], []
                while m.is_active():
                    ids.append(m.id())
                    tfs.append(m.weight())
                    m.next()
                assert got[0].tolist() == ids and np.allclose(got[1], tfs)
                checked += 1
        assert checked >= 5


def test_results_identical_with_and_without_sidecar(big):
    _, index = big
    queries = ["power apps", "robots -vision", '"power apps"', "app*", "provider:P3 data", "*"]

    def run_all():
        with Searcher(index) as s:
            out = []
            for q in queries:
                page = s.search(SearchRequest(q, limit=50, facets=("provider", "topic")))
                out.append((page.total, [(h.path, h.score) for h in page.hits],
                            {k: v.values for k, v in page.facets.items()}))
            return out

    written = sorted(p.name for p in index.glob("*.fpost"))
    assert written, "the indexer writes a sidecar for its segment"
    for path in index.glob("*.fpost"):
        path.unlink()
    without = run_all()
    assert sync_sidecars(index) == 1
    assert sorted(p.name for p in index.glob("*.fpost")) == written
    assert sync_sidecars(index) == 0  # idempotent
    assert run_all() == without


def test_damaged_sidecar_is_ignored(big):
    _, index = big
    sync_sidecars(index)
    side = next(index.glob("*.fpost"))
    side.write_bytes(b"garbage")
    with Searcher(index) as s:
        assert s.search(SearchRequest("power")).total > 0


@pytest.mark.parametrize("phrase", ['"power apps"', '"apps power"', '"story 12"', '"power apps portal"',
                                    'title:"robots learning"', '"cloud data"~2'])
def test_phrase_matches_equal_whooshs(big, phrase):
    _, index = big
    with Searcher(index) as s:
        parsed = s.parse(phrase)
        expected = set(s.whoosh_searcher().docs_for_query(parsed.ranked))
        page = s.search(SearchRequest(phrase, limit=1000))
        assert page.total == len(expected)


def test_title_coverage_rewards_titles_made_of_query_words(corpus, index_dir):
    from search.engine import title_coverage

    corpus.add("full.md", "Robots learn walking")             # 3 of 3 title words in the query
    corpus.add("half.md", "Robots learn chess openings fast")  # 2 of 5
    corpus.add("none.md", "Weather report")                  # 0
    build_index(index_dir, [corpus.root])
    with Searcher(index_dir) as s:
        snap = s._snap()
        q = s.parse("robots learn walking quickly").ranked
        ones = np.ones(snap.n, dtype=np.float32)
        factors = title_coverage(snap, q, ones.copy())
        paths = [snap.column_value("path", d).decode() for d in range(snap.n)]
        by_path = dict(zip(paths, factors.tolist(), strict=True))
        t = snap.ranking.title_coverage
        assert by_path["full.md"] == pytest.approx(1 + t * 1.0)
        assert by_path["half.md"] == pytest.approx(1 + t * 2 / 5)
        assert by_path["none.md"] == pytest.approx(1.0)
        # negated words do not count
        q = s.parse("robots -walking").ranked
        factors = dict(zip(paths, title_coverage(snap, q, ones.copy()).tolist(), strict=True))
        assert factors["full.md"] == pytest.approx(1 + t / 3)
