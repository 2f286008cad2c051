"""Shell Tab completion for the `search` command line (bash, zsh, fish).

`search completion SHELL` prints a script (argcomplete's) that the shell
loads once. On each Tab press the script runs `search` again with
`_ARGCOMPLETE` and the command line in the environment; `main` then calls
`complete`, which answers from the argparse parser itself (sub-commands,
options, their choices) plus folders for `--index` / `CORPUS_DIR` and
provider and topic names read from the index, and exits.

Why argcomplete rather than shtab: shtab writes static scripts (no process
per Tab press) but only for bash, zsh and tcsh, not fish, and it cannot offer
values from the index. argcomplete serves all three shells from the same
parser; the price is one start of `search` per Tab press (cheap: `search`
imports nothing heavy until a command runs).

Not to be confused with `search/completion.py`, the REPL's own completer.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping
from typing import Any

SHELLS = ("bash", "zsh", "fish")

#: option destinations completed with a facet's values from the index
_INDEX_VALUES = {"provider": "provider", "topic": "topic"}
#: most index values offered at once
MAX_VALUES = 500


def script(shell: str, prog: str) -> str:
    """The completion script for `shell` (one of SHELLS) for the command `prog`."""
    import argcomplete

    if shell not in SHELLS:
        from .errors import UsageError

        raise UsageError(f"no completion for shell {shell!r}; choose from {', '.join(SHELLS)}")
    return argcomplete.shellcode([prog], shell=shell)


def complete(parser: argparse.ArgumentParser) -> None:
    """Print the completions for the command line in the environment (set by
    the completion script) and exit the process; returns without doing
    anything when the shell did not ask."""
    import argcomplete
    from argcomplete.completers import DirectoriesCompleter, SuppressCompleter

    folders = DirectoriesCompleter()
    for action in _actions(parser):
        if action.dest in _INDEX_VALUES:
            action.completer = IndexValues(_INDEX_VALUES[action.dest], os.environ)  # type: ignore[attr-defined]
        elif action.dest in ("index", "corpus"):
            action.completer = folders  # type: ignore[attr-defined]
        elif action.dest == "query":
            action.completer = SuppressCompleter()  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every action of `parser` and of its sub-command parsers."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _actions(sub)


class IndexValues:
    """argcomplete completer: one facet's values (provider, topic) in the index
    that the command line names (`--index`, else the usual settings), most
    common first. Offers nothing, silently, when there is no readable index."""

    def __init__(self, facet: str, environ: Mapping[str, str]) -> None:
        self.facet = facet
        self.environ = environ

    def __call__(self, prefix: str, parsed_args: argparse.Namespace | None = None,
                 **_: Any) -> list[str]:
        from .config import resolve_settings
        from .searcher import Searcher

        index = getattr(parsed_args, "index", None)
        try:
            settings = resolve_settings(self.environ, index)
            with Searcher(settings.index_dir) as searcher:
                values = searcher.values(self.facet)
        except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
            return []
        names = [str(v.value) for v in values]
        return [n for n in names if n.startswith(prefix)][:MAX_VALUES]
