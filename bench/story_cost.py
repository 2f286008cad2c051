"""What stories cost an index build: full builds with and without them, interleaved.

    .venv/bin/python bench/story_cost.py CORPUS [--runs 3]

"Without" runs the same indexer with story features and the story index
switched off (the story hooks replaced by no-ops before the parser processes
fork). Prints each run and the median ratio with/without.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def build(corpus: Path, with_stories: bool) -> float:
    from search import indexer, story_store

    saved: dict[str, Any] = {}
    if not with_stories:
        import search.stories as stories_mod

        class _NoStories(story_store.StoryRun):
            needs_all = False  # type: ignore[assignment]

            def upsert(self, features: Any) -> None:
                pass

            def remove(self, uid: str) -> None:
                pass

        saved = {"start": story_store.start, "finish": story_store.finish,
                 "features": stories_mod.article_features}
        story_store.start = lambda *a, **k: _NoStories(None)  # type: ignore[assignment]
        story_store.finish = lambda *a, **k: None  # type: ignore[assignment]

        class _Empty:
            def to_bytes(self) -> bytes:
                return b""

        stories_mod.article_features = lambda article: _Empty()  # type: ignore[assignment]
    folder = Path(tempfile.mkdtemp(prefix="story-cost-"))
    try:
        started = time.perf_counter()
        indexer.build_index(folder / "index", [corpus], full=True)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if saved:
            import search.stories as stories_mod

            story_store.start = saved["start"]
            story_store.finish = saved["finish"]
            stories_mod.article_features = saved["features"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.runs):
        for flag in ((True, False) if r % 2 == 0 else (False, True)):
            seconds = build(args.corpus, flag)
            times[flag].append(seconds)
            print(f"run {r + 1}: {'with' if flag else 'without'} stories {seconds:.2f} s", flush=True)
    w, wo = statistics.median(times[True]), statistics.median(times[False])
    print(f"{args.corpus}: median with stories {w:.2f} s, without {wo:.2f} s: {w / wo:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
