"""Relevance benchmark v2: known-item queries from the corpus, our engine vs peers.

Run it from the repository root:

    .venv/bin/python bench/relevance.py --seeds 1 --workdir /tmp/relbench

Default corpus: ../shared/corpus and ../shared/corpus-azure, indexed together
(their relative paths do not collide; a collision is refused). Four query
sets (`--sets`, default all): S (simulated known-item queries), S-typo (the
same with one typo), H (pasted related headlines at story level) and v1 (the
first benchmark's headlines, saturated for every engine, kept as a regression
guard); `bench/relevance_sets.py` says exactly how each is made and
`bench/relevance_metrics.py` what is measured (MRR@10, success@10, nDCG@10,
ceiling, a bootstrap interval over targets or listing articles).

Engines, all on the same files in the same run (`bench/relevance_engines.py`):
ours through its public API, and SQLite FTS5 and tantivy (`bench/peers.py`),
each peer in both `and` and `or` mode. A peer's score on a set is its better
mode (by MRR@10, then nDCG@10, then name), and the best peer is the best of all
peer configurations, so the comparison is as kind to the peers as it can be.
Equal scores: the peers order them by path; ours by its own rule (newest, then
path, since 48003e0).

S and S-typo depend on the seed (`--seed N`, or `--seeds 1,2,3` for a table
per seed and their mean); H and v1 do not. Tune on some seeds and report
one you never tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the bench modules live next to this file; importable both as a script and from tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import default_weights, to_peer_doc
from relevance_engines import (
    ENGINE_NAMES,
    Built,
    SetRun,
    SettingError,
    answer_set,
    close_all,
    configurations,
    corpus_cache_key,
    corpus_fingerprint,
    engine_key,
    engine_revision,
    make_engine,
    parse_ranking,
    parse_request,
    prepare,
    warm_up,
)
from relevance_metrics import (
    METRIC_NAMES,
    METRICS,
    K,
    PerQuery,
    Quality,
    ceiling,
    cluster_bootstrap,
    mean_quality,
    per_query,
    quality,
    reciprocal_rank,
)
from relevance_sets import (
    KS,
    Corpus,
    KnownItem,
    Query,
    TermStats,
    extract_queries,
    headline_queries,
    load_articles,
    load_corpus,
    normalize_title,
    read_corpus,
    save_corpus,
    select_targets,
    simulated_queries,
    title_key,
    typo_queries,
)

__all__ = ["KnownItem", "Query", "ceiling", "extract_queries", "load_articles", "main",
           "normalize_title", "parse_ranking", "quality", "reciprocal_rank"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_ROOTS = (SHARED / "corpus", SHARED / "corpus-azure")
DEFAULT_TARGETS = ((SHARED / "corpus" / "ai", None), (SHARED / "corpus-azure", 400))
DEFAULT_HEADLINES = SHARED / "corpus" / "ai"
DEFAULT_V1 = SHARED / "corpus"
SET_NAMES = ("S", "S-typo", "H", "v1")
CLUSTER_NAMES = {"S": "targets", "S-typo": "targets", "H": "listing articles", "v1": "listing articles"}


# ----------------------------------------------------------------- results


@dataclass
class SetResult:
    """One query set's queries and every configuration's answers."""

    name: str
    seed: int | None
    queries: list[Query]
    runs: list[SetRun]
    labels: dict[str, str]  # configuration name -> engine label

    @property
    def title(self) -> str:
        return self.name if self.seed is None else f"{self.name}, seed {self.seed}"

    def scores(self, config: str) -> list[PerQuery]:
        run = next(r for r in self.runs if r.config == config)
        return [per_query(r, q.relevant) for r, q in zip(run.rankings, self.queries, strict=True)]

    def quality(self, config: str) -> Quality:
        return mean_quality(self.scores(config))

    @property
    def ours(self) -> str | None:
        return next((r.config for r in self.runs if self.labels[r.config] == "ours"), None)

    def peer_configs(self) -> list[str]:
        return [r.config for r in self.runs if self.labels[r.config] != "ours"]

    def _rank(self, config: str) -> tuple[float, float, str]:
        q = self.quality(config)
        return (-q.mrr, -q.ndcg, config)

    def better_modes(self) -> dict[str, str]:
        """Each peer's better configuration on this set."""
        best: dict[str, str] = {}
        for config in self.peer_configs():
            label = self.labels[config]
            if label not in best or self._rank(config) < self._rank(best[label]):
                best[label] = config
        return best

    def best_peer(self) -> str | None:
        peers = self.peer_configs()
        return min(peers, key=self._rank) if peers else None


# ----------------------------------------------------------------- report


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _clean(text: str, limit: int = 90) -> str:
    """Corpus text for a terminal and a Markdown cell: control characters escaped."""
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text).replace("|", "\\|")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def describe(result: SetResult) -> str:
    """One line on what the set holds."""
    qs = result.queries
    clusters = len({q.cluster for q in qs})
    if result.name in ("S", "S-typo"):
        words = [s for q in qs for s in q.from_target]
        share = sum(words) / len(words) if words else 0.0
        line = (f"{len(qs)} queries, {clusters} targets × k = {', '.join(map(str, KS))}; "
                f"{share:.1%} of words from the target")
        if result.name == "S-typo":
            unchanged = sum(not q.edit for q in qs)
            line += (f"; {len(qs) - unchanged} edited, {unchanged} "
                     f"({unchanged / max(len(qs), 1):.1%}) kept unchanged (no word of 5+ letters)")
        return line
    texts = len({title_key(q.text) for q in qs})
    return f"{len(qs)} queries ({texts} distinct texts) from {clusters} listing articles"


def set_table(result: SetResult, s_result: SetResult | None = None) -> str:
    """The Markdown report of one query set."""
    by_k = result.name in ("S", "S-typo")
    head = f"| engine | {' | '.join(METRIC_NAMES[m] for m in METRICS)} |"
    rule = "|---|" + "---:|" * len(METRICS)
    if by_k:
        head += "".join(f" MRR k={k} |" for k in KS)
        rule += "---:|" * len(KS)
    head += " ms/query |"
    rule += "---:|"
    lines = [f"### {result.title}: {describe(result)}", "", head, rule]
    for run in result.runs:
        q = result.quality(run.config)
        row = f"| {run.config} | {_f(q.mrr)} | {_f(q.success)} | {_f(q.ndcg)} |"
        if by_k:
            scores = result.scores(run.config)
            for k in KS:
                rr = [s.rr for s, qq in zip(scores, result.queries, strict=True) if qq.k == k]
                row += f" {_f(sum(rr) / len(rr)) if rr else '-'} |"
        lines.append(row + f" {run.ms_median:.2f} |")
    top = ceiling(result.queries, key=title_key)
    lines.append(f"| ceiling{'' if top.exact else ' (bound)'} | {_f(top.mrr)} | {_f(top.success)} | "
                 f"{_f(top.ndcg)} |" + " |" * (len(KS) if by_k else 0) + " |")
    lines.append("")
    for run in result.runs:
        if run.errors:
            first = _clean(run.first_error, 200)
            lines.append(f"**{run.config}: {run.errors} queries raised** (first: {first})")
    if result.name == "H":
        lines.append(f"ceiling check: {top.mrr:.3f} "
                     + ("(1.0 by construction: every headline is one distinct query)"
                        if top.mrr == 1.0 else "**not 1.0: the H set is not what it should be**"))
    modes = result.better_modes()
    if modes:
        lines.append("better mode per peer (by MRR@10): " + ", ".join(
            f"{label} → {config} ({_f(result.quality(config).mrr)})" for label, config in modes.items()))
    ours, best = result.ours, result.best_peer()
    if ours and best and result.queries:
        a, b = result.scores(ours), result.scores(best)
        clusters = [q.cluster for q in result.queries]
        parts = []
        for metric in METRICS:
            diffs = [getattr(x, metric) - getattr(y, metric) for x, y in zip(a, b, strict=True)]
            lo, hi = cluster_bootstrap(diffs, clusters)
            parts.append(f"{METRIC_NAMES[metric]} {sum(diffs) / len(diffs):+.3f} [{lo:+.3f}, {hi:+.3f}]")
        n_clusters = len(set(clusters))
        lines.append(f"{ours} − best peer ({best}), 95% bootstrap interval over {n_clusters} "
                     f"{CLUSTER_NAMES.get(result.name, 'clusters')}: " + "; ".join(parts))
        wins = sum(x.rr > y.rr for x, y in zip(a, b, strict=True))
        losses = sum(x.rr < y.rr for x, y in zip(a, b, strict=True))
        lines.append(f"per query (reciprocal rank): {ours} better on {wins}, {best} better on {losses}, "
                     f"equal on {len(a) - wins - losses}")
    if s_result is not None:
        kept = []
        for run in result.runs:
            base = s_result.quality(run.config).mrr
            kept.append(f"{run.config} {result.quality(run.config).mrr / base:.1%}" if base else
                        f"{run.config} -")
        lines.append("share of its S MRR@10 kept on S-typo: " + ", ".join(kept))
    return "\n".join(lines)


def seeds_table(results: Sequence[SetResult], name: str) -> str:
    """The per-seed MRR@10 of one seeded set, and the means over seeds."""
    mine = [r for r in results if r.name == name]
    if len(mine) < 2:
        return ""
    configs = [run.config for run in mine[0].runs]
    lines = [f"### {name}, mean over seeds {', '.join(str(r.seed) for r in mine)}", "",
             "| engine | " + " | ".join(f"MRR seed {r.seed}" for r in mine)
             + " | mean MRR@10 | mean success@10 | mean nDCG@10 |",
             "|---|" + "---:|" * (len(mine) + 3)]
    for config in configs:
        qs = [r.quality(config) for r in mine]
        mean = [sum(q.get(m) for q in qs) / len(qs) for m in METRICS]
        lines.append(f"| {config} | " + " | ".join(_f(q.mrr) for q in qs) + " | "
                     + " | ".join(_f(x) for x in mean) + " |")
    diffs = []
    for r in mine:
        ours, best = r.ours, r.best_peer()
        diffs.append(r.quality(ours).mrr - r.quality(best).mrr if ours and best else None)
    if all(d is not None for d in diffs):
        shown = [f"{d:+.3f}" for d in diffs if d is not None]
        mean_d = sum(d for d in diffs if d is not None) / len(diffs)
        lines.append("| ours − best peer of the seed | " + " | ".join(shown) + f" | {mean_d:+.3f} | | |")
    return "\n".join(lines)


def misses(result: SetResult, corpus: Corpus, count: int = 20) -> str:
    """The queries ours loses most on against the best peer, with each
    engine's top 3 titles (relevant ones starred)."""
    ours, best = result.ours, result.best_peer()
    if not ours or not best:
        return f"### misses on {result.title}: needs ours and a peer"
    titles = {a.path: a.title for a in corpus.articles}
    rankings = {run.config: run.rankings for run in result.runs}
    shown = [ours, *result.better_modes().values()]
    a, b = result.scores(ours), result.scores(best)
    order = sorted((x.rr - y.rr, -y.rr, i) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x.rr < y.rr)
    lines = [f"### worst losses of {ours} vs {best} on {result.title} "
             f"({len(order)} losses, {min(count, len(order))} shown)"]
    for n, (_, _, i) in enumerate(order[:count], 1):
        q = result.queries[i]
        extra = f" (k={q.k}, from target: {''.join('T' if s else 'n' for s in q.from_target)})" if q.k else ""
        if q.edit:
            extra += f" (typo of {q.original!r}: {q.edit})"
        lines += ["", f"{n}. {_clean(q.text)!r}{extra}",
                  f"   wanted: {_clean(titles.get(q.cluster, q.cluster))} [{q.cluster}]"
                  + (f" and {len(q.relevant) - 1} more" if len(q.relevant) > 1 else "")]
        for config in shown:
            top = rankings[config][i][:3]
            rr = reciprocal_rank(rankings[config][i], q.relevant)
            cells = [("*" if p in q.relevant else "") + _clean(titles.get(p, p), 60) for p in top]
            lines.append(f"   {config} (rr {rr:.2f}): " + " · ".join(cells or ["(nothing)"]))
    return "\n".join(lines)


def to_json(results: Sequence[SetResult], built: Sequence[Built], meta: dict[str, Any]) -> dict[str, Any]:
    """Every query with every configuration's top 10 and scores."""
    sets = []
    for r in results:
        scores = {run.config: r.scores(run.config) for run in r.runs}
        queries = []
        for i, q in enumerate(r.queries):
            queries.append({
                "text": q.text, "relevant": sorted(q.relevant), "cluster": q.cluster, "k": q.k,
                "words": list(q.words), "from_target": list(q.from_target), "original": q.original,
                "edit": q.edit,
                "results": {run.config: {"top": run.rankings[i], "rr": scores[run.config][i].rr,
                                         "success": scores[run.config][i].success,
                                         "ndcg": scores[run.config][i].ndcg} for run in r.runs},
            })
        sets.append({"set": r.name, "seed": r.seed, "best_peer": r.best_peer(),
                     "summary": {run.config: vars(r.quality(run.config)) for run in r.runs},
                     "ms_per_query": {run.config: run.ms for run in r.runs},
                     "errors": {run.config: run.errors for run in r.runs}, "queries": queries})
    engines = [{"engine": b.label, "build_s": b.seconds, "reused": b.reused, "error": b.error} for b in built]
    return {**meta, "engines": engines, "sets": sets}


# ----------------------------------------------------------------- command line


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None
    if not values:
        raise argparse.ArgumentTypeError("no seed given")
    return values


def _pools(specs: Sequence[str], roots: Sequence[Path]) -> list[tuple[Path, int | None]]:
    """--target FOLDER[=N|all] settings as (folder, count) pools."""
    pools: list[tuple[Path, int | None]] = []
    for spec in specs:
        folder_text, _, count_text = spec.partition("=")
        folder = Path(folder_text)
        if not folder.is_dir():
            raise ValueError(f"--target {spec!r}: {folder} is not a folder")
        if not any(folder.resolve().is_relative_to(r.resolve()) for r in roots):
            raise ValueError(f"--target {spec!r}: {folder} is not inside a corpus root")
        if count_text in ("", "all"):
            pools.append((folder, None))
        elif count_text.isdigit() and int(count_text) > 0:
            pools.append((folder, int(count_text)))
        else:
            raise ValueError(f"--target {spec!r}: expected FOLDER=N (N > 0) or FOLDER=all")
    return pools


def _inside(folder: Path, roots: Sequence[Path]) -> bool:
    return folder.is_dir() and any(folder.resolve().is_relative_to(r.resolve()) for r in roots)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Known-item relevance benchmark v2: our engine vs "
                                            "SQLite FTS5 and tantivy (see the module docstring).")
    p.add_argument("corpus", nargs="*", type=Path,
                   help="corpus roots, indexed together "
                        "(default ../shared/corpus ../shared/corpus-azure)")
    p.add_argument("--sets", default=",".join(SET_NAMES),
                   help=f"comma-separated, from {', '.join(SET_NAMES)}")
    p.add_argument("--seed", type=int, default=1, help="seed of target selection and query generation")
    p.add_argument("--seeds", type=_int_list, help="several seeds, e.g. 1,2,3: a table per seed and the mean")
    p.add_argument("--target", action="append", default=[], metavar="FOLDER=N|all",
                   help="where S draws targets (repeatable; default ../shared/corpus/ai=all "
                        "and ../shared/corpus-azure=400)")
    p.add_argument("--headlines", type=Path, help="H: the folder whose related lists give the headlines "
                                                   "(default ../shared/corpus/ai)")
    p.add_argument("--v1-from", type=Path, help="v1: the folder whose related lists give the queries "
                                                 "(default ../shared/corpus)")
    p.add_argument("--engines", default=",".join(ENGINE_NAMES), help="comma-separated (default all)")
    p.add_argument("--ranking", action="append", default=[], metavar="NAME=VALUE",
                   help="set a field of our engine's Ranking (repeatable; b.title=0.5 or "
                        "w.title=3 sets one entry of a per-field list)")
    p.add_argument("--request", action="append", default=[], metavar="NAME=VALUE",
                   help="set a field of SearchRequest, if this engine has it (repeatable)")
    p.add_argument("--workdir", type=Path, help="keep indexes here and reuse them while the code and "
                                                "corpus are unchanged (default: a temporary folder)")
    p.add_argument("--rebuild", action="store_true", help="rebuild cached indexes in --workdir")
    p.add_argument("--repeat", type=int, default=1, help="timed passes per set (default 1)")
    p.add_argument("--json", type=Path, help="write the per-query results here")
    p.add_argument("--misses", action="append", default=[], metavar="SET",
                   help="list ours' worst losses vs the best peer on SET (repeatable)")
    p.add_argument("--misses-count", type=int, default=20, help="losses listed per set (default 20)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    try:
        return _run(args, started)
    except (ValueError, SettingError) as exc:
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, started: float) -> int:
    roots = [Path(r) for r in (args.corpus or DEFAULT_ROOTS)]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"{root}: corpus folder not found")
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if not sets or set(sets) - set(SET_NAMES):
        raise ValueError(f"--sets {args.sets!r}: choose from {', '.join(SET_NAMES)}")
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if not names or set(names) - set(ENGINE_NAMES):
        raise ValueError(f"--engines {args.engines!r}: choose from {', '.join(ENGINE_NAMES)}")
    if args.repeat < 1:
        raise ValueError("--repeat must be at least 1")
    for name in args.misses:
        if name not in sets:
            raise ValueError(f"--misses {name!r}: not one of the sets run ({', '.join(sets)})")
    seeds = args.seeds or [args.seed]
    seeded = any(s in ("S", "S-typo") for s in sets)
    if args.target:
        pools = _pools(args.target, roots)
    elif seeded and all(_inside(f, roots) for f, _ in DEFAULT_TARGETS):
        pools = list(DEFAULT_TARGETS)
    elif seeded:
        raise ValueError("S needs target folders: --target FOLDER=N|all (inside a corpus root)")
    else:
        pools = []
    headlines = args.headlines or (DEFAULT_HEADLINES if _inside(DEFAULT_HEADLINES, roots) else roots[0])
    v1_from = args.v1_from or (DEFAULT_V1 if _inside(DEFAULT_V1, roots) else None)
    for option, folder in (("--headlines", headlines), ("--v1-from", v1_from)):
        if folder is not None and not _inside(folder, roots):
            raise ValueError(f"{option} {folder}: not a folder inside a corpus root")
    ranking = parse_ranking(args.ranking)
    request = parse_request(args.request)

    corpus_key = corpus_fingerprint(roots) if args.workdir else None
    corpus, how = _load(roots, args.workdir, corpus_key, args.rebuild)
    print(f"corpus: {', '.join(str(r) for r in corpus.roots)}: {len(corpus.articles)} indexable articles"
          f" ({how})")
    print(f"engine: {engine_revision()}")
    print(f"seeds: {', '.join(map(str, seeds))}; sets: {', '.join(sets)}"
          + ("; targets: " + ", ".join(f"{f}={c or 'all'}" for f, c in pools) if seeded else ""))
    if any(n != "ours" for n in names):
        print(f"peers' field weights: {default_weights()}")
    if ranking is not None:
        print(f"ours with {ranking}")
    if request:
        print(f"ours with SearchRequest overrides {request}")

    with tempfile.TemporaryDirectory(prefix="relevance-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        docs = [to_peer_doc(a) for a in corpus.articles]
        built = [prepare(n, lambda n=n: make_engine(n, corpus.roots, ranking, request), lambda: docs,
                         workdir, engine_key(n, corpus_key) if corpus_key else None, args.rebuild)
                 for n in names]
        try:
            results = _answer_sets(corpus, sets, seeds, pools, headlines, v1_from, built, args.repeat)
        finally:
            close_all(built)
    _print_report(results, built, corpus, args, time.perf_counter() - started)
    return 0


def _load(roots: Sequence[Path], workdir: Path | None, corpus_key: str | None, rebuild: bool
          ) -> tuple[Corpus, str]:
    """The parsed corpus, from the work folder's cache when it is current."""
    cache = workdir / f"corpus-{corpus_cache_key(corpus_key)}.json" if workdir and corpus_key else None
    if cache is not None and cache.is_file() and not rebuild:
        return read_corpus(cache), "parsed corpus reused from the work folder"
    skipped: list[str] = []
    corpus = load_corpus(roots, on_skip=lambda p, r: skipped.append(p))
    if cache is not None:
        workdir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        save_corpus(corpus, cache)
    return corpus, f"{len(skipped)} files skipped"


def _answer_sets(corpus: Corpus, sets: Sequence[str], seeds: Sequence[int],
                 pools: Sequence[tuple[Path, int | None]], headlines: Path, v1_from: Path | None,
                 built: Sequence[Built], repeat: int) -> list[SetResult]:
    configs = configurations(built)
    labels = {c.name: c.label for c in configs}

    results: list[SetResult] = []
    warmed = False

    def run(name: str, seed: int | None, queries: list[Query]) -> SetResult:
        nonlocal warmed
        texts = [q.text for q in queries]
        if not warmed:
            warm_up(configs, texts)
            warmed = True
        return SetResult(name, seed, queries, answer_set(configs, texts, K, repeat), labels)

    if any(s in ("S", "S-typo") for s in sets):
        stats = TermStats.of(corpus)
        for seed in seeds:
            s_queries = simulated_queries(corpus, select_targets(corpus, pools, seed), seed, stats=stats)
            if "S" in sets:
                results.append(run("S", seed, s_queries))
            if "S-typo" in sets:
                results.append(run("S-typo", seed, typo_queries(s_queries, seed)))
    if "H" in sets:
        results.append(run("H", None, headline_queries(corpus, headlines)))
    if "v1" in sets:
        folder = v1_from.resolve() if v1_from is not None else None
        listing = None if folder is None else (lambda a: corpus.files[a.path].is_relative_to(folder))
        results.append(run("v1", None, extract_queries(corpus.articles, listing)))
    return results


def _print_report(results: Sequence[SetResult], built: Sequence[Built], corpus: Corpus,
                  args: argparse.Namespace, seconds: float) -> None:
    print()
    for b in built:
        state = f"unavailable: {b.error}" if b.error else (
            f"index reused ({b.seconds:.1f} s to open)" if b.reused else f"index built in {b.seconds:.1f} s")
        print(f"{b.label}: {state}")
    for r in results:
        s_result = None
        if r.name == "S-typo":
            s_result = next((x for x in results if x.name == "S" and x.seed == r.seed), None)
        print("\n" + set_table(r, s_result))
    for name in ("S", "S-typo"):
        table = seeds_table(results, name)
        if table:
            print("\n" + table)
    for name in args.misses:
        for r in results:
            if r.name == name:
                print("\n" + misses(r, corpus, args.misses_count))
    print(f"\nwhole run: {seconds:.1f} s (ms/query: median of {args.repeat} timed pass(es); "
          "pass 1 also gives the rankings)")
    if args.json:
        meta = {"revision": engine_revision(), "roots": [str(r) for r in corpus.roots],
                "seeds": args.seeds or [args.seed], "k": K, "seconds": seconds}
        args.json.write_text(json.dumps(to_json(results, built, meta), indent=1), encoding="utf-8")
        print(f"per-query results: {args.json}")


if __name__ == "__main__":
    raise SystemExit(main())
