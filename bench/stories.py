"""Stories benchmark: story grouping against a hand-checked gold set, with distractors.

Run it from the repository root:

    .venv/bin/python bench/stories.py [--cache /tmp/stories-docs.jsonl] [--sample 30] [--seed 1]

What it does:

* reads every article of ``../shared/corpus/ai`` (keys ``ai/...``) and of
  ``../shared/corpus-azure`` (keys ``corpus-azure/...``), and clusters all of
  them together with `search.stories` (the azure site is 4,958 distractors
  for the ai articles, and the subject of the hand judgement below);
* scores the stories of the ai articles against ``bench/data/stories_gold.json``
  (``--gold related-only`` drops the articles the gold file says were added by
  hand, leaving the stories found through the articles' own related lists):
  B-cubed precision/recall/F1 (per article: the share of its predicted story
  that is in its gold story, and the reverse, averaged) and pairwise
  precision/recall/F1 (over same-story pairs of ai articles);
* counts the azure articles merged into gold stories (in a predicted story
  with a member of a multi-article gold story) and into any story holding an
  ai article, the largest story, the largest all-azure story, and the story
  size histogram;
* times the clustering (median of ``--repeat`` runs of `StoryIndex.build` on
  the feature rows; feature extraction from parsed articles is timed once,
  separately), and one-article incremental updates (`StoryIndex.update`);
* prints ``--sample`` random multi-article azure stories (``--seed``) for a
  human to judge whether each is one event.

``--check-incremental STEPS`` starts from 80 % of the articles and applies
random batches of deletions, additions and rewrites with `StoryIndex.update`,
checking after each that links and story ids equal a full build.

``--perf DIR`` measures cost instead, on any corpus (the generated ones of
``bench/gen_corpus.py``): parsing (as the indexer does, for reference), feature
extraction, a full clustering (median of ``--repeat``), ``--updates``
one-article incremental updates (alternately an article rewritten with another
one's text and a new article), saving and loading the story index; ``--index-too``
also times a full `search` index build of the same folder in the same run,
for the ratio (the issue's budget: stories ≤ 20 % of index time).

Parameters of the link rule can be overridden for A/B runs (``--high 0.45``,
``--no-veto``...); ``--misses`` lists the gold pairs missed and the false pairs.
``--cache FILE`` keeps the parsed StoryDocs (article text: put it outside the
repository) for the next run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.documents import parse_article, read_capped, walk_corpus
from search.errors import SkipFile
from search.stories import StoryDoc, StoryIndex, StoryParams, doc_features, story_doc

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLD = REPO / "bench" / "data" / "stories_gold.json"
AZURE_PREFIX = "corpus-azure/"


# ----------------------------------------------------------------- loading


def load_docs(root: Path, prefix: str) -> list[StoryDoc]:
    """StoryDocs of every parsable article under `root`, keyed `prefix` + relative path."""
    out = []
    for cf in walk_corpus(root):
        try:
            data, _ = read_capped(cf.abspath)
            # the indexer's own reading: it carries the related URLs (`related_urls`)
            article = parse_article(prefix + cf.relpath, data)
        except SkipFile:
            continue
        out.append(story_doc(article))
    return out


def _doc_to_json(doc: StoryDoc) -> str:
    row = dataclasses.asdict(doc)
    row["published"] = doc.published.isoformat() if doc.published else None
    return json.dumps(row, ensure_ascii=False)


def _doc_from_json(line: str) -> StoryDoc:
    row = json.loads(line)
    row["published"] = dt.datetime.fromisoformat(row["published"]) if row["published"] else None
    row["related"] = tuple(row["related"])
    return StoryDoc(**row)


def load_all(ai_root: Path, azure_root: Path, cache: Path | None) -> list[StoryDoc]:
    """The ai and azure StoryDocs, through the cache file when given."""
    if cache and cache.exists():
        return [_doc_from_json(line) for line in cache.read_text("utf-8").split("\n") if line]
    docs = load_docs(ai_root, "ai/") + load_docs(azure_root, AZURE_PREFIX)
    if cache:
        cache.write_text("".join(_doc_to_json(d) + "\n" for d in docs), "utf-8")
    return docs


def load_gold(path: Path, variant: str = "full") -> list[list[str]]:
    """The gold's multi-article stories (lists of keys); `related-only` drops the
    articles added by hand."""
    gold = json.loads(path.read_text("utf-8"))
    stories = [list(s) for s in gold["stories"]]
    if variant == "related-only":
        added = set(gold["added_by_hand"]["paths"])
        stories = [[p for p in s if p not in added] for s in stories]
    return [s for s in stories if len(s) > 1]


# ----------------------------------------------------------------- metrics


@dataclasses.dataclass(frozen=True)
class Scores:
    b3_precision: float
    b3_recall: float
    b3_f1: float
    pair_precision: float
    pair_recall: float
    pair_f1: float
    missed: tuple[tuple[str, str], ...]
    false: tuple[tuple[str, str], ...]


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(groups: Iterable[Sequence[str]]) -> set[tuple[str, str]]:
    out = set()
    for group in groups:
        members = sorted(group)
        out.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
    return out


def score(predicted: Mapping[str, str], gold_stories: Sequence[Sequence[str]], keys: Sequence[str]) -> Scores:
    """B-cubed and pairwise scores of `predicted` (key → story id) on `keys`;
    keys in no gold story are gold singletons."""
    gold_of = {k: k for k in keys}
    for story in gold_stories:
        for k in story:
            gold_of[k] = story[0]
    gold_groups: dict[str, set[str]] = defaultdict(set)
    pred_groups: dict[str, set[str]] = defaultdict(set)
    for k in keys:
        gold_groups[gold_of[k]].add(k)
        pred_groups[predicted[k]].add(k)
    precision = recall = 0.0
    for k in keys:
        g, p = gold_groups[gold_of[k]], pred_groups[predicted[k]]
        both = len(g & p)
        precision += both / len(p)
        recall += both / len(g)
    precision, recall = precision / len(keys), recall / len(keys)
    gold_pairs, pred_pairs = _pairs(gold_groups.values()), _pairs(pred_groups.values())
    hit = len(gold_pairs & pred_pairs)
    pp = hit / len(pred_pairs) if pred_pairs else 1.0
    pr = hit / len(gold_pairs) if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall), pp, pr, _f1(pp, pr),
                  tuple(sorted(gold_pairs - pred_pairs)), tuple(sorted(pred_pairs - gold_pairs)))


def story_members(predicted: Mapping[str, str]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for key, story in predicted.items():
        members[story].append(key)
    return members


# ----------------------------------------------------------------- report


def _params(args: argparse.Namespace) -> StoryParams:
    base = StoryParams()
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(StoryParams)
               if getattr(args, f.name, None) is not None}
    if args.no_veto:
        changes["name_veto"] = False
    return dataclasses.replace(base, **changes)


def _line(doc: StoryDoc) -> str:
    when = doc.published.strftime("%Y-%m-%d") if doc.published else "----------"
    return f"    {when}  {doc.provider[:22]:22}  {doc.title[:100]}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    params = _params(args)
    cached = bool(args.cache and args.cache.exists())
    t0 = time.perf_counter()
    docs = load_all(args.ai, args.azure, args.cache)
    t_load = time.perf_counter() - t0
    by_key = {d.key: d for d in docs}
    t0 = time.perf_counter()
    rows = [doc_features(d) for d in docs]
    t_features = time.perf_counter() - t0
    times = []
    index = StoryIndex.build(rows, params)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        index = StoryIndex.build(rows, params)
        predicted = index.stories()
        times.append(time.perf_counter() - t0)
    predicted = index.stories()
    update_times = []
    rng = random.Random(args.seed)
    for row in rng.sample(rows, min(args.repeat, len(rows))):
        t0 = time.perf_counter()
        index.update(upserted=[row]).stories()
        update_times.append(time.perf_counter() - t0)

    if args.check_incremental:
        check_incremental(rows, params, args.check_incremental, args.seed)

    ai_keys = sorted(k for k in by_key if k.startswith("ai/"))
    gold = load_gold(args.gold, args.gold_variant)
    scores = score(predicted, gold, ai_keys)
    members = story_members(predicted)
    gold_members = {k for story in gold for k in story}
    gold_story_ids = {predicted[k] for k in gold_members}
    ai_story_ids = {predicted[k] for k in ai_keys}
    azure_in_gold = sum(1 for s in gold_story_ids for k in members[s] if k.startswith(AZURE_PREFIX))
    azure_with_ai = sum(1 for s in ai_story_ids for k in members[s] if k.startswith(AZURE_PREFIX))
    sizes = Counter(len(m) for m in members.values())
    azure_sizes = [len(m) for m in members.values() if all(k.startswith(AZURE_PREFIX) for k in m)]
    multi_azure = sorted((sorted(m) for m in members.values()
                          if len(m) > 1 and all(k.startswith(AZURE_PREFIX) for k in m)), key=lambda m: m[0])
    sample = random.Random(args.seed).sample(multi_azure, min(args.sample, len(multi_azure)))

    print(f"articles: {len(ai_keys)} ai + {len(docs) - len(ai_keys)} azure; gold: {len(gold)} multi-article "
          f"stories, {len(gold_members)} articles ({args.gold_variant})")
    print(f"params: {dataclasses.asdict(params)}")
    print(f"B-cubed   P={scores.b3_precision:.4f} R={scores.b3_recall:.4f} F1={scores.b3_f1:.4f}")
    print(f"pairwise  P={scores.pair_precision:.4f} R={scores.pair_recall:.4f} F1={scores.pair_f1:.4f}")
    print(f"azure articles merged into gold stories: {azure_in_gold}; into any story with an ai article: "
          f"{azure_with_ai}")
    print(f"stories: {len(members)}; largest: {max(sizes)}; "
          f"largest all-azure: {max(azure_sizes, default=0)}; "
          f"multi-article all-azure stories: {len(multi_azure)} "
          f"holding {sum(map(len, multi_azure))} articles")
    print("size histogram: " + ", ".join(f"{size}:{count}" for size, count in sorted(sizes.items())))
    print(f"time: parse {t_load:.1f} s (from cache: {cached}), features "
          f"{t_features:.2f} s, cluster (build + stories) median {statistics.median(times):.3f} s of "
          f"{len(times)}, re-adding one unchanged article median "
          f"{statistics.median(update_times) * 1000:.1f} ms")
    if args.misses:
        for kind, pairs in (("MISSED", scores.missed), ("FALSE", scores.false)):
            for a, b in pairs:
                print(f"  {kind}: {by_key[a].title[:60]!r} ~ {by_key[b].title[:60]!r}")
    if sample:
        print(f"\n{len(sample)} random multi-article azure stories (seed {args.seed}):")
        for n, story in enumerate(sample, 1):
            print(f"[{n}] {len(story)} articles, story {predicted[story[0]]}")
            for key in sorted(story, key=lambda k: (by_key[k].published or dt.datetime.max.replace(
                    tzinfo=dt.timezone.utc), k)):
                print(_line(by_key[key]))
    return {"scores": dataclasses.asdict(scores), "azure_in_gold": azure_in_gold, "largest": max(sizes),
            "largest_azure": max(azure_sizes, default=0), "cluster_seconds": statistics.median(times)}


def check_incremental(rows: list[Any], params: StoryParams, steps: int, seed: int) -> None:
    """Random edit batches applied with `StoryIndex.update`, each compared with
    a full build of the same articles (links and story ids must be equal)."""
    rng = random.Random(seed)
    rows = rows[:]
    rng.shuffle(rows)
    start = len(rows) * 4 // 5
    current = {r.key: r for r in rows[:start]}
    pool = rows[start:]
    index = StoryIndex.build(current.values(), params)
    for step in range(steps):
        removed = rng.sample(sorted(current), min(len(current), rng.randint(0, 30)))
        for key in removed:
            del current[key]
        upserted = [pool.pop() for _ in range(min(len(pool), rng.randint(0, 40)))]
        upserted += [dataclasses.replace(rng.choice(rows), key=key)
                     for key in rng.sample(sorted(current), min(len(current), rng.randint(0, 10)))]
        for row in upserted:
            current[row.key] = row
        t0 = time.perf_counter()
        index = index.update(removed=removed, upserted=upserted)
        took = time.perf_counter() - t0
        full = StoryIndex.build(current.values(), params)
        same = index.link_keys() == full.link_keys() and index.stories() == full.stories()
        print(f"incremental step {step + 1}: -{len(removed)} +/~{len(upserted)} articles, {index.recomputed} "
              f"rows recomputed, {took * 1000:.0f} ms: {'equal to a full build' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit("incremental update differs from a full build")


def perf(args: argparse.Namespace) -> None:
    """Time every stage of story grouping on the corpus at `args.perf`."""
    root: Path = args.perf
    files = list(walk_corpus(root))
    t0 = time.perf_counter()
    raw = []
    for cf in files:
        try:
            raw.append((cf.relpath, read_capped(cf.abspath)[0]))
        except SkipFile:
            continue
    t_read = time.perf_counter() - t0

    # the indexer's own reading, which carries the related URLs (`related_urls`)
    t0 = time.perf_counter()
    articles = []
    for rel, data in raw:
        try:
            articles.append(parse_article(rel, data))
        except SkipFile:
            continue
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = [doc_features(story_doc(a)) for a in articles]
    t_features = time.perf_counter() - t0
    days = Counter(r.ts // 86400 for r in rows if r.ts is not None)
    span = (max(days) - min(days) + 1) if days else 0
    params = _params(args)
    builds = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        index = StoryIndex.build(rows, params)
        stories = index.stories()
        builds.append(time.perf_counter() - t0)
    rng = random.Random(args.seed)
    updates, touched = [], []
    for n in range(args.updates):
        # alternately: an article rewritten with another one's text, and a new article
        old, other = rng.sample(rows, 2)
        row = dataclasses.replace(other, key=old.key, ts=old.ts) if n % 2 == 0 else \
            dataclasses.replace(other, key=f"new/{n}.md")
        t0 = time.perf_counter()
        after = index.update(upserted=[row])
        after.stories()
        updates.append(time.perf_counter() - t0)
        touched.append(after.recomputed)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories.npz"
        t0 = time.perf_counter()
        index.save(path)
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        StoryIndex.load(path, params)
        t_load = time.perf_counter() - t0
        size = path.stat().st_size
        t_index = None
        if args.index_too:
            from search.indexer import build_index

            t0 = time.perf_counter()
            build_index(Path(tmp) / "index", [root], full=True)
            t_index = time.perf_counter() - t0
    sizes = Counter(Counter(stories.values()).values())
    per_day = statistics.median(days.values()) if days else 0
    print(f"corpus {root}: {len(rows)} articles, {len(days)} days with articles over a span of {span} days: "
          f"{len(rows) / max(span, 1):.1f} per calendar day, {per_day} median and "
          f"{max(days.values(), default=0)} max per day with articles")
    print(f"read {t_read:.2f} s; parse (search.documents.parse_article) {t_parse:.2f} s")
    print(f"features {t_features:.2f} s ({t_features / max(len(rows), 1) * 1e6:.0f} µs/article)")
    print(f"cluster (build + stories) median {statistics.median(builds):.2f} s of {len(builds)}: "
          f"{len(index.links)} links, {len(set(stories.values()))} stories, largest {max(sizes)}")
    print(f"one-article update + stories ({len(updates)}, alternately a rewritten and a new article): "
          f"median {statistics.median(updates) * 1000:.0f} ms, max {max(updates) * 1000:.0f} ms; rows "
          f"recomputed median {statistics.median(touched):.0f}, mean {statistics.mean(touched):.0f}, "
          f"max {max(touched)}")
    print(f"save {t_save * 1000:.0f} ms, load {t_load * 1000:.0f} ms, {size / 1e6:.1f} MB")
    overhead = t_features + statistics.median(builds)
    print(f"story overhead of a full build (features + cluster): {overhead:.2f} s")
    if t_index is not None:
        print(f"full index build (search.indexer.build_index, full=True): {t_index:.2f} s; "
              f"story overhead / index time = {overhead / t_index:.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ai", type=Path, default=SHARED / "corpus" / "ai")
    parser.add_argument("--azure", type=Path, default=SHARED / "corpus-azure")
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--gold-variant", choices=("full", "related-only"), default="full")
    parser.add_argument("--cache", type=Path,
                        help="parsed StoryDocs cache (JSON lines; keep it outside the repository)")
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--misses", action="store_true", help="list missed and false gold pairs")
    for f in dataclasses.fields(StoryParams):
        if f.type in ("float", "int"):
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name,
                                type=float if f.type == "float" else int)
    parser.add_argument("--no-veto", action="store_true", help="turn the rare-name veto off")
    parser.add_argument("--check-incremental", type=int, default=0, metavar="STEPS",
                        help="apply STEPS random edit batches incrementally, each checked against a build")
    parser.add_argument("--perf", type=Path, metavar="DIR", help="time the stages on this corpus instead")
    parser.add_argument("--index-too", action="store_true", help="with --perf: also time a full index build")
    parser.add_argument("--updates", type=int, default=30, help="with --perf: one-article updates to time")
    args = parser.parse_args(argv)
    if args.perf:
        perf(args)
    else:
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
