"""The indexing progress bar: files/s and time left on a terminal, skipped files
printed above it without garbling it, and nothing drawn under -q, --format
json, or when stderr is not a terminal."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Corpus
from test_cli import FakeTTY

from search.cli import main
from search.env import Env

#: enough articles for the bar to be redrawn with a measured rate on a fast machine
ARTICLES = 1500
BROKEN = ("_news/m-broken.md", "_news/t-broken.md")  # sorted into the middle of the run
BAR = re.compile(r"indexing +\d+%\|.*\| \d+/\d+ · (\d+\.\d+) files/s · ETA (\d+:\d\d)")


@pytest.fixture
def many(corpus: Corpus) -> Corpus:
    for i in range(ARTICLES):
        topic = ("Cloud", "AI", "Security")[i % 3]
        corpus.add(f"_news/{'aimt'[i % 4]}-{i:05d}.md", f"Article number {i} about {topic}",
                   excerpt=f"Excerpt {i}: words about {topic.lower()} and more.", topics=[topic])
    for rel in BROKEN:
        corpus.write(rel, "---\ntitle: [\n---\n")
    return corpus


def screen_lines(text: str) -> list[str]:
    """What a terminal shows once `text` (escapes already removed) is written:
    a carriage return moves back to the start of the line and what follows
    overwrites it."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    lines.append("".join(line).rstrip())
    return lines


@pytest.mark.slow
def test_progress_shows_rate_and_eta_in_a_real_terminal(many: Corpus, index_dir: Path, tmp_path: Path):
    from test_repl_pty import Terminal

    env = {k: v for k, v in os.environ.items() if k != "SEARCH_INDEX"}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"), TERM="xterm")
    term = Terminal([sys.executable, "-m", "search", "index", str(many.root), "--index", str(index_dir)],
                    env, tmp_path)
    try:
        assert term.wait(timeout=240) == 0
    finally:
        term.close()
    text = term.text
    bars = BAR.findall(text)
    assert bars, f"no bar with a rate and an ETA was drawn:\n{text[-2000:]}"
    assert any(float(rate) > 0 for rate, _ in bars)
    assert f"/{ARTICLES + len(BROKEN)} · " in text  # every file to parse is counted

    shown = [line for line in screen_lines(text) if line]
    broken = [str(many.root.resolve() / rel) for rel in BROKEN]
    # each skipped file is a line of its own, the bar wiped from under it...
    skip_lines = [line for line in shown if "broken.md" in line]
    assert len(skip_lines) == 2
    for line, path in zip(skip_lines, broken, strict=True):
        assert line.startswith(f"{path}: invalid YAML") and "files/s" not in line
    # ...and the bar is gone when the summary is printed
    assert shown[-1].startswith(f"indexed {ARTICLES}, updated 0, removed 0, unchanged 0, skipped 2")
    assert not any("files/s" in line for line in shown)


def run_index(*argv: str, tty: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), FakeTTY() if tty else io.StringIO()
    code = main(["index", *argv], Env(stdin=io.StringIO(), stdout=out, stderr=err,
                                      environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def test_progress_is_drawn_only_on_a_terminal_and_not_when_quiet_or_json(news: Corpus, tmp_path: Path):
    news.write("zz-broken.md", "---\ntitle: [\n---\n")
    root = str(news.root)
    code, _, err = run_index(root, "--index", str(tmp_path / "a"), tty=True)
    assert code == 0 and "files/s" in err and "ETA" in err  # the control: a bar is drawn here
    assert "zz-broken.md: invalid YAML" in err

    code, out, err = run_index(root, "--index", str(tmp_path / "b"), "-q", tty=True)
    assert code == 0 and err == "" and out.startswith("indexed 6,")

    code, out, err = run_index(root, "--index", str(tmp_path / "c"), "--format", "json", tty=True)
    assert code == 0 and json.loads(out)["indexed"] == 6
    assert "files/s" not in err and "indexing" not in err and "\r" not in err
    assert "zz-broken.md: invalid YAML" in err

    code, _, err = run_index(root, "--index", str(tmp_path / "d"), tty=False)
    assert code == 0 and "files/s" not in err and "\r" not in err
    assert err.count("\n") == 1 and "zz-broken.md: invalid YAML" in err


@pytest.mark.slow
def test_no_progress_when_stderr_is_a_pipe(news: Corpus, index_dir: Path):
    argv = [sys.executable, "-m", "search", "index", str(news.root), "--index", str(index_dir)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(index_dir.parent / "home")})
    assert proc.returncode == 0 and proc.stdout.startswith("indexed 6,")
    assert proc.stderr == ""
