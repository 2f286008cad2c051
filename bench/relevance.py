"""Relevance benchmark: known-item queries from the corpus, our engine vs peers.

Run it from the repository root:

    .venv/bin/python bench/relevance.py [CORPUS_DIR ...]     (default ../shared/corpus)

Queries nobody can tune by hand come from the corpus itself. An article's
`related` list names other outlets' coverage of the same story; each related
title of 3 words or more that is not the article's own title (compared
case- and space-insensitively) is a query. Its relevant answers are the article
that lists it plus every corpus article whose URL (webUrl or originalUrl)
equals the related item's URL. Only the articles' own title, excerpt and
topics are indexed (never related titles), so a query can only be answered by
matching one outlet's headline against another's article. Identical
(query, relevant set) pairs are counted once; the same title listed by two
articles is two queries, because their relevant sets differ.

Metrics, over the top k=10 results of every query:

* MRR@10: the mean over queries of 1/rank of the first relevant result
  (0 when no relevant result is in the top 10);
* recall@10: the fraction of queries with at least one relevant result in the
  top 10 (success@10: each query has one "known item", possibly with copies);
* ms/query: mean wall time per query, the median over `--repeat` timed passes
  (after one untimed pass that also produces the rankings). "ranked" is the
  top 10 alone (ours still computes its exact total, which it always does);
  "+facets" adds the exact total and provider counts over all matches (ours:
  the default `SearchRequest`, which also highlights the hits).

Engines, all built from the same files in the same run:

* ours: `search.indexer.build_index` into a temporary folder, then
  `Searcher.search(SearchRequest(query, limit=10))`, the public API as
  shipped; the query text is passed verbatim, as a user pastes it;
* sqlite-fts5 and tantivy: `bench/peers.py` (query semantics documented there).

The queries are also split in two halves by a hash of the listing article's
path (so every query of one article lands in the same half): tune on half A,
check on half B. With few articles carrying `related` lists the query set is
small and its queries are correlated (one story can contribute dozens), so the
script also prints a bootstrap interval, resampling listing articles rather
than queries, for our MRR lead over the best peer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `peers` lives next to this file; importable both as a script and from tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import PeerDoc, fts5_peer, peer_docs, tantivy_peer

from search.documents import Article, parse_article, walk_corpus
from search.errors import SkipFile

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
K = 10
MIN_QUERY_WORDS = 3


# ----------------------------------------------------------------- queries


@dataclass(frozen=True)
class KnownItem:
    """One known-item query: a related title and the articles that answer it."""

    text: str
    relevant: frozenset[str]  # corpus paths
    source: str  # path of the article whose `related` list holds the title

    @property
    def half(self) -> str:
        """'A' or 'B', stable across runs and machines (not Python's salted hash)."""
        return "A" if hashlib.blake2b(self.source.encode()).digest()[0] % 2 == 0 else "B"


def normalize_title(text: str) -> str:
    """A title compared case- and whitespace-insensitively."""
    return " ".join(text.casefold().split())


def load_articles(
    roots: Sequence[Path], on_skip: Callable[[str, str], None] | None = None
) -> list[Article]:
    """Every indexable article under `roots`, with its related list.

    Files are skipped exactly when our indexer skips them (any parse failure).
    Raises ValueError when two roots hold the same relative path, since hits
    are identified by that path.
    """
    articles: dict[str, Article] = {}
    for root in roots:
        for cf in walk_corpus(Path(root)):
            try:
                with open(cf.abspath, "rb") as fh:
                    article = parse_article(cf.relpath, fh.read(), with_related=True)
            except (OSError, SkipFile) as exc:
                if on_skip is not None:
                    on_skip(str(cf.abspath), str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - the indexer skips these too
                if on_skip is not None:
                    on_skip(str(cf.abspath), f"unexpected error: {type(exc).__name__}: {exc}")
                continue
            if article.path in articles:
                raise ValueError(f"{article.path}: the same relative path is in two corpus roots")
            articles[article.path] = article
    return [articles[p] for p in sorted(articles)]


def extract_queries(articles: Iterable[Article]) -> list[KnownItem]:
    """The known-item queries of a corpus (see the module docstring), in a
    stable order: by listing article path, then by position in its list."""
    articles = sorted(articles, key=lambda a: a.path)
    by_url: dict[str, set[str]] = {}
    for a in articles:
        for url in {a.url, a.original_url} - {""}:
            by_url.setdefault(url, set()).add(a.path)
    seen: set[tuple[str, frozenset[str]]] = set()
    out: list[KnownItem] = []
    for a in articles:
        own = normalize_title(a.title)
        for rel in a.related:
            text = " ".join(rel.title.split())
            norm = normalize_title(text)
            if len(norm.split()) < MIN_QUERY_WORDS or norm == own:
                continue
            relevant = frozenset({a.path} | (by_url.get(rel.url, set()) if rel.url else set()))
            key = (norm, relevant)
            if key in seen:
                continue
            seen.add(key)
            out.append(KnownItem(text, relevant, a.path))
    return out


# ----------------------------------------------------------------- metrics


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str] | set[str], k: int = K) -> float:
    """1/rank of the first relevant path in the top `k`, else 0."""
    for i, path in enumerate(ranked[:k]):
        if path in relevant:
            return 1.0 / (i + 1)
    return 0.0


@dataclass(frozen=True)
class Quality:
    """MRR@k and recall@k (success@k) over a set of queries."""

    mrr: float
    recall: float
    n: int


def quality(rankings: Sequence[Sequence[str]], queries: Sequence[KnownItem], k: int = K) -> Quality:
    """Score rankings (one per query, same order as `queries`)."""
    if len(rankings) != len(queries):
        raise ValueError("one ranking per query")
    if not queries:
        return Quality(0.0, 0.0, 0)
    rrs = [reciprocal_rank(r, q.relevant, k) for r, q in zip(rankings, queries, strict=True)]
    return Quality(sum(rrs) / len(rrs), sum(rr > 0 for rr in rrs) / len(rrs), len(rrs))


def ceiling(queries: Sequence[KnownItem], k: int = K) -> tuple[float, bool]:
    """The best MRR@k any engine can reach, and whether it is exact.

    Queries with the same text get the same ranking from any deterministic
    engine, so when one headline is listed by several articles that share no
    relevant answer, only one of them can be answered at rank 1, the next at
    rank 2 at best, and so on. Per group of identical texts: when one article
    answers them all, every query can be at rank 1; when no article answers
    two of them, the best is 1 + 1/2 + ... + 1/min(n, k); otherwise the bound
    used is n (every query at rank 1), which is not tight (hence `exact`).
    """
    groups: dict[str, list[frozenset[str]]] = {}
    for q in queries:
        groups.setdefault(q.text, []).append(q.relevant)
    total, exact = 0.0, True
    for sets in groups.values():
        n = len(sets)
        if frozenset.intersection(*sets):
            total += n
        elif sum(len(s) for s in sets) == len(frozenset.union(*sets)):
            total += sum(1 / r for r in range(1, min(n, k) + 1))
        else:
            total += n
            exact = False
    return (total / len(queries) if queries else 0.0), exact


def cluster_bootstrap(
    diffs: Sequence[float], clusters: Sequence[str], rounds: int = 2000, seed: int = 4
) -> tuple[float, float]:
    """95% interval of the mean of per-query `diffs`, resampling whole clusters
    (listing articles): queries of one article share a story, so resampling
    them one by one would overstate the certainty."""
    groups: dict[str, list[float]] = {}
    for d, c in zip(diffs, clusters, strict=True):
        groups.setdefault(c, []).append(d)
    keys = sorted(groups)
    if not keys:
        return 0.0, 0.0
    rng = random.Random(seed)
    means = []
    for _ in range(rounds):
        picked = [groups[rng.choice(keys)] for _ in keys]
        n = sum(len(g) for g in picked)
        means.append(sum(sum(g) for g in picked) / n)
    means.sort()
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


# ----------------------------------------------------------------- engines


class OurEngine:
    """Our engine through its public API: build_index + Searcher.search."""

    name = "ours (whoosh)"

    def __init__(self, roots: Sequence[Path], ranking: Any = None) -> None:
        """`ranking`: a `search.engine.Ranking` to try instead of the shipped one."""
        self.roots = [Path(r) for r in roots]
        self.ranking = ranking
        self._searcher: Any = None

    def build(self, docs: Iterable[PeerDoc], workdir: Path) -> None:
        """Index the corpus roots (our indexer reads the files itself; `docs`
        is ignored, `peer_docs` read the same files the same way)."""
        from search.indexer import build_index
        from search.searcher import Searcher

        index_dir = workdir / "whoosh"
        build_index(index_dir, self.roots, full=True, on_skip=lambda p, r: None)
        self._searcher = Searcher(index_dir, self.ranking)

    def search(self, query: str, k: int = K) -> list[str]:
        """Top-k paths with nothing extra computed (no facets, no highlights)."""
        from search.searcher import SearchRequest

        page = self._searcher.search(SearchRequest(query, limit=k, facets=(), highlight=False))
        return [h.path for h in page.hits]

    def search_with_facets(self, query: str, k: int = K) -> tuple[int, list[str], dict[str, int]]:
        """The default request as the CLI makes it: total, provider facet, highlights."""
        from search.searcher import SearchRequest

        page = self._searcher.search(SearchRequest(query, limit=k, facet_size=10**9))
        counts = {str(v.value): v.count for v in page.facets["provider"].values}
        return page.total, [h.path for h in page.hits], counts

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()


@dataclass
class EngineRun:
    """One engine's results in one benchmark run."""

    name: str
    rankings: list[list[str]] = field(default_factory=list)
    build_s: float = 0.0
    ms_ranked: list[float] = field(default_factory=list)  # one mean per timed pass
    ms_facets: list[float] = field(default_factory=list)
    error: str = ""


def _time_pass(fn: Callable[[str, int], Any], texts: Sequence[str], k: int) -> float:
    """Mean milliseconds per query over one pass."""
    started = time.perf_counter()
    for text in texts:
        fn(text, k)
    return (time.perf_counter() - started) * 1000 / max(len(texts), 1)


def run_benchmark(
    roots: Sequence[Path],
    queries: Sequence[KnownItem],
    engines: Sequence[tuple[str, Callable[[], Any]]],
    workdir: Path,
    k: int = K,
    repeat: int = 5,
) -> list[EngineRun]:
    """Build every engine on the same files, rank every query, time the passes.

    Timed passes interleave the engines (engine order rotates each round), so
    a slow spell of a noisy machine does not land on one engine only.
    """
    docs = peer_docs(roots)
    texts = [q.text for q in queries]
    runs: list[EngineRun] = []
    live: list[tuple[EngineRun, Any]] = []
    for label, make in engines:
        run = EngineRun(label)
        runs.append(run)
        try:
            engine = make()
        except ImportError as exc:
            run.error = str(exc)
            continue
        run.name = getattr(engine, "name", label)
        folder = workdir / label
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        engine.build(docs, folder)
        run.build_s = time.perf_counter() - started
        # the untimed pass: rankings from the full request, and a warm cache
        for text in texts:
            run.rankings.append(engine.search_with_facets(text, k)[1])
        live.append((run, engine))
    for r in range(repeat):
        order = live[r % len(live):] + live[: r % len(live)] if live else []
        for run, engine in order:
            run.ms_ranked.append(_time_pass(engine.search, texts, k))
            run.ms_facets.append(_time_pass(engine.search_with_facets, texts, k))
    for _, engine in live:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    return runs


# ----------------------------------------------------------------- report


def _fmt_ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def report(runs: Sequence[EngineRun], queries: Sequence[KnownItem], k: int = K) -> str:
    """The result tables as Markdown."""
    halves = {h: [i for i, q in enumerate(queries) if q.half == h] for h in "AB"}
    lines = [
        f"| engine | MRR@{k} | recall@{k} | ms/query ranked | ms/query +total+facets | build s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run.error:
            lines.append(f"| {run.name} | - | - | - | - | - |  ({run.error})")
            continue
        qa = quality(run.rankings, queries, k)
        lines.append(
            f"| {run.name} | {qa.mrr:.3f} | {qa.recall:.3f} | {_fmt_ms(run.ms_ranked)} "
            f"| {_fmt_ms(run.ms_facets)} | {run.build_s:.2f} |"
        )
    na, nb = len(halves["A"]), len(halves["B"])
    lines += [
        "",
        f"| engine | MRR@{k} half A ({na} q) | recall@{k} A | MRR@{k} half B ({nb} q) | recall@{k} B |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run.error:
            continue
        cells = []
        for h in "AB":
            idx = halves[h]
            qh = quality([run.rankings[i] for i in idx], [queries[i] for i in idx], k)
            cells += [f"{qh.mrr:.3f}", f"{qh.recall:.3f}"]
        lines.append(f"| {run.name} | " + " | ".join(cells) + " |")
    best_possible, exact = ceiling(queries, k)
    lines += [
        "",
        f"ceiling: the best MRR@{k} any ranking can reach on these queries is {best_possible:.3f}"
        + ("" if exact else " (an upper bound)")
        + " (identical query texts listed by different articles cannot all be answered at rank 1)",
    ]
    ok = [r for r in runs if not r.error]
    if len(ok) >= 2 and queries:
        ours, peers = ok[0], ok[1:]
        best = max(peers, key=lambda r: quality(r.rankings, queries, k).mrr)
        diffs = [
            reciprocal_rank(a, q.relevant, k) - reciprocal_rank(b, q.relevant, k)
            for a, b, q in zip(ours.rankings, best.rankings, queries, strict=True)
        ]
        lo, hi = cluster_bootstrap(diffs, [q.source for q in queries])
        lines += [
            "",
            f"{ours.name} minus best peer ({best.name}) MRR@{k}: {sum(diffs) / len(diffs):+.3f} "
            f"(95% bootstrap interval over listing articles: {lo:+.3f} .. {hi:+.3f})",
        ]
    return "\n".join(lines)


def misses(run: EngineRun, queries: Sequence[KnownItem], k: int = K) -> str:
    """Queries an engine did not answer at rank 1, for error analysis."""
    out = []
    for ranking, q in zip(run.rankings, queries, strict=True):
        rr = reciprocal_rank(ranking, q.relevant, k)
        if rr < 1.0:
            rank = f"rank {round(1 / rr)}" if rr else f"not in top {k}"
            out.append(f"{run.name}: {rank}: {q.text!r} -> {sorted(q.relevant)} (top: {ranking[:3]})")
    return "\n".join(out)


ENGINE_NAMES = ("ours", "fts5", "tantivy")


def parse_ranking(settings: Sequence[str]) -> Any:
    """`search.engine.Ranking` with some fields overridden by NAME=VALUE
    settings (`b.title=0.5` sets one field's b), or None for the shipped one.
    For A/B runs of scoring parameters without editing the engine."""
    if not settings:
        return None
    import dataclasses

    try:  # where the scoring parameters live has moved between revisions
        from search.ranking import Ranking
    except ImportError:
        from search.snapshot import Ranking  # type: ignore[no-redef]

    base = Ranking()
    fields = {f.name for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    b = dict(base.b)
    weights = dict(getattr(base, "weights", ()))
    for item in settings:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--ranking {item!r}: expected NAME=NUMBER") from None
        if not sep:
            raise ValueError(f"--ranking {item!r}: expected NAME=NUMBER")
        if name.startswith("b."):
            b[name[2:]] = number
        elif name.startswith("w.") and weights:
            weights[name[2:]] = number
        elif name in fields and name not in ("b", "weights"):
            changes[name] = number
        else:
            raise ValueError(f"--ranking {item!r}: unknown field; Ranking has {', '.join(sorted(fields))}")
    if weights:
        changes["weights"] = tuple(weights.items())
    return dataclasses.replace(base, b=tuple(b.items()), **changes)


def engine_factory(name: str, roots: Sequence[Path], ranking: Any = None) -> Callable[[], Any]:
    """A maker of one named engine (tantivy's raises ImportError when it is missing)."""
    if name == "ours":
        return lambda: OurEngine(roots, ranking)
    if name == "fts5":
        return fts5_peer
    if name == "tantivy":
        return tantivy_peer
    raise ValueError(f"unknown engine {name!r}")


def engine_revision() -> str:
    """Which `search` package is measured: its folder and git revision, so a
    recorded table can be traced to the code that produced it."""
    import subprocess

    import search

    folder = Path(search.__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{folder} (not a git checkout)"
    return f"{folder} at git {rev}" + (" with uncommitted changes" if dirty else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="Known-item relevance benchmark: our engine vs SQLite FTS5 and tantivy."
    )
    parser.add_argument("corpus", nargs="*", type=Path, help=f"corpus folders (default {DEFAULT_CORPUS})")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per engine (default 5)")
    parser.add_argument("--engines", default="ours,fts5,tantivy",
                        help="comma-separated, ours first (default ours,fts5,tantivy)")
    parser.add_argument("--misses", action="store_true", help="list queries not answered at rank 1")
    parser.add_argument("--json", type=Path, help="also write the per-query results here")
    parser.add_argument("--ranking", action="append", default=[], metavar="NAME=VALUE",
                        help="override a field of our search.engine.Ranking (repeatable; "
                             "b.title=0.5 sets one field's b), for A/B runs")
    parser.add_argument("--workdir", type=Path,
                        help="build the engines' indexes here (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    roots = args.corpus or [DEFAULT_CORPUS]
    for root in roots:
        if not root.is_dir():
            print(f"{root}: corpus folder not found", file=sys.stderr)
            return 2
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENGINE_NAMES]
    if unknown or not names:
        print(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINE_NAMES)}", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2

    try:
        ranking = parse_ranking(args.ranking)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        articles = load_articles(roots)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    queries = extract_queries(articles)
    listing = {q.source for q in queries}
    halves = {h: sum(q.half == h for q in queries) for h in "AB"}
    print(f"corpus: {', '.join(str(r) for r in roots)}: {len(articles)} indexable articles, "
          f"{sum(bool(a.related) for a in articles)} with related lists")
    print(f"engine: {engine_revision()}")
    print(f"queries: {len(queries)} ({len({normalize_title(q.text) for q in queries})} distinct texts) "
          f"from {len(listing)} listing articles; half A {halves['A']}, half B {halves['B']}")
    if not queries:
        print("no known-item queries in this corpus: nothing to measure", file=sys.stderr)
        return 1

    if ranking is not None:
        print(f"ours with {ranking}")
    engines = [(n, engine_factory(n, roots, ranking)) for n in names]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        runs = run_benchmark(roots, queries, engines, args.workdir, K, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="relevance-") as tmp:
            runs = run_benchmark(roots, queries, engines, Path(tmp), K, args.repeat)
    print(f"timing: median of {args.repeat} passes over the {len(queries)} queries\n")
    print(report(runs, queries, K))
    if args.misses:
        for run in runs:
            if not run.error:
                print("\n" + misses(run, queries, K))
    if args.json:
        args.json.write_text(json.dumps({
            "queries": [{"text": q.text, "relevant": sorted(q.relevant), "source": q.source,
                         "half": q.half} for q in queries],
            "engines": [{"name": r.name, "error": r.error, "rankings": r.rankings,
                         "ms_ranked": r.ms_ranked, "ms_facets": r.ms_facets, "build_s": r.build_s}
                        for r in runs],
        }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
