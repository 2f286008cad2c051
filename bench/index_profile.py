"""Where a full index build spends its time (issue 13, target 1).

Runs ``build_index`` in one process (``workers=1``, so the parse is in the
profile too) under cProfile and sums each function's own time by the phase
its module belongs to: reading and parsing front matter, text analysis,
stories, the Whoosh writer (postings, stored fields, segment files), our
posting sidecars and columns, commit and fsync, and the rest. Beside it, the
same build unprofiled with 1 and with 2 workers (built-ins such as
``sorted``, ``zlib.compress`` and ``pickle.dumps`` count for their callers) and a single-core libyaml
parse of the same files, so the phase shares can be read against the floor.

    .venv/bin/python bench/index_profile.py /tmp/bench-corpus-20000 --runs 3
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from perf import corpus_files, warm_cache, yaml_parse_seconds  # noqa: E402

#: (phase, substrings of a profiled function's file name), first match wins
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("front matter read + parse", ("search/front_matter.py", "search/documents.py", "yaml/", "_yaml")),
    ("text analysis (tokenize, stem)", ("search/analysis.py", "whoosh/analysis/", "whoosh/lang/")),
    ("stories (features, links)", ("search/stor",)),
    ("posting sidecars + columns", ("search/fastpostings.py", "search/index_arrays.py",
                                    "numpy/")),
    ("commit + fsync", ("search/durable.py", "search/commits.py", "whoosh/filedb/filestore.py",
                        "{built-in method posix.fsync}", "{built-in method posix.rename}")),
    ("Whoosh writer (postings, stored fields, segments)", ("whoosh/", "{method 'sort' of 'list'")),
    ("file scan, stat, hash", ("search/indexer.py", "search/corpus", "{built-in method posix.stat}",
                               "hashlib", "{built-in method _hashlib", "pathlib", "os.py")),
]


def phase_of(filename: str, funcname: str) -> str:
    key = f"{filename}:{funcname}"
    for phase, needles in PHASES:
        if any(n in key for n in needles):
            return phase
    return "other (runtime, process pool, interpreter)"


def build(corpus: Path, workers: int, profile: cProfile.Profile | None = None) -> float:
    from search.indexer import build_index

    with tempfile.TemporaryDirectory(prefix="index-profile-") as tmp:
        index = Path(tmp) / "index"
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        build_index(index, [corpus], full=True, workers=workers)
        if profile is not None:
            profile.disable()
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="unprofiled runs per figure (median)")
    parser.add_argument("--top", type=int, default=12, help="functions listed by own time")
    args = parser.parse_args(argv)

    files = corpus_files(args.corpus)
    warm_cache(files)
    yaml_s, one_s, two_s = [], [], []
    for _ in range(args.runs):
        yaml_s.append(yaml_parse_seconds(files))
        one_s.append(build(args.corpus, 1))
        two_s.append(build(args.corpus, 2))
    profile = cProfile.Profile()
    profiled_s = build(args.corpus, 1, profile)

    stats = pstats.Stats(profile)
    by_phase: dict[str, float] = {}
    rows = []
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:
            # a built-in (sorted, zlib.compress, pickle.dumps...) works for
            # whoever calls it: split its time over its callers' phases
            shares = {caller: numbers[2] for caller, numbers in callers.items()}
            whole = sum(shares.values()) or 1.0
            for (cfile, _cline, cfunc), part in shares.items():
                phase = phase_of(cfile, cfunc) if cfile != "~" else phase_of(filename, funcname)
                by_phase[phase] = by_phase.get(phase, 0.0) + tottime * part / whole
            phase = "(built-in, by caller)"
        else:
            phase = phase_of(filename, funcname)
            by_phase[phase] = by_phase.get(phase, 0.0) + tottime
        rows.append((tottime, phase, f"{Path(filename).name}:{funcname}"))
    total = sum(by_phase.values()) or 1.0

    med = statistics.median
    print(f"# Index build profile: `{args.corpus}` ({len(files):,} files)\n")
    print(f"Command: `.venv/bin/python bench/index_profile.py {args.corpus} --runs {args.runs}`\n")
    print(f"- single-core libyaml parse: {med(yaml_s):.2f} s (median of {args.runs})")
    print(f"- full index, 1 worker: {med(one_s):.2f} s ({med(one_s) / med(yaml_s):.2f}× the parse)")
    print(f"- full index, 2 workers: {med(two_s):.2f} s ({med(two_s) / med(yaml_s):.2f}× the parse)")
    print(f"- profiled 1-worker build: {profiled_s:.2f} s (cProfile overhead included)\n")
    print("| phase (own time of its functions) | seconds | share |")
    print("|---|---:|---:|")
    for phase, secs in sorted(by_phase.items(), key=lambda kv: -kv[1]):
        print(f"| {phase} | {secs:.2f} | {secs / total:.0%} |")
    print(f"\nTop {args.top} functions by own time:\n")
    print("| function | phase | seconds |")
    print("|---|---|---:|")
    for tottime, phase, name in sorted(rows, reverse=True)[: args.top]:
        print(f"| `{name}` | {phase} | {tottime:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
