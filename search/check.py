"""`search check`: verify an index, file by file, and optionally its corpus.

What is checked, in order:

* the metadata file: readable, of the current format, no interrupted run;
* the table of contents: readable;
* every segment: its files against the checksums written when it was
  committed (`search.durable`), then readable (every stored document, every
  term of the term dictionary) with document counts that agree (the TOC's,
  the columns', the metadata's), and no document indexed twice;
* every posting sidecar: its checksums (header and every term), and that it
  agrees with its segment (document count, the terms it should hold and their
  document frequencies);
* the stories: the story index is readable and describes the current
  generation, and the current generation's story file has every document;
* with `corpus=True`, that every indexed file still exists unchanged and
  every corpus file is indexed (or cannot be).

Findings are sorted into kinds: `damaged` (an index file is not what was
written, or disagrees with another: rebuild with `search index --full`),
`outdated` (the corpus moved on or a run did not finish: `search index`
catches up) and `note` (harmless: a missing sidecar, files an interrupted run
left behind). The report's status is the exit code: 0 healthy, 1 damaged or
outdated, 2 unusable (the index cannot be opened at all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store import META_FILENAME, REBUILD_HINT, IndexMeta, toc_file

DAMAGED = "damaged"
OUTDATED = "outdated"
NOTE = "note"
UPDATE_HINT = "run `search index` to bring the index up to date"


@dataclass(frozen=True)
class Finding:
    """One problem, about one file (an index file or a corpus file)."""

    path: str
    problem: str
    kind: str = DAMAGED
    #: damage that `search index` repairs by itself (a derived file: a posting sidecar)
    repairable: bool = False


@dataclass
class CheckReport:
    """What `check_index` found."""

    index_dir: str
    findings: list[Finding] = field(default_factory=list)
    #: the index cannot be opened at all (no index, unreadable TOC or metadata)
    unusable: bool = False
    segments: int = 0
    documents: int = 0
    sidecars: int = 0  # verified
    corpus_files: int | None = None  # checked against the corpus (None: not asked)

    def add(self, path: Path | str, problem: str, kind: str = DAMAGED,
            repairable: bool = False) -> None:
        self.findings.append(Finding(str(path), problem, kind, repairable))

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def status(self) -> int:
        """0 healthy, 1 damaged or outdated, 2 unusable."""
        if self.unusable:
            return 2
        return 1 if self.of_kind(DAMAGED) or self.of_kind(OUTDATED) else 0

    @property
    def remedy(self) -> str | None:
        if self.unusable or any(not f.repairable for f in self.of_kind(DAMAGED)):
            return REBUILD_HINT
        if self.of_kind(DAMAGED):
            return "run `search index` to rewrite the damaged posting sidecars"
        if self.of_kind(OUTDATED):
            return UPDATE_HINT
        return None


def check_index(index_dir: Path, corpus: bool = False) -> CheckReport:
    """Verify the index at `index_dir` (see the module docstring); never
    raises for what it finds, only reports it."""
    from .store import index_exists

    report = CheckReport(str(index_dir))
    if not index_dir.is_dir() or not index_exists(index_dir):
        report.add(index_dir, "no index here; build one with `search index CORPUS_DIR`")
        report.unusable = True
        return report
    meta = _check_meta(index_dir, report)
    ix = _open_toc(index_dir, report)
    if ix is None or report.unusable:
        return report
    _check_segments(index_dir, ix, report)
    damaged = bool(report.of_kind(DAMAGED))
    if meta is not None and meta.run is None and not damaged and meta.documents != report.documents:
        report.add(index_dir / META_FILENAME,
                   f"records {meta.documents} documents, the index holds {report.documents}")
    if corpus and meta is not None:
        if damaged:
            report.add(index_dir, "corpus not compared: the index is damaged", NOTE)
        else:
            try:
                with ix.reader() as reader:
                    _check_corpus(reader, meta.roots, report)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
                report.add(index_dir, f"unreadable ({type(exc).__name__}: {_short(exc)})")
    _check_stories(index_dir, ix, report)
    _check_leftovers(index_dir, ix, report)
    return report


def _check_stories(index_dir: Path, ix: Any, report: CheckReport) -> None:
    """The story index and the current generation's stories (derived files:
    `search index` rebuilds what is missing, outdated or damaged)."""
    from .errors import IndexCorruptError, IndexIncompatibleError
    from .stories import StoryIndex
    from .story_store import STORY_FILE, labels_path, load_labels

    try:
        with ix.reader() as reader:
            generation, n = int(reader.generation() or 0), reader.doc_count_all()
    except Exception:  # noqa: BLE001 - already reported with the segments
        return
    path = index_dir / STORY_FILE
    if not path.is_file():
        report.add(path, "missing: the index has no stories", OUTDATED)
        return
    try:
        stories = StoryIndex.load(path)
    except (IndexCorruptError, IndexIncompatibleError) as exc:
        report.add(path, str(exc).split(": ", 1)[-1], DAMAGED, repairable=True)
        return
    if stories.generation != generation:
        report.add(path, "describes an earlier index generation (a run did not finish)", OUTDATED)
    elif load_labels(index_dir, generation, n) is None:
        report.add(labels_path(index_dir, generation), "missing or unreadable", DAMAGED, repairable=True)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _check_meta(index_dir: Path, report: CheckReport) -> IndexMeta | None:
    from .schema import SCHEMA_VERSION
    from .store import incomplete_notice, read_meta

    path = index_dir / META_FILENAME
    meta = read_meta(index_dir)
    if meta is None:
        report.add(path, "missing or unreadable (not written by this version of search?)")
        report.unusable = True
        return None
    if meta.schema_version != SCHEMA_VERSION:
        report.add(path, f"index format {meta.schema_version}, this version of search reads "
                         f"format {SCHEMA_VERSION}")
        report.unusable = True
    notice = incomplete_notice(meta)
    if notice:
        report.add(path, notice, OUTDATED)
    return meta


def _open_toc(index_dir: Path, report: CheckReport) -> Any:
    from . import whoosh_adapter as wa

    try:
        ix = wa.open_dir(str(index_dir))
        _, segments = wa.current_toc(ix)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        report.add(toc_file(index_dir) or index_dir, f"table of contents unreadable ({type(exc).__name__}: "
                                         f"{_short(exc)})")
        report.unusable = True
        return None
    report.segments = len(segments)
    return ix


# ----------------------------------------------------------------- segments


def _check_segments(index_dir: Path, ix: Any, report: CheckReport) -> None:
    from . import whoosh_adapter as wa

    _, segments = wa.current_toc(ix)
    uids: Counter[str] = Counter()
    for seg in segments:
        main_file = index_dir / wa.segment_filename(seg, ".seg")
        if not _checksums_ok(index_dir, wa.segment_id(seg), main_file, report):
            continue  # reading a file known to be damaged only adds noise
        try:
            leaf = wa.segment_reader(ix, seg)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
            report.add(main_file, f"unreadable ({type(exc).__name__}: {_short(exc)})")
            continue
        try:
            if _segment_readable(leaf, seg, main_file, report):
                report.documents += leaf.doc_count()
                uids.update(_live_uids(leaf))
                _check_sidecar(index_dir, leaf, seg, report)
        finally:
            leaf.close()
    doubled = [uid for uid, n in uids.items() if n > 1]
    if doubled:
        report.add(index_dir, f"{len(doubled)} document(s) indexed twice, e.g. "
                              f"{doubled[0].replace(chr(31), '/')}")


def _checksums_ok(index_dir: Path, segment_id: str, main_file: Path, report: CheckReport) -> bool:
    from .durable import read_sums, sum_filename, verify_files

    sum_path = index_dir / sum_filename(segment_id)
    try:
        sums = read_sums(index_dir, segment_id)
    except ValueError as exc:
        report.add(sum_path, str(exc))
        return False
    if sums is None:
        report.add(main_file, f"segment has no checksum file ({sum_path.name}): it cannot be "
                              "verified (written by an older version of search?)")
        return True
    bad = verify_files(index_dir, sums)
    if bad is not None:
        report.add(index_dir / bad[0], bad[1])
        return False
    return True


def _segment_readable(leaf: Any, seg: Any, main_file: Path, report: CheckReport) -> bool:
    """Read every stored document and every term; check that the counts agree."""
    from . import whoosh_adapter as wa

    expected = seg.doc_count_all()
    try:
        uid_count = len(list(leaf.column_reader("uid"))) if expected else 0
        if uid_count != expected:
            report.add(main_file, f"the TOC lists {expected} documents, its id column holds {uid_count}")
            return False
        dead = wa.deleted_docs(leaf)
        if len(dead) and (dead.min() < 0 or dead.max() >= expected):
            report.add(main_file, "deletion list refers to documents the segment does not have")
            return False
        stored = sum(1 for _ in leaf.iter_docs()) if expected else 0
        if stored != expected - len(dead):
            report.add(main_file, f"{expected - len(dead)} live documents, {stored} stored")
            return False
        for fieldname in leaf.indexed_field_names():
            for _ in wa.terms_with_info(leaf, fieldname):
                pass
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whoosh raises many kinds on damage
        report.add(main_file, f"unreadable ({type(exc).__name__}: {_short(exc)})")
        return False
    return True


def _live_uids(leaf: Any) -> Iterator[str]:
    if leaf.doc_count_all() == 0:
        return
    uids = list(leaf.column_reader("uid"))
    for docnum in leaf.all_doc_ids():
        uid = uids[docnum]
        yield uid.decode() if isinstance(uid, bytes) else uid


def _check_sidecar(index_dir: Path, leaf: Any, seg: Any, report: CheckReport) -> None:
    from .fastpostings import SidecarError, is_current, load_sidecar, sidecar_path, sidecar_terms, term_key

    path = sidecar_path(index_dir, seg)
    if not path.exists() or not is_current(path):
        state = "missing" if not path.exists() else "of an older format"
        report.add(path, f"posting sidecar {state}: queries read the segment's own postings "
                         "(the next `search index` writes it)", NOTE)
        return
    try:
        side = load_sidecar(index_dir, leaf)
    except SidecarError as exc:
        report.add(path, str(exc), repairable=True)
        return
    if side is None:
        return
    bad = side.verify()
    if bad:
        report.add(path, f"checksum mismatch in {len(bad)} posting list(s), e.g. "
                         f"{bad[0].decode('utf-8', 'replace').replace(chr(0), ':')}", repairable=True)
        return
    wanted = {term_key(f, btext): df for f, btext, df in sidecar_terms(leaf)}
    have = {key: side.doc_frequency(key) for key in side.term_keys()}
    if have != wanted:
        differ = sorted(set(have.items()) ^ set(wanted.items()))
        report.add(path, f"disagrees with its segment on {len(differ)} posting list(s), e.g. "
                         f"{differ[0][0].decode('utf-8', 'replace').replace(chr(0), ':')}")
        # (not repairable by `search index`: a sidecar with intact checksums is kept)
        return
    report.sidecars += 1


def _check_leftovers(index_dir: Path, ix: Any, report: CheckReport) -> None:
    """Files no current segment or TOC owns: left by an interrupted run."""
    from . import whoosh_adapter as wa
    from .store import INDEX_NAME, LOCK_FILENAME, VERIFIED_FILENAME

    try:
        generation, segments = wa.current_toc(ix)
        names = sorted(p.name for p in index_dir.iterdir())
    except Exception:  # noqa: BLE001 - already reported as unreadable
        return
    live = {wa.segment_id(seg) for seg in segments}
    toc = f"_{INDEX_NAME}_{generation}.toc"
    from .story_store import STORY_FILE, labels_path

    current = (STORY_FILE, labels_path(index_dir, generation).name)
    for name in names:
        if (name in (toc, LOCK_FILENAME, META_FILENAME, VERIFIED_FILENAME, *current)
                or name.split(".")[0] in live):
            continue
        report.add(index_dir / name, "not part of the index (left by an interrupted run; the next "
                                     "`search index` removes it)", NOTE)


# ----------------------------------------------------------------- corpus


def _check_corpus(reader: Any, roots: list[str], report: CheckReport) -> None:
    """Every indexed file still there unchanged; every corpus file indexed."""
    from .documents import parse_article, read_capped, walk_corpus
    from .errors import SkipFile
    from .indexer import content_digest, indexed_stamps, parse_stamp
    from .schema import MULTI_SEP

    stamps = indexed_stamps(reader)
    by_root: dict[str, dict[str, bytes]] = {}
    for uid, (_, st) in stamps.items():
        root, rel = uid.split(MULTI_SEP, 1)
        by_root.setdefault(root, {})[rel] = st
    checked = 0
    for root in roots:
        indexed = by_root.get(root, {})
        if not Path(root).is_dir():
            report.add(root, f"corpus folder no longer exists ({len(indexed)} articles indexed "
                             "from it)", OUTDATED)
            continue
        found = {}
        for cf in walk_corpus(Path(root)):
            found[cf.relpath] = cf
        for rel, st in sorted(indexed.items()):
            checked += 1
            cf = found.get(rel)
            path = Path(root) / rel
            if cf is None:
                report.add(path, "indexed, but the file is gone", OUTDATED)
                continue
            size, mtime, digest = parse_stamp(st)
            if (size, mtime) == (cf.size, cf.mtime_ns):
                continue
            try:
                data, _ = read_capped(cf.abspath)
            except SkipFile as exc:
                report.add(path, f"indexed, but now unreadable: {exc}", OUTDATED)
                continue
            if content_digest(data) != digest:
                report.add(path, "changed since it was indexed", OUTDATED)
        for rel in sorted(found.keys() - indexed.keys()):
            checked += 1
            path = Path(root) / rel
            try:
                data, _ = read_capped(found[rel].abspath)
                parse_article(rel, data)
            except SkipFile as exc:
                report.add(path, f"not indexed: it cannot be ({exc})", NOTE)
                continue
            report.add(path, "not indexed", OUTDATED)
    for root in sorted(by_root.keys() - set(roots)):
        report.add(root, f"{len(by_root[root])} articles of a folder the last run did not name "
                         "(`search index --prune` removes them)", NOTE)
    report.corpus_files = checked
