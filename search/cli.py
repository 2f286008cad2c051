"""The `search` command: parses arguments, calls the core, renders output.

Errors raised by the core are turned into a one-line message (a JSON object
under --format json/jsonl) and an exit code here, in `main`, and nowhere else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .env import Env
from .errors import ExitCode, SearchError, UsageError

PROG = "search"


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        where = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{where}: {message}" if where else message)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--index", metavar="DIR", default=argparse.SUPPRESS,
                        help="index folder (default: $SEARCH_INDEX, config file, or ./index)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for unexpected errors")

    parser = _Parser(prog=PROG, description="Full-text search over a news corpus.",
                     parents=[common])
    parser.add_argument("--version", action="store_true",
                        help="show the versions of search, Whoosh and Python, and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("index", parents=[common], help="build or update the index",
                       description="Index the Markdown articles under CORPUS_DIR(s), "
                       "updating only what changed since the last run.")
    p.add_argument("corpus", nargs="*", metavar="CORPUS_DIR",
                   help="corpus folder(s); default: the folders the index was built from")
    p.add_argument("--full", action="store_true", help="rebuild the index from scratch")
    p.add_argument("--prune", action="store_true",
                   help="remove articles of folders this run does not name")
    p.add_argument("--strict", action="store_true", help="exit 1 when any file was skipped")
    p.add_argument("--lock-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for another indexer (default 10)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parser processes (default: up to 2)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no skip lines")

    q = sub.add_parser("query", parents=[common], help="search the index (for scripts)",
                       description="Run a ranked query; see the README for the syntax.")
    q.add_argument("query", nargs="?", default=None, metavar="QUERY",
                   help="query text; '*' matches everything (omit with --batch)")
    _result_options(q, "query")
    q.add_argument("--saved", metavar="NAME",
                   help="run the saved search NAME (`:save NAME` in the REPL); --provider and "
                        "--topic add filters, --since/--until/--sort replace its own")
    q.add_argument("--match", choices=("auto", "all", "any"), default="auto",
                   help="auto: every word, relaxed when no article has them all (default); "
                        "all: every word, never relaxed; any: any word")
    q.add_argument("--typos", choices=("on", "off"), default="on",
                   help="match words the index lacks to indexed words 1-2 edits away (default on)")

    m = sub.add_parser("similar", parents=[common], help="articles most like an indexed one",
                       description="The articles most like each PATH (as printed in a hit's "
                       "`path`, or a file under a corpus folder), the article itself excluded.")
    m.add_argument("paths", nargs="*", metavar="PATH", help="indexed article(s) (omit with --batch)")
    _result_options(m, "PATH")

    s = sub.add_parser("stats", parents=[common], help="show index statistics")
    s.add_argument("--format", choices=("text", "json"), default="text")

    k = sub.add_parser("check", parents=[common], help="verify the index (and its corpus)",
                       description="Verify every index file against its checksums and the "
                       "others; exit 0 healthy, 1 damaged or out of date, 2 unusable.")
    k.add_argument("--corpus", action="store_true",
                   help="also check that every indexed file is unchanged and every corpus file indexed")
    k.add_argument("--format", choices=("text", "json"), default="text")

    r = sub.add_parser("repl", parents=[common], help="interactive search (default on a terminal)")
    r.add_argument("--color", choices=("auto", "always", "never"), default=None)

    c = sub.add_parser("completion", help="print a shell completion script",
                       description="Print the Tab-completion script for SHELL; "
                       "see the README for where to put it.")
    c.add_argument("shell", choices=("bash", "zsh", "fish"), metavar="SHELL",
                   help="bash, zsh or fish")
    return parser


def _result_options(q: argparse.ArgumentParser, item: str) -> None:
    """The options `query` and `similar` share: filters, order, page, facets, output."""
    q.add_argument("--provider", action="append", default=[], metavar="NAME",
                   help="only this provider (repeatable: any of them)")
    q.add_argument("--topic", action="append", default=[], metavar="NAME",
                   help="only this topic (repeatable: any of them)")
    q.add_argument("--since", metavar="DATE",
                   help="published on or after DATE: 2022-04-18, 2022-04, 2022, or relative to "
                        "today: today, yesterday, 7d, 2w, 3m, 1y, 'last week', 'last month'")
    q.add_argument("--until", metavar="DATE", help="published on or before DATE (as --since)")
    q.add_argument("--sort", choices=("relevance", "newest", "oldest", "quality"), default=None,
                   help="order of the results (default relevance)")
    q.add_argument("--limit", type=int, default=10, metavar="N")
    q.add_argument("--offset", type=int, default=0, metavar="N")
    q.add_argument("--facet", action="append", choices=("provider", "topic", "year"),
                   default=None, help="facet to count (repeatable; default provider)")
    q.add_argument("--facet-size", type=int, default=10, metavar="N")
    q.add_argument("--format", choices=("text", "json", "jsonl"), default=None,
                   help="default text (json with --batch)")
    q.add_argument("--color", choices=("auto", "always", "never"), default=None)
    q.add_argument("--no-highlight", action="store_true", help="skip highlighting")
    q.add_argument("--group", choices=("none", "story"), default="none",
                   help="story: one hit per story (the same news from many outlets), paging by story")
    q.add_argument("--members", type=int, default=5, metavar="N",
                   help="with --group story: list at most N other members per story (default 5)")
    q.add_argument("--batch", action="store_true",
                   help=f"read one {item} per line from stdin; one JSON object per line out "
                        f"(--format text: a text result per {item})")


# ----------------------------------------------------------------- commands


def _settings(args: argparse.Namespace, env: Env) -> Any:
    from .config import resolve_settings

    return resolve_settings(env.environ, getattr(args, "index", None), getattr(args, "color", None))


def cmd_index(args: argparse.Namespace, env: Env) -> int:
    from .indexer import build_index
    from .output import dumps
    from .store import read_meta

    settings = _settings(args, env)
    roots = [Path(c) for c in args.corpus]
    if not roots:
        meta = read_meta(settings.index_dir)
        if not meta or not meta.roots:
            raise UsageError("no corpus folder given: search index CORPUS_DIR")
        roots = [Path(r) for r in meta.roots]
    show_progress = not args.quiet and args.format != "json" and env.isatty(env.stderr)
    bar = None
    if show_progress:
        from .progress import ProgressBar

        bar = ProgressBar(env.stderr)

    def on_skip(path: str, reason: str) -> None:
        if not args.quiet:
            from .output import escape_control

            line = f"{escape_control(path)}: {escape_control(reason)}\n"
            if bar is not None:
                bar.write(line)
            else:
                env.stderr.write(line)

    def on_wait(message: str) -> None:
        # a person at a terminal learns why nothing happens; scripts keep one-line errors
        from .output import escape_control

        env.stderr.write(f"{escape_control(message)}\n")
        env.stderr.flush()

    try:
        report = build_index(settings.index_dir, roots, full=args.full, prune=args.prune,
                             on_skip=on_skip, progress=bar.update if bar is not None else None,
                             lock_timeout=args.lock_timeout, workers=args.workers,
                             on_wait=on_wait if show_progress else None)
    finally:
        if bar is not None:
            bar.close()
    for kept in report.kept:
        _warn(env, args.format, "kept_articles", kept.message())
    if args.format == "json":
        env.stdout.write(dumps({
            "indexed": report.indexed, "updated": report.updated, "removed": report.removed,
            "unchanged": report.unchanged, "skipped": len(report.skipped),
            "documents": report.documents, "seconds": round(report.seconds, 3),
            "skipped_files": [{"path": p, "reason": r} for p, r in report.skipped],
            "pruned": report.pruned,
            "kept": [{"root": k.root, "articles": k.articles, "exists": k.exists} for k in report.kept],
        }) + "\n")
    else:
        env.stdout.write(f"{report.summary()} ({report.documents} documents, "
                         f"{report.seconds:.2f}s)\n")
    if args.strict and report.skipped:
        return ExitCode.NO_HITS
    return ExitCode.OK


def _saved(args: argparse.Namespace, env: Env) -> Any:
    """The saved search `--saved NAME` names, or None."""
    if not getattr(args, "saved", None):
        return None
    from .repl.saved import SavedSearches

    return SavedSearches(_settings(args, env).saved_file).get(args.saved)


def _request(args: argparse.Namespace, text: str, saved: Any = None) -> Any:
    """The request for `text` from the options, on top of a saved search's
    filters and sort when one is given."""
    from .query import Filters, parse_date_bound
    from .searcher import SearchRequest

    since = args.since or (saved.since if saved else None)
    until = args.until or (saved.until if saved else None)
    filters = Filters(
        providers=tuple(dict.fromkeys([*(saved.providers if saved else ()), *args.provider])),
        topics=tuple(dict.fromkeys([*(saved.topics if saved else ()), *args.topic])),
        since=parse_date_bound(since) if since else None,
        until=parse_date_bound(until, end=True) if until else None,
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise UsageError(f"--since {since} is after --until {until}")
    sort = args.sort or (saved.sort if saved else "relevance")
    request = SearchRequest(
        query=text, filters=filters, sort=sort, limit=args.limit, offset=args.offset,
        facets=tuple(dict.fromkeys(args.facet or ["provider"])), facet_size=args.facet_size,
        highlight=not args.no_highlight, match=getattr(args, "match", "auto"),
        typos=getattr(args, "typos", "on") == "on", group=args.group, members=args.members,
    )
    request.validate()
    return request


def cmd_query(args: argparse.Namespace, env: Env) -> int:
    if args.batch and (args.query is not None or args.saved):
        raise UsageError("--batch reads queries from stdin; do not also give QUERY or --saved")
    saved = _saved(args, env)
    if saved is not None and args.query is not None:
        raise UsageError("query: give QUERY or --saved NAME, not both")
    if not args.batch and args.query is None and saved is None:
        raise UsageError("query: a QUERY is required (or --saved NAME, or --batch)")
    text = saved.query if saved is not None else args.query
    return _results(args, env, None if args.batch else [text], "query",
                    lambda searcher, line: searcher.search(_request(args, line, saved)))


def cmd_similar(args: argparse.Namespace, env: Env) -> int:
    if args.batch and args.paths:
        raise UsageError("--batch reads paths from stdin; do not also give PATH")
    if not args.batch and not args.paths:
        raise UsageError("similar: a PATH is required (or --batch)")
    return _results(args, env, None if args.batch else args.paths, "source",
                    lambda searcher, path: searcher.similar(path, _request(args, "*")))


def _results(args: argparse.Namespace, env: Env, items: list[str] | None, key: str,
             run: Any) -> int:
    """Run `run(searcher, item)` for each item (a query text or a path): one
    item prints one result; several (or --batch, reading them from stdin)
    print one JSON object per line (errors become error objects and the run
    goes on), or with --format text one text result per item under a header."""
    from .errors import NotInIndexError
    from .output import Style, color_enabled, render_json, render_jsonl, render_text
    from .searcher import Searcher

    settings = _settings(args, env)
    many = items is None or len(items) > 1
    if args.format is None:
        args.format = "json" if many else "text"
    style = Style(color_enabled(settings.color, env.isatty(env.stdout), env.environ))
    with Searcher(settings.index_dir) as searcher:
        _warn_filters(env, args, searcher)
        if not many:
            assert items is not None
            page = run(searcher, items[0])
            for message in searcher.warnings():
                _warn(env, args.format, "index", message)
            if args.format == "json":
                env.stdout.write(render_json(page) + "\n")
            elif args.format == "jsonl":
                body = render_jsonl(page)
                env.stdout.write(body + "\n" if body else "")
            else:
                env.stdout.write(render_text(page, style, env.width()) + "\n")
            return ExitCode.OK if page.total else ExitCode.NO_HITS
        lines = (line.rstrip("\r\n") for line in env.stdin) if items is None else iter(items)
        return _many(args, env, searcher, lines, key, run, style, (UsageError, NotInIndexError))


def _many(args: argparse.Namespace, env: Env, searcher: Any, lines: Any, key: str, run: Any,
          style: Any, expected: tuple[type[Exception], ...]) -> int:
    from .output import dumps, error_dict, escape_control, page_dict, render_text

    text_out = args.format == "text"
    any_hits = any_error = False
    told: set[str] = set()
    for text in lines:
        if not text.strip():
            continue
        if text_out:
            env.stdout.write(style.bold(f"{key}: {escape_control(text)}") + "\n")
        try:
            page = run(searcher, text)
        except expected as exc:
            any_error = True
            kind = getattr(exc, "kind", "error")
            env.stdout.write(f"error: {escape_control(str(exc))}\n\n" if text_out
                             else dumps(error_dict(kind, str(exc), text, key)) + "\n")
        else:
            any_hits = any_hits or page.total > 0
            env.stdout.write(render_text(page, style, env.width()) + "\n\n" if text_out
                             else dumps(page_dict(page)) + "\n")
        for message in searcher.warnings():
            if message not in told:
                told.add(message)
                _warn(env, args.format, "index", message)
        env.stdout.flush()
    if any_error:
        return ExitCode.ERROR
    return ExitCode.OK if any_hits else ExitCode.NO_HITS


def _warn_filters(env: Env, args: argparse.Namespace, searcher: Any) -> None:
    """Name --provider/--topic values no article has (the query still runs)."""
    from .facet_values import unknown_filter_values

    if args.provider or args.topic:
        for message in unknown_filter_values(searcher.values, (("provider", args.provider),
                                                               ("topic", args.topic))):
            _warn(env, args.format, "unknown_value", message)


def _warn(env: Env, fmt: str | None, kind: str, message: str) -> None:
    """A warning on stderr: `search: message`, or a JSON object under --format json/jsonl."""
    from .output import dumps, escape_control

    if fmt in ("json", "jsonl"):
        env.stderr.write(dumps({"warning": {"kind": kind, "message": message}}) + "\n")
    else:
        env.stderr.write(f"{PROG}: {escape_control(message)}\n")
    env.stderr.flush()


def cmd_check(args: argparse.Namespace, env: Env) -> int:
    from .check import check_index
    from .output import check_dict, dumps, render_check_text

    report = check_index(_settings(args, env).index_dir, corpus=args.corpus)
    if args.format == "json":
        env.stdout.write(dumps(check_dict(report)) + "\n")
    else:
        env.stdout.write(render_check_text(report) + "\n")
    return report.status


def cmd_stats(args: argparse.Namespace, env: Env) -> int:
    from .output import dumps, render_stats_text, stats_dict
    from .searcher import Searcher

    settings = _settings(args, env)
    with Searcher(settings.index_dir) as searcher:
        stats = searcher.stats()
    if args.format == "json":
        env.stdout.write(dumps(stats_dict(stats)) + "\n")
    else:
        env.stdout.write(render_stats_text(stats) + "\n")
    return ExitCode.OK


def cmd_repl(args: argparse.Namespace, env: Env) -> int:
    from .repl.session import run_repl

    return run_repl(_settings(args, env), env)


def cmd_completion(args: argparse.Namespace, env: Env) -> int:
    from .completion_scripts import script

    env.stdout.write(script(args.shell, PROG))
    return ExitCode.OK


COMMANDS = {"index": cmd_index, "query": cmd_query, "similar": cmd_similar, "stats": cmd_stats,
            "check": cmd_check, "repl": cmd_repl, "completion": cmd_completion}


# ----------------------------------------------------------------- entry point


def _wants_json(argv: Sequence[str]) -> bool:
    """Best guess at the output format when argument parsing itself failed."""
    for i, arg in enumerate(argv):
        if arg in ("--format",) and i + 1 < len(argv) and argv[i + 1] in ("json", "jsonl"):
            return True
        if arg in ("--format=json", "--format=jsonl"):
            return True
    return False


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    """Run the command line; returns the exit status (see ExitCode)."""
    env = env or Env()
    argv = list(sys.argv[1:] if argv is None else argv)
    # numpy's OpenBLAS starts a thread pool at import; we never use BLAS, and
    # on a busy two-core machine that start-up was a third of a cold query
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    debug = "--debug" in argv
    try:
        parser = build_parser()
        if "_ARGCOMPLETE" in env.environ:
            # the shell asks for Tab completions (see completion_scripts); this exits
            from .completion_scripts import complete

            complete(parser)
        args = parser.parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        if args.version:
            from .versions import current_versions

            env.stdout.write(current_versions().line(PROG) + "\n")
            return ExitCode.OK
        command = args.command
        if command is None:
            if env.isatty(env.stdin) and env.isatty(env.stdout):
                command = "repl"
            else:
                build_parser().print_help(env.stdout)
                return ExitCode.ERROR
        return int(COMMANDS[command](args, env))
    except SearchError as exc:
        message = str(exc)
        if "unrecognized arguments: -" in message and "query" in argv:
            message += " (a query starting with '-' goes after '--': search query [OPTIONS] -- -word)"
        _report(env, argv, exc.kind, message)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        # start on a fresh line only if a progress bar may be on this one
        env.stderr.write(("\r\x1b[K" if env.isatty(env.stderr) else "") + "interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # the reader went away (`search query ... | head`): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
        except OSError:
            pass
        return int(ExitCode.OK)
    except Exception as exc:
        if debug:
            raise
        _report(env, argv, "internal", f"internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for details)")
        return int(ExitCode.ERROR)


def _report(env: Env, argv: Sequence[str], kind: str, message: str) -> None:
    from .output import dumps, error_dict, escape_control

    if _wants_json(argv):
        env.stderr.write(dumps(error_dict(kind, message)) + "\n")
    else:
        env.stderr.write(f"{PROG}: {escape_control(message)}\n")


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
