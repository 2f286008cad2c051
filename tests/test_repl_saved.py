"""Saved searches: the TOML file, `:save`/`:saved`/`:load`, and
`search query --saved NAME`."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.cli import main
from search.config import toml_module
from search.env import Env
from search.errors import UsageError
from search.repl.controller import Controller
from search.repl.outcomes import Message, SavedListOutcome, SearchOutcome
from search.repl.saved import SavedSearch, SavedSearches, dumps


@pytest.fixture
def store(tmp_path: Path) -> SavedSearches:
    return SavedSearches(tmp_path / "data" / "search" / "saved.toml")


def test_saved_searches_round_trip_through_a_readable_file(store: SavedSearches):
    arc = SavedSearch("arcwatch", "azure arc", ("Microsoft",), (), "30d", "", "newest")
    assert store.put(arc) is False
    assert store.put(SavedSearch("ai", '"machine learning" -hype', topics=("AI",))) is False
    assert store.all() == [arc, SavedSearch("ai", '"machine learning" -hype', topics=("AI",))]
    text = store.path.read_text()  # type: ignore[union-attr]
    assert "[arcwatch]" in text and 'query = "azure arc"' in text and 'since = "30d"' in text
    assert text.startswith("# Saved searches")
    assert store.put(SavedSearch("arcwatch", "azure arc kubernetes")) is True  # replaced in place
    assert [s.query for s in store.all()] == ["azure arc kubernetes", '"machine learning" -hype']


@given(st.text(max_size=40))
def test_any_query_text_survives_the_file(text: str):
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return  # not writable as UTF-8
    data = toml_module().loads(dumps([SavedSearch("x", text, (text,))]))
    assert data["x"]["query"] == text and data["x"]["providers"] == [text]


def test_a_hand_edited_file_is_read_and_a_broken_one_named(store: SavedSearches):
    assert store.path is not None
    store.path.parent.mkdir(parents=True)
    store.path.write_text('[mine]\nquery = "robots"\n')  # the other keys may be left out
    assert store.all() == [SavedSearch("mine", "robots")]
    store.path.write_text('[mine]\nquery = "robots"\nsort = "sideways"\n')
    with pytest.raises(UsageError, match=r"saved.toml: \[mine\]: sort must be one of"):
        store.all()
    store.path.write_text("[mine\n")
    with pytest.raises(UsageError, match=r"saved.toml: not a valid saved-searches file"):
        store.all()
    store.path.write_text('[mine]\nproviders = "BBC"\n')
    with pytest.raises(UsageError, match=r"providers must be a list of strings"):
        store.all()


def test_names_are_checked_and_unknown_names_say_what_exists(store: SavedSearches):
    store.put(SavedSearch("arcwatch", "azure arc"))
    with pytest.raises(UsageError, match=r"no saved search named 'arc' \(saved: arcwatch\)"):
        store.get("arc")
    ctl = Controller(Path("unused"), saved=store)
    for bad in ("", "two words", "../x", "-x"):
        out = ctl.handle(":save " + bad)
        assert isinstance(out, Message) and out.error, bad


def test_relative_dates_stay_relative(store: SavedSearches):
    week = SavedSearch("week", "ai", since="7d")
    since = week.filters().since
    assert since is not None
    assert since.date() == dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=7)


def test_save_saved_and_load_in_the_repl(built: Path, store: SavedSearches):
    ctl = Controller(built, page_size=lambda: 10, saved=store)
    assert "no query yet" in ctl.handle(":save later").text  # type: ignore[union-attr]
    ctl.handle(":provider the guardian")
    ctl.handle(":since 2020")
    ctl.handle(":sort newest")
    ctl.handle("ai")
    saved = ctl.handle(":save guardian-ai")
    assert isinstance(saved, Message) and not saved.error and "saved guardian-ai" in saved.text
    listed = ctl.handle(":saved")
    assert isinstance(listed, SavedListOutcome) and [s.name for s in listed.searches] == ["guardian-ai"]
    assert listed.searches[0] == SavedSearch("guardian-ai", "ai", ("The Guardian",), (), "2020", "", "newest")

    fresh = Controller(built, page_size=lambda: 10, saved=store)
    out = fresh.handle(":load guardian-ai")
    assert isinstance(out, SearchOutcome) and out.note.startswith("guardian-ai: query 'ai'")
    assert [h.title for h in out.page.hits] == ["Robots learn to walk in a day",
                                                "New AI chips speed up machine learning"]
    assert fresh.state.sort == "newest" and fresh.state.filters.providers == ("The Guardian",)
    assert fresh.handle(":load nope").error  # type: ignore[union-attr]


def test_search_query_runs_a_saved_search(built: Path, tmp_path: Path):
    environ = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    SavedSearches(tmp_path / "data" / "search" / "saved.toml").put(
        SavedSearch("guardian", "ai", ("The Guardian",), sort="oldest"))

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["query", "--index", str(built), "--format", "json", *argv],
                    Env(stdin=io.StringIO(), stdout=out, stderr=err, environ=environ))
        return code, out.getvalue(), err.getvalue()

    code, out, _ = run("--saved", "guardian")
    page = json.loads(out)
    assert code == 0 and page["query"] == "ai"
    assert [h["title"] for h in page["hits"]] == ["New AI chips speed up machine learning",
                                                  "Robots learn to walk in a day"]
    code, out, _ = run("--saved", "guardian", "--sort", "newest", "--provider", "Reuters")
    assert [h["provider"] for h in json.loads(out)["hits"]] == ["the guardian", "Reuters", "The Guardian"]
    code, _, err = run("--saved", "guardian", "robots")
    assert code == 2 and "give QUERY or --saved NAME, not both" in err
    code, _, err = run("--saved", "nope")
    assert code == 2 and "no saved search named 'nope'" in err
