"""The live-list worker (latest wins, never blocks), its drawing, and the
coverage list of `:show` (story members, related items in and out of the
index, same story before topical)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from conftest import Corpus

from search.indexer import build_index
from search.output import Style
from search.repl.controller import Controller
from search.repl.coverage import RELATED, SAME, STORY, CoverageItem
from search.repl.live import LiveResult, LiveSearch, live_lines
from search.repl.outcomes import ArticleOutcome, LinkOutcome, Message
from search.repl.render import Renderer
from search.searcher import ResultPage, Searcher, SearchRequest

# ----------------------------------------------------------------- live worker


def test_the_newest_line_wins_and_stale_results_are_dropped():
    release = threading.Event()
    searched: list[str] = []
    done = threading.Event()

    def search(text: str) -> ResultPage | None:
        searched.append(text)
        if text == "a":
            release.wait(5)
        if text == "abc":
            done.set()
        return ResultPage(SearchRequest(text), 1, (), {}, 0.0)

    live = LiveSearch(search, lambda: None)
    started = time.perf_counter()
    live.submit("a")
    time.sleep(0.05)  # "a" is being searched
    live.submit("ab")
    live.submit("abc")
    assert time.perf_counter() - started < 0.5  # submitting never waits for a search
    assert live.result is None  # "a" has not come back
    release.set()
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while live.result is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.result is not None and live.result.text == "abc"
    assert searched == ["a", "abc"]  # "ab" was replaced before the thread got to it
    live.clear()
    assert live.result is None
    live.close()


def test_a_failing_search_is_a_message_not_a_dead_thread():
    def search(text: str) -> ResultPage | None:
        if text == "boom":
            raise RuntimeError("broken\nbadly")
        return None

    live = LiveSearch(search, lambda: None)
    for text in ("boom", "fine"):
        live.submit(text)
        deadline = time.monotonic() + 5
        while (live.result is None or live.result.text != text) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert live.result == LiveResult("fine", None)
    live.close()


def test_the_live_list_marks_the_selection_and_sums_up(built: Path):
    with Searcher(built) as s:
        page = s.search(SearchRequest("a", match="any", prefix_last=True, limit=8))
    lines = live_lines(LiveResult("a", page), 1, Style(False), 80, 3)
    assert len(lines) == 4
    assert lines[1].startswith("›") and not lines[0].startswith("›")
    assert lines[-1].startswith(f" {page.total} hits for a*")
    coloured = live_lines(LiveResult("a", page), 1, Style(True), 80, 3)
    assert "\x1b[7m" in coloured[1]  # the selection in reverse video
    assert live_lines(LiveResult("a", page), None, Style(False), 80, 3, note="already on the last page")[-1] \
        == " already on the last page"


# ----------------------------------------------------------------- coverage


def _ago(days: float) -> str:
    return (dt.datetime(2021, 8, 27, 12, tzinfo=dt.timezone.utc) - dt.timedelta(days=days)) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def story(corpus: Corpus, index_dir: Path) -> Path:
    corpus.write("main.md", "\n".join([
        "---", 'title: "Microsoft warns Azure customers of critical Cosmos DB vulnerability"',
        'excerpt: "A flaw in Cosmos DB let attackers read the primary keys of thousands of databases."',
        f"publishedDateTime: {_ago(0)}", 'webUrl: "https://www.bleepingcomputer.com/cosmos"',
        "provider:", "  name: Bleeping Computer", "topics:", "  - Azure", "related:",
        # topical, in the index
        '  - title: "Azure Front Door gets a security upgrade"', '    webUrl: "https://example.com/frontdoor"',
        "    provider:", "      name: Dark Reading", f"    publishedDateTime: {_ago(190)}",
        # the same story, not in the index
        '  - title: "ChaosDB flaw exposed Cosmos DB primary keys of thousands of customers"',
        '    webUrl: "https://elsewhere.example.org/chaosdb"', "    provider:", "      name: Elsewhere",
        f"    publishedDateTime: {_ago(0.5)}",
        # the same story, in the index (by another URL form: scheme, www, slash)
        '  - title: "Critical Cosmos DB vulnerability affected thousands of Azure customers"',
        '    webUrl: "http://example.com/cosmos-hn/"', "    provider:", "      name: The Hacker News",
        f"    publishedDateTime: {_ago(0.2)}",
        # a duplicate of the last one, and a link back to the article itself
        '  - title: "Critical Cosmos DB vulnerability affected thousands of Azure customers"',
        '    webUrl: "https://example.com/cosmos-hn?utm=x#top"', "    provider:",
        "      name: The Hacker News",
        '  - title: "Microsoft warns Azure customers of critical Cosmos DB vulnerability"',
        '    webUrl: "https://bleepingcomputer.com/cosmos/"',
        # topical, not in the index
        '  - title: "How difficult are Azure certifications?"', '    webUrl: "https://elsewhere.example.org/certs"',
        f"    publishedDateTime: {_ago(1)}",
        "---", ""]))
    corpus.add("hn.md", "Critical Cosmos DB vulnerability affected thousands of Azure customers",
               provider="The Hacker News", published=_ago(0.2), url="https://www.example.com/cosmos-hn")
    corpus.add("frontdoor.md", "Azure Front Door gets a security upgrade", provider="Dark Reading",
               published=_ago(190), url="https://example.com/frontdoor")
    for i in range(20):  # words like "Azure" and "Microsoft" are common: they say little
        corpus.add(f"filler/{i}.md", f"Microsoft Azure news roundup {i}", url=f"https://example.com/f{i}")
    build_index(index_dir, [corpus.root])
    return index_dir


def test_coverage_lists_indexed_items_first_same_story_before_topical(story: Path):
    ctl = Controller(story, page_size=lambda: 5)
    ctl.handle('provider:"Bleeping Computer"')
    outcome = ctl.handle(":show 1")
    assert isinstance(outcome, ArticleOutcome)
    got = [(item.title.split()[0], item.kind, item.in_index) for item in outcome.coverage]
    # The Hacker News' copy is in the article's story (the stories feature
    # found it), so it leads as a story member
    assert got == [("Critical", STORY, True), ("Azure", RELATED, True),
                   ("ChaosDB", SAME, False), ("How", RELATED, False)]
    text = Renderer(Style(False), lambda: (100, 100)).render(outcome).text
    assert "related coverage (4: 2 in the index, 2 same story)" in text
    assert text.index("1. ● Critical Cosmos") < text.index("2. ● Azure Front Door") \
        < text.index("3. ○ ChaosDB") < text.index("4. ○ How difficult")
    assert "https://elsewhere.example.org/chaosdb" in text  # the URL of what cannot be opened here


def test_show_n_m_opens_an_indexed_item_or_prints_the_url(story: Path):
    opened: list[str] = []
    ctl = Controller(story, page_size=lambda: 5, opener=lambda url: opened.append(url) or True)
    ctl.handle('provider:"Bleeping Computer"')
    inside = ctl.handle(":show 1.1")
    assert isinstance(inside, ArticleOutcome) and inside.label == "1.1"
    assert inside.hit.path == "hn.md" and inside.article is not None
    outside = ctl.handle(":show 1.3")
    assert isinstance(outside, LinkOutcome) and outside.item.url == "https://elsewhere.example.org/chaosdb"
    assert "not in the index; its URL:" in Renderer(Style(False), lambda: (100, 40)).render(outside).text
    ctl.handle(":open 1.3")
    assert opened == ["https://elsewhere.example.org/chaosdb"]
    for bad, message in ((":show 1.9", "result 1 lists 4 related items"), (":show 1.x", "usage: :show N"),
                         (":show 2.1", "no result 2")):
        out = ctl.handle(bad)
        assert isinstance(out, Message) and out.error and message in out.text, bad


def test_story_members_come_first_and_are_not_listed_twice(story: Path, monkeypatch: pytest.MonkeyPatch):
    with Searcher(story) as s:
        hn = s.search(SearchRequest('provider:"The Hacker News"')).hits[0]
    member = CoverageItem(hn.title, hn.url, hn.provider, hn.published, STORY, hn)
    monkeypatch.setattr(Controller, "story_members", lambda self, hit: [member])
    ctl = Controller(story, page_size=lambda: 5)
    ctl.handle('provider:"Bleeping Computer"')
    outcome = ctl.handle(":show 1")
    assert isinstance(outcome, ArticleOutcome)
    assert [(i.kind, i.title.split()[0]) for i in outcome.coverage] == [
        (STORY, "Critical"), (RELATED, "Azure"), (SAME, "ChaosDB"), (RELATED, "How")]


def test_story_members_are_the_other_articles_of_the_story(story: Path):
    ctl = Controller(story)
    with Searcher(story) as s:
        main = s.search(SearchRequest('provider:"Bleeping Computer"')).hits[0]
        filler = s.search(SearchRequest("roundup 3")).hits[0]
    members = ctl.story_members(main)
    assert [(m.kind, m.provider, m.hit.path if m.hit else None) for m in members] == [
        (STORY, "The Hacker News", "hn.md")]
    assert ctl.story_members(filler) == []  # a story of one
