"""Hostile files and hostile queries, end to end through the command line.

Files: every kind of broken or odd file a messy real folder holds, written by
the tests (never taken from the real corpus). Odd-but-valid files are indexed;
broken ones are skipped with one `path: reason` line on stderr; nothing in a
file executes; time and memory stay bounded (the run is made in a child
process under an address-space limit).

Queries: empty, whitespace, huge, unbalanced, stray operators, unknown fields,
bad ranges and dates, regex-looking, any Unicode. Each gives results or a
one-line message with exit 1 or 2, never a traceback, within a bounded time.

Terminal safety: corpus text shown by the text output and the REPL never
carries raw control characters.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from search.cli import main
from search.env import Env
from search.output import escape_control

#: any control character a terminal acts on (C0 except newline, DEL, C1) and bidi overrides
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: our own colour sequences, the only escapes the text output may contain
OUR_SGR = re.compile(r"\x1b\[[0-9;]*m")
#: wall-clock bound for one query (generous for a loaded CI machine; typical: milliseconds)
QUERY_SECONDS = 10.0


def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdin=io.StringIO(stdin), stdout=out, stderr=err,
                                environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def fm(**fields: str) -> str:
    """Front matter from already-YAML-formatted values."""
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n\nBody.\n"


# ----------------------------------------------------------------- the file zoo

MERGE_BOMB = ("---\ntitle: merge bomb\na0: &a0 {k0: 1, k1: 2}\n"
              + "".join(f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}]}}\n" for i in range(1, 40))
              + "---\n")
#: the same bomb reaching a key the index reads
MERGE_BOMB_READ = MERGE_BOMB.replace("\n---\n", "\nprovider: {<<: [*a39, *a39]}\n---\n")
LAUGHS = ("---\ntitle: laughs\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
          + "".join(f"b{i}: &b{i} [{', '.join([f'*{p}'] * 9)}]\n"
                    for i, p in enumerate(["a"] + [f"b{j}" for j in range(9)]))
          + "topics: *b9\nexcerpt: *b9\n---\n")

#: relative path → (text or bytes, expectation). An expectation is ("indexed",
#: title prefix) or ("skipped", reason fragment).
ZOO: dict[str, tuple[str | bytes, tuple[str, str]]] = {
    "ok/plain.md": (fm(title="Plain article"), ("indexed", "Plain article")),
    "ok/crlf-bom.md": ("\ufeff" + fm(title="Windows article").replace("\n", "\r\n"),
                       ("indexed", "Windows article")),
    "ok/utf16-bom.md": (fm(title="Sixteen bits").encode("utf-16"), ("indexed", "Sixteen bits")),
    "ok/huge-title.md": (fm(title="Huge " + "x" * 200_000), ("indexed", "Huge xxx")),
    "ok/escapes.md": (fm(title=r'"Evil \e]0;pwned\a \e[2J \x9b31m \u202eevil\u202c \0 \b\r title"'),
                      ("indexed", "Evil")),
    "ok/odd-types.md": (fm(title="2022", quality="2147483648", excerpt="[not, a, string]",
                           publishedDateTime="9999-12-31T23:59:59-23:59", topics="42",
                           provider="[1, 2]"), ("indexed", "2022")),
    "ok/huge-numbers.md": (fm(title="Numbers", quality="9" * 5000, heat="1e99999",
                              publishedDateTime="0000-00-00"), ("indexed", "Numbers")),
    "ok/laughs.md": (LAUGHS, ("indexed", "laughs")),
    "ok/deep-but-fine.md": (fm(title="Nested", extra="[" * 150 + "]" * 150), ("indexed", "Nested")),
    "ok/folder.md/inside.md": (fm(title="Inside a folder named like a file"), ("indexed", "Inside")),
    "ok/new\nline \x1b[31m name.md": (fm(title="Odd file name"), ("indexed", "Odd file name")),
    "ok/emoji-🔥-ünïcödé.md": (fm(title="Ünïcödé 🔥 日本語 العربية"), ("indexed", "Ünïcödé")),
    "bad/invalid-yaml.md": (fm(title="[unclosed"), ("skipped", "invalid YAML")),
    "bad/tabs.md": ("---\ntitle: x\n\t- tab\n---\n", ("skipped", "invalid YAML")),
    # hostile YAML under keys the index never reads is never parsed: the article is fine
    "ok/merge-bomb-unread.md": (MERGE_BOMB, ("indexed", "merge bomb")),
    "ok/deep-nesting-unread.md": (fm(title="unread nesting", x="[" * 60_000 + "]" * 60_000),
                                  ("indexed", "unread nesting")),
    "ok/deep-block-unread.md": ("---\ntitle: unread block\nx:\n"
                                + "".join(" " * i + f"k{i}:\n" for i in range(300)) + "---\n",
                                ("indexed", "unread block")),
    "bad/merge-bomb.md": (MERGE_BOMB_READ, ("skipped", "merge keys expand")),
    "bad/deep-nesting.md": (fm(title="t", topics="[" * 60_000 + "]" * 60_000), ("skipped", "nesting")),
    "bad/deep-block.md": ("---\ntitle: t\nprovider:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300))
                          + "---\n", ("skipped", "nesting")),
    "bad/unsafe-apply.md": (fm(title="!!python/object/apply:os.system ['touch {marker}']"),
                            ("skipped", "unsafe or unsupported YAML tag")),
    "bad/unsafe-name.md": (fm(title="!!python/name:os.system"),
                           ("skipped", "unsafe or unsupported YAML tag")),
    "bad/unsafe-new.md": (fm(title="!!python/object/new:subprocess.Popen [['touch', '{marker}']]"),
                          ("skipped", "unsafe or unsupported YAML tag")),
    "bad/unhashable-key.md": ("---\ntitle: t\n? [a, b]\n: c\n---\n", ("skipped", "unsupported YAML")),
    "bad/surrogate-escape.md": (fm(title=r'"\ud800"'), ("skipped", "invalid YAML")),
    "bad/binary.md": (bytes(range(256)) * 40, ("skipped", "not valid UTF-8")),
    "bad/nul-bytes.md": (b"---\ntitle: x\x00\x00\n---\n", ("skipped", "binary file")),
    "bad/latin1.md": (fm(title="Título en español").encode("latin-1"), ("skipped", "not valid UTF-8")),
    "bad/utf16-no-bom.md": (fm(title="No BOM").encode("utf-16-le"), ("skipped", "binary file")),
    "bad/bad-utf16.md": (b"\xff\xfe" + b"\x00\xd8" + b"a\x00", ("skipped", "invalid UTF-16")),
    "bad/not-a-mapping.md": ("---\n- a\n- b\n---\n", ("skipped", "not a mapping")),
    "bad/scalar.md": ("---\njust text\n---\n", ("skipped", "not a mapping")),
    "bad/empty.md": ("", ("skipped", "no front matter")),
    "bad/only-dashes.md": ("---\n", ("skipped", "unterminated")),
    "bad/empty-front-matter.md": ("---\n---\n", ("skipped", "empty front matter")),
    "bad/no-title.md": (fm(title="[a, list]", provider="X"), ("skipped", "no title or excerpt")),
    "bad/huge-front-matter.md": ("---\ntitle: t\nx: [" + "1," * 200_000 + "1]\n---\n",
                                 ("skipped", "front matter too large")),
    "bad/name-\x1b[2J-with-escape.md": (fm(title="[oops"), ("skipped", "invalid YAML")),
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The zoo corpus indexed in a child process under a memory limit."""
    base = tmp_path_factory.mktemp("zoo")
    root, index, marker = base / "corpus", base / "index", base / "pwned"
    for relpath, (content, _) in ZOO.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content.replace("{marker}", str(marker)), "utf-8")
        else:
            path.write_bytes(content)
    # a 10 GB sparse file: skipped by its size, never read
    with open(root / "bad" / "too-large.md", "wb") as fh:
        fh.truncate(10 * 1024**3)
    # a file name that is not UTF-8
    non_utf8 = os.fsencode(root / "bad") + b"/caf\xe9.md"
    with open(non_utf8, "wb") as fh:
        fh.write(fm(title="Latin-1 name").encode())
    # things that are not files: never listed, never opened (a FIFO would block a read)
    os.mkfifo(root / "bad" / "fifo.md")
    os.symlink("/dev/zero", root / "bad" / "zero.md")
    os.symlink(root / "nowhere.md", root / "bad" / "dangling.md")
    os.symlink("selfloop.md", root / "bad" / "selfloop.md")  # a symlink to itself
    os.symlink(root, root / "ok" / "loop")  # a symlink loop
    os.symlink(root / "ok", root / "ok" / "folder.md" / "up")  # and another, deeper

    def limits() -> None:
        gib = 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (2 * gib, 2 * gib))

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "search", "index", str(root), "--index", str(index), "--format", "json"],
        capture_output=True, timeout=120, preexec_fn=limits,
        # one BLAS thread: the limit is on address space, which thread pools reserve lavishly
        env=dict(os.environ, HOME=str(base), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"),
    )
    return {"root": root, "index": index, "marker": marker, "result": result,
            "seconds": time.monotonic() - started}


def test_zoo_run_completes_quickly_within_memory(zoo: dict[str, object]):
    result = zoo["result"]
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 0, result.stderr
    assert zoo["seconds"] < 60  # typically 1-2 s: nothing explodes
    assert b"Traceback" not in result.stderr and b"MemoryError" not in result.stderr


def test_zoo_nothing_executes(zoo: dict[str, object]):
    marker = zoo["marker"]
    assert isinstance(marker, Path) and not marker.exists()


def _skip_lines(zoo: dict[str, object]) -> list[str]:
    result = zoo["result"]
    assert isinstance(result, subprocess.CompletedProcess)
    lines = result.stderr.decode("utf-8").splitlines()
    for line in lines:
        assert not RAW_CONTROL.search(line), repr(line)
    return lines


def _reason(lines: list[str], shown: str) -> str | None:
    """The reason on the one `path: reason` line for `shown`, or None."""
    found = [line[len(shown) + 2:] for line in lines if line.startswith(shown + ": ")]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_zoo_each_broken_file_is_one_skip_line(zoo: dict[str, object]):
    root = zoo["root"]
    assert isinstance(root, Path)
    lines = _skip_lines(zoo)
    for relpath, (_, (outcome, fragment)) in ZOO.items():
        reason = _reason(lines, escape_control(str(root.resolve() / relpath)))
        if outcome == "skipped":
            assert reason is not None and fragment in reason, (relpath, reason)
        else:
            assert reason is None, (relpath, reason)
    too_large = _reason(lines, str(root.resolve() / "bad" / "too-large.md"))
    assert too_large is not None and too_large.startswith("file too large (10737418240 bytes")
    assert _reason(lines, str(root.resolve() / "bad") + "/caf\\xe9.md") == "file name is not valid UTF-8"
    assert _reason(lines, str(root.resolve() / "bad" / "dangling.md")) == "broken symbolic link"
    loop = _reason(lines, str(root.resolve() / "bad" / "selfloop.md"))
    assert loop == "cannot read file (Too many levels of symbolic links)"
    expected_skips = sum(o == "skipped" for _, (o, _f) in ZOO.values()) + 4
    assert len(lines) == expected_skips


def test_zoo_summary_json_is_valid_utf8(zoo: dict[str, object]):
    result = zoo["result"]
    assert isinstance(result, subprocess.CompletedProcess)
    report = json.loads(result.stdout.decode("utf-8"))
    indexed = sum(o == "indexed" for _, (o, _f) in ZOO.values())
    assert report["indexed"] == report["documents"] == indexed
    assert report["skipped"] == len(report["skipped_files"]) == len(_skip_lines(zoo))


def test_zoo_odd_but_valid_files_are_indexed(zoo: dict[str, object]):
    from whoosh import index as windex

    ix = windex.open_dir(str(zoo["index"]))
    with ix.reader() as reader:
        docs = {f["path"]: f for _, f in reader.iter_docs()}
    for relpath, (_, (outcome, prefix)) in ZOO.items():
        if outcome == "indexed":
            assert relpath in docs, relpath
            assert docs[relpath]["title"].startswith(prefix)
            assert len(docs[relpath]["title"]) <= 1000
    assert docs["ok/odd-types.md"].get("quality") is None  # 2**31 does not fit: no quality
    assert not any("/loop/" in p or "/up/" in p for p in docs)  # loops are cut


def test_zoo_text_output_is_terminal_safe(zoo: dict[str, object]):
    index = str(zoo["index"])
    for argv in (["query", "*", "--limit", "100"], ["query", "evil", "--color", "always"],
                 ["query", "title", "--color", "always"], ["stats"]):
        code, out, err = cli(*argv, "--index", index)
        assert code == 0, err
        assert not RAW_CONTROL.search(OUR_SGR.sub("", out)), argv
    code, out, _ = cli("query", "evil", "--index", index, "--color", "never")
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out


def test_zoo_repl_output_is_terminal_safe(zoo: dict[str, object]):
    code, out, err = cli("repl", "--index", str(zoo["index"]), stdin="evil\ntitle\n")
    assert code == 0, err
    assert "Evil" in out
    assert not RAW_CONTROL.search(OUR_SGR.sub("", out))


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod 000 does not stop root reading")
def test_unreadable_file_is_skipped(tmp_path: Path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "secret.md").write_text(fm(title="Secret"))
    (root / "secret.md").chmod(0)
    try:
        code, out, err = cli("index", str(root), "--index", str(tmp_path / "index"))
    finally:
        (root / "secret.md").chmod(0o644)
    assert code == 0 and "skipped 1" in out
    assert err.endswith("secret.md: cannot read file (Permission denied)\n")


def test_unreadable_folders_are_reported(tmp_path: Path, monkeypatch):
    """Simulated (root reads everything): listing one folder fails with EACCES."""
    root = tmp_path / "corpus"
    for rel in ("a/ok.md", "locked/hidden.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(fm(title="Fine"))
    real_scandir = os.scandir
    blocked = {str(root.resolve() / "locked")}

    def scandir(path: Any = ".") -> Any:
        if str(path) in blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    index = str(tmp_path / "index")
    code, out, err = cli("index", str(root), "--index", index)
    assert code == 0 and out.startswith("indexed 1,") and "skipped 1" in out
    assert err == f"{root.resolve() / 'locked'}: cannot read folder (Permission denied)\n"
    assert cli("index", str(root), "--index", index, "--strict")[0] == 1

    blocked.add(str(root.resolve()))  # the corpus folder itself
    code, _, err = cli("index", str(root), "--index", index)
    assert code == 2 and err.count("\n") == 1 and "cannot read corpus folder (Permission denied)" in err


def test_file_replaced_by_a_fifo_after_the_walk_does_not_hang(tmp_path: Path):
    from search.indexer import _Job, _parse_job

    os.mkfifo(tmp_path / "late.md")
    parsed = _parse_job(_Job(str(tmp_path / "late.md"), "late.md", ""))
    assert parsed.article is None and parsed.reason == "not a regular file"


# ----------------------------------------------------------------- hostile queries


HOSTILE_QUERIES = [
    "", " ", "\t \n ", "x" * 100_000, "story " * 20_000, '"unbalanced', 'a "b', '"' * 1001,
    "(((", ")))", "(story OR", "[", "]", "{", "}", "[a TO", "a TO b]", "AND", "OR", "NOT",
    "AND OR NOT", "story AND", "OR story", "NOT NOT NOT", "-", "+", "--story", "+-story", "!",
    "*", "**", "?", "*a*", "a*b?c", "~", "story~", "story~~2", "story^", "story^x", "^", ":",
    "title:", ":story", "title::story", "foo:bar", "unknown_field:story", "provider:",
    'provider:"', "topic:", "published:[2022-01-01 TO", "published:[zzz TO yyy]",
    "published:[2022-13-45 TO 2022-99-99]", "published:>2022", "published:<yesterday",
    "published:[9999-12-31 TO 0001-01-01]", "year:[a TO b]", "year:[2030 TO 2020]",
    "year:99999999999999999999999", "quality:>abc", "quality:[-99999999999999999999 TO 9e99]",
    "date:today", "published:", ".*", "^a$", "a|b", "[a-z]+", "(?i)story", "\\d+", "\\", "\\\\",
    "'", "''", "a'b", "\x00", "\x1b[31mstory", "\u202e story", "🔥🔥", "日本語のニュース",
    "Ελληνικά", "ﷺ", "\ufeff", "e\u0301", "\U0010ffff", "NOT *", "* NOT *", "-*", "(*)",
    "title:*", "*:*", "story AND (b OR (c AND (d OR (e", "(" * 1000, "(story)" * 1000,
    "story OR " * 2000, "NOT " * 1000 + "story", "title:" * 500, "a" * 5000 + "*",
    "*" + "a" * 5000, "?" * 300,
]


@pytest.fixture(scope="module")
def qindex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from search.indexer import build_index

    base = tmp_path_factory.mktemp("q")
    root = base / "corpus"
    root.mkdir()
    for i in range(30):
        (root / f"a{i:02d}.md").write_text(fm(
            title=f'"Story {i} about the harbour \\e[31m red"',
            excerpt=f'"Excerpt {i} with unicode ünïcödé 日本語"',
            publishedDateTime=f"20{10 + i % 14}-0{1 + i % 9}-1{i % 9}T00:00:00Z",
            quality=str(i), topics=f"[Topic {i % 3}]", provider=f"P{i % 4}",
        ))
    build_index(base / "index", [root])
    return base / "index"


def _check_query_result(code: int, out: str, err: str, fmt: str) -> None:
    assert code in (0, 1, 2), code
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert out == "" and err.count("\n") == 1, err
        if fmt == "json":
            assert "error" in json.loads(err)
    else:
        # warnings only (a --provider/--topic value no article has): one
        # escaped line each, a JSON object each under --format json
        assert not RAW_CONTROL.search(err)
        for line in err.splitlines():
            if fmt == "json":
                assert set(json.loads(line)) == {"warning"}
            else:
                assert line.startswith("search: no ")
        if fmt == "json":
            assert isinstance(json.loads(out)["total"], int)
        else:
            assert not RAW_CONTROL.search(out)


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=lambda q: repr(q[:30]))
def test_hostile_query(qindex: Path, query: str):
    for fmt in ("json", "text"):
        started = time.monotonic()
        code, out, err = cli("query", query, "--index", str(qindex), "--format", fmt,
                             "--color", "never", "--facet", "provider", "--facet", "topic")
        assert time.monotonic() - started < QUERY_SECONDS, query[:50]
        _check_query_result(code, out, err, fmt)


def test_hostile_queries_in_batch(qindex: Path):
    lines = [q for q in HOSTILE_QUERIES if "\n" not in q and q.strip()]
    started = time.monotonic()
    code, out, err = cli("query", "--batch", "--index", str(qindex), stdin="\n".join(lines) + "\n")
    assert time.monotonic() - started < QUERY_SECONDS * 4
    assert code in (0, 1, 2) and "Traceback" not in err
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(lines)


@pytest.mark.parametrize("options", [
    ["--since", "yesterday"], ["--since", "2022-13-45"], ["--until", "0000-00-00"],
    ["--since", "2023", "--until", "2020"], ["--since", "9" * 400], ["--limit", "-1"],
    ["--limit", "99999999999"], ["--offset", "-5"], ["--facet-size", "-1"], ["--sort", "random"],
    ["--facet", "colour"], ["--limit", "ten"], ["--since", "2022-04-18T25:00:00Z"],
    ["--since", "\x00"], ["--provider", ""], ["--topic", "\x1b[2J"], ["--offset", str(10**15)],
    ["--since", "0001-01-01", "--until", "9999-12-31"],
])
def test_hostile_options(qindex: Path, options: list[str]):
    for fmt in ("json", "text"):
        code, out, err = cli("query", "story", "--index", str(qindex), "--format", fmt, *options)
        _check_query_result(code, out, err, fmt)
