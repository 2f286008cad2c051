"""A/B the query latency of two checkouts of this project, side by side.

    .venv/bin/python bench/ab_engines.py OLD_CHECKOUT NEW_CHECKOUT CORPUS [--rounds 3]

Each checkout indexes CORPUS with its own indexer (into `--workdir`, reused
when already built), then the two answer the same query mix as `bench/perf.py`
(30 keyword queries and 20 pasted headlines of the corpus, provider facet,
default page, a long-lived `Searcher`: the REPL path) in separate processes,
interleaved round by round, so a noisy spell of the machine hits both. Prints
p50/p95 per engine and the ratio NEW/OLD. Each query's time is its median over
all rounds and passes (a noisy spell of the shared machine does not make a
query slow); p50/p95 are then taken over the queries.

Both checkouts run with this interpreter (their dependencies must be
installed in it); each one's `search` package is put first on `sys.path`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

_WORKER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    sys.path.insert(0, sys.argv[2])
    import perf
    from search.searcher import Searcher, SearchRequest
    index, corpus, passes = sys.argv[3], sys.argv[4], int(sys.argv[5])
    mix = perf.query_mix(perf.corpus_files(__import__("pathlib").Path(corpus)), 1)
    out = {}
    with Searcher(__import__("pathlib").Path(index)) as s:
        for kind, text in mix:  # warm-up pass: caches as in a running REPL
            s.search(SearchRequest(text, facets=("provider",)))
        for _ in range(passes):
            for i, (kind, text) in enumerate(mix):
                t0 = time.perf_counter()
                s.search(SearchRequest(text, facets=("provider",)))
                out.setdefault(f"{kind}:{i}", []).append((time.perf_counter() - t0) * 1000)
    print(json.dumps(out))
""")

_INDEXER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from search.indexer import build_index
    build_index(Path(sys.argv[2]), [Path(sys.argv[3])], full=True)
""")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2, help="query passes per round")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ab-engines"))
    args = parser.parse_args(argv)
    indexes = {}
    for label, checkout in (("old", args.old), ("new", args.new)):
        rev = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=False).stdout.strip() or "?"
        index = args.workdir / f"{args.corpus.name}-{label}-{rev}"
        if not index.is_dir():
            print(f"indexing with {label} ({checkout} at {rev})...", file=sys.stderr)
            subprocess.run([sys.executable, "-c", _INDEXER, str(checkout.resolve()), str(index),
                            str(args.corpus)], check=True)
        indexes[label] = (checkout, index, rev)
    results: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for r in range(args.rounds):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for label in order:
            checkout, index, _ = indexes[label]
            proc = subprocess.run([sys.executable, "-c", _WORKER, str(HERE), str(checkout.resolve()),
                                   str(index), str(args.corpus), str(args.passes)],
                                  capture_output=True, text=True, check=True)
            for key, times in json.loads(proc.stdout).items():
                results[label].setdefault(key, []).extend(times)
    print(f"corpus {args.corpus}, {args.rounds} rounds x {args.passes} passes, interleaved")
    print("| engine | rev | kind | p50 ms | p95 ms |")
    print("|---|---|---|---:|---:|")
    p95: dict[str, dict[str, float]] = {}
    for label in ("old", "new"):
        for kind in ("keyword", "headline", "all"):
            per_query = [statistics.median(times) for key, times in results[label].items()
                         if kind == "all" or key.startswith(kind + ":")]
            p95.setdefault(label, {})[kind] = percentile(per_query, 95)
            print(f"| {label} | {indexes[label][2]} | {kind} | {percentile(per_query, 50):.1f} "
                  f"| {percentile(per_query, 95):.1f} |")
    for kind in ("keyword", "headline", "all"):
        print(f"p95 new/old, {kind}: {p95['new'][kind] / p95['old'][kind]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
