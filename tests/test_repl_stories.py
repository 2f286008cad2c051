"""Stories in the REPL: grouped results by default (`:group on|off`),
`:story N`, story members first in `:show N`'s list (`:show N.M`), and
`:similar N`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Corpus
from test_story_index import OUTLETS, news  # noqa: F401 - the fixture

from search.output import Style
from search.repl.controller import Controller
from search.repl.coverage import STORY
from search.repl.outcomes import ArticleOutcome, Message, SearchOutcome, StoryOutcome
from search.repl.render import Renderer

News = tuple[Corpus, Path]


@pytest.fixture
def ctl(news: News) -> Controller:  # noqa: F811 - pytest's fixture argument
    return Controller(news[1], page_size=lambda: 2, opener=lambda url: True)


def text(outcome: object, columns: int = 120) -> str:
    return Renderer(Style(False), lambda: (columns, 60)).render(outcome).text  # type: ignore[arg-type]


def search(ctl: Controller, line: str) -> SearchOutcome:
    outcome = ctl.handle(line)
    assert isinstance(outcome, SearchOutcome), outcome
    return outcome


def test_results_are_grouped_by_story_by_default(ctl: Controller):
    outcome = search(ctl, "contoso fabrikam")
    page = outcome.page
    assert (page.total, page.stories, len(page.hits)) == (3, 1, 1)
    story = page.hits[0].story
    assert story is not None and story.size == 3 and story.members is not None
    shown = text(outcome)
    assert "+2 more: " in shown and "1 story (3 articles)" in shown
    others = {m.provider for m in story.members}
    assert others == set(OUTLETS[:3]) - {page.hits[0].provider}
    assert all(name in shown for name in others)


def test_group_off_lists_every_article_and_on_groups_again(ctl: Controller):
    search(ctl, "contoso fabrikam")
    flat = search(ctl, ":group off")
    assert (flat.page.total, flat.page.stories, len(flat.page.hits)) == (3, None, 2)
    assert "+2 more" not in text(flat)
    assert flat.page.hits[0].story is not None and flat.page.hits[0].story.members is None
    assert ctl.status().pages == 2  # paged by article now
    grouped = search(ctl, ":group on")
    assert grouped.page.stories == 1 and ctl.status().pages == 1
    wrong = ctl.handle(":group maybe")
    assert isinstance(wrong, Message) and wrong.error and ":group on|off" in wrong.text


def test_paging_is_by_story(ctl: Controller):
    first = search(ctl, "*")
    assert first.page.stories == 8 and first.page.total == 11
    seen = [h.story.id for h in first.page.hits if h.story]
    ctl.note_shown(len(first.page.hits))
    while True:
        outcome = ctl.handle(":next")
        if isinstance(outcome, Message):
            assert "last page" in outcome.text
            break
        assert isinstance(outcome, SearchOutcome)
        seen += [h.story.id for h in outcome.page.hits if h.story]
    assert len(seen) == len(set(seen)) == 8


def test_story_lists_every_member_oldest_first_numbered_as_show(ctl: Controller):
    hit = search(ctl, "contoso fabrikam").page.hits[0]
    outcome = ctl.handle(":story 1")
    assert isinstance(outcome, StoryOutcome)
    members = outcome.members
    assert len(members) == 3 and hit.path in {m.path for m in members}
    dates = [m.published for m in members]
    assert dates == sorted(dates)  # type: ignore[type-var]
    lines = text(outcome).splitlines()
    assert lines[0].startswith("story of result 1: 3 articles")
    others = [m for m in members if m.path != hit.path]
    for number, member in enumerate(others, 1):
        row = next(line for line in lines if line.lstrip().startswith(f"1.{number} "))
        assert member.provider in row and member.title in row
        assert member.published is not None and member.published.date().isoformat() in row
    assert any(line.lstrip().startswith("▸") and hit.title in line for line in lines)
    # :show 1.M opens the M-th of those
    for number, member in enumerate(others, 1):
        shown = ctl.handle(f":show 1.{number}")
        assert isinstance(shown, ArticleOutcome) and shown.hit.path == member.path
    article = ctl.handle(":show 1")
    assert isinstance(article, ArticleOutcome)
    assert [c.hit.path for c in article.coverage if c.kind == STORY and c.hit] == [m.path for m in others]


def test_story_of_an_article_alone_and_bad_numbers(ctl: Controller):
    search(ctl, "tomato seedlings")
    outcome = ctl.handle(":story 1")
    assert isinstance(outcome, StoryOutcome) and len(outcome.members) == 1
    assert text(outcome).startswith("story of result 1: 1 article")
    for line in (":story 9", ":story x", ":similar 0"):
        wrong = ctl.handle(line)
        assert isinstance(wrong, Message) and wrong.error, line


def test_similar_lists_articles_like_the_hit_until_the_next_query(ctl: Controller):
    hit = search(ctl, "northwind scooters").page.hits[0]
    ctl.handle(":group off")
    outcome = search(ctl, ":similar 1")
    page = outcome.page
    assert page.source == hit.path and page.source_title == hit.title
    assert text(outcome).splitlines()[0] == f"similar to: {hit.title}"
    paths = [h.path for h in page.hits]
    assert hit.path not in paths and paths
    # the same story's other outlet is the most similar article
    assert "Northwind recalls" in page.hits[0].title
    # a result number now means a similar article
    shown = ctl.handle(":show 1")
    assert isinstance(shown, ArticleOutcome) and shown.hit.path == paths[0]
    saved = ctl.handle(":save like")
    assert isinstance(saved, Message) and saved.error and ":similar" in saved.text
    again = search(ctl, "northwind scooters")
    assert again.page.source is None and again.page.hits[0].path == hit.path
