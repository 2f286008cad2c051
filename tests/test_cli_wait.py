"""Proposed with the cli.py diff: a person waiting on a busy index is told why."""

from __future__ import annotations

import io
from pathlib import Path

from test_reliability import N, start_indexer, write_corpus

from search.cli import main
from search.env import Env


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_waiting_indexer_says_so_on_a_terminal(tmp_path: Path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, range(N))
    first = start_indexer(index, corpus, pause="locked")
    first.wait_paused("locked")
    try:
        err = FakeTTY()
        code = main(["index", str(corpus), "--index", str(index), "--lock-timeout", "0.3"],
                    Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=err, environ={"HOME": "/x"}))
    finally:
        first.resume()
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert "waiting up to 0.3s" in lines[0] and "busy" in lines[-1]
    assert first.finish()[0] == 0
