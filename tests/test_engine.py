"""The vectorised evaluator and its helpers agree with the slow, obvious paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from search.fastpostings import load_sidecar, sync_sidecars
from search.indexer import build_index
from search.schema import text_analyzer
from search.searcher import Searcher, SearchRequest, highlight_spans


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


def _docs(index: Path) -> dict[str, dict[str, list[str]]]:
    """path -> field -> analysed tokens, straight from the stored text."""
    from search.analysis import stems

    out = {}
    with Searcher(index) as s:
        reader = s.whoosh_searcher().reader()
        for _docnum, stored in reader.iter_docs():
            out[stored["path"]] = {"title": stems(stored.get("title", "")),
                                   "excerpt": stems(stored.get("excerpt", ""))}
    return out


def _has_phrase(tokens: list[str], terms: list[str], slop: int) -> bool:
    """Terms in order with at most `slop` extra positions in all (brute force)."""
    def from_(i: int, k: int, used: int) -> bool:
        if k == len(terms):
            return True
        return any(tokens[j] == terms[k] and from_(j + 1, k + 1, used + (j - i))
                   for j in range(i, min(len(tokens), i + slop - used + 1)))
    return any(tokens[i] == terms[0] and from_(i + 1, 1, 0) for i in range(len(tokens)))


@pytest.mark.parametrize(("phrase", "terms", "fields", "slop"), [
    ('"power apps"', ["power", "app"], ("title", "excerpt"), 0),
    ('"apps power"', ["app", "power"], ("title", "excerpt"), 0),
    ('"story 12"', ["stori", "12"], ("title", "excerpt"), 0),
    ('"power apps portal"', ["power", "app", "portal"], ("title", "excerpt"), 0),
    ('title:"robots learning"', ["robot", "learn"], ("title",), 0),
    ('"cloud data"~2', ["cloud", "data"], ("title", "excerpt"), 2),
    ('"power portal"~1', ["power", "portal"], ("title", "excerpt"), 1),
])
def test_phrase_matches_equal_brute_force(big, phrase, terms, fields, slop):
    _, index = big
    docs = _docs(index)
    expected = {p for p, f in docs.items() if any(_has_phrase(f[x], terms, slop) for x in fields)}
    with Searcher(index) as s:
        page = s.search(SearchRequest(phrase, limit=1000))
        assert {h.path for h in page.hits} == expected
        assert page.total == len(expected)
        assert expected or phrase == '"apps power"'  # the rest are not vacuous


def test_negated_and_dropped_words_are_not_highlighted(corpus, index_dir):
    corpus.add("a.md", "Robots learn walking", excerpt="Robots walk")
    build_index(index_dir, [corpus.root])
    with Searcher(index_dir) as s:
        (hit,) = s.search(SearchRequest("robots -chess")).hits
        assert hit.title_spans == ((0, 6),)
        (hit,) = s.search(SearchRequest("robots zzzqx")).hits  # zzzqx dropped
        assert hit.title_spans == ((0, 6),)
        (hit,) = s.search(SearchRequest("(zzzqx AND walking) OR robots")).hits  # a failed clause
        assert hit.title_spans == ((0, 6),)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
       | st.lists(st.sampled_from(["node.js", "GPT-3", "U.S.", "3.14", "the", "state-of-the-art",
                                   "İstanbul", "e-mail", "x", "--", "a-", ".5"]), max_size=8).map(" ".join))
def test_the_indexing_fast_path_gives_the_same_terms(text):
    from search.analysis import index_terms, index_tokens, surface_tokens, surface_words

    assert index_terms(text) == [(pos, term) for pos, _, _, term in index_tokens(text)]
    assert surface_words(text) == list(dict.fromkeys(w for _, _, w in surface_tokens(text)))
