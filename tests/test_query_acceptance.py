"""Issue 9's six cases on the real corpora, each against counts computed
from the corpus files (plain PyYAML plus the analyzer that defines a word),
never from our own engine."""

from __future__ import annotations

import html
import io
import json
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from conftest import SHARED_AZURE, SHARED_CORPUS, osa, requires_azure_corpus, requires_shared_corpus

from search.analysis import stem, stems, surface_words
from search.cli import main
from search.env import Env

pytestmark = pytest.mark.corpus


@lru_cache(maxsize=2)
def articles(root: Path) -> tuple[dict, ...]:
    """(path, per-field stems, words as written, topics) of every article."""
    out = []
    for path in sorted(root.rglob("*.md")):
        text = path.read_text("utf-8-sig")
        data = yaml.load(text.split("\n---", 1)[0][3:], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(data, dict) or not (data.get("title") or data.get("excerpt")):
            continue
        title = html.unescape(" ".join(str(data.get("title") or "").split()))
        excerpt = html.unescape(" ".join(str(data.get("excerpt") or "").split()))
        topics = [str(t) for t in data.get("topics") or []]
        out.append({
            "path": path.relative_to(root).as_posix(),
            "terms": set(stems(title)) | set(stems(excerpt)) | set(stems(" ; ".join(topics))),
            "words": set(surface_words(" ".join([title, excerpt, *topics]))),
            "topics": {t.strip().casefold() for t in topics},
        })
    return tuple(out)


def with_terms(root: Path, *terms: str, without: tuple[str, ...] = ()) -> set[str]:
    return {a["path"] for a in articles(root)
            if all(t in a["terms"] for t in terms) and not any(t in a["terms"] for t in without)}


def query(index: Path, text: str, *options: str) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["query", "--index", str(index), "--format", "json", "--limit", "10000",
                 "--facet-size", "0", "--no-highlight", *options, "--", text],
                Env(stdin=io.StringIO(), stdout=out, stderr=err, environ={"HOME": "/nonexistent"}))
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue())


def paths(answer: dict) -> set[str]:
    return {h["path"] for h in answer["hits"]}


@requires_azure_corpus()
def test_every_word_by_default(azure_index: Path) -> None:
    expected = with_terms(SHARED_AZURE, stem("azure"), stem("arc"))
    assert 10 < len(expected) < 500
    _, plain = query(azure_index, "azure arc")
    _, explicit = query(azure_index, "azure AND arc")
    assert plain["total"] == explicit["total"] == len(expected)
    assert paths(plain) == expected and plain["relaxed"] is None
    _, newest = query(azure_index, "azure arc", "--sort", "newest", "--limit", "10")
    assert len(newest["hits"]) == 10 and paths(newest) <= expected
    dates = [h["published"] for h in newest["hits"]]
    assert dates == sorted(dates, reverse=True)
    _, anyword = query(azure_index, "azure arc", "--match", "any", "--limit", "0")
    assert anyword["total"] == len(with_terms(SHARED_AZURE, stem("azure")) | expected)


@requires_azure_corpus()
def test_prefix_is_matched_on_words_as_written(azure_index: Path) -> None:
    _, prefix = query(azure_index, "vulnerab*")
    _, whole = query(azure_index, "vulnerability")
    assert whole["total"] > 10
    assert paths(prefix) >= paths(whole)
    written = {a["path"] for a in articles(SHARED_AZURE)
               if any(w.startswith("vulnerab") for w in a["words"])}
    assert written <= paths(prefix)
    _, applica = query(azure_index, "applica*")
    assert applica["total"] >= query(azure_index, "application")[1]["total"] > 100


@requires_azure_corpus()
def test_typo_correction_counts_and_reports(azure_index: Path) -> None:
    typed = "vulnerabilty"
    vocabulary = {w for a in articles(SHARED_AZURE) for w in a["words"]}
    near = {w for w in vocabulary if osa(typed, w) <= 2}
    assert "vulnerability" in near
    near_terms = {stem(w) for w in near}
    expected = {a["path"] for a in articles(SHARED_AZURE) if a["terms"] & near_terms}
    code, answer = query(azure_index, typed)
    assert code == 0 and answer["total"] == len(expected) and paths(answer) == expected
    assert answer["corrections"] == [{"word": typed, "used": sorted(near, key=lambda w: (
        osa(typed, w), -sum(w in a["words"] for a in articles(SHARED_AZURE)), w))}]
    out, err = io.StringIO(), io.StringIO()
    main(["query", "--index", str(azure_index), "--color", "never", "--limit", "1", typed],
         Env(stdin=io.StringIO(), stdout=out, stderr=err, environ={"HOME": "/nonexistent"}))
    assert "showing results for vulnerability (no match for vulnerabilty)" in out.getvalue()
    _, off = query(azure_index, typed, "--typos", "off")
    assert off["total"] == 0 and off["did_you_mean"] == "vulnerability"


@requires_azure_corpus()
def test_required_word_next_to_an_exclusion(azure_index: Path) -> None:
    expected = with_terms(SHARED_AZURE, stem("apps"), without=(stem("portal"),))
    _, plus = query(azure_index, "+apps -portal")
    _, explicit = query(azure_index, "apps AND NOT portal")
    assert plus["total"] == explicit["total"] == len(expected) > 50
    assert paths(plus) == expected


@requires_shared_corpus()
def test_an_explicit_and_of_one_field_means_both(tmp_path: Path) -> None:
    from search.indexer import build_index

    index = tmp_path / "index"
    build_index(index, [SHARED_CORPUS])
    both = {a["path"] for a in articles(SHARED_CORPUS) if {"ai", "power apps"} <= a["topics"]}
    either = {a["path"] for a in articles(SHARED_CORPUS) if {"ai", "power apps"} & a["topics"]}
    _, answer = query(index, 'topic:AI AND topic:"power apps"')
    assert answer["total"] == len(both) < len(articles(SHARED_CORPUS))
    _, alternatives = query(index, 'topic:AI topic:"power apps"')  # side by side: either
    assert alternatives["total"] == len(either)


def test_a_failed_clause_adds_no_score(tmp_path: Path) -> None:
    from conftest import Corpus

    from search.indexer import build_index
    from search.searcher import Searcher, SearchRequest

    corpus = Corpus(tmp_path / "c")
    corpus.add("a.md", "Power apps portal")
    corpus.add("b.md", "Portal news", excerpt="apps everywhere")
    corpus.add("c.md", "Portal weekly", excerpt="power up")
    build_index(tmp_path / "ix", [corpus.root])
    with Searcher(tmp_path / "ix") as s:
        one = s.search(SearchRequest("(zzzqx AND apps) OR portal", limit=10))
        two = s.search(SearchRequest("(zzzqx AND power) OR portal", limit=10))
        alone = s.search(SearchRequest("portal", limit=10))
    ranked = [[(h.path, h.score) for h in p.hits] for p in (one, two, alone)]
    assert ranked[0] == ranked[1] == ranked[2]


@requires_azure_corpus()
def test_grouped_by_story_on_the_whole_site(azure_index: Path) -> None:
    """Issue 10: the Cosmos DB vulnerability story is one hit (with its many
    outlets), and no story repeats down the page."""
    for options in ((), ("--match", "any")):
        _, answer = query(azure_index, "cosmos db vulnerability", "--group", "story", "--limit", "10",
                          *options)
        ids = [h["story"]["id"] for h in answer["hits"]]
        assert len(ids) == len(set(ids)) == min(10, answer["stories"])
        assert answer["hits"][0]["story"]["size"] >= 5
        assert answer["stories"] <= answer["total"]
