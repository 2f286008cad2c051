"""Provider and topic names the index does not have, and the nearest ones it has.

A `--provider` or `--topic` value matches an index value equal to it ignoring
case; anything else matches nothing, which would look like "no articles".
`unknown_filter_values` names such values so the caller can say so, with the
closest names the index does have.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: how many close names a message offers
MAX_SUGGESTIONS = 3


def closest_values(name: str, labels: Sequence[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """Index values a mistyped `name` probably meant: those that start with it
    or contain it (ignoring case), else those spelled most like it."""
    wanted = name.strip().lower()
    if not wanted:
        return []
    starts = [label for label in labels if label.lower().startswith(wanted)]
    contains = [label for label in labels if wanted in label.lower() and label not in starts]
    if starts or contains:
        return (starts + contains)[:n]
    lowered = {label.lower(): label for label in labels}
    return [lowered[m] for m in difflib.get_close_matches(wanted, list(lowered), n=n, cutoff=0.6)]


def unknown_value_message(kind: str, name: str, labels: Sequence[str]) -> str:
    """`no provider named 'X' (did you mean 'Y'?)`."""
    close = closest_values(name, labels)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return f"no {kind} named {name!r}{hint}"


def unknown_filter_values(values: Callable[[str], Iterable[Any]],
                          filters: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """One message per filter value no indexed article has. `values(kind)`
    lists the index's values of a facet (`Searcher.values`); `filters` are
    (kind, given values) pairs, kind being "provider" or "topic"."""
    messages = []
    for kind, given in filters:
        if not given:
            continue
        labels = [str(v.value) for v in values(kind)]
        known = {label.lower() for label in labels}
        for name in given:
            if name.strip() and name.strip().lower() not in known:
                messages.append(unknown_value_message(kind, name, labels))
    return messages
