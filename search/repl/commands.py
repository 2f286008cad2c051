"""The REPL's `:commands`: their table, aliases, and how a typed name
resolves (exact, alias, or a prefix of exactly one command)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("help", "[COMMAND]", "list the commands, or describe one"),
    Command("provider", "[NAME]", "add a provider filter (several: any of them); alone: clear them"),
    Command("topic", "[NAME]", "add a topic filter (several: any of them); alone: clear them"),
    Command("since", "[DATE]", "only articles published on or after DATE "
            "(2022, 2022-04, 2022-04-18, today, yesterday, 7d, 2w, 3m, 1y, last week, last month)"),
    Command("until", "[DATE]", "only articles published on or before DATE; alone: clear"),
    Command("clear", "", "drop every filter"),
    Command("sort", "relevance|newest|oldest|quality", "order of the results"),
    Command("next", "", "next page of results (PageDown, Alt-N)"),
    Command("prev", "", "previous page of results (PageUp, Alt-P)"),
    Command("page", "N", "go to page N"),
    Command("limit", "[N]", "results per page; alone: as many as fit the terminal"),
    Command("view", "full|compact", "results with excerpts, or one line per hit"),
    Command("live", "on|off", "results while you type, under the prompt"),
    Command("group", "on|off", "one hit per story (the same news from every outlet), or every article"),
    Command("story", "N", "every article of result N's story: date, provider, title"),
    Command("similar", "N", "the articles most like result N"),
    Command("show", "N[.M]", "the whole article N and its related coverage; N.M: item M of that list"),
    Command("open", "N[.M]", "open the URL of article N (or of its related item M) in the web browser"),
    Command("facets", "provider|topic|year", "which counts to show under the results"),
    Command("stats", "", "index statistics"),
    Command("export", "[--force] FILE", "write every result of the query to FILE (.jsonl or .csv)"),
    Command("save", "NAME", "save the query, its filters and sort as NAME"),
    Command("saved", "", "list the saved searches"),
    Command("load", "NAME", "run the saved search NAME"),
    Command("quit", "", "leave the REPL (Ctrl-D does too)"),
)
COMMAND_NAMES = tuple(c.name for c in COMMANDS)
ALIASES = {"q": "quit", "exit": "quit", "h": "help", "?": "help", "n": "next", "p": "prev",
           "facet": "facets", "filter": "provider"}


def candidates(name: str) -> list[str]:
    """The commands a typed name may mean, in table order."""
    name = name.lower()
    if name in COMMAND_NAMES:
        return [name]
    if name in ALIASES:
        return [ALIASES[name]]
    return [c for c in COMMAND_NAMES if c.startswith(name)] if name else []


def resolve_command(name: str) -> str | None:
    """The command a typed name means: exact, alias, or unambiguous prefix."""
    found = candidates(name)
    return found[0] if len(found) == 1 else None
