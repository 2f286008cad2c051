"""Completion candidates and syntax-highlighting tokens of the REPL."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from search.query import QUERY_FIELDS
from search.repl.commands import COMMAND_NAMES
from search.repl.completion import ReplCompleter, quote_value
from search.repl.controller import Controller
from search.repl.lexer import (
    COMMAND,
    FIELD,
    NEGATION,
    OPERATOR,
    PHRASE,
    RANGE,
    UNKNOWN_COMMAND,
    VALUE,
    WILDCARD,
    WORD,
    make_lexer,
    tokenize_line,
    tokenize_query,
)
from search.searcher import FacetValue

VALUES = {
    "provider": [FacetValue("Microsoft", 532), FacetValue("The Guardian", 12), FacetValue("BBC", 3),
                 FacetValue('Say "Hi" Daily', 1), FacetValue("AT&T", 1)],
    "topic": [FacetValue("AI", 700), FacetValue("Computer Vision", 40), FacetValue("Power Apps", 30)],
    "year": [FacetValue(2022, 300), FacetValue(2021, 200), FacetValue(2019, 5)],
}


def complete(text: str, values: dict | None = None, cursor: int | None = None) -> list[tuple[str, int]]:
    completer = ReplCompleter(lambda name: (values or VALUES)[name])
    doc = Document(text, len(text) if cursor is None else cursor)
    return [(c.text, c.start_position)
            for c in completer.get_completions(doc, CompleteEvent(completion_requested=True))]


def texts(text: str) -> list[str]:
    return [t for t, _ in complete(text)]


# ----------------------------------------------------------------- commands


def test_colon_offers_every_command_with_its_help():
    completer = ReplCompleter(lambda name: VALUES[name])
    got = list(completer.get_completions(Document(":"), CompleteEvent(completion_requested=True)))
    assert [c.text for c in got] == list(COMMAND_NAMES)
    assert all(c.display_meta_text for c in got)
    assert texts(":pro") == ["provider"]
    assert complete(":s") == [("since", -1), ("sort", -1), ("story", -1), ("similar", -1), ("show", -1),
                              ("stats", -1), ("save", -1), ("saved", -1)]


def test_provider_command_offers_index_names_quoted_when_spaced():
    assert texts(":provider ") == ["Microsoft", '"The Guardian"', "BBC", "AT&T"]
    # the whole typed argument is replaced, whatever its case or quote
    assert complete(":provider the g") == [('"The Guardian"', -5)]
    assert complete(':provider "the g') == [('"The Guardian"', -6)]
    # a value containing a double quote cannot be written quoted: not offered
    assert texts(":provider say") == []
    # substring matches come after prefix matches
    assert texts(":provider gua") == ['"The Guardian"']


def test_topic_sort_facets_help_and_date_arguments():
    assert texts(":topic c") == ['"Computer Vision"']
    assert texts(":topic ") == ["AI", '"Computer Vision"', '"Power Apps"']
    assert texts(":sort ") == ["relevance", "newest", "oldest", "quality"]
    assert texts(":sort n") == ["newest"]
    assert texts(":facets ") == ["provider", "topic", "year"]
    assert "show" in texts(":help sh")
    assert texts(":since 20") == ["2022", "2021", "2019"]
    assert texts(":since ") == ["today", "yesterday", "7d", "30d", "2w", "3m", "1y", "last week",
                                "last month", "2022", "2021", "2019"]
    assert texts(":until la") == ["last week", "last month"]
    assert texts(":view ") == ["full", "compact"] and texts(":live o") == ["on", "off"]


def test_saved_names_after_load_and_save():
    completer = ReplCompleter(lambda name: VALUES[name], lambda: ["arcwatch", "ai-news"])
    got = completer.get_completions(Document(":load a"), CompleteEvent(completion_requested=True))
    assert [c.text for c in got] == ["arcwatch", "ai-news"]
    got = completer.get_completions(Document(":save arc"), CompleteEvent(completion_requested=True))
    assert [c.text for c in got] == ["arcwatch"]


def tab(text: str, presses: int = 1) -> str:
    """The line after pressing Tab `presses` times at its end."""
    from prompt_toolkit.buffer import Buffer

    from search.repl.keys import complete_now

    completer = ReplCompleter(lambda name: VALUES[name])
    buffer = Buffer(completer=completer)
    buffer.text = text
    buffer.cursor_position = len(text)
    for _ in range(presses):
        complete_now(buffer, completer)
    return buffer.text


def test_one_tab_inserts_a_unique_completion():
    assert tab(":prov") == ":provider "  # a command that takes an argument: a space after it
    assert tab(":sta") == ":stats"
    assert tab(":provider the g") == ':provider "The Guardian"'
    assert tab("apps provider:mic") == "apps provider:Microsoft"
    assert tab(":sort n") == ":sort newest"


def test_tab_on_several_candidates_completes_their_common_part_then_cycles():
    assert tab(":sa") == ":save"  # :save and :saved share "save"
    assert tab(":s") == ":s"  # nothing in common: the menu opens instead
    assert tab(":s", presses=2) == ":since"  # the next Tab picks the first
    assert tab(":zzz") == ":zzz"


def test_export_completes_paths(tmp_path: Path):
    (tmp_path / "results.csv").write_text("")
    (tmp_path / "other").mkdir()
    assert sorted(texts(f":export {tmp_path}/")) == ["other", "results.csv"]
    assert texts(f":export {tmp_path}/res") == ["ults.csv"]
    assert texts(":export --") == ["--force"]
    assert texts(f":export --force {tmp_path}/res") == ["ults.csv"]


# ----------------------------------------------------------------- queries


def test_field_names_complete_on_a_bare_word():
    assert texts("ti") == ["title:"]
    assert texts("apps prov") == ["provider:"]
    assert texts("-pub") == ["published:"]
    assert set(texts("t")) == {f + ":" for f in QUERY_FIELDS if f.startswith("t")}
    assert texts("provider") == []  # already a whole field name: nothing to add


def test_provider_values_after_provider_colon_and_its_aliases():
    assert texts("provider:") == ["Microsoft", '"The Guardian"', "BBC", "AT&T"]
    assert complete("apps provider:mic") == [("Microsoft", -3)]
    assert complete('apps provider:"the') == [('"The Guardian"', -4)]
    assert texts("source:bb") == ["BBC"]
    assert texts("(site:bb") == ["BBC"]


def test_topic_values_after_topic_colon():
    assert complete("topic:comp") == [('"Computer Vision"', -4)]
    assert texts("tags:po") == ['"Power Apps"']
    assert texts("year:201") == ["2019"]


def test_nothing_inside_a_phrase_or_after_a_closed_value():
    assert texts('"power ti') == []
    assert texts('provider:"BBC" ti') == ["title:"]
    assert texts("published:") == []  # no value list for dates


def test_values_that_cannot_be_read_complete_nothing():
    def broken(name: str) -> list[FacetValue]:
        raise OSError("no index")

    completer = ReplCompleter(broken)
    doc = Document(":provider ")
    assert list(completer.get_completions(doc, CompleteEvent(completion_requested=True))) == []


def test_completion_values_come_from_the_index(built: Path):
    controller = Controller(built)
    got = complete(":provider ", {"provider": controller.values("provider")})
    assert [t for t, _ in got] == ["Microsoft", '"The Guardian"', "BBC", "Reuters"]
    topics = [t for t, _ in complete("topic:", {"topic": controller.values("topic")})]
    assert topics[0] == "AI" and '"Computer Vision"' in topics


@pytest.mark.parametrize(("value", "quoted"), [
    ("BBC", "BBC"), ("The Guardian", '"The Guardian"'), ("AT&T", "AT&T"), ("ZDNet.com", "ZDNet.com"),
    ("O'Reilly", '"O\'Reilly"'), ("Tom's Hardware", '"Tom\'s Hardware"'), ("a:b", '"a:b"'),
])
def test_quote_value(value: str, quoted: str):
    assert quote_value(value) == quoted


# ----------------------------------------------------------------- highlighting


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize_query(text) if t.kind != "space"]


def test_tokens_of_fields_phrases_operators_and_negation():
    assert kinds('provider:"The Guardian" AND -spam NOT ads "power apps" app* date:[2020 TO 2021]') == [
        (FIELD, "provider:"), (VALUE, '"The Guardian"'), (OPERATOR, "AND"), (NEGATION, "-"),
        (WORD, "spam"), (NEGATION, "NOT"), (WORD, "ads"), (PHRASE, '"power apps"'),
        (WILDCARD, "app*"), (FIELD, "date:"), (VALUE, "[2020 TO 2021]"),
    ]
    assert kinds("(a OR b) [x TO y") == [("paren", "("), (WORD, "a"), (OPERATOR, "OR"), (WORD, "b"),
                                          ("paren", ")"), (RANGE, "[x TO y")]


def test_tokens_cover_every_character_even_half_typed():
    for text in ['provider:"The Gu', '"unterminated phrase', "a] b) c:", "-", "+x -", ":sort n", "x:[1 TO"]:
        tokens = tokenize_line(text)
        assert "".join(t.text for t in tokens) == text
        assert all(t.start < t.end for t in tokens)


def test_command_lines_are_marked_known_or_unknown():
    known = tokenize_line(":provider The Guardian", lambda n: n == "provider")
    assert [(t.kind, t.text) for t in known] == [(COMMAND, ":provider"), ("argument", " The Guardian")]
    assert tokenize_line(":bogus", lambda n: False)[0].kind == UNKNOWN_COMMAND


def test_prompt_toolkit_lexer_styles_the_line():
    lexer = make_lexer(lambda n: n in COMMAND_NAMES)
    line = lexer.lex_document(Document('provider:"BBC" -spam'))(0)
    assert ("class:q-field", "provider:") in line and ("class:q-value", '"BBC"') in line
    assert ("class:q-negation", "-") in line and ("", "spam") in line
    assert lexer.lex_document(Document(":nope"))(0) == [("class:q-unknown-command", ":nope")]
