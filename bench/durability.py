"""What durability costs: fsync at commit, the commit interval, checksum checks.

Three measurements, each as interleaved rounds (every variant once per round,
so a noisy machine slows all variants alike) and medians:

* ``build``: a full build of a corpus into a fresh index, with fsync as
  shipped and with ``os.fsync`` replaced by a no-op (what the index cost
  before commits were made durable), at each commit interval given;
* ``query``: a cold ``search query`` process on the index, with the segment
  checksum verification as shipped and with it switched off.

With ``--baseline DIR`` (a source tree of an older version, e.g. from
``git archive REV | tar -x -C DIR``) its build is timed too, as another
variant, at its own commit interval. The order of the variants rotates from
round to round.

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
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD = """
import json, os, sys, time
spent = {{"fsync": 0.0, "fsyncs": 0, "checksum": 0.0}}
real_fsync = os.fsync
def timed_fsync(fd):
    t = time.perf_counter()
    real_fsync(fd)
    spent["fsync"] += time.perf_counter() - t
    spent["fsyncs"] += 1
os.fsync = (lambda fd: None) if {nofsync!r} else timed_fsync
from pathlib import Path
try:
    import search.durable as durable
    real_checksum = durable.file_checksum
    def timed_checksum(path):
        t = time.perf_counter()
        try:
            return real_checksum(path)
        finally:
            spent["checksum"] += time.perf_counter() - t
    durable.file_checksum = timed_checksum
except ImportError:  # a baseline without checksums
    pass
from search.indexer import build_index
started = time.perf_counter()
kwargs = {{"commit_seconds": {seconds!r}}} if {seconds!r} else {{}}
report = build_index(Path({index!r}), [Path({corpus!r})], full=True, **kwargs)
print(json.dumps({{"seconds": time.perf_counter() - started, "commits": report.commits,
                  "documents": report.documents, **spent}}))
"""

QUERY = """
import sys, time
import search.store
real_verify = search.store.verify_segments
spent = [0.0]
def timed_verify(*args, **kwargs):
    t = time.perf_counter()
    try:
        return real_verify(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - t
search.store.verify_segments = (lambda *a, **k: None) if {noverify!r} else timed_verify
from search.cli import main
started = time.perf_counter()
code = main(["query", {query!r}, "--index", {index!r}, "--format", "json", "--limit", "10"])
print(time.perf_counter() - started, spent[0], file=sys.stderr)
"""


def run_build(corpus: str, index: str, seconds: float, nofsync: bool,
              source: str = "") -> dict[str, float]:
    """One build in a fresh process; `source`: a source tree to import `search` from."""
    code = BUILD.format(nofsync=nofsync, index=index, corpus=corpus, seconds=seconds)
    env = dict(os.environ, PYTHONPATH=source) if source else None
    # run outside the checkout, so that `-c` (which puts the current folder
    # first on sys.path) imports the installed package or the baseline tree
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env=env, cwd=Path(index).parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_query(index: str, query: str, noverify: bool) -> tuple[float, float, float]:
    """(process wall time, time in main(), time verifying segments) of one cold query."""
    code = QUERY.format(noverify=noverify, query=query, index=index)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    wall = time.perf_counter() - started
    in_main, verifying = map(float, done.stderr.strip().splitlines()[-1].split())
    return wall, in_main, verifying


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--commit-seconds", default="10", help="comma-separated intervals")
    ap.add_argument("--query", default="", help="also time cold queries (20 per variant and round)")
    ap.add_argument("--no-build", action="store_true", help="only the query measurement")
    ap.add_argument("--no-fsync-off", action="store_true", help="skip the fsync-off variants")
    ap.add_argument("--baseline", default="", help="source tree of an older version to time too")
    args = ap.parse_args()
    intervals = [float(x) for x in args.commit_seconds.split(",")]
    variants: list[tuple[float, bool, str]] = [
        (s, nofsync, "") for s in intervals for nofsync in (False, True)
        if not (nofsync and args.no_fsync_off)]
    if args.baseline:
        variants.append((0.0, False, args.baseline))
    times: dict[tuple[float, bool, str], list[float]] = {v: [] for v in variants}
    commits: dict[tuple[float, bool, str], list[int]] = {v: [] for v in variants}

    def name(v: tuple[float, bool, str]) -> str:
        if v[2]:
            return f"baseline {v[2]}"
        return f"commit every {v[0]:g}s, fsync {'off' if v[1] else 'on'}"

    with tempfile.TemporaryDirectory(prefix="bench-durability-") as tmp:
        index = str(Path(tmp) / "index")
        if not args.no_build:
            for round_ in range(args.runs):
                shift = round_ % len(variants)
                for v in variants[shift:] + variants[:shift]:
                    where = Path(tmp) / f"ix-{round_}"
                    got = run_build(args.corpus, str(where), *v)
                    shutil.rmtree(where)
                    times[v].append(got["seconds"])
                    commits[v].append(int(got["commits"]))
                    print(f"round {round_ + 1}: {name(v)}: {got['seconds']:.2f}s, "
                          f"{got['commits']} commits, {got.get('fsyncs', 0)} fsyncs taking "
                          f"{got.get('fsync', 0):.3f}s, checksums {got.get('checksum', 0):.3f}s",
                          flush=True)
            base = statistics.median(times[variants[0]])
            for v in variants:
                med = statistics.median(times[v])
                print(f"build, {name(v)}: median {med:.2f}s "
                      f"({', '.join(f'{t:.2f}' for t in times[v])}); commits {commits[v]}; "
                      f"ratio to first {med / base:.3f}")
        if args.query:
            run_build(args.corpus, index, intervals[0], False)
            q: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
            for _ in range(args.runs):
                for noverify in (False, True):
                    q[noverify] += [run_query(index, args.query, noverify) for _ in range(20)]
            for noverify in (False, True):
                wall, in_main, verifying = (statistics.median(x[i] for x in q[noverify]) for i in range(3))
                print(f"cold query, segment checksums {'off' if noverify else 'on':3}: median process "
                      f"{wall * 1000:.1f} ms, in main() {in_main * 1000:.1f} ms, verifying "
                      f"{verifying * 1000:.1f} ms (over {len(q[noverify])})")
            ratio = (statistics.median(x[0] for x in q[False])
                     / statistics.median(x[0] for x in q[True]))
            print(f"cold query process with checksums / without: {ratio:.3f}")


if __name__ == "__main__":
    main()
