"""Similar-articles benchmark: `search similar` against the site's own picks.

    .venv/bin/python bench/similar.py [--sample 500] [--seed 1] [--workdir DIR]

Every article of `../shared/corpus-azure` lists ~30 other articles of the
same site as `related` (by webUrl): the site's own "related articles", small
lists for one event, large ones for same-period Azure news. For a fixed
sample of articles (seeded) whose list names at least one indexed article,
the relevant answers are those articles; our `Searcher.similar` and
tantivy's more-like-this (same documents, title/excerpt/topics stored and
`en_stem`-analysed, default MLT settings but min_doc_frequency=1,
min_term_frequency=1) each rank the top 10, the source excluded.

Reports nDCG@10 (binary), P@10 and MRR, for sources with fewer than 10
related articles in the index (one event: the content guard) and the rest,
and the median time per article (ours: one `similar` call on a long-lived
searcher, facets off; tantivy: one query). `--param NAME=VALUE` sets a field
of `search.similar.SimilarParams` for A/B runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus-azure"
K = 10
SMALL = 10


def load(corpus: Path) -> tuple[list, dict[str, str]]:
    from search.documents import parse_article, walk_corpus
    from search.errors import SkipFile

    articles = []
    for cf in walk_corpus(corpus):
        try:
            articles.append(parse_article(cf.relpath, Path(cf.abspath).read_bytes()))
        except SkipFile:
            continue
    by_url = {a.url: a.path for a in articles if a.url}
    return articles, by_url


def sample(articles: list, by_url: dict[str, str], n: int, seed: int) -> list[tuple[object, set[str]]]:
    usable = []
    for a in sorted(articles, key=lambda a: a.path):
        relevant = {by_url[u] for u in a.related_urls if u in by_url} - {a.path}
        if relevant:
            usable.append((a, relevant))
    rng = random.Random(seed)
    return rng.sample(usable, min(n, len(usable)))


def ndcg(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranked[:k]) if p in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def precision(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    return sum(p in relevant for p in ranked[:k]) / k


def rr(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    return next((1 / (i + 1) for i, p in enumerate(ranked[:k]) if p in relevant), 0.0)


def build_ours(corpus: Path, workdir: Path) -> Path:
    from search.indexer import build_index

    index = workdir / "ours"
    if not (index / "search-meta.json").is_file():
        build_index(index, [corpus], full=True)
    return index


def build_tantivy(articles: list, workdir: Path) -> tuple[object, dict[str, object]]:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("path", stored=True, tokenizer_name="raw")
    for name in ("title", "excerpt", "topics"):
        sb.add_text_field(name, stored=True, tokenizer_name="en_stem")
    schema = sb.build()
    folder = workdir / "tantivy-mlt"
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(folder), reuse=False)
    writer = index.writer(heap_size=128_000_000, num_threads=1)
    for a in articles:
        writer.add_document(tantivy.Document(path=a.path, title=a.title, excerpt=a.excerpt,
                                             topics=" ; ".join(a.topics)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    addresses = {}
    for _, address in searcher.search(tantivy.Query.all_query(), searcher.num_docs).hits:
        addresses[searcher.doc(address)["path"][0]] = address
    return searcher, addresses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-similar"))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--no-tantivy", action="store_true")
    args = parser.parse_args(argv)
    from search.searcher import Searcher, SearchRequest
    from search.similar import SimilarParams

    params = SimilarParams()
    for item in args.param:
        name, _, value = item.partition("=")
        current = getattr(params, name)
        params = dataclasses.replace(params, **{name: type(current)(value)})
    args.workdir.mkdir(parents=True, exist_ok=True)
    articles, by_url = load(args.corpus)
    chosen = sample(articles, by_url, args.sample, args.seed)
    index = build_ours(args.corpus, args.workdir)
    runs: dict[str, list[tuple[list[str], set[str], float]]] = {"ours": [], "tantivy mlt": []}
    with Searcher(index) as s:
        s.similar(chosen[0][0].path, SearchRequest(limit=K, facets=(), highlight=False), params)  # warm
        for article, relevant in chosen:
            t0 = time.perf_counter()
            page = s.similar(article.path, SearchRequest(limit=K, facets=(), highlight=False), params)
            runs["ours"].append(([h.path for h in page.hits], relevant, time.perf_counter() - t0))
    if not args.no_tantivy:
        try:
            import tantivy
        except ImportError:
            print("tantivy not installed: pip install -e '.[bench]'", file=sys.stderr)
        else:
            searcher, addresses = build_tantivy(articles, args.workdir)
            for article, relevant in chosen:
                t0 = time.perf_counter()
                q = tantivy.Query.more_like_this_query(addresses[article.path], min_doc_frequency=1,
                                                       min_term_frequency=1)
                hits = searcher.search(q, K + 1).hits
                ranked = [p for p in (searcher.doc(a)["path"][0] for _, a in hits) if p != article.path]
                runs["tantivy mlt"].append((ranked[:K], relevant, time.perf_counter() - t0))
    print(f"corpus {args.corpus}: {len(articles)} articles; sample {len(chosen)} (seed {args.seed}) "
          f"of the articles whose related list names an indexed article")
    print(f"params: {params}")
    print("| engine | sources | nDCG@10 | P@10 | MRR | median ms/article |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rows in runs.items():
        if not rows:
            continue
        for label, keep in (("all", lambda r: True), (f"< {SMALL} related", lambda r: len(r) < SMALL),
                            (f">= {SMALL} related", lambda r: len(r) >= SMALL)):
            sel = [(ranked, rel, t) for ranked, rel, t in rows if keep(rel)]
            if not sel:
                continue
            print(f"| {name} | {label} ({len(sel)}) | "
                  f"{statistics.mean(ndcg(r, rel) for r, rel, _ in sel):.3f} | "
                  f"{statistics.mean(precision(r, rel) for r, rel, _ in sel):.3f} | "
                  f"{statistics.mean(rr(r, rel) for r, rel, _ in sel):.3f} | "
                  f"{statistics.median(t for _, _, t in sel) * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
