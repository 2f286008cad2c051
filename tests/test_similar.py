"""`search similar`: the articles most like a given one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import Corpus

from search.cli import main
from search.env import Env
from search.errors import NotInIndexError
from search.indexer import build_index
from search.query import Filters
from search.searcher import Searcher, SearchRequest


@pytest.fixture
def news(tmp_path: Path) -> tuple[Corpus, Path]:
    corpus = Corpus(tmp_path / "c")
    story = "Contoso breach exposes payroll records of hospital staff"
    corpus.add("a/2021-03-01-source.md", story, excerpt="Attackers stole payroll records from Contoso "
               "hospital systems, the company said.", provider="Daily A",
               published="2021-03-01T10:00:00Z", topics=["Security"])
    corpus.add("a/2021-03-01-copy.md", "Hospital payroll records stolen in Contoso breach",
               excerpt="Contoso says payroll records of hospital staff were stolen by attackers.",
               provider="Wire B", published="2021-03-01T15:00:00Z", topics=["Security"])
    corpus.add("a/2021-03-02-follow.md", "Contoso hospital breach: what staff should do",
               excerpt="After the payroll breach at Contoso, hospital staff are told to watch accounts.",
               provider="Paper C", published="2021-03-02T09:00:00Z", topics=["Security"])
    corpus.add("a/2019-06-01-old.md", "Contoso opens a new hospital wing",
               excerpt="The Contoso hospital wing adds 200 beds.", provider="Paper C",
               published="2019-06-01T09:00:00Z", topics=["Health"])
    for i in range(12):
        corpus.add(f"b/2021-03-0{1 + i % 3}-other{i}.md", f"Weather report number {i} for the coast",
                   excerpt="Rain and wind along the coast this week.", provider="Weather D",
                   published=f"2021-03-0{1 + i % 3}T08:00:00Z", topics=["Weather"])
    index = tmp_path / "ix"
    build_index(index, [corpus.root])
    return corpus, index


def test_the_same_story_first_and_never_the_source(news: tuple[Corpus, Path]) -> None:
    _, index = news
    with Searcher(index) as s:
        page = s.similar("a/2021-03-01-source.md", SearchRequest(limit=10, facets=()))
    paths = [h.path for h in page.hits]
    assert "a/2021-03-01-source.md" not in paths
    assert set(paths[:2]) == {"a/2021-03-01-copy.md", "a/2021-03-02-follow.md"}
    assert paths.index("a/2019-06-01-old.md") == 2  # shares words, but two years away
    assert not any(p.startswith("b/") for p in paths)  # shares no telling word
    assert page.source == "a/2021-03-01-source.md"
    assert page.source_title.startswith("Contoso breach")


def test_filters_and_order_apply(news: tuple[Corpus, Path]) -> None:
    _, index = news
    with Searcher(index) as s:
        only_c = s.similar("a/2021-03-01-source.md", SearchRequest(
            limit=10, facets=("provider",), filters=Filters(providers=("paper c",))))
        assert [h.provider for h in only_c.hits] == ["Paper C", "Paper C"]
        assert only_c.total == 2 and only_c.facets["provider"].values[0].count == 2
        newest = s.similar("a/2021-03-01-source.md", SearchRequest(limit=10, facets=(), sort="newest"))
        assert next(h.path for h in newest.hits) == "a/2021-03-02-follow.md"


def test_a_file_path_under_the_corpus_is_found(news: tuple[Corpus, Path]) -> None:
    corpus, index = news
    with Searcher(index) as s:
        page = s.similar(str(corpus.root / "a/2021-03-01-copy.md"), SearchRequest(facets=()))
        assert page.source == "a/2021-03-01-copy.md"
        with pytest.raises(NotInIndexError, match=r"nope\.md: not in the index"):
            s.similar("nope.md", SearchRequest())


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Env(stdin=io.StringIO(stdin), stdout=out, stderr=err, environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def test_cli_paths_errors_and_batch(news: tuple[Corpus, Path]) -> None:
    _, index = news
    code, out, _ = run(["similar", "--index", str(index), "--format", "json", "a/2021-03-01-source.md"])
    data = json.loads(out)
    assert code == 0 and next(iter(data)) == "source" and data["source"] == "a/2021-03-01-source.md"
    code, out, err = run(["similar", "--index", str(index), "missing.md"])
    assert code == 2 and out == "" and err == "search: missing.md: not in the index\n"
    code, out, _ = run(["similar", "--index", str(index), "--batch", "--limit", "1"],
                       "a/2021-03-01-source.md\nmissing.md\na/2021-03-01-copy.md\n")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 2 and len(lines) == 3  # the run goes on after the bad line
    assert lines[1] == {"error": {"kind": "not_in_index", "message": "missing.md: not in the index"},
                        "source": "missing.md"}
    assert lines[2]["source"] == "a/2021-03-01-copy.md" and lines[2]["hits"]
    code, out, _ = run(["similar", "--index", str(index), "--color", "never",
                        "a/2021-03-01-source.md"])
    assert out.startswith("similar to: Contoso breach exposes payroll records of hospital staff\n")
