"""The command line: formats, exit codes, batch mode, errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Corpus

from search.cli import main
from search.env import Env


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(*argv: str, stdin: str = "", tty: bool = False, environ: dict[str, str] | None = None):
    out = FakeTTY() if tty else io.StringIO()
    err = io.StringIO()
    env = Env(stdin=io.StringIO(stdin), stdout=out, stderr=err,
              environ=environ if environ is not None else {"HOME": "/nonexistent"})
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_index_summary_and_exit(news: Corpus, index_dir: Path):
    code, out, err = cli("index", str(news.root), "--index", str(index_dir))
    assert code == 0 and err == ""
    assert out.startswith("indexed 6, updated 0, removed 0, unchanged 0, skipped 0")
    code, out, _ = cli("index", "--index", str(index_dir))  # re-uses the recorded roots
    assert code == 0 and "unchanged 6" in out


def test_index_skips_report_and_strict(news: Corpus, index_dir: Path):
    news.write("bad.md", "---\ntitle: [\n---\n")
    code, out, err = cli("index", str(news.root), "--index", str(index_dir))
    assert code == 0 and "skipped 1" in out
    line, = err.strip().splitlines()
    assert line.startswith(str(news.root.resolve() / "bad.md") + ": invalid YAML")
    code, _, _ = cli("index", str(news.root), "--index", str(index_dir), "--strict")
    assert code == 1


def test_index_errors_exit_2(tmp_path: Path, index_dir: Path):
    code, _, err = cli("index", str(tmp_path / "missing"), "--index", str(index_dir))
    assert code == 2 and err.count("\n") == 1 and "corpus folder not found" in err
    code, _, err = cli("index", "--index", str(index_dir))
    assert code == 2 and "no corpus folder given" in err
    code, _, err = cli("index", "--bogus")
    assert code == 2 and "unrecognized arguments" in err


def test_query_json_schema(built: Path):
    code, out, err = cli("query", "power apps", "--index", str(built), "--format", "json", "--limit", "1")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data) == ["query", "total", "offset", "limit", "took_ms", "match", "corrections",
                          "relaxed", "did_you_mean", "stories", "hits", "facets", "facet_info"]
    assert data["query"] == "power apps" and data["total"] == 2 and data["limit"] == 1
    assert (data["match"], data["corrections"], data["relaxed"], data["did_you_mean"]) == (
        "auto", [], None, None)
    hit = data["hits"][0]
    assert list(hit) == ["rank", "score", "path", "title", "excerpt", "provider", "topics",
                         "published", "url", "quality", "root", "story", "highlights"]
    assert hit["root"] == str(built.parent / "corpus") or Path(hit["root"]).is_dir()
    assert hit["rank"] == 1 and hit["score"] > 0 and hit["published"].endswith("Z")
    assert "<mark>Power</mark>" in hit["highlights"]["title"]
    assert data["facets"]["provider"] == [{"value": "Microsoft", "count": 2}]


def test_query_jsonl_and_exit_codes(built: Path):
    code, out, _ = cli("query", "ai", "--index", str(built), "--format", "jsonl")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(lines) == 4 and [x["rank"] for x in lines] == [1, 2, 3, 4]
    code, out, _ = cli("query", "zebra", "--index", str(built), "--format", "jsonl")
    assert code == 1 and out == ""
    code, out, _ = cli("query", "zebra", "--index", str(built), "--format", "json")
    assert code == 1 and json.loads(out)["total"] == 0


def test_query_filters_and_sort_flags(built: Path):
    code, out, _ = cli("query", "*", "--index", str(built), "--format", "json", "--provider", "Reuters",
                       "--provider", "BBC", "--sort", "newest", "--facet", "year", "--facet", "provider")
    data = json.loads(out)
    assert data["total"] == 2 and list(data["facets"]) == ["year", "provider"]
    assert data["hits"][0]["score"] is None  # ordered by date, not scored
    code, out, _ = cli("query", "*", "--index", str(built), "--format", "json",
                       "--since", "2021-01-01", "--until", "2021-12-31")
    assert json.loads(out)["total"] == 2
    code, _, err = cli("query", "*", "--index", str(built), "--since", "soon")
    assert code == 2 and "invalid date 'soon'" in err


def test_errors_as_json_on_stderr(tmp_path: Path):
    code, out, err = cli("query", "x", "--index", str(tmp_path / "none"), "--format", "json")
    assert code == 2 and out == ""
    assert json.loads(err)["error"]["kind"] == "index_not_found"
    code, _, err = cli("query", "x", "--index", str(tmp_path / "none"))
    assert code == 2 and err.startswith("search: ") and err.count("\n") == 1


def test_batch(built: Path):
    stdin = "power apps\n\nzebra\nprovider:\"The Guardian\"\n"
    code, out, _ = cli("query", "--batch", "--index", str(built), "--limit", "1", stdin=stdin)
    results = [json.loads(x) for x in out.splitlines()]
    assert code == 0
    assert [(r["query"], r["total"]) for r in results] == [
        ("power apps", 2), ("zebra", 0), ('provider:"The Guardian"', 2)]
    code, out, _ = cli("query", "--batch", "--index", str(built), stdin="zebra\n")
    assert code == 1
    code, _, err = cli("query", "x", "--batch", "--index", str(built))
    assert code == 2 and "--batch" in err


def test_text_output_escapes_control_characters(corpus: Corpus, index_dir: Path):
    corpus.write("evil.md", '---\ntitle: "Evil \\e]0;pwned\\a \\e[2J title"\nexcerpt: "bad \\e[31m red"\n'
                 'provider:\n  name: "Bad\\e[5m Co"\n---\n')
    cli("index", str(corpus.root), "--index", str(index_dir))
    for color in ("never", "always"):
        code, out, _ = cli("query", "evil", "--index", str(index_dir), "--color", color)
        assert code == 0
        # only our own SGR sequences may appear, never the article's
        stripped = out.replace("\x1b[0m", "").replace("\x1b[1m", "").replace("\x1b[2m", "")
        stripped = stripped.replace("\x1b[1;33m", "").replace("\x1b[36m", "")
        assert "\x1b" not in stripped and "\x07" not in stripped
        assert "\\x1b]0;pwned" in out


def test_color_rules(built: Path):
    _, out, _ = cli("query", "power", "--index", str(built), tty=True, environ={"HOME": "/x"})
    assert "\x1b[" in out
    _, out, _ = cli("query", "power", "--index", str(built), tty=True,
                    environ={"HOME": "/x", "NO_COLOR": "1"})
    assert "\x1b[" not in out
    _, out, _ = cli("query", "power", "--index", str(built))
    assert "\x1b[" not in out


def test_text_output_shape(built: Path):
    code, out, _ = cli("query", "power apps portals", "--index", str(built), "--color", "never")
    assert code == 0
    assert "  1. Power Apps portals FAQs" in out
    code, out, _ = cli("query", "power apps", "--index", str(built), "--color", "never")
    assert "  1. Create mobile apps with Power Apps\n" in out  # "apps" twice in the title
    assert "2 hits · showing 1–2" in out
    assert "provider: Microsoft 2" in out


def test_stats(built: Path):
    code, out, _ = cli("stats", "--index", str(built), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["documents"] == 6 and data["providers"] == 4
    assert data["first_published"].startswith("2020-01-10")
    code, out, _ = cli("stats", "--index", str(built))
    assert "documents  6" in out


def test_index_env_var_and_flag_precedence(built: Path, tmp_path: Path):
    code, out, _ = cli("query", "*", "--format", "json", environ={"SEARCH_INDEX": str(built), "HOME": "/x"})
    assert code == 0 and json.loads(out)["total"] == 6
    code, _, _ = cli("query", "*", "--index", str(tmp_path / "none"),
                     environ={"SEARCH_INDEX": str(built), "HOME": "/x"})
    assert code == 2


def test_no_traceback_on_internal_error(built: Path, monkeypatch):
    from search import searcher

    def boom(self, request, started):
        raise RuntimeError("kaput")

    monkeypatch.setattr(searcher.Searcher, "_search", boom)
    code, _, err = cli("query", "x", "--index", str(built))
    assert code == 2 and "internal error: RuntimeError: kaput" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        cli("query", "x", "--index", str(built), "--debug")


def test_installed_command_and_module(built: Path):
    exe = shutil.which("search", path=str(Path(sys.executable).parent))
    assert exe, "the console script `search` is not installed next to the interpreter"
    env = {**os.environ, "NO_COLOR": "1"}
    for cmd in ([exe], [sys.executable, "-m", "search"]):
        proc = subprocess.run([*cmd, "query", "robots", "--index", str(built), "--format", "json"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["total"] == 1
    proc = subprocess.run([exe, "query", "zebra", "--index", str(built)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 1


def test_whoosh_distribution_is_the_pinned_fork():
    from importlib.metadata import version

    import whoosh

    assert version("whoosh3") == "3.54.0"
    assert whoosh.versionstring() == "3.54.0"


def test_facet_lines_fit_the_width_with_colour_and_never_split_a_value():
    import re

    from search.output import Style, render_facet_text
    from search.searcher import Facet, FacetValue

    values = [("Microsoft", 532), ("On MSFT", 6), ("Electronic Design", 7), ("Business Insider", 3)] * 3
    facet = Facet("provider", tuple(FacetValue(v, c) for v, c in values), 91, 103)
    for style in (Style(False), Style(True)):
        lines = render_facet_text(facet, style, 60).splitlines()
        plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
        assert len(lines) > 1 and all(len(line) <= 60 for line in plain)
        assert not any(line.rstrip().endswith(("On", "Electronic", "Business")) for line in plain)
        assert plain[-1].endswith("(+79 more, 103 hits)")


@pytest.mark.parametrize("space", ["\r", "\v", "\f", "\t", "\n", " "])
def test_terminal_highlight_stays_on_the_word_next_to_any_whitespace(space: str):
    import re

    from search.output import Style, render_hit_text
    from search.searcher import Hit

    excerpt = f"alpha{space}beta gamma delta"
    start = excerpt.index("gamma")
    hit = Hit(1, 1.0, "p.md", "Title", excerpt, "P", (), None, "", None, (),
              ((start, start + len("gamma")),))
    line = render_hit_text(hit, Style(True), 100).splitlines()[2]
    assert re.findall(r"\x1b\[1;33m(.*?)\x1b\[0m", line) == ["gamma"]


def test_unknown_provider_or_topic_is_named_with_a_suggestion(built: Path):
    code, out, err = cli("query", "*", "--index", str(built), "--provider", "Reut")
    assert code == 1 and "no hits" in out
    assert err == "search: no provider named 'Reut' (did you mean 'Reuters'?)\n"
    code, out, err = cli("query", "*", "--index", str(built), "--provider", "reuters",
                         "--provider", "Gardian", "--topic", "Robotix", "--topic", "ai")
    assert code == 0 and json_total(built, "reuters") == 1
    assert err == ("search: no provider named 'Gardian' (did you mean 'The Guardian'?)\n"
                   "search: no topic named 'Robotix' (did you mean 'Robotics'?)\n")
    code, _, err = cli("query", "*", "--index", str(built), "--provider", "Zzyzx", "--format", "json")
    assert code == 1
    assert json.loads(err) == {"warning": {"kind": "unknown_value", "message": "no provider named 'Zzyzx'"}}


def json_total(index: Path, provider: str) -> int:
    code, out, err = cli("query", "*", "--index", str(index), "--provider", provider, "--format", "json")
    assert code in (0, 1), err
    return int(json.loads(out)["total"])


def test_batch_with_format_text_prints_a_text_result_per_query(built: Path):
    code, out, err = cli("query", "--batch", "--format", "text", "--color", "never", "--index",
                         str(built), stdin="robots\nzebra\n")
    assert code == 0 and err == ""
    first, second = out.split("query: zebra\n")
    assert first.startswith("query: robots\n") and "Robots learn to walk in a day" in first
    assert "1 hit · showing 1–1" in first and second.startswith("no hits")
    code, out, _ = cli("query", "--batch", "--index", str(built), stdin="robots\n")
    assert json.loads(out)["total"] == 1  # JSON stays the default for --batch


def test_line_and_paragraph_separators_are_escaped_for_the_terminal():
    from search.output import escape_control

    assert escape_control("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
