"""Engines of the relevance benchmark: ours through its public API, the peers
in both query modes, index caching, and command-line overrides.

Ours: `search.indexer.build_index`, then
`Searcher(index_dir, ranking).search(SearchRequest(text, limit=10, facets=(),
highlight=False, **overrides))`: the query text verbatim, nothing but the top
10 asked for. `--ranking NAME=VALUE` replaces a field of the engine's
`Ranking`, `--request NAME=VALUE` a field of `SearchRequest` (when the
installed engine has that field), so options can be A/B-tested without
editing the harness.

Caching: with a work folder, each engine's index goes into
`<engine>-<key>/` and is reused when the key matches. Ours is keyed by the
contents of every file of the installed `search` package, the Whoosh version
and the corpus (every file's relative path, size and mtime); the peers by
`bench/peers.py`, `search/documents.py` (which parses the files they index),
their library's version and the corpus. A `COMPLETE` file written after a
build marks the index usable, so an interrupted build is redone.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peers import Peer, PeerDoc, fts5_peer, tantivy_peer

from search.documents import walk_corpus

K = 10
#: SearchRequest fields the benchmark itself sets
FIXED_REQUEST_FIELDS = ("query", "limit", "offset")
#: where the engine's Ranking dataclass has lived (it moves with the rewrite)
RANKING_MODULES = ("search.ranking", "search.snapshot", "search.engine")
#: short names for NAME.KEY settings: `w.title=3` sets weights' title entry
RANKING_ALIASES = {"w": "weights"}
PEER_NAMES = ("fts5", "tantivy")
ENGINE_NAMES = ("ours", *PEER_NAMES)


class SettingError(ValueError):
    """A --ranking or --request setting that cannot be applied."""


# ----------------------------------------------------------------- overrides


def _coerce(option: str, item: str, value: str, default: Any) -> Any:
    """`value` as the type of the field's default."""
    try:
        if isinstance(default, bool):
            words = {"true": True, "on": True, "yes": True, "1": True,
                     "false": False, "off": False, "no": False, "0": False}
            return words[value.strip().lower()]
        if isinstance(default, enum.Enum):
            cls = type(default)
            return cls[value] if value in cls.__members__ else cls(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str) or default is None:
            return value
        if isinstance(default, tuple) and all(isinstance(x, str) for x in default):
            return tuple(x.strip() for x in value.split(",") if x.strip())
    except (KeyError, ValueError):
        raise SettingError(f"{option} {item!r}: {value!r} is not a valid "
                           f"{type(default).__name__}") from None
    raise SettingError(f"{option} {item!r}: a {type(default).__name__} field cannot be set "
                       "from the command line")


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _split(option: str, item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise SettingError(f"{option} {item!r}: expected NAME=VALUE")
    return name.strip(), value.strip()


def ranking_class() -> type:
    """The engine's Ranking dataclass, wherever this revision keeps it."""
    import importlib

    for module in RANKING_MODULES:
        try:
            cls = getattr(importlib.import_module(module), "Ranking", None)
        except ImportError:
            continue
        if cls is not None and dataclasses.is_dataclass(cls):
            return cls
    raise SettingError(f"--ranking: no Ranking dataclass in {', '.join(RANKING_MODULES)}; "
                       "this engine cannot be tuned from the benchmark")


def parse_ranking(settings: Sequence[str]) -> Any:
    """The engine's `Ranking` with fields overridden by NAME=VALUE settings,
    or None for the shipped one. `NAME.KEY=VALUE` sets one entry of a field
    holding (key, value) pairs, e.g. `b.title=0.5` or `weights.title=3`
    (`w.title=3` for short)."""
    if not settings:
        return None
    cls = ranking_class()
    base = cls()
    fields = {f.name: f for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for item in settings:
        name, value = _split("--ranking", item)
        head, dot, key = name.partition(".")
        if dot and head in RANKING_ALIASES and head not in fields:
            head = RANKING_ALIASES[head]
        if head not in fields:
            raise SettingError(f"--ranking {item!r}: unknown field; {cls.__name__} has "
                               f"{', '.join(sorted(fields))}")
        current = changes.get(head, getattr(base, head))
        if dot:
            if not (isinstance(current, tuple) and all(isinstance(p, tuple) and len(p) == 2
                                                       for p in current)):
                raise SettingError(f"--ranking {item!r}: {head} is not a list of (name, value) pairs")
            pairs = dict(current)
            sample = pairs.get(key, next(iter(pairs.values()), 0.0))
            pairs[key] = _coerce("--ranking", item, value, sample)
            changes[head] = tuple(pairs.items())
        else:
            changes[head] = _coerce("--ranking", item, value, current)
    return dataclasses.replace(base, **changes)


def parse_request(settings: Sequence[str]) -> dict[str, Any]:
    """SearchRequest field overrides from NAME=VALUE settings, typed like each
    field's default. Raises SettingError for a field this engine's
    SearchRequest lacks or one the benchmark sets itself."""
    if not settings:
        return {}
    from search.searcher import SearchRequest

    fields = {f.name: f for f in dataclasses.fields(SearchRequest)}
    out: dict[str, Any] = {}
    for item in settings:
        name, value = _split("--request", item)
        if name in FIXED_REQUEST_FIELDS:
            raise SettingError(f"--request {item!r}: the benchmark sets {name} itself")
        if name not in fields:
            settable = sorted(set(fields) - set(FIXED_REQUEST_FIELDS))
            raise SettingError(f"--request {item!r}: this engine's SearchRequest has no field "
                               f"{name!r} (it has {', '.join(settable)})")
        out[name] = _coerce("--request", item, value, _default_of(fields[name]))
    return out


# ----------------------------------------------------------------- cache keys


def _hash_files(h: Any, folder: Path, pattern: str = "*.py") -> None:
    for path in sorted(folder.rglob(pattern)):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")


def corpus_fingerprint(roots: Sequence[Path]) -> str:
    """A hash of every corpus file's root, relative path, size and mtime."""
    h = hashlib.sha256()
    for root in roots:
        h.update(str(Path(root).resolve()).encode() + b"\0")
        for cf in walk_corpus(Path(root)):
            h.update(f"{cf.relpath}\0{cf.size}\0{cf.mtime_ns}\0".encode())
    return h.hexdigest()


def engine_key(name: str, corpus_key: str) -> str:
    """The cache key of one engine's index (see the module docstring)."""
    import importlib.metadata
    import sqlite3

    import search

    h = hashlib.sha256(f"{name}\0{corpus_key}\0".encode())
    package = Path(search.__file__).resolve().parent
    if name == "ours":
        _hash_files(h, package)
        h.update(importlib.metadata.version("whoosh3").encode())
    else:
        h.update((Path(__file__).resolve().parent / "peers.py").read_bytes())
        h.update((package / "documents.py").read_bytes())
        try:
            version = sqlite3.sqlite_version if name == "fts5" else importlib.metadata.version("tantivy")
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"  # the engine reports itself unavailable when made
        h.update(version.encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------- engines


class OurEngine:
    """Our engine through its public API: build_index + Searcher.search."""

    name = "ours"

    def __init__(self, roots: Sequence[Path], ranking: Any = None,
                 request: Mapping[str, Any] | None = None) -> None:
        self.roots = [Path(r) for r in roots]
        self.ranking = ranking
        self.request = dict(request or {})
        self._searcher: Any = None
        self._fixed: dict[str, Any] | None = None

    def build(self, docs: Iterable[PeerDoc], workdir: Path) -> None:
        """Index the corpus roots (our indexer reads the files itself; `docs` is ignored)."""
        from search.indexer import build_index

        build_index(workdir / "index", self.roots, full=True, on_skip=lambda p, r: None)
        self.open(workdir)

    def open(self, workdir: Path) -> None:
        """Search the index a previous `build` left in `workdir`, checking the
        --request overrides once (a bad value is a setting error, not 1,000
        failed queries)."""
        from search.searcher import Searcher

        self._searcher = Searcher(workdir / "index", self.ranking)
        if self.request:
            try:
                self._search("benchmark", K)
            except Exception as exc:  # noqa: BLE001 - any refusal is the setting's fault
                shown = ", ".join(f"{k}={v!r}" for k, v in self.request.items())
                raise SettingError(f"--request {shown}: the engine refused it: {exc}") from None

    def _search(self, text: str, k: int) -> list[str]:
        from search.searcher import SearchRequest

        if self._fixed is None:
            # nothing but the top k: no facets, no highlights (where this revision has those fields)
            names = {f.name for f in dataclasses.fields(SearchRequest)}
            self._fixed = {n: v for n, v in (("facets", ()), ("highlight", False)) if n in names}
        request = SearchRequest(text, **{**self._fixed, **self.request, "limit": k})
        return [h.path for h in self._searcher.search(request).hits]

    def search(self, query: str, k: int = K) -> list[str]:
        """Top-k paths."""
        return self._search(query, k)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None


@dataclass
class Built:
    """One engine's index in this run."""

    label: str  # ours / fts5 / tantivy
    engine: Any = None
    seconds: float = 0.0
    reused: bool = False
    error: str = ""  # why it is missing (e.g. tantivy not installed)


def make_engine(label: str, roots: Sequence[Path], ranking: Any = None,
                request: Mapping[str, Any] | None = None) -> Any:
    """A new, unbuilt engine (tantivy's raises ImportError when it is missing)."""
    if label == "ours":
        return OurEngine(roots, ranking, request)
    if label == "fts5":
        return fts5_peer()
    if label == "tantivy":
        return tantivy_peer()
    raise ValueError(f"unknown engine {label!r}")


def prepare(label: str, make: Callable[[], Any], docs: Callable[[], list[PeerDoc]],
            workdir: Path, key: str | None, rebuild: bool = False) -> Built:
    """Build an engine's index in `workdir`, or reuse the one cached under `key`."""
    built = Built(label)
    try:
        engine = make()
    except ImportError as exc:
        built.error = str(exc)
        return built
    folder = workdir / (f"{label}-{key}" if key else label)
    done = folder / "COMPLETE"
    started = time.perf_counter()
    if key and done.is_file() and not rebuild:
        engine.open(folder)
        built.reused = True
    else:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        engine.build(docs(), folder)
        done.write_text("built\n", encoding="utf-8")
    built.seconds = time.perf_counter() - started
    built.engine = engine
    return built


@dataclass
class Config:
    """One engine configuration that answers queries: ours, or a peer in one mode."""

    name: str
    label: str  # the engine it belongs to
    search: Callable[[str, int], list[str]]


def configurations(built: Sequence[Built]) -> list[Config]:
    """Ours, then each peer in `and` and `or` mode, with our field weights
    and with equal weights (its own default), all sharing one index."""
    from peers import EQUAL_WEIGHTS

    out: list[Config] = []
    for b in built:
        if b.engine is None:
            continue
        if b.label == "ours":
            out.append(Config(b.engine.name, b.label, b.engine.search))
            continue
        for mode in ("and", "or"):
            peer: Peer = b.engine.with_mode(mode)
            out.append(Config(peer.name, b.label, peer.search))
            if peer.weights != EQUAL_WEIGHTS:
                equal = peer.with_weights(EQUAL_WEIGHTS, "equal weights")
                out.append(Config(equal.name, b.label, equal.search))
    return out


@dataclass
class SetRun:
    """One configuration's answers to one query set."""

    config: str
    rankings: list[list[str]] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)  # mean ms/query of each timed pass
    errors: int = 0
    first_error: str = ""

    @property
    def ms_median(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0


def _answer(config: Config, texts: Sequence[str], k: int, run: SetRun, keep: bool) -> float:
    """One pass over `texts`: mean ms/query; rankings kept when `keep`. A query
    that raises gets an empty ranking and is counted, so one bad answer does
    not lose the whole measurement."""
    started = time.perf_counter()
    for text in texts:
        try:
            ranked = config.search(text, k)
        except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
            ranked = []
            if keep:
                run.errors += 1
                run.first_error = run.first_error or f"{text!r}: {type(exc).__name__}: {exc}"
        if keep:
            run.rankings.append(ranked)
    return (time.perf_counter() - started) * 1000 / max(len(texts), 1)


def answer_set(configs: Sequence[Config], texts: Sequence[str], k: int = K, repeat: int = 1
               ) -> list[SetRun]:
    """Every configuration's top-k for every text. Pass 1 gives the rankings
    and a timing; further passes only time. Passes rotate the configuration
    order so a slow spell of a noisy machine does not land on one engine."""
    runs = [SetRun(c.name) for c in configs]
    for r in range(max(repeat, 1)):
        order = list(range(len(configs)))
        order = order[r % len(order):] + order[: r % len(order)] if order else []
        for i in order:
            runs[i].ms.append(_answer(configs[i], texts, k, runs[i], keep=r == 0))
    return runs


def warm_up(configs: Sequence[Config], texts: Sequence[str], n: int = 30) -> None:
    """Answer a few queries untimed, so loading an index's data on first use
    (a reused index starts cold) is not charged to the first set timed."""
    for config in configs:
        for text in texts[:n]:
            try:
                config.search(text, K)
            except Exception:  # noqa: BLE001 - counted when the set is answered
                continue


def corpus_cache_key(corpus_key: str) -> str:
    """The key of the parsed-corpus cache: the files, and the code that parses them."""
    import search

    h = hashlib.sha256(corpus_key.encode())
    h.update((Path(search.__file__).resolve().parent / "documents.py").read_bytes())
    h.update((Path(__file__).resolve().parent / "relevance_sets.py").read_bytes())
    return h.hexdigest()[:16]


def close_all(built: Iterable[Built]) -> None:
    for b in built:
        close = getattr(b.engine, "close", None)
        if close is not None:
            close()


def engine_revision() -> str:
    """Which `search` package is measured: its folder and git revision."""
    import subprocess

    import search

    folder = Path(search.__file__).resolve().parent
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        head = git("rev-parse", "--short", "HEAD")
        last = git("log", "-1", "--format=%h", "--", ".")  # the commit that last changed search/
        dirty = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return f"{folder} (not a git checkout)"
    return (f"{folder} at git {head} (search/ last changed in {last})"
            + (" with uncommitted changes" if dirty else ""))
