"""What durability costs: fsync at commit, the commit interval, checksum checks.

Three measurements, each as interleaved rounds (every variant once per round,
so a noisy machine slows all variants alike) and medians:

* ``build``: a full build of a corpus into a fresh index, with fsync as
  shipped and with ``os.fsync`` replaced by a no-op (what the index cost
  before commits were made durable), at each commit interval given;
* ``query``: a cold ``search query`` process on the index, with the segment
  checksum verification as shipped and with it switched off.

Usage::

    python bench/gen_corpus.py --n 20000 --seed 1 --out /tmp/bench-corpus-20000
    python bench/durability.py --corpus /tmp/bench-corpus-20000 --runs 3 \\
        --commit-seconds 10,30 --query "facial recognition"

Prints one line per variant (median seconds, the runs, commits made) and the
ratio of each variant to the first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD = """
import json, os, sys, time
if {nofsync!r}:
    os.fsync = lambda fd: None
from pathlib import Path
from search.indexer import build_index
started = time.perf_counter()
report = build_index(Path({index!r}), [Path({corpus!r})], full=True, commit_seconds={seconds!r})
print(json.dumps({{"seconds": time.perf_counter() - started, "commits": report.commits,
                  "documents": report.documents}}))
"""

QUERY = """
import sys
if {noverify!r}:
    import search.store
    search.store.verify_segments = lambda *a, **k: None
from search.cli import main
sys.exit(main(["query", {query!r}, "--index", {index!r}, "--format", "json", "--limit", "10"]))
"""


def run_build(corpus: str, index: str, seconds: float, nofsync: bool) -> dict[str, float]:
    code = BUILD.format(nofsync=nofsync, index=index, corpus=corpus, seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_query(index: str, query: str, noverify: bool) -> float:
    code = QUERY.format(noverify=noverify, query=query, index=index)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--commit-seconds", default="10", help="comma-separated intervals")
    ap.add_argument("--query", default="", help="also time cold queries (20 per variant and round)")
    ap.add_argument("--no-build", action="store_true", help="only the query measurement")
    args = ap.parse_args()
    intervals = [float(x) for x in args.commit_seconds.split(",")]
    variants = [(s, nofsync) for s in intervals for nofsync in (False, True)]
    times: dict[tuple[float, bool], list[float]] = {v: [] for v in variants}
    commits: dict[tuple[float, bool], list[int]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as tmp:
        index = str(Path(tmp) / "index")
        if not args.no_build:
            for round_ in range(args.runs):
                for v in variants:
                    where = Path(tmp) / f"ix-{round_}-{v[0]}-{v[1]}"
                    got = run_build(args.corpus, str(where), *v)
                    shutil.rmtree(where)
                    times[v].append(got["seconds"])
                    commits[v].append(int(got["commits"]))
                    print(f"round {round_ + 1}: commit every {v[0]:g}s, fsync {'off' if v[1] else 'on'}: "
                          f"{got['seconds']:.2f}s, {got['commits']} commits", flush=True)
            base = statistics.median(times[variants[0]])
            for v in variants:
                med = statistics.median(times[v])
                print(f"build, commit every {v[0]:g}s, fsync {'off' if v[1] else 'on':3}: median "
                      f"{med:.2f}s ({', '.join(f'{t:.2f}' for t in times[v])}); commits "
                      f"{commits[v]}; ratio to first {med / base:.3f}")
        if args.query:
            run_build(args.corpus, index, intervals[0], False)
            q: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.runs):
                for noverify in (False, True):
                    q[noverify] += [run_query(index, args.query, noverify) for _ in range(20)]
            for noverify in (False, True):
                print(f"cold query, segment checksums {'off' if noverify else 'on':3}: median "
                      f"{statistics.median(q[noverify]) * 1000:.1f} ms over {len(q[noverify])}")
            ratio = statistics.median(q[False]) / statistics.median(q[True])
            print(f"cold query with checksums / without: {ratio:.3f}")


if __name__ == "__main__":
    main()
