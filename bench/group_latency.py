"""Grouped (one hit per story) against ungrouped queries: REPL-path latency.

    .venv/bin/python bench/group_latency.py INDEX CORPUS [--passes 5]

The query mix of `bench/perf.py` (30 keyword queries and 20 pasted headlines
of CORPUS), provider facet, default page, on one long-lived `Searcher`;
grouped and ungrouped requests alternate query by query, after a warm-up
pass. Each query's time is its median over the passes; p50/p95 over queries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    import perf

    from search.searcher import Searcher, SearchRequest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    mix = perf.query_mix(perf.corpus_files(args.corpus), 1)
    times: dict[str, dict[int, list[float]]] = {"none": {}, "story": {}}
    with Searcher(args.index) as s:
        for group in ("none", "story"):
            for _, text in mix:
                s.search(SearchRequest(text, facets=("provider",), group=group))
        for p in range(args.passes):
            for i, (_, text) in enumerate(mix):
                for group in (("none", "story") if (p + i) % 2 == 0 else ("story", "none")):
                    t0 = time.perf_counter()
                    s.search(SearchRequest(text, facets=("provider",), group=group))
                    times[group].setdefault(i, []).append((time.perf_counter() - t0) * 1000)
    print(f"index {args.index}, {len(mix)} queries x {args.passes} passes, interleaved")
    p95 = {}
    for group, per_query in times.items():
        medians = [statistics.median(v) for v in per_query.values()]
        p95[group] = percentile(medians, 95)
        print(f"group={group}: p50 {percentile(medians, 50):.1f} ms, p95 {p95[group]:.1f} ms")
    print(f"p95 grouped / ungrouped: {p95['story'] / p95['none']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
