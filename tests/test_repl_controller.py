"""The REPL controller and its helpers without any terminal: result
objects, state between lines, export files, spelling suggestions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import Corpus

from search.indexer import build_index
from search.output import Style
from search.repl.commands import resolve_command
from search.repl.controller import Controller, unquote
from search.repl.export import ReplError, write_export
from search.repl.layout import display_rows, page_capacity, reserved_rows
from search.repl.outcomes import (
    ArticleOutcome,
    ConfirmOutcome,
    ExportOutcome,
    HelpOutcome,
    Message,
    NothingOutcome,
    QuitOutcome,
    SearchOutcome,
    StatsOutcome,
)
from search.repl.render import Renderer
from search.searcher import Searcher, SearchRequest


@pytest.fixture
def ctl(built: Path) -> Controller:
    return Controller(built, page_size=lambda: 2, opener=lambda url: True)


def providers(outcome: object) -> list[str]:
    assert isinstance(outcome, SearchOutcome), outcome
    return [h.provider for h in outcome.page.hits]


def test_a_query_returns_the_same_page_as_the_search_api(ctl: Controller, built: Path):
    outcome = ctl.handle("power apps")
    assert isinstance(outcome, SearchOutcome)
    with Searcher(built) as s:
        direct = s.search(SearchRequest("power apps", limit=2, facet_size=10))
    assert [h.path for h in outcome.page.hits] == [h.path for h in direct.hits]
    assert outcome.page.total == direct.total == 2
    assert outcome.page.facets["provider"] == direct.facets["provider"]


def test_blank_lines_do_nothing_and_quit_quits(ctl: Controller):
    assert isinstance(ctl.handle("   "), NothingOutcome)
    assert isinstance(ctl.handle(":quit"), QuitOutcome)
    assert isinstance(ctl.handle(":exit"), QuitOutcome)


def test_commands_resolve_by_alias_and_unique_prefix():
    assert resolve_command("q") == "quit"
    assert resolve_command("prov") == "provider"
    assert resolve_command("fac") == "facets"
    assert resolve_command("s") is None  # since, sort, story, similar, show, stats...
    assert resolve_command("zzz") is None


def test_unquote():
    assert unquote('"The Guardian"') == "The Guardian"
    assert unquote("'BBC'") == "BBC"
    assert unquote('"half') == "half"
    assert unquote("") == "" and unquote('"') == ""


def test_filters_stack_and_apply_to_later_queries(ctl: Controller):
    ctl.handle(":provider reuters")
    ctl.handle(":provider bbc")
    assert ctl.state.filters.providers == ("Reuters", "BBC")
    outcome = ctl.handle("ai")
    assert sorted(providers(outcome)) == ["BBC", "Reuters"]
    ctl.handle(":provider bbc")  # adding twice keeps one
    assert ctl.state.filters.providers == ("Reuters", "BBC")
    ctl.handle(":provider")
    assert ctl.state.filters.providers == ()


def test_date_bounds_are_inclusive(ctl: Controller):
    ctl.handle(":limit 10")
    ctl.handle(":since 2021-03-01")
    out = ctl.handle(":until 2021-05-02")
    assert isinstance(out, Message)  # no query yet: the filter waits for one
    outcome = ctl.handle("*")
    assert isinstance(outcome, SearchOutcome)
    assert sorted(h.path for h in outcome.page.hits) == [
        "_news/2021-03-01-portals.md", "_news/2021-05-02-mobile.md"]
    bad = ctl.handle(":since 2022")
    assert isinstance(bad, Message) and bad.error and "is after" in bad.text
    assert ctl.state.filters.since is not None and ctl.state.filters.since.year == 2021


def test_paging_moves_by_the_page_size_and_status_follows(ctl: Controller):
    ctl.handle(":sort newest")
    first = ctl.handle("*")
    assert isinstance(first, SearchOutcome)
    status = ctl.status()
    assert (status.page, status.pages, status.total, status.sort) == (1, 3, 6, "newest")
    second = ctl.handle(":next")
    assert isinstance(second, SearchOutcome) and [h.rank for h in second.page.hits] == [3, 4]
    assert ctl.status().page == 2
    last = ctl.handle(":page 3")
    assert isinstance(last, SearchOutcome) and [h.rank for h in last.page.hits] == [5, 6]
    over = ctl.handle(":next")
    assert isinstance(over, Message) and over.error
    ctl.handle(":limit 4")  # keeps the first hit of the page in view
    assert ctl.state.offset == 4
    assert ctl.status().page == 2


def test_limit_alone_follows_the_terminal(built: Path):
    rows = [2]
    ctl = Controller(built, page_size=lambda: rows[0])
    outcome = ctl.handle("*")
    assert isinstance(outcome, SearchOutcome) and len(outcome.page.hits) == 2
    rows[0] = 5
    outcome = ctl.handle("*")
    assert isinstance(outcome, SearchOutcome) and len(outcome.page.hits) == 5
    assert isinstance(ctl.handle(":limit 501"), Message)


def test_show_finds_a_result_on_another_page(ctl: Controller):
    ctl.handle(":sort oldest")
    ctl.handle("*")
    outcome = ctl.handle(":show 5")
    assert isinstance(outcome, ArticleOutcome)
    assert outcome.hit.rank == 5 and outcome.article is not None
    assert outcome.article.title == outcome.hit.title


def test_messages_for_commands_that_need_a_query(ctl: Controller):
    for line in (":next", ":prev", ":page 1", ":show 1", ":open 1", ":export x.csv"):
        outcome = ctl.handle(line)
        assert isinstance(outcome, Message) and outcome.error and "no query yet" in outcome.text, line


def test_help_and_stats(ctl: Controller):
    assert isinstance(ctl.handle(":help"), HelpOutcome)
    one = ctl.handle(":help q")
    assert isinstance(one, HelpOutcome) and [c.name for c in one.commands] == ["quit"]
    stats = ctl.handle(":stats")
    assert isinstance(stats, StatsOutcome) and stats.stats.documents == 6


def test_export_matches_the_query_total_and_order(ctl: Controller, tmp_path: Path):
    ctl.handle(":sort newest")
    ctl.handle("*")
    outcome = ctl.handle(f":export {tmp_path / 'all.jsonl'}")
    assert isinstance(outcome, ExportOutcome) and outcome.count == 6
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert [r["published"] for r in rows][:2] == ["2023-07-07T12:00:00Z", "2022-04-18T22:59:00Z"]
    assert all(r["score"] is None for r in rows)  # sorted by date: no scores, as in `search query`
    assert (tmp_path / "all.jsonl").stat().st_mode & 0o044  # not private like a temp file
    assert list(tmp_path.glob(".*part")) == []


def test_export_csv_defuses_spreadsheet_formulas(tmp_path: Path, built: Path):
    with Searcher(built) as s:
        hit = s.search(SearchRequest("robots")).hits[0]
    from dataclasses import replace

    evil = replace(hit, title="=HYPERLINK(\"http://x\")", excerpt="+1", provider="@me")
    assert write_export(tmp_path / "x.csv", "csv", [evil], True) == 1
    with (tmp_path / "x.csv").open(newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["title"].startswith("'=") and row["excerpt"] == "'+1" and row["provider"] == "'@me"


def test_export_leaves_no_partial_file_when_interrupted(tmp_path: Path, built: Path):
    with Searcher(built) as s:
        hit = s.search(SearchRequest("robots")).hits[0]

    def hits():
        yield hit
        raise KeyboardInterrupt

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        write_export(out / "x.jsonl", "jsonl", hits(), True)
    assert list(out.iterdir()) == []
    with pytest.raises(ReplError):
        write_export(out / "missing" / "x.jsonl", "jsonl", [hit], True)


def test_filters_reject_names_not_in_the_index(ctl: Controller):
    out = ctl.handle(":topic robotcs")
    assert isinstance(out, Message) and out.error and "did you mean Robotics?" in out.text
    assert ctl.state.filters.topics == ()


def test_index_changes_are_picked_up(ctl: Controller, news: Corpus, built: Path):
    ctl.handle("*")
    assert len(ctl.values("provider")) == 4
    news.add("_news/2024-01-01-new.md", "Quantum computers arrive", provider="Nature")
    build_index(built, [news.root])
    outcome = ctl.handle("quantum")
    assert isinstance(outcome, SearchOutcome) and outcome.page.total == 1
    assert "Nature" in [v.value for v in ctl.values("provider")]
    assert ctl.status().documents == 7


# ----------------------------------------------------------------- suggestions


def test_suggestions_correct_unknown_words_keeping_case_and_syntax(built: Path):
    with Searcher(built) as s:
        assert s.suggest("Robts walk") == "Robots walk"
        assert s.suggest('"facal recogniton" provider:reuters') == (
            '"facial recognition" provider:reuters')
        assert s.suggest("robots") is None
        assert s.suggest("-robts") is None  # excluded words are left alone
        assert s.suggest("provider:reutrs") is None  # field values are not words
        assert s.suggest("the") is None  # a stop word
        assert s.suggest("xqzzy") is None  # nothing near it


def test_suggestion_only_when_it_finds_more(ctl: Controller):
    none = ctl.handle("wlk")  # too short to be corrected automatically
    assert isinstance(none, SearchOutcome) and none.suggestion is not None
    assert (none.suggestion.query, none.suggestion.total) == ("walk", 1)
    found = ctl.handle("walk")
    assert isinstance(found, SearchOutcome) and found.suggestion is None
    corrected = ctl.handle("robts")  # corrected, and said so: nothing more to suggest
    assert isinstance(corrected, SearchOutcome) and corrected.suggestion is None
    assert [c.used for c in corrected.page.corrections] == [("robots",)]


def test_typed_words_are_the_words_a_match_may_contain():
    from search.matching import typed_words
    from search.query import parse_query

    words = typed_words(parse_query('apps title:foo -bar "one two" ab wild* NOT x3 AND').root)
    assert words == ["apps", "foo", "one", "two", "ab"]


# ----------------------------------------------------------------- rendering


def test_rendered_pages_fit_the_terminal(corpus: Corpus, index_dir: Path):
    for i in range(12):
        corpus.add(f"n/{i:02}.md", "Robots " + "with a rather long title " * 6,
                   excerpt="Robots " + "and more words " * 40, url=f"https://example.com/{i}")
    build_index(index_dir, [corpus.root])
    for columns, rows in ((140, 45), (80, 24), (60, 30)):
        ctl = Controller(index_dir, page_size=lambda rows=rows: page_capacity(rows))
        renderer = Renderer(Style(False), lambda c=columns, r=rows: (c, r))
        outcome = ctl.handle("robots")
        assert isinstance(outcome, SearchOutcome) and outcome.page.hits
        text = renderer.render(outcome).text
        assert display_rows(text, columns) <= rows - reserved_rows(rows), (columns, rows)


def test_long_articles_go_to_the_pager(ctl: Controller):
    ctl.handle("robots")
    outcome = ctl.handle(":show 1")
    small = Renderer(Style(False), lambda: (80, 6)).render(outcome)
    big = Renderer(Style(False), lambda: (80, 60)).render(outcome)
    assert small.page and not big.page
    assert small.text == big.text


# ----------------------------------------------------------------- REPL v2


def test_a_line_being_typed_searches_its_last_word_as_a_prefix():
    from search.repl.controller import live_query

    assert live_query("cosmos db vulnerab") == ("cosmos db vulnerab", True)
    assert live_query("cosmos db ") == ("cosmos db", False)
    assert live_query("cosmos d") == ("cosmos", False)  # one letter says too little yet
    assert live_query("c") is None and live_query("   ") is None
    assert live_query(":provider Bleep") is None


def test_live_results_use_the_filters_and_a_prefix(ctl: Controller):
    page = ctl.live("robo", 5)
    assert page is not None and [h.title for h in page.hits] == ["Robots learn to walk in a day"]
    assert page.request.prefix_last and page.request.limit == 5
    ctl.handle(":provider reuters")
    assert ctl.live("robo", 5).total == 0  # type: ignore[union-attr]
    assert ctl.state.query is None  # typing never changes the current query


def test_picking_a_live_hit_makes_its_query_current_and_shows_it(ctl: Controller):
    page = ctl.live("power ap", 5)
    assert page is not None and page.total == 2
    outcome = ctl.pick(page, 2)
    assert isinstance(outcome, ArticleOutcome) and outcome.hit.path == page.hits[1].path
    assert ctl.state.query == "power ap" and ctl.state.prefix_last
    assert [h.path for h in ctl.state.last.hits] == [h.path for h in page.hits]  # type: ignore[union-attr]


def test_paging_goes_on_from_the_last_hit_shown(ctl: Controller):
    ctl.handle(":sort newest")
    ctl.handle("*")  # fetches 2 (the page size)
    ctl.note_shown(1)  # the terminal had room for one
    second = ctl.handle(":next")
    assert isinstance(second, SearchOutcome) and second.page.hits[0].rank == 2
    assert second.number == 2 and second.refine
    ctl.note_shown(2)
    third = ctl.handle(":next")
    assert isinstance(third, SearchOutcome) and third.page.hits[0].rank == 4 and third.number == 3
    back = ctl.handle(":prev")
    assert isinstance(back, SearchOutcome) and back.page.hits[0].rank == 2  # where page 2 began
    assert ctl.handle(":prev").page.hits[0].rank == 1  # type: ignore[union-attr]
    assert ctl.status().page == 1


def test_view_and_live_commands(ctl: Controller):
    ctl.handle("ai")
    compact = ctl.handle(":view compact")
    assert isinstance(compact, SearchOutcome) and compact.compact and compact.refine
    assert isinstance(ctl.handle(":view full"), SearchOutcome) and ctl.state.view == "full"
    assert ctl.handle(":view wide").error  # type: ignore[union-attr]
    assert ctl.handle(":live off").text == "results while typing: off"  # type: ignore[union-attr]
    assert ctl.state.live is False


def test_relative_dates_in_since_and_until(ctl: Controller):
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    out = ctl.handle(":since 7d")
    assert isinstance(out, Message) and not out.error
    assert ctl.state.filters.since is not None and ctl.state.filters.since.date() == today - dt.timedelta(7)
    assert ctl.state.since_text == "7d"
    ctl.handle(":until yesterday")
    assert ctl.state.filters.until.date() == today - dt.timedelta(1)  # type: ignore[union-attr]
    ctl.handle(":since last month")
    assert ctl.state.filters.since.date() <= today - dt.timedelta(28)  # type: ignore[union-attr]
    ctl.handle(":until")
    for text in ("2w", "3m", "1y", "today", "last week"):
        assert not getattr(ctl.handle(f":since {text}"), "error", False), text


def test_an_ambiguous_command_lists_its_candidates(ctl: Controller):
    out = ctl.handle(":s")
    assert isinstance(out, Message) and out.error
    assert out.text == "ambiguous command :s: :since :sort :story :similar :show :stats :save :saved"
    assert ctl.handle(":sav").text == "ambiguous command :sav: :save :saved"  # type: ignore[union-attr]


def test_export_onto_an_existing_file_needs_force(ctl: Controller, tmp_path: Path):
    target = tmp_path / "mine.csv"
    target.write_text("keep")
    ctl.handle("ai")
    ask = ctl.handle(f":export {target}")
    assert isinstance(ask, ConfirmOutcome) and target.read_text() == "keep"
    assert "exists" in ask.question and "not overwritten" in ask.refusal
    assert isinstance(ctl.handle(ask.yes_line), ExportOutcome)
    assert target.read_text().startswith("rank,score")
    target.write_text("again")
    assert isinstance(ctl.handle(f":export --force {target}"), ExportOutcome)
    assert isinstance(ctl.handle(":export --force"), Message)


def test_the_rendered_page_says_how_many_hits_it_drew(ctl: Controller):
    outcome = ctl.handle("*")
    assert isinstance(outcome, SearchOutcome)
    rendered = Renderer(Style(False), lambda: (80, 40)).render(outcome)
    assert rendered.shown == len(outcome.page.hits) == 2
    tiny = Renderer(Style(False), lambda: (80, 6)).render(outcome)  # room for one title
    assert tiny.shown == 1 and "showing 1–1" in tiny.text and "page 1 of 6" in tiny.text
