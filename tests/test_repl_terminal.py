"""REPL v2 in a real pseudo-terminal, read off an emulated screen (pyte):
results while typing, page keys that redraw, small terminals, Tab, saved
searches across sessions, the export question, script runs, the pager.

The corpus is made here: a story covered by several outlets (one of them
"Bleeping Computer"), recent articles for relative dates, and a run of
long-titled articles with long URLs for paging and wrapping.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Corpus
from test_repl_pty import Terminal

from search.cli import main
from search.env import Env
from search.indexer import build_index
from search.searcher import Searcher, SearchRequest

pytestmark = pytest.mark.slow
pyte = pytest.importorskip("pyte", reason="pyte (a test dependency) reads the screen: "
                           "pip install -e '.[test]'")

DOWN, PAGE_DOWN, PAGE_UP, ALT_P, TAB, CTRL_D = "\x1b[B", "\x1b[6~", "\x1b[5~", "\x1bp", "\t", "\x04"

STORY = [
    ("Microsoft warns Azure customers of critical Cosmos DB vulnerability", "Bleeping Computer", 3),
    ("ChaosDB: the Cosmos DB vulnerability that exposed thousands of Azure customers' databases",
     "Ars Technica", 4),
    ("Critical Cosmos database flaw affected thousands of Microsoft Azure customers", "The Hacker News", 5),
    ("Vulnerability in Microsoft Azure Cosmos DB may have exposed customer data to hackers",
     "SiliconANGLE", 6),
    ("Cosmos DB vulnerability: administrators should rotate their primary keys now", "GeekWire", 200),
]


def _ago(days: int) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def index(corpus: Corpus, index_dir: Path) -> Path:
    for i, (title, provider, days) in enumerate(STORY):
        related = ["related:"]
        if i == 0:  # the story's other coverage: two indexed articles, one elsewhere
            related += ['  - title: "' + STORY[1][0].replace('"', "") + '"',
                        '    webUrl: "https://example.com/story/1"',
                        "    provider:", "      name: Ars Technica",
                        f"    publishedDateTime: {_ago(4)}",
                        '  - title: "Cosmos DB keys exposed: a walk through the ChaosDB flaw"',
                        '    webUrl: "https://elsewhere.example.org/chaosdb-walkthrough"',
                        "    provider:", "      name: Elsewhere Weekly",
                        f"    publishedDateTime: {_ago(3)}"]
        corpus.write(f"story/{i}.md", "\n".join([
            "---", f'title: "{title}"',
            f'excerpt: "Researchers found a flaw in Cosmos DB; {provider} explains what it exposed."',
            f"publishedDateTime: {_ago(days)}", f'webUrl: "https://example.com/story/{i}"',
            "provider:", f'  name: "{provider}"', "  domain: example.com", "topics:", "  - Azure",
            *(related if len(related) > 1 else []), "---", ""]))
    for i in range(24):
        corpus.add(f"arc/{i:02}.md",
                   f"Azure Arc update number {i:02} brings hybrid management to Kubernetes clusters "
                   "running on premises and at the edge",
                   excerpt="Azure Arc extends the Azure control plane to servers and Kubernetes clusters "
                           "anywhere. " * 3,
                   provider="Microsoft", published=_ago(400 + i), topics=["Azure", "Hybrid"],
                   url=f"https://azure.example.com/updates/{i:02}/azure-arc-enabled-kubernetes-"
                       "hybrid-management-for-clusters-running-anywhere-general-availability")
    build_index(index_dir, [corpus.root])
    return index_dir


@pytest.fixture
def term_env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCH_INDEX", "PAGER")}
    env.update(HOME=str(tmp_path / "home"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               TERM="xterm-256color")
    return env


def repl(index: Path, env: dict[str, str], cwd: Path, cols: int = 140, rows: int = 45) -> Terminal:
    term = Terminal([sys.executable, "-m", "search", "repl", "--index", str(index)], env, cwd,
                    rows=rows, cols=cols)
    term.expect_screen(lambda s: any(r.startswith("search>") for r in s) and any("filters" in r for r in s))
    return term


def prompt_row(rows: list[str]) -> int:
    """The row of the last prompt on screen (the last row when there is none)."""
    return max((i for i, r in enumerate(rows) if r.startswith("search>")), default=len(rows) - 1)


def has(pattern: str) -> Callable[[list[str]], bool]:
    return lambda rows: any(re.search(pattern, r) for r in rows)


def ready(term: Terminal) -> None:
    """Wait for an empty prompt with its toolbar under it: keys like Ctrl-D
    typed before the prompt puts the terminal in raw mode would be eaten by
    the terminal's line discipline."""
    term.expect_screen(lambda s: s[prompt_row(s)] == "search>"
                       and any("filters" in r for r in s[prompt_row(s) + 1:]))
    time.sleep(0.15)


def finish(term: Terminal) -> None:
    ready(term)
    term.send(CTRL_D)
    assert term.wait() == 0
    assert "Traceback" not in term.text


def ranks(rows: list[str]) -> list[int]:
    return [int(m.group(1)) for r in rows if (m := re.match(r"\s*(\d+)\. \S", r))]


# ----------------------------------------------------------------- results while typing


def test_typing_shows_the_top_hits_under_the_prompt_and_enter_on_one_shows_it(
        index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        term.send("cosmos db vulnerab")  # no Enter: the last word is still being typed
        rows = term.expect_screen(lambda s: sum("Cosmos" in r for r in s[prompt_row(s) + 1:]) >= 3)
        at = prompt_row(rows)
        assert rows[at] == "search> cosmos db vulnerab"  # typing was never held up
        assert re.search(r"\d+ hits? for cosmos db vulnerab\*", "\n".join(rows[at:]))
        term.send(DOWN + DOWN)
        rows = term.expect_screen(lambda s: any(r.startswith("›") for r in s))
        picked = next(r for r in rows if r.startswith("›"))
        title = re.sub(r"^›\s*\d+\.\s*", "", picked).split("  ")[0].rstrip("…")
        term.send("\r")
        rows = term.expect_screen(has(r"^\s+provider  "))
        assert any(title in r for r in rows)
        assert any("related coverage" in r for r in rows) or any("file  " in r for r in rows)
        finish(term)
    finally:
        term.close()


def test_live_off_stops_the_list(index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        ready(term)
        term.send(":live off\r")
        term.expect_screen(has("results while typing: off"))
        ready(term)
        term.send("cosmos db")
        term.expect_screen(lambda s: s[prompt_row(s)] == "search> cosmos db")
        time.sleep(0.5)  # what would have come by now
        rows = term.expect_screen(lambda s: True)
        assert not any("hits for" in r for r in rows[prompt_row(rows):])
        term.send("\x03")  # Ctrl-C clears the line
        finish(term)
    finally:
        term.close()


# ----------------------------------------------------------------- keys and paging


def test_page_down_and_alt_p_redraw_the_page_in_place(index: Path, term_env: dict[str, str],
                                                       tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        term.send("azure arc\r")
        first = term.expect_screen(has(r"showing 1–\d+ .* page 1 of"))
        shown = ranks(first)
        assert shown[0] == 1 and len(shown) >= 3
        term.send(PAGE_DOWN)
        second = term.expect_screen(has(r"showing .* page 2 of"))
        assert ranks(second)[0] == shown[-1] + 1  # by rank: nothing skipped
        # drawn over page 1, not below it: one result page on screen
        assert sum("showing" in r for r in second) == 1
        assert not set(ranks(second)) & set(shown)
        term.send(ALT_P)
        back = term.expect_screen(has(r"showing .* page 1 of"))
        assert ranks(back) == shown and sum("showing" in r for r in back) == 1
        term.send(PAGE_UP)
        term.expect_screen(has("already on the first page"))
        finish(term)
    finally:
        term.close()


def test_a_filter_change_redraws_and_a_new_query_appends(index: Path, term_env: dict[str, str],
                                                         tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        term.send("cosmos\r")
        term.expect_screen(has(articles(5)))
        term.send(":since 30d\r")  # a relative date
        rows = term.expect_screen(has(articles(4)))
        since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)).date().isoformat()
        assert any(f"since {since} (30d)" in r for r in rows)
        assert sum(" · showing" in r for r in rows) == 1  # the filtered page replaced the first
        assert not any(r.startswith("error") for r in rows)
        assert not any("GeekWire" in r for r in rows)  # 200 days old
        finish(term)
    finally:
        term.close()


def articles(count: int) -> str:
    """The summary line of `count` matching articles, grouped by story or not."""
    return rf"^(?:{count} hits?|\d+ stor(?:y|ies) \({count} articles\)) · showing"


def page(term: Terminal, number: int, since: int) -> tuple[int, int, int]:
    """Wait for result page `number` to be written after text position
    `since`: (first rank, last rank, where its summary ends). Read from the
    output as written, since a resize reflows the screen differently in
    every terminal (and in the emulator)."""
    m = term.expect(rf"showing (\d+)–(\d+) · [\d.]+ ms · page {number} of", since=since)
    return int(m.group(1)), int(m.group(2)), m.end()


def test_a_resize_never_skips_hits(index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path, cols=120, rows=40)
    try:
        term.send("azure arc\r")
        first = page(term, 1, 0)
        for rows, cols, number, before in ((15, 60, 2, first), (40, 120, 3, None)):
            pos = len(term.text)
            term.resize(rows, cols)
            term.expect(r"search> ", since=pos)  # the prompt is drawn again at the new size
            time.sleep(0.3)
            term.send(PAGE_DOWN)
            got = page(term, number, pos)
            previous = before or second  # noqa: F821 - set on the first round
            assert got[0] == previous[1] + 1, (number, got, previous)  # nothing skipped
            if number == 2:
                second = got
                assert got[1] - got[0] < first[1] - first[0]  # smaller pages on the smaller terminal
        pos = len(term.text)
        term.send(PAGE_UP)
        assert page(term, 2, pos)[0] == second[0]  # back to where page 2 started
        finish(term)
    finally:
        term.close()


# ----------------------------------------------------------------- any terminal size


def test_a_small_terminal_shows_three_hits_with_whole_titles(index: Path, term_env: dict[str, str],
                                                             tmp_path: Path):
    term = repl(index, term_env, tmp_path, cols=60, rows=15)
    try:
        term.send("azure arc\r")
        rows = term.expect_screen(has(r"showing 1–"))
        assert len(ranks(rows)) >= 3
        words = " ".join(rows).split()
        title = ("Azure Arc update number 00 brings hybrid management to Kubernetes clusters "
                 "running on premises and at the edge")
        first = next(i for i, r in enumerate(rows) if re.match(r"\s*1\. ", r))
        # the whole title, on consecutive rows
        assert " ".join(" ".join(rows[first:first + 3]).split()).startswith("1. " + title)
        # the screen never wrapped a line: nothing reaches the last column
        assert all(len(r) < 60 for r in rows), rows
        assert all(w in words for w in title.split())
        finish(term)
    finally:
        term.close()


def test_long_urls_break_only_with_a_marker(index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path, cols=80, rows=45)
    try:
        term.send("azure arc\r")
        rows = term.expect_screen(has(r"showing 1–"))
        broken = [r for r in rows if r.rstrip().endswith("↩")]
        assert broken, rows
        at = rows.index(broken[0])
        url = (rows[at].strip()[:-1] + rows[at + 1].strip())
        assert url == ("https://azure.example.com/updates/00/azure-arc-enabled-kubernetes-"
                       "hybrid-management-for-clusters-running-anywhere-general-availability")
        finish(term)
    finally:
        term.close()


# ----------------------------------------------------------------- completion


def test_one_tab_completes_a_unique_value_and_ambiguous_commands_are_listed(
        index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        term.send(":prov")
        term.expect_screen(lambda s: s[prompt_row(s)] == "search> :prov")
        term.send(TAB)
        term.expect_screen(lambda s: s[prompt_row(s)] == "search> :provider")
        term.send("Bleep")
        term.expect_screen(lambda s: s[prompt_row(s)] == "search> :provider Bleep")
        term.send(TAB)
        term.expect_screen(lambda s: s[prompt_row(s)] == 'search> :provider "Bleeping Computer"')
        term.send("\r")
        term.expect_screen(has("provider filter: Bleeping Computer"))
        term.send(":s\r")
        term.expect_screen(has(r"ambiguous command :s: :since :sort :story :similar :show :stats "
                               r":save :saved"))
        finish(term)
    finally:
        term.close()


# ----------------------------------------------------------------- saved searches


def test_a_search_saved_in_one_session_is_listed_and_run_in_the_next(
        index: Path, term_env: dict[str, str], tmp_path: Path):
    term = repl(index, term_env, tmp_path)
    try:
        term.send("cosmos\r")
        term.expect_screen(has(articles(5)))
        term.send(":since 30d\r")
        term.expect_screen(has(articles(4)))
        term.send(":save arcwatch\r")
        term.expect_screen(has(r"saved arcwatch: query 'cosmos', since 30d"))
        finish(term)
    finally:
        term.close()
    saved = tmp_path / "data" / "search" / "saved.toml"
    assert 'since = "30d"' in saved.read_text()  # plain text, the date as typed

    term = repl(index, term_env, tmp_path)
    try:
        term.send(":saved\r")
        term.expect_screen(has(r"^arcwatch\s+query 'cosmos', since 30d"))
        term.send(":load arcwatch\r")
        term.expect_screen(has(articles(4)))
        finish(term)
    finally:
        term.close()

    out = io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=out, stderr=io.StringIO(), environ=term_env)
    assert main(["query", "--saved", "arcwatch", "--index", str(index), "--format", "jsonl"], env) == 0
    assert len(out.getvalue().splitlines()) == 4


# ----------------------------------------------------------------- polish


def test_export_onto_an_existing_file_asks_and_leaves_it_unchanged(
        index: Path, term_env: dict[str, str], tmp_path: Path):
    existing = tmp_path / "mine.jsonl"
    existing.write_text("keep me\n")
    term = repl(index, term_env, tmp_path)
    try:
        term.send("cosmos\r")
        term.expect_screen(has(articles(5)))
        term.send(f":export {existing}\r")
        term.expect_screen(has(r"exists; overwrite it\? \[y/N\]"))
        term.send("\r")  # the default: no
        term.expect_screen(has("not overwritten"))
        assert existing.read_text() == "keep me\n"
        term.send(f":export {existing}\r")
        term.expect_screen(lambda s: sum("overwrite it?" in r for r in s) == 2)
        term.send("y\r")
        term.expect_screen(has("wrote 5 results to"))
        finish(term)
    finally:
        term.close()
    assert len(existing.read_text().splitlines()) == 5


def test_a_pager_that_ends_without_a_newline_leaves_the_prompt_on_its_own_line(
        index: Path, term_env: dict[str, str], tmp_path: Path):
    term_env["PAGER"] = "cat"
    term = repl(index, term_env, tmp_path, cols=100, rows=12)  # the article is longer than the screen
    try:
        term.send("cosmos bleeping\r")
        term.expect_screen(has(r"^1 hit"))
        term.send(":show 1\r")
        rows = term.expect_screen(lambda s: "elsewhere.example.org" in "".join(s)
                                  and s[prompt_row(s)].startswith("search>"))
        assert rows[prompt_row(rows)] == "search>"
        finish(term)
    finally:
        term.close()


def test_show_lists_coverage_and_opens_items_by_number(index: Path, term_env: dict[str, str],
                                                       tmp_path: Path):
    term_env["PAGER"] = "cat"
    term = repl(index, term_env, tmp_path)
    try:
        term.send("cosmos bleeping\r")
        term.expect_screen(has(r"^1 hit"))
        term.send(":show 1\r")
        rows = term.expect_screen(has(r"related coverage \(4: 3 in the index"))
        text = "\n".join(rows)
        # the story's other articles (oldest first), then the related items:
        # the indexed one first, marked; the other one after it, with its URL
        assert text.index("1. ● Vulnerability in Microsoft") < text.index("2. ● Critical Cosmos") \
            < text.index("3. ● ChaosDB") < text.index("4. ○ Cosmos DB keys exposed")
        term.send(":show 1.3\r")
        term.expect_screen(has(r"^1\.3\. ChaosDB: the Cosmos DB vulnerability"))
        term.send(":show 1.4\r")
        term.expect_screen(has(r"not in the index; its URL:"))
        term.expect_screen(has(r"https://elsewhere\.example\.org/chaosdb-walkthrough"))
        finish(term)
    finally:
        term.close()


def test_a_piped_script_reports_errors_on_stderr_and_fails(index: Path, term_env: dict[str, str],
                                                          tmp_path: Path):
    run = subprocess.run([sys.executable, "-m", "search", "repl", "--index", str(index)],
                         input=":bogus\ncosmos\n", capture_output=True, text=True, env=term_env,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith("error: unknown command :bogus")
    assert "error" not in run.stdout and re.search(articles(5), run.stdout, re.M)
    broken = subprocess.run([sys.executable, "-m", "search", "repl", "--index", str(tmp_path / "none")],
                            input="cosmos\n", capture_output=True, text=True, env=term_env, cwd=tmp_path,
                            timeout=60)
    assert broken.returncode == 2 and "no index at" in broken.stderr


# ----------------------------------------------------------------- the real corpus


def test_the_issue_acceptance_on_the_azure_corpus(azure_index: Path, term_env: dict[str, str],
                                                  tmp_path: Path):
    """Issue 12's acceptance list, on ../shared/corpus-azure (4,958 articles)."""
    term = repl(azure_index, term_env, tmp_path, cols=140, rows=45)
    try:
        term.send("cosmos db vulnerab")
        rows = term.expect_screen(lambda s: sum("Cosmos" in r for r in s[prompt_row(s) + 1:]) >= 3)
        assert rows[prompt_row(rows)] == "search> cosmos db vulnerab"
        term.send("\x15")  # Ctrl-U
        # grouped by story, `cosmos db vulnerability` is two events (one page):
        # page through a query with more of them
        term.send("cosmos db\r")
        first = page(term, 1, 0)
        ready(term)
        term.send(PAGE_DOWN)
        second = page(term, 2, first[2])
        assert second[0] == first[1] + 1
        ready(term)
        term.send(":since 30d\r")
        term.expect_screen(has(r"^since \d{4}-\d\d-\d\d \(30d\)"))
        ready(term)
        term.send(":since\r")
        term.expect_screen(has(r"^since cleared"))
        ready(term)
        term.send(":provider Bleep")
        term.expect_screen(lambda s: s[prompt_row(s)] == "search> :provider Bleep")
        term.send(TAB)
        term.expect_screen(lambda s: s[prompt_row(s)] == 'search> :provider "Bleeping Computer"')
        term.send("\r")
        term.expect_screen(has(r"provider filter: Bleeping Computer"))
        ready(term)
        term.send(":save arcwatch\r")
        term.expect_screen(has(r"^saved arcwatch"))
        finish(term)
    finally:
        term.close()

    term = repl(azure_index, term_env, tmp_path, cols=60, rows=15)
    try:
        term.send(":saved\r")
        term.expect_screen(has(r"^arcwatch\s+query 'cosmos db'"))
        ready(term)
        term.send("cosmos db\r")
        rows = term.expect_screen(has(r"showing 1–\d+"))
        assert len(ranks(rows)) >= 3
        first = next(i for i, r in enumerate(rows) if re.match(r"\s*1\. ", r))
        with Searcher(azure_index) as s:
            title = s.search(SearchRequest("cosmos db", limit=1, group="story")).hits[0].title
        assert " ".join(" ".join(rows[first:first + 3]).split()).startswith("1. " + " ".join(title.split()))
        assert all(len(r) < 60 for r in rows), rows  # nothing wrapped by the terminal
        finish(term)
    finally:
        term.close()
