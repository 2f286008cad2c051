"""The query parser: what each piece of syntax means, and that no text makes it fail."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.query import describe, parse_query
from search.query.model import (
    Bool,
    Compound,
    Exists,
    MatchAll,
    MatchNone,
    Occur,
    Phrase,
    Prefix,
    Range,
    Value,
    Wildcard,
    Word,
)

UTC = dt.timezone.utc


def tree(text: str, match: str = "auto") -> str:
    return describe(parse_query(text, match, today=dt.date(2024, 3, 31)).root)


@pytest.mark.parametrize(("text", "expected"), [
    ("azure arc", "(+azur +arc)"),
    ("azure AND arc", "(+(+azur +arc))"),
    ("azure OR arc", "(+(azur arc))"),
    # OR binds tighter than a space, AND tighter than OR
    ("azure arc OR kubernetes", "(+azur +(arc kubernet))"),
    ("x AND y OR z AND w", "(+((+x +y) (+z +w)))"),
    ("a AND b", "(+b)"),  # a stop word leaves nothing to AND with
    ("+apps power", "(+app power)"),
    ("+apps -portal", "(+app -portal)"),
    ("apps -portal", "(+app -portal)"),
    ("apps NOT portal", "(+app -portal)"),
    ("-crypto", "(-crypto)"),
    ("NOT crypto apps", "(-crypto +app)"),
    ('"power apps"', '(+"power app")'),
    ('"power apps"~2', '(+"power app"~2)'),
    ('"apps"', "(+app)"),
    ("title:portal", "(+title:portal)"),
    ("title:(power apps)", "(+(+title:power +title:app))"),
    ("vulnerab*", "(+vulnerab*)"),
    ("wom?n", "(+wom?n)"),
    ("gpt-3", "(+<gpt-3|gpt3>)"),
    ("node.js", "(+<node-js|nodej>)"),
    ("walk-in", "(+<|walkin|walk>)"),
    ("U.S.", "(+<|us|u>)"),
    ("3.14", "(+3.14)"),
    ("power apps power", "(+power +app)"),  # a word typed twice is one word
    ("How is AI changing us?", "(+how +ai +chang +us)"),  # '?' ending a word is punctuation
])
def test_structure(text: str, expected: str) -> None:
    assert tree(text) == expected


def test_match_modes() -> None:
    assert tree("azure arc", "any") == "(azur arc)"
    root = parse_query("azure arc", "any").root
    assert isinstance(root, Bool) and root.min_should == 1
    assert parse_query("azure arc").root.words  # the group of plain words
    assert not parse_query("+azure arc").root.words  # an explicit + is never relaxed
    assert not parse_query("(azure arc)").root.clauses[0].node.words  # nor a nested group


def test_filters_split_out_of_the_ranked_part() -> None:
    root = parse_query('provider:"The Guardian" provider:Reuters topic:AI -crypto robots').root
    assert isinstance(root, Bool)
    by_occur = {c.occur: [] for c in root.clauses}
    for c in root.clauses:
        by_occur[c.occur].append(c.node)
    assert by_occur[Occur.MUST] == [Word("robots", "robot", "robots")]
    assert by_occur[Occur.MUST_NOT] == [Word("crypto", "crypto", "crypto")]
    providers, topics = by_occur[Occur.FILTER]
    # values of one field are alternatives, different fields must all match
    assert isinstance(providers, Bool) and providers.min_should == 1
    assert {c.node for c in providers.clauses} == {Value("provider", "the guardian"),
                                                   Value("provider", "reuters")}
    assert topics == Value("topic", "ai")


def test_explicit_and_of_one_field_means_both() -> None:
    root = parse_query('topic:AI AND topic:"power apps"').root
    assert isinstance(root, Bool)
    (clause,) = root.clauses
    assert clause.occur is Occur.MUST and isinstance(clause.node, Bool)
    assert [(c.occur, c.node) for c in clause.node.clauses] == [
        (Occur.MUST, Value("topic", "ai")), (Occur.MUST, Value("topic", "power apps"))]


def test_ranges_and_dates() -> None:
    def only(text: str) -> object:
        root = parse_query(text, today=dt.date(2024, 3, 31)).root
        assert isinstance(root, Bool)
        (clause,) = root.clauses
        return clause.node

    day = dt.datetime(2021, 2, 8, tzinfo=UTC)
    end_of = dt.datetime(2021, 2, 8, 23, 59, 59, 999999, tzinfo=UTC)
    assert only("published:2021-02-08") == Range("published", day, end_of)
    assert only("date:>2021-02-08") == Range("published", dt.datetime(2021, 2, 9, tzinfo=UTC), None)
    assert only("published:<2021-02-08") == Range("published", None, day - dt.timedelta(microseconds=1))
    assert only("published:[2021 TO *]") == Range("published", dt.datetime(2021, 1, 1, tzinfo=UTC), None)
    assert only("published:{2021-02-08 TO]") == Range("published", dt.datetime(2021, 2, 9, tzinfo=UTC))
    assert only("published:>=7d") == Range("published", dt.datetime(2024, 3, 24, tzinfo=UTC), None)
    assert only("year:[2019 TO 2020]") == Range("year", 2019, 2020)
    assert only("quality:>50") == Range("quality", 51, None)
    assert only("quality:<=50") == Range("quality", None, 50)
    assert only("provider:*") == Exists("provider")
    assert only("provider:micro*") == Value("provider", "micro", prefix=True)


@pytest.mark.parametrize(("text", "words"), [
    ('"unbalanced', ["unbalanc"]),
    ("published:[garbage TO x]", ["garbag", "x"]),
    ("title:[a TO b] c", ["b", "c"]),
    ("((((robots", ["robot"]),
    ("robots))", ["robot"]),
    ("AND OR robots NOT", ["robot"]),
])
def test_unreadable_syntax_is_searched_as_words(text: str, words: list[str]) -> None:
    parsed = parse_query(text)
    found = [n.term for n in _leaves(parsed.root) if isinstance(n, Word)]
    assert found == words


def _leaves(node: object) -> list[object]:
    if isinstance(node, Bool):
        return [leaf for c in node.clauses for leaf in _leaves(c.node)]
    return [node]


def test_empty_and_match_all() -> None:
    for text in ("", "   ", "*"):
        assert parse_query(text).root == MatchAll()
    assert parse_query("the of").root == MatchNone()  # only stop words
    assert parse_query("provider:reuters").is_match_all()  # nothing ranks
    assert not parse_query("robots").is_match_all()


def test_leaf_kinds() -> None:
    kinds = {type(n) for n in _leaves(parse_query('robots "power apps" gpt-3 app* w?rk').root)}
    assert kinds == {Word, Phrase, Compound, Prefix, Wildcard}


def test_unknown_match_mode_is_a_usage_error() -> None:
    from search.errors import UsageError

    with pytest.raises(UsageError, match="sometimes"):
        parse_query("x", "sometimes")


SYNTAX = st.sampled_from(['"', "(", ")", "[", "]", "{", "}", ":", "*", "?", "+", "-", "^", "~",
                          "AND", "OR", "NOT", "TO", "title:", "provider:", "published:", "year:",
                          "quality:>", "date:[", " ", "\\", "!", "<", ">=", "é", "日本", "\x00"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(SYNTAX, st.text(max_size=6)), max_size=25))
def test_any_text_parses(pieces: list[str]) -> None:
    text = "".join(pieces)
    for match in ("auto", "all", "any"):
        parsed = parse_query(text, match)
        describe(parsed.root)  # a well-formed tree


def test_a_word_still_being_typed_is_a_bounded_prefix() -> None:
    def live(text: str) -> str:
        return describe(parse_query(text, prefix_last=True).root)

    assert live("cosmos db vulnerab") == "(+cosmos +db +vulnerab*[40])"
    assert live("cosmos db vulnerab ") == "(+cosmos +db +vulnerab)"  # a space: the word is done
    assert live("provider:reuters cos") == "(+cos*[40] #provider=reuters)"
    assert live('"cosmos db') == "(+cosmos +db)"  # inside an open quote
    assert live("-cos") == "(-cos)"  # an exclusion is not completed
    assert live("azure AND") == "(+azur)"


def test_words_of_unreadable_syntax_stand_beside_the_others() -> None:
    root = parse_query("published:[garbage TO 2022] robots").root
    assert isinstance(root, Bool) and root.words  # so they can be relaxed like any word
    assert [c.node.term for c in root.clauses] == ["garbag", "2022", "robot"]
