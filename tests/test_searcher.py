"""The search API: syntax, filters, facets, sorting, paging, highlights."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from search.errors import IndexNotFoundError, UsageError
from search.query import Filters, parse_date_bound
from search.searcher import Searcher, SearchRequest


@pytest.fixture
def s(built: Path):
    with Searcher(built) as searcher:
        yield searcher


def run(s: Searcher, query: str = "*", **kw):
    kw.setdefault("limit", 100)
    return s.search(SearchRequest(query, **kw))


def titles(page) -> list[str]:
    return [h.title for h in page.hits]


def paths(page) -> set[str]:
    return {h.path for h in page.hits}


def test_match_all(s):
    page = run(s, "*")
    assert page.total == 6 and len(page.hits) == 6
    assert run(s, "").total == 6
    assert run(s, "   ").total == 6


def test_every_word_by_default_any_word_on_request(s):
    page = run(s, "power apps portals")
    assert titles(page) == ["Power Apps portals FAQs"] and page.relaxed is None
    anywhere = run(s, "power apps portals", match="any")
    assert anywhere.total == 2
    assert anywhere.hits[0].title == "Power Apps portals FAQs"  # matches all three words
    assert run(s, "power apps portals", match="all").total == 1


def test_pasted_headline_with_noise_finds_story(s):
    page = run(s, "Ukraine uses facial recognition to identify dead Russian soldiers banana telescope")
    assert page.hits[0].path == "_news/2022-04-18-ukraine.md"


def test_stemming(s):
    assert "_news/2023-07-07-robots.md" in paths(run(s, "walking"))
    assert "_news/2021-05-02-mobile.md" in paths(run(s, "app"))


def test_and_or_not_minus(s):
    assert paths(run(s, "power AND mobile")) == {"_news/2021-05-02-mobile.md"}
    assert paths(run(s, "chips OR robots")) == {"_news/2020-01-10-chips.md", "_news/2023-07-07-robots.md"}
    assert paths(run(s, "power -mobile")) == {"_news/2021-03-01-portals.md"}
    assert paths(run(s, "power NOT mobile")) == {"_news/2021-03-01-portals.md"}
    assert paths(run(s, "NOT mobile power")) == {"_news/2021-03-01-portals.md"}
    assert run(s, "-ai").total == 2  # the two Power Apps articles have no AI


def test_phrase(s):
    assert paths(run(s, '"mobile apps"')) == {"_news/2021-05-02-mobile.md"}
    assert run(s, '"apps mobile"').total == 0


def test_field_and_prefix(s):
    assert paths(run(s, "title:faqs")) == {"_news/2021-03-01-portals.md"}
    assert run(s, "excerpt:faqs").total == 0
    assert paths(run(s, "robo*")) == {"_news/2023-07-07-robots.md"}


def test_malformed_query_falls_back_to_plain_terms(s):
    power = {"_news/2021-03-01-portals.md", "_news/2021-05-02-mobile.md"}
    robots = {"_news/2023-07-07-robots.md"}
    # what the grammar rejects is searched as the words it holds
    for q, want in [('"unbalanced power', power), ("(power apps", power), ("power AND", power),
                    ("a:b:c robots", robots), ("^^^ ~~ robots!!", robots), ("(robots", robots),
                    ("robots)", robots), ("[robots TO", robots)]:
        page = run(s, q)
        assert paths(page) == want and page.total == len(want), q
    garbled = run(s, "published:[garbage TO 2022] robots")
    assert "searched as words" in garbled.note
    assert run(s, "title:").total == run(s, "title").total


def test_provider_filter_in_query_and_flag_is_case_insensitive_and_restricts(s):
    by_flag = run(s, "*", filters=Filters(providers=("the guardian",)))
    by_query = run(s, 'provider:"The Guardian"')
    assert by_flag.total == by_query.total == 2
    assert paths(run(s, 'provider:"The Guardian" robots')) == {"_news/2023-07-07-robots.md"}
    both = run(s, "*", filters=Filters(providers=("Reuters", "BBC")))
    assert both.total == 2


def test_topic_filter(s):
    assert run(s, "topic:AI").total == 4
    assert run(s, '*', filters=Filters(topics=("power apps",))).total == 2
    assert run(s, "*", filters=Filters(topics=("Hardware", "Robotics"))).total == 2
    assert run(s, "topic:AI provider:BBC").total == 1


def test_date_filters_inclusive(s):
    since = parse_date_bound("2021-05-02")
    until = parse_date_bound("2022-04-18", end=True)
    page = run(s, "*", filters=Filters(since=since, until=until))
    assert paths(page) == {"_news/2021-05-02-mobile.md", "_news/2022-04-18-ukraine.md"}
    assert run(s, "published:[2021-01-01 TO 2021-12-31]").total == 2
    assert run(s, "*", filters=Filters(since=parse_date_bound("2023"))).total == 1


def test_parse_date_bound():
    assert parse_date_bound("2022-02", end=True) == dt.datetime(2022, 2, 28, 23, 59, 59, 999999,
                                                                tzinfo=dt.timezone.utc)
    with pytest.raises(UsageError, match="someday"):
        parse_date_bound("someday")
    today = dt.date(2024, 3, 31)
    assert parse_date_bound("yesterday", today=today).date() == dt.date(2024, 3, 30)
    assert parse_date_bound("7d", today=today) == dt.datetime(2024, 3, 24, tzinfo=dt.timezone.utc)
    assert parse_date_bound("2w", end=True, today=today).date() == dt.date(2024, 3, 17)
    assert parse_date_bound("1m", today=today).date() == dt.date(2024, 2, 29)  # no Feb 31st
    assert parse_date_bound("last month", today=today) == parse_date_bound("1m", today=today)
    assert parse_date_bound("1y", today=today).date() == dt.date(2023, 3, 31)
    assert parse_date_bound("today", end=True, today=today).time() == dt.time.max


def test_sorting_and_tie_breaks(s):
    newest = run(s, "*", sort="newest")
    assert [h.path for h in newest.hits][:2] == ["_news/2023-07-07-robots.md", "_news/2022-04-18-ukraine.md"]
    assert newest.hits[-1].published is None  # missing dates last
    oldest = run(s, "*", sort="oldest")
    assert oldest.hits[0].path == "_news/2020-01-10-chips.md" and oldest.hits[-1].published is None
    quality = run(s, "*", sort="quality")
    assert [h.quality for h in quality.hits] == [120, 90, 79, 60, 40, None]


def test_paging_is_consistent(s):
    full = [h.path for h in run(s, "ai", sort="relevance").hits]
    pages = []
    for offset in range(0, len(full), 2):
        pages += [h.path for h in run(s, "ai", limit=2, offset=offset).hits]
    assert pages == full
    page = run(s, "ai", limit=2, offset=2)
    assert [h.rank for h in page.hits] == [3, 4]
    assert run(s, "ai", limit=2, offset=100).hits == ()
    assert run(s, "ai", limit=0).total == len(full)


def test_facets_exact_over_all_matches(s):
    page = run(s, "*", limit=1, facets=("provider", "topic", "year"), facet_size=2)
    prov = page.facets["provider"]
    # "The Guardian" and "the guardian" are one provider, labelled by the common spelling
    assert [(v.value, v.count) for v in prov.values] == [("Microsoft", 2), ("The Guardian", 2)]
    assert prov.distinct == 4 and prov.other == 2
    topics = {v.value: v.count for v in run(s, "*", facets=("topic",), facet_size=99).facets["topic"].values}
    assert topics == {"AI": 4, "Power Apps": 2, "Computer Vision": 1, "Hardware": 1, "Portals": 1,
                      "Robotics": 1}
    years = {v.value: v.count for v in run(s, "*", facets=("year",)).facets["year"].values}
    assert years == {2020: 1, 2021: 2, 2022: 1, 2023: 1}


def test_facets_follow_filters(s):
    page = run(s, "ai", filters=Filters(providers=("the guardian",)), facets=("provider",))
    assert [(v.value, v.count) for v in page.facets["provider"].values] == [("The Guardian", 2)]


def test_highlights(s):
    hit = run(s, "recognition soldiers").hits[0]
    marked = [hit.title[a:b] for a, b in hit.title_spans]
    assert marked == ["recognition", "soldiers"]
    hit = run(s, "walk -robots").hits
    assert hit == ()
    hit = run(s, "learning").hits[0]
    assert any(hit.excerpt[a:b].lower() == "learning" for a, b in hit.excerpt_spans)
    assert run(s, "walk", highlight=False).hits[0].title_spans == ()


def test_negated_terms_are_not_highlighted(s):
    hit = run(s, "power -portals").hits[0]
    assert [hit.title[a:b] for a, b in hit.title_spans] == ["Power"]


def test_invalid_requests(s):
    with pytest.raises(UsageError):
        run(s, sort="random")
    with pytest.raises(UsageError):
        run(s, facets=("color",))
    with pytest.raises(UsageError):
        run(s, offset=-1)


def test_missing_index(tmp_path: Path):
    with pytest.raises(IndexNotFoundError):
        Searcher(tmp_path / "none").search(SearchRequest("x"))


def test_searcher_sees_new_commits(built: Path, news):
    from search.indexer import build_index

    with Searcher(built) as searcher:
        assert searcher.search(SearchRequest("quantum")).total == 0
        news.add("_news/q.md", "Quantum leap")
        build_index(built, [news.root])
        assert searcher.search(SearchRequest("quantum")).total == 1


def test_long_lived_searcher_sees_edits_deletions_and_rebuilds_exactly(built: Path, news):
    from search.indexer import build_index

    with Searcher(built) as searcher:
        assert searcher.search(SearchRequest("*")).total == 6
        edited = news.root / "_news/2021-05-02-mobile.md"
        edited.write_text(edited.read_text().replace("Create mobile apps", "Build phone apps"))
        news.touch_later(edited)
        (news.root / "_news/2020-01-10-chips.md").unlink()
        build_index(built, [news.root])
        page = searcher.search(SearchRequest("*", limit=100))
        paths = [h.path for h in page.hits]
        assert page.total == 5 and len(paths) == len(set(paths)) == 5
        assert "_news/2020-01-10-chips.md" not in paths
        build_index(built, [news.root], full=True)
        assert searcher.search(SearchRequest("*")).total == 5


def test_stats_and_values(s):
    st = s.stats()
    assert st.documents == 6 and st.providers == 4 and st.topics == 6
    assert st.first_published.year == 2020 and st.last_published.year == 2023
    assert st.size_bytes > 0 and st.last_indexed
    assert s.values("provider")[0].value in ("Microsoft", "The Guardian")


def test_article_rereads_related(s, news):
    hit = run(s, "ukraine").hits[0]
    article = s.article(hit)
    assert article.title == hit.title


def test_hyphenated_words_are_not_negations(s):
    # Lucene treats "-" as an operator only at the start of a clause
    page = run(s, "reinforcement-learning robots")
    assert page.hits[0].path == "_news/2023-07-07-robots.md"
    assert run(s, "walk-in").total >= 1


def test_pasted_headline_prefers_the_article_with_that_headline(corpus, index_dir):
    from search.indexer import build_index

    headline = "Tech giants pledge to curb deepfakes before elections"
    corpus.add("own.md", headline, excerpt="Companies signed an accord in Munich on Friday.",
               provider="Own")
    # another outlet's story quotes the headline in its excerpt (the seed articles do this)
    corpus.add("echo.md", "Munich accord on election deepfakes signed by tech giants",
               excerpt=f"{headline}, the accord says; critics want binding rules.", provider="Echo")
    for i, topic in enumerate(["weather", "football", "markets", "gardening", "cinema"]):
        corpus.add(f"other{i}.md", f"News about {topic} this week", excerpt=f"All about {topic}.")
    build_index(index_dir, [corpus.root])
    with Searcher(index_dir) as s:
        assert s.search(SearchRequest(headline)).hits[0].path == "own.md"


def test_question_mark_ending_a_word_is_punctuation(s):
    assert paths(run(s, "Robots learn to walk in a day?")) >= {"_news/2023-07-07-robots.md"}
    assert run(s, "walk?").total == run(s, "walk").total == 1
    assert run(s, "w?lk").total == 1  # inside a word it is a one-character wildcard


def test_negation_inside_parentheses(s):
    # machine learning chips (2020) has "learning"; robots (2023) too; mobile/portals do not
    either = paths(run(s, "power OR (learning -robots)"))
    assert either == {"_news/2021-03-01-portals.md", "_news/2021-05-02-mobile.md",
                      "_news/2020-01-10-chips.md"}
    assert paths(run(s, "(learning NOT robots) OR power")) == either
    assert run(s, "power (learning -robots)", match="all").total == 0  # no power article has it


def test_field_star_matches_documents_having_the_field(s):
    assert run(s, "quality:*").total == 5  # one article has no quality
    assert run(s, "excerpt:*").total == 6


def test_exclusive_date_and_number_bounds(s):
    before = run(s, "published:<2021-05-02").total
    on = run(s, "published:2021-05-02").total
    after = run(s, "published:>2021-05-02").total
    dated = run(s, "published:[1900 TO 2100]").total
    assert (before, on, after) == (2, 1, 2) and before + on + after == dated == 5
    assert run(s, "published:{2021-05-02 TO]").total == 2
    assert run(s, "quality:>79").total == 2 and run(s, "quality:>=79").total == 3
    assert run(s, "year:[2021 TO 2022]").total == 3


def test_filter_values_keep_their_punctuation(corpus, index_dir):
    from search.indexer import build_index

    corpus.add("a.md", "Cells divide", provider="EurekAlert!")
    build_index(index_dir, [corpus.root])
    with Searcher(index_dir) as searcher:
        assert searcher.search(SearchRequest("provider:EurekAlert!")).total == 1


def test_nothing_to_score_means_no_score_and_newest_first(s):
    page = run(s, "-robots")
    assert not page.scored
    assert [h.published for h in page.hits[:3]] == sorted(
        [h.published for h in page.hits if h.published], reverse=True)[:3]


def test_absurd_boost_gives_finite_scores(s):
    import math

    page = run(s, "(ai OR power)^1000000000000000000000000000000000000000000 learning")
    assert page.total > 0 and all(math.isfinite(h.score) for h in page.hits)


def test_results_while_typing_complete_the_last_word(s):
    typing = run(s, "robots wal", prefix_last=True)
    assert titles(typing) == ["Robots learn to walk in a day"] and typing.relaxed is None
    assert run(s, "robots wal").relaxed.dropped == ("wal",)  # a finished word: no article has it


def test_vocabulary_completes_a_prefix_most_common_first(s):
    from search.vocabulary import Vocabulary

    vocab = Vocabulary(s.arrays())
    words, dfs = s.arrays().term_frequencies("words")
    expected = sorted((w for w in words if w.startswith("p")), key=lambda w: (-dfs[words.index(w)], w))
    assert vocab.complete("p", 3) == expected[:3]
    assert vocab.complete("p", 1000) == expected
    assert vocab.complete("zzz", 5) == []
