"""`:export FILE`: the full results of a REPL query as JSON Lines or CSV.

JSON Lines rows are the `search query --format jsonl` hit objects; CSV has
one column per field of those objects (topics joined with "; ").
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import SearchError
from ..searcher import Hit


class ReplError(SearchError):
    """A REPL command that cannot be carried out (bad argument, no query yet)."""

    kind = "repl"


CSV_COLUMNS = ("rank", "score", "path", "title", "excerpt", "provider", "topics", "published",
               "url", "quality")


def _csv_cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is
    prefixed with a quote (corpus text is untrusted)."""
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_export(path: Path, fmt: str, hits: Iterable[Hit], scored: bool) -> int:
    """Write hits as JSON Lines or CSV; the file appears complete or not at
    all (written beside it, then renamed), also when Ctrl-C stops the run."""
    from ..output import dumps, hit_dict

    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise ReplError(f"{path}: cannot write: {exc.strerror or exc}") from None
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(CSV_COLUMNS)
            for hit in hits:
                row = hit_dict(hit, scored)
                if writer is not None:
                    writer.writerow([_csv_cell(row[c]) for c in CSV_COLUMNS])
                else:
                    fh.write(dumps(row) + "\n")
                count += 1
        # mkstemp makes the file private; give it the permissions any
        # file written by this user would get
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise ReplError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _unlink(tmp)
        raise
    return count


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
