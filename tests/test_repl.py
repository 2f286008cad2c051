"""The REPL end to end through prompt_toolkit's pipe input (no terminal):
queries, every command, editing keys, history, and the error paths."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import Corpus
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from search.cli import main
from search.config import Settings
from search.env import Env
from search.indexer import build_index
from search.repl.commands import COMMAND_NAMES
from search.repl.controller import Controller
from search.repl.layout import reserved_rows
from search.repl.session import run_repl

CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_R = "\x12"
TAB = "\t"
RIGHT = "\x1b[C"


@dataclass
class Session:
    """What one REPL run printed, and what it tried to open."""

    status: int
    out: str
    err: str
    opened: list[str] = field(default_factory=list)
    history: Path | None = None


def drive(index_dir: Path, keys: str | list[str], tmp: Path, environ: dict[str, str] | None = None,
          color: str = "auto", browser: bool = True) -> Session:
    """Run the REPL on `index_dir` typing `keys`, with its history under `tmp`.

    A list of keys is typed chunk by chunk with a pause between, as a person
    types: needed where a key acts asynchronously (Tab starts completion,
    which must finish before the next key). The pipe is closed after the
    keys (EOF, like Ctrl-D) unless they end the session themselves.
    """
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=out, stderr=err,
              environ=environ if environ is not None else {"HOME": str(tmp)})
    history = tmp / "state" / "search" / "history"
    settings = Settings(index_dir=index_dir, color=color, history_file=history)
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return browser

    chunks = [keys] if isinstance(keys, str) else keys

    def typist(pipe: Any) -> None:
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(0.4)
            pipe.send_text(chunk)
        if not chunks[-1].endswith((CTRL_D, ":quit\n", ":q\n")):
            pipe.close()

    with create_pipe_input() as pipe:
        if len(chunks) == 1:
            typist(pipe)
        else:
            threading.Thread(target=typist, args=(pipe,), daemon=True).start()
        status = run_repl(settings, env, input=pipe, output=DummyOutput(), opener=opener)
    return Session(status, out.getvalue(), err.getvalue(), opened, history)


def result_titles(out: str) -> list[str]:
    return re.findall(r"^\s*\d+\. (.+)$", out, flags=re.M)


_SUMMARY = re.compile(r"^(?:(\d+) hits? · showing.*|no hits.*)$", re.M)


def pages(out: str) -> list[tuple[int, list[str], str]]:
    """Each result page printed: (total, titles, the text before its summary)."""
    blocks = _SUMMARY.split(out)
    # split() alternates text, total (None for "no hits"), text...
    return [(int(total or 0), result_titles(text), text)
            for text, total in zip(blocks[0::2], blocks[1::2], strict=False)]


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing a test runs may write history or config into the real home
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("SEARCH_INDEX", raising=False)


# ----------------------------------------------------------------- queries


def test_query_shows_ranked_page_total_time_and_facets(built: Path, tmp_path: Path):
    s = drive(built, "power apps\n" + CTRL_D, tmp_path)
    assert s.status == 0
    titles = result_titles(s.out)
    assert set(titles) == {"Power Apps portals FAQs", "Create mobile apps with Power Apps"}
    assert "Microsoft · 2021-03-01" in s.out  # provider and date of the hit
    assert "Answers to common questions" in s.out  # the excerpt snippet
    assert re.search(r"^\d+ hits? · showing 1–\d+ · [\d.]+ ms", s.out, flags=re.M)
    assert re.search(r"^provider: Microsoft 2\b", s.out, flags=re.M)
    assert "Traceback" not in s.out + s.err


def test_query_syntax_is_the_query_commands(built: Path, tmp_path: Path):
    s = drive(built, 'provider:"The Guardian" AND ai\n' + '"walk in a day"\n' + "-ai\n" + CTRL_D, tmp_path)
    blocks = re.split(r"hits? · showing", s.out)
    assert set(result_titles(blocks[0])) == {"New AI chips speed up machine learning",
                                              "Robots learn to walk in a day"}
    assert result_titles(blocks[1]) == ["Robots learn to walk in a day"]
    assert set(result_titles(blocks[2])) == {"Power Apps portals FAQs", "Create mobile apps with Power Apps"}


def test_no_hits_names_active_filters(built: Path, tmp_path: Path):
    s = drive(built, ":provider BBC\nrobots\n" + CTRL_D, tmp_path)
    assert "no hits" in s.out
    assert "(filters: provider=BBC; :clear drops them)" in s.out


def test_typos_are_corrected_and_said_and_short_ones_suggested(built: Path, tmp_path: Path):
    s = drive(built, "robts\nfacal recogniton\nwalkk\nwlk\n" + CTRL_D, tmp_path)
    # words of 5+ letters the index lacks are corrected, and the page says so
    assert "showing results for robots (no match for robts)" in s.out
    assert "showing results for facial (no match for facal)" in s.out
    assert "showing results for recognition (no match for recogniton)" in s.out
    assert result_titles(s.out)[0] == "Robots learn to walk in a day"
    # a shorter one is not corrected, but suggested when the query finds nothing
    assert re.search(r"did you mean: walk\b", s.out)
    assert s.out.count("did you mean") == 1


def test_page_fits_the_terminal(corpus: Corpus, index_dir: Path, tmp_path: Path):
    for i in range(30):
        corpus.add(f"n/{i:02}.md", f"Robot story number {i} with a title",
                   excerpt="Robots " + "and more words " * 30, url=f"https://example.com/{i}")
    build_index(index_dir, [corpus.root])
    s = drive(index_dir, "robot\n" + CTRL_D, tmp_path)
    rows = DummyOutput().get_size().rows
    fit = len(result_titles(s.out))
    assert fit >= 3
    page = s.out.split("\n", 1)[1]  # after the banner
    assert page.count("\n") <= rows - reserved_rows(rows)
    assert f"page 1 of {-(-30 // fit)}" in s.out


# ----------------------------------------------------------------- keys


def test_ctrl_c_clears_the_line_and_never_exits(built: Path, tmp_path: Path):
    s = drive(built, "half typed query" + CTRL_C + CTRL_C + "robots\n" + CTRL_D, tmp_path)
    assert s.status == 0
    assert result_titles(s.out) == ["Robots learn to walk in a day"]
    assert "half typed" not in s.out


def test_ctrl_d_exits_zero_and_history_is_kept(built: Path, tmp_path: Path):
    s = drive(built, "robots\n:help\n" + CTRL_D, tmp_path)
    assert s.status == 0
    assert s.history is not None and s.history.is_file()
    text = s.history.read_text()
    assert "+robots" in text and "+:help" in text


def test_quit_command_exits_zero(built: Path, tmp_path: Path):
    assert drive(built, ":quit\n", tmp_path).status == 0
    assert drive(built, ":q\n", tmp_path).status == 0


def test_auto_suggestion_from_history(built: Path, tmp_path: Path):
    drive(built, "robots walk\n" + CTRL_D, tmp_path)
    s = drive(built, ["robo", RIGHT, "\n" + CTRL_D], tmp_path)
    assert result_titles(s.out) == ["Robots learn to walk in a day"]


def test_ctrl_r_searches_history(built: Path, tmp_path: Path):
    drive(built, "facebook accounts\nrobots\n" + CTRL_D, tmp_path)
    s = drive(built, CTRL_R + "faceb" + "\n\n" + CTRL_D, tmp_path)
    assert result_titles(s.out) == ["Facebook removes fake accounts"]


def test_tab_completes_command_and_provider(built: Path, tmp_path: Path):
    s = drive(built, [":prov", TAB, " micro", TAB, "\n", "apps\n" + CTRL_D], tmp_path)
    assert "provider filter: Microsoft" in s.out
    assert "Microsoft" in s.out and "Reuters" not in s.out


def test_history_folder_unwritable_falls_back_to_memory(built: Path, tmp_path: Path):
    (tmp_path / "state").write_text("a file where the folder should be")
    s = drive(built, "robots\n" + CTRL_D, tmp_path)
    assert s.status == 0
    assert "history not saved" in s.err
    assert result_titles(s.out) == ["Robots learn to walk in a day"]


# ----------------------------------------------------------------- commands


def test_help_lists_every_command_one_line_each(built: Path, tmp_path: Path):
    s = drive(built, ":help\n:help show\n" + CTRL_D, tmp_path)
    for name in COMMAND_NAMES:
        assert len(re.findall(rf"^:{name}\b.*\S", s.out, flags=re.M)) >= 1, name
    assert re.search(r"^:show N\[\.M\] +the whole article N", s.out, flags=re.M)


def test_provider_filters_apply_until_cleared(built: Path, tmp_path: Path):
    keys = ":provider microsoft\n*\nrobots\n*\n:provider the guardian\n:provider\n" + CTRL_D
    s = drive(built, keys, tmp_path)
    got = pages(s.out)
    assert [total for total, _, _ in got] == [2, 0, 2, 4, 6]
    assert set(got[0][1]) == {"Power Apps portals FAQs", "Create mobile apps with Power Apps"}
    assert "(filters: provider=Microsoft; :clear drops them)" in s.out
    assert "provider filter: Microsoft | The Guardian" in got[3][2]  # several: any of them
    assert "provider: Microsoft 2 · The Guardian 2" in got[4][2]
    assert "provider filter cleared" in got[4][2]


def test_unknown_provider_is_refused_with_a_suggestion(built: Path, tmp_path: Path):
    s = drive(built, ":provider Reuter\n" + CTRL_D, tmp_path)
    assert "error: no provider named 'Reuter' in the index; did you mean Reuters?" in s.out


def test_topic_since_until_and_clear(built: Path, tmp_path: Path):
    keys = ":topic robotics\n*\n:clear\n:since 2021\n:until 2021-03-31\n:until\n:clear\n" + CTRL_D
    got = pages(drive(built, keys, tmp_path).out)
    assert [total for total, _, _ in got] == [1, 6, 4, 1, 4, 6]
    assert got[0][1] == ["Robots learn to walk in a day"]
    assert "filters cleared" in got[1][2]
    assert "since 2021-01-01" in got[2][2]
    assert "until 2021-03-31" in got[3][2] and got[3][1] == ["Power Apps portals FAQs"]
    assert "until cleared" in got[4][2]


def test_sort_paging_and_limit(built: Path, tmp_path: Path):
    keys = (":limit 2\n:sort newest\n*\n:next\n:next\n:next\n:prev\n:page 1\n:page 9\n"
            ":sort oldest\n:limit\n" + CTRL_D)
    s = drive(built, keys, tmp_path)
    assert "page 1 of 3" in s.out and "page 2 of 3" in s.out and "page 3 of 3" in s.out
    titles = result_titles(s.out)
    assert titles[:2] == ["Robots learn to walk in a day",
                          "Ukraine uses facial recognition to identify dead Russian soldiers"]
    assert "error: already on the last page" in s.out
    assert "error: no such page: the results have 3 pages" in s.out
    assert "sorted by oldest" in s.out
    assert "page size: fits the terminal" in s.out


def test_show_prints_every_field_and_related_coverage(corpus: Corpus, index_dir: Path, tmp_path: Path):
    corpus.write("a/story.md", "\n".join([
        "---", 'title: "Main story about robots"', 'excerpt: "The whole excerpt of the main story."',
        "publishedDateTime: 2022-04-18T10:00:00Z", 'webUrl: "https://example.com/main"',
        'originalUrl: "https://origin.example.com/main"', "type: article", "category: news",
        "quality: 77", "provider:", "  name: Example News", "  domain: example.com",
        "topics:", "  - AI", "  - Robotics", "related:",
        '  - title: "Other outlet covers robots"', '    webUrl: "https://other.example.org/r"',
        "    provider:", "      name: Other Outlet", "    publishedDateTime: 2022-04-19T08:00:00Z",
        "---", ""]))
    build_index(index_dir, [corpus.root])
    s = drive(index_dir, "robots\n:show 1\n:show 2\n:show x\n" + CTRL_D, tmp_path)
    for expected in ("Main story about robots", "Example News (example.com)", "2022-04-18T10:00:00Z",
                     "AI, Robotics", "quality  77", "https://example.com/main",
                     "https://origin.example.com/main", "a/story.md", "The whole excerpt",
                     "related coverage (1: 0 in the index", "Other outlet covers robots",
                     "Other Outlet · 2022-04-19",
                     "https://other.example.org/r"):
        assert expected in s.out, expected
    assert "error: no result 2: the query has 1 hit" in s.out
    assert "error: usage: :show N" in s.out


def test_show_when_the_file_is_gone(built: Path, news: Corpus, tmp_path: Path):
    (news.root / "_news/2023-07-07-robots.md").unlink()
    s = drive(built, "robots\n:show 1\n" + CTRL_D, tmp_path)
    assert "Robots learn to walk in a day" in s.out
    assert "the file cannot be read any more" in s.out


def test_open_hands_web_urls_to_the_browser(built: Path, tmp_path: Path):
    s = drive(built, "ukraine\n:open 1\n" + CTRL_D, tmp_path)
    assert s.opened == ["https://example.com/ukraine"]
    assert "opened https://example.com/ukraine" in s.out
    s = drive(built, "ukraine\n:open 1\nrobots\n:open 1\n" + CTRL_D, tmp_path, browser=False)
    assert "no web browser available here; the URL is https://example.com/ukraine" in s.out
    assert "error: result 1 has no URL" in s.out


def test_open_refuses_urls_that_are_not_web(corpus: Corpus, index_dir: Path, tmp_path: Path):
    corpus.add("x.md", "Sneaky link", url="file:///etc/passwd")
    build_index(index_dir, [corpus.root])
    s = drive(index_dir, "sneaky\n:open 1\n" + CTRL_D, tmp_path)
    assert s.opened == []
    assert "has no web URL" in s.out


def test_facets_switch_and_stats(built: Path, tmp_path: Path):
    s = drive(built, "*\n:facets topic\n:facets year\n:facets colour\n:stats\n" + CTRL_D, tmp_path)
    assert re.search(r"^topic: AI 4 · Power Apps 2\b", s.out, flags=re.M)
    assert re.search(r"^year: 2021 2\b", s.out, flags=re.M)
    assert "error: usage: :facets provider|topic|year" in s.out
    assert re.search(r"documents +6$", s.out, flags=re.M)


def test_export_writes_every_result_as_jsonl_and_csv(built: Path, tmp_path: Path):
    jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    s = drive(built, f":limit 1\nai\n:export {jsonl}\n:export {table}\n:export {tmp_path}/x.txt\n"
              + CTRL_D, tmp_path)
    assert "wrote 4 results to" in s.out
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert {"title", "provider", "published", "url", "highlights"} <= set(rows[0])
    with table.open(newline="") as fh:
        records = list(csv.DictReader(fh))
    assert len(records) == 4 and records[0]["title"] == rows[0]["title"]
    assert "name the file .jsonl (JSON Lines) or .csv" in s.out


def test_export_needs_a_query(built: Path, tmp_path: Path):
    s = drive(built, f":export {tmp_path}/a.csv\n" + CTRL_D, tmp_path)
    assert "error: no query yet" in s.out
    assert not (tmp_path / "a.csv").exists()


# ----------------------------------------------------------------- errors


def test_bad_commands_and_arguments_are_one_line_each(built: Path, tmp_path: Path):
    keys = (":bogus\n:shw 1\n:page x\n:sort sideways\n:since someday\n:limit 0\n:next\n"
            ":since 2023\n:until 2022\n" + CTRL_D)
    s = drive(built, keys, tmp_path)
    errors = [line for line in s.out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 8, errors
    assert "unknown command :bogus" in errors[0]
    assert "did you mean :show?" in errors[1]
    assert "invalid date 'someday'" in s.out
    assert ":since 2023-01-01 is after :until 2022-12-31" in s.out
    assert "Traceback" not in s.out + s.err


def test_unexpected_failure_is_one_line_and_the_session_goes_on(
        built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = Controller.run_query

    def flaky(self: Controller, text: str):  # type: ignore[no-untyped-def]
        if text == "boom":
            raise RuntimeError("something broke\nbadly")
        return real(self, text)

    monkeypatch.setattr(Controller, "run_query", flaky)
    s = drive(built, "boom\nrobots\n" + CTRL_D, tmp_path)
    assert "internal error: RuntimeError: something broke badly" in s.out
    assert result_titles(s.out) == ["Robots learn to walk in a day"]


def test_ctrl_c_during_a_command_cancels_it(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def interrupted(self: Controller, text: str):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(Controller, "run_query", interrupted)
    s = drive(built, "robots\n:help\n" + CTRL_D, tmp_path)
    assert "cancelled" in s.out and ":quit" in s.out
    assert s.status == 0


def test_missing_index_says_how_to_build_one(tmp_path: Path):
    s = drive(tmp_path / "nowhere", "robots\n" + CTRL_D, tmp_path)
    assert s.status == 2
    assert "no index at" in s.err and "search index CORPUS_DIR" in s.err
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=out, stderr=err, environ={"HOME": str(tmp_path)})
    assert main(["repl", "--index", str(tmp_path / "nowhere")], env) == 2
    assert "search index CORPUS_DIR" in err.getvalue()


def test_a_folder_that_is_not_our_index_is_refused_before_the_prompt(tmp_path: Path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("not an index")
    s = drive(folder, "robots\n" + CTRL_D, tmp_path)
    assert s.status == 2
    assert "rebuild it with `search index --full CORPUS_DIR`" in s.err
    assert s.out == ""


def test_corpus_control_characters_never_reach_the_terminal(corpus: Corpus, index_dir: Path,
                                                            tmp_path: Path):
    corpus.write("evil.md", "\n".join([
        "---", 'title: "Evil \\e[2J\\e]0;owned\\a robots"', 'excerpt: "Robots \\e[31mred\\e[0m text"',
        'webUrl: "https://example.com/\\e[5m"', "provider:", '  name: "Bad \\e[1mCo"', "related:",
        '  - title: "Rel \\e[7m title"', "---", ""]))
    build_index(index_dir, [corpus.root])
    for env, color in (({"NO_COLOR": "1"}, "auto"), ({}, "always")):
        s = drive(index_dir, "robots\n:show 1\n:provider Bad\n" + CTRL_D, tmp_path, environ=env,
                  color=color)
        assert "Evil \\x1b[2J\\x1b]0;owned\\x07 robots" in s.out or "\\x1b[2J" in s.out
        for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\x1b[31mred", "\x1b[5m", "\x1b[7m", "\x1b[1mCo"):
            assert raw not in s.out, (color, raw)
        if color == "auto":
            assert "\x1b" not in s.out  # NO_COLOR: no styling at all


def test_no_color_means_plain_text_and_color_always_styles(built: Path, tmp_path: Path):
    plain = drive(built, "robots\n" + CTRL_D, tmp_path, environ={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.out
    styled = drive(built, "robots\n" + CTRL_D, tmp_path, color="always")
    assert "\x1b[1;33m" in styled.out  # highlighted match
    styled_no = drive(built, "robots\n" + CTRL_D, tmp_path, color="always", environ={"NO_COLOR": "1"})
    assert "\x1b[" in styled_no.out  # --color always wins over NO_COLOR, as for `search query`


def run_script(built: Path, tmp_path: Path, script: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(script), stdout=out, stderr=err, environ={"HOME": str(tmp_path)})
    status = main(["repl", "--index", str(built)], env)
    return status, out.getvalue(), err.getvalue()


def test_without_a_terminal_lines_are_read_from_stdin(built: Path, tmp_path: Path):
    status, out, err = run_script(built, tmp_path, "robots\n:provider bbc\nfacebook\n:quit\nnever run\n")
    assert status == 0 and err == ""
    assert result_titles(out) == ["Robots learn to walk in a day", "Facebook removes fake accounts"]
    assert "never run" not in out


def test_a_script_line_that_fails_goes_to_stderr_and_the_status_is_1(built: Path, tmp_path: Path):
    status, out, err = run_script(built, tmp_path, ":bogus\nrobots\n:since someday\nnothingmatchesthis\n")
    assert status == 1
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("error: ")]
    assert "unknown command :bogus" in err and "invalid date 'someday'" in err
    assert "error" not in out
    assert result_titles(out) == ["Robots learn to walk in a day"]  # the run went on
    # a query that finds nothing is not a failure
    status, _, err = run_script(built, tmp_path, "nothingmatchesthis\n")
    assert (status, err) == (0, "")


def test_a_script_stops_with_status_2_when_the_index_breaks(built: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    from search.errors import IndexCorruptError
    from search.searcher import Searcher

    def broken(self: Searcher, request: object) -> None:
        raise IndexCorruptError(f"{self.index_dir}: cannot read index (EOFError)")

    monkeypatch.setattr(Searcher, "search", broken)
    status, out, err = run_script(built, tmp_path, "robots\nnever run\n")
    assert status == 2
    assert err.count("cannot read index") == 1 and out == ""
