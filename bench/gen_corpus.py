"""Scale the real news sample to N articles of the same shape, deterministically.

Every generated file starts from a real article of the sample (``../shared/corpus``)
used as a template: its front matter keeps the real layout, key order and the
blocks the index never reads (images, ``secured``, ``featuredContent``...), so the
files have the real size and YAML shape. What changes per article:

* title and excerpt: recombined from two real ones (the head of one, the tail of
  another), so the vocabulary and lengths are the real ones;
* provider: half of the time the template's own (the sample is dominated by one
  provider), otherwise drawn from a Zipf law over the real providers followed by
  a long tail of made-up ones whose number grows with N;
* publishedDateTime: spread over 2017–2024 (a few articles have none); the file
  name carries the date, as in the sample;
* topics: the template's, sometimes with one more real topic;
* ~2 % carry a ``related`` list (other coverage), as in the sample;
* URLs are made unique.

Usage::

    python bench/gen_corpus.py --n 20000 --seed 1 [--out /tmp/bench-corpus-20000] [--source DIR]

The output folder must be outside the repository; it gets a ``.bench-manifest.json``
(N, seed, generator version, template digest) that ``bench/perf.py`` uses to reuse
a corpus that is already there. The same N, seed and sample give byte-identical files.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "corpus"
MANIFEST = ".bench-manifest.json"
#: bump when the output for a given (N, seed, sample) changes
GENERATOR_VERSION = 1
DATE_START = dt.datetime(2017, 1, 1, tzinfo=dt.timezone.utc)
DATE_SPAN_SECONDS = int((dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc) - DATE_START).total_seconds())
#: share of articles that keep their template's provider (the rest: Zipf + long tail)
KEEP_PROVIDER = 0.5
ZIPF_S = 1.1
#: made-up tail providers: one per this many articles
TAIL_EVERY = 40
RELATED_SHARE = 0.02
NO_DATE_SHARE = 0.005
EXTRA_TOPIC_SHARE = 0.1

_URL_KEYS = ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl")
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class Template:
    """One real article: its layout (top-level blocks) and the values we recombine."""

    relpath: str
    source: str  # first folder of the path: "ai", "powerapps"
    archived: bool
    blocks: tuple[tuple[str, str], ...]  # (key, raw block text including its first line)
    title: str
    excerpt: str
    provider: str
    domain: str
    topics: tuple[str, ...]
    quality: int | None


@dataclass(frozen=True)
class Sample:
    """The template set and the pools drawn from it."""

    templates: tuple[Template, ...]
    providers: tuple[tuple[str, str], ...]  # (name, domain), most frequent first
    topics: tuple[str, ...]
    topic_weights: tuple[int, ...]
    digest: str


# ----------------------------------------------------------------- reading the sample


def split_blocks(front_matter: str) -> list[tuple[str, str]]:
    """Top-level YAML blocks: each key line with its indented (and blank) continuation lines."""
    blocks: list[tuple[str, list[str]]] = []
    for line in front_matter.split("\n"):
        if line and not line[0].isspace() and ":" in line:
            blocks.append((line.split(":", 1)[0], [line]))
        elif blocks:
            blocks[-1][1].append(line)
        # lines before the first key (none in the sample) are dropped
    return [(key, "\n".join(lines)) for key, lines in blocks]


def load_sample(source: Path) -> Sample:
    """Read and parse every article of the real sample (sorted, so the result is stable)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    templates: list[Template] = []
    provider_counts: Counter[tuple[str, str]] = Counter()
    topic_counts: Counter[str] = Counter()
    digest = hashlib.blake2b(digest_size=16)
    files = sorted(p for p in source.rglob("*.md") if p.is_file())
    for path in files:
        raw = path.read_bytes()
        rel = path.relative_to(source).as_posix()
        digest.update(rel.encode() + b"\0" + raw)
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
        if not text.startswith("---\n"):
            continue
        end = text.find("\n---", 3)
        if end < 0:
            continue
        fm = text[4:end]
        try:
            data = yaml.load(fm, Loader=loader)
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict) or not data.get("title"):
            continue
        prov = data.get("provider")
        name, domain = (
            (str(prov.get("name") or ""), str(prov.get("domain") or ""))
            if isinstance(prov, dict)
            else (str(prov or ""), "")
        )
        topics = data.get("topics") or []
        topics = tuple(str(t) for t in ([topics] if isinstance(topics, str) else topics))
        quality = data.get("quality")
        parts = rel.split("/")
        templates.append(
            Template(
                relpath=rel,
                source=parts[0] if len(parts) > 1 else "news",
                archived="_archive" in parts,
                blocks=tuple(split_blocks(fm)),
                title=clean(str(data.get("title") or "")),
                excerpt=clean(str(data.get("excerpt") or "")),
                provider=name,
                domain=domain,
                topics=topics,
                quality=quality if isinstance(quality, int) and not isinstance(quality, bool) else None,
            )
        )
        if name:
            provider_counts[(name, domain)] += 1
        topic_counts.update(topics)
    if not templates:
        raise SystemExit(f"{source}: no usable articles to use as templates")
    providers = tuple(p for p, _ in sorted(provider_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    topics_sorted = sorted(topic_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Sample(
        templates=tuple(templates),
        providers=providers,
        topics=tuple(t for t, _ in topics_sorted),
        topic_weights=tuple(n for _, n in topics_sorted),
        digest=digest.hexdigest(),
    )


# ----------------------------------------------------------------- text helpers


def clean(text: str) -> str:
    """One line of text, without characters that YAML or a terminal would treat specially."""
    return " ".join(_UNSAFE_CHARS.sub(" ", text).split())


def yq(text: str) -> str:
    """A YAML double-quoted scalar (the sample's own quoting style)."""
    return '"' + clean(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def slugify(text: str, words: int = 8) -> str:
    parts = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(parts) or "article"


def recombine(rng: random.Random, a: str, b: str, min_words: int = 3) -> str:
    """The head of `a` joined to the tail of `b`, cut at word boundaries."""
    wa, wb = a.split(), b.split()
    if len(wa) < 2 or len(wb) < 2:
        return a or b
    cut_a = rng.randint(max(1, len(wa) // 3), max(1, (2 * len(wa)) // 3))
    cut_b = rng.randint(max(1, len(wb) // 3), max(1, (2 * len(wb)) // 3))
    words = wa[:cut_a] + wb[cut_b:]
    if len(words) < min_words:
        words = wa[:cut_a] + wb[-min_words:]
    return " ".join(words)


# ----------------------------------------------------------------- providers


class ProviderPool:
    """Real providers by frequency, then made-up ones; drawn with a Zipf law."""

    def __init__(self, sample: Sample, n: int, rng: random.Random) -> None:
        self.entries: list[tuple[str, str]] = list(sample.providers)
        words = sorted(
            {w for name, _ in sample.providers for w in name.split() if w.isalpha() and len(w) > 2}
        )
        suffixes = ("News", "Daily", "Times", "Post", "Wire", "Journal", "Review", "Report",
                    "Insider", "Today")
        seen = {name.casefold() for name, _ in self.entries}
        wanted = len(self.entries) + max(0, n // TAIL_EVERY)
        while len(self.entries) < wanted and words:
            name = f"{rng.choice(words)} {rng.choice(words)} {rng.choice(suffixes)}"
            if name.casefold() in seen:
                continue
            seen.add(name.casefold())
            self.entries.append((name, slugify(name, 4).replace("-", "") + ".com"))
        weights = [1.0 / (rank + 1) ** ZIPF_S for rank in range(len(self.entries))]
        total = 0.0
        self.cumulative: list[float] = []
        for w in weights:
            total += w
            self.cumulative.append(total)

    def draw(self, rng: random.Random) -> tuple[str, str]:
        x = rng.random() * self.cumulative[-1]
        return self.entries[min(bisect.bisect_left(self.cumulative, x), len(self.entries) - 1)]


# ----------------------------------------------------------------- generation


def _provider_block(name: str, domain: str, indent: str = "") -> str:
    lines = [f"{indent}provider:", f"{indent}  name: {yq(name)}"]
    if domain:
        lines.append(f"{indent}  domain: {domain}")
    return "\n".join(lines)


def _replace_provider(block: str, name: str, domain: str) -> str:
    """The template's provider block with the name and domain swapped (nested
    lines such as the provider's logo images are kept)."""
    lines = block.rstrip("\n").split("\n")
    if len(lines) == 1 or not any(line.startswith("  name:") for line in lines):
        return _provider_block(name, domain)
    kept = [line for line in lines[1:] if not line.startswith(("  name:", "  domain:"))]
    head = _provider_block(name, domain).split("\n")
    return "\n".join(head + kept)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _random_moment(rng: random.Random) -> dt.datetime:
    return DATE_START + dt.timedelta(seconds=rng.randrange(DATE_SPAN_SECONDS))


def _trailing_blank(block: str) -> str:
    """The blank lines a template block ends with (kept to preserve the layout)."""
    stripped = block.rstrip("\n")
    return block[len(stripped):]


def generate(sample: Sample, n: int, seed: int) -> Iterator[tuple[str, str]]:
    """Yield (relative path, file text) for N articles; deterministic in (sample, n, seed)."""
    rng = random.Random(f"bench-corpus:{seed}:{n}")
    pool = ProviderPool(sample, n, random.Random(f"providers:{seed}:{n}"))
    templates = sample.templates
    used: set[str] = set()
    for i in range(n):
        tpl = templates[rng.randrange(len(templates))]
        other = templates[rng.randrange(len(templates))]
        title = recombine(rng, tpl.title, other.title)
        excerpt = recombine(rng, tpl.excerpt, templates[rng.randrange(len(templates))].excerpt, 8)
        if rng.random() < KEEP_PROVIDER and tpl.provider:
            provider, domain = tpl.provider, tpl.domain
        else:
            provider, domain = pool.draw(rng)
        moment = _random_moment(rng)
        has_date = rng.random() >= NO_DATE_SHARE
        topics = list(tpl.topics)
        if rng.random() < EXTRA_TOPIC_SHARE and sample.topics:
            extra = rng.choices(sample.topics, weights=sample.topic_weights)[0]
            if extra not in topics:
                topics.append(extra)
        quality = None if tpl.quality is None else max(0, tpl.quality + rng.randint(-10, 10))
        related_n = rng.randint(1, 3) if rng.random() < RELATED_SHARE else 0

        slug = slugify(title)
        rel = f"{tpl.source}/{'_archive/' if tpl.archived else ''}_news/{moment:%Y-%m-%d}-{slug}.md"
        k = 2
        while rel in used:
            rel = f"{tpl.source}/{'_archive/' if tpl.archived else ''}_news/{moment:%Y-%m-%d}-{slug}-{k}.md"
            k += 1
        used.add(rel)
        host = domain or "example.com"

        out: list[str] = []
        for key, block in tpl.blocks:
            tail = _trailing_blank(block)
            if key == "title":
                out.append(f"title: {yq(title)}{tail}")
            elif key == "excerpt":
                out.append(f"excerpt: {yq(excerpt)}{tail}")
            elif key == "publishedDateTime":
                if has_date:
                    out.append(f"publishedDateTime: {_iso(moment)}{tail}")
            elif key in _URL_KEYS:
                prefix = "amp/" if key.startswith(("amp", "cdnAmp")) else ""
                out.append(f'{key}: "https://{host}/{prefix}{slug}-{i}"{tail}')
            elif key in ("quality", "heat"):
                if quality is not None:
                    out.append(f"{key}: {quality}{tail}")
            elif key == "provider":
                out.append(_replace_provider(block, provider, domain) + tail)
            elif key == "topics":
                out.append("topics:\n" + "\n".join(f"  - {yq(t)}" for t in topics) + tail)
            elif key == "related":
                continue  # replaced below
            else:
                out.append(block)
        if related_n:
            items = []
            for _ in range(related_n):
                r = templates[rng.randrange(len(templates))]
                r_title = recombine(rng, r.title, templates[rng.randrange(len(templates))].title)
                r_prov, r_dom = pool.draw(rng)
                r_slug = slugify(r_title)
                items.append(
                    "\n".join(
                        [
                            f"  - title: {yq(r_title)}",
                            f"    excerpt: {yq(r.excerpt)}",
                            f"    publishedDateTime: {_iso(_random_moment(rng))}",
                            f"    webUrl: https://{r_dom or 'example.com'}/{r_slug}",
                            "    type: article",
                            _provider_block(r_prov, r_dom, "    "),
                        ]
                    )
                )
            out.append("related:\n" + "\n".join(items) + "\n")
        yield rel, "---\n" + "\n".join(out).rstrip("\n") + "\n---\n\n"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def manifest_for(sample: Sample, n: int, seed: int) -> dict[str, Any]:
    return {"n": n, "seed": seed, "version": GENERATOR_VERSION, "sample": sample.digest}


def write_corpus(source: Path, out: Path, n: int, seed: int, force: bool = False) -> tuple[Path, bool]:
    """Generate the corpus into `out` unless an identical one is already there.

    Returns (out, generated). Refuses to write inside the repository, and to
    replace a non-empty folder that is not a generated corpus.
    """
    if _inside(out, REPO):
        raise SystemExit(f"{out}: refusing to write a generated corpus inside the repository")
    sample = load_sample(source)
    wanted = manifest_for(sample, n, seed)
    manifest = out / MANIFEST
    if out.exists() and any(out.iterdir()):
        try:
            current = json.loads(manifest.read_text("utf-8"))
        except (OSError, ValueError):
            current = None
        if current is None:
            raise SystemExit(f"{out}: exists, is not empty and is not a generated corpus")
        if current == wanted and not force:
            return out, False
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    for rel, text in generate(sample, n, seed):
        parent = rel.rsplit("/", 1)[0]
        if parent not in made:
            (out / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with open(out / rel, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    manifest.write_text(json.dumps(wanted, indent=2) + "\n", "utf-8")
    return out, True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of articles (e.g. 1000, 20000, 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default /tmp/bench-corpus-N)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the real sample (templates)")
    parser.add_argument("--force", action="store_true",
                        help="regenerate even when an identical corpus exists")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be positive")
    if not args.source.is_dir():
        print(f"{args.source}: sample corpus not found", file=sys.stderr)
        return 2
    out = args.out or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-corpus-{args.n}"
    out, generated = write_corpus(args.source, out, args.n, args.seed, args.force)
    print(f"{'generated' if generated else 'reused'} {args.n} articles in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
