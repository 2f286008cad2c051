"""The process's streams and environment, as one object passed around.

The CLI builds it and hands it to commands (the REPL among them), so tests
can fake stdin, stdout, stderr and the environment. It lives apart from
`search.cli` so that modules the CLI imports never need to import the CLI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Env:
    """The process's streams and environment, passed in so tests can fake them."""

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def isatty(self, stream: IO[str]) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def width(self) -> int:
        try:
            return max(40, min(os.get_terminal_size(self.stdout.fileno()).columns, 160))
        except (AttributeError, ValueError, OSError):
            return 100
