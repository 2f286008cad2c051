"""Fixtures: tiny corpora written to temp folders, and built indexes."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SHARED_AZURE = SHARED_CORPUS.parent / "corpus-azure"


def front_matter(**fields: Any) -> str:
    """Front matter text in the corpus's style (hand-written YAML)."""
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {v}" for k, v in value.items()]
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"  - {v}" for v in value]
        else:
            lines.append(f"{key}: {value}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def article_text(title: str, excerpt: str = "", provider: str = "Example News",
                 published: str | None = "2022-04-18T10:00:00Z", topics: list[str] | None = None,
                 quality: int | None = 50, url: str | None = None, **extra: Any) -> str:
    fields: dict[str, Any] = {"category": "news", "title": _q(title)}
    if excerpt:
        fields["excerpt"] = _q(excerpt)
    if published is not None:
        fields["publishedDateTime"] = published
    if url:
        fields["webUrl"] = _q(url)
    fields["type"] = "article"
    if quality is not None:
        fields["quality"] = quality
    if provider:
        fields["provider"] = {"name": _q(provider), "domain": "example.com"}
    fields["topics"] = topics if topics is not None else ["AI"]
    fields.update(extra)
    return front_matter(**fields)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Corpus:
    """A corpus folder that tests write articles into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(self, rel: str, title: str = "", **kw: Any) -> Path:
        return self.write(rel, article_text(title, **kw))

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def touch_later(self, path: Path, seconds: int = 5) -> None:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return Corpus(tmp_path / "corpus")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def news(corpus: Corpus) -> Corpus:
    """A small, varied corpus with known answers."""
    corpus.add("_news/2022-04-18-ukraine.md",
               "Ukraine uses facial recognition to identify dead Russian soldiers",
               excerpt="Officials use software from a US company to scan faces.",
               provider="Reuters", published="2022-04-18T22:59:00Z",
               topics=["Computer Vision", "AI"], quality=79,
               url="https://example.com/ukraine")
    corpus.add("_news/2021-03-01-portals.md", "Power Apps portals FAQs",
               excerpt="Answers to common questions about Power Apps portals.",
               provider="Microsoft", published="2021-03-01T08:00:00Z",
               topics=["Power Apps", "Portals"], quality=120)
    corpus.add("_news/2021-05-02-mobile.md", "Create mobile apps with Power Apps",
               excerpt="Build apps for phones without code.",
               provider="Microsoft", published="2021-05-02T08:00:00Z",
               topics=["Power Apps"], quality=90)
    corpus.add("_news/2020-01-10-chips.md", "New AI chips speed up machine learning",
               excerpt="Chip makers race to build faster hardware for neural networks.",
               provider="The Guardian", published="2020-01-10T12:00:00Z",
               topics=["AI", "Hardware"], quality=60)
    corpus.add("_news/2023-07-07-robots.md", "Robots learn to walk in a day",
               excerpt="Reinforcement learning lets robots walk after hours of practice.",
               provider="the guardian", published="2023-07-07T12:00:00Z",
               topics=["AI", "Robotics"], quality=None)
    corpus.add("archive/2019-12-20-nodate.md", "Facebook removes fake accounts",
               excerpt="Accounts used AI generated profile photos.",
               provider="BBC", published=None, topics=["AI"], quality=40)
    return corpus


@pytest.fixture
def built(news: Corpus, index_dir: Path) -> Path:
    from search.indexer import build_index

    build_index(index_dir, [news.root])
    return index_dir


def requires_shared_corpus() -> Any:
    return pytest.mark.skipif(not SHARED_CORPUS.is_dir(),
                              reason=f"shared corpus not found at {SHARED_CORPUS}")


def requires_azure_corpus() -> Any:
    return pytest.mark.skipif(not SHARED_AZURE.is_dir(),
                              reason=f"azure corpus not found at {SHARED_AZURE}")


@pytest.fixture(scope="session")
def azure_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of ../shared/corpus-azure (4,958 articles), built once per
    test session (about 30 s): for the few integration tests that need a
    whole real site."""
    if not SHARED_AZURE.is_dir():
        pytest.skip(f"azure corpus not found at {SHARED_AZURE}")
    from search.indexer import build_index

    index = tmp_path_factory.mktemp("azure") / "index"
    report = build_index(index, [SHARED_AZURE])
    assert report.documents > 4_900
    return index


REPO = Path(__file__).resolve().parents[1]


def load_generator() -> ModuleType:
    """bench/gen_corpus.py as a module (bench/ is a folder of scripts, not a package)."""
    name = "bench_gen_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "gen_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance, written out (insert, delete,
    substitute, or transpose two neighbours: one edit each)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]
