"""Performance benchmark (issues 5 and 13): our engine against a plain YAML
parse, SQLite FTS5, tantivy and ripgrep, on generated corpora of N articles,
side by side.

For each N (``--sizes``) it generates the corpus with ``bench/gen_corpus.py``
(outside the repository, reused when already there), then measures, interleaving
the repeated runs so that the figures compared are taken under the same load:

* full index time (``search index --full``, a fresh index each run) and the time
  of a single-core ``yaml`` (libyaml ``CSafeLoader``) parse of the front matter of
  the same files; their ratio is the headline figure;
* incremental re-index after changing one file, and a re-run with nothing changed;
* a fixed query mix (short keyword queries and pasted headlines, provider facet)
  through one ``search query --batch`` process, against SQLite FTS5 and tantivy
  answering the same queries with exact totals and provider counts in-process
  (``bench/peers.py``); the totals and provider counts are compared engine by engine;
* per-query p50/p95 in the REPL path (a long-lived ``Searcher`` in-process);
* a cold ``search query`` process against ``rg -il`` over the corpus, and the
  floor of any Python program here: ``python -S -c pass`` and
  ``python -c "import numpy"``, timed in the same loop;
* peak memory (largest process, from ``wait4``) and the index size on disk.

Medians of ``--runs`` runs (``--runs-large`` for N >= 100,000). The markdown table goes
to stdout and to ``bench/results/performance.md``. Example::

    .venv/bin/python bench/perf.py --sizes 1000,20000,100000 --runs 3 --runs-large 1
    .venv/bin/python bench/perf.py --sizes 20000          # one tier
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import gen_corpus  # noqa: E402  (bench/ is a folder of scripts)

VENV_BIN = Path(sys.executable).parent
SEARCH = str(VENV_BIN / "search") if (VENV_BIN / "search").exists() else "search"
RESULTS = BENCH / "results" / "performance.md"

#: short keyword queries (their words are in the sample's vocabulary; no stop
#: words and no syntax, so every engine gives them the same meaning)
KEYWORD_QUERIES = (
    "facial recognition", "power apps", "machine learning", "AI", "portals",
    "teams integration", "autonomous vehicles", "neural network", "canvas apps",
    "privacy", "tensorflow", "healthcare", "chatbot", "dataverse", "computer vision",
    "deep learning", "robotics", "google", "amazon", "model-driven apps",
    "language processing", "self-driving cars", "startup funding", "cybersecurity",
    "drones", "quantum computing", "power automate", "sharepoint lists", "ethics", "gartner",
)
#: the query mix: this many queries, half keyword queries (the fixed ones,
#: then two-word pieces of titles), half pasted headlines (titles of articles
#: of that corpus), chosen by seed
MIX_SIZE = 200
HEADLINES = MIX_SIZE // 2
COLD_QUERY = "facial recognition"
#: --strict: largest relative difference of a keyword query's total between engines
STRICT_GAP = 0.05
COLD_RG = ("-e", "facial", "-e", "recognition")


# ----------------------------------------------------------------- helpers


@dataclass
class Proc:
    """What one child process took: wall seconds, peak RSS (KiB), output."""

    seconds: float
    maxrss_kb: int
    stdout: str
    returncode: int


#: Forks the command from a small process and reports its wait4 peak RSS on
#: stderr. Linux keeps a process's peak RSS across exec, and a child forked
#: (or vforked) straight from this benchmark starts with this process's
#: resident pages (the peers, the in-process Searcher), so its own ru_maxrss
#: would report those: 440 MiB for a cold query that peaks at 67 MiB.
_RSS_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    try:\n"
    "        os.execvp(sys.argv[1], sys.argv[1:])\n"
    "    finally:\n"
    "        os._exit(127)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "sys.stderr.write('\\n@@maxrss %d\\n' % usage.ru_maxrss)\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def run_proc(cmd: Sequence[str], stdin: str | None = None, *, rss: bool = False) -> Proc:
    """Run a command, timing it; with `rss`, through a small launcher that
    reports its peak RSS (wait4: the largest of it and the children it waited
    for, e.g. parser workers), which adds the launcher's start (~10 ms) to the
    time. Without `rss` the peak is not measured (0)."""
    if rss:
        cmd = [sys.executable, "-S", "-c", _RSS_LAUNCHER, *cmd]
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(stdin)
    # communicate() already reaped the child; take its usage from the poll
    seconds = time.perf_counter() - started
    maxrss = 0
    if rss:
        head, sep, tail = err.rpartition("\n@@maxrss ")
        if sep:
            maxrss = int(tail.split()[0])
            err = head
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[:500]}")
    return Proc(seconds, maxrss, out, proc.returncode)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if p.is_file())


def warm_cache(files: Sequence[Path]) -> None:
    for p in files:
        p.read_bytes()


def yaml_parse_seconds(files: Sequence[Path]) -> float:
    """Single-core full parse of every file's front matter with libyaml: the
    floor an indexer that reads YAML has to beat (via both cores / less parsing)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    started = time.perf_counter()
    for p in files:
        text = p.read_bytes().decode("utf-8-sig")
        end = text.find("\n---", 3)
        yaml.load(text[4:end], Loader=loader)
    return time.perf_counter() - started


# ----------------------------------------------------------------- query mix


def query_mix(files: Sequence[Path], seed: int, size: int = MIX_SIZE) -> list[tuple[str, str]]:
    """(kind, text): keyword queries (the fixed ones, then two adjacent words
    of titles of this corpus), then pasted headlines of this corpus."""
    import yaml

    rng = random.Random(f"perf-headlines:{seed}:{len(files)}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    headlines: list[str] = []
    pairs: list[str] = []
    want_headlines = size // 2
    want_pairs = max(0, size - want_headlines - len(KEYWORD_QUERIES))
    for p in rng.sample(list(files), min(len(files), size * 5)):
        text = p.read_text("utf-8")
        title = str(yaml.load(text[4 : text.find("\n---", 3)], Loader=loader).get("title") or "")
        words = title.split()
        if 8 <= len(words) <= 14 and len(headlines) < want_headlines:
            headlines.append(title)
        plain = [w for w in words if w.isalpha() and len(w) > 3 and w.upper() not in _OPERATOR_WORDS]
        if len(plain) >= 2 and len(pairs) < want_pairs:
            i = rng.randrange(len(plain) - 1)
            pairs.append(f"{plain[i]} {plain[i + 1]}".lower())
        if len(headlines) == want_headlines and len(pairs) == want_pairs:
            break
    keywords = [*KEYWORD_QUERIES, *pairs][: size - len(headlines)]
    return [("keyword", q) for q in keywords] + [("headline", h) for h in headlines]


_OPERATOR_WORDS = {"AND", "OR", "NOT", "TO"}


def peer_text(text: str) -> str:
    """The query words our analyzer keeps (stop words out), unstemmed, for the
    peers: each engine then stems them its own way. Without this the peers would
    OR in `the`, `of`, `in`... and match (and count) nearly every document."""
    from whoosh.analysis import LowercaseFilter, RegexTokenizer, StopFilter

    chain = RegexTokenizer() | LowercaseFilter() | StopFilter(minsize=1)
    return " ".join(t.text for t in chain(text))


_SYNTAX = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE|TO)\b|[\"'()\[\]{}^~:*?+!<>=\\]|(^|\s)-")


def why_differs(text: str) -> str:
    """A best guess at why engines disagree on a query (for the notes)."""
    if _SYNTAX.search(text):
        return "syntax: operators, quotes, colons or a leading '-' mean something to our parser"
    return "analysis: tokenizer/stemmer differences (see the notes)"


def relative_gap(ours: int, theirs: int) -> float:
    return abs(ours - theirs) / max(ours, theirs, 1)


# ----------------------------------------------------------------- one tier


@dataclass
class Tier:
    """Every figure measured for one corpus size."""

    n: int
    docs: int = 0
    corpus_bytes: int = 0
    yaml_s: list[float] = field(default_factory=list)
    index_s: list[float] = field(default_factory=list)
    index_rss: list[int] = field(default_factory=list)
    index_bytes: int = 0
    incr_s: list[float] = field(default_factory=list)
    noop_s: list[float] = field(default_factory=list)
    batch_s: list[float] = field(default_factory=list)
    batch_rss: list[int] = field(default_factory=list)
    peer_s: dict[str, list[float]] = field(default_factory=dict)
    peer_q: dict[str, list[float]] = field(default_factory=dict)
    peer_build_s: dict[str, float] = field(default_factory=dict)
    repl_first_ms: float = 0.0
    repl_ms: dict[str, list[float]] = field(default_factory=dict)
    cold_s: list[float] = field(default_factory=list)
    cold_rss: list[int] = field(default_factory=list)
    floor_s: dict[str, list[float]] = field(default_factory=dict)
    rg_s: list[float] = field(default_factory=list)
    agree: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> (agree, compared)
    mismatches: list[str] = field(default_factory=list)
    strict_failures: list[str] = field(default_factory=list)
    queries: int = 0


def measure_tier(n: int, args: argparse.Namespace, log: Callable[[str], None]) -> Tier:
    tier = Tier(n)
    runs = args.runs_large if n >= 100_000 else args.runs
    corpus = args.corpus_dir / f"bench-corpus-{n}"
    work = args.workdir / f"n{n}"
    log(f"[{n}] corpus {corpus}")
    gen_corpus.write_corpus(args.source, corpus, n, args.seed)
    files = corpus_files(corpus)
    tier.corpus_bytes = sum(p.stat().st_size for p in files)
    warm_cache(files)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    index = work / "index"

    # -- full index vs YAML parse, interleaved
    for r in range(runs):
        tier.yaml_s.append(yaml_parse_seconds(files))
        shutil.rmtree(index, ignore_errors=True)
        proc = run_proc([SEARCH, "index", "--full", "--quiet", "--format", "json",
                         "--index", str(index), str(corpus)], rss=True)
        tier.index_s.append(proc.seconds)
        tier.index_rss.append(proc.maxrss_kb)
        tier.docs = json.loads(proc.stdout)["documents"]
        log(f"[{n}] run {r + 1}/{runs}: yaml {tier.yaml_s[-1]:.2f}s, index {proc.seconds:.2f}s")
    tier.index_bytes = dir_size(index)

    mix = query_mix(files, args.seed)
    tier.queries = len(mix)
    batch_input = "".join(q + "\n" for _, q in mix)

    # -- peers (built once; the build is reported, not compared)
    peers: list[Any] = []
    if not args.no_peers:
        import peers as peer_mod

        started = time.perf_counter()
        docs = peer_mod.peer_docs([corpus])
        tier.peer_build_s["read"] = time.perf_counter() - started
        for make in (peer_mod.fts5_peer, peer_mod.tantivy_peer):
            try:
                peer = make()
            except ImportError as exc:
                log(f"[{n}] skipping a peer: {exc}")
                continue
            started = time.perf_counter()
            peer.build(docs, work / "peers")
            tier.peer_build_s[peer.base_name] = time.perf_counter() - started
            peers.append(peer)
        del docs
    peer_queries = [peer_text(q) for _, q in mix]

    # -- batch through the CLI vs peers, interleaved; answers kept from the last run
    ours: list[dict[str, Any]] = []
    theirs: dict[str, list[tuple[int, list[str], dict[str, int]]]] = {}
    batch_cmd = [SEARCH, "query", "--batch", "--format", "json", "--facet", "provider",
                 "--index", str(index)]
    # peak RSS from a run of its own (the launcher's start stays out of the times)
    tier.batch_rss.append(run_proc(batch_cmd, stdin=batch_input, rss=True).maxrss_kb)
    for _ in range(runs):
        proc = run_proc(batch_cmd, stdin=batch_input)
        tier.batch_s.append(proc.seconds)
        ours = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        for peer in peers:
            # the mode closest to ours: every word for keyword queries, any
            # word for pasted headlines (ours needs a fifth of their words)
            modes = {"keyword": peer.with_mode("and"), "headline": peer.with_mode("or")}
            answers = []
            per_query = tier.peer_q.setdefault(peer.base_name, [])
            started = time.perf_counter()
            for (kind, _), text in zip(mix, peer_queries, strict=True):
                t0 = time.perf_counter()
                answers.append(modes[kind].search_with_facets(text, 10))
                per_query.append((time.perf_counter() - t0) * 1000)
            tier.peer_s.setdefault(peer.base_name, []).append(time.perf_counter() - started)
            theirs[peer.base_name] = answers
    log(f"[{n}] batch {median(tier.batch_s):.2f}s; "
        + ", ".join(f"{k} {median(v):.2f}s" for k, v in tier.peer_s.items()))
    compare_engines(tier, mix, ours, theirs)
    for peer in peers:
        close = getattr(peer, "close", None)
        if close:
            close()

    # -- REPL path: one long-lived Searcher, provider facet, default page
    from search.searcher import Searcher, SearchRequest

    with Searcher(index) as searcher:
        t0 = time.perf_counter()
        searcher.search(SearchRequest(mix[0][1], facets=("provider",)))
        tier.repl_first_ms = (time.perf_counter() - t0) * 1000
        for _ in range(runs):
            for kind, text in mix:
                t0 = time.perf_counter()
                searcher.search(SearchRequest(text, facets=("provider",)))
                ms = (time.perf_counter() - t0) * 1000
                tier.repl_ms.setdefault(kind, []).append(ms)
                tier.repl_ms.setdefault("all", []).append(ms)

    # -- cold query process vs rg -il, interleaved (after one warm-up each)
    cold_cmd = [SEARCH, "query", COLD_QUERY, "--format", "json", "--index", str(index)]
    rg_cmd = ["rg", "-il", *COLD_RG, str(corpus)]
    have_rg = shutil.which("rg") is not None
    floors = {"python -S -c pass": [sys.executable, "-S", "-c", "pass"],
              "python -c 'import numpy'": [sys.executable, "-c", "import numpy"]}
    tier.cold_rss.append(run_proc(cold_cmd, rss=True).maxrss_kb)
    if have_rg:
        run_proc(rg_cmd)
    for _ in range(max(runs, 5)):
        tier.cold_s.append(run_proc(cold_cmd).seconds)
        if have_rg:
            tier.rg_s.append(run_proc(rg_cmd).seconds)
        for label, cmd in floors.items():
            tier.floor_s.setdefault(label, []).append(run_proc(cmd).seconds)

    # -- incremental: change one file (alternating versions), then re-run with no change
    target = files[len(files) // 2]
    original = target.read_bytes()
    try:
        for r in range(runs):
            changed = original.replace(b"\ntitle: \"", f"\ntitle: \"Revised {r} ".encode(), 1)
            target.write_bytes(changed)
            proc = run_proc([SEARCH, "index", "--quiet", "--index", str(index), str(corpus)])
            tier.incr_s.append(proc.seconds)
            proc = run_proc([SEARCH, "index", "--quiet", "--index", str(index), str(corpus)])
            tier.noop_s.append(proc.seconds)
    finally:
        target.write_bytes(original)
    log(f"[{n}] incremental {median(tier.incr_s):.2f}s, no-op {median(tier.noop_s):.2f}s")
    return tier


def compare_engines(tier: Tier, mix: Sequence[tuple[str, str]], ours: Sequence[dict[str, Any]],
                    theirs: dict[str, list[tuple[int, list[str], dict[str, int]]]]) -> None:
    """Count, per peer, the queries whose total and provider counts equal ours.

    Our output holds the top provider values plus `distinct` and `other`; they
    agree with a peer's full counts when every top value has the peer's count,
    the number of distinct providers is the same and the rest adds up.
    """
    if len(ours) != len(mix):
        raise RuntimeError(f"batch gave {len(ours)} answers for {len(mix)} queries")
    for name, answers in theirs.items():
        agree = 0
        for (kind, text), mine, (total, _paths, counts) in zip(mix, ours, answers, strict=True):
            top = {v["value"]: v["count"] for v in mine["facets"]["provider"]}
            info = mine["facet_info"]["provider"]
            same = (
                mine["total"] == total
                and all(counts.get(k) == v for k, v in top.items())
                and info["distinct"] == len(counts)
                and sum(top.values()) + info["other"] == sum(counts.values())
            )
            if same:
                agree += 1
            else:
                if kind == "keyword" and relative_gap(mine["total"], total) > STRICT_GAP:
                    tier.strict_failures.append(f"{tier.n}: {name} `{text}`: {mine['total']} vs {total}")
                tier.mismatches.append(
                    f"{tier.n}: {name} {kind} `{text}`: ours {mine['total']}, {name} {total} "
                    f"({why_differs(text)})"
                )
        tier.agree[name] = (agree, len(mix))


# ----------------------------------------------------------------- report


def fmt_s(values: Sequence[float]) -> str:
    return f"{median(values):.2f} s" if values else "–"


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value == value else "–"


def fmt_ratio(a: Sequence[float], b: Sequence[float]) -> str:
    if not a or not b:
        return "–"
    return f"**{median(a) / median(b):.2f}×**"


def fmt_mib(kb: Sequence[int]) -> str:
    return f"{max(kb) / 1024:.0f} MiB" if kb and max(kb) else "–"


def code_under_test() -> str:
    """Which `search` package was measured: its folder, and the repository
    revision when it is this checkout (flagged when search/ has local changes)."""
    import search

    folder = Path(search.__file__).resolve().parent
    text = f"`search` from {folder}"
    try:
        rev = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
        text += f" at commit {rev}" + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        pass  # not a git checkout, e.g. a `git archive` snapshot: --revision says which
    return text


@dataclass
class RealCorpus:
    """A full index of a real corpus beside a single-core libyaml parse of it."""

    root: Path
    docs: int = 0
    yaml_s: list[float] = field(default_factory=list)
    index_s: list[float] = field(default_factory=list)


def measure_real(root: Path, runs: int, workdir: Path, log: Callable[[str], None]) -> RealCorpus:
    real = RealCorpus(root)
    files = corpus_files(root)
    warm_cache(files)
    workdir.mkdir(parents=True, exist_ok=True)
    index = workdir / "real-index"
    for r in range(runs):
        real.yaml_s.append(yaml_parse_seconds(files))
        shutil.rmtree(index, ignore_errors=True)
        proc = run_proc([SEARCH, "index", "--full", "--quiet", "--format", "json",
                         "--index", str(index), str(root)])
        real.index_s.append(proc.seconds)
        real.docs = json.loads(proc.stdout)["documents"]
        log(f"[{root.name}] run {r + 1}/{runs}: yaml {real.yaml_s[-1]:.2f}s, index {proc.seconds:.2f}s")
    shutil.rmtree(index, ignore_errors=True)
    return real


def render_real(real: RealCorpus) -> list[str]:
    return [
        "", f"Real corpus `{real.root.name}` ({real.docs:,} articles, long `related` lists): "
        f"single-core libyaml parse {fmt_s(real.yaml_s)}, full index {fmt_s(real.index_s)}, "
        f"index / YAML parse {fmt_ratio(real.index_s, real.yaml_s)} (target ≤ 0.5).",
    ]


def render(tiers: Sequence[Tier], args: argparse.Namespace, command: str,
           real: RealCorpus | None = None) -> str:
    heads = [f"{t.n:,}" for t in tiers]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[Tier], str]) -> None:
        rows.append((label, [cell(t) for t in tiers]))

    row("documents indexed", lambda t: f"{t.docs:,}")
    row("corpus size (front matter files)", lambda t: f"{t.corpus_bytes / 2**20:.1f} MiB")
    row("single-core YAML parse (libyaml)", lambda t: fmt_s(t.yaml_s))
    row("full index (`search index --full`)", lambda t: fmt_s(t.index_s))
    row("**index time / YAML parse time** (target ≤ 2)", lambda t: fmt_ratio(t.index_s, t.yaml_s))
    row("incremental re-index, 1 file changed (target ≤ 1.5 s at 100k)", lambda t: fmt_s(t.incr_s))
    row("re-index, nothing changed", lambda t: fmt_s(t.noop_s))
    row("batch: `search query --batch` process", lambda t: fmt_s(t.batch_s))
    row("batch: SQLite FTS5 (in-process)", lambda t: fmt_s(t.peer_s.get("sqlite-fts5", [])))
    row("batch: tantivy (in-process)", lambda t: fmt_s(t.peer_s.get("tantivy", [])))
    row("**batch ours / FTS5** (target ≤ 0.3)",
        lambda t: fmt_ratio(t.batch_s, t.peer_s.get("sqlite-fts5", [])))
    row("**batch ours / tantivy** (target ≤ 3)",
        lambda t: fmt_ratio(t.batch_s, t.peer_s.get("tantivy", [])))
    row("REPL path: first query (cold searcher)", lambda t: fmt_ms(t.repl_first_ms))
    for kind in ("keyword", "headline", "all"):
        row(f"REPL path p50 / p95, {kind} queries (target p95 ≤ 30 ms)",
            lambda t, k=kind: f"{fmt_ms(percentile(t.repl_ms.get(k, []), 50))} / "
                              f"{fmt_ms(percentile(t.repl_ms.get(k, []), 95))}")
    for peer in ("sqlite-fts5", "tantivy"):
        row(f"{peer} p50 / p95 per query",
            lambda t, p=peer: f"{fmt_ms(percentile(t.peer_q.get(p, []), 50))} / "
                              f"{fmt_ms(percentile(t.peer_q.get(p, []), 95))}")
    row(f"cold `search query '{COLD_QUERY}'` process", lambda t: fmt_s(t.cold_s))
    row(f"`rg -il {' '.join(COLD_RG)}` over the corpus", lambda t: fmt_s(t.rg_s))
    row("**cold query / rg** (target ≤ 1.5)", lambda t: fmt_ratio(t.cold_s, t.rg_s))
    for label in ("python -S -c pass", "python -c 'import numpy'"):
        row(f"floor: `{label}`", lambda t, k=label: fmt_s(t.floor_s.get(k, [])))
    row("peak RSS: full index (largest process; target ≤ 1 GiB)", lambda t: fmt_mib(t.index_rss))
    row("peak RSS: batch query process (target ≤ 300 MiB)", lambda t: fmt_mib(t.batch_rss))
    row("peak RSS: cold query process (target ≤ 300 MiB)", lambda t: fmt_mib(t.cold_rss))
    row("index size on disk", lambda t: f"{t.index_bytes / 2**20:.1f} MiB")
    row("queries where FTS5 totals+provider counts = ours",
        lambda t: "{}/{}".format(*t.agree["sqlite-fts5"]) if "sqlite-fts5" in t.agree else "–")
    row("queries where tantivy totals+provider counts = ours",
        lambda t: "{}/{}".format(*t.agree["tantivy"]) if "tantivy" in t.agree else "–")
    row("peer build (read corpus / FTS5 / tantivy), not compared",
        lambda t: " / ".join(f"{t.peer_build_s[k]:.1f} s" for k in ("read", "sqlite-fts5", "tantivy")
                             if k in t.peer_build_s) or "–")

    width = [max(len(r[0]) for r in rows), *(max(len(h), *(len(r[1][i]) for r in rows))
                                             for i, h in enumerate(heads))]
    lines = ["| " + " | ".join(["N articles".ljust(width[0]), *(h.rjust(w) for h, w in
                                                              zip(heads, width[1:], strict=True))]) + " |",
             "|" + "|".join(["-" * (width[0] + 2), *("-" * (w + 1) + ":" for w in width[1:])]) + "|"]
    for label, cells in rows:
        padded = (c.rjust(w) for c, w in zip(cells, width[1:], strict=True))
        lines.append("| " + " | ".join([label.ljust(width[0]), *padded]) + " |")

    growth: list[str] = []
    if len(tiers) >= 2:
        growth = ["", "Growth from one tier to the next (figure at the larger N / figure at the "
                  "smaller N; the corpus grows by the ratio in the first row):", "",
                  "| figure | " + " | ".join(f"{a.n:,} → {b.n:,}" for a, b in itertools.pairwise(tiers))
                  + " |", "|---|" + "---:|" * (len(tiers) - 1)]

        def grow(label: str, value: Callable[[Tier], float]) -> None:
            cells = []
            for a, b in itertools.pairwise(tiers):
                va, vb = value(a), value(b)
                cells.append(f"{vb / va:.1f}×" if va and vb and va == va and vb == vb else "–")
            growth.append(f"| {label} | " + " | ".join(cells) + " |")

        grow("articles", lambda t: float(t.n))
        grow("full index time", lambda t: median(t.index_s) if t.index_s else 0.0)
        grow("incremental re-index", lambda t: median(t.incr_s) if t.incr_s else 0.0)
        grow("batch process", lambda t: median(t.batch_s) if t.batch_s else 0.0)
        grow("REPL p95, all queries", lambda t: percentile(t.repl_ms.get("all", []), 95))
        grow("cold query", lambda t: median(t.cold_s) if t.cold_s else 0.0)
        grow("peak RSS, cold query", lambda t: float(max(t.cold_rss)) if t.cold_rss else 0.0)
        grow("index size on disk", lambda t: float(t.index_bytes))

    import whoosh

    runs = ", ".join(f"{t.n:,}: {args.runs_large if t.n >= 100_000 else args.runs}" for t in tiers)
    notes = [
        "# Performance benchmark",
        "",
        f"Produced by `{command}` on {dt.date.today().isoformat()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, whoosh {whoosh.versionstring()}, "
        f"{code_under_test()}{' (' + args.revision + ')' if args.revision else ''}, "
        f"corpus seed {args.seed}. Medians of several runs per tier ({runs}), interleaved, "
        "so ratios compare figures taken under the same load (the machine is shared and noisy).",
        "",
        *lines,
        *growth,
        *(render_real(real) if real is not None else []),
        "",
        f"Query mix: {MIX_SIZE} queries: {len(KEYWORD_QUERIES)} fixed keyword queries and "
        "two-word pieces of titles, and pasted headlines (8–14-word titles of articles of that "
        "corpus), half and half, each with the provider facet, limit 10, highlights on. "
        "The peers run keyword queries in `and` mode (every word, as ours) and headlines in "
        "`or` mode (ours needs a fifth of a long query's words). "
        "The batch row is one `search query --batch --format json` "
        "process (start-up, index open, column load included); the peers answer the same queries "
        "in-process with an exact total, the top 10 and exact provider counts (SQL `GROUP BY` / "
        "tantivy terms aggregation). The peers get the query words our analyzer keeps (stop words "
        "removed) so that all three engines match the same documents; without that FTS5 and "
        "tantivy OR in `the`/`of`/`in` and match nearly everything.",
        "",
        "Why totals can differ between engines (documented, not hidden): stemmers differ "
        "(ours and tantivy's Snowball, FTS5's Porter), ours indexes `node.js`/`gpt-3` as parts "
        "and a joined word, and a long query of ours matches articles with a fifth of its words "
        "where the peers' `or` mode takes any word. With "
        "`--strict` the run fails when a keyword query's total differs by more than "
        f"{STRICT_GAP:.0%} between engines.",
        "",
        "Peak RSS is the largest single process (`wait4` ru_maxrss: the indexer or one of its "
        "parser workers), not the sum, measured through a small launcher process: Linux keeps "
        "a peak across exec, so a command forked straight from the benchmark (which holds the "
        "peers and a Searcher) would report the benchmark's pages.",
    ]
    mismatches = [m for t in tiers for m in t.mismatches]
    if mismatches:
        notes += ["", "Queries on which an engine's total or provider counts differ from ours "
                  "(semantics differ, as noted):", ""]
        notes += [f"- {m}" for m in mismatches[:40]]
        if len(mismatches) > 40:
            notes.append(f"- … and {len(mismatches) - 40} more")
    return "\n".join(notes) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000",
                        help="comma-separated corpus sizes (default 1000,20000,100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--runs-large", type=int, default=1, help="runs per figure for N >= 100,000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, default=gen_corpus.DEFAULT_SOURCE)
    parser.add_argument("--corpus-dir", type=Path, default=Path("/tmp"),
                        help="where the generated corpora live (bench-corpus-N)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-perf"),
                        help="indexes and peer databases")
    parser.add_argument("--no-peers", action="store_true", help="skip SQLite FTS5 and tantivy")
    parser.add_argument("--real", type=Path, default=BENCH.parent.parent / "shared" / "corpus-azure",
                        help="a real corpus to index beside a YAML parse (skipped when absent)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--revision", default="",
                        help="what code is measured, for the notes (e.g. 'snapshot of commit abc123')")
    parser.add_argument("--strict", action="store_true",
                        help="fail when a keyword query's total differs by more than "
                        f"{STRICT_GAP * 100:.0f}%% between engines")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not args.source.is_dir():
        print(f"{args.source}: the real sample is needed as the generator's templates", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    command = "python bench/perf.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tiers: list[Tier] = []
    report = ""
    real = None
    if args.real.is_dir():
        real = measure_real(args.real, args.runs, args.workdir, log)
    else:
        log(f"{args.real}: not found; the real-corpus row is skipped")
    for n in sizes:
        tiers.append(measure_tier(n, args, log))
        # written after every tier, so a long run that is stopped keeps what it measured
        report = render(tiers, args, command.strip(), real)
        args.output.write_text(report, "utf-8")
    print(report)
    if args.strict and any(t.strict_failures for t in tiers):
        for t in tiers:
            for failure in t.strict_failures:
                log(f"--strict: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
