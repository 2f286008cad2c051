"""`search check`, checksums, and queries on damaged indexes.

Damage is a zeroed 4 KB block (a torn write) in the middle of an index file.
`search check` must name the file and exit non-zero; a query must then give
the right total or exit 2, never a wrong total.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_CORPUS, Corpus, requires_shared_corpus

from search.cli import main
from search.env import Env
from search.indexer import build_index

BLOCK = 4096
QUERIES = ("harbour", "glacier report", "*", "topic:harbours", "quartz OR violin")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdin=io.StringIO(""), stdout=out, stderr=err,
                                environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def zero_middle_block(path: Path) -> None:
    """Overwrite the 4 KB block in the middle of a file with zeros, in place."""
    size = path.stat().st_size
    start = max(0, (size // 2) // BLOCK * BLOCK)
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(b"\0" * min(BLOCK, size - start))


def totals(index: Path, queries: tuple[str, ...] = QUERIES) -> dict[str, int]:
    out = {}
    for q in queries:
        code, body, err = cli("query", q, "--index", str(index), "--format", "json", "--limit", "0")
        assert code in (0, 1), err
        out[q] = json.loads(body)["total"]
    return out


@pytest.fixture
def harbour(corpus: Corpus, index_dir: Path) -> Path:
    """300 articles sharing words, so that the sidecar holds long posting lists."""
    words = ("quartz", "violin", "lantern", "orchard", "comet")
    for i in range(300):
        corpus.add(f"_news/2022-01-{i % 28 + 1:02d}-story-{i}.md",
                   f"Harbour story {i} about the {words[i % 5]}",
                   excerpt=f"The glacier report number {i} on the {words[(i * 3) % 5]}.",
                   topics=["Harbours", f"Topic {i % 3}"])
    build_index(index_dir, [corpus.root], workers=1)
    return index_dir


def only(index: Path, pattern: str) -> Path:
    found = list(index.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_fresh_index_passes(harbour: Path):
    code, out, err = cli("check", "--index", str(harbour))
    assert code == 0, out + err
    assert "index ok: 1 segment(s) and 1 posting sidecar(s) verified, 300 documents" in out
    code, out, _ = cli("check", "--index", str(harbour), "--corpus", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "ok" and report["corpus_files_checked"] == 300
    assert report["findings"] == [] and report["remedy"] is None


def test_zeroed_block_in_segment_is_named_and_queries_refuse(harbour: Path):
    seg = only(harbour, "*.seg")
    zero_middle_block(seg)
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 1
    assert f"damaged: {seg}: checksum mismatch" in out
    assert "search index --full" in out.splitlines()[-1]
    for q in QUERIES:
        code, body, err = cli("query", q, "--index", str(harbour))
        assert code == 2 and body == "", q
        assert str(seg) in err and "--full" in err and err.count("\n") == 1


def test_zeroed_block_in_sidecar_is_named_and_queries_stay_exact(harbour: Path):
    want = totals(harbour)
    side = only(harbour, "*.fpost")
    zero_middle_block(side)
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 1 and f"damaged: {side}: checksum mismatch in" in out
    assert "run `search index` to rewrite the damaged posting sidecars" in out.splitlines()[-1]
    assert totals(harbour) == want
    code, _, err = cli("query", "harbour", "--index", str(harbour), "--limit", "1")
    assert code == 0 and str(side) in err and "damaged posting list" in err
    assert cli("index", "--index", str(harbour), "-q")[0] == 0  # a derived file: rewritten
    assert cli("check", "--index", str(harbour))[0] == 0
    code, _, err = cli("query", "harbour", "--index", str(harbour), "--limit", "1")
    assert code == 0 and err == ""


def test_sidecar_with_a_damaged_header_is_ignored_with_a_warning(harbour: Path):
    want = totals(harbour)
    side = only(harbour, "*.fpost")
    data = bytearray(side.read_bytes())
    data[40] ^= 0xFF  # inside the JSON header
    side.write_bytes(bytes(data))
    assert totals(harbour) == want
    code, _, err = cli("query", "harbour", "--index", str(harbour), "--format", "json")
    assert code == 0
    warning = json.loads(err.splitlines()[0])["warning"]
    assert str(side) in warning["message"] and "header checksum mismatch" in warning["message"]
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 1 and f"damaged: {side}: header checksum mismatch" in out


def test_a_sidecar_that_disagrees_with_its_segment_is_reported(harbour: Path, tmp_path: Path,
                                                               corpus: Corpus):
    """A well-formed sidecar of another segment (same document count) is caught
    by comparing it with the segment, not by its checksums."""
    other = tmp_path / "other"
    for path in corpus.root.rglob("*.md"):
        path.write_text(path.read_text().replace("Harbour", "Lantern"))
    build_index(other, [corpus.root], workers=1)
    side = only(harbour, "*.fpost")
    shutil.copyfile(only(other, "*.fpost"), side)
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 1 and f"damaged: {side}: disagrees with its segment" in out


def test_missing_checksum_file_and_old_sidecar(harbour: Path):
    only(harbour, "*.sum").unlink()
    side = only(harbour, "*.fpost")
    side.write_bytes(b"FPOST1\n" + side.read_bytes()[7:])  # the previous format
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 1
    assert "has no checksum file" in out and "of an older format" in out
    code, _, err = cli("index", "--index", str(harbour), "-q")  # rewrites the sidecar
    assert code == 0, err
    assert side.read_bytes().startswith(b"FPOST2\n")


def test_unusable_index_exits_2(harbour: Path, tmp_path: Path):
    code, out, _ = cli("check", "--index", str(tmp_path / "nowhere"))
    assert code == 2 and "no index here" in out
    (harbour / "search-meta.json").write_text("{not json")
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 2 and "search-meta.json: missing or unreadable" in out
    assert "index unusable" in out.splitlines()[-1]


def test_damaged_toc_is_unusable(harbour: Path):
    toc = only(harbour, "_MAIN_*.toc")
    toc.write_bytes(b"\0" * toc.stat().st_size)
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 2 and f"{toc}: table of contents unreadable" in out


def test_corpus_drift_is_reported_and_index_catches_up(harbour: Path, corpus: Corpus):
    files = sorted(corpus.root.rglob("*.md"))
    files[0].unlink()
    files[1].write_text(files[1].read_text().replace("glacier", "moraine"))
    corpus.touch_later(files[1])
    corpus.touch_later(files[2])  # touched, same content: fine
    corpus.add("_news/new.md", "A new harbour story")
    corpus.write("_news/broken.md", "no front matter at all")
    code, out, _ = cli("check", "--index", str(harbour), "--corpus")
    assert code == 1
    assert f"outdated: {files[0]}: indexed, but the file is gone" in out
    assert f"outdated: {files[1]}: changed since it was indexed" in out
    assert f"outdated: {corpus.root / '_news/new.md'}: not indexed" in out
    assert f"note: {corpus.root / '_news/broken.md'}: not indexed: it cannot be" in out
    assert str(files[2]) not in out
    assert "run `search index`" in out.splitlines()[-1]
    assert cli("index", "--index", str(harbour), "-q")[0] == 0
    code, out, _ = cli("check", "--index", str(harbour), "--corpus")
    assert code == 0, out


def test_segment_damage_after_open_is_caught_by_a_long_lived_searcher(harbour: Path,
                                                                      corpus: Corpus):
    """The REPL and --batch keep one Searcher: segments committed while it is
    open are verified when it moves to the new generation."""
    from search.errors import IndexCorruptError
    from search.searcher import Searcher, SearchRequest

    with Searcher(harbour) as s:
        assert s.search(SearchRequest("harbour")).total == 300
        corpus.add("_news/late.md", "A late harbour story")
        build_index(harbour, [corpus.root], workers=1)
        newest = max(harbour.glob("*.seg"), key=lambda p: p.stat().st_mtime_ns)
        zero_middle_block(newest)
        with pytest.raises(IndexCorruptError, match=newest.name):
            s.search(SearchRequest("harbour"))


@requires_shared_corpus()
@pytest.mark.parametrize("pattern", ["*.seg", "*.fpost"])
def test_shared_corpus_torn_block(tmp_path: Path, pattern: str):
    """The acceptance run: a zeroed 4 KB block in the middle of the segment or
    of the sidecar of `../shared/corpus`; `power` keeps its total or exits 2."""
    index = tmp_path / "index"
    build_index(index, [SHARED_CORPUS])
    want = totals(index, ("power", "cloud data"))
    assert want["power"] > 100
    victim = max(index.glob(pattern), key=lambda p: p.stat().st_size)
    zero_middle_block(victim)
    code, out, _ = cli("check", "--index", str(index))
    assert code == 1 and str(victim) in out
    for q in want:
        code, body, err = cli("query", q, "--index", str(index), "--format", "json", "--limit", "0")
        if code == 2:
            assert str(victim) in err
        else:
            assert json.loads(body)["total"] == want[q]
    if pattern == "*.seg":
        assert code == 2


def test_check_output_names_the_index_and_escapes(tmp_path: Path):
    weird = tmp_path / "in\x1bdex"
    os.makedirs(weird)
    code, out, _ = cli("check", "--index", str(weird))
    assert code == 2 and "\x1b" not in out and "\\x1b" in out


def test_a_verified_segment_is_not_read_again_until_it_changes(harbour: Path, monkeypatch):
    from search import durable
    from search.store import VERIFIED_FILENAME

    reads: list[str] = []
    real = durable.file_checksum

    def counting(path):  # type: ignore[no-untyped-def]
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(durable, "file_checksum", counting)
    want = totals(harbour, ("harbour",))
    assert reads and (harbour / VERIFIED_FILENAME).exists()  # the first query verified and recorded
    reads.clear()
    assert totals(harbour, ("harbour",)) == want
    assert reads == []  # unchanged files: the record stands
    seg = only(harbour, "*.seg")
    zero_middle_block(seg)  # same size, new ctime
    code, body, err = cli("query", "harbour", "--index", str(harbour))
    assert code == 2 and body == "" and str(seg) in err
    assert seg.name in reads


@pytest.mark.parametrize("record", [b"{not json", b"[1, 2]", b'{"x": {"a": [1]}}'])
def test_a_garbled_verification_record_only_means_verifying_again(harbour: Path, record: bytes):
    from search.store import VERIFIED_FILENAME

    want = totals(harbour, ("harbour",))
    (harbour / VERIFIED_FILENAME).write_bytes(record)
    assert totals(harbour, ("harbour",)) == want
    assert json.loads((harbour / VERIFIED_FILENAME).read_bytes())  # rewritten
    code, out, _ = cli("check", "--index", str(harbour))
    assert code == 0, out
    zero_middle_block(only(harbour, "*.seg"))
    (harbour / VERIFIED_FILENAME).write_bytes(record)
    code, _, err = cli("query", "harbour", "--index", str(harbour))
    assert code == 2 and "damaged" in err
