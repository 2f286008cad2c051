"""Named exceptions raised by the core, and the exit codes they map to.

The core raises these; only the CLI and the REPL turn them into messages and
exit statuses, in one place each.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit statuses of the `search` command (documented in the README)."""

    OK = 0  # hits found / index run succeeded
    NO_HITS = 1  # query ran and found nothing; `index --strict` skipped files
    ERROR = 2  # bad usage, missing/unreadable/busy index, I/O failure
    INTERRUPTED = 130  # Ctrl-C


class SearchError(Exception):
    """Base class of every error the project raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR
    #: short machine-readable kind, used in JSON error objects
    kind: str = "error"


class UsageError(SearchError):
    """Bad arguments or options (a bad date, an unknown sort order...)."""

    kind = "usage"


class CorpusNotFoundError(SearchError):
    """A corpus folder given to the indexer does not exist or is not a folder."""

    kind = "corpus_not_found"


class IndexNotFoundError(SearchError):
    """There is no index at the given location."""

    kind = "index_not_found"


class IndexBusyError(SearchError):
    """Another writer holds the index lock and did not release it in time."""

    kind = "index_busy"


class IndexCorruptError(SearchError):
    """The index exists but cannot be read; rebuilding with --full fixes it."""

    kind = "index_corrupt"


class IndexIncompatibleError(SearchError):
    """The index was built by an incompatible version of this program."""

    kind = "index_incompatible"


class NotInIndexError(SearchError):
    """An article asked for by path (`search similar PATH`) is not indexed."""

    kind = "not_in_index"


class IndexWriteError(SearchError):
    """The index location cannot be created or written (permissions, full disk)."""

    kind = "index_write"


class SkipFile(Exception):
    """A corpus file that cannot be indexed; the message is the one-line reason.

    Not a SearchError: a skipped file is reported and the run goes on.
    """
